"""`points-conformance selftest`: the suite against the reference server, clean and faulty.

A fault is caught when exactly the requirement ids run.fault_catalog maps it to fail (and
nothing errors); a false failure is an id not passing on the clean server, which gets the
whole suite (every phase, every scenario) with the settings the contract faults' runs use. The
last result is kept per suite version, so the HTML report of a normal run can show the suite's
own score.
"""

from __future__ import annotations

import contextlib
import json
import multiprocessing
import os
import runpy
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from functools import cache
from pathlib import Path

from conformance import __version__
from conformance.paths import fixtures_dir
from conformance.report import selftest_score
from conformance.report.selftest_score import last_score, score_path  # noqa: F401 (re-exported)
from conformance.run.fault_catalog import CATALOG, SETUPS, VARIANT_GROUPS, Fault
from conformance.specs import catalog

PROFILE = fixtures_dir() / "profiles" / "reference.yaml"
# Each setup of fault_catalog.SETUPS: the server's seed data (None: the reference seed) and the
# profile that describes it to the run.
SETUP_FILES: dict[str, tuple[Path | None, Path]] = {
    "reference": (None, PROFILE),
    "reversal-disabled": (fixtures_dir() / "reversal-disabled-seed.yaml",
                          fixtures_dir() / "profiles" / "reversal-disabled.yaml"),
}
ALL_IDS = tuple(r.id for r in catalog.requirements())
RUN_TIMEOUT_S = 180
# The fuzzing phases of every run: few examples (the coverage phase tries every boundary
# anyway) and a fixed seed by default, so a fault's row is the same from one self-test to the
# next; bench/stress_selftest.py runs it with other seeds, as no fault may be caught by luck.
MAX_EXAMPLES = "10"
SEED = 1
CLEAN = Fault("", frozenset(), "the reference server as it is", suite="all")
# The clean runs of the other setups: the whole suite, nothing may fail or go unverified, and
# every id must pass in at least one clean run (REV-07 passes only where reversals are off).
CLEAN_SETUPS = tuple(Fault("", frozenset(), f"the reference server, setup {name}", suite="all",
                           setup=name) for name in SETUPS if name != "reference")


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


def variant_sets(apart: bool = False) -> tuple[tuple[str, ...], ...]:
    """The sets of legitimate variants the self-test runs, each like the clean server (the
    whole suite, every requirement must pass: a variant is a choice the documents allow):
    fault_catalog.VARIANT_GROUPS, or every variant alone when ``apart``."""
    from conformance import server

    return tuple((name,) for name in server.VARIANTS) if apart else VARIANT_GROUPS


def variant_fault(names: tuple[str, ...]) -> Fault:
    """The run of a set of variants, named after them (``a+b``)."""
    return Fault("+".join(names), frozenset(), "legitimate variants " + ", ".join(names),
                 suite="all")


def fault_run(fault: Fault, pycache: Path, seed: int = SEED, *,
              variants: tuple[str, ...] = ()) -> Outcome:
    """Run ``fault``'s suite against a reference server with that fault on (CLEAN: none), or
    with ``variants`` on instead when given: ``points-conformance run`` in a process of its own
    (pytest.main does not run twice in one process), as a user runs it (see `_run_cli`).
    """
    from conformance import server

    started = time.monotonic()
    switched = (fault.name,) if fault.name and not variants else ()
    seed_data, profile = SETUP_FILES[fault.setup]
    with tempfile.TemporaryDirectory(prefix="pc-fault-") as tmp, \
            server.run_in_thread(seed_data=seed_data, faults=switched,
                                 variants=variants) as target:
        report_dir = Path(tmp) / "report"
        arguments = ["run", "--base-url", target.base_url, "--profile", str(profile),
                     "--suite", fault.suite, "--max-examples", MAX_EXAMPLES, "--seed", str(seed),
                     "--report-dir", str(report_dir)]
        if fault.only:
            arguments += ["--only", *fault.only]
        code, output = _run_cli(arguments, Path(tmp), pycache)
        results = report_dir / "results.json"
        if not results.is_file():
            return Outcome(fault.name, {}, {}, time.monotonic() - started,
                           f"no results.json (exit {code})\n{output}")
        rows = json.loads(results.read_text(encoding="utf-8"))["requirements"]
    selected = set(fault.only or ALL_IDS)
    name = fault.name or (f"clean ({fault.setup})" if fault.setup != "reference" else "")
    return Outcome(name, {r["id"]: r["status"] for r in rows if r["id"] in selected},
                   {r["id"]: r["reason"] for r in rows if r["id"] in selected},
                   time.monotonic() - started, output)


# What every run imports: a fork server loads it once, and each run starts from a copy of that
# process instead of importing it again (about a second of CPU per run, some sixty runs).
_PRELOAD = ["conformance.cli", "conformance.run.runner", "conformance.suite.plugin",
            "conformance.suite.contract_phase", "conformance.checks.linkwalk",
            "conformance.report.writer", "schemathesis", "hypothesis", "pytest", "pytest_html"]


@cache
def _forkserver():
    """The fork server's context, or None where the platform has none (Windows). The first
    call comes from the clean run, before any other run starts."""
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return None
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(_PRELOAD)
    return context


def _run_cli(arguments: list[str], cwd: Path, pycache: Path) -> tuple[int | None, str]:
    """``points-conformance <arguments>`` in a fresh process: its exit code (None: it did not
    end within RUN_TIMEOUT_S) and the end of what it printed.

    ``pycache`` keeps the bytecode of pytest's assertion rewriting between runs: without it
    (PYTHONDONTWRITEBYTECODE) every run spends time rewriting the plugins it loads.
    """
    output_file = cwd / "output.txt"
    code = cli_in_process(arguments, cwd, output_file, pycache=pycache)
    output = output_file.read_text(encoding="utf-8", errors="replace")[-6000:].strip()
    if code is None:
        output += f"\n(stopped: still running after {RUN_TIMEOUT_S} s)"
    return code, output


def cli_in_process(arguments: list[str], cwd: Path, stdout: Path, stderr: Path | None = None,
                   *, pycache: Path | None = None, env: dict[str, str] | None = None,
                   timeout: float = RUN_TIMEOUT_S) -> int | None:
    """``python -m conformance <arguments>`` in a process of its own, forked from the fork
    server (a new interpreter where there is none), in ``cwd`` with ``env`` (default: this
    process's): its exit code, or None when it did not end within ``timeout`` (it is killed).
    What it prints goes to ``stdout`` (and ``stderr``, else the same file)."""
    context = _forkserver()
    if context is None:
        run_env = dict(os.environ if env is None else env)
        if pycache is not None:
            run_env.pop("PYTHONDONTWRITEBYTECODE", None)
            run_env["PYTHONPYCACHEPREFIX"] = str(pycache)
        with stdout.open("wb") as out, contextlib.ExitStack() as files:
            err = files.enter_context(stderr.open("wb")) if stderr else subprocess.STDOUT
            try:
                return subprocess.run(
                    [sys.executable, "-m", "conformance", *arguments], stdout=out, stderr=err,
                    timeout=timeout, cwd=cwd, env=run_env).returncode
            except subprocess.TimeoutExpired:
                return None
    process = context.Process(
        target=_cli_child, name="points-conformance",
        args=(arguments, str(cwd), str(stdout), None if stderr is None else str(stderr),
              None if pycache is None else str(pycache), env))
    process.start()
    process.join(timeout)
    if process.is_alive():
        process.kill()
        process.join()
        return None
    return process.exitcode


def _cli_child(arguments: list[str], cwd: str, stdout: str, stderr: str | None,
               pycache: str | None, env: dict[str, str] | None) -> None:
    """In the forked process: `python -m conformance <arguments>`, its output in the files."""
    os.chdir(cwd)
    if env is not None:
        os.environ.clear()
        os.environ.update(env)
    for stream, path in ((sys.stdout, stdout), (sys.stderr, stderr or stdout)):
        stream.flush()
        sink = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        os.dup2(sink, stream.fileno())
        os.close(sink)
    if pycache is not None:
        sys.dont_write_bytecode = False
        sys.pycache_prefix = pycache
    sys.argv = ["points-conformance", *arguments]
    runpy.run_module("conformance", run_name="__main__", alter_sys=True)


@dataclass(frozen=True)
class Row:
    fault: Fault
    outcome: Outcome

    @property
    def expected(self) -> frozenset[str]:
        return self.fault.ids

    @property
    def failed(self) -> set[str]:
        return self.outcome.ids("failed")

    @property
    def caught(self) -> bool:
        return not self.outcome.ids("error") and self.failed == set(self.expected) \
            and bool(self.outcome.statuses)


# A requirement a variant may leave unjudged without a false failure: none. not-applicable is
# fine (the program's rules made it moot), anything else is the suite mistaking a legitimate
# choice for a fault.
CONFORMANT = frozenset({"passed", "not-applicable"})


def _not_conformant(outcome: Outcome) -> set[str]:
    if not outcome.statuses:
        return set(ALL_IDS)  # the run did not finish
    return {i for i in ALL_IDS if outcome.statuses.get(i) not in CONFORMANT}


@dataclass(frozen=True)
class SelftestResult:
    clean: Outcome
    rows: tuple[Row, ...]
    seconds: float
    variants: tuple[Outcome, ...] = ()  # one per variant, named after it
    setups: tuple[Outcome, ...] = ()  # the clean runs of CLEAN_SETUPS
    variant_runs: int = 0  # the runs that judged them (a group of variants is one run)

    @property
    def false_failures(self) -> set[str]:
        """Ids the clean server did not pass (nor leave not-applicable), in any setup."""
        found = _not_conformant(self.clean)
        for run in self.setups:
            found |= _not_conformant(run)
        return found

    @property
    def unproven(self) -> set[str]:
        """Ids no clean run passed: not-applicable in every setup, so never shown to pass."""
        if not self.setups:
            return set()  # a result without the other setups cannot tell
        passed = set().union(*(run.ids("passed") for run in (self.clean, *self.setups)))
        return set(ALL_IDS) - passed

    @property
    def variant_failures(self) -> dict[str, set[str]]:
        """Variant name -> ids its run did not pass (each is a false failure)."""
        return {run.fault: _not_conformant(run) for run in self.variants
                if _not_conformant(run)}

    @property
    def false_failure_count(self) -> int:
        return len(self.false_failures) + sum(len(ids) for ids in
                                               self.variant_failures.values())

    @property
    def caught(self) -> int:
        return sum(1 for row in self.rows if row.caught)

    @property
    def ok(self) -> bool:
        return self.caught == len(self.rows) and not self.false_failure_count \
            and not self.unproven

    def summary(self) -> dict:
        return {"version": __version__, "caught": self.caught, "total": len(self.rows),
                "false_failures": self.false_failure_count, "variants": len(self.variants),
                "seconds": round(self.seconds, 1),
                "finished_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}


def _gather(submitted: list, progress: Callable[[str], None] | None,
            line: Callable[[Fault, Outcome], str]) -> list[Outcome]:
    """The outcomes of ``submitted`` (fault, future) pairs in order, a progress line each."""
    outcomes = []
    for fault, future in submitted:
        outcomes.append(future.result())
        if progress:
            progress(line(fault, outcomes[-1]))
    return outcomes


def _per_variant(sets: tuple[tuple[str, ...], ...], outcomes: list[Outcome],
                 submit: Callable[[tuple[str, ...]], Future],
                 progress: Callable[[str], None] | None) -> tuple[tuple[Outcome, ...], int]:
    """One outcome per variant: a group judged conformant is so for each of its variants; a
    group that is not is run again one variant at a time (``submit``), so that the report
    names the variant the suite mistook for a fault. Also the number of runs made."""
    found: dict[str, Outcome] = {}
    reruns = []
    for names, outcome in zip(sets, outcomes, strict=True):
        if len(names) == 1 or not _not_conformant(outcome):
            found.update((name, replace(outcome, fault=name)) for name in names)
        else:
            reruns += [(variant_fault((name,)), submit((name,))) for name in names]
    for outcome in _gather(reruns, progress, lambda variant, outcome: (
            f"variant {variant.name} alone: "
            f"{'FALSE FAILURES' if _not_conformant(outcome) else 'conformant'}")):
        found[outcome.fault] = outcome
    order = [name for names in sets for name in names]
    return tuple(found[name] for name in order), len(sets) + len(reruns)


def run_all(workers: int = 2, progress: Callable[[str], None] | None = None,
            pycache: Path | None = None, seed: int = SEED,
            with_variants: bool = True, variants_apart: bool = False) -> SelftestResult:
    """The clean run (alone: it fills the bytecode cache), then every fault's, then the
    legitimate variants' (fault_catalog.VARIANT_GROUPS, or each alone when
    ``variants_apart``)."""
    started = time.monotonic()
    chosen = variant_sets(variants_apart) if with_variants else ()
    with tempfile.TemporaryDirectory(prefix="pc-pycache-") as tmp:
        cache = pycache or Path(tmp)
        clean = fault_run(CLEAN, cache, seed)
        if progress:
            progress(f"clean run: {len(clean.ids('passed'))}/{len(ALL_IDS)} passed")
        with ThreadPoolExecutor(workers, thread_name_prefix="fault-run") as pool:
            setup_futures = [(c, pool.submit(fault_run, c, cache, seed)) for c in CLEAN_SETUPS]
            futures = [(f, pool.submit(fault_run, f, cache, seed)) for f in CATALOG]
            variant_futures = [(variant_fault(names),
                                pool.submit(fault_run, variant_fault(names), cache, seed,
                                            variants=names))
                               for names in chosen]
            setups = _gather(setup_futures, progress, lambda setup, outcome: (
                f"clean run ({setup.setup}): {len(outcome.ids('passed'))}/{len(ALL_IDS)} "
                f"passed, {len(outcome.ids('not-applicable'))} not applicable"
                f"{', FALSE FAILURES' if _not_conformant(outcome) else ''}"))
            outcomes = _gather(futures, progress, lambda fault, outcome: (
                f"{fault.name}: {'caught' if Row(fault, outcome).caught else 'NOT CAUGHT'}"))
            rows = [Row(fault, outcome) for fault, outcome in zip(CATALOG, outcomes, strict=True)]
            runs = _gather(variant_futures, progress, lambda variant, outcome: (
                f"variant{'s' if '+' in variant.name else ''} "
                f"{variant.name.replace('+', ', ')}: "
                f"{'FALSE FAILURES' if _not_conformant(outcome) else 'conformant'}"))
            per_variant, variant_runs = _per_variant(
                chosen, runs, lambda names: pool.submit(fault_run, variant_fault(names), cache,
                                                        seed, variants=names), progress)
    return SelftestResult(clean, tuple(rows), time.monotonic() - started, per_variant,
                          tuple(setups), variant_runs)


def render(result: SelftestResult) -> str:
    cells = [(row.fault.name, row.fault.suite, " ".join(sorted(row.expected)) or "-",
              " ".join(sorted(row.failed)) or "-", "yes" if row.caught else "NO",
              f"{row.outcome.seconds:.1f}") for row in result.rows]
    titles = ("fault", "suite", "expected to fail", "failed", "caught", "s")
    widths = [max(len(line[i]) for line in [titles, *cells]) for i in range(len(titles))]

    def line(values: tuple[str, ...]) -> str:
        left = "  ".join(f"{v:<{w}}" for v, w in zip(values[:-1], widths, strict=False))
        return f"{left}  {values[-1]:>{widths[-1]}}"

    lines = [line(titles), "-" * len(line(titles))]
    lines += [line(values) for values in cells]
    if result.variants:
        judged = len(result.variants) - len(result.variant_failures)
        lines.append(f"variants judged conformant: {judged}/{len(result.variants)} in "
                     f"{result.variant_runs} run{'s' if result.variant_runs != 1 else ''} "
                     f"({', '.join(run.fault for run in result.variants)})")
    if _not_conformant(result.clean):
        lines.append("false failures on the clean reference server:")
        lines.append(result.clean.explain(_not_conformant(result.clean)))
    for run in result.setups:
        if _not_conformant(run):
            lines.append(f"false failures on the {run.fault}:")
            lines.append(run.explain(_not_conformant(run)) if run.statuses
                         else run.output[-1500:])
    if result.unproven:
        lines.append(f"passed in no clean setup: {' '.join(sorted(result.unproven))}")
    for name, ids in result.variant_failures.items():
        run = next(run for run in result.variants if run.fault == name)
        lines.append(f"false failures under the legitimate variant {name}:")
        lines.append(run.explain(ids) if run.statuses else run.output[-1500:])
    lines.append(f"selftest: caught {result.caught}/{len(result.rows)} faults, "
                 f"false failures: {result.false_failure_count}")
    return "\n".join(lines)


def save(result: SelftestResult, reports_root: Path = Path("reports")) -> Path:
    """Keep the score where the HTML report of later runs finds it."""
    return selftest_score.save(result.summary(), reports_root)
