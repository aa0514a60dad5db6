"""Legitimate variants: the other choice, where the documents allow two.

The vendor documents leave some choices open (specs/conflicts.yaml, RFC 9110): codes as
numbers or as strings, the XML root, 405 or 501 for a method nobody documented, a refusal
under HTTP 200 or a 4xx, a gateway validating requests in front of the service … The
reference server makes one choice by default; each variant makes the other one, and only
that. A variant is not a bug: a run of the suite against the server with any variant on must
judge it conformant (a false failure counts like a missed fault), which is how the suite
proves it does not mistake a legitimate implementation for a broken one.

Like the fault switches (switches.py), variants are named constants, chosen per server
(``serve --variant NAME``, ``run_in_thread(variants=...)``), and with none on none of their
code runs. Where each lives:

- answers rewritten on their way out (variant_answers.py, an ASGI middleware installed only
  when one of ANSWER_REWRITES is on): the JSON types of DC-01, decimals (DC-08), warnings
  (DC-13), the XML root (DC-15);
- the method check (methods.py) and the schema gateway (gateway.py), middleware too;
- a flag read where the behaviour lives (redemption.py, reversal.py, transfer.py, xmlio.py,
  app.py) for the rest.
"""

from __future__ import annotations

from collections.abc import Iterable
from types import MappingProxyType

# --- HTTP, RFC 9110 -------------------------------------------------------------------------
# 501 Not Implemented (RFC 9110 §15.6.2) instead of 405 for a method not served on a path.
HTTP_501_UNKNOWN_METHOD = "http.501-unknown-method"
# Business refusals under HTTP 400 instead of 200 (DC-11: the status is not documented).
HTTP_4XX_REFUSALS = "http.4xx-refusals"
# A gateway in front answers 422 to requests the strict schema refuses (gateway.py).
GATEWAY_VALIDATES_SCHEMA = "gateway.validates-schema"

# --- answer shapes --------------------------------------------------------------------------
JSON_NUMBERS_AS_STRINGS = "json.numbers-as-strings"      # DC-01: "code": "800", "balance": "9"
JSON_SUCCESS_AS_BOOLEAN = "json.success-as-boolean"      # DC-01: "success": true
ISREDEEMABLE_SAMPLE_NESTING = "isredeemable.sample-nesting"  # DC-04: the samples' nesting
IDS_ALPHANUMERIC = "ids.alphanumeric"                    # DC-07: ids like the samples' "r1a"
V2_POINTS_AS_DECIMALS = "v2.points-as-decimals"          # DC-08: 100.0 instead of 100
CODES_FRAUD_820 = "codes.fraud-820"                      # DC-09: fraud refused with 820
V2_REFUSALS_AS_WARNINGS = "v2.refusals-as-warnings"      # DC-13: 901-905 in warnings[]
XML_ROOT_WRAPPER = "xml.root-wrapper"                    # DC-15: <root><response> for redeem

# --- what is accepted -----------------------------------------------------------------------
VALIDATIONCODE_COMMON_IDENTIFIERS = "validationcode.common-identifiers"  # DC-02
VALIDATIONCODE_ANY_POINTS = "validationcode.any-points"  # DC-03: -100 gets a code too
REDEEM_ITEM_IDENTIFIER_ONLY = "redeem.item-identifier-only"  # DC-05: customer{} not read
REDEEM_XML_SINGLE_ROOT = "redeem.xml-single-root"        # DC-06: <root><root> not read
GOODWILL_ONE_PATH = "goodwill.one-path"                  # DC-10: only the URI row's path
REDEEM_BALANCE_FIRST = "redeem.balance-first"            # DC-14: 818 before 807/821/819
REDEEM_TIME_COLON_ONLY = "redeem.time-colon-only"        # DC-18: HH:MM:SS only

VARIANTS: MappingProxyType[str, str] = MappingProxyType({
    HTTP_501_UNKNOWN_METHOD:
        "a method not served on a documented path is answered 501 Not Implemented, not 405 "
        "(RFC 9110 §15.6.2); GET paths still serve HEAD",
    HTTP_4XX_REFUSALS:
        "business refusals (a refusal code in the body) come with HTTP 400 instead of 200; "
        "the v1.1 status.code mirrors it (DC-11)",
    GATEWAY_VALIDATES_SCHEMA:
        "a gateway answers 422 with {\"message\": ...} and no code to an authenticated request "
        "the strict schema refuses: query parameter types and required ones, a JSON body "
        "that does not parse or is no object, a required top-level member missing or of the "
        "wrong type (a gateway in front of a correct service is legitimate)",
    JSON_NUMBERS_AS_STRINGS:
        "v1.1 JSON answers carry every number and flag as a string (\"code\": \"800\", "
        "\"is_redeemable\": \"true\"); v2 and goodwill codes too (DC-01)",
    JSON_SUCCESS_AS_BOOLEAN:
        "v1.1 JSON answers carry success as a JSON boolean, not \"true\"/\"false\" (DC-01)",
    ISREDEEMABLE_SAMPLE_NESTING:
        "isredeemable nests its answer as the samples do: "
        "response.responses.points.response.points.redeemable (DC-04)",
    IDS_ALPHANUMERIC:
        "redemption and reversal ids are alphanumeric strings (\"r1b\"), as in the samples; "
        "reverse takes them (DC-07)",
    V2_POINTS_AS_DECIMALS:
        "v2 answers write amounts of points as decimals (100.0), as the samples do (DC-08)",
    CODES_FRAUD_820:
        "isredeemable and redeem refuse a fraud customer with 820, the code's other listing, "
        "instead of 809 (DC-09)",
    V2_REFUSALS_AS_WARNINGS:
        "v2 codes 901-905 come in warnings[] (errors[] left empty), where the v2 table lists "
        "them (DC-13)",
    XML_ROOT_WRAPPER:
        "redeem's XML answers are wrapped in <root><response>, as its sample is (DC-15)",
    VALIDATIONCODE_COMMON_IDENTIFIERS:
        "validationcode takes only the identifiers both documents list (mobile, email, "
        "external_id); user_id, card_number and card_external_id are not read (DC-02)",
    VALIDATIONCODE_ANY_POINTS:
        "validationcode issues a code for any integer amount, 0 and negative ones too, as its "
        "sample does with -100 (DC-03)",
    REDEEM_ITEM_IDENTIFIER_ONLY:
        "redeem reads the customer's identifier at item level only (the table's placement), "
        "not inside customer{} (DC-05)",
    REDEEM_XML_SINGLE_ROOT:
        "an XML redeem request must be <root><redeem>; the sample's <root><root><redeem> is "
        "refused (DC-06)",
    GOODWILL_ONE_PATH:
        "the goodwill workflow is served only under /api_gateway/... (the URI row); the title "
        "line's /v2/api_gateway/... path is 404 (DC-10)",
    REDEEM_BALANCE_FIRST:
        "the balance rule (818) applies before the program's multiple, minimum and maximum "
        "(807, 821, 819) in isredeemable and redeem (DC-14)",
    REDEEM_TIME_COLON_ONLY:
        "redeem takes a redemption_time with colons only (HH:MM:SS, the samples' form); "
        "HH-MM-SS is refused with 859 (DC-18)",
})

# The variants variant_answers.VariantAnswers applies: it is installed when one of them is on.
ANSWER_REWRITES: frozenset[str] = frozenset({
    JSON_NUMBERS_AS_STRINGS, JSON_SUCCESS_AS_BOOLEAN, V2_POINTS_AS_DECIMALS,
    V2_REFUSALS_AS_WARNINGS, XML_ROOT_WRAPPER,
})


# Variants that contradict each other: one server cannot make both choices.
INCOMPATIBLE: dict[frozenset[str], str] = {
    frozenset({GATEWAY_VALIDATES_SCHEMA, IDS_ALPHANUMERIC}):
        "the gateway validates by the strict spec, which types redemption ids as integers",
}


def check_variants(variants: Iterable[str]) -> frozenset[str]:
    """The variants as a set; an unknown name (or two that contradict each other) is a
    ValueError naming them, and the known ones."""
    chosen = frozenset(variants)
    unknown = chosen - VARIANTS.keys()
    if unknown:
        raise ValueError(f"unknown variant(s) {', '.join(sorted(unknown))}; known: "
                         f"{', '.join(sorted(VARIANTS))}")
    for pair, why in INCOMPATIBLE.items():
        if pair <= chosen:
            raise ValueError(f"variants {' and '.join(sorted(pair))} cannot be combined: {why}")
    return chosen


def refusal_status(variants: frozenset[str]) -> int:
    """The HTTP status of a business refusal: 200, or 400 under http.4xx-refusals (DC-11)."""
    return 400 if HTTP_4XX_REFUSALS in variants else 200


# --- ids.alphanumeric (DC-07) ---------------------------------------------------------------
# The samples' ids are short alphanumeric strings; this server's are row numbers, written
# here as "r" and the number in base 36, which reverse reads back.
_DIGITS = "0123456789abcdefghijklmnopqrstuvwxyz"


def alphanumeric_id(number: int) -> str:
    digits = ""
    while True:
        number, rest = divmod(number, 36)
        digits = _DIGITS[rest] + digits
        if not number:
            return "r" + digits


def from_alphanumeric_id(value: object) -> int | None:
    """The row number an id of alphanumeric_id names; None for anything else."""
    if not isinstance(value, str) or not 2 <= len(value) <= 14 or value[0] != "r" or \
            value[1:].strip(_DIGITS) or (len(value) > 2 and value[1] == "0"):
        return None
    return int(value[1:], 36)
