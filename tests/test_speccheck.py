"""`points-conformance specs check` as a user runs it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# The vendor documents are not part of this repository: POINTS_SEEDS_DIR names their folder.
SEEDS = Path(os.environ["POINTS_SEEDS_DIR"]) if os.environ.get("POINTS_SEEDS_DIR") else None


def test_specs_check_passes(cli):
    result = cli("specs", "check")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "11 operations" in result.stdout
    assert "specs check: passed" in result.stdout


@pytest.mark.skipif(SEEDS is None or not SEEDS.is_dir(),
                    reason="the vendor documents are not in this repository: set POINTS_SEEDS_DIR")
def test_specs_check_with_the_vendor_documents_reports_full_coverage(cli):
    result = cli("specs", "check", "--docs", str(SEEDS))
    assert result.returncode == 0, result.stdout + result.stderr
    assert " 0 missing" in result.stdout


def test_specs_check_with_a_missing_docs_folder_is_a_usage_error(cli, tmp_path):
    result = cli("specs", "check", "--docs", str(tmp_path / "nope"))
    assert result.returncode == 2
    assert "not a directory" in result.stderr and "Traceback" not in result.stderr


def test_unknown_command_is_a_usage_error(cli):
    result = cli("frobnicate")
    assert result.returncode == 2 and "Traceback" not in result.stderr
