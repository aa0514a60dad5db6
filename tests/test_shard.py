"""`run --shard I/N` and `merge`: three shards of a run, merged, judge as one unsharded run does."""

from __future__ import annotations

import json
import shutil

import jsonschema
import pytest

from conformance import server
from conformance.paths import fixtures_dir
from conformance.report import results
from conformance.report.coverage import Coverage, union
from tests.conftest import run_cli

REFERENCE_PROFILE = fixtures_dir() / "profiles" / "reference.yaml"
FAULT = "contract.renamed-field"
SMALL = ("--max-examples", "1", "--seed", "11")
SHARDS = 3  # a first, a middle and a last shard


def _run(url: str, report_dir, *extra: str):
    return run_cli("run", "--base-url", url, "--profile", str(REFERENCE_PROFILE), *SMALL,
                   "--report-dir", str(report_dir), *extra)


def _failed(data: dict) -> list[str]:
    return sorted(r["id"] for r in data["requirements"] if r["status"] == "failed")


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """One unsharded run and the three shards of another, each against the faulty server."""
    root = tmp_path_factory.mktemp("shards")
    with server.run_in_thread(faults=(FAULT,)) as reference:
        whole = _run(reference.base_url, root / "whole")
    shard_dirs, shard_runs = [], []
    # The shards of one run share their target, as CI matrix jobs share the staging system.
    with server.run_in_thread(faults=(FAULT,)) as reference:
        for index in range(1, SHARDS + 1):
            shard_dirs.append(root / f"shard-{index}")
            shard_runs.append(_run(reference.base_url, shard_dirs[-1],
                                   "--shard", f"{index}/{SHARDS}"))
    merged = run_cli("merge", *map(str, shard_dirs), "--report-dir", str(root / "merged"))
    return {"root": root, "whole": whole, "shard_dirs": shard_dirs, "shard_runs": shard_runs,
            "merged": merged}


def _data(path) -> dict:
    return json.loads((path / "results.json").read_text())


def test_merged_shards_give_the_verdict_and_failed_ids_of_one_run(runs):
    whole, merged = runs["whole"], runs["merged"]
    assert whole.returncode == 1, whole.stdout[-2000:] + whole.stderr[-2000:]
    assert merged.returncode == whole.returncode, merged.stdout + merged.stderr[-2000:]
    one, joined = _data(runs["root"] / "whole"), _data(runs["root"] / "merged")
    assert joined["verdict"] == one["verdict"] == "non-conformant"
    assert _failed(joined) == _failed(one)
    assert "CON-01" in _failed(joined)
    assert "verdict: non-conformant" in merged.stdout
    assert "partial" not in joined  # every shard given: the whole catalog was selected
    assert not any(r["status"] == "not-selected" for r in joined["requirements"])


def test_each_shard_is_partial_and_names_the_shard_judging_what_it_left_out(runs):
    carried_by = {}
    for index, (path, run) in enumerate(zip(runs["shard_dirs"], runs["shard_runs"],
                                            strict=True), start=1):
        assert run.returncode in (0, 1, 4), run.stderr[-2000:]
        assert "partial:" in run.stdout
        data = _data(path)
        assert data["partial"]["selected"] < data["partial"]["total"]
        assert data["fingerprint"]["options"]["shard"] == [index, SHARDS]
        for row in data["requirements"]:
            if row["status"] == "not-selected":
                assert row["reason"].startswith(f"not selected (--shard {index}/{SHARDS}): "
                                                "judged in shard"), row
            else:
                carried_by.setdefault(row["id"], []).append(index)
    # The scenarios' requirements only in shard 1, the link walk's (CON-08) only in the last.
    assert carried_by["REV-02"] == [1]
    assert carried_by["CON-08"] == [SHARDS]
    rows = {r["id"]: r for r in _data(runs["shard_dirs"][1])["requirements"]}
    assert rows["REV-02"]["reason"] == "not selected (--shard 2/3): judged in shard 1/3"
    rows = {r["id"]: r for r in _data(runs["shard_dirs"][0])["requirements"]}
    assert rows["CON-08"]["reason"] == "not selected (--shard 1/3): judged in shard 3/3"


def _operation_tests(path) -> set[str]:
    """The operations a shard fuzzed, as its results.json counts them."""
    return {label for label, counted in _data(path)["fuzz"]["per_operation"].items()
            if counted["test_cases"]}


def test_each_fuzzed_operation_runs_in_exactly_one_shard(runs):
    per_shard = [_operation_tests(path) for path in runs["shard_dirs"]]
    assert all(per_shard), "a shard fuzzed no operation"
    for i, ops in enumerate(per_shard):
        for j, others in enumerate(per_shard):
            assert i == j or not ops & others
    assert set().union(*per_shard) == _operation_tests(runs["root"] / "whole")
    assert sum(map(len, per_shard)) == 11
    joined = _data(runs["root"] / "merged")["fuzz"]
    assert joined["test_cases"] == sum(_data(p)["fuzz"]["test_cases"] for p in runs["shard_dirs"])


def test_the_merged_folder_holds_valid_reports_of_every_shard(runs):
    out = runs["root"] / "merged"
    data = _data(out)
    jsonschema.validate(data, results.schema())
    assert results.RunResult.from_json(data).verdict == data["verdict"]
    assert [s["shard"] for s in data["fingerprint"]["shards"]] == ["1/3", "2/3", "3/3"]
    assert "Non-conformant" in (out / "index.html").read_text()
    coverage = json.loads((out / "coverage.json").read_text())
    parts = [Coverage.from_json(json.loads((p / "coverage.json").read_text()))
             for p in runs["shard_dirs"]]
    assert coverage["percent"] >= max(part.percent for part in parts)
    assert coverage["percent"] == union(parts).percent
    exchanges = (out / "exchanges.ndjson").read_text().splitlines()
    assert len(exchanges) == sum(len((p / "exchanges.ndjson").read_text().splitlines())
                                 for p in runs["shard_dirs"])
    assert set(data["report_files"]) >= {"index.html", "coverage.json", "exchanges.ndjson"}


def _refused(*args: str):
    result = run_cli("merge", *args)
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr, result.stderr
    return result.stderr


def test_merge_refuses_a_missing_shard(runs, tmp_path):
    dirs = list(map(str, runs["shard_dirs"]))
    line = _refused(dirs[0], dirs[2], "--report-dir", str(tmp_path / "out"))
    assert "shard 2/3 missing" in line
    assert not (tmp_path / "out").exists()


def test_merge_refuses_a_shard_given_twice(runs, tmp_path):
    dirs = list(map(str, runs["shard_dirs"]))
    copy = tmp_path / "again"
    shutil.copytree(dirs[1], copy)
    line = _refused(*dirs, str(copy), "--report-dir", str(tmp_path / "out"))
    assert "shard 2/3 given twice" in line


@pytest.mark.parametrize(("part", "change"), [
    ("seed", lambda fp: fp.update(seed=fp["seed"] + 1)),
    ("options.max_examples", lambda fp: fp["options"].update(max_examples=500)),
    ("profile", lambda fp: fp["profile"]["program"].update(points_multiple=1)),
    ("specs", lambda fp: fp["specs"].update({next(iter(fp["specs"])): "0" * 64})),
    ("versions", lambda fp: fp["versions"].update(schemathesis="0.0.1")),
])
def test_merge_refuses_shards_of_different_runs(runs, tmp_path, part, change):
    other = tmp_path / "other-run"
    shutil.copytree(runs["shard_dirs"][1], other)
    data = _data(other)
    change(data["fingerprint"])
    (other / "results.json").write_text(json.dumps(data))
    dirs = [str(runs["shard_dirs"][0]), str(other), str(runs["shard_dirs"][2])]
    line = _refused(*dirs, "--report-dir", str(tmp_path / "out"))
    assert "shards of different runs" in line and f"differ in {part}" in line
    assert not (tmp_path / "out").exists()


def test_merge_refuses_a_run_that_was_not_sharded(runs, tmp_path):
    line = _refused(*map(str, runs["shard_dirs"][:2]), str(runs["root"] / "whole"),
                    "--report-dir", str(tmp_path / "out"))
    assert "not a shard" in line


def test_a_malformed_shard_is_a_usage_error_naming_the_flag(tmp_path):
    result = run_cli("run", "--shard", "5/4", "--seed", "1", "--report-dir", str(tmp_path / "r"))
    assert result.returncode == 2 and "--shard 5/4" in result.stderr
    assert result.stderr.count("\n") == 1
    assert not (tmp_path / "r").exists()


def test_a_shard_without_a_seed_is_a_usage_error(tmp_path):
    result = run_cli("run", "--shard", "1/4", "--report-dir", str(tmp_path / "r"))
    assert result.returncode == 2 and "--seed" in result.stderr
    assert result.stderr.count("\n") == 1


def test_a_shard_of_a_narrowed_run_names_the_option_that_left_each_id_out(tmp_path):
    with server.run_in_thread() as reference:
        result = _run(reference.base_url, tmp_path, "--suite", "fuzz", "--only", "CON-01",
                      "CON-08", "--shard", "2/4")
    # 0, or 4 when this shard's few fuzzed calls got no XML answer for CON-02 to judge: a
    # shard without the scenarios may not, and merge judges CON-02 over every shard.
    assert result.returncode in (0, 4), result.stdout[-2000:] + result.stderr[-2000:]
    rows = {r["id"]: r for r in _data(tmp_path)["requirements"]}
    assert rows["CON-01"]["status"] == "passed"
    assert rows["CON-08"]["reason"] == "not selected (--shard 2/4): judged in shard 4/4"
    assert rows["REV-02"]["reason"] == "not selected (--only)"
