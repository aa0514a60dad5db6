"""Documentation coverage: does every documented operation, parameter, response field and code
appear in the specs?

The vendor documents (markdown exports and plain-text readme.io exports) describe each endpoint
with a few tables: request parameters, response parameters and result codes. This module reads
those tables, turns every row into a :class:`DocItem`, and checks each item against the OpenAPI
specs (``specs/openapi/*.yaml``) and the error-code catalog (``specs/error-codes.yaml``).
Anything the specs lack is reported unless ``specs/docs-coverage-exceptions.yaml`` accepts it
with a reason; an exception that no longer matches anything is reported as stale.

Document model, as the parser understands it
--------------------------------------------
* A *section* starts at a markdown heading of level 1 or 2, or at a line such as
  ``post https://{host}/v2/...`` (a method followed by a URL, as readme.io exports start).
* The section's operations are its method(s) (from that first line or from an ``HTTP Method``
  row) combined with its path(s): the first-line URL, every URL under a ``Request URL`` label,
  and the ``URI`` row of the resource table. A ``URI`` row is read relative to the Request URL
  when the section has one (``/isTransferrable`` under ``https://{host}/v2/points/...``) and as a
  path from the host root otherwise (so a document giving two different full paths yields two
  operations).
* A *table* is a run of consecutive lines containing ``|`` outside fenced code blocks. What it
  holds is decided by its label, the nearest non-blank line above it: request/parameter/header
  labels give parameters, response labels give response fields; rows whose first cell is a
  3-4 digit number are codes in any table. Resource-information tables (label, or a ``URI`` /
  ``HTTP Method`` row) only feed the section's operations.
* Names are normalised (see :func:`normalise_name`): markers ``*``, backticks, backslashes,
  ``&nbsp;``, leading ``-`` and trailing ``:`` are dropped, ``a/b/c`` lists several names, and a
  dotted path keeps its last segment. A parameter row named ``identifier`` of type ``enum`` is a
  placeholder for the identifier names listed (in backticks) in its description; in a parameter
  table that has such an identifier row (or an ``a/b/c`` list), a later ``value`` row is the
  placeholder for the identifier's value and yields no parameter.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlparse

KINDS = ("operation", "parameter", "response-field", "code")
HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
ANY_METHOD = "*"

__all__ = [
    "KINDS",
    "DocItem",
    "CoverageReport",
    "normalise_name",
    "parse_document",
    "parse_docs",
    "check_coverage",
    "format_report",
    "validate_exceptions",
    "load_exceptions",
    "load_spec_inputs",
    "check_docs",
]


@dataclass(frozen=True)
class DocItem:
    kind: str  # "operation" | "parameter" | "response-field" | "code"
    operation: str | None  # "GET /v1.1/points/isredeemable" style key; None for codes
    name: str  # normalised name (parameter/field name, or the code as a string)
    source: str  # "<seed file name>:<line number>"


@dataclass
class CoverageReport:
    documented: list[DocItem]
    missing: list[DocItem]  # lacking in the specs and not excepted
    excepted: list[tuple[DocItem, str]]  # (item, reason) matched by the exception list
    stale_exceptions: list[dict]  # exception entries that matched nothing

    @property
    def ok(self) -> bool:
        return not self.missing and not self.stale_exceptions


# --------------------------------------------------------------------------------------------
# Parsing
# --------------------------------------------------------------------------------------------

_FENCE_RE = re.compile(r"^\s*(```|~~~)")
_HEADING_RE = re.compile(r"^\s{0,3}(#{1,6})\s+(.*?)\s*#*\s*$")
_VERB_LINE_RE = re.compile(
    r"^\s*(" + "|".join(HTTP_METHODS) + r")\s+(https?://\S+)", re.IGNORECASE
)
_URL_RE = re.compile(r"https?://[^\s`'\"<>\]\)]+")
_CODE_RE = re.compile(r"^\d{3,4}$")
_SEPARATOR_CELL_RE = re.compile(r"^:?-+:?$")
_BACKTICKED_RE = re.compile(r"`([^`]+)`")
_PLACEHOLDER_SEGMENT_RE = re.compile(r"^\{[^{}]*\}$")


def normalise_name(raw: str) -> list[str]:
    """The documented name(s) in a table's first cell, normalised.

    Returns a list because ``a/b/c`` lists several names; empty when the cell holds no name.
    """
    text = raw.replace("&nbsp;", " ").replace("`", "").replace("\\", "").replace("*", "")
    previous = None
    while text != previous:
        previous = text
        text = text.strip().lstrip("-").rstrip(":")
    names: list[str] = []
    for part in text.split("/"):
        part = part.strip()
        if "." in part:
            part = part.rsplit(".", 1)[1].strip()
        if part and part not in names:
            names.append(part)
    return names


def _split_row(line: str) -> list[str]:
    text = line.strip()
    if text.startswith("|"):
        text = text[1:]
    if text.endswith("|"):
        text = text[:-1]
    return [cell.strip() for cell in text.split("|")]


def _is_separator(cells: list[str]) -> bool:
    stripped = [c.strip() for c in cells]
    return any(stripped) and all(not c or _SEPARATOR_CELL_RE.match(c) for c in stripped)


def _is_header_like(cells: list[str]) -> bool:
    first = cells[0].strip().lower()
    second = cells[1].strip().lower() if len(cells) > 1 else ""
    return (first.startswith("parameter") or first in ("code", "error code", "name", "field")) and (
        second in ("datatype", "data type", "type", "description", "")
    )


def _clean_path(raw: str) -> str:
    """A path without query, fragment, stray quoting or trailing ``{placeholder}`` segments."""
    text = raw.strip().strip("`[]()<>\"'").strip()
    text = re.split(r"[?#\s]", text, maxsplit=1)[0]
    text = text.strip("`")
    segments = [s for s in text.split("/") if s]
    while segments and _PLACEHOLDER_SEGMENT_RE.match(segments[-1]):
        segments.pop()
    return "/" + "/".join(segments)


def _url_path(url: str) -> str:
    match = re.match(r"https?://[^/\s`?#]*(.*)$", url.strip().strip("`[]"))
    return _clean_path(match.group(1) if match else "")


@dataclass
class _Table:
    label: str
    rows: list[tuple[int, list[str]]]  # (line number, cells)


@dataclass
class _Section:
    start: int
    methods: list[str]
    full_paths: list[tuple[str, int]]  # from the first line and Request URL lines
    has_request_url: bool
    uri_rows: list[tuple[str, int]]
    tables: list[_Table]


def _new_section(start: int) -> _Section:
    return _Section(start, [], [], False, [], [])


def _label_text(line: str) -> str:
    heading = _HEADING_RE.match(line)
    text = heading.group(2) if heading else line
    return text.strip().strip("*").strip().rstrip(":").strip()


def _split_sections(text: str) -> list[_Section]:
    sections = [_new_section(1)]
    in_fence = False
    in_request_url = False
    label = ""
    table: _Table | None = None

    for number, line in enumerate(text.splitlines(), start=1):
        if _FENCE_RE.match(line):
            in_fence = not in_fence
            table = None
            continue
        if in_fence:
            continue
        section = sections[-1]
        stripped = line.strip()

        verb = _VERB_LINE_RE.match(line)
        heading = _HEADING_RE.match(line)
        if verb:
            section = _new_section(number)
            section.methods.append(verb.group(1).upper())
            section.full_paths.append((_url_path(verb.group(2)), number))
            sections.append(section)
            in_request_url, table, label = False, None, ""
            continue
        if heading and len(heading.group(1)) <= 2:
            sections.append(_new_section(number))
            in_request_url, table, label = False, None, _label_text(line)
            continue

        if "|" in line:
            cells = _split_row(line)
            if table is None:
                table = _Table(label, [])
                section.tables.append(table)
                in_request_url = False
            table.rows.append((number, cells))
            continue
        table = None
        if not stripped:
            continue

        label = _label_text(line)
        if heading:
            in_request_url = label.lower() == "request url"
            continue
        if label.lower() == "request url":
            in_request_url = True
            continue
        if in_request_url:
            url = _URL_RE.search(line)
            if url:
                section.full_paths.append((_url_path(url.group(0)), number))
                section.has_request_url = True
    return sections


_RESOURCE_KEYS = {"uri": "uri", "http method": "method", "http methods": "method"}


def _resource_key(cell: str) -> str | None:
    return _RESOURCE_KEYS.get(cell.strip().strip("`*").rstrip("?:").strip().lower())


def _table_kind(label: str) -> str | None:
    low = label.lower()
    if "resource information" in low:
        return "resource"
    if "response" in low:
        return "response-field"
    if any(word in low for word in ("request", "param", "header", "body", "query")):
        return "parameter"
    return None


def _enum_values(description: str) -> list[str]:
    values: list[str] = []
    for value in _BACKTICKED_RE.findall(description):
        value = value.strip()
        if value and value not in values:
            values.append(value)
    return values


def _section_operations(section: _Section) -> list[tuple[str, int]]:
    """(operation key, line number) for each operation the section documents."""
    paths: list[tuple[str, int]] = []
    for path, number in section.full_paths:
        if path != "/" and path not in [p for p, _ in paths]:
            paths.append((path, number))
    for uri, number in section.uri_rows:
        path = _clean_path(uri)
        if path == "/":
            continue
        if section.has_request_url:
            tail = path.strip("/").split("/")
            if any(p.strip("/").split("/")[-len(tail):] == tail for p, _ in section.full_paths):
                continue  # the URI row is the Request URL relative to its base
        if path not in [p for p, _ in paths]:
            paths.append((path, number))
    methods = section.methods or ([ANY_METHOD] if paths else [])
    return [(f"{method} {path}", number) for path, number in paths for method in methods]


def _collect_resource_rows(section: _Section) -> None:
    for table in section.tables:
        is_resource = _table_kind(table.label) == "resource" or any(
            cells and _resource_key(cells[0]) for _, cells in table.rows
        )
        if not is_resource:
            continue
        table.label = "resource information"
        for number, cells in table.rows:
            if len(cells) < 2:
                continue
            key = _resource_key(cells[0])
            if key == "uri":
                section.uri_rows.append((cells[1], number))
            elif key == "method":
                for method in re.split(r"[\s,/]+", cells[1].strip("` ")):
                    if method.lower() in HTTP_METHODS and method.upper() not in section.methods:
                        section.methods.append(method.upper())


_CODE_HEADERS = ("code", "codes", "error code", "status code", "response code")


def _is_code_table(table: _Table) -> bool:
    """A code table by its label ("Error Codes") or by its header row's first cell."""
    label = table.label.lower()
    if re.search(r"\bcodes?\b", label) and not re.search(r"param|field|request", label):
        return True
    rows = table.rows
    for index, (_, cells) in enumerate(rows[:-1]):
        if _is_separator(rows[index + 1][1]):
            return cells[0].strip().strip("*").strip().lower() in _CODE_HEADERS
    return False


def _table_items(table: _Table, operations: list[str | None], file_name: str) -> list[DocItem]:
    kind = _table_kind(table.label)
    if kind == "resource":
        return []
    if _is_code_table(table):
        kind = None  # only the numbered rows count
    rows = table.rows
    items: list[DocItem] = []
    identifier_seen = False
    for index, (number, cells) in enumerate(rows):
        if _is_separator(cells):
            continue
        following = rows[index + 1][1] if index + 1 < len(rows) else None
        if following is not None and _is_separator(following):
            continue  # header row
        if index == 0 and _is_header_like(cells):
            continue
        source = f"{file_name}:{number}"
        first = cells[0].strip()
        if _CODE_RE.match(first):
            items.append(DocItem("code", None, first, source))
            continue
        if kind is None:
            continue
        names = normalise_name(first)
        if not names:
            continue
        if kind == "parameter":
            data_type = cells[1].strip().lower() if len(cells) > 1 else ""
            description = cells[2] if len(cells) > 2 else ""
            if names == ["identifier"] and data_type == "enum":
                names = _enum_values(description) or names
                identifier_seen = True
            elif len(names) > 1:
                identifier_seen = True
            elif names == ["value"] and identifier_seen:
                continue  # the value slot of the identifier enum, not a parameter name
        for operation in operations:
            for name in names:
                items.append(DocItem(kind, operation, name, source))
    return items


def parse_document(text: str, file_name: str) -> list[DocItem]:
    """Every documented item of one document, in document order (duplicates included)."""
    items: list[DocItem] = []
    for section in _split_sections(text):
        _collect_resource_rows(section)
        operations = _section_operations(section)
        for key, number in operations:
            items.append(DocItem("operation", key, key, f"{file_name}:{number}"))
        attributed: list[str | None] = [key for key, _ in operations] or [None]
        for table in section.tables:
            items.extend(_table_items(table, attributed, file_name))
    return items


def _dedupe(items: Iterable[DocItem]) -> list[DocItem]:
    seen: set[tuple[str, str | None, str]] = set()
    unique: list[DocItem] = []
    for item in items:
        key = (item.kind, item.operation, item.name)
        if key not in seen:
            seen.add(key)
            unique.append(item)
    return unique


def parse_docs(docs_dir: Path) -> list[DocItem]:
    """Documented items of every document in ``docs_dir`` (files in name order, hidden files
    skipped), each (kind, operation, name) once with the source of its first mention."""
    docs_dir = Path(docs_dir)
    if not docs_dir.is_dir():
        raise FileNotFoundError(f"documentation folder not found: {docs_dir}")
    items: list[DocItem] = []
    for path in sorted(docs_dir.iterdir(), key=lambda p: p.name):
        if not path.is_file() or path.name.startswith("."):
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        items.extend(parse_document(text, path.name))
    return _dedupe(items)


# --------------------------------------------------------------------------------------------
# What the specs declare
# --------------------------------------------------------------------------------------------

# Keys of a schema object whose values are data or plain annotations, never subschemas.
_NON_SCHEMA_KEYS = frozenset(
    {
        "$ref", "$id", "$schema", "$anchor", "$comment", "example", "examples", "default",
        "const", "enum", "description", "title", "required", "x-doc-names", "xml", "type",
        "format", "pattern", "discriminator", "externalDocs",
    }
)


class _Specs:
    """Reference resolution and name collection across the OpenAPI documents."""

    def __init__(self, openapi_docs: dict[str, dict]):
        self.docs = {name: doc for name, doc in openapi_docs.items() if isinstance(doc, dict)}
        self._by_basename = {PurePosixPath(name).name: doc for name, doc in self.docs.items()}

    def _target(self, ref: str, doc_name: str) -> tuple[str, str] | None:
        file_part, _, pointer = ref.partition("#")
        target_doc = PurePosixPath(file_part).name if file_part else doc_name
        if target_doc not in self.docs and target_doc not in self._by_basename:
            return None
        return target_doc, pointer

    def _lookup(self, doc_name: str, pointer: str) -> Any:
        node: Any = self.docs.get(doc_name, self._by_basename.get(doc_name))
        for token in [t for t in pointer.split("/") if t]:
            token = token.replace("~1", "/").replace("~0", "~")
            if isinstance(node, dict) and token in node:
                node = node[token]
            elif isinstance(node, list) and token.isdigit() and int(token) < len(node):
                node = node[int(token)]
            else:
                return None
        return node

    def resolve(self, node: Any, doc_name: str) -> tuple[Any, str]:
        """Follow a chain of ``$ref`` (local or to another spec file) to the object it names."""
        seen: set[tuple[str, str]] = set()
        while isinstance(node, dict) and isinstance(node.get("$ref"), str):
            target = self._target(node["$ref"], doc_name)
            if target is None or target in seen:
                return {}, doc_name
            seen.add(target)
            doc_name = target[0]
            node = self._lookup(*target)
        return (node if node is not None else {}), doc_name

    def schema_names(self, schema: Any, doc_name: str, names: set[str], seen: set) -> None:
        """Add every property name (and documented alternative spelling) at any depth."""
        if isinstance(schema, list):
            for entry in schema:
                self.schema_names(entry, doc_name, names, seen)
            return
        if not isinstance(schema, dict):
            return
        ref = schema.get("$ref")
        if isinstance(ref, str):
            target = self._target(ref, doc_name)
            if target is not None and target not in seen:
                seen.add(target)
                self.schema_names(self._lookup(*target), target[0], names, seen)
        for alias in _as_list(schema.get("x-doc-names")):
            names.add(str(alias))
        xml = schema.get("xml")
        if isinstance(xml, dict) and isinstance(xml.get("name"), str):
            names.add(xml["name"])
        properties = schema.get("properties")
        if isinstance(properties, dict):
            for name, sub in properties.items():
                names.add(str(name))
                self.schema_names(sub, doc_name, names, seen)
        for key, value in schema.items():
            if key in _NON_SCHEMA_KEYS or key == "properties":
                continue
            if isinstance(value, (dict, list)):
                self.schema_names(value, doc_name, names, seen)

    def content_names(self, holder: Any, doc_name: str) -> set[str]:
        """Property names of every media type's schema in ``holder['content']``."""
        names: set[str] = set()
        content = holder.get("content") if isinstance(holder, dict) else None
        if isinstance(content, dict):
            for media in content.values():
                if isinstance(media, dict):
                    self.schema_names(media.get("schema"), doc_name, names, set())
        return names

    def operations(self) -> dict[str, list[tuple[str, dict, dict]]]:
        """``"METHOD /path"`` -> [(doc name, path item, operation)], with server path prefixes."""
        index: dict[str, list[tuple[str, dict, dict]]] = {}
        for doc_name, doc in self.docs.items():
            prefixes = {""}
            for server in _as_list(doc.get("servers")):
                if isinstance(server, dict) and isinstance(server.get("url"), str):
                    prefix = urlparse(server["url"]).path.rstrip("/")
                    if "{" not in prefix:
                        prefixes.add(prefix)
            paths = doc.get("paths")
            if not isinstance(paths, dict):
                continue
            for path, raw_item in paths.items():
                item, item_doc = self.resolve(raw_item, doc_name)
                if not isinstance(item, dict):
                    continue
                for method in HTTP_METHODS:
                    operation = item.get(method)
                    if not isinstance(operation, dict):
                        continue
                    for prefix in prefixes:
                        key = f"{method.upper()} {prefix}{path}"
                        index.setdefault(key, []).append((item_doc, item, operation))
        return index

    def parameter_names(self, doc_name: str, path_item: dict, operation: dict) -> tuple[set, set]:
        """(names matched exactly, header names matched case-insensitively) of an operation's
        request: parameters, security scheme headers and request-body property names."""
        exact: set[str] = set()
        headers: set[str] = set()
        for raw in _as_list(path_item.get("parameters")) + _as_list(operation.get("parameters")):
            parameter, _ = self.resolve(raw, doc_name)
            if not isinstance(parameter, dict) or not isinstance(parameter.get("name"), str):
                continue
            spellings = [parameter["name"], *map(str, _as_list(parameter.get("x-doc-names")))]
            schema, _ = self.resolve(parameter.get("schema"), doc_name)
            if isinstance(schema, dict):
                spellings += [str(a) for a in _as_list(schema.get("x-doc-names"))]
            if parameter.get("in") == "header":
                headers.update(s.lower() for s in spellings)
            else:
                exact.update(spellings)
        doc = self.docs.get(doc_name, {})
        requirements = operation.get("security", doc.get("security"))
        schemes = (doc.get("components") or {}).get("securitySchemes") or {}
        for requirement in _as_list(requirements):
            if not isinstance(requirement, dict):
                continue
            for scheme_name in requirement:
                scheme, _ = self.resolve(schemes.get(scheme_name), doc_name)
                if not isinstance(scheme, dict):
                    continue
                if scheme.get("type") == "apiKey" and isinstance(scheme.get("name"), str):
                    if scheme.get("in") == "header":
                        headers.add(scheme["name"].lower())
                    else:
                        exact.add(scheme["name"])
                elif scheme.get("type") in ("http", "oauth2", "openIdConnect"):
                    headers.add("authorization")
        body, body_doc = self.resolve(operation.get("requestBody"), doc_name)
        exact |= self.content_names(body, body_doc)
        return exact, headers

    def response_names(self, doc_name: str, operation: dict) -> set[str]:
        names: set[str] = set()
        responses = operation.get("responses")
        if isinstance(responses, dict):
            for raw in responses.values():
                response, response_doc = self.resolve(raw, doc_name)
                names |= self.content_names(response, response_doc)
        return names


def _as_list(value: Any) -> list:
    if value is None:
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]


# --------------------------------------------------------------------------------------------
# Exceptions
# --------------------------------------------------------------------------------------------

_EXCEPTION_KEYS = {"kind", "operation", "name", "reason"}


def validate_exceptions(exceptions: Any) -> list[str]:
    """Problems with an exception list (empty when it is valid)."""
    if not isinstance(exceptions, list):
        return ["`exceptions` must be a list"]
    problems = []
    for index, entry in enumerate(exceptions):
        where = f"exceptions[{index}]"
        if not isinstance(entry, dict):
            problems.append(f"{where}: must be a mapping")
            continue
        unknown = set(entry) - _EXCEPTION_KEYS
        if unknown:
            problems.append(f"{where}: unknown key(s) {sorted(unknown)}")
        if entry.get("kind") not in KINDS:
            problems.append(f"{where}: kind must be one of {', '.join(KINDS)}")
        if entry.get("name") in (None, ""):
            problems.append(f"{where}: name is required")
        if entry.get("operation") is not None and not isinstance(entry.get("operation"), str):
            problems.append(f"{where}: operation must be a string like 'GET /v1.1/points/redeem'")
        reason = entry.get("reason")
        if not isinstance(reason, str) or not reason.strip():
            problems.append(f"{where}: a reason is required")
    return problems


def load_exceptions(path: Path) -> list[dict]:
    """The validated ``exceptions`` list of an exceptions file (a missing file means none)."""
    import yaml

    path = Path(path)
    if not path.is_file():
        return []
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    if not isinstance(data, dict) or "exceptions" not in data:
        raise ValueError(f"{path}: expected a mapping with an `exceptions` list")
    exceptions = data["exceptions"] or []
    problems = validate_exceptions(exceptions)
    if problems:
        raise ValueError(f"{path}: " + "; ".join(problems))
    return exceptions


def _exception_matches(entry: dict, item: DocItem) -> bool:
    if entry.get("kind") != item.kind or str(entry.get("name")) != item.name:
        return False
    operation = entry.get("operation")
    return operation is None or operation == item.operation


# --------------------------------------------------------------------------------------------
# Coverage
# --------------------------------------------------------------------------------------------


def _operation_matches(documented: str, index: dict) -> list:
    method, _, path = documented.partition(" ")
    if method == ANY_METHOD:
        return [entry for key, entries in index.items() if key.partition(" ")[2] == path
                for entry in entries]
    return index.get(documented, [])


def check_coverage(
    docs_dir: Path,
    openapi_docs: dict[str, dict],
    error_codes: list[dict],
    exceptions: list[dict],
) -> CoverageReport:
    """Compare what the documents in ``docs_dir`` describe with what the specs declare.

    ``openapi_docs`` maps spec file names to parsed OpenAPI documents (``$ref`` between them is
    resolved by file name); ``error_codes`` is the ``codes`` list of ``specs/error-codes.yaml``;
    ``exceptions`` the ``exceptions`` list of ``specs/docs-coverage-exceptions.yaml``. Raises
    ValueError when the exception list is malformed.
    """
    problems = validate_exceptions(exceptions)
    if problems:
        raise ValueError("invalid docs-coverage exceptions: " + "; ".join(problems))
    documented = parse_docs(Path(docs_dir))
    specs = _Specs(openapi_docs)
    index = specs.operations()

    known_codes: set[int] = set()
    for entry in error_codes or []:
        if isinstance(entry, dict):
            try:
                known_codes.add(int(str(entry.get("code")).strip()))
            except ValueError:
                continue

    request_cache: dict[str, tuple[set, set]] = {}
    response_cache: dict[str, set] = {}

    def request_names(operation: str | None) -> tuple[set, set]:
        key = operation or ""
        if key not in request_cache:
            exact: set[str] = set()
            headers: set[str] = set()
            matches = _operation_matches(operation, index) if operation else \
                [entry for entries in index.values() for entry in entries]
            for doc_name, path_item, op in matches:
                more_exact, more_headers = specs.parameter_names(doc_name, path_item, op)
                exact |= more_exact
                headers |= more_headers
            request_cache[key] = (exact, headers)
        return request_cache[key]

    def response_fields(operation: str | None) -> set:
        key = operation or ""
        if key not in response_cache:
            names: set[str] = set()
            matches = _operation_matches(operation, index) if operation else \
                [entry for entries in index.values() for entry in entries]
            for doc_name, _, op in matches:
                names |= specs.response_names(doc_name, op)
            response_cache[key] = names
        return response_cache[key]

    def covered(item: DocItem) -> bool:
        if item.kind == "operation":
            return bool(_operation_matches(item.operation or item.name, index))
        if item.kind == "parameter":
            exact, headers = request_names(item.operation)
            return item.name in exact or item.name.lower() in headers
        if item.kind == "response-field":
            return item.name in response_fields(item.operation)
        if item.kind == "code":
            return item.name.isdigit() and int(item.name) in known_codes
        return False

    missing: list[DocItem] = []
    excepted: list[tuple[DocItem, str]] = []
    used: set[int] = set()
    for item in documented:
        if covered(item):
            continue
        for position, entry in enumerate(exceptions):
            if _exception_matches(entry, item):
                used.add(position)
                excepted.append((item, str(entry.get("reason", "")).strip()))
                break
        else:
            missing.append(item)
    stale = [copy.deepcopy(entry) for position, entry in enumerate(exceptions)
             if position not in used]
    return CoverageReport(documented, missing, excepted, stale)


# --------------------------------------------------------------------------------------------
# Reporting and convenience loaders
# --------------------------------------------------------------------------------------------


def _item_line(item: DocItem) -> str:
    operation = item.operation if item.operation and item.kind != "operation" else ""
    return f"  {item.kind:<15} {operation:<58} {item.name:<32} {item.source}".rstrip()


def format_report(report: CoverageReport) -> str:
    """A human summary: counts per kind, then one line per missing item with its source line."""
    lines = ["Documentation coverage"]
    lines.append(f"  {'kind':<15} {'documented':>10} {'covered':>8} {'excepted':>9} {'missing':>8}")
    for kind in KINDS:
        documented = sum(1 for item in report.documented if item.kind == kind)
        excepted = sum(1 for item, _ in report.excepted if item.kind == kind)
        missing = sum(1 for item in report.missing if item.kind == kind)
        covered = documented - excepted - missing
        lines.append(f"  {kind:<15} {documented:>10} {covered:>8} {excepted:>9} {missing:>8}")
    total = len(report.documented)
    lines.append(
        f"  {'total':<15} {total:>10} {total - len(report.excepted) - len(report.missing):>8} "
        f"{len(report.excepted):>9} {len(report.missing):>8}"
    )
    if report.missing:
        lines.append("")
        lines.append(f"Missing from the specs ({len(report.missing)}):")
        lines.extend(_item_line(item) for item in report.missing)
    if report.excepted:
        lines.append("")
        lines.append(f"Excepted ({len(report.excepted)}):")
        for item, reason in report.excepted:
            lines.append(_item_line(item))
            lines.append(f"      reason: {reason}")
    if report.stale_exceptions:
        lines.append("")
        lines.append(
            f"Stale exceptions ({len(report.stale_exceptions)}; they match nothing the specs lack,"
            " remove them):"
        )
        for entry in report.stale_exceptions:
            where = f" {entry.get('operation')}" if entry.get("operation") else ""
            lines.append(f"  {entry.get('kind')}{where} {entry.get('name')}")
    lines.append("")
    lines.append("OK: every documented item is in the specs or excepted with a reason"
                 if report.ok else "NOT OK: the specs do not cover the documentation")
    return "\n".join(lines)


def load_spec_inputs(specs_dir: Path) -> tuple[dict[str, dict], list[dict], list[dict]]:
    """(openapi_docs, error_codes, exceptions) read from a specs folder laid out as in the repo:
    ``openapi/*.yaml``, ``error-codes.yaml`` and ``docs-coverage-exceptions.yaml``."""
    import yaml

    specs_dir = Path(specs_dir)
    openapi_dir = specs_dir / "openapi"
    files = sorted([*openapi_dir.glob("*.yaml"), *openapi_dir.glob("*.yml")])
    if not files:
        raise FileNotFoundError(f"no OpenAPI documents in {openapi_dir}")
    openapi_docs = {p.name: yaml.safe_load(p.read_text(encoding="utf-8")) or {} for p in files}
    codes_file = specs_dir / "error-codes.yaml"
    if not codes_file.is_file():
        raise FileNotFoundError(f"error-code catalog not found: {codes_file}")
    codes_data = yaml.safe_load(codes_file.read_text(encoding="utf-8")) or {}
    error_codes = codes_data.get("codes") or [] if isinstance(codes_data, dict) else []
    exceptions = load_exceptions(specs_dir / "docs-coverage-exceptions.yaml")
    return openapi_docs, error_codes, exceptions


def check_docs(docs_dir: Path, specs_dir: Path) -> CoverageReport:
    """:func:`check_coverage` with the specs read from ``specs_dir`` (for the CLI)."""
    openapi_docs, error_codes, exceptions = load_spec_inputs(specs_dir)
    return check_coverage(Path(docs_dir), openapi_docs, error_codes, exceptions)
