"""The documents' own sample payloads against the specs (fixtures/doc-samples)."""

from __future__ import annotations

import pytest

from conformance.specs import docsamples

ENTRIES = docsamples.manifest()


def test_every_sample_file_is_in_the_manifest_and_back():
    on_disk = {p.name for p in docsamples.samples_dir().iterdir() if p.name != "manifest.yaml"}
    assert on_disk == {e["file"] for e in ENTRIES}


@pytest.mark.parametrize("entry", ENTRIES, ids=[e["file"] for e in ENTRIES])
def test_sample_passes_lenient_and_fails_strict_exactly_on_its_conflicts(entry):
    result = docsamples.check_sample(entry)
    assert result.ok, result.describe()


def test_a_sample_that_breaks_the_spec_is_caught(tmp_path):
    entry = next(e for e in ENTRIES if e["file"] == "reversePoints.request.json")
    (tmp_path / entry["file"]).write_text('{"pointsToBeReversed": 10}')  # no redemptionId
    result = docsamples.check_sample(entry, tmp_path)
    assert not result.ok
    assert "redemptionId" in result.describe()


def test_a_wrongly_listed_conflict_is_caught():
    entry = next(e for e in ENTRIES if e["file"] == "reversePoints.request.json")
    result = docsamples.check_sample({**entry, "conflicts": ["DC-08"]})
    assert not result.ok
    assert "DC-07" in result.describe() and "DC-08" in result.describe()
