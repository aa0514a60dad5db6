"""Seed data: the server's configuration and the customers and groups of an empty ledger."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from conformance.paths import fixtures_dir
from conformance.server.ledger import Account, Ledger

DEFAULT_SEED_FILE = "reference-seed.yaml"
CUSTOMER_IDENTIFIERS = ("mobile", "email", "external_id", "card_number", "card_external_id")


class SeedError(ValueError):
    """The seed data is missing, unreadable or inconsistent."""


@dataclass(frozen=True)
class Credentials:
    username: str
    password: str
    ui_token: str
    user_id: int


@dataclass(frozen=True)
class Program:
    id: int
    name: str
    points_multiple: int
    min_redeem: int
    max_redeem: int
    otp_validity_s: int
    reversal_enabled: bool
    points_currency_ratio: int
    allow_skip_validation: bool


@dataclass(frozen=True)
class SeedCustomer:
    role: str
    user_id: int
    identifiers: dict[str, str]
    first_name: str
    last_name: str
    balance: int
    fraud: bool
    enrolled: bool


@dataclass(frozen=True)
class SeedGroup:
    id: int
    external_id: str
    balance: int
    members: tuple[tuple[int, bool], ...]   # (user_id, primary)


@dataclass(frozen=True)
class Seed:
    org_id: int
    credentials: Credentials
    program: Program
    customers: tuple[SeedCustomer, ...]
    groups: tuple[SeedGroup, ...]


def default_seed_path() -> Path:
    return fixtures_dir() / DEFAULT_SEED_FILE


def load_seed(seed_data: Mapping[str, Any] | str | Path | None = None) -> Seed:
    """Read seed data from a mapping, a YAML file, or the default fixture when None."""
    if seed_data is None or isinstance(seed_data, (str, Path)):
        path = Path(seed_data) if seed_data is not None else default_seed_path()
        try:
            raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise SeedError(f"cannot read seed data {path}: {exc.strerror}") from None
        except yaml.YAMLError as exc:
            raise SeedError(f"seed data {path} is not valid YAML: {exc}") from None
    else:
        raw = seed_data
    if not isinstance(raw, Mapping):
        raise SeedError("seed data must be a mapping")
    return _parse(raw)


def _get(node: Mapping, key: str, kind: type, where: str, default: Any = ...) -> Any:
    value = node.get(key, default)
    if value is ...:
        raise SeedError(f"seed data: {where}.{key} is required")
    # bool is an int subclass; a flag must not pass for a number nor the reverse.
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise SeedError(f"seed data: {where}.{key} must be {kind.__name__}, not {value!r}")
    return value


def _parse(raw: Mapping) -> Seed:
    creds = _get(raw, "credentials", Mapping, "seed")
    prog = _get(raw, "program", Mapping, "seed")
    program = Program(
        id=_get(prog, "id", int, "program"),
        name=_get(prog, "name", str, "program", "ReferenceProgram"),
        points_multiple=_get(prog, "points_multiple", int, "program"),
        min_redeem=_get(prog, "min_redeem", int, "program"),
        max_redeem=_get(prog, "max_redeem", int, "program"),
        otp_validity_s=_get(prog, "otp_validity_s", int, "program"),
        reversal_enabled=_get(prog, "reversal_enabled", bool, "program", True),
        points_currency_ratio=_get(prog, "points_currency_ratio", int, "program", 1),
        allow_skip_validation=_get(prog, "allow_skip_validation", bool, "program", False),
    )
    if program.points_multiple < 1 or program.otp_validity_s < 1:
        raise SeedError("seed data: program.points_multiple and otp_validity_s must be >= 1")
    customers = []
    by_role: dict[str, int] = {}
    for role, node in _get(raw, "customers", Mapping, "seed", {}).items():
        where = f"customers.{role}"
        if not isinstance(node, Mapping):
            raise SeedError(f"seed data: {where} must be a mapping")
        identifiers = {}
        for key in CUSTOMER_IDENTIFIERS:
            value = node.get(key)
            if value is not None:
                identifiers[key] = str(value)
        customer = SeedCustomer(
            role=str(role),
            user_id=_get(node, "user_id", int, where),
            identifiers=identifiers,
            first_name=_get(node, "first_name", str, where, ""),
            last_name=_get(node, "last_name", str, where, ""),
            balance=_get(node, "balance", int, where, 0),
            fraud=_get(node, "fraud", bool, where, False),
            enrolled=_get(node, "enrolled", bool, where, True),
        )
        if customer.balance < 0:
            raise SeedError(f"seed data: {where}.balance must not be negative")
        by_role[customer.role] = customer.user_id
        customers.append(customer)
    groups = []
    for index, node in enumerate(_get(raw, "groups", list, "seed", [])):
        where = f"groups[{index}]"
        members = []
        for member in _get(node, "members", list, where, []):
            role = member.get("customer") if isinstance(member, Mapping) else None
            if role not in by_role:
                raise SeedError(f"seed data: {where} names unknown customer {role!r}")
            members.append((by_role[role], bool(member.get("primary", False))))
        groups.append(SeedGroup(
            id=_get(node, "id", int, where),
            external_id=str(node.get("external_id", "")),
            balance=_get(node, "balance", int, where, 0),
            members=tuple(members),
        ))
    return Seed(
        org_id=_get(raw, "org_id", int, "seed"),
        credentials=Credentials(
            username=_get(creds, "username", str, "credentials"),
            password=_get(creds, "password", str, "credentials"),
            ui_token=_get(creds, "ui_token", str, "credentials"),
            user_id=_get(creds, "user_id", int, "credentials", 1),
        ),
        program=program,
        customers=tuple(customers),
        groups=tuple(groups),
    )


def populate(ledger: Ledger, seed: Seed, at: str) -> bool:
    """Write the seed's customers, groups and opening balances into an empty ledger."""
    if not ledger.is_empty():
        return False
    with ledger.transaction():
        for customer in seed.customers:
            ledger.add_customer(customer.user_id, customer.identifiers, customer.first_name,
                                customer.last_name, customer.fraud, customer.enrolled)
            if customer.balance:
                ledger.add_entry(Account("customer", customer.user_id), "opening",
                                 customer.balance, "seed", at)
        for group in seed.groups:
            ledger.add_group(group.id, group.external_id, at)
            for user_id, primary in group.members:
                ledger.add_member(group.id, user_id, primary)
            if group.balance:
                ledger.add_entry(Account("group", group.id), "opening", group.balance, "seed", at)
    return True
