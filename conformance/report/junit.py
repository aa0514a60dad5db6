"""junit.xml from the run's results model: one testcase per requirement id, for CI systems.

A testcase is named ``<ID> <title>``, its classname is the requirement's area, and its
properties carry the level and the documentation references. The file agrees with the exit
code: only a row that makes the run non-conformant (a MUST failed outside the baseline) is a
``<failure>``, only a MUST in error is an ``<error>``; a known failure of the baseline, a SHOULD
finding (an advisory) and every requirement not judged are ``<skipped>`` with the reason.
Everything comes from ``RunResult.to_json()`` (already redacted) and is scrubbed once more.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from typing import Any

from conformance.report.results import RunResult, scrub
from conformance.specs import catalog

SUITE_NAME = "points-conformance"
# Characters XML 1.0 cannot hold at all, even escaped: a target's body may contain them.
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_BODY_CHARS = 2000  # of each response body in a failure's text; the full body is in index.html
_FUZZ_SHOWN = 5


def _clean(text: Any) -> str:
    return _NOT_XML.sub("\ufffd", str(text))


def _clip(text: str, limit: int = _BODY_CHARS) -> str:
    return text if len(text) <= limit else text[:limit] + f"… [{len(text) - limit} more]"


def _evidence_text(item: Mapping[str, Any]) -> str:
    if item.get("kind") == "note":
        return str(item.get("text", ""))
    head = f"{item.get('method', '')} {item.get('url', '')}"
    if item.get("note"):
        head = f"{item['note']}: {head}"
    answer = (f"-> {item['status']}" if item.get("status") is not None
              else f"-> no answer ({item.get('error') or 'no response'})")
    lines = [f"{head} {answer}"]
    if item.get("response_body"):
        lines.append(_clip(str(item["response_body"])))
    if item.get("curl"):
        lines.append(f"repeat: {item['curl']}")
    return "\n".join(lines)


def _details(row: Mapping[str, Any], fuzz: list[Mapping[str, Any]]) -> str:
    """The text of a failure or error: the reason, then the evidence that shows it."""
    parts = [str(row.get("reason") or "")]
    parts += [_evidence_text(item) for item in row.get("evidence", [])]
    for failure in fuzz[:_FUZZ_SHOWN]:
        text = f"fuzzing, {failure['operation']} ({failure['check']}): {failure['message']}"
        if failure.get("exchange"):
            text += "\n" + _evidence_text(failure["exchange"])
        parts.append(text)
    if len(fuzz) > _FUZZ_SHOWN:
        parts.append(f"and {len(fuzz) - _FUZZ_SHOWN} more fuzz failures (see index.html)")
    return "\n\n".join(p for p in parts if p)


def _outcome(row: Mapping[str, Any],
             excused: Mapping[str, Mapping[str, Any]]) -> tuple[str, str] | None:
    """(element, message) for a row, or None for a passed one."""
    status, reason = row["status"], row.get("reason") or ""
    if status == "passed":
        return None
    if status == "failed":
        if row.get("known"):
            entry = excused.get(row["id"], {})
            until = f" (until {entry['until']})" if entry.get("until") else ""
            return "skipped", f"known failure: {entry.get('reason', reason)}{until}"
        if row["level"] != "MUST":
            return "skipped", f"advisory (SHOULD, does not fail the run): {reason}"
        return "failure", reason
    if status == "error":
        if row["level"] != "MUST":
            return "skipped", f"advisory (SHOULD) could not be judged: {reason}"
        return "error", reason
    if status == "not-applicable":
        return "skipped", f"not applicable: {reason}"
    # skipped (an aborted run's untested rows say "not run: <why>") and not-selected
    return "skipped", reason or status


def render(result: RunResult) -> str:
    """junit.xml of a run (finished or aborted) as text."""
    data = scrub(result.to_json())
    areas = {req.id: req.area for req in catalog.requirements()}
    conflicts = {req.id: req.conflicts for req in catalog.requirements()}
    judged = data.get("baseline") or {}
    excused = {entry["id"]: entry for entry in judged.get("excused", [])}
    aborted = data.get("aborted_reason")
    fuzz_by_id: dict[str, list[Mapping[str, Any]]] = {}
    for failure in data["fuzz"]["failures"]:
        fuzz_by_id.setdefault(failure["id"], []).append(failure)

    suite = ET.Element("testsuite", name=SUITE_NAME, timestamp=data["started_at"],
                       time=f"{data['duration_s']:.3f}")
    props = ET.SubElement(suite, "properties")
    run_props = [("verdict", data["verdict"]), ("target", data["target"]),
                 ("suite_version", data["suite_version"]),
                 ("spec_version", data["spec_version"]),
                 ("seed", data.get("fingerprint", {}).get("seed")),
                 ("aborted_reason", aborted)]
    for name, value in run_props:
        if value is not None:
            ET.SubElement(props, "property", name=name, value=_clean(value))
    counts = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    for row in data["requirements"]:
        case = ET.SubElement(suite, "testcase", name=_clean(f"{row['id']} {row['title']}"),
                             classname=areas.get(row["id"], "requirements"), time="0")
        case_props = ET.SubElement(case, "properties")
        ET.SubElement(case_props, "property", name="level", value=row["level"])
        ET.SubElement(case_props, "property", name="status", value=row["status"])
        for seed in row.get("seeds", []):
            ET.SubElement(case_props, "property", name="doc", value=_clean(seed))
        for conflict in conflicts.get(row["id"], ()):
            ET.SubElement(case_props, "property", name="conflict", value=conflict)
        counts["tests"] += 1
        outcome = _outcome(row, excused)
        if outcome is None:
            continue
        element, message = outcome
        node = ET.SubElement(case, element, message=_clean(message))
        if element in ("failure", "error"):
            node.set("type", f"{row['level']} {row['status']}")
            node.text = _clean(_details(row, fuzz_by_id.get(row["id"], [])))
            counts["failures" if element == "failure" else "errors"] += 1
        else:
            if row["status"] in ("failed", "error"):  # a known failure or an advisory
                node.text = _clean(_details(row, fuzz_by_id.get(row["id"], [])))
            counts["skipped"] += 1
    for name, value in counts.items():
        suite.set(name, str(value))
    if aborted:
        ET.SubElement(suite, "system-err").text = _clean(f"run aborted: {aborted}")
    root = ET.Element("testsuites", name=SUITE_NAME, time=suite.get("time", "0"),
                      **{name: str(value) for name, value in counts.items()})
    root.append(suite)
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"
