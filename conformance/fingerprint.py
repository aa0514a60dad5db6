"""What a run's result depends on besides the target: recorded in every report.

A result that changes from one day to the next with the same target and options can then be
traced to a release of a library the suite runs on (CI installs the newest allowed versions,
as users do).
"""

from __future__ import annotations

import platform
from importlib import metadata

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
