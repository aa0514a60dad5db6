"""One place that judges an answer against the specs, for the fuzzer's calls and the scenarios'.

The fuzzer rarely reaches a success path (a redemption needs a valid code); the scenarios
reach them on every run. Both paths hand their answers here: the JSON Schema of the
operation's documented status and media type (schemathesis's own validation, CON-01) and, for
a v1.1 XML answer, well-formedness and the XSD (CON-02).
"""

from __future__ import annotations

import threading
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from functools import cache, cached_property
from typing import Any

import requests
import schemathesis
from schemathesis.core.failures import FailureGroup
from schemathesis.core.transport import Response

from conformance.specs import openapi, xsd
from conformance.target import bodies

# The v1.1 operations whose answers may be XML (format=xml), judged by the XSD.
XML_OPERATIONS = frozenset({"isRedeemable", "issueValidationCode", "redeemPoints"})
SCHEMA_CHECK, XSD_CHECK = "response_schema_conformance", "xml_valid_against_xsd"
CHECK_IDS = {SCHEMA_CHECK: "CON-01", XSD_CHECK: "CON-02"}


@dataclass(frozen=True)
class Problem:
    check: str  # SCHEMA_CHECK or XSD_CHECK
    message: str

    @property
    def req_id(self) -> str:
        return CHECK_IDS[self.check]


def media_type(headers) -> str:
    """The answer's media type, lower case, without parameters."""
    value = headers.get("content-type") or headers.get("Content-Type") or ""
    if isinstance(value, list):
        value = value[0] if value else ""
    return value.split(";")[0].strip().lower()


def body_of(response) -> Any:
    """The body of a JSON answer, or of a v1.1 XML answer in its JSON shape (format=xml);
    None when it is neither."""
    if media_type(response.headers).endswith("xml"):
        return bodies.parse_xml(response.content)
    try:
        return response.json()
    except ValueError:
        return None


@cache
def _xsd_for(operation_id: str, strict: bool):
    return xsd.load(xsd.XsdTarget(operation_id, "response", strict))


_XSD_LOCK = threading.Lock()


def xsd_problem(operation_id: str, strict: bool, status: int, media: str,
                content: bytes) -> str | None:
    """Why a v1.1 XML answer breaks the XSD, or None (also when the XSD does not apply)."""
    if operation_id not in XML_OPERATIONS or media not in ("application/xml", "text/xml"):
        return None
    if status not in (200, 400):
        return None  # the XSD describes the documented answers only
    try:
        ET.fromstring(content)
    except ET.ParseError as exc:
        return f"XML response is not well-formed: {exc}"
    with _XSD_LOCK:  # xmlschema's validators are not documented as thread-safe
        errors = list(_xsd_for(operation_id, strict).iter_errors(
            content.decode("utf-8", "replace")))
    if errors:
        first = errors[0]
        return f"XML response is not valid against the XSD at {first.path}: {first.reason}"
    return None


def schema_problems(operation, response: Response, case=None) -> list[str]:
    """Why a JSON answer breaks its documented schema (schemathesis's validation), if it does."""
    try:
        operation.validate_response(response, case=case)
    except FailureGroup as group:
        return [_describe(failure) for failure in group.exceptions]
    except AssertionError as failure:
        return [_describe(failure)]
    return []


def _describe(failure: BaseException) -> str:
    title = getattr(failure, "title", None) or "Response violates schema"
    message = getattr(failure, "message", None) or str(failure)
    return f"{title}: {message}".strip()


class Judge:
    """Judges the scenarios' answers, found by method and spec path, as the fuzzer's are."""

    def __init__(self, strict: bool) -> None:
        self.strict = strict

    # Built on the first answer judged, not at start-up: a run that selects neither CON-01
    # nor CON-02 (the scenario faults' runs of the self-test) never needs them.
    @cached_property
    def _document(self) -> dict:
        return openapi.load_combined(strict=self.strict)

    @cached_property
    def schema(self):
        return schemathesis.openapi.from_dict(self._document)

    @cached_property
    def _operations(self) -> dict[tuple[str, str], str]:
        return {(op.method.upper(), op.path): op.operation_id
                for op in openapi.iter_operations(self._document)}

    def operation_id(self, method: str, path: str) -> str | None:
        """The documented operation of ``method path`` (spec path, no base path), or None."""
        return self._operations.get((method.upper(), path))

    def problems(self, method: str, path: str, response: requests.Response) -> list[Problem]:
        """What is wrong with one answer; [] when it conforms or is no documented operation's."""
        operation_id = self.operation_id(method, path)
        if operation_id is None:
            return []
        answer = Response.from_requests(response, verify=True)
        found = [Problem(SCHEMA_CHECK, message) for message in
                 schema_problems(self.schema[path][method.upper()], answer)]
        xml = xsd_problem(operation_id, self.strict, answer.status_code,
                          media_type(response.headers), answer.content)
        if xml is not None:
            found.append(Problem(XSD_CHECK, xml))
        return found


def _decisive(exchange, problem: Problem) -> dict:
    """The exchange as evidence, marked as the answer that broke the rule, with the check that
    judged it (``decided``: `replay` judges a new answer by the same check)."""
    data = exchange.to_dict() if hasattr(exchange, "to_dict") else dict(exchange)
    return {**data, "decisive": True,
            "decided": {"check": problem.check, "message": problem.message}}


class AnswerLog:
    """Feeds the judged answers of the scenarios to the run's results (CON-01, CON-02).

    A failure is recorded once per operation, check and message, with the exchange that shows
    it; the answers that conformed are counted and recorded as one pass per requirement at the
    end (``close``). Requirements the run did not select are not judged.
    """

    def __init__(self, judge: Judge, collector, selected) -> None:
        self.judge = judge
        self.collector = collector
        self.selected = selected  # req_id -> bool
        self._lock = threading.Lock()
        self._seen: set[tuple[str, str, str]] = set()
        self._passed: dict[str, int] = {}

    def observe(self, method: str, path: str, response: requests.Response, exchange) -> None:
        if not any(self.selected(req_id) for req_id in CHECK_IDS.values()):
            return
        operation_id = self.judge.operation_id(method, path)
        if operation_id is None:
            return
        problems = [p for p in self.judge.problems(method, path, response)
                    if self.selected(p.req_id)]
        label = f"{method.upper()} {path}"
        for problem in problems:
            key = (problem.req_id, label, problem.message.splitlines()[0])
            with self._lock:
                if key in self._seen:
                    continue
                self._seen.add(key)
            self.collector.record(problem.req_id, "failed",
                                  reason=f"a scenario's answer: {label}: {problem.message}",
                                  evidence=[_decisive(exchange, problem)],
                                  source="answers to the scenarios")
        media = media_type(response.headers)
        judged = {"CON-01": media.endswith("json"),
                  "CON-02": operation_id in XML_OPERATIONS and media.endswith("xml")}
        failed = {p.req_id for p in problems}
        with self._lock:
            for req_id, applies in judged.items():
                if applies and req_id not in failed and self.selected(req_id):
                    self._passed[req_id] = self._passed.get(req_id, 0) + 1

    def close(self) -> None:
        """Record one pass per requirement for the answers that conformed."""
        with self._lock:
            passed = dict(self._passed)
        for req_id, count in passed.items():
            self.collector.record(req_id, "passed",
                                  reason=f"{count} answers to the scenarios conformed",
                                  source="answers to the scenarios")
