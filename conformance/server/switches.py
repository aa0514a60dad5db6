"""Behavioural fault switches: deliberate bugs that are more than a rule left out.

Every rule of rules.py is a switch too (its name turns the rule off); the switches here change
how an operation behaves instead. Each turns on one bug and leaves everything else as
documented, so that a scenario run against a server with one switch on must report exactly
the requirements that bug breaks (conformance/run/fault_catalog.py lists them; tests/test_faults.py
proves it). With no switch on, none of this code path is taken.

Names are constants so that a typo in a handler is an ImportError, not a switch that silently
never fires.
"""

from __future__ import annotations

# --- redemption (v1.1) --------------------------------------------------------------------
# isredeemable answers "not redeemable" (818) where every rule passes.
ISREDEEMABLE_ALWAYS_REFUSE = "isredeemable.always-refuse"
# redeem takes twice the points from the balance and answers as if it took them once.
REDEEM_DEDUCTS_DOUBLE = "redeem.deducts-double"
# redeem checks the balance and the code, waits, then writes: concurrent redemptions overdraw.
REDEEM_RACE = "redeem.race"
# isredeemable and redeem refuse an unregistered customer as one holding no points (818).
REDEEM_UNKNOWN_AS_EMPTY = "redeem.unknown-as-empty"
# A successful redeem answer (800) calls its balance "current_balance" (JSON and XML).
REDEEM_RENAMES_BALANCE = "redeem.renames-balance"

# --- validation codes for redemptions (the OTP-* requirements) ----------------------------
# Transfer codes keep the documented behaviour under these: they have switches of their own.
OTP_NOT_ISSUED = "otp.not-issued"                        # validationcode says issued, is not
OTP_REGENERATE = "otp.regenerate"                        # a new code on every request
OTP_ANY_CODE = "otp.any-code"                            # any code passes while one is active
OTP_REUSABLE = "otp.reusable"                            # a code is never marked used
OTP_NO_EXPIRY = "otp.no-expiry"                          # a code never expires
OTP_ISREDEEMABLE_NO_ISSUE = "otp.isredeemable-no-issue"  # issue_otp=true issues nothing
OTP_NOT_REQUIRED = "otp.not-required"                    # redeem without a code succeeds

# --- reversal (v2) --------------------------------------------------------------------------
REVERSE_CREDITS_DOUBLE = "reverse.credits-double"            # gives back twice the points
REVERSE_UNKNOWN_AS_REVERSED = "reverse.unknown-as-reversed"  # unknown id: 812, not 902
REVERSE_NO_PARTIAL = "reverse.no-partial"                    # after a partial one, 812

# --- transfers (v2) -------------------------------------------------------------------------
TRANSFER_NO_OTP_ISSUED = "transfer.no-otp-issued"  # isTransferrable issueOtp issues nothing
TRANSFER_DEBIT_ONLY = "transfer.debit-only"        # the destination is never credited
TRANSFER_ANY_CODE = "transfer.any-code"            # the transfer code is not checked
TRANSFER_NO_HISTORY = "transfer.no-history"        # the history lists no transfer
GROUP_TRANSFER_NOOP = "group-transfer.noop"        # answers a transfer, moves nothing

# --- goodwill workflow ----------------------------------------------------------------------
GOODWILL_WRONG_STATE = "goodwill.wrong-state"            # a new request answers Approved
GOODWILL_NO_VALIDATION = "goodwill.no-validation"        # missing mandatory fields accepted
GOODWILL_CREDIT_PENDING = "goodwill.credit-pending"      # credited before approval
GOODWILL_NO_TOKEN_CHECK = "goodwill.no-token-check"      # UI token and org id not checked
GOODWILL_ECHO_CREDENTIALS = "goodwill.echo-credentials"  # echoed headers not redacted

# --- every operation ------------------------------------------------------------------------
# Invalid input answers 500 with a Python traceback in the message (the code stays).
ERRORS_STACK_TRACE = "errors.stack-trace"

# --- the contract (contract_faults.py: the answers are changed on their way out) ------------
CONTRACT_RENAMED_FIELD = "contract.renamed-field"    # v2 answers call errors[] "error"
CONTRACT_BROKEN_XML = "contract.broken-xml"          # XML answers lose their last end tag
CONTRACT_XML_DISAGREES = "contract.xml-disagrees"    # XML messages differ from the JSON ones
CONTRACT_ACCEPTS_INVALID = "contract.accepts-invalid"  # v2 invalid input answered as data
CONTRACT_UNDOCUMENTED_STATUS = "contract.undocumented-status"  # 400 becomes 422
CONTRACT_NO_AUTH = "contract.no-auth"                # credentials are not checked at all
CONTRACT_LINK_BREAKS = "contract.link-breaks"        # a code asked right after the check: broken
CONTRACT_ECHOES_AUTH = "contract.echoes-auth"        # every answer echoes the Authorization
CONTRACT: frozenset[str] = frozenset({
    CONTRACT_RENAMED_FIELD, CONTRACT_BROKEN_XML, CONTRACT_XML_DISAGREES,
    CONTRACT_ACCEPTS_INVALID, CONTRACT_UNDOCUMENTED_STATUS, CONTRACT_NO_AUTH,
    CONTRACT_LINK_BREAKS, CONTRACT_ECHOES_AUTH,
})

BEHAVIOURS: frozenset[str] = frozenset({
    ISREDEEMABLE_ALWAYS_REFUSE, REDEEM_DEDUCTS_DOUBLE, REDEEM_RACE, REDEEM_UNKNOWN_AS_EMPTY,
    REDEEM_RENAMES_BALANCE,
    OTP_NOT_ISSUED, OTP_REGENERATE, OTP_ANY_CODE, OTP_REUSABLE, OTP_NO_EXPIRY,
    OTP_ISREDEEMABLE_NO_ISSUE, OTP_NOT_REQUIRED,
    REVERSE_CREDITS_DOUBLE, REVERSE_UNKNOWN_AS_REVERSED, REVERSE_NO_PARTIAL,
    TRANSFER_NO_OTP_ISSUED, TRANSFER_DEBIT_ONLY, TRANSFER_ANY_CODE, TRANSFER_NO_HISTORY,
    GROUP_TRANSFER_NOOP,
    GOODWILL_WRONG_STATE, GOODWILL_NO_VALIDATION, GOODWILL_CREDIT_PENDING,
    GOODWILL_NO_TOKEN_CHECK, GOODWILL_ECHO_CREDENTIALS,
    ERRORS_STACK_TRACE,
}) | CONTRACT
