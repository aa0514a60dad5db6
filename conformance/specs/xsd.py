"""Generate the XSD of the v1.1 XML format from the OpenAPI schemas.

The XML documents mirror the JSON ones: an object becomes an element whose children are its
properties, in any order (XSD 1.1 ``xs:all``), with unknown children allowed as JSON allows
unknown properties; an array marked ``xml.wrapped`` becomes a wrapper element with one child per
item named by ``items.xml.name``. The root element is the schema's ``xml.name``;
``x-xml-alternate-roots`` lists wrapper roots some documents put around it (DC-15).
"""

from __future__ import annotations

import threading
import warnings
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import quoteattr

import xmlschema

from conformance.specs import openapi

XSD_FAMILY = "points-v1.1"
XML_MEDIA = "application/xml"
_SCALARS = {"integer": "xs:integer", "number": "xs:decimal", "boolean": "xs:boolean",
            "string": "xs:string"}


@dataclass(frozen=True)
class XsdTarget:
    operation_id: str
    direction: str  # "request" | "response"
    strict: bool

    @property
    def file_name(self) -> str:
        return f"{self.operation_id}.{self.direction}{'.strict' if self.strict else ''}.xsd"


def xsd_dir() -> Path:
    return openapi.specs_dir() / "xsd"


def targets() -> list[XsdTarget]:
    """Every XML request and success/refusal response body the v1.1 spec documents."""
    doc = openapi.load_family(XSD_FAMILY)
    found = []
    for op in openapi.iter_operations(doc, XSD_FAMILY):
        for strict in (False, True):
            if openapi.request_schema(doc, op.operation_id, XML_MEDIA) is not None:
                found.append(XsdTarget(op.operation_id, "request", strict))
            if openapi.response_schema(doc, op.operation_id, "200", XML_MEDIA) is not None:
                found.append(XsdTarget(op.operation_id, "response", strict))
    return found


class _Writer:
    def __init__(self, doc: dict):
        self.doc = doc
        self.types: dict[str, list[str]] = {}  # named complex types, by component name
        self.simple: dict[str, list[str]] = {}
        self._counter = 0

    def _anon(self, stem: str) -> str:
        self._counter += 1
        return f"{stem}{self._counter}_"

    # --- schema helpers
    def _merged(self, schema: dict) -> dict:
        """Flatten $ref, allOf and the object branches of anyOf/oneOf into one object view."""
        schema = openapi.resolve(self.doc, schema)
        props: dict = {}
        required: set[str] = set(schema.get("required", []))
        for key in ("properties",):
            props.update(schema.get(key, {}))
        for part in schema.get("allOf", []):
            sub = self._merged(part)
            props.update(sub.get("properties", {}))
            required |= set(sub.get("required", []))
        for key in ("anyOf", "oneOf"):
            for part in schema.get(key, []):
                # Alternatives make their properties optional; required lists alone add nothing.
                props.update(self._merged(part).get("properties", {}))
        merged = dict(schema)
        merged["properties"] = props
        merged["required"] = sorted(required & set(props))
        return merged

    @staticmethod
    def _ref_name(schema: dict) -> str | None:
        ref = schema.get("$ref", "")
        return ref.rsplit("/", 1)[-1] if ref.startswith("#/components/schemas/") else None

    def _is_object(self, schema: dict) -> bool:
        schema = openapi.resolve(self.doc, schema)
        if schema.get("type") == "object" or "properties" in schema:
            return True
        return any(self._is_object(p) for p in schema.get("allOf", []))

    def _is_array(self, schema: dict) -> bool:
        return openapi.resolve(self.doc, schema).get("type") == "array"

    # --- type emitters
    def simple_type(self, schema: dict) -> str:
        """Name of an XSD simple type accepting the text forms of a scalar schema."""
        name = self._ref_name(schema)
        resolved = openapi.resolve(self.doc, schema)
        # A $ref with sibling keywords (3.1) refines the target: treat it as inline.
        if name and set(schema) - {"$ref", "description", "x-doc-conflict", "x-doc-names"}:
            name = None
            resolved = {**openapi.resolve(self.doc, {"$ref": schema["$ref"]}),
                        **{k: v for k, v in schema.items() if k != "$ref"}}
        if name and name in self.simple:
            return name
        body = self._simple_body(resolved)
        if body is None:
            return "xs:string"
        if name is None:
            name = self._anon("S")
        self.simple[name] = body
        return name

    def _simple_body(self, schema: dict) -> list[str] | None:
        alternatives = schema.get("anyOf") or schema.get("oneOf")
        if alternatives:
            members = [self.simple_type(alt) for alt in alternatives]
            return [f'  <xs:union memberTypes="{" ".join(members)}"/>']
        base = _SCALARS.get(schema.get("type") if isinstance(schema.get("type"), str) else "")
        if base is None:
            return None
        facets = []
        if "enum" in schema:
            facets += [f"    <xs:enumeration value={quoteattr(_text(v))}/>"
                       for v in schema["enum"] if v is not None]
        if "pattern" in schema:
            facets.append(f"    <xs:pattern value={quoteattr(_xsd_pattern(schema['pattern']))}/>")
        if "minimum" in schema:
            facets.append(f'    <xs:minInclusive value="{schema["minimum"]}"/>')
        if "minLength" in schema:
            facets.append(f'    <xs:minLength value="{schema["minLength"]}"/>')
        if not facets:
            return [f'  <xs:restriction base="{base}"/>']
        return [f'  <xs:restriction base="{base}">', *facets, "  </xs:restriction>"]

    def complex_type(self, schema: dict) -> str:
        name = self._ref_name(schema)
        if name and set(schema) - {"$ref", "description", "x-doc-conflict", "x-doc-names", "xml"}:
            name = None
        if name is None:
            name = self._anon("C")
        if name in self.types:
            return name
        self.types[name] = []  # placeholder first: recursive schemas refer to themselves
        merged = self._merged(schema)
        lines = ["  <xs:all>"]
        for prop, sub in merged["properties"].items():
            occurs = "" if prop in merged["required"] else ' minOccurs="0"'
            lines.append(f"    {self.element(prop, sub, occurs)}")
        lines.append('    <xs:any processContents="lax" minOccurs="0" maxOccurs="unbounded"/>')
        lines.append("  </xs:all>")
        self.types[name] = lines
        return name

    def element(self, name: str, schema: dict, occurs: str = "") -> str:
        if self._is_array(schema):
            arr = openapi.resolve(self.doc, schema)
            items = arr.get("items", {})
            item_name = items.get("xml", {}).get("name", "element")
            item_type = (self.complex_type(items) if self._is_object(items)
                         else self.simple_type(items))
            wrapper = self._anon(f"{name}_list")
            self.types[wrapper] = [
                "  <xs:sequence>",
                f'    <xs:element name="{item_name}" type="{item_type}" minOccurs="0" '
                'maxOccurs="unbounded"/>',
                "  </xs:sequence>",
            ]
            return f'<xs:element name="{name}" type="{wrapper}"{occurs}/>'
        if self._is_object(schema):
            return f'<xs:element name="{name}" type="{self.complex_type(schema)}"{occurs}/>'
        return f'<xs:element name="{name}" type="{self.simple_type(schema)}"{occurs}/>'


def _text(value: object) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def _xsd_pattern(pattern: str) -> str:
    # XSD patterns are anchored implicitly and know no ^ or $.
    return pattern.removeprefix("^").removesuffix("$")


def generate(target: XsdTarget, only: frozenset[str] | None = None) -> str:
    """The XSD text for one XML body; ``only`` applies just those conflicts' strict forms."""
    if only is not None:
        doc = openapi.load_family(XSD_FAMILY, only=only)
    else:
        doc = openapi.load_family(XSD_FAMILY, strict=target.strict)
    if target.direction == "request":
        schema = openapi.request_schema(doc, target.operation_id, XML_MEDIA)
    else:
        schema = openapi.response_schema(doc, target.operation_id, "200", XML_MEDIA)
    if schema is None:
        raise openapi.SpecError(f"{target.operation_id} has no XML {target.direction}")
    writer = _Writer(doc)
    resolved = openapi.resolve(doc, schema)
    root = resolved.get("xml", {}).get("name") or target.operation_id
    root_element = writer.element(root, schema)
    wrappers = [alt["name"] for alt in resolved.get("x-xml-alternate-roots", [])]
    variant = "strict" if target.strict else "lenient"
    out = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        "<!-- GENERATED by conformance.specs.xsd from specs/openapi/points-v1.1.yaml "
        f"({variant} variant). Do not edit: run `points-conformance specs generate`. -->",
        f"<!-- XML {target.direction} of {target.operation_id}. XSD 1.1 (xs:all with "
        "open content); load with xmlschema.XMLSchema11. -->",
        '<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema"',
        '           xmlns:vc="http://www.w3.org/2007/XMLSchema-versioning" vc:minVersion="1.1"',
        '           elementFormDefault="unqualified">',
        f"  {root_element}",
    ]
    for wrapper in wrappers:
        out.append(f'  <xs:element name="{wrapper}">')
        out.append("    <xs:complexType><xs:sequence>")
        out.append(f'      <xs:element ref="{root}"/>')
        out.append("    </xs:sequence></xs:complexType>")
        out.append("  </xs:element>")
    for name, lines in writer.types.items():
        out.append(f'  <xs:complexType name="{name}">')
        out.extend("  " + line for line in lines)
        out.append("  </xs:complexType>")
    for name, lines in writer.simple.items():
        out.append(f'  <xs:simpleType name="{name}">')
        out.extend("  " + line for line in lines)
        out.append("  </xs:simpleType>")
    out.append("</xs:schema>")
    return "\n".join(out) + "\n"


def write_all(directory: Path | None = None) -> list[Path]:
    directory = directory or xsd_dir()
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for target in targets():
        path = directory / target.file_name
        path.write_text(generate(target), encoding="utf-8")
        written.append(path)
    return written


def stale_files(directory: Path | None = None) -> list[str]:
    """Names of committed XSD files that differ from what the generator writes today."""
    directory = directory or xsd_dir()
    stale = []
    expected = {t.file_name: t for t in targets()}
    for name, target in expected.items():
        path = directory / name
        if not path.is_file() or path.read_text(encoding="utf-8") != generate(target):
            stale.append(name)
    for path in directory.glob("*.xsd"):
        if path.name not in expected:
            stale.append(f"{path.name} (no longer generated)")
    return sorted(stale)


def load(target: XsdTarget, directory: Path | None = None) -> xmlschema.XMLSchema11:
    """The committed XSD for ``target`` as an xmlschema schema object."""
    return _build(str((directory or xsd_dir()) / target.file_name))


def from_text(text: str) -> xmlschema.XMLSchema11:
    return _build(text)


# warnings.catch_warnings swaps the process's filter list: two threads building at once could
# each restore the other's list and let the notice out. One build at a time.
_BUILD_LOCK = threading.Lock()


def _build(source: str) -> xmlschema.XMLSchema11:
    with _BUILD_LOCK, warnings.catch_warnings():
        # Nested elements named like the root (response/points/response) trigger a harmless
        # type-table notice about the open-content wildcard.
        warnings.simplefilter("ignore", xmlschema.XMLSchemaTypeTableWarning)
        return xmlschema.XMLSchema11(source)
