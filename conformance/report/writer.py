"""Write a run's reports into its folder: results.json, junit.xml, the self-contained index.html.

All come from the same ``RunResult.to_json()`` dict (already redacted); the page is one
autoescaped Jinja2 template, so anything a target sends back is shown as text, never as markup;
junit.xml is rendered by ``report.junit``, for aborted runs too.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import tempfile
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import quote

import jinja2
from markupsafe import Markup

from conformance.report import junit
from conformance.report.results import STATUSES, RunResult, by_consequence, scrub
from conformance.target.redaction import REDACTOR

RESULTS_FILE = "results.json"
COVERAGE_FILE = "coverage.json"
HTML_FILE = "index.html"
JUNIT_FILE = "junit.xml"
PYTEST_HTML_FILE = "pytest-report.html"
REPORT_MODE = 0o644  # world-readable: CI artifact servers and colleagues read reports
REPORT_NAMES = (RESULTS_FILE, HTML_FILE, COVERAGE_FILE, JUNIT_FILE, PYTEST_HTML_FILE,
                "exchanges.ndjson")
LATEST = "latest"
TEMPLATE = "report.html.j2"
SCRIPT = "report.js"
# Bodies longer than this are collapsed in <details> so a failure stays readable at a glance.
LONG_BODY_CHARS = 600
LONG_BODY_LINES = 12
_EMPTY_CONTAINER = re.compile(r"([\[{])\n\s*([\]}])")
VERDICT_TEXT = {"conformant": "Conformant", "non-conformant": "Non-conformant",
                "incomplete": "Incomplete", "aborted": "Aborted"}


def write_reports(result: RunResult, report_dir: Path, *,
                  pytest_html: str | None = None) -> dict[str, Path]:
    """Write results.json, junit.xml and index.html into ``report_dir``; returns their paths
    by file name."""
    report_dir = Path(report_dir)
    report_dir.mkdir(parents=True, exist_ok=True)
    data = result.to_json()
    paths = {RESULTS_FILE: report_dir / RESULTS_FILE, HTML_FILE: report_dir / HTML_FILE,
             JUNIT_FILE: report_dir / JUNIT_FILE}
    _write_atomic(paths[RESULTS_FILE], json.dumps(data, indent=2, ensure_ascii=False) + "\n")
    _write_atomic(paths[JUNIT_FILE], junit.render(result))
    if result.coverage is not None and result.coverage.operations:
        paths[COVERAGE_FILE] = report_dir / COVERAGE_FILE
        _write_atomic(paths[COVERAGE_FILE], json.dumps(scrub(result.coverage.to_json()),
                                                       indent=2, ensure_ascii=False) + "\n")
    link = _relative_link(pytest_html, report_dir) if pytest_html else None
    _write_atomic(paths[HTML_FILE], render_html(result, pytest_html=link))
    return paths


def seal(result: RunResult, report_dir: Path) -> None:
    """Once every report file is written and closed: their digests into results.json, so a
    certification package can refuse a report changed after the run."""
    from conformance.report.package import report_digests

    result.report_files = report_digests(Path(report_dir))
    _write_atomic(Path(report_dir) / RESULTS_FILE,
                  json.dumps(result.to_json(), indent=2, ensure_ascii=False) + "\n")
    make_readable(Path(report_dir))


def make_readable(report_dir: Path) -> None:
    """Every report file the run wrote 0644, pytest's (junit.xml, its page) included, which it
    creates under the umask; other files in the folder are left as they are."""
    for name in REPORT_NAMES:
        path = report_dir / name
        if path.is_file() and not path.is_symlink():
            os.chmod(path, REPORT_MODE)


def write_text(path: Path, text: str) -> None:
    """Write one more report file beside the others: atomically, world-readable."""
    _write_atomic(Path(path), text)


def render_html(result: RunResult, *, pytest_html: str | None = None,
                junit: str = JUNIT_FILE) -> str:
    """The report page of a run (built by the collector, or loaded from its results.json)."""
    r = scrub(result.to_json())  # a loaded result may predate a secret the redactor now knows
    env = _environment()
    script = _script()
    rows = {row["id"]: row for row in r["requirements"]}
    fuzz_by_id: dict[str, list[dict[str, Any]]] = {}
    for failure in r["fuzz"]["failures"]:
        fuzz_by_id.setdefault(failure["id"], []).append(failure)
    failures = [_failure_view(rows[row.id], fuzz_by_id.get(row.id, []))
                for row in by_consequence(result.requirements)]
    blocking = {row.id for row in result.blocking}
    must_failed = [row for row in failures if row["id"] in blocking]
    fuzz_failures, seen_ids = [], set()
    for failure in r["fuzz"]["failures"]:
        exchange = _evidence_view(failure["exchange"]) if failure.get("exchange") else None
        fuzz_failures.append({**failure, "exchange": exchange,
                              "first_of_id": failure["id"] not in seen_ids})
        seen_ids.add(failure["id"])
    status_counts = {status: sum(1 for row in r["requirements"] if row["status"] == status)
                     for status in STATUSES}
    unverified_ids = {row.id for row in result.unverified}
    return env.get_template(TEMPLATE).render(
        r=r,
        verdict_text=VERDICT_TEXT.get(r["verdict"], r["verdict"]),
        duration=_duration(r["duration_s"]),
        must_failed=must_failed,
        why=why_line(result),
        matrix_reason=matrix_reason,
        areas=_areas_view(r["requirements"]),
        unverified=[row for row in r["requirements"]  # scrubbed rows, in the result's order
                    if row["id"] in unverified_ids],
        known_count=sum(1 for row in r["requirements"] if row["known"]),
        advisory_count=sum(1 for row in r["requirements"] if row["level"] == "SHOULD"
                           and row["status"] in ("failed", "error")),
        status_counts=status_counts,
        failures=failures,
        failure_ids={row["id"] for row in failures},
        fuzz_failures=fuzz_failures,
        selftest=_selftest_view(r.get("selftest")),
        coverage=_coverage_view(result),
        coverage_shortfall=result.coverage_shortfall,
        versions=", ".join(f"{name} {version}" for name, version in
                           r.get("fingerprint", {}).get("versions", {}).items()),
        fp=r.get("fingerprint", {}),
        fp_text=json.dumps({key: r.get("fingerprint", {}).get(key)
                            for key in ("options", "profile", "specs")}, indent=2),
        junit=junit,
        pytest_html=pytest_html,
        long_chars=LONG_BODY_CHARS,
        long_lines=LONG_BODY_LINES,
        script=Markup(script),  # our own file, not data: the CSP hash below pins it
        script_hash=_csp_hash(script),
    )


def why_line(result: RunResult) -> str | None:
    """What made the run non-conformant, in one line: the first failure a reader should read."""
    if result.verdict != "non-conformant":
        return None
    first = next(iter(by_consequence(result.blocking)), None)
    if first is None:
        return result.coverage_shortfall
    more = len(result.blocking) - 1
    tail = f" (and {more} more MUST requirement{'s' if more != 1 else ''})" if more else ""
    reason = _one_line(without_test_label(first.reason))
    return REDACTOR.text(f"{first.id} {first.status}: {reason}{tail}")


# "test_redemption.py::test_x[case]: " before a reason: the page names the test elsewhere; a
# one-line summary (the why line, the terminal's FAIL lines) has room for the reason only.
_TEST_LABEL = re.compile(r"^[\w/.-]+\.py::\w+(\[[^\]]*\])?: ")


def without_test_label(reason: str) -> str:
    return _TEST_LABEL.sub("", reason)


def _one_line(text: str, width: int = 160) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[:width - 1] + "…"


_AREA_TITLES = {"otp": "OTP"}
_BAR_STATUSES = ("failed", "error", "skipped", "passed", "not-applicable")


def _areas_view(rows: list[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Per area of the catalog: counts by status and the widths of a stacked bar."""
    from conformance.specs import catalog

    area_of = {req.id: req.area for req in catalog.requirements()}
    out = []
    for area in catalog.AREAS:
        mine = [row for row in rows if area_of.get(row["id"]) == area
                and row["status"] != "not-selected"]
        counts = {status: sum(1 for row in mine if row["status"] == status)
                  for status in _BAR_STATUSES}
        total = sum(counts.values())
        failing = [row["id"] for row in mine if row["status"] in ("failed", "error")]
        out.append({"name": _AREA_TITLES.get(area, area), "total": total, "counts": counts,
                    "failing": failing,
                    "widths": {status: f"{100 * n / total:.1f}%" if total else "0%"
                               for status, n in counts.items()}})
    return out


_DIMENSION_TITLES = {"statuses": "HTTP statuses", "codes": "business codes",
                     "parameters": "parameters and body fields", "formats": "formats"}


def _coverage_view(result: RunResult) -> dict[str, Any] | None:
    """The coverage section: operations weakest first, a bar per dimension, never-seen items."""
    if result.coverage is None:
        return None
    from conformance.report.coverage import DIMENSIONS

    data = scrub(result.coverage.to_json())

    def cell(dim: Mapping[str, Any]) -> dict[str, Any]:
        return {"seen": dim["seen"], "documented": dim["documented"],
                "percent": dim["percent"], "width": f"{dim['percent']:.0f}%"}

    def missing(name: str, items: list) -> list[str]:
        if name == "codes":
            return [f"{c['family']} {c['code']}" + (f" ({', '.join(c['requirements'])})"
                                                   if c["requirements"] else "") for c in items]
        return [str(item) for item in items]

    operations = sorted(data["operations"], key=lambda op: (op["percent"], op["operation"]))
    return {
        "percent": data["percent"],
        "min_coverage": result.min_coverage,
        "line": result.coverage.line(),
        "titles": _DIMENSION_TITLES,
        "dimensions": DIMENSIONS,
        "total": {name: cell(data["total"][name]) for name in DIMENSIONS},
        "weakest": operations[0]["operation"] if operations else None,
        "operations": [{"operation": op["operation"], "operation_id": op["operation_id"],
                        "percent": op["percent"], "width": f"{op['percent']:.0f}%",
                        "cells": {name: cell(op[name]) for name in DIMENSIONS},
                        "missing": {name: missing(name, op[name]["never_seen"])
                                    for name in DIMENSIONS if op[name]["never_seen"]},
                        "undocumented": op["undocumented_statuses"]}
                       for op in operations],
        "codes_missing": [c for c in data["codes"] if not c["seen"]],
    }


def update_latest(reports_root: Path, report_dir: Path) -> Path:
    """Point ``reports_root/latest`` at ``report_dir``: a symlink, else a text file naming it.

    Raises FileExistsError when ``latest`` is a real directory, which is never ours to remove.
    """
    reports_root, report_dir = Path(reports_root), Path(report_dir)
    reports_root.mkdir(parents=True, exist_ok=True)
    latest = reports_root / LATEST
    if latest.is_dir() and not latest.is_symlink():
        raise FileExistsError(f"{latest} is a directory; not replacing it with a link")
    # Relative, so the reports folder can be moved or archived and latest still resolves.
    try:
        target = os.path.relpath(report_dir.resolve(), reports_root.resolve())
    except ValueError:  # another drive on Windows
        target = str(report_dir.resolve())
    # Build the new link beside the old one and rename it over: concurrent runs and readers
    # never see a missing or half-written latest.
    tmp = reports_root / f".{LATEST}.{os.getpid()}.tmp"
    try:
        tmp.unlink(missing_ok=True)
        os.symlink(target, tmp, target_is_directory=True)
    except (OSError, NotImplementedError):
        # Windows without the symlink privilege, or a file system without symlinks.
        tmp.unlink(missing_ok=True)
        tmp.write_text(Path(target).as_posix() + "\n", encoding="utf-8")
    os.replace(tmp, latest)
    return latest


def render_template(name: str, **context: Any) -> str:
    """Render one of the report's templates (autoescaped, strict about undefined names)."""
    return _environment().get_template(name).render(**context)


# --- helpers ----------------------------------------------------------------------------------

@cache
def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("conformance.report", "templates"),
        autoescape=True,  # the template name ends in .j2, so select_autoescape would miss it
        undefined=jinja2.StrictUndefined,  # a typo in the template fails the tests, not silently
        trim_blocks=False,
        keep_trailing_newline=True,
    )


@cache
def _script() -> str:
    env = _environment()
    assert env.loader is not None
    source, _, _ = env.loader.get_source(env, SCRIPT)
    return source


def _csp_hash(script: str) -> str:
    digest = hashlib.sha256(script.encode("utf-8")).digest()
    return "sha256-" + base64.b64encode(digest).decode("ascii")


def _write_atomic(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(text)
        # mkstemp makes the file owner-only; a report is read by artifact servers and
        # colleagues, whatever the umask of the shell that ran it.
        os.chmod(tmp, REPORT_MODE)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _relative_link(target: str, report_dir: Path) -> str:
    path = Path(target)
    if path.is_absolute():
        try:
            path = Path(os.path.relpath(path, report_dir.resolve()))
        except ValueError:  # another drive on Windows: an absolute file link still works
            return path.as_uri()
    return quote(path.as_posix())


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min {rest} s" if hours else f"{minutes} min {rest} s"


def _pretty(body: str | None) -> str | None:
    """Re-indent a JSON body for reading; anything else is shown exactly as received."""
    if not body or body.lstrip()[:1] not in ("{", "["):
        return body
    try:
        json.loads(body)
    except ValueError:
        return body
    return _reindent(body)


def _reindent(text: str) -> str:
    # Only whitespace between tokens changes: json.dumps(json.loads()) would merge duplicate
    # keys and rewrite numbers (10.50 -> 10.5), hiding exactly what a conformance report shows.
    out: list[str] = []
    depth, in_string, escaped = 0, False, False
    for ch in text:
        if in_string:
            out.append(ch)
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch in " \t\r\n":
            continue
        elif ch == '"':
            in_string = True
            out.append(ch)
        elif ch in "{[":
            depth += 1
            out.append(ch + "\n" + "  " * depth)
        elif ch in "}]":
            depth -= 1
            out.append("\n" + "  " * depth + ch)
        elif ch == ",":
            out.append(",\n" + "  " * depth)
        elif ch == ":":
            out.append(": ")
        else:
            out.append(ch)
    return _EMPTY_CONTAINER.sub(r"\1\2", "".join(out))


def _evidence_view(item: Mapping[str, Any]) -> dict[str, Any]:
    if item.get("kind") == "note":
        return {"kind": "note", "text": str(item.get("text", ""))}
    elapsed = item.get("elapsed_ms")
    return {
        "kind": "exchange",
        "note": item.get("note") or "",
        "method": item.get("method", ""),
        "url": item.get("url", ""),
        "request_headers": dict(item.get("request_headers") or {}),
        "request_body": _pretty(item.get("request_body")),
        "request_raw": item.get("request_body"),
        "status": item.get("status"),
        "response_headers": dict(item.get("response_headers") or {}),
        "response_body": _pretty(item.get("response_body")),
        "response_raw": item.get("response_body"),
        "elapsed": f"{elapsed:.0f} ms" if isinstance(elapsed, int | float) else "—",
        "error": item.get("error") or "",
        "curl": item.get("curl", ""),
        "id": item.get("id") or "",
        "decisive": bool(item.get("decisive")),
        "hook": bool(_HOOK_NOTE.match(item.get("note") or "")),
        "credentials": _curl_variables(item.get("curl", "")),
    }


_CURL_VARIABLE = re.compile(r"\$(POINTS_[A-Z0-9_]+)")


def _curl_variables(curl: str) -> list[str]:
    """The environment variables a curl line reads, in order of appearance."""
    return list(dict.fromkeys(_CURL_VARIABLE.findall(curl)))


# A reason longer than this shows its head in the failure and the rest on request; the
# matrix shows at most two lines of it.
REASON_HEAD_LINES = 4
REASON_HEAD_CHARS = 400
MATRIX_REASON_CHARS = 220
_NODE_ID = re.compile(r"^[\w./-]+\.py::\S+: ")
_HOOK_NOTE = re.compile(r"^(OTP|balance|clock) hook:")


def _failure_view(row: Mapping[str, Any], fuzz: list[Mapping[str, Any]]) -> dict[str, Any]:
    """One failure: its reason (head, rest), the exchange that decided it, everything else."""
    evidence = [_evidence_view(item) for item in row.get("evidence", [])]
    exchanges = [item for item in evidence if item["kind"] == "exchange"]
    decisive = [item for item in exchanges if item["decisive"]]
    how = "marked"
    if not decisive and fuzz and fuzz[0].get("exchange"):
        decisive, how = [_evidence_view(fuzz[0]["exchange"])], "fuzz"
        decisive[0]["fuzz_check"] = f"{fuzz[0]['operation']} · {fuzz[0]['check']}"
    elif not decisive:
        # No check named the answer it judged: the test's last call to the API itself
        # (not a hook) is the best guess, and the page says it is one.
        calls = [item for item in exchanges if not _HOOK_NOTE.match(item["note"])]
        if calls:
            decisive, how = [calls[-1]], "last"
    first = decisive[0] if decisive else None
    if first is not None:
        first["decisive"] = True
    head, rest = _split_reason(row["reason"])
    return {**row, "evidence": evidence, "decisive": first, "decided_by": how,
            "also_decisive": [item for item in decisive[1:] if item in evidence],
            "others": [item for item in evidence if item is not first],
            "position": (evidence.index(first) + 1) if first in evidence else None,
            "reason_head": head, "reason_rest": rest, "fuzz_count": len(fuzz)}


def _split_reason(reason: str) -> tuple[str, str]:
    lines = reason.split("\n")
    head = "\n".join(lines[:REASON_HEAD_LINES])
    if len(head) > REASON_HEAD_CHARS:
        cut = head.rfind(" ", 0, REASON_HEAD_CHARS)
        cut = cut if cut > REASON_HEAD_CHARS // 2 else REASON_HEAD_CHARS
        return head[:cut], reason[cut:]
    return head, reason[len(head):]


def matrix_reason(reason: str) -> str:
    """At most two lines of a reason, for the requirement matrix."""
    # The test's node id leads a failure's reason; the failure below names it, the matrix
    # has room only for what went wrong.
    reason = _NODE_ID.sub("", reason, count=1)
    lines = [line for line in reason.split("\n") if line.strip()][:2]
    text = "\n".join(lines)
    if len(text) > MATRIX_REASON_CHARS:
        text = text[:MATRIX_REASON_CHARS - 1].rstrip() + "…"
    elif text != reason.strip():
        text += " …"
    return text


def _selftest_view(selftest: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if not selftest:
        return None
    return {"caught": selftest.get("caught", 0), "total": selftest.get("total", 0),
            "false_failures": selftest.get("false_failures", 0),
            "version": selftest.get("version") or ""}
