"""Seed data: it loads, the reference profile describes exactly it, bad seeds are refused."""

from __future__ import annotations

import copy
import re
from collections.abc import Callable

import pytest
import yaml

from conformance.paths import fixtures_dir
from conformance.server import RunningServer, ServerConfigError, run_in_thread
from conformance.server.seed import SeedError, load_seed

from .support import MOBILE, SEED, Api, redeemable

PROFILE_FILE = fixtures_dir() / "profiles" / "reference.yaml"


def _profile() -> dict:
    text = PROFILE_FILE.read_text()
    # ${VAR:-default} with no VAR set: the defaults are what the reference server accepts.
    return yaml.safe_load(re.sub(r"\$\{[A-Z_]+:-([^}]*)\}", r"\1", text))


def test_default_seed_loads() -> None:
    seed = load_seed()
    assert seed.org_id == 100458 and seed.program.id == 504
    assert {c.role for c in seed.customers} == {"spender", "receiver", "fraud", "not_enrolled",
                                                "low_balance", "outsider"}


def test_reference_profile_describes_the_seed() -> None:
    profile, seed = _profile(), load_seed()
    assert profile["auth"]["username"] == seed.credentials.username
    assert profile["auth"]["password"] == seed.credentials.password
    assert profile["auth"]["ui_token"] == seed.credentials.ui_token
    assert profile["auth"]["org_id"] == str(seed.org_id)
    program = profile["program"]
    for name in ("id", "points_multiple", "min_redeem", "max_redeem", "otp_validity_s",
                 "reversal_enabled"):
        assert program[name] == getattr(seed.program, name), name
    by_role = {c.role: c for c in seed.customers}
    for role, identifier in profile["customers"].items():
        if role == "unknown":
            assert identifier["mobile"] not in MOBILE.values()
        else:
            (key, value), = identifier.items()
            assert by_role[role].identifiers[key] == value
    assert profile["groups"]["source"]["id"] == str(seed.groups[0].id)
    budget = profile["budget"]["max_points"]
    assert by_role["spender"].balance >= budget == 10000
    assert seed.program.min_redeem <= by_role["low_balance"].balance < seed.program.max_redeem
    assert by_role["fraud"].fraud and not by_role["not_enrolled"].enrolled
    assert profile["otp"]["source"] == "hook" and "/_test/otp" in profile["otp"]["url"]
    assert "/_test/balance" in profile["balance"]["url"]
    assert profile["clock"]["url"].endswith("/_test/clock")


def test_reference_profile_uses_the_environment_for_credentials() -> None:
    text = PROFILE_FILE.read_text()
    for variable in ("POINTS_API_USER", "POINTS_API_PASSWORD", "POINTS_UI_TOKEN"):
        assert "${" + variable + ":-" in text


def test_reference_profile_loads_as_a_suite_profile() -> None:
    profile_module = pytest.importorskip("conformance.target.profile")
    profile = profile_module.load_profile(PROFILE_FILE, env={})
    assert profile.auth.username == "conformance"
    assert profile.customers["low_balance"].value == MOBILE["low_balance"]


def _broken(change: Callable[[dict], None]) -> dict:
    data = copy.deepcopy(SEED)
    change(data)
    return data


@pytest.mark.parametrize("data", [
    _broken(lambda d: d.pop("program")),
    _broken(lambda d: d["program"].update(min_redeem="50")),
    _broken(lambda d: d["program"].update(points_multiple=0)),
    _broken(lambda d: d["customers"]["spender"].update(fraud="no")),
    _broken(lambda d: d["customers"]["spender"].update(balance=-1)),
    _broken(lambda d: d["groups"][0]["members"].append({"customer": "ghost"})),
    ["not", "a", "mapping"],
])
def test_bad_seed_data_is_refused(data: object) -> None:
    with pytest.raises(SeedError):
        load_seed(data)
    with pytest.raises(ServerConfigError):
        run_in_thread(seed_data=data)


def test_duplicate_identifiers_are_refused() -> None:
    data = _broken(lambda d: d["customers"]["receiver"].update(mobile=MOBILE["spender"]))
    with pytest.raises(ServerConfigError, match="cannot seed"):
        run_in_thread(seed_data=data)


def test_seed_file_path_is_accepted(tmp_path, start: Callable[..., RunningServer]) -> None:
    path = tmp_path / "seed.yaml"
    path.write_text(yaml.safe_dump(_broken(lambda d: d["program"].update(max_redeem=2000))))
    api = Api(start(seed_data=path).base_url)
    assert redeemable(api.isredeemable(mobile=MOBILE["spender"], points=1500))[
        "item_status"]["code"] == 800
    with pytest.raises(ServerConfigError, match="cannot read"):
        run_in_thread(seed_data=tmp_path / "missing.yaml")


def test_reversal_disabled_pair_differs_from_the_reference_only_in_reversals() -> None:
    """fixtures/reversal-disabled-seed.yaml and its profile: REV-07's setup (selftest)."""
    reference = yaml.safe_load((fixtures_dir() / "reference-seed.yaml").read_text())
    disabled = yaml.safe_load((fixtures_dir() / "reversal-disabled-seed.yaml").read_text())
    assert disabled["program"].pop("reversal_enabled") is False
    assert reference["program"].pop("reversal_enabled") is True
    assert disabled == reference
    assert load_seed(fixtures_dir() / "reversal-disabled-seed.yaml").program.reversal_enabled \
        is False
    profile = yaml.safe_load(re.sub(r"\$\{[A-Z_]+:-([^}]*)\}", r"\1", (
        fixtures_dir() / "profiles" / "reversal-disabled.yaml").read_text()))
    assert profile["program"].pop("reversal_enabled") is False
    reference_profile = _profile()
    reference_profile["program"].pop("reversal_enabled")
    assert profile == reference_profile


def test_the_not_enrolled_customer_holds_points_for_a_transfer() -> None:
    # TRF-09: a transfer from it must break the enrolment rule alone, not the balance one too.
    seed = load_seed()
    by_role = {c.role: c for c in seed.customers}
    smallest = -(-seed.program.min_redeem // seed.program.points_multiple) * \
        seed.program.points_multiple
    assert not by_role["not_enrolled"].enrolled and by_role["not_enrolled"].balance >= smallest
