"""The SQLite store: customers, groups, an append-only points ledger and the records around it.

A balance is the sum of an account's entries; nothing else holds a balance. The server runs
every request's database work on the event-loop thread through this one connection, and
every state change inside ``transaction()`` (BEGIN IMMEDIATE), so a check and the write it
guards can never interleave with another request, nor with another process on the same file.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

# SQLite integers are signed 64-bit; a larger number sent by a client can name nothing here.
SQL_INT_MAX = 2**63 - 1

CUSTOMER_LOOKUPS = ("user_id", "mobile", "email", "external_id", "card_number", "card_external_id")
GROUP_LOOKUPS = ("id", "external_id")
ENTRY_KINDS = ("opening", "redeem", "reverse", "transfer_out", "transfer_in", "goodwill_credit")

_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS customers (
    user_id          INTEGER PRIMARY KEY,
    mobile           TEXT UNIQUE,
    email            TEXT UNIQUE COLLATE NOCASE,
    external_id      TEXT UNIQUE,
    card_number      TEXT UNIQUE,
    card_external_id TEXT UNIQUE,
    first_name       TEXT NOT NULL DEFAULT '',
    last_name        TEXT NOT NULL DEFAULT '',
    fraud            INTEGER NOT NULL DEFAULT 0,
    enrolled         INTEGER NOT NULL DEFAULT 1
);
CREATE TABLE IF NOT EXISTS groups (
    id          INTEGER PRIMARY KEY,
    external_id TEXT UNIQUE,
    status      TEXT NOT NULL DEFAULT 'ACTIVE',
    created_on  TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS group_members (
    group_id   INTEGER NOT NULL REFERENCES groups(id),
    user_id    INTEGER NOT NULL REFERENCES customers(user_id),
    is_primary INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (group_id, user_id)
);
CREATE TABLE IF NOT EXISTS entries (
    id         INTEGER PRIMARY KEY,
    user_id    INTEGER REFERENCES customers(user_id),
    group_id   INTEGER REFERENCES groups(id),
    kind       TEXT NOT NULL CHECK (kind IN ({", ".join(repr(k) for k in ENTRY_KINDS)})),
    points     INTEGER NOT NULL,
    reference  TEXT NOT NULL,
    created_at TEXT NOT NULL,
    CHECK ((user_id IS NULL) <> (group_id IS NULL))
);
CREATE INDEX IF NOT EXISTS entries_by_user ON entries (user_id, points);
CREATE INDEX IF NOT EXISTS entries_by_group ON entries (group_id, points);
CREATE TABLE IF NOT EXISTS redemptions (
    id                        INTEGER PRIMARY KEY,
    user_id                   INTEGER NOT NULL REFERENCES customers(user_id),
    points                    INTEGER NOT NULL CHECK (points > 0),
    transaction_number        TEXT NOT NULL DEFAULT '',
    external_reference_number TEXT NOT NULL DEFAULT '',
    till_id                   TEXT NOT NULL DEFAULT '',
    notes                     TEXT NOT NULL DEFAULT '',
    redemption_time           TEXT NOT NULL DEFAULT '',
    created_at                TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS reversals (
    id            INTEGER PRIMARY KEY,
    redemption_id INTEGER NOT NULL REFERENCES redemptions(id),
    points        INTEGER NOT NULL CHECK (points > 0),
    created_at    TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS reversals_by_redemption ON reversals (redemption_id, points);
CREATE TABLE IF NOT EXISTS transfers (
    id         INTEGER PRIMARY KEY,
    from_user  INTEGER REFERENCES customers(user_id),
    from_group INTEGER REFERENCES groups(id),
    to_user    INTEGER REFERENCES customers(user_id),
    to_group   INTEGER REFERENCES groups(id),
    points     INTEGER NOT NULL CHECK (points > 0),
    notes      TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS transfers_from_user ON transfers (from_user);
CREATE INDEX IF NOT EXISTS transfers_from_group ON transfers (from_group);
CREATE TABLE IF NOT EXISTS otps (
    id         INTEGER PRIMARY KEY,
    user_id    INTEGER NOT NULL REFERENCES customers(user_id),
    purpose    TEXT NOT NULL CHECK (purpose IN ('redeem', 'transfer')),
    code       TEXT NOT NULL,
    issued_at  REAL NOT NULL,
    expires_at REAL NOT NULL,
    used       INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS otps_by_user ON otps (user_id, purpose, used, expires_at);
CREATE TABLE IF NOT EXISTS goodwill_requests (
    id         TEXT PRIMARY KEY,
    user_id    INTEGER REFERENCES customers(user_id),
    group_id   INTEGER REFERENCES groups(id),
    points     INTEGER NOT NULL CHECK (points > 0),
    details    TEXT NOT NULL,
    state      TEXT NOT NULL,
    start_time TEXT NOT NULL,
    end_time   TEXT
);
"""


@dataclass(frozen=True, slots=True)
class Account:
    """Who holds points: a customer (by user id) or a group."""

    kind: str  # "customer" | "group"
    id: int

    @property
    def column(self) -> str:
        return "user_id" if self.kind == "customer" else "group_id"


@dataclass(frozen=True, slots=True)
class Customer:
    user_id: int
    mobile: str
    email: str
    external_id: str
    card_number: str
    card_external_id: str
    first_name: str
    last_name: str
    fraud: bool
    enrolled: bool

    @property
    def account(self) -> Account:
        return Account("customer", self.user_id)


@dataclass(frozen=True, slots=True)
class Group:
    id: int
    external_id: str
    status: str
    created_on: str

    @property
    def account(self) -> Account:
        return Account("group", self.id)


@dataclass(frozen=True, slots=True)
class Member:
    user_id: int
    group_id: int
    primary: bool


@dataclass(frozen=True, slots=True)
class Redemption:
    id: int
    user_id: int
    points: int
    transaction_number: str
    created_at: str


@dataclass(frozen=True, slots=True)
class Transfer:
    id: int
    source: Account
    destination: Account
    points: int
    notes: str
    created_at: str


@dataclass(frozen=True, slots=True)
class Otp:
    id: int
    code: str
    expires_at: float


@dataclass(frozen=True, slots=True)
class GoodwillRequest:
    id: str
    account: Account
    points: int
    details: str
    state: str
    start_time: str
    end_time: str | None


_CUSTOMER_COLUMNS = ("user_id, COALESCE(mobile, ''), COALESCE(email, ''),"
                     " COALESCE(external_id, ''), COALESCE(card_number, ''),"
                     " COALESCE(card_external_id, ''), first_name,"
                     " last_name, fraud, enrolled")


def _customer(row: tuple | None) -> Customer | None:
    if row is None:
        return None
    return Customer(*row[:8], fraud=bool(row[8]), enrolled=bool(row[9]))


def _account(user_id: int | None, group_id: int | None) -> Account:
    return Account("customer", user_id) if user_id is not None else Account("group", group_id)


def sql_int(value: int) -> bool:
    """Whether ``value`` fits an SQLite integer (larger numbers would raise on binding)."""
    return -SQL_INT_MAX - 1 <= value <= SQL_INT_MAX


class Ledger:
    """One SQLite connection; use it from one thread at a time (the event loop's)."""

    def __init__(self, path: str) -> None:
        # check_same_thread=False: the ledger is opened by the caller of serve()/run_in_thread()
        # and then used only by the event-loop thread, never by two threads at once.
        self._conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False,
                                     cached_statements=256)
        self._conn.execute("PRAGMA journal_mode=WAL")
        # NORMAL in WAL mode: a commit survives a crash of this process, fsync only at checkpoints.
        self._conn.execute("PRAGMA synchronous=NORMAL")
        self._conn.execute("PRAGMA foreign_keys=ON")
        self._conn.execute("PRAGMA busy_timeout=5000")
        self._conn.executescript(_SCHEMA)
        self._depth = 0

    def close(self) -> None:
        self._conn.close()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """One atomic change: BEGIN IMMEDIATE takes the write lock before anything is read."""
        if self._depth:
            raise RuntimeError("transactions do not nest")
        self._conn.execute("BEGIN IMMEDIATE")
        self._depth = 1
        try:
            yield
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise
        else:
            self._conn.execute("COMMIT")
        finally:
            self._depth = 0

    def _write(self, sql: str, params: tuple) -> int:
        if not self._depth:
            raise RuntimeError("a state change must run inside Ledger.transaction()")
        return self._conn.execute(sql, params).lastrowid

    def is_empty(self) -> bool:
        return self._conn.execute("SELECT NOT EXISTS (SELECT 1 FROM customers)"
                                  " AND NOT EXISTS (SELECT 1 FROM groups)").fetchone()[0] == 1

    # --- customers and groups -----------------------------------------------------------------

    def add_customer(self, user_id: int, identifiers: dict[str, str], first_name: str,
                     last_name: str, fraud: bool, enrolled: bool) -> None:
        columns = [k for k in CUSTOMER_LOOKUPS[1:] if identifiers.get(k)]
        names = ", ".join(["user_id", *columns, "first_name", "last_name", "fraud", "enrolled"])
        marks = ", ".join("?" * (len(columns) + 5))
        self._write(f"INSERT INTO customers ({names}) VALUES ({marks})",
                    (user_id, *(identifiers[k] for k in columns), first_name, last_name,
                     int(fraud), int(enrolled)))

    def add_group(self, group_id: int, external_id: str, created_on: str) -> None:
        self._write("INSERT INTO groups (id, external_id, created_on) VALUES (?, ?, ?)",
                    (group_id, external_id or None, created_on))

    def add_member(self, group_id: int, user_id: int, primary: bool) -> None:
        self._write("INSERT INTO group_members (group_id, user_id, is_primary) VALUES (?, ?, ?)",
                    (group_id, user_id, int(primary)))

    def find_customer(self, field: str, value: str | int) -> Customer | None:
        """The customer whose ``field`` (one of CUSTOMER_LOOKUPS) equals ``value``."""
        if field not in CUSTOMER_LOOKUPS:
            raise ValueError(f"not a customer identifier: {field}")
        if isinstance(value, int) and not sql_int(value):
            return None
        return _customer(self._conn.execute(
            f"SELECT {_CUSTOMER_COLUMNS} FROM customers WHERE {field} = ?", (value,)).fetchone())

    def customer(self, user_id: int) -> Customer | None:
        return self.find_customer("user_id", user_id)

    def customers(self) -> list[Customer]:
        rows = self._conn.execute(f"SELECT {_CUSTOMER_COLUMNS} FROM customers ORDER BY user_id")
        return [_customer(row) for row in rows]

    def find_group(self, field: str, value: str | int) -> Group | None:
        if field not in GROUP_LOOKUPS:
            raise ValueError(f"not a group identifier: {field}")
        if isinstance(value, int) and not sql_int(value):
            return None
        row = self._conn.execute(
            "SELECT id, COALESCE(external_id, ''), status, created_on FROM groups"
            f" WHERE {field} = ?", (value,)).fetchone()
        return None if row is None else Group(*row)

    def groups(self) -> list[Group]:
        rows = self._conn.execute(
            "SELECT id, COALESCE(external_id, ''), status, created_on FROM groups ORDER BY id")
        return [Group(*row) for row in rows]

    def members(self, group_id: int) -> list[Member]:
        rows = self._conn.execute(
            "SELECT user_id, group_id, is_primary FROM group_members WHERE group_id = ?"
            " ORDER BY is_primary DESC, user_id", (group_id,))
        return [Member(u, g, bool(p)) for u, g, p in rows]

    # --- points -------------------------------------------------------------------------------

    def balance(self, account: Account) -> int:
        return self._conn.execute(
            f"SELECT COALESCE(SUM(points), 0) FROM entries WHERE {account.column} = ?",
            (account.id,)).fetchone()[0]

    def total_points(self) -> int:
        """Points held by all accounts together."""
        return self._conn.execute("SELECT COALESCE(SUM(points), 0) FROM entries").fetchone()[0]

    def add_entry(self, account: Account, kind: str, points: int, reference: str,
                  at: str) -> int:
        return self._write(
            f"INSERT INTO entries ({account.column}, kind, points, reference, created_at)"
            " VALUES (?, ?, ?, ?, ?)", (account.id, kind, points, reference, at))

    # --- redemptions and reversals ------------------------------------------------------------

    def add_redemption(self, user_id: int, points: int, transaction_number: str,
                       external_reference_number: str, till_id: str, notes: str,
                       redemption_time: str, at: str) -> int:
        redemption_id = self._write(
            "INSERT INTO redemptions (user_id, points, transaction_number,"
            " external_reference_number, till_id, notes, redemption_time, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (user_id, points, transaction_number, external_reference_number, till_id, notes,
             redemption_time, at))
        self.add_entry(Account("customer", user_id), "redeem", -points,
                       f"redemption:{redemption_id}", at)
        return redemption_id

    def redemption(self, redemption_id: int) -> Redemption | None:
        if not sql_int(redemption_id):
            return None
        row = self._conn.execute(
            "SELECT id, user_id, points, transaction_number, created_at FROM redemptions"
            " WHERE id = ?", (redemption_id,)).fetchone()
        return None if row is None else Redemption(*row)

    def reversed_points(self, redemption_id: int) -> int:
        return self._conn.execute(
            "SELECT COALESCE(SUM(points), 0) FROM reversals WHERE redemption_id = ?",
            (redemption_id,)).fetchone()[0]

    def add_reversal(self, redemption: Redemption, points: int, at: str) -> int:
        reversal_id = self._write(
            "INSERT INTO reversals (redemption_id, points, created_at) VALUES (?, ?, ?)",
            (redemption.id, points, at))
        self.add_entry(Account("customer", redemption.user_id), "reverse", points,
                       f"reversal:{reversal_id}", at)
        return reversal_id

    def outstanding_redeemed(self) -> int:
        """Points redeemed and not reversed, over all redemptions."""
        return self._conn.execute(
            "SELECT (SELECT COALESCE(SUM(points), 0) FROM redemptions)"
            " - (SELECT COALESCE(SUM(points), 0) FROM reversals)").fetchone()[0]

    # --- transfers ----------------------------------------------------------------------------

    def add_transfer(self, source: Account, destination: Account, points: int, notes: str,
                     at: str, *, debit: bool = True, credit: bool = True) -> int:
        """Record a transfer and move its points; ``debit``/``credit`` False only for faults."""
        from_user, from_group = _split(source)
        to_user, to_group = _split(destination)
        transfer_id = self._write(
            "INSERT INTO transfers (from_user, from_group, to_user, to_group, points, notes,"
            " created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (from_user, from_group, to_user, to_group, points, notes, at))
        if debit:
            self.add_entry(source, "transfer_out", -points, f"transfer:{transfer_id}", at)
        if credit:
            self.add_entry(destination, "transfer_in", points, f"transfer:{transfer_id}", at)
        return transfer_id

    def transfer(self, transfer_id: int) -> Transfer | None:
        row = self._conn.execute(
            "SELECT id, from_user, from_group, to_user, to_group, points, notes, created_at"
            " FROM transfers WHERE id = ?", (transfer_id,)).fetchone()
        return None if row is None else _transfer(row)

    def transfers_from(self, source: Account) -> list[Transfer]:
        """Transfers out of ``source``, most recent first."""
        column = "from_user" if source.kind == "customer" else "from_group"
        rows = self._conn.execute(
            "SELECT id, from_user, from_group, to_user, to_group, points, notes, created_at"
            f" FROM transfers WHERE {column} = ? ORDER BY id DESC", (source.id,))
        return [_transfer(row) for row in rows]

    # --- one-time codes -----------------------------------------------------------------------

    def active_otp(self, user_id: int, purpose: str, now: float | None) -> Otp | None:
        """The newest unused code not expired at ``now`` (None: whatever its expiry)."""
        row = self._conn.execute(
            "SELECT id, code, expires_at FROM otps WHERE user_id = ?1 AND purpose = ?2 AND used = 0"
            " AND (?3 IS NULL OR expires_at > ?3) ORDER BY id DESC LIMIT 1",
            (user_id, purpose, now)).fetchone()
        return None if row is None else Otp(*row)

    def last_otp_code(self, user_id: int, purpose: str) -> str | None:
        row = self._conn.execute(
            "SELECT code FROM otps WHERE user_id = ? AND purpose = ? ORDER BY id DESC LIMIT 1",
            (user_id, purpose)).fetchone()
        return None if row is None else row[0]

    def add_otp(self, user_id: int, purpose: str, code: str, issued_at: float,
                expires_at: float) -> int:
        return self._write(
            "INSERT INTO otps (user_id, purpose, code, issued_at, expires_at)"
            " VALUES (?, ?, ?, ?, ?)", (user_id, purpose, code, issued_at, expires_at))

    def use_otp(self, otp_id: int) -> None:
        self._write("UPDATE otps SET used = 1 WHERE id = ?", (otp_id,))

    # --- goodwill -----------------------------------------------------------------------------

    def add_goodwill(self, request_id: str, account: Account, points: int, details: str,
                     start_time: str) -> None:
        user_id, group_id = _split(account)
        self._write(
            "INSERT INTO goodwill_requests (id, user_id, group_id, points, details, state,"
            " start_time) VALUES (?, ?, ?, ?, ?, 'AdminTask', ?)",
            (request_id, user_id, group_id, points, details, start_time))

    def goodwill(self, request_id: str) -> GoodwillRequest | None:
        row = self._conn.execute(
            "SELECT id, user_id, group_id, points, details, state, start_time, end_time"
            " FROM goodwill_requests WHERE id = ?", (request_id,)).fetchone()
        if row is None:
            return None
        return GoodwillRequest(row[0], _account(row[1], row[2]), *row[3:])

    def approve_goodwill(self, request: GoodwillRequest, at: str) -> None:
        self._write("UPDATE goodwill_requests SET state = 'Approved', end_time = ? WHERE id = ?",
                    (at, request.id))
        self.add_entry(request.account, "goodwill_credit", request.points,
                       f"goodwill:{request.id}", at)


def _split(account: Account) -> tuple[int | None, int | None]:
    return (account.id, None) if account.kind == "customer" else (None, account.id)


def _transfer(row: tuple) -> Transfer:
    return Transfer(row[0], _account(row[1], row[2]), _account(row[3], row[4]), row[5], row[6],
                    row[7])
