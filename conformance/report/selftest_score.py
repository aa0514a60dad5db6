"""The last self-test score of this suite version, kept beside the reports for the HTML page."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from conformance import __version__


def score_path(reports_root: Path = Path("reports")) -> Path:
    return reports_root / f"selftest-{__version__}.json"


def save(summary: dict[str, Any], reports_root: Path = Path("reports")) -> Path:
    """Keep a self-test's summary ({"caught", "total", "false_failures", "version"})."""
    path = score_path(reports_root)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    return path


def last_score(reports_root: Path = Path("reports")) -> dict | None:
    """The last self-test of this version, for the HTML report; None when there is none."""
    try:
        data = json.loads(score_path(reports_root).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if data.get("version") == __version__ else None
