"""Load the OpenAPI specs: bundle shared schemas, derive the strict variant, combine families.

The files under specs/openapi/ are the lenient source. A node carrying ``x-doc-conflict`` records
a place where the vendor documents disagree (specs/conflicts.yaml); its ``strict`` value replaces
the node in the strict variant (``null`` removes it) and ``strict_patch`` deep-merges into it
(a ``null`` value removes that key).
"""

from __future__ import annotations

import copy
import hashlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from conformance.paths import specs_dir

FAMILIES: dict[str, str] = {
    "points-v1.1": "points-v1.1.yaml",
    "points-v2": "points-v2.yaml",
    "goodwill": "goodwill.yaml",
}
COMMON_FILE = "common.yaml"
HTTP_METHODS = ("get", "put", "post", "delete", "patch", "head", "options", "trace")
_REMOVE = object()


class SpecError(Exception):
    """A spec file is missing, unreadable or inconsistent."""


@dataclass(frozen=True)
class Operation:
    family: str
    method: str
    path: str
    operation_id: str
    definition: dict

    @property
    def key(self) -> str:
        return f"{self.method.upper()} {self.path}"


def openapi_dir() -> Path:
    return specs_dir() / "openapi"


# libyaml's loader where PyYAML was built with it (the wheels are): the specs are read by every
# run, and the pure-Python loader spends about a second on them.
SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def read_yaml(path: Path) -> Any:
    try:
        with path.open(encoding="utf-8") as fh:
            return yaml.load(fh, Loader=SAFE_LOADER)  # noqa: S506 - a safe loader
    except OSError as exc:
        raise SpecError(f"cannot read {path}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise SpecError(f"{path} is not valid YAML: {exc}") from None


@cache
def _source(file_name: str) -> dict:
    return read_yaml(openapi_dir() / file_name)


def source(family: str) -> dict:
    """The lenient source document of a family, as written (shared refs not yet bundled)."""
    if family not in FAMILIES:
        raise SpecError(f"unknown spec family {family!r}; known: {', '.join(FAMILIES)}")
    return copy.deepcopy(_source(FAMILIES[family]))


# --- bundling ---------------------------------------------------------------------------------

def _walk_refs(node: Any) -> Iterator[dict]:
    if isinstance(node, dict):
        if isinstance(node.get("$ref"), str):
            yield node
        for value in node.values():
            yield from _walk_refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from _walk_refs(item)


def _pointer_get(doc: Any, pointer: str) -> Any:
    node = doc
    for part in pointer.lstrip("/").split("/"):
        part = part.replace("~1", "/").replace("~0", "~")
        try:
            node = node[int(part)] if isinstance(node, list) else node[part]
        except (KeyError, IndexError, ValueError):
            raise SpecError(f"unresolvable reference #{pointer}") from None
    return node


def bundle(doc: dict, common: dict | None = None) -> dict:
    """Copy what ``doc`` takes from common.yaml into its own components; refs become local."""
    common = _source(COMMON_FILE) if common is None else common
    doc = copy.deepcopy(doc)
    components = doc.setdefault("components", {})
    pending = list(_walk_refs(doc))
    copied: set[str] = set()
    while pending:
        ref_node = pending.pop()
        target, _, pointer = ref_node["$ref"].partition("#")
        if not target:
            continue
        if target != COMMON_FILE:
            raise SpecError(f"external reference to {target!r}: only {COMMON_FILE} is shared")
        parts = pointer.strip("/").split("/")
        if len(parts) != 3 or parts[0] != "components":
            raise SpecError(f"shared reference {ref_node['$ref']!r} must name a component")
        _, kind, name = parts
        ref_node["$ref"] = f"#{pointer}"
        if pointer in copied:
            continue
        copied.add(pointer)
        shared = copy.deepcopy(_pointer_get(common, pointer))
        for inner in _walk_refs(shared):
            # Refs inside common.yaml are local to it; mark them so they are copied too.
            if inner["$ref"].startswith("#"):
                inner["$ref"] = COMMON_FILE + inner["$ref"]
        section = components.setdefault(kind, {})
        existing = section.get(name)
        if existing is not None and not (isinstance(existing, dict) and existing.get("$ref")):
            raise SpecError(f"component {kind}/{name} is defined both locally and in {COMMON_FILE}")
        section[name] = shared
        pending.extend(_walk_refs(shared))
    # Security schemes are inlined: several tools do not follow references there.
    for name, scheme in list(components.get("securitySchemes", {}).items()):
        if isinstance(scheme, dict) and "$ref" in scheme:
            components["securitySchemes"][name] = copy.deepcopy(
                _pointer_get(common, scheme["$ref"].partition("#")[2])
            )
    return doc


# --- strict variant ---------------------------------------------------------------------------

def _deep_merge(base: dict, patch: dict) -> dict:
    merged = dict(base)
    for key, value in patch.items():
        if value is None:
            merged.pop(key, None)
        elif isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def _apply_conflicts(node: Any, only: frozenset[str] | None) -> Any:
    if isinstance(node, list):
        out = [_apply_conflicts(item, only) for item in node]
        return [item for item in out if item is not _REMOVE]
    if not isinstance(node, dict):
        return node
    conflict = node.get("x-doc-conflict")
    if isinstance(conflict, dict) and (only is None or conflict.get("id") in only):
        marker = {k: v for k, v in conflict.items() if k not in ("strict", "strict_patch")}
        marker["applied"] = True
        if "strict" in conflict:
            if conflict["strict"] is None:
                return _REMOVE
            node = {**copy.deepcopy(conflict["strict"]), "x-doc-conflict": marker}
        elif "strict_patch" in conflict:
            node = _deep_merge({k: v for k, v in node.items() if k != "x-doc-conflict"},
                               conflict["strict_patch"])
            node["x-doc-conflict"] = marker
    out = {}
    for key, value in node.items():
        if key == "x-doc-conflict":
            out[key] = value
            continue
        converted = _apply_conflicts(value, only)
        if converted is not _REMOVE:
            out[key] = converted
    return out


def strict_variant(doc: dict, only: Iterable[str] | None = None) -> dict:
    """The strict form of ``doc``; with ``only``, apply just those conflict ids."""
    result = _apply_conflicts(copy.deepcopy(doc), None if only is None else frozenset(only))
    if result is _REMOVE:
        raise SpecError("a whole document cannot be marked strict: null")
    return result


def conflict_ids(doc: Any) -> set[str]:
    """Every conflict id marked anywhere in ``doc``."""
    found: set[str] = set()
    if isinstance(doc, dict):
        conflict = doc.get("x-doc-conflict")
        if isinstance(conflict, dict) and "id" in conflict:
            found.add(conflict["id"])
        for value in doc.values():
            found |= conflict_ids(value)
    elif isinstance(doc, list):
        for item in doc:
            found |= conflict_ids(item)
    return found


# --- public loaders ---------------------------------------------------------------------------

def load_family(family: str, strict: bool = False, only: Iterable[str] | None = None) -> dict:
    """A family's spec, bundled; strict (or strict for the ``only`` conflicts) on request."""
    doc = bundle(source(family))
    if strict or only is not None:
        doc = strict_variant(doc, only)
    return doc


def combine(docs: dict[str, dict]) -> dict:
    """One document holding every family, so that links may cross families (redeem -> reverse)."""
    combined: dict = {
        "openapi": "3.1.0",
        "info": {
            "title": "Points API (all families)",
            "version": "combined",
            "description": "Combined by conformance.specs.openapi from " + ", ".join(docs) + ".",
        },
        "servers": [{"url": "/"}],
        "paths": {},
        "components": {},
    }
    taken: dict[tuple[str, str], Any] = {}
    for family, doc in docs.items():
        doc = _rename_colliding(doc, family, taken)
        for path, item in doc.get("paths", {}).items():
            if path in combined["paths"]:
                raise SpecError(f"path {path} is defined by two families")
            item = copy.deepcopy(item)
            for method in HTTP_METHODS:
                if method in item:
                    item[method].setdefault("security", copy.deepcopy(doc.get("security", [])))
                    item[method]["x-family"] = family
            combined["paths"][path] = item
        for kind, section in doc.get("components", {}).items():
            target = combined["components"].setdefault(kind, {})
            for name, value in section.items():
                target[name] = value
                taken[(kind, name)] = value
    return combined


def _rename_colliding(doc: dict, family: str, taken: dict[tuple[str, str], Any]) -> dict:
    """Prefix the family's components whose names an earlier family used for something else."""
    doc = copy.deepcopy(doc)
    prefix = "".join(part.capitalize() for part in family.replace(".", "").split("-")) + "_"
    renames: dict[str, str] = {}
    for kind, section in doc.get("components", {}).items():
        for name in list(section):
            if (kind, name) in taken and taken[(kind, name)] != section[name]:
                section[prefix + name] = section.pop(name)
                renames[f"#/components/{kind}/{name}"] = f"#/components/{kind}/{prefix}{name}"
    for ref_node in _walk_refs(doc):
        ref_node["$ref"] = renames.get(ref_node["$ref"], ref_node["$ref"])
    return doc


def load_combined(strict: bool = False) -> dict:
    return combine({family: load_family(family, strict) for family in FAMILIES})


def spec_version() -> str:
    """A short fingerprint of the spec sources, so a report says which specs judged the run."""
    digest = hashlib.sha256()
    for name in sorted([*FAMILIES.values(), COMMON_FILE]):
        digest.update(name.encode())
        digest.update((openapi_dir() / name).read_bytes())
    return digest.hexdigest()[:12]


def iter_operations(doc: dict, family: str = "") -> Iterator[Operation]:
    for path, item in doc.get("paths", {}).items():
        for method in HTTP_METHODS:
            if method in item:
                op = item[method]
                yield Operation(op.get("x-family", family), method, path, op["operationId"], op)


def resolve(doc: dict, node: Any) -> Any:
    """Follow local ``$ref`` chains at the top of ``node``."""
    seen = set()
    while isinstance(node, dict) and "$ref" in node:
        ref = node["$ref"]
        if ref in seen:
            raise SpecError(f"reference cycle at {ref}")
        seen.add(ref)
        node = _pointer_get(doc, ref.partition("#")[2])
    return node


def validation_schema(doc: dict, schema: dict) -> dict:
    """A standalone JSON Schema (2020-12) for ``schema`` whose local refs resolve in ``doc``."""
    return {"components": doc.get("components", {}), "allOf": [schema]}


def response_schema(doc: dict, operation_id: str, status: str, media: str) -> dict | None:
    for op in iter_operations(doc):
        if op.operation_id == operation_id:
            response = resolve(doc, op.definition.get("responses", {}).get(status))
            if response is None:
                return None
            content = response.get("content", {}).get(media)
            return None if content is None else content["schema"]
    raise SpecError(f"no operation {operation_id!r}")


def request_schema(doc: dict, operation_id: str, media: str) -> dict | None:
    for op in iter_operations(doc):
        if op.operation_id == operation_id:
            body = resolve(doc, op.definition.get("requestBody"))
            if body is None:
                return None
            content = body.get("content", {}).get(media)
            return None if content is None else content["schema"]
    raise SpecError(f"no operation {operation_id!r}")
