"""Every fault switch of the reference server makes exactly its requirements fail.

For each fault of conformance.faults: the reference server with that one fault (fresh
database, free loopback port) and ``points-conformance run --suite scenarios --only <the
fault's ids>`` against it, as a user runs it; the ids that fail must be exactly the fault's,
with no error. A fault no requirement describes is run against every scenario, none of which
may fail. One clean run (no fault, every scenario) must pass every scenario id.

The runs are subprocesses (pytest.main does not run twice in one process), two at a time;
select them alone with ``pytest tests/test_faults.py`` or ``-m faults``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from conformance import catalog, server
from conformance.faults import CATALOG, FAULT_EXPECTATIONS, faults_for
from conformance.paths import fixtures_dir

pytestmark = pytest.mark.faults

PROFILE = fixtures_dir() / "profiles" / "reference.yaml"
SCENARIO_IDS = tuple(r.id for r in catalog.requirements() if r.area != "contract")
WORKERS = 2
RUN_TIMEOUT_S = 120
CLEAN = ""  # the run with no fault


@dataclass(frozen=True)
class Outcome:
    """One scenario run against one server: each requirement's status and reason."""

    fault: str
    statuses: dict[str, str]
    reasons: dict[str, str]
    seconds: float
    output: str

    def ids(self, status: str) -> set[str]:
        return {req_id for req_id, value in self.statuses.items() if value == status}

    def explain(self, req_ids: set[str]) -> str:
        lines = [f"  {i} {self.statuses.get(i)}: {self.reasons.get(i, '')[:300]}"
                 for i in sorted(req_ids)]
        return "\n".join(lines) or "  (none)"


def scenario_run(fault: str, only: tuple[str, ...], pycache: Path) -> Outcome:
    """Run the scenarios of ``only`` (all when empty) against a server with ``fault`` on.

    ``pycache`` keeps the bytecode of pytest's assertion rewriting between runs: without it
    (PYTHONDONTWRITEBYTECODE) every run spends some 3 s rewriting the plugins it loads.
    """
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="pc-fault-") as tmp, \
            server.run_in_thread(faults=(fault,) if fault else ()) as target:
        report_dir = Path(tmp) / "report"
        command = [sys.executable, "-m", "conformance", "run", "--base-url", target.base_url,
                   "--profile", str(PROFILE), "--suite", "scenarios", "--max-examples", "1",
                   "--report-dir", str(report_dir)]
        if only:
            command += ["--only", *only]
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        env["PYTHONPYCACHEPREFIX"] = str(pycache)
        # cwd outside the checkout: pytest must not pick up this repository's conftest.py.
        done = subprocess.run(command, capture_output=True, text=True, timeout=RUN_TIMEOUT_S,
                              cwd=tmp, env=env)
        results = report_dir / "results.json"
        output = (done.stdout[-3000:] + done.stderr[-3000:]).strip()
        if not results.is_file():
            raise AssertionError(f"fault {fault or '(none)'}: no results.json (exit "
                                 f"{done.returncode})\n{output}")
        rows = json.loads(results.read_text(encoding="utf-8"))["requirements"]
    selected = set(only or SCENARIO_IDS)
    return Outcome(fault, {r["id"]: r["status"] for r in rows if r["id"] in selected},
                   {r["id"]: r["reason"] for r in rows if r["id"] in selected},
                   time.monotonic() - started, output)


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Outcome]:
    """The clean run (alone: it fills the bytecode cache), then every fault's, two at a time."""
    pycache = tmp_path_factory.mktemp("pycache")
    found = {CLEAN: scenario_run(CLEAN, SCENARIO_IDS, pycache)}
    with ThreadPoolExecutor(WORKERS, thread_name_prefix="fault-run") as pool:
        futures = {f.name: pool.submit(scenario_run, f.name, tuple(sorted(f.ids)), pycache)
                   for f in CATALOG}
        found.update((name, future.result()) for name, future in futures.items())
    return found


def test_every_server_fault_has_an_expectation_and_none_is_stale() -> None:
    assert set(FAULT_EXPECTATIONS) == set(server.FAULTS)
    assert len(CATALOG) == len(FAULT_EXPECTATIONS), "a fault is listed twice"


def test_expectations_name_scenario_requirements_only() -> None:
    for fault in CATALOG:
        assert fault.ids <= set(SCENARIO_IDS), fault
        assert fault.description and "\n" not in fault.description, fault.name


def test_every_scenario_requirement_has_a_fault_that_fails_it() -> None:
    assert [i for i in SCENARIO_IDS if not faults_for(i)] == []


def test_clean_run_passes_every_scenario(outcomes: dict[str, Outcome]) -> None:
    clean = outcomes[CLEAN]
    others = set(SCENARIO_IDS) - clean.ids("passed")
    assert not others, f"not passed on the reference server:\n{clean.explain(others)}"


@pytest.mark.parametrize("fault", [f.name for f in CATALOG])
def test_fault_fails_exactly_its_requirements(outcomes: dict[str, Outcome], fault: str) -> None:
    run = outcomes[fault]
    expected = FAULT_EXPECTATIONS[fault]
    failed, errors = run.ids("failed"), run.ids("error")
    assert not errors, f"{fault}: scenarios errored:\n{run.explain(errors)}"
    assert failed == expected, (
        f"{fault}: expected {sorted(expected) or 'nothing'} to fail, got {sorted(failed)}\n"
        f"missed:\n{run.explain(expected - failed)}\nextra:\n{run.explain(failed - expected)}")
