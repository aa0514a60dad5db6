"""What a run must report against each deliberate bug of the reference server.

The reference server (``points-conformance serve --fault NAME``, or
``conformance.server.run_in_thread(faults=(NAME,))``) has fault switches: every business rule
can be turned off by its name, a few switches change a behaviour instead, and the contract.*
switches break the contract itself (a field renamed, XML broken, credentials not checked …).
Each turns on one bug. ``CATALOG`` maps every switch to the suite that must notice it and the
requirement ids that must fail; that is how the suite proves it can fail:

- a business fault (suite ``scenarios``) is run as ``points-conformance run --suite scenarios
  --only <its ids>``: the scenarios of those ids must fail;
- a contract fault (suite ``contract``, ``fuzz`` or ``all``) is run as ``points-conformance run
  --suite <suite>`` over every operation, with no --only: the ids that fail must be exactly
  its ids, so a check that fires where it should not shows too. contract.link-breaks alone
  is run with ``--only CON-08``: the stateful phase is what must notice it.

tests/test_faults.py and `points-conformance selftest` run them all and check that the names
here are exactly the server's.

This module does not import the server, nor the server this module (ARCHITECTURE.md): the
names are the contract between them.

Some ids are listed under more than one fault where the rules are coupled: a balance check
left out or a double deduction also breaks RDM-12 (the balance goes negative, or drops by more
than the successful redemptions took), a double deduction also fails the OTP scenarios that
redeem with the code they obtained and check the balance drop (OTP-02, OTP-06), and a
reversal that credits twice also breaks REV-06. A contract fault can break two checks at once:
a v2 answer without errors[] no longer carries the refusal code that makes a refused invalid
request acceptable (CON-05), and an answer of empty data to invalid input is no documented
shape (CON-01). Every fault names at least one id: a fault no requirement could notice would
be "caught" by a run in which nothing fails, which proves nothing.

A fault runs against the reference server set up as its ``setup`` says: ``reference`` (the
reference seed and profile) or ``reversal-disabled`` (a program that disables reversals, the
only place REV-07 and its fault can be judged). run/selftest.py maps each setup to its seed
and profile under fixtures/.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Fault:
    """One fault switch of the reference server and the requirements it must make fail."""

    name: str
    ids: frozenset[str]
    description: str  # what the server does under the switch, in one line
    suite: str = "scenarios"  # the run that must notice it (`run --suite`)
    restricted: bool = True  # whether that run is `--only <its ids>`
    setup: str = "reference"  # the server's seed and the run's profile (SETUPS)

    @property
    def only(self) -> tuple[str, ...]:
        """The ``--only`` ids of its run (none: every requirement of the suite)."""
        return tuple(sorted(self.ids)) if self.restricted else ()


# The reference server's setups a fault can run against (run/selftest.py: seed and profile).
SETUPS = ("reference", "reversal-disabled")


def _fault(name: str, ids: str, description: str, suite: str = "scenarios",
           setup: str = "reference") -> Fault:
    # A contract fault's run covers every operation and check, unrestricted.
    return Fault(name, frozenset(ids.split()), description, suite, suite == "scenarios", setup)


CATALOG: tuple[Fault, ...] = (
    # --- redemption rules switched off ----------------------------------------------------
    _fault("redeem.enrolled", "RDM-08",
           "isredeemable and redeem accept a customer not enrolled in the loyalty program "
           "(no 686)"),
    _fault("redeem.fraud", "RDM-07",
           "isredeemable and redeem accept a customer marked as fraud (no 809)"),
    _fault("redeem.points-positive", "RDM-10",
           "0 and negative amounts are not refused as invalid (801); they fall through to the "
           "minimum rule (821)"),
    _fault("redeem.multiple", "RDM-03",
           "an amount that is not a multiple of points_multiple is redeemable (no 807)"),
    _fault("redeem.minimum", "RDM-04",
           "an amount below min_redeem is redeemable (no 821)"),
    _fault("redeem.maximum", "RDM-05",
           "an amount above max_redeem is redeemable (no 819)"),
    _fault("redeem.balance", "RDM-06 RDM-12",
           "an amount above the balance is redeemable (no 818): the balance goes negative"),
    _fault("redeem.time", "RDM-11",
           "a redemption_time in the documented shape but naming no real date is accepted "
           "(no 859); one not in the shape at all is still refused"),
    # --- redemption behaviours ------------------------------------------------------------
    _fault("isredeemable.always-refuse", "RDM-01 OTP-06",
           "isredeemable answers not redeemable (818) where every rule passes, and so issues "
           "no code for issue_otp=true; redeem is unaffected"),
    _fault("redeem.deducts-double", "RDM-02 RDM-12 OTP-02 OTP-06",
           "redeem takes twice the points from the balance and answers as if it took them "
           "once (points_redeemed is the amount asked)"),
    _fault("redeem.race", "RDM-12",
           "redeem checks the balance and the code, waits 0.25 s, then writes without "
           "checking again: concurrent redemptions overdraw and share one code"),
    _fault("redeem.unknown-as-empty", "RDM-09",
           "isredeemable and redeem refuse an unregistered customer as one holding no points "
           "(818) instead of 816; validationcode still answers 816"),
    _fault("redeem.renames-balance", "CON-01",
           "a successful redeem answer (item_status 800) calls its balance \"current_balance\", "
           "in JSON and XML: the balance the schema requires of a redemption is missing",
           suite="all"),
    # --- validation codes (redeem) ----------------------------------------------------------
    _fault("otp.not-issued", "OTP-01",
           "validationcode answers success (200) but issues no code"),
    _fault("otp.regenerate", "OTP-02",
           "every validationcode (or issue_otp) issues a new code, replacing the one still "
           "valid"),
    _fault("otp.any-code", "OTP-03",
           "redeem accepts any code while the customer has an active one (used or expired "
           "codes are still refused)"),
    _fault("otp.reusable", "OTP-04",
           "a code is never marked used: it redeems again until it expires"),
    _fault("otp.no-expiry", "OTP-05",
           "codes never expire: an old code still redeems and validationcode keeps sending it"),
    _fault("otp.isredeemable-no-issue", "OTP-06",
           "isredeemable with issue_otp=true answers redeemable and 'validation code issued' "
           "but issues none"),
    _fault("otp.not-required", "OTP-07",
           "redeem without validation_code succeeds as if validation were skipped; a code "
           "that is sent is still checked"),
    # --- reversal ---------------------------------------------------------------------------
    _fault("reverse.enabled", "REV-07",
           "reversals are allowed when program.reversal_enabled is false (no 905): run on a "
           "program that disables them", setup="reversal-disabled"),
    _fault("reverse.owner", "REV-05",
           "an identifier that does not own the redemption can reverse it (no 904)"),
    _fault("reverse.not-reversed", "REV-02",
           "a fully reversed redemption is not refused as already reversed (812); a second "
           "reversal gets 810 (more than remains) instead"),
    _fault("reverse.within-remaining", "REV-03",
           "a reversal of more than the redemption has left is accepted (no 810) and gives "
           "back the points asked"),
    _fault("reverse.credits-double", "REV-01 REV-06",
           "a reversal gives back twice the points it reports (pointsReversed is the amount "
           "asked)"),
    _fault("reverse.unknown-as-reversed", "REV-04",
           "an unknown redemption id is refused as already reversed (812) instead of 902; a "
           "malformed one still gets 901"),
    _fault("reverse.no-partial", "REV-06",
           "once part of a redemption is reversed, the remainder is refused as already "
           "reversed (812)"),
    # --- transfer rules switched off ----------------------------------------------------------
    _fault("transfer.same-party", "TRF-04",
           "a transfer to oneself is allowed (no 418); it moves nothing"),
    _fault("transfer.source-fraud", "TRF-05",
           "a customer marked as fraud can send points (no 415)"),
    _fault("transfer.destination-fraud", "TRF-05",
           "a customer marked as fraud can receive points (no 414)"),
    _fault("transfer.actor", "TRF-12",
           "a customer outside the source group can move the group's points (no 904)"),
    _fault("transfer.enrolled", "TRF-09",
           "a customer not enrolled in the loyalty program can send points (no 686)"),
    _fault("transfer.points-positive", "TRF-10",
           "a transfer of 0 or negative points is not refused as invalid (801): 0 passes every "
           "check and makes a transfer of nothing, a negative amount fails the database"),
    _fault("transfer.multiple", "TRF-11",
           "a customer transfer of an amount that is not a multiple of points_multiple is "
           "allowed (no 807)"),
    _fault("transfer.minimum", "TRF-11",
           "a customer transfer of less than min_redeem is allowed (no 821)"),
    _fault("transfer.maximum", "TRF-11",
           "a customer transfer of more than max_redeem is allowed (no 819)"),
    _fault("transfer.balance", "TRF-06",
           "a transfer of more than the source holds is allowed (no 818)"),
    # --- transfer behaviours --------------------------------------------------------------------
    _fault("transfer.no-otp-issued", "TRF-01",
           "isTransferrable with issueOtp true answers transferrable but issues no code"),
    _fault("transfer.debit-only", "TRF-02",
           "a customer transfer takes the points from the source and credits no one"),
    _fault("transfer.any-code", "TRF-03",
           "a customer transfer accepts any code (an active one is still used up)"),
    _fault("transfer.no-history", "TRF-07",
           "the transfer history answers an empty list for every known customer or group"),
    _fault("group-transfer.noop", "TRF-08",
           "userGroup2/transfer answers a transfer record but moves no points"),
    # --- goodwill workflow ------------------------------------------------------------------------
    _fault("goodwill.wrong-state", "GW-01",
           "a new goodwill request is answered with state Approved instead of AdminTask "
           "(nothing is credited)"),
    _fault("goodwill.no-validation", "GW-02",
           "a goodwill request missing mandatory fields (or with them empty) is accepted as "
           "pending; fields that are present are still type-checked"),
    _fault("goodwill.credit-pending", "GW-03",
           "a goodwill request credits its points at once, while it is still pending"),
    _fault("goodwill.no-token-check", "GW-04",
           "the goodwill workflow checks only the Basic credentials, not the UI token or org "
           "id"),
    _fault("goodwill.echo-credentials", "SEC-01",
           "the goodwill task's headers are echoed unredacted: the Authorization value comes "
           "back in details"),
    # --- every operation --------------------------------------------------------------------------
    _fault("errors.stack-trace", "CON-04 CON-06 SEC-02",
           "input the spec refuses answers HTTP 500 (undocumented) with the Python traceback "
           "appended to the message; the refusal code stays", suite="all"),
    # --- the contract: the fuzzing phases must notice these ---------------------------------------
    _fault("contract.renamed-field", "CON-01 CON-05",
           "v2 answers call errors[] \"error\": a refusal is no documented shape, and an invalid "
           "request's refusal code is no longer where the spec puts it", suite="contract"),
    _fault("contract.broken-xml", "CON-02",
           "every XML answer loses its last end tag: it is not well-formed", suite="contract"),
    _fault("contract.xml-disagrees", "CON-03",
           "XML answers prefix every message with 'XML: ' (still valid against the XSD), so the "
           "same call in JSON and XML carries different values", suite="contract"),
    _fault("contract.accepts-invalid", "CON-01 CON-05",
           "v2 input the spec refuses is answered 200 with empty data and no errors",
           suite="contract"),
    _fault("contract.undocumented-status", "CON-06",
           "every 400 answer comes with HTTP 422, a status no operation documents",
           suite="contract"),
    _fault("contract.no-auth", "CON-07",
           "credentials are not checked: a request without them, or with wrong ones, is "
           "answered as if they were right", suite="contract"),
    Fault("contract.link-breaks", frozenset({"CON-08"}),
          "validationcode asked for the points isredeemable was just asked about (the spec's "
          "link) answers a body that is no v1.1 envelope; its run selects CON-08 alone, as "
          "unrelated calls for the same points would break too", suite="fuzz", restricted=True),
    _fault("contract.echoes-auth", "SEC-01",
           "every answer echoes the request's Authorization value in an X-Echo-Authorization "
           "header", suite="contract"),
)

FAULT_EXPECTATIONS: dict[str, frozenset[str]] = {fault.name: fault.ids for fault in CATALOG}

# The reference server's legitimate variants (``serve --variant NAME``), in the groups the
# self-test runs together: a server making several legitimate choices at once is itself a
# legitimate server, so each group's run must be judged conformant like each variant's would.
# A group that is not is run again one variant at a time, which names the variant at fault.
# Variants that answer the same situation differently are kept apart, so that none hides
# another: the two spellings of JSON values (numbers as strings, success as a boolean), the
# two places of a refusal (HTTP 400, v2 warnings[]), and the schema-validating gateway, which
# answers invalid requests before the server's own rules (a negative amount, an unparseable
# time) are reached. `selftest --variants-apart` runs every variant alone.
VARIANT_GROUPS: tuple[tuple[str, ...], ...] = (
    ("json.numbers-as-strings", "isredeemable.sample-nesting", "v2.points-as-decimals",
     "xml.root-wrapper", "ids.alphanumeric", "http.501-unknown-method"),
    ("http.4xx-refusals", "codes.fraud-820", "redeem.balance-first", "redeem.time-colon-only",
     "validationcode.any-points", "goodwill.one-path"),
    ("gateway.validates-schema", "json.success-as-boolean", "v2.refusals-as-warnings",
     "validationcode.common-identifiers", "redeem.item-identifier-only",
     "redeem.xml-single-root"),
)


def faults_for(req_id: str) -> list[Fault]:
    """The faults whose scenario run must fail ``req_id``."""
    return [fault for fault in CATALOG if req_id in fault.ids]
