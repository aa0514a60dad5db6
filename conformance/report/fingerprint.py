"""What a run's result depends on besides the target: recorded in every report.

A result that changes from one day to the next with the same target and options can then be
traced to a release of a library the suite runs on (CI installs the newest allowed versions,
as users do).
"""

from __future__ import annotations

import hashlib
import platform
from collections.abc import Mapping
from importlib import metadata
from typing import Any

from conformance.paths import specs_dir
from conformance.specs import openapi

# The distributions whose release can change what a run generates, sends or judges.
LIBRARIES = ("points-conformance", "schemathesis", "hypothesis", "pytest", "jsonschema",
             "xmlschema", "requests")


def versions() -> dict[str, str]:
    """Installed version of each library that shapes a run, and Python's."""
    found: dict[str, str] = {}
    for name in LIBRARIES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = "not installed"
    found["python"] = platform.python_version()
    return found


def versions_line(found: dict[str, str]) -> str:
    """One terminal line: ``versions: schemathesis 4.32.5, hypothesis 6.170.17, …``."""
    return "versions: " + ", ".join(f"{name} {version}" for name, version in found.items()
                                    if name != "points-conformance")


def spec_digests() -> dict[str, str]:
    """SHA-256 of every file of the specs the run judged by (OpenAPI, XSD, catalogs)."""
    root = specs_dir()
    return {path.relative_to(root).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
            for path in sorted(root.rglob("*"))
            if path.is_file() and path.suffix in (".yaml", ".json", ".xsd")}


def document_versions() -> dict[str, str]:
    """The API version each spec family describes (its OpenAPI ``info.version``)."""
    found: dict[str, str] = {}
    for path in sorted((specs_dir() / "openapi").glob("*.yaml")):
        info = (openapi.read_yaml(path) or {}).get("info", {})
        found[path.stem] = f"{info.get('title', path.stem)} {info.get('version', '?')}".strip()
    return found


def of_run(*, seed: int | None, options: Mapping[str, Any],
           profile: Mapping[str, Any]) -> dict[str, Any]:
    """The fingerprint results.json, index.html and the terminal show for a run.

    ``profile`` must already have its secrets masked (``Profile.redacted_dict``).
    """
    return {"seed": seed, "options": dict(options), "profile": dict(profile),
            "versions": versions(), "platform": platform.platform(),
            "documents": document_versions(), "specs": spec_digests()}
