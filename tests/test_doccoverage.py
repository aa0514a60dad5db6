"""Tests of the documentation-coverage checker (conformance/doccoverage.py).

The parser tests use small invented fragments shaped like the vendor documents (markdown
exports and plain-text exports); no vendor prose is copied here. The seed and real-spec tests
read the vendor documents from the folder POINTS_SEEDS_DIR names (the documents are the
vendor's, not part of this repository) and skip when it is not set.
"""

from __future__ import annotations

import copy
import os
from pathlib import Path

import pytest
import yaml

from conformance.specs.doccoverage import (
    CoverageReport,
    DocItem,
    check_coverage,
    format_report,
    load_exceptions,
    load_spec_inputs,
    normalise_name,
    parse_docs,
    parse_document,
    validate_exceptions,
)

REPO_ROOT = Path(__file__).resolve().parents[1]
SPECS_DIR = REPO_ROOT / "specs"
EXCEPTIONS_FILE = SPECS_DIR / "docs-coverage-exceptions.yaml"


@pytest.fixture
def seeds_dir() -> Path:
    configured = os.environ.get("POINTS_SEEDS_DIR")
    if not configured:
        pytest.skip("the vendor documents are not in this repository: set POINTS_SEEDS_DIR")
    path = Path(configured)
    if not path.is_dir() or not any(p.is_file() for p in path.iterdir()):
        pytest.skip(f"seed documents not found at {path} (set POINTS_SEEDS_DIR)")
    return path


def _keys(items, kind=None, operation=None):
    return [
        i.name for i in items
        if (kind is None or i.kind == kind) and (operation is None or i.operation == operation)
    ]


def _line_of(text: str, needle: str) -> int:
    """1-based number of the first line of ``text`` that contains ``needle``."""
    return next(n for n, line in enumerate(text.splitlines(), 1) if needle in line)


def _write(tmp_path: Path, name: str, text: str) -> Path:
    (tmp_path / name).write_text(text, encoding="utf-8")
    return tmp_path


# --------------------------------------------------------------------------------------------
# Name normalisation
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("zone_code*", ["zone_code"]),  # mandatory marker
        ("batch_ref**", ["batch_ref"]),  # one-of-group marker
        ("**bold_name**", ["bold_name"]),
        ("label*:", ["label"]),  # trailing colon after the marker
        ("caption:", ["caption"]),
        ("- child_key*", ["child_key"]),  # leading dash of a nested row
        ("-X-Trace-Token", ["X-Trace-Token"]),  # dash glued to a header name; inner dashes stay
        ("\\extras*", ["extras"]),  # leading backslash
        ("&nbsp;&nbsp;&nbsp;&nbsp;kind*", ["kind"]),  # html indentation
        ("`quoted_name`", ["quoted_name"]),  # backticks
        ("   spaced_name   ", ["spaced_name"]),
        ("phone/mail/member_no*", ["phone", "mail", "member_no"]),  # enum of identifier names
        ("reply.outcome", ["outcome"]),  # dotted path: last segment
        ("outer.inner.leaf", ["leaf"]),
        ("", []),
        ("*", []),
        ("&nbsp;", []),
    ],
)
def test_normalise_name(raw, expected):
    assert normalise_name(raw) == expected


# --------------------------------------------------------------------------------------------
# Table parsing: markdown export
# --------------------------------------------------------------------------------------------

MARKDOWN_DOC = """\
# Widgets

Intro text with no table.

## Fetch a Widget

> Sample Request

```html
https://example.test/v9/widgets/fetch?widget_no=7
```

```text
fenced_name | string | a table-looking line inside a fence
```

### Resource Information
| | |
--------- | ----------- |
URI | `widgets/fetch?{query_params}`
Rate Limited? | No
HTTP Method | GET

### Request URL
Fetch by number
`https://{host}/v9/widgets/fetch?widget_no={n}&format={xml/json}`

### Request Query Parameters
Parameter | Datatype | Description
--------- | -------- | -----------
widget_no* | long | Which widget.
colour | enum | Wanted colour.
colour | enum | Listed twice.

### Response Parameters

Parameter | Datatype | Description
--------- | -------- | -----------
reply.outcome | obj | What happened.
outcome.shade | string | Its shade.

## Store a Widget

### Resource Information
| | |
--------- | ----------- |
URI | `/store`
HTTP Methods | POST

### Request URL

`https://{host}/v9/widgets/store`

### Request Body Parameters
Parameter | Type | Description
--------- | ---- | -----------
owner* | obj | Who keeps it.
&nbsp;&nbsp;&nbsp;kind* | enum | Values: `A`, `B`.
value* | string | A real body field of this operation.

## Result Codes

### Error Codes
| Code  |  Description |
|-------|--------------|
| 720   | Widget missing. |
7301\t| Widget locked.
72 | Too short to be a code.
"""


def test_markdown_operations_come_from_request_url_and_method_rows():
    items = parse_document(MARKDOWN_DOC, "widgets.md")
    operations = [i for i in items if i.kind == "operation"]
    fetch_line = _line_of(MARKDOWN_DOC, "{host}/v9/widgets/fetch")  # the Request URL lines
    store_line = _line_of(MARKDOWN_DOC, "{host}/v9/widgets/store")
    assert [(i.operation, i.source) for i in operations] == [
        ("GET /v9/widgets/fetch", f"widgets.md:{fetch_line}"),
        ("POST /v9/widgets/store", f"widgets.md:{store_line}"),
    ]
    # The relative URI rows resolve to the same operations (no "/store" operation).
    assert all(i.name == i.operation for i in operations)


def test_markdown_tables_are_attributed_to_their_section():
    items = parse_document(MARKDOWN_DOC, "widgets.md")
    fetch, store = "GET /v9/widgets/fetch", "POST /v9/widgets/store"
    assert _keys(items, "parameter", fetch) == ["widget_no", "colour", "colour"]
    assert _keys(items, "response-field", fetch) == ["outcome", "shade"]
    # value is a genuine body field when no identifier enum precedes it
    assert _keys(items, "parameter", store) == ["owner", "kind", "value"]
    assert _keys(items, "response-field", store) == []
    source = {(i.operation, i.name): i.source for i in items if i.kind == "parameter"}
    assert source[(fetch, "widget_no")] == f"widgets.md:{_line_of(MARKDOWN_DOC, 'widget_no*')}"


def test_markdown_codes_resource_rows_headers_and_fences():
    items = parse_document(MARKDOWN_DOC, "widgets.md")
    codes = [i for i in items if i.kind == "code"]
    assert [(i.name, i.operation, i.source) for i in codes] == [
        ("720", None, f"widgets.md:{_line_of(MARKDOWN_DOC, '| 720')}"),
        ("7301", None, f"widgets.md:{_line_of(MARKDOWN_DOC, '7301')}"),  # tab before the pipe
    ]
    names = {i.name for i in items}
    # header rows, separators, resource rows and fenced lines never become items
    for absent in ("Parameter", "Code", "URI", "Rate Limited?", "HTTP Method", "fenced_name", "72"):
        assert absent not in names


# --------------------------------------------------------------------------------------------
# Table parsing: plain-text export
# --------------------------------------------------------------------------------------------

PLAIN_DOC = """\
post https://{host}/v5/gateway/v5/jobs/CREATE-JOB
Opens a job for later approval.
Endpoint example
[https://demo.example.test/gateway/v5/jobs/CREATE-JOB
Resource information
URI | /gateway/v5/jobs/CREATE-JOB` |
HTTP Method | POST |
Batch support | No |
Header information
X-Org-Key | Organisation key |
X-Session-Token | Session token |
Request body parameters
Parameter (Parameters marked * are mandatory) | Type | Description |
---|---|---|
job* | Object | The job. |
- title* | String | Its title. |
\\options | Object | Options. |
note*: | String | A note. |
-X-Org-Key | Number | Repeated inside a nested headers object. |
{ "job": {"title": "sample"} }
Response parameters
Parameter Name | Data Type | Description |
---|---|---|
jobId | String | Identifier of the job. |
Error responses
Error code | Description | Reason |
---|---|---|
409 | Conflict | Already open |
"""


def test_plain_text_title_line_and_uri_row_are_two_operations():
    items = parse_document(PLAIN_DOC, "jobs.txt")
    operations = [(i.operation, i.source) for i in items if i.kind == "operation"]
    assert operations == [
        ("POST /v5/gateway/v5/jobs/CREATE-JOB", "jobs.txt:1"),
        ("POST /gateway/v5/jobs/CREATE-JOB", "jobs.txt:6"),  # stray backtick removed
    ]


def test_plain_text_header_body_response_and_code_tables():
    items = parse_document(PLAIN_DOC, "jobs.txt")
    for operation in ("POST /v5/gateway/v5/jobs/CREATE-JOB", "POST /gateway/v5/jobs/CREATE-JOB"):
        assert _keys(items, "parameter", operation) == [
            "X-Org-Key", "X-Session-Token", "job", "title", "options", "note", "X-Org-Key",
        ]
        assert _keys(items, "response-field", operation) == ["jobId"]
    assert _keys(items, "code") == ["409"]
    assert "Batch support" not in {i.name for i in items}


def test_the_same_operation_in_plain_text_uri_row_and_title_line_is_one_operation():
    text = "get https://{host}/v3/coupons/lookup\nResource Information\n" \
           "URI | v3/coupons/lookup |\n---|---|\nHTTP Method | GET |\n"
    items = parse_document(text, "c.txt")
    assert [(i.operation, i.source) for i in items] == [("GET /v3/coupons/lookup", "c.txt:1")]


# --------------------------------------------------------------------------------------------
# Identifier placeholders
# --------------------------------------------------------------------------------------------

PLACEHOLDER_DOC = """\
get https://{host}/v3/coupons/lookup
Request Parameters
Parameter | Datatype | Description |
---|---|---|
identifier* | enum | Choose how to find the holder. Value: `phone`, `mail`, `member_no`.
value* | string | What to look for.
amount | int | How much.
"""

SLASH_ENUM_DOC = """\
get https://{host}/v3/coupons/check
Request Parameter
Parameter | Datatype | Description |
---|---|---|
phone/mail/member_no/badge* | enum | Choose one of these.
value* | string | What to look for.
"""


def test_identifier_placeholder_takes_the_enum_values_of_its_description():
    items = parse_document(PLACEHOLDER_DOC, "p.txt")
    assert _keys(items, "parameter") == ["phone", "mail", "member_no", "amount"]
    assert {i.source for i in items if i.name in ("phone", "mail", "member_no")} == {"p.txt:5"}


def test_slash_enum_gives_one_parameter_per_identifier_and_drops_its_value_slot():
    items = parse_document(SLASH_ENUM_DOC, "s.txt")
    assert _keys(items, "parameter") == ["phone", "mail", "member_no", "badge"]


def test_header_row_without_separator_is_skipped():
    text = "get https://{host}/v1/x\nRequest parameters\nParameter | Type | Description\n" \
           "size | int | How big.\n"
    assert _keys(parse_document(text, "h.txt"), "parameter") == ["size"]


def test_parse_docs_reads_every_file_and_keeps_the_first_mention(tmp_path):
    _write(tmp_path, "a.txt", PLACEHOLDER_DOC)
    _write(tmp_path, "b.md", PLACEHOLDER_DOC.replace("amount | int", "limit | int"))
    _write(tmp_path, ".hidden", "get https://{host}/v0/ignored\n")
    items = parse_docs(tmp_path)
    assert [i.source for i in items if i.kind == "operation"] == ["a.txt:1"]
    assert _keys(items, "parameter") == ["phone", "mail", "member_no", "amount", "limit"]
    assert len(items) == len(set((i.kind, i.operation, i.name) for i in items))


def test_parse_docs_on_a_missing_folder_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="documentation folder not found"):
        parse_docs(tmp_path / "nowhere")


# --------------------------------------------------------------------------------------------
# Coverage against a small synthetic spec: every route to "covered", and each one can fail
# --------------------------------------------------------------------------------------------

COVERAGE_DOC = """\
## Fetch

### Request URL
`https://{host}/v9/widgets/fetch`

### Resource Information
| | |
---|---|
URI | `/fetch`
HTTP Method | GET

### Request Parameters
Parameter | Datatype | Description
--- | --- | ---
widget_no* | long | An operation parameter reached through components.parameters.
region | string | A parameter of the path item.
x-tenant | string | The header of an apiKey security scheme (any letter case).
alias_no | string | A parameter spelled differently, listed in x-doc-names.

### Response Parameters
Parameter | Datatype | Description
--- | --- | ---
shade | string | Under allOf, through a $ref.
weight | int | Under oneOf.
size | int | Under then.
hue | string | Under else.
tone | string | Under anyOf.
tag | string | Under array items.
legacy_tag | string | An alternative spelling in x-doc-names.
fallback | string | Only in the strict form of an x-doc-conflict.
loop_child | string | In a self-referencing schema.
shared_note | string | In another spec file.

## Store

### Request URL
`https://{host}/v9/widgets/store`

### Resource Information
| | |
---|---|
URI | `/store`
HTTP Method | POST

### Request Body Parameters
Parameter | Type | Description
--- | --- | ---
owner* | obj | In the JSON body.
nickname | string | Only in the XML body.

### Error Codes
Code | Description
--- | ---
720 | Widget missing.
"""


def _synthetic_specs() -> dict[str, dict]:
    ref = "#/components/schemas/"
    widgets = {
        "openapi": "3.1.0",
        "info": {"title": "widgets", "version": "1"},
        "security": [{"tenant": []}],
        "paths": {
            "/v9/widgets/fetch": {
                "parameters": [{"name": "region", "in": "query", "schema": {"type": "string"}}],
                "get": {
                    "parameters": [
                        {"$ref": "#/components/parameters/widget_no"},
                        {"name": "alias", "in": "query", "x-doc-names": ["alias_no"]},
                    ],
                    "responses": {"200": {"$ref": "#/components/responses/FetchOk"}},
                },
            },
            "/v9/widgets/store": {
                "post": {
                    "requestBody": {"$ref": "#/components/requestBodies/Store"},
                    "responses": {"200": {"description": "stored"}},
                },
            },
        },
        "components": {
            "securitySchemes": {"tenant": {"type": "apiKey", "in": "header", "name": "X-Tenant"}},
            "parameters": {
                "widget_no": {"name": "widget_no", "in": "query", "schema": {"type": "integer"}},
            },
            "requestBodies": {
                "Store": {
                    "content": {
                        "application/json": {"schema": {"$ref": ref + "StoreJson"}},
                        "application/xml": {"schema": {"$ref": ref + "StoreXml"}},
                    }
                }
            },
            "responses": {
                "FetchOk": {
                    "description": "ok",
                    "content": {"application/json": {"schema": {"$ref": ref + "Fetch"}}},
                }
            },
            "schemas": {
                "StoreJson": {"type": "object", "properties": {"owner": {"type": "object"}}},
                "StoreXml": {
                    "type": "object",
                    "properties": {"owner": {"type": "object"}, "nickname": {"type": "string"}},
                },
                "Shade": {"type": "object", "properties": {"shade": {"type": "string"}}},
                "Tree": {
                    "type": "object",
                    "properties": {
                        "loop_child": {"type": "string"},
                        "next": {"$ref": ref + "Tree"},
                    },
                },
                "Fetch": {
                    "allOf": [
                        {"$ref": ref + "Shade"},
                        {"oneOf": [{"properties": {"weight": {"type": "integer"}}}]},
                    ],
                    "anyOf": [{"properties": {"tone": {"type": "string"}}}],
                    "if": {"required": ["weight"]},
                    "then": {"properties": {"size": {"type": "integer"}}},
                    "else": {"properties": {"hue": {"type": "string"}}},
                    "properties": {
                        "tags": {"type": "array", "items": {"properties": {"tag": {}}}},
                        "label": {"type": "string", "x-doc-names": ["legacy_tag"]},
                        "tree": {"$ref": ref + "Tree"},
                        "note": {"$ref": "shared.yaml#/components/schemas/Note"},
                    },
                    "x-doc-conflict": {
                        "id": "DC-99",
                        "strict": {"properties": {"fallback": {"type": "string"}}},
                    },
                },
            },
        },
    }
    shared = {
        "openapi": "3.1.0",
        "paths": {},
        "components": {
            "schemas": {"Note": {"type": "object", "properties": {"shared_note": {}}}}
        },
    }
    return {"widgets.yaml": widgets, "shared.yaml": shared}


CODES = [{"code": 720, "family": "test", "kind": "error", "meaning": "missing"}]
FETCH, STORE = "GET /v9/widgets/fetch", "POST /v9/widgets/store"


@pytest.fixture
def coverage_docs(tmp_path) -> Path:
    return _write(tmp_path, "widgets.md", COVERAGE_DOC)


def _missing(report: CoverageReport) -> set[tuple[str, str | None, str]]:
    return {(i.kind, i.operation, i.name) for i in report.missing}


def test_synthetic_spec_covers_every_documented_item(coverage_docs):
    report = check_coverage(coverage_docs, _synthetic_specs(), CODES, [])
    assert report.missing == [], format_report(report)
    assert report.ok
    counts = {kind: sum(1 for i in report.documented if i.kind == kind)
              for kind in ("operation", "parameter", "response-field", "code")}
    assert counts == {"operation": 2, "parameter": 6, "response-field": 10, "code": 1}


def _drop(specs: dict, *path: str) -> dict:
    node = specs
    for key in path[:-1]:
        node = node[key] if not isinstance(node, list) else node[int(key)]
    if isinstance(node, list):
        del node[int(path[-1])]
    else:
        del node[path[-1]]
    return specs


SCHEMAS = ("widgets.yaml", "components", "schemas")


@pytest.mark.parametrize(
    "path, expected",
    [
        ((*SCHEMAS, "Shade", "properties", "shade"), ("response-field", FETCH, "shade")),
        ((*SCHEMAS, "Fetch", "allOf", "1"), ("response-field", FETCH, "weight")),
        ((*SCHEMAS, "Fetch", "then"), ("response-field", FETCH, "size")),
        ((*SCHEMAS, "Fetch", "else"), ("response-field", FETCH, "hue")),
        ((*SCHEMAS, "Fetch", "anyOf"), ("response-field", FETCH, "tone")),
        ((*SCHEMAS, "Fetch", "properties", "tags", "items"), ("response-field", FETCH, "tag")),
        ((*SCHEMAS, "Fetch", "properties", "label", "x-doc-names"),
         ("response-field", FETCH, "legacy_tag")),
        ((*SCHEMAS, "Fetch", "x-doc-conflict", "strict"), ("response-field", FETCH, "fallback")),
        ((*SCHEMAS, "Tree", "properties", "loop_child"), ("response-field", FETCH, "loop_child")),
        (("shared.yaml", "components", "schemas", "Note", "properties", "shared_note"),
         ("response-field", FETCH, "shared_note")),
        ((*SCHEMAS, "StoreXml", "properties", "nickname"), ("parameter", STORE, "nickname")),
        ((*SCHEMAS, "StoreJson", "properties", "owner"), None),  # still in the XML body
        (("widgets.yaml", "components", "parameters", "widget_no"),
         ("parameter", FETCH, "widget_no")),
        (("widgets.yaml", "paths", "/v9/widgets/fetch", "parameters"),
         ("parameter", FETCH, "region")),
        (("widgets.yaml", "paths", "/v9/widgets/fetch", "get", "parameters", "1", "x-doc-names"),
         ("parameter", FETCH, "alias_no")),
        (("widgets.yaml", "security"), ("parameter", FETCH, "x-tenant")),
    ],
)
def test_removing_a_declaration_from_a_copy_is_flagged(coverage_docs, path, expected):
    specs = _drop(copy.deepcopy(_synthetic_specs()), *path)
    report = check_coverage(coverage_docs, specs, CODES, [])
    if expected is None:
        assert report.ok, format_report(report)
    else:
        assert _missing(report) == {expected}, format_report(report)
        assert not report.ok


def test_a_missing_operation_flags_it_and_everything_documented_for_it(coverage_docs):
    specs = _drop(copy.deepcopy(_synthetic_specs()), "widgets.yaml", "paths", "/v9/widgets/store")
    report = check_coverage(coverage_docs, specs, CODES, [])
    assert _missing(report) == {
        ("operation", STORE, STORE), ("parameter", STORE, "owner"),
        ("parameter", STORE, "nickname"),
    }


def test_a_missing_code_is_flagged_and_codes_match_by_number(coverage_docs):
    report = check_coverage(coverage_docs, _synthetic_specs(), [], [])
    assert _missing(report) == {("code", None, "720")}
    as_text = [{"code": "720", "family": "t", "kind": "error", "meaning": "m"}]
    assert check_coverage(coverage_docs, _synthetic_specs(), as_text, []).ok


def test_exceptions_accept_missing_items_and_stale_ones_are_reported(coverage_docs):
    exceptions = [
        {"kind": "code", "name": 720, "reason": "not a code of this API"},
        {"kind": "parameter", "operation": FETCH, "name": "widget_no", "reason": "covered anyway"},
        {"kind": "response-field", "name": "no_such_field", "reason": "matches nothing"},
    ]
    report = check_coverage(coverage_docs, _synthetic_specs(), [], exceptions)
    assert report.missing == []
    assert [(i.name, reason) for i, reason in report.excepted] == [
        ("720", "not a code of this API"),
    ]
    assert [e["name"] for e in report.stale_exceptions] == ["widget_no", "no_such_field"]
    assert not report.ok
    text = format_report(report)
    assert "Stale exceptions (2" in text and "no_such_field" in text

    only_needed = check_coverage(coverage_docs, _synthetic_specs(), [], exceptions[:1])
    assert only_needed.ok


def test_an_exception_with_an_operation_only_matches_that_operation(coverage_docs):
    specs = _drop(copy.deepcopy(_synthetic_specs()), *SCHEMAS, "Shade", "properties", "shade")
    wrong_operation = [{"kind": "response-field", "operation": STORE, "name": "shade",
                        "reason": "wrong operation"}]
    report = check_coverage(coverage_docs, specs, CODES, wrong_operation)
    assert _missing(report) == {("response-field", FETCH, "shade")}
    assert report.stale_exceptions == wrong_operation


@pytest.mark.parametrize(
    "entry",
    [
        {"kind": "field", "name": "x", "reason": "r"},
        {"kind": "code", "name": "", "reason": "r"},
        {"kind": "code", "name": 1},
        {"kind": "code", "name": 1, "reason": "  "},
        {"kind": "code", "name": 1, "reason": "r", "operaton": "GET /x"},
    ],
)
def test_malformed_exceptions_are_refused(coverage_docs, entry):
    assert validate_exceptions([entry])
    with pytest.raises(ValueError):
        check_coverage(coverage_docs, _synthetic_specs(), CODES, [entry])


def test_format_report_gives_counts_per_kind_and_the_source_of_each_missing_item(coverage_docs):
    specs = _drop(copy.deepcopy(_synthetic_specs()), *SCHEMAS, "Tree", "properties", "loop_child")
    text = format_report(check_coverage(coverage_docs, specs, CODES, []))
    lines = text.splitlines()
    assert any(line.split()[:5] == ["response-field", "10", "9", "0", "1"] for line in lines)
    assert any(line.split()[:5] == ["parameter", "6", "6", "0", "0"] for line in lines)
    missing = [line for line in lines if "loop_child" in line]
    assert len(missing) == 1 and FETCH in missing[0] and "widgets.md:" in missing[0]
    assert lines[-1].startswith("NOT OK")


# --------------------------------------------------------------------------------------------
# The project's own exception list, the seed documents and the real specs
# --------------------------------------------------------------------------------------------


def test_exception_file_is_valid_and_every_entry_has_a_reason():
    assert EXCEPTIONS_FILE.is_file(), f"{EXCEPTIONS_FILE} is missing"
    data = yaml.safe_load(EXCEPTIONS_FILE.read_text(encoding="utf-8"))
    assert isinstance(data, dict) and isinstance(data.get("exceptions"), list)
    assert validate_exceptions(data["exceptions"]) == []
    assert load_exceptions(EXCEPTIONS_FILE) == data["exceptions"]


EXPECTED_OPERATIONS = {
    "GET /v1.1/points/isredeemable",
    "GET /v1.1/points/validationcode",
    "POST /v1.1/points/redeem",
    "POST /v2/points/isTransferrable",
    "POST /v2/points/userGroup2/isTransferrable",
    "POST /v2/points/transfer",
    "GET /v2/points/transfer",
    "POST /v2/points/userGroup2/transfer",
    "POST /v2/points/reverse",
    "POST /api_gateway/v2/request-workflow/GOODWILL-POINTS",
    "POST /v2/api_gateway/v2/request-workflow/GOODWILL-POINTS",
}


def test_seed_documents_are_parsed(seeds_dir):
    items = parse_docs(seeds_dir)
    assert {i.operation for i in items if i.kind == "operation"} == EXPECTED_OPERATIONS
    for kind in ("parameter", "response-field", "code"):
        assert any(i.kind == kind for i in items), kind

    validation = "GET /v1.1/points/validationcode"
    params = set(_keys(items, "parameter", validation))
    # identifiers from both documents: the a/b/c enum of one, the placeholder enum of the other
    assert {"mobile", "email", "external_id", "card_number", "card_external_id", "user_id",
            "points"} <= params
    assert not params & {"identifier", "value"}
    # dotted response names are reduced to their last segment
    fields = set(_keys(items, "response-field", validation))
    assert {"status", "item_status", "validation_code"} <= fields
    assert not any("." in name for name in fields)

    goodwill = "POST /api_gateway/v2/request-workflow/GOODWILL-POINTS"
    assert {"X-CAP-UI-AUTH-TOKEN", "X-CAP-API-AUTH-ORG-ID", "pathParams", "queryParams"} <= set(
        _keys(items, "parameter", goodwill))
    assert set(_keys(items, "parameter", goodwill)) == set(
        _keys(items, "parameter", "POST /v2/api_gateway/v2/request-workflow/GOODWILL-POINTS"))

    codes = {int(name) for name in _keys(items, "code")}
    assert {400, 401, 686, 800, 816, 901, 905, 3045} <= codes
    assert all(100 <= code <= 9999 for code in codes)
    for item in items:
        name, _, line = item.source.rpartition(":")
        assert (seeds_dir / name).is_file() and int(line) > 0
        assert item.name and item.name == item.name.strip()
        assert not set(item.name) & set("*`\\|")


def _real_spec_inputs():
    openapi_dir = SPECS_DIR / "openapi"
    if not list(openapi_dir.glob("*.yaml")) or not (SPECS_DIR / "error-codes.yaml").is_file():
        pytest.fail(f"the specs are not there yet: expected {openapi_dir}/*.yaml and "
                    f"{SPECS_DIR / 'error-codes.yaml'}")
    return load_spec_inputs(SPECS_DIR)


def test_specs_cover_the_seed_documents(seeds_dir):
    openapi_docs, error_codes, exceptions = _real_spec_inputs()
    for expected in ("points-v1.1.yaml", "points-v2.yaml", "goodwill.yaml"):
        assert expected in openapi_docs, f"specs/openapi/{expected} is missing"
    report = check_coverage(seeds_dir, openapi_docs, error_codes, exceptions)
    assert report.ok, "\n" + format_report(report)


def _remove_name(node, name: str) -> None:
    """Delete every declaration of a property name (and its alternative spellings)."""
    if isinstance(node, dict):
        properties = node.get("properties")
        if isinstance(properties, dict):
            properties.pop(name, None)
        if isinstance(node.get("x-doc-names"), list):
            node["x-doc-names"] = [n for n in node["x-doc-names"] if n != name]
        for value in node.values():
            _remove_name(value, name)
    elif isinstance(node, list):
        for value in node:
            _remove_name(value, name)


def test_deleting_a_property_from_a_copy_of_the_real_specs_is_flagged(seeds_dir):
    openapi_docs, error_codes, exceptions = _real_spec_inputs()
    documented = {(i.kind, i.operation, i.name): i for i in parse_docs(seeds_dir)}
    key = ("response-field", "POST /v1.1/points/redeem", "redemption_id")
    assert key in documented
    specs = copy.deepcopy(openapi_docs)
    _remove_name(specs, "redemption_id")
    report = check_coverage(seeds_dir, specs, error_codes, exceptions)
    assert documented[key] in report.missing
    assert not report.ok
    line = next(li for li in format_report(report).splitlines() if "redemption_id" in li)
    assert documented[key].source in line
    # the unmodified specs still declare it
    original = check_coverage(seeds_dir, openapi_docs, error_codes, exceptions)
    assert documented[key] not in original.missing


def test_doc_item_is_hashable_and_frozen():
    item = DocItem("code", None, "720", "x.md:3")
    assert {item: 1}[DocItem("code", None, "720", "x.md:3")] == 1
    with pytest.raises(AttributeError):
        item.name = "721"  # type: ignore[misc]
