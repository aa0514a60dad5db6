"""`points-conformance replay`: send a report's failing calls again and judge the new answers.

What is replayed: every exchange of results.json that decided a failure — a scenario's answer
marked ``decisive`` with ``decided`` next to it (the rule that judged it: the codes it had to
carry), a scenario's answer the JSON Schema or XSD judge refused (marked the same way), and every
fuzz failure's exchange (with the check that failed). A decisive answer without ``decided`` was
judged by a rule of its scenario's own and is reported CHANGED, not replayable. The exchange is
taken from exchanges.ndjson by its id where the run logged it (fuzzed calls are not logged:
results.json carries them), and sent again through the suite's client, so the mutation guard,
the body cap and the redaction apply as in a run.

Credentials are never in a report: the recorded Authorization and goodwill headers, and those
the profile's target.headers name, are dropped and the profile's are applied (with its rate
limit, proxy and TLS settings, as the client applies them in a run). A redemption the scenarios
sent with a one-time validation code cannot be sent again as it was (the code is spent or
expired): replay asks the target for a new code and reads it through the profile's OTP source,
as the scenarios do; without one the exchange is reported CHANGED (not replayable) with the
reason. Nothing is reported FIXED that was not judged again by the rule that failed it.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import requests

from conformance.checks import judge
from conformance.report.exchange_log import FILE_NAME as EXCHANGES_FILE
from conformance.specs import catalog, openapi
from conformance.suite.steps import common
from conformance.target import bodies, hooks, spending
from conformance.target.client import (
    ClientError,
    MutationRefused,
    TargetClient,
    is_state_changing,
)
from conformance.target.profile import Identifier, Profile, ProfileError, load_profile
from conformance.target.redaction import MASK, REDACTOR

FIXED, STILL_FAILING, CHANGED = "FIXED", "STILL FAILING", "CHANGED"
RESULTS_FILE = "results.json"
REDEEM_PATH = "/v1.1/points/redeem"
INVALID_REQUEST_CHECK = "schema_invalid_request_refused"
# Headers the transport sets itself, or that carry credentials the profile applies again.
_DROPPED_HEADERS = {"authorization", "cookie", "proxy-authorization", "host", "content-length",
                    "connection", "keep-alive", "transfer-encoding", "accept-encoding",
                    "user-agent", "x-schemathesis-testcaseid",
                    "x-cap-api-auth-org-id", "x-cap-ui-auth-token"}


class ReplayError(Exception):
    """Bad input (the report folder, --only, the profile): one line, exit 2."""


@dataclass(frozen=True)
class Item:
    """One exchange to send again, with the requirement it failed and the rule that judged it."""

    req_id: str
    check: str  # the check's name (fuzz, judge) or the scenarios' rule (common.REFUSED)
    exchange: dict[str, Any] | None
    decided: dict[str, Any] = field(default_factory=dict)
    message: str = ""
    # scenario | fuzz | nothing (a failure no exchange decided) | unjudged (a decisive exchange
    # whose check is the scenario's own: no ``decided``)
    source: str = "scenario"


@dataclass(frozen=True)
class Outcome:
    item: Item
    verdict: str  # FIXED, STILL FAILING or CHANGED
    detail: str

    def line(self) -> str:
        exchange = self.item.exchange or {}
        what = f"{exchange.get('method', '')} {_path_of(exchange.get('url', ''))}".strip()
        return REDACTOR.text(f"{self.verdict:<13}  {self.item.req_id}  {what or '(no exchange)'}"
                             f"  [{self.item.check}]  {self.detail}") or ""


@dataclass(frozen=True)
class Report:
    """What replay needs from a report folder."""

    target: str
    strict: bool
    items: list[Item]
    profile_path: Path | None


# --- reading the report -----------------------------------------------------------------------

def load(report_dir: Path, only: Sequence[str] = ()) -> Report:
    """The report's failing exchanges (narrowed to ``only``), or ReplayError."""
    results_path = Path(report_dir) / RESULTS_FILE
    if not Path(report_dir).is_dir():
        raise ReplayError(f"REPORT_DIR {report_dir}: not a directory")
    if not results_path.is_file():
        raise ReplayError(f"REPORT_DIR {report_dir}: no {RESULTS_FILE} (not a run's report)")
    try:
        data = json.loads(results_path.read_text(encoding="utf-8"))
        target = str(data["target"])
        rows = list(data["requirements"])
    except (ValueError, KeyError, TypeError) as exc:
        raise ReplayError(f"REPORT_DIR {report_dir}: {RESULTS_FILE} is not a run's results "
                          f"({type(exc).__name__})") from None
    logged = _logged_exchanges(Path(report_dir) / EXCHANGES_FILE)
    failing = [row for row in rows if row.get("status") == "failed"]
    fuzz = [f for f in (data.get("fuzz") or {}).get("failures", []) if isinstance(f, dict)]
    known = {r.id for r in catalog.requirements()}
    failing_ids = {row["id"] for row in failing}
    for req_id in only:
        if req_id not in known:
            raise ReplayError(f"--only {req_id}: not a requirement id of the catalog")
        if req_id not in failing_ids:
            raise ReplayError(f"--only {req_id}: not a failure of this report (it has "
                              f"{', '.join(sorted(failing_ids)) or 'none'})")
    wanted = set(only) or failing_ids
    items: list[Item] = []
    for row in failing:
        if row["id"] not in wanted:
            continue
        found = [_scenario_item(row["id"], item, logged) for item in row.get("evidence", [])
                 if isinstance(item, dict) and item.get("decisive")]
        found += [_fuzz_item(f) for f in fuzz if f.get("id") == row["id"]]
        if not found:
            found = [Item(row["id"], "-", None, message=str(row.get("reason", "")),
                          source="nothing")]
        items += found
    profile = ((data.get("fingerprint") or {}).get("profile") or {}).get("path")
    return Report(target=target, strict=bool(data.get("strict")), items=items,
                  profile_path=Path(profile) if profile else None)


def _logged_exchanges(path: Path) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    if not path.is_file():
        return found
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            exchange = json.loads(line)
        except ValueError:
            continue  # a line cut short by an aborted run
        if isinstance(exchange, dict) and exchange.get("id"):
            found[exchange["id"]] = exchange
    return found


def _scenario_item(req_id: str, evidence: dict[str, Any],
                   logged: dict[str, dict[str, Any]]) -> Item:
    """A decisive exchange; without ``decided`` it was judged by a rule replay cannot apply."""
    exchange = logged.get(str(evidence.get("id")), evidence)
    decided = evidence.get("decided")
    if not isinstance(decided, dict):
        return Item(req_id, "-", exchange, source="unjudged")
    return Item(req_id, str(decided.get("check", "")), exchange, dict(decided),
                str(decided.get("message", "")), "scenario")


def _fuzz_item(failure: dict[str, Any]) -> Item:
    return Item(str(failure["id"]), str(failure.get("check", "")), failure.get("exchange"),
                message=str(failure.get("message", "")), source="fuzz")


# --- replaying --------------------------------------------------------------------------------

def choose_profile(report: Report, given: Path | None) -> Path:
    """--profile, else the profile the run used (when it still exists)."""
    if given is not None:
        if not given.is_file():
            raise ReplayError(f"--profile {given}: no such file")
        return given
    if report.profile_path is not None and report.profile_path.is_file():
        return report.profile_path
    raise ReplayError("--profile: needed to send credentials again (a report stores none), and "
                      "the run's own profile is not at hand")


def replay(report: Report, profile: Profile, *, allow_mutations: bool = False,
           progress: Callable[[str], None] | None = None) -> tuple[list[Outcome], list[str]]:
    """Send every item again and judge the answers; also the redemptions left in place."""
    client = TargetClient(profile, allow_mutations=allow_mutations)
    undo = spending.UndoLog()
    context = _Context(report, profile, client, undo, judge.Judge(strict=report.strict))
    outcomes = []
    for item in report.items:
        gone = client.gone
        # A target that stopped answering is not waited for again by every call left.
        outcome = Outcome(item, CHANGED, f"not sent: the target stopped answering ({gone})") \
            if gone is not None else context.replay(item)
        outcomes.append(outcome)
        if progress is not None:
            progress(outcome.line())
    return outcomes, undo.undo_all(client)


def exit_code(outcomes: Iterable[Outcome]) -> int:
    """0 when every replayed exchange is fixed (a report without failures has none), else 1."""
    return 0 if all(o.verdict == FIXED for o in outcomes) else 1


def summary(outcomes: Sequence[Outcome]) -> str:
    counts = {verdict: sum(1 for o in outcomes if o.verdict == verdict)
              for verdict in (FIXED, STILL_FAILING, CHANGED)}
    return (f"replayed {len(outcomes)}: {counts[FIXED]} fixed, {counts[STILL_FAILING]} still "
            f"failing, {counts[CHANGED]} changed")


class _Context:
    def __init__(self, report: Report, profile: Profile, client: TargetClient,
                 undo: spending.UndoLog, judged: judge.Judge) -> None:
        self.report, self.profile, self.client, self.undo, self.judge = (
            report, profile, client, undo, judged)
        self._otp: hooks.OtpSource | None = None

    def replay(self, item: Item) -> Outcome:
        if item.exchange is None:
            why = ("no exchange decided this failure (it was judged on balances or a step "
                   "before the answer), so there is no call to send again" if
                   item.source == "nothing" else "the run recorded no exchange for it")
            return Outcome(item, CHANGED, f"not replayable: {why}")
        if item.source == "unjudged":
            return Outcome(item, CHANGED, "not replayable: the scenario judged this answer by a "
                                          "rule of its own, which replay cannot apply to a new "
                                          "answer; run the scenario again (run --only)")
        try:
            request = self._request(item)
        except _NotSent as exc:
            return Outcome(item, CHANGED, f"not sent: {exc}")
        except _NotReplayable as exc:
            return Outcome(item, CHANGED, f"not replayable: {exc}")
        try:
            response = self.client.request(request.method, request.path, data=request.body,
                                           headers=request.headers, auth=request.auth,
                                           goodwill=request.goodwill,
                                           note=f"replay of {item.req_id} [{item.check}]")
        except MutationRefused as exc:
            return Outcome(item, CHANGED, f"not sent: {exc}")
        except ClientError as exc:
            return Outcome(item, CHANGED, f"no usable answer: {exc}")
        self._book(request, response)
        extra = " (with a fresh validation code)" if request.fresh_code else ""
        verdict, detail = self._judge(item, request, response)
        return Outcome(item, verdict, detail + extra)

    # --- the request ------------------------------------------------------------------------

    def _request(self, item: Item) -> _Request:
        exchange = item.exchange or {}
        method = str(exchange.get("method", "GET")).upper()
        url = str(exchange.get("url", ""))
        path = _below(url, self.report.target)
        if path is None:
            raise _NotReplayable(f"{url} is not on the report's target {self.report.target}")
        if MASK in path:
            raise _NotReplayable("the recorded URL has a redacted value")
        recorded = {str(k): str(v) for k, v in (exchange.get("request_headers") or {}).items()}
        lowered = {k.lower() for k in recorded}
        # The profile's target.headers are sent again by the client, with their real values.
        own = {name.lower() for name in self.profile.connection.headers}
        headers = {k: v for k, v in recorded.items()
                   if k.lower() not in _DROPPED_HEADERS and k.lower() not in own}
        masked = sorted(name for name, value in headers.items() if MASK in value)
        if masked:
            raise _NotReplayable(f"the recorded value of {', '.join(masked)} is redacted and "
                                 f"the profile's target.headers do not set it")
        body = exchange.get("request_body")
        if isinstance(body, str) and MASK in body:
            raise _NotReplayable("the recorded body has a redacted value")
        if isinstance(body, str) and "more characters not kept]" in body:
            raise _NotReplayable("the recorded body was clipped")
        if not self.client.mutations_allowed and is_state_changing(
                method, self.client.url(path), urlsplit(self.profile.base_url).path.rstrip("/")):
            # Before a fresh code is asked for: nothing at all goes to such a target.
            raise _NotSent(f"{method} {urlsplit(path).path} may change data on a target "
                           f"outside loopback; pass --allow-mutations to send it")
        # The fuzzer sends the goodwill headers on every call, empty when the profile has none.
        goodwill = "x-cap-ui-auth-token" in lowered
        if goodwill and not (self.profile.auth.org_id and self.profile.auth.ui_token):
            if "goodwill" in path.lower():
                raise _NotReplayable("the call needs auth.org_id and auth.ui_token, which the "
                                     "profile does not set")
            goodwill = False
        request = _Request(method, path, headers, body.encode() if isinstance(body, str)
                           else None, auth="authorization" in lowered, goodwill=goodwill)
        if item.source == "scenario" and method == "POST" and \
                urlsplit(path).path.rstrip("/") == REDEEM_PATH:
            self._validation_code(request, item.decided.get("validation_code"), item.check)
        return request

    def _validation_code(self, request: _Request, kind: str | None, check: str) -> None:
        """A scenario's redemption carried a one-time code: get a new one, or say why not."""
        try:
            payload = json.loads(request.body or b"")
            entry = payload["root"]["redeem"][0]
        except (ValueError, KeyError, IndexError, TypeError):
            return
        if not isinstance(entry, dict) or "validation_code" not in entry \
                or kind == common.CODE_AS_SENT:
            return  # no code, or one no issuance made valid: the call is sent as it was
        if kind is None and check in (judge.SCHEMA_CHECK, judge.XSD_CHECK):
            # An answer the document judge refused: a new code gets the same kind of answer
            # only if the first code was good; the judging says FIXED only when the business
            # code came back the same (``same_answer``).
            request.same_answer = True
        elif kind != common.CODE_FRESH:
            raise _NotReplayable("the answer depended on validation codes issued, used or "
                                 "left to expire earlier in the scenario; run the scenario "
                                 "again (run --only)")
        customer = entry.get("customer") or {}
        ident = next((i for i in self.profile.customers.values()
                      if customer.get(i.key) == i.value), None)
        if ident is None:
            raise _NotReplayable("it needs a fresh validation code, and the customer is not "
                                 "one of the profile's")
        source = self._otp_source()
        if source.unavailable_reason is not None:
            raise _NotReplayable(f"it needs a fresh validation code: "
                                 f"{source.unavailable_reason}")
        try:
            self.client.request("GET", "/v1.1/points/validationcode",
                                params={ident.key: ident.value,
                                        "points": entry.get("points_redeemed"),
                                        "format": "json"},
                                note="replay: issue a fresh validation code")
            code = source.get(ident, "redeem")
        except (ClientError, hooks.HookError) as exc:
            raise _NotReplayable(f"no fresh validation code: {exc}") from None
        if not code:
            raise _NotReplayable("the OTP source gave no fresh validation code")
        entry["validation_code"] = code
        entry["transaction_number"] = f"pc-{uuid.uuid4().hex[:12]}"
        request.body = json.dumps(payload).encode()
        request.fresh_code = True
        request.identifier = ident

    def _otp_source(self) -> hooks.OtpSource:
        if self._otp is None:
            self._otp = hooks.OtpSource(self.profile, self.client)
        return self._otp

    def _book(self, request: _Request, response: requests.Response) -> None:
        """A redemption the replay made is reversed at the end, as the run's undo log does."""
        if request.identifier is None:
            return
        body = _body(response)
        block = bodies.redeemed_block(body) or {}
        if bodies.v11_code(body) == 800 and block.get("redemption_id") not in (None, ""):
            redemption = block["redemption_id"]
            points = bodies.as_int(block.get("points_redeemed")) or 0
            self.undo.redeemed(bodies.as_int(redemption) or redemption, request.identifier,
                               points)

    # --- judging ----------------------------------------------------------------------------

    def _judge(self, item: Item, request: _Request,
               response: requests.Response) -> tuple[str, str]:
        spec_path = urlsplit(request.path).path
        if item.check == common.REFUSED:
            return self._judge_refusal(item, spec_path, response)
        if item.check in (judge.SCHEMA_CHECK, judge.XSD_CHECK):
            if request.same_answer:
                was = _answer(spec_path, (item.exchange or {}).get("status") or 0,
                              _recorded_body(item.exchange or {}))
                now = _answer(spec_path, response.status_code, _body(response))
                if was.codes != now.codes:
                    return CHANGED, (f"not judged the same way: the new code brought another "
                                     f"answer (was {common.received(was)}, now "
                                     f"{common.received(now)})")
            return self._judge_document(item, request.method, spec_path, response)
        if item.check == INVALID_REQUEST_CHECK:
            return self._judge_invalid_request(item, response)
        return self._judge_fuzz_check(item, request, response)

    def _judge_invalid_request(self, item: Item,
                               response: requests.Response) -> tuple[str, str]:
        """CON-05 again: the request the generator made schema-invalid is still the same bytes.

        schemathesis judges it only with the generator's notes on the case, which a report
        does not keep; the rule itself is simple: a 4xx, or a documented refusal code.
        """
        from conformance.checks import contract

        status = response.status_code
        code = contract.body_refusal_code(response)
        if 400 <= status < 500 or (status < 500 and code is not None):
            how = f"HTTP {status}" + (f", code {code}" if code is not None else "")
            return FIXED, f"the schema-invalid request is refused: {how}"
        was = (item.exchange or {}).get("status")
        if was == status:
            return STILL_FAILING, f"the schema-invalid request is again accepted: HTTP {status}"
        return CHANGED, f"the schema-invalid request is not refused: was HTTP {was}, now {status}"

    def _judge_refusal(self, item: Item, spec_path: str,
                       response: requests.Response) -> tuple[str, str]:
        decided = item.decided
        accepted = [int(c) for c in decided.get("accepted", [])]
        answer = _answer(spec_path, response.status_code, _body(response))
        refused = common.refused_with_code(answer, accepted,
                                           http_4xx=bool(decided.get("http_4xx")))
        flag = bodies.as_bool((bodies.redeemable_block(answer.body) or {}).get("is_redeemable"))
        ok = refused and not (decided.get("not_redeemable") and flag is True)
        wanted = " or ".join(str(c) for c in accepted) or "a documented refusal"
        now = common.received(answer) + (f", is_redeemable {flag}" if flag is not None else "")
        if ok:
            return FIXED, f"refused with {wanted}: {now}"
        exchange = item.exchange or {}
        before = _answer(spec_path, exchange.get("status") or 0,
                         _recorded_body(exchange))
        if (before.status, before.codes) == (answer.status, answer.codes):
            return STILL_FAILING, f"expected a refusal with {wanted}, again {now}"
        return CHANGED, (f"expected a refusal with {wanted}: was {common.received(before)}, "
                         f"now {now}")

    def _judge_document(self, item: Item, method: str, spec_path: str,
                        response: requests.Response) -> tuple[str, str]:
        if self.judge.operation_id(method, spec_path) is None:
            return CHANGED, "not judged: no documented operation at this path"
        problems = [p for p in self.judge.problems(method, spec_path, response)
                    if p.check == item.check]
        if not problems:
            return FIXED, f"HTTP {response.status_code}: conforms"
        return self._still_or_changed(item, problems[0].message)

    def _judge_fuzz_check(self, item: Item, request: _Request,
                          response: requests.Response) -> tuple[str, str]:
        from schemathesis.checks import CHECKS, CheckContext, load_all_checks
        from schemathesis.core.transport import Response

        try:
            operation = self._schema[urlsplit(request.path).path][request.method]
            load_all_checks()  # the built-in checks register themselves only when asked
            check = CHECKS.get_by_names([item.check])[0]
        except Exception as exc:  # an unknown check or operation: schemathesis's own errors
            return CHANGED, f"not judged: {item.check} cannot be applied here " \
                            f"({type(exc).__name__})"
        case = _case(operation, request)
        ctx = CheckContext(override=None, auth=(self.profile.auth.username,
                                                self.profile.auth.basic_password),
                           headers=None, config=operation.schema.config.checks_config_for(
                               operation=operation, phase=None),
                           transport_kwargs={"base_url": self.profile.base_url,
                                             "auth": (self.profile.auth.username,
                                                      self.profile.auth.basic_password),
                                             "timeout": self.profile.timeout_s},
                           response_checks=None)
        try:
            verdict = check(ctx, Response.from_requests(response, verify=True), case)
        except (AssertionError, Exception) as exc:  # schemathesis's Failure types
            if not isinstance(exc, AssertionError) and not hasattr(exc, "title"):
                return CHANGED, f"not judged: {item.check} raised {type(exc).__name__}"
            title = getattr(exc, "title", None) or "failed"
            message = getattr(exc, "message", None) or str(exc)
            text = f"{title}: {message}" if hasattr(exc, "title") else str(exc)
            return self._still_or_changed(item, REDACTOR.text(text) or "")
        if verdict is True:
            return CHANGED, f"not judged: {item.check} does not apply to the new answer " \
                            f"(HTTP {response.status_code})"
        return FIXED, f"HTTP {response.status_code}: {item.check} passes"

    @cached_property
    def _schema(self):
        """The combined document as the fuzzer reads it (its checks read ``x-strict``)."""
        import schemathesis

        from conformance.checks import contract  # noqa: F401  (registers our checks)

        document = openapi.load_combined(strict=self.report.strict)
        document["info"]["x-strict"] = self.report.strict
        return schemathesis.openapi.from_dict(document)

    def _still_or_changed(self, item: Item, message: str) -> tuple[str, str]:
        first = message.strip().splitlines()[0] if message.strip() else ""
        was = item.message.strip().splitlines()[0] if item.message.strip() else ""
        if first and first in item.message or (was and was == first):
            return STILL_FAILING, first
        return CHANGED, f"fails differently: {first} (was: {was})"


@dataclass
class _Request:
    method: str
    path: str  # below the base URL, query included
    headers: dict[str, str]
    body: bytes | None
    auth: bool
    goodwill: bool
    fresh_code: bool = False
    identifier: Identifier | None = None
    same_answer: bool = False  # FIXED only if the business code is the one recorded


class _NotReplayable(Exception):
    pass


class _NotSent(Exception):
    pass


def _below(url: str, target: str) -> str | None:
    """``url``'s path and query below the report's target, or None when it is elsewhere."""
    target = target.rstrip("/")
    if url == target:
        return "/"
    if url.startswith(target + "/") or url.startswith(target + "?"):
        return url[len(target):]
    return None


def _path_of(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


_body = judge.body_of


def _recorded_body(exchange: dict[str, Any]) -> Any:
    text = exchange.get("response_body") or ""
    media = judge.media_type(exchange.get("response_headers") or {})
    if media.endswith("xml"):
        return bodies.parse_xml(text.encode())
    try:
        return json.loads(text)
    except ValueError:
        return None


def _answer(spec_path: str, status: int, body: Any) -> common.Answer:
    if spec_path.startswith("/v1.1/"):
        code = bodies.v11_code(body)
        return common.Answer(status, body, [] if code is None else [code])
    return common.Answer(status, body, bodies.v2_codes(body))


def _case(operation, request: _Request):
    """A schemathesis case that says what the replayed request sent."""
    parts = urlsplit(request.path)
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    media = next((v for k, v in request.headers.items() if k.lower() == "content-type"), None)
    kwargs: dict[str, Any] = {"query": query or None,
                              "headers": dict(request.headers) or None}
    if request.body is not None:
        try:
            kwargs["body"] = json.loads(request.body)
        except ValueError:
            kwargs["body"] = request.body.decode("utf-8", "replace")
        if media:
            kwargs["media_type"] = media.split(";")[0].strip()
    return operation.Case(**kwargs)


def load_target_profile(path: Path, base_url: str) -> Profile:
    """The profile, aimed at ``base_url``; ReplayError names the key a problem is in."""
    try:
        return load_profile(path, base_url=base_url)
    except ProfileError as exc:
        raise ReplayError(str(exc)) from None
