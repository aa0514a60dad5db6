"""Points v1.1: isredeemable, validationcode and redeem."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from starlette.requests import Request
from starlette.responses import Response

from conformance.server import endpoints, otp, switches, variants, xmlio
from conformance.server.ledger import Customer, Ledger, Otp
from conformance.server.params import (
    Invalid,
    as_id,
    identifier_is_wellformed,
    lookup_value,
    loose_bool,
    loose_int,
    parse_json,
    query_bool,
    query_enum,
    query_int,
    text,
)
from conformance.server.replies import item_status, status, v11
from conformance.server.rules import (
    IDENTITY_RULES,
    REDEMPTION_RULES,
    RedemptionCase,
    Refusal,
    Rule,
    first_refusal,
)
from conformance.server.state import ServerState

IDENTIFIERS = ("mobile", "email", "external_id", "card_number", "card_external_id", "user_id")
VALIDATION_TYPES = ("MISSED_CALL", "SMS", "INVALID")
# Either separator in the time part (DC-18); anything else is not a redemption time at all.
_TIME = re.compile(r"([0-9]{4}-[0-9]{2}-[0-9]{2}) ([0-9]{2})[:-]([0-9]{2})[:-]([0-9]{2})")
# The redeem.time-colon-only variant: the samples' HH:MM:SS alone (DC-18's strict form).
_TIME_COLONS = re.compile(r"([0-9]{4}-[0-9]{2}-[0-9]{2}) ([0-9]{2}):([0-9]{2}):([0-9]{2})")
WRONG_CODE = Refusal(808, "Unable to redeem. Validation code is invalid")
UNKNOWN_CUSTOMER = 816
# The validationcode.common-identifiers variant: the identifiers both documents list (DC-02).
COMMON_IDENTIFIERS = ("mobile", "email", "external_id")
# codes.fraud-820: 809's other listing, same meaning (DC-09).
FRAUD = 809
FRAUD_820 = Refusal(820, "Unable to process. Customer is marked as fraud")
# isredeemable.always-refuse and redeem.unknown-as-empty: the refusal of a server that reads a
# balance of 0 (for every customer, or for one it does not know).
NOT_ENOUGH_POINTS = Refusal(818, "Points you are trying to redeem are more than the available"
                                 " points")
# redeem.race: how long the checks and the write stay apart. Long against the spread of
# requests a scenario releases together, so that all of them pass the checks first.
RACE_WINDOW_S = 0.25


@dataclass(frozen=True, slots=True)
class Identity:
    kind: str
    value: str
    wellformed: bool
    customer: Customer | None

    def echo(self) -> dict:
        """The customer's identifiers for the response, or what was sent when unknown."""
        if self.customer is not None:
            c = self.customer
            return {"mobile": c.mobile, "email": c.email, "external_id": c.external_id,
                    "user_id": c.user_id}
        if self.kind == "user_id":
            user_id = as_id(self.value)
            return {} if user_id is None else {"user_id": user_id}
        return {self.kind: self.value}


def identify(ledger: Ledger, kind: str, value: str) -> Identity:
    wellformed = identifier_is_wellformed(kind, value)
    customer = ledger.find_customer(kind, lookup_value(kind, value)) if wellformed else None
    return Identity(kind, value, wellformed, customer)


def _query_identifier(query: Mapping[str, str], identifiers: tuple[str, ...] = IDENTIFIERS
                      ) -> tuple[str, str]:
    for kind in identifiers:
        value = query.get(kind)
        if value is not None:
            return kind, value
    raise Invalid(f"one of {', '.join(identifiers)} is required", 802)


def _check_optional_query(query: Mapping[str, str]) -> None:
    """Type-check the documented parameters this server accepts but does not act on."""
    for name in ("program_id", "user_group2_primary_user_id", "user_group2_id"):
        query_int(query, name)
    for name in ("group_redemption", "skip_validation", "use_default_user_group2",
                 "currency_input"):
        query_bool(query, name)
    query_enum(query, "validation_type", VALIDATION_TYPES)


def _query_echo(query: Mapping[str, str]) -> dict:
    for kind in IDENTIFIERS:
        value = query.get(kind)
        if value is not None:
            return Identity(kind, value, False, None).echo()
    return {}


def _balance_first(rules: tuple[Rule, ...]) -> tuple[Rule, ...]:
    """The redeem.balance-first order: 818 right after the customer and amount checks.

    The order of the rules is not documented (DC-14): an amount over both the balance and
    the maximum may get either code. Only the program's limits (multiple, minimum, maximum)
    trade places with the balance; 801 stays first, since an amount of 0 or less is invalid
    before it is anything else (the redeem.points-positive fault is 821 for it).
    """
    balance = next(rule for rule in rules if rule.name == "redeem.balance")
    limits = {"redeem.multiple", "redeem.minimum", "redeem.maximum"}
    first_limit = next(i for i, rule in enumerate(rules) if rule.name in limits)
    others = tuple(rule for rule in rules if rule is not balance)
    return others[:first_limit] + (balance,) + others[first_limit:]


BALANCE_FIRST_RULES = _balance_first(REDEMPTION_RULES)


def _broken_rule(case: RedemptionCase, faults: frozenset[str],
                 chosen: frozenset[str] = frozenset()) -> Refusal | None:
    """The refusal of the first redemption rule ``case`` breaks (isredeemable and redeem)."""
    rules = BALANCE_FIRST_RULES if variants.REDEEM_BALANCE_FIRST in chosen else REDEMPTION_RULES
    refusal = first_refusal(rules, case, faults)
    if refusal is not None and refusal.code == UNKNOWN_CUSTOMER and \
            switches.REDEEM_UNKNOWN_AS_EMPTY in faults:
        return NOT_ENOUGH_POINTS
    if refusal is not None and refusal.code == FRAUD and variants.CODES_FRAUD_820 in chosen:
        return FRAUD_820
    return refusal


# --- isredeemable ---------------------------------------------------------------------------

def _redeemable(echo: dict, points: int, ok: bool, code: int, message: str, http: int,
                ratio: int = 1, nested: bool = False) -> dict:
    redeemable = {**echo, "points": points, "is_redeemable": ok}
    if ok:
        redeemable.update(points_redeem_value=points * ratio,
                          points_redeem_local_value=points * ratio, points_currency_ratio=ratio)
    redeemable["item_status"] = item_status(ok, code, message)
    points_block = {"redeemable": redeemable}
    if nested:
        # isredeemable.sample-nesting: the samples wrap the answer in a redemption-shaped
        # block, response.responses.points.response.points (DC-04).
        return {"response": {"status": status(ok, http, "SUCCESS" if ok else message),
                             "responses": {"points": {"response": {"points": points_block}}}}}
    return {"response": {"status": status(ok, http, "SUCCESS" if ok else message),
                         "points": points_block}}


def _redeemable_refused(exc: Invalid, request: Request) -> dict:
    points = request.query_params.get("points", "")
    # The strict schema requires an integer here even when the input had none (reported).
    echoed = int(points) if re.fullmatch(r"-?[0-9]{1,18}", points) else 0
    nested = variants.ISREDEEMABLE_SAMPLE_NESTING in request.app.state.server.variants
    return _redeemable(_query_echo(request.query_params), echoed, False, exc.code, exc.message,
                       400, nested=nested)


@endpoints.v11(_redeemable_refused)
async def is_redeemable(request: Request, state: ServerState, fmt: str) -> Response:
    query = request.query_params
    kind, value = _query_identifier(query)
    points = query_int(query, "points", 801, required=True)
    issue_otp = query_bool(query, "issue_otp")
    _check_optional_query(query)
    ledger = state.ledger
    who = identify(ledger, kind, value)
    case = RedemptionCase(state.program, who.wellformed, who.customer, points, ledger.balance)
    refusal = _broken_rule(case, state.faults, state.variants)
    if refusal is None and switches.ISREDEEMABLE_ALWAYS_REFUSE in state.faults:
        refusal = NOT_ENOUGH_POINTS
    nested = variants.ISREDEEMABLE_SAMPLE_NESTING in state.variants
    if refusal is not None:
        http = variants.refusal_status(state.variants)
        body = _redeemable(who.echo(), points, False, refusal.code, refusal.message, http,
                           nested=nested)
        return v11(body, fmt, http)
    message = "Points can be redeemed"
    if issue_otp:
        if switches.OTP_ISREDEEMABLE_NO_ISSUE not in state.faults:
            with ledger.transaction():
                otp.issue(ledger, state.clock, who.customer.user_id, "redeem",
                          state.program.otp_validity_s, state.faults)
        message += "; validation code issued"
    body = _redeemable(who.echo(), points, True, 800, message, 200,
                       state.program.points_currency_ratio, nested=nested)
    return v11(body, fmt)


# --- validationcode -------------------------------------------------------------------------

def _code_body(code_block: dict, ok: bool, http: int, message: str) -> dict:
    return {"response": {"status": status(ok, http, "Operation Successful" if ok else message),
                         "validation_code": {"code": code_block}}}


def _code_refused(exc: Invalid, request: Request) -> dict:
    block = {**_query_echo(request.query_params),
             "item_status": item_status(False, exc.code, exc.message)}
    return _code_body(block, False, 400, exc.message)


@endpoints.v11(_code_refused)
async def issue_validation_code(request: Request, state: ServerState, fmt: str) -> Response:
    query = request.query_params
    chosen = state.variants
    # validationcode.common-identifiers: user_id, card_number, card_external_id not read.
    kind, value = _query_identifier(
        query, COMMON_IDENTIFIERS if variants.VALIDATIONCODE_COMMON_IDENTIFIERS in chosen
        else IDENTIFIERS)
    if kind == "user_id" and as_id(value) is None:
        raise Invalid("query parameter user_id must be an integer", 802)
    points = query_int(query, "points", 801, required=True)
    # validationcode.any-points: the sample asks a code for -100 (DC-03); the code's amount
    # binds nothing here, redeem checks its own.
    if points < 1 and variants.VALIDATIONCODE_ANY_POINTS not in chosen:
        raise Invalid("query parameter points must be positive", 801)
    ledger = state.ledger
    who = identify(ledger, kind, value)
    case = RedemptionCase(state.program, who.wellformed, who.customer, points, ledger.balance)
    refusal = first_refusal(IDENTITY_RULES, case, state.faults)
    if refusal is not None:
        block = {**who.echo(), "points": points,
                 "item_status": item_status(False, refusal.code, refusal.message)}
        http = variants.refusal_status(chosen)
        return v11(_code_body(block, False, http, refusal.message), fmt, http)
    if switches.OTP_NOT_ISSUED not in state.faults:
        with ledger.transaction():
            otp.issue(ledger, state.clock, who.customer.user_id, "redeem",
                      state.program.otp_validity_s, state.faults)
    block = {**who.echo(), "points": points,
             "item_status": item_status(True, 200, "Validation Code Issued by SMS/Email")}
    return v11(_code_body(block, True, 200, ""), fmt)


# --- redeem ---------------------------------------------------------------------------------

def _redeemed(points_block: dict, ok: bool, http: int, message: str) -> dict:
    return {"response": {"status": status(ok, http, "Success" if ok else message),
                         "responses": {"points": points_block}}}


def _redeem_refused(exc: Invalid, request: Request) -> dict:
    return _redeemed({"item_status": item_status(False, exc.code, exc.message)}, False, 400,
                     exc.message)


def _redeem_document(body: bytes, media: str, nested_root: bool = True) -> object:
    if media in xmlio.MEDIA_TYPES:
        return xmlio.parse_redeem(body, nested_root)
    if not media or media == "application/json" or media.endswith("+json"):
        return parse_json(body)
    raise Invalid(f"the body must be application/json or application/xml, not {media}")


def _single_item(document: object) -> dict:
    root = document.get("root") if isinstance(document, dict) else None
    if not isinstance(root, dict):
        raise Invalid("root is required and must be an object")
    items = root.get("redeem")
    if not isinstance(items, list) or not items:
        raise Invalid("root.redeem must be a non-empty array")
    if len(items) > 1:
        raise Invalid("root.redeem holds one redemption per request (no batch support)")
    if not isinstance(items[0], dict):
        raise Invalid("root.redeem[0] must be an object")
    return items[0]


def _item_identifier(item: dict, nested: bool = True) -> tuple[str, str]:
    """Item-level identifier (the table's form) or one nested in customer{} (DC-05).

    ``nested`` False is the redeem.item-identifier-only variant: customer{} is not read.
    """
    customer = item.get("customer") if nested else None
    if customer in (None, ""):
        customer = {}
    if not isinstance(customer, dict):
        raise Invalid("root.redeem[0].customer must be an object", 802)
    empty = None
    for where, node in (("", item), ("customer.", customer)):
        for kind in IDENTIFIERS:
            value = node.get(kind)
            if value is None:
                continue
            if not isinstance(value, str):
                raise Invalid(f"root.redeem[0].{where}{kind} must be a string", 802)
            if value.strip():
                return kind, value.strip()
            empty = empty or (kind, value)
    if empty is not None:
        return empty
    raise Invalid("root.redeem[0].mobile (or a customer identifier) is required", 802)


def _time_ok(value: str) -> bool:
    """Whether a redemption time names a real date and time; its shape is checked before."""
    match = _TIME.fullmatch(value)
    try:
        datetime.strptime("{} {}:{}:{}".format(*match.groups()), "%Y-%m-%d %H:%M:%S")
    except ValueError:
        return False
    return True


@endpoints.v11(_redeem_refused)
async def redeem(request: Request, state: ServerState, fmt: str) -> Response:
    query = request.query_params
    _check_optional_query(query)
    program, chosen = state.program, state.variants
    skip = (program.allow_skip_validation and query.get("validation_type") == "INVALID"
            and query_bool(query, "skip_validation") is True)
    item = _single_item(_redeem_document(
        await endpoints.read_body(request), endpoints.media_type(request),
        nested_root=variants.REDEEM_XML_SINGLE_ROOT not in chosen))
    if item.get("points_redeemed") in (None, ""):
        raise Invalid("root.redeem[0].points_redeemed is required", 801)
    points = loose_int(item["points_redeemed"], "root.redeem[0].points_redeemed", 801)
    kind, value = _item_identifier(item, nested=variants.REDEEM_ITEM_IDENTIFIER_ONLY not in chosen)
    code = text(item.get("validation_code"), "root.redeem[0].validation_code", 824).strip()
    if not code and switches.OTP_NOT_REQUIRED in state.faults:
        skip = True  # the bug: no code is taken as "validation skipped"
    if not code and not skip:
        raise Invalid("Mobile number validation is mandatory: validation_code is required", 824)
    when = text(item.get("redemption_time"), "root.redeem[0].redemption_time", 859).strip()
    shape = _TIME_COLONS if variants.REDEEM_TIME_COLON_ONLY in chosen else _TIME
    if when and not shape.fullmatch(when):
        raise Invalid("The redemption time you have passed is invalid (YYYY-MM-DD HH:MM:SS)",
                      859)
    fields = {name: text(item.get(name), f"root.redeem[0].{name}")
              for name in ("transaction_number", "external_reference_number", "till_id", "notes")}
    if item.get("program_id") not in (None, ""):
        loose_int(item["program_id"], "root.redeem[0].program_id")
    if item.get("group_redemption") not in (None, ""):
        loose_bool(item["group_redemption"], "root.redeem[0].group_redemption")

    ledger, clock, faults = state.ledger, state.clock, state.faults

    def judge() -> tuple[Identity, Refusal | None, Otp | None]:
        who = identify(ledger, kind, value)
        case = RedemptionCase(program, who.wellformed, who.customer, points, ledger.balance,
                              time_ok=not when or _time_ok(when))
        refusal = _broken_rule(case, faults, chosen)
        current = None
        if refusal is None and not skip:
            if switches.OTP_ANY_CODE in faults:
                # The bug: the code is not compared, only required to exist.
                current = otp.active(ledger, clock, who.customer.user_id, "redeem", faults)
            else:
                current = otp.matching(ledger, clock, who.customer.user_id, "redeem", code,
                                       faults)
            if current is None:
                refusal = WRONG_CODE
        return who, refusal, current

    def book(who: Identity, current: Otp | None) -> tuple[int, int]:
        account = who.customer.account
        redemption_id = ledger.add_redemption(
            who.customer.user_id, points, redemption_time=when, at=clock.stamp(), **fields)
        if switches.REDEEM_DEDUCTS_DOUBLE in faults:
            ledger.add_entry(account, "redeem", -points, f"redemption:{redemption_id}",
                             clock.stamp())
        if current is not None:
            otp.consume(ledger, current, "redeem", faults)
        return redemption_id, ledger.balance(account)

    if switches.REDEEM_RACE in faults:
        # The bug: the checks read outside the transaction and the write happens after an
        # await, so every request that arrives meanwhile passes the same checks.
        who, refusal, current = judge()
        if refusal is None:
            await asyncio.sleep(RACE_WINDOW_S)
            with ledger.transaction():
                redemption_id, balance = book(who, current)
    else:
        with ledger.transaction():
            who, refusal, current = judge()
            if refusal is None:
                redemption_id, balance = book(who, current)
    if refusal is not None:
        block = {**who.echo(), "item_status": item_status(False, refusal.code, refusal.message)}
        http = variants.refusal_status(chosen)
        return v11(_redeemed(block, False, http, refusal.message), fmt, http)
    value_redeemed = points * program.points_currency_ratio
    block = {
        **who.echo(),
        # ids.alphanumeric: the samples' kind of id ("r0njPT"), which reverse takes (DC-07).
        "redemption_id": (variants.alphanumeric_id(redemption_id)
                          if variants.IDS_ALPHANUMERIC in chosen else redemption_id),
        "points_redeemed": points,
        "redeemed_value": value_redeemed,
        "redeemed_local_value": value_redeemed,
        "balance": balance,
        "side_effects": {"effect": [{
            "id": redemption_id,
            "case_value": "true",
            "num_points": points,
            "currency_value": value_redeemed,
            "points_redemption_summary_id": str(redemption_id),
            "redeemed_on_bill_number": fields["transaction_number"],
            "redeemed_on_bill_id": -1,
            "type": "points",
        }]},
        "item_status": item_status(True, 800, "Points Redeemed"),
    }
    if switches.REDEEM_RENAMES_BALANCE in faults:
        # The bug: the balance comes under another name, in JSON and XML alike.
        block = {("current_balance" if key == "balance" else key): item
                 for key, item in block.items()}
    return v11(_redeemed(block, True, 200, ""), fmt)
