"""The suite's checks of every fuzzed answer, and which requirement id each one judges.

Registered with schemathesis on import (``@schemathesis.check``, ``@schemathesis.hook``);
``checks.fuzz`` drives the engine with them. Custom checks raise AssertionError, as
schemathesis counts anything else as an error of the check and hides it. A check returns True
when it does not apply (schemathesis reads that as "skipped") and None when it checked and
passed.
"""

from __future__ import annotations

import re
from functools import cache

import schemathesis

from conformance.checks import judge
from conformance.specs import catalog, openapi
from conformance.target import bodies
from conformance.target.client import capped_body
from conformance.target.redaction import REDACTOR
from conformance.target.throttle import THROTTLE_KEY, Throttle

# Built-in checks that fit a target which may legitimately refuse any business request
# (DC-11): positive_data_acceptance and the resource-lifecycle checks do not.
BUILTIN_CHECKS = {
    "content_type_conformance": "CON-06",
    "response_schema_conformance": "CON-01",
}
CUSTOM_CHECKS = {
    "auth_enforced": "CON-07",
    "no_server_error": "CON-04",
    "documented_status": "CON-06",
    "schema_invalid_request_refused": "CON-05",
    "xml_valid_against_xsd": "CON-02",
    "format_matches_content_type": "CON-06",
    "xml_json_parity": "CON-03",
    "no_credential_echo": "SEC-01",
    "no_stack_trace_in_errors": "SEC-02",
}
CHECK_IDS = {**BUILTIN_CHECKS, **CUSTOM_CHECKS}
# Link-driven sequences: a response breaking the schema (JSON Schema or XSD) is CON-08.
STATEFUL_IDS = {"response_schema_conformance": "CON-08", "xml_valid_against_xsd": "CON-08"}
XML_OPERATIONS = judge.XML_OPERATIONS
# Parity needs the same call twice: only for calls that change nothing.
PARITY_OPERATIONS = {"isRedeemable"}

LEAK_PATTERN = re.compile(
    r"Traceback \(most recent call last\)|\bat [\w$.]+\([\w]+\.java:\d+\)|"
    r"File \"[^\"]+\", line \d+|\bException in thread\b|\.internal\b|\binternal-[\w-]+\.",
)


# --- every call: the body cap ------------------------------------------------------------------

def _ours(case) -> bool:
    return "x-strict" in case.operation.schema.raw_schema.get("info", {})


# Headers that frame the HTTP message itself. A generated value for one (schemathesis adds
# arbitrary headers to a case, e.g. an empty Transfer-Encoding beside a Content-Length) makes
# the request malformed HTTP, which the target's HTTP server refuses before the API sees it
# (uvicorn: 400 text/plain "Invalid HTTP request received."): that answer is not the API's to
# judge, and it came back only for the seeds that generated such a header.
FRAMING_HEADERS = frozenset({"transfer-encoding", "content-length", "host", "connection",
                             "keep-alive", "proxy-connection", "te", "trailer", "upgrade",
                             "expect"})


@schemathesis.hook
def before_call(ctx, case, kwargs):
    """Read every fuzzed answer under the client's body cap (a 50 MB answer is not read), send
    no generated header that frames the message (FRAMING_HEADERS), and wait out a 429
    (target.throttle)."""
    if _ours(case):
        kwargs.setdefault("hooks", {"response": [capped_body]})
        for name in [n for n in (case.headers or {}) if n.lower() in FRAMING_HEADERS]:
            del case.headers[name]
        throttle = _throttle(case)
        if throttle is not None:
            # A 429 waited out before the answer is judged; the rate limit's slot (taken by
            # fuzz.Pacer as the transport sends) released when the answer comes
            hooks = dict(kwargs["hooks"])
            hooks["response"] = [throttle.hook(), *hooks.get("response", ())]
            kwargs["hooks"] = hooks


def _throttle(case) -> Throttle | None:
    return Throttle.named(case.operation.schema.raw_schema["info"].get(THROTTLE_KEY))


def _throttle_own_calls(ctx, case) -> None:
    """Let the calls a check sends itself (schemathesis's probes without credentials, its
    content-type control) wait out a 429 too: they take the engine's transport arguments,
    never passing before_call, and a 429 there would read as the check's failure."""
    throttle = _throttle(case)
    kwargs = getattr(getattr(ctx, "internals", None), "transport_kwargs", None)
    if throttle is None or not isinstance(kwargs, dict):
        return
    hooks = dict(kwargs.get("hooks") or {})
    response_hooks = list(hooks.get("response") or ())
    if not any(getattr(hook, "throttle", None) is throttle for hook in response_hooks):
        hooks["response"] = [throttle.hook(), *response_hooks]
        kwargs["hooks"] = hooks


# --- custom checks ----------------------------------------------------------------------------

@schemathesis.check
def auth_enforced(ctx, response, case):
    """CON-07: schemathesis's ``ignored_auth``, its calls without credentials throttled as the
    run's others are (``_throttle_own_calls``)."""
    from schemathesis.specs.openapi.checks import ignored_auth

    _throttle_own_calls(ctx, case)
    return ignored_auth(ctx, response, case)


def _operation_id(case) -> str:
    return case.operation.definition.raw.get("operationId", "")


def _requested_format(case) -> str:
    return str((case.query or {}).get("format", "json")).lower()


def _media(response) -> str:
    return judge.media_type(response.headers)


def _strict_of(case) -> bool:
    return bool(case.operation.schema.raw_schema.get("info", {}).get("x-strict"))


def _path_item(case) -> dict:
    """The spec's path item of the case's path (its methods, its path-level extensions)."""
    return case.operation.schema.raw_schema.get("paths", {}).get(case.operation.path, {})


def _documents_method(case) -> bool:
    """Whether the spec documents the case's method on its path (the coverage phase also sends
    methods a path does not serve)."""
    return case.method.lower() in _path_item(case)


@schemathesis.check
def no_server_error(ctx, response, case):
    """CON-04: no 5xx answer, but a 501 to a method the path does not document.

    RFC 9110 (15.6.2) lets a server answer 501 Not Implemented to a method it does not
    support, as 405 does (15.5.6): many HTTP servers do so for TRACE or an unknown method.
    """
    from schemathesis.checks import not_a_server_error

    if response.status_code == 501 and not _documents_method(case):
        return True
    _throttle_own_calls(ctx, case)  # a 5xx may make it send a content-type control call
    return not_a_server_error(ctx, response, case)


@cache
def _strict_schema():
    return schemathesis.openapi.from_dict(openapi.load_combined(strict=True))


def _strictly_valid(case) -> bool:
    """Whether the strict spec accepts the request: what a validating gateway would pass."""
    from schemathesis.core import NOT_SET
    from schemathesis.core.jsonschema import make_validator
    from schemathesis.core.parameters import ParameterLocation

    try:
        operation = _strict_schema()[case.operation.path][case.method.upper()]
    except LookupError:
        return False  # a path or method only the lenient spec has
    validator_cls = operation.schema.adapter.jsonschema_validator_cls
    for location, values in ((ParameterLocation.QUERY, case.query),
                             (ParameterLocation.PATH, case.path_parameters)):
        schema = operation.get_parameter_set(location).schema
        if schema and not make_validator(schema, validator_cls).is_valid(dict(values or {})):
            return False
    if case.body is NOT_SET or case.body is None:
        return not _body_required(operation)
    body = operation.get_body_for_media_type(case.media_type)
    return body is not None and make_validator(body.optimized_schema,
                                               validator_cls).is_valid(case.body)


def _body_required(operation) -> bool:
    request_body = operation.definition.raw.get("requestBody") or {}
    if str(request_body.get("$ref", "")).startswith("#/"):
        request_body = _resolve(operation.schema.raw_schema, request_body["$ref"])
    return bool(request_body.get("required"))


def _resolve(document: dict, reference: str) -> dict:
    node: object = document
    for part in reference.removeprefix("#/").split("/"):
        node = node.get(part, {}) if isinstance(node, dict) else {}
    return node if isinstance(node, dict) else {}


def _path_alternative(case) -> bool:
    """Whether the case's path is one of two the documents give for one operation (DC-10)."""
    return "x-doc-conflict" in _path_item(case)


@schemathesis.check
def documented_status(ctx, response, case):
    """CON-06: a documented status, but for two legitimate choices of an implementation.

    - 404 on a path the documents give as one of two for the same operation (DC-10): the
      target serves the other one.
    - 400 or 422 with no business code to a request the strict spec refuses: a gateway in front
      of the service validating requests (the request is invalid, whoever says so).
    """
    from schemathesis.specs.openapi.checks import status_code_conformance

    status = response.status_code
    if status == 404 and _path_alternative(case):
        return True
    if status in (400, 422) and body_refusal_code(response) is None and \
            not _strictly_valid(case):
        return True
    return status_code_conformance(ctx, response, case)


@schemathesis.check
def xml_valid_against_xsd(ctx, response, case):
    """CON-02: a v1.1 XML answer is well-formed and valid against the XSD."""
    op = _operation_id(case)
    if op not in XML_OPERATIONS or _media(response) not in ("application/xml", "text/xml"):
        return True
    if response.status_code not in (200, 400):
        return True
    problem = judge.xsd_problem(op, _strict_of(case), response.status_code, _media(response),
                                response.content)
    if problem is not None:
        raise AssertionError(problem)
    return None


@cache
def _refusal_codes() -> frozenset[int]:
    return frozenset(c["code"] for c in catalog.error_codes() if c["kind"] != "success")


def body_refusal_code(response) -> int | None:
    """The documented refusal code a body carries (v1.1 item_status, v2 errors/warnings)."""
    if _media(response) in ("application/xml", "text/xml"):
        body: object = bodies.parse_xml(response.content)
        if body is None:
            return None
    else:
        try:
            body = response.json()
        except ValueError:
            return None
    codes = bodies.v2_codes(body)
    if isinstance(body, dict) and "response" in body:
        codes.append(bodies.v11_code(body))
    return next((c for c in codes if c in _refusal_codes()), None)


@schemathesis.check
def schema_invalid_request_refused(ctx, response, case):
    """CON-05: a schema-invalid request is refused with a 4xx or a documented refusal code."""
    from schemathesis.specs.openapi.checks import negative_data_rejection

    try:
        return negative_data_rejection(ctx, response, case)
    except Exception as exc:  # schemathesis raises its own failure types
        if response.status_code < 500 and body_refusal_code(response) is not None:
            return None  # refused in the body, as DC-11 allows
        title = getattr(exc, "title", "Schema-violating request accepted")
        raise AssertionError(f"{title}: {getattr(exc, 'message', exc)}") from None


@schemathesis.check
def format_matches_content_type(ctx, response, case):
    """CON-06: format=xml answers XML, format=json (or none) answers JSON."""
    op = _operation_id(case)
    # Undocumented statuses (a 405 for a method the coverage phase tried) are CON-06's
    # status_code_conformance business, not a format question.
    if op not in XML_OPERATIONS or response.status_code not in (200, 400) or \
            not response.content:
        return True
    wanted = _requested_format(case)
    if wanted not in ("json", "xml"):
        return True
    media = _media(response)
    ok = media.endswith("json") if wanted == "json" else media in ("application/xml", "text/xml")
    if not ok:
        raise AssertionError(f"Asked for format={wanted}, received Content-Type {media!r}")
    return None


# Characters XML 1.0 cannot carry: a target must drop or replace them in its XML answer.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _comparable(text: str) -> str:
    # An XML parser reads a raw CR (or CR LF) in text as LF (XML 1.0, end-of-line handling);
    # a target may write it raw or as &#13;, both legitimate, so line ends compare as LF.
    return _NOT_XML.sub("", text.replace("\r\n", "\n").replace("\r", "\n")).strip()


def _leaves(data: object, prefix: str = "") -> dict[str, str]:
    if isinstance(data, dict):
        out: dict[str, str] = {}
        for key, value in data.items():
            out.update(_leaves(value, f"{prefix}/{key}"))
        return out
    if isinstance(data, list):
        out = {}
        for index, value in enumerate(data):
            out.update(_leaves(value, f"{prefix}/{index}"))
        return out
    if isinstance(data, bool):
        return {prefix: str(data).lower()}
    return {prefix: "" if data is None else _comparable(str(data))}


@schemathesis.check
def xml_json_parity(ctx, response, case):
    """CON-03: the same read-only call in XML and JSON carries the same values."""
    op = _operation_id(case)
    if op not in PARITY_OPERATIONS or _requested_format(case) != "xml":
        return True
    # Refusals too: a target may answer them 400 (DC-11), and then a fuzzed call rarely gets
    # a 200 at all. The twin must answer the same status.
    if response.status_code not in (200, 400) or \
            _media(response) not in ("application/xml", "text/xml"):
        return True
    xml_data = bodies.parse_xml(response.content)
    if xml_data is None:
        return True  # xml_valid_against_xsd reports it
    twin = case.operation.Case(
        path_parameters=case.path_parameters, headers=case.headers, cookies=case.cookies,
        query={**(case.query or {}), "format": "json"}, body=case.body,
        media_type=case.media_type,
    )
    # The run's own transport settings (credentials, headers, timeout), as schemathesis sends
    # its probes: a bare call would go out without the run's credentials.
    throttle = _throttle(case)  # a 429 to the twin is waited out, never a difference
    kwargs = {**(ctx.internals.transport_kwargs or {}), "hooks": {"response": [
        *([throttle.hook()] if throttle is not None else []), capped_body]}}
    other = case.operation.schema.transport.send(twin, **kwargs)
    if other.status_code != response.status_code:
        raise AssertionError(f"format=xml answered {response.status_code} but format=json "
                             f"answered {other.status_code} for the same call")
    try:
        json_data = other.json()
    except ValueError:
        return True  # content_type/schema checks report it
    if isinstance(xml_data.get("root"), dict):
        xml_data = xml_data["root"]  # the alternate <root> wrapper (DC-15)
    xml_leaves, json_leaves = _leaves(xml_data), _leaves(json_data)
    differing = sorted(k for k in set(xml_leaves) & set(json_leaves)
                       if xml_leaves[k] != json_leaves[k])
    missing = sorted(set(json_leaves) - set(xml_leaves))
    if differing or missing:
        detail = "; ".join([f"{k}: xml {xml_leaves[k]!r} json {json_leaves[k]!r}"
                            for k in differing[:5]] + [f"{k} only in JSON" for k in missing[:5]])
        raise AssertionError(f"XML and JSON answers differ: {detail}")
    return None


@schemathesis.check
def no_credential_echo(ctx, response, case):
    """SEC-01: no response carries a credential the suite sent."""
    body = response.content.decode("utf-8", "replace")
    headers = " ".join(f"{k}: {v}" for k, v in response.headers.items())
    for secret in REDACTOR.secrets:
        if secret in body or secret in headers:
            raise AssertionError("The response echoes a credential the suite sent "
                                 "(shown here redacted)")
    return None


@schemathesis.check
def no_stack_trace_in_errors(ctx, response, case):
    """SEC-02: error bodies carry no stack traces or internal host names."""
    if response.status_code < 400:
        return True
    match = LEAK_PATTERN.search(response.content.decode("utf-8", "replace"))
    if match:
        raise AssertionError(f"Error body leaks internals: {match.group(0)!r}")
    return None
