"""The run's options, declared once.

`points-conformance run`'s flags, the pytest plugin's ``--pc-*`` options (for plain
``pytest --pyargs conformance.suite``) and the arguments the runner hands to pytest are all
derived from the fields of `RunOptions`: adding an option is one field here.
"""

from __future__ import annotations

import argparse
import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SUITES = ("all", "contract", "fuzz", "scenarios")
PYTEST_PREFIX = "pc_"


def _option(help: str, *, metavar: str | None = None, type: Any = str,
            choices: tuple[str, ...] | None = None) -> dict[str, Any]:
    return {"help": help, "metavar": metavar, "type": type, "choices": choices}


@dataclass(frozen=True)
class RunOptions:
    """What one run was asked to do (defaults are the defaults users get)."""

    base_url: str | None = field(default=None, metadata=_option(
        "the target (needs --profile)", metavar="URL"))
    profile: Path | None = field(default=None, metadata=_option(
        "target profile (YAML)", metavar="PATH", type=Path))
    report_dir: Path | None = field(default=None, metadata=_option(
        "where to write the reports (default: reports/<UTC timestamp>/)", metavar="DIR",
        type=Path))
    suite: str = field(default="all", metadata=_option(
        "which tests: all, contract (examples and coverage phases), fuzz (the fuzzing phase "
        "and the linked sequences), scenarios (the business rules) (default all)",
        choices=SUITES))
    only: tuple[str, ...] = field(default=(), metadata=_option(
        "run only the tests of these requirement ids", metavar="ID"))
    max_examples: int = field(default=25, metadata=_option(
        "schemathesis examples per operation and phase (default 25)", metavar="N", type=int))
    seed: int | None = field(default=None, metadata=_option(
        "make generated data repeatable (default: a random seed, printed first)", metavar="N",
        type=int))
    workers: int = field(default=1, metadata=_option(
        "schemathesis workers fuzzing at once (default 1)", metavar="N", type=int))
    strict: bool = field(default=False, metadata=_option(
        "judge by the strict specs: flag every undocumented choice", type=bool))
    allow_mutations: bool = field(default=False, metadata=_option(
        "allow state-changing calls to a target outside loopback", type=bool))
    baseline: Path | None = field(default=None, metadata=_option(
        "known failures: reported, but they do not fail the run", metavar="FILE", type=Path))
    baseline_update: Path | None = field(default=None, metadata=_option(
        "write the run's MUST failures to FILE as a baseline (keeps the reason and until of "
        "entries --baseline already lists)", metavar="FILE", type=Path))
    max_wait: float = field(default=30.0, metadata=_option(
        "longest a scenario may wait for a code to expire, in seconds (default 30)",
        metavar="S", type=float))
    min_coverage: float | None = field(default=None, metadata=_option(
        "a run whose total coverage (coverage.json) is below PCT percent is non-conformant",
        metavar="PCT", type=float))
    shard: str | None = field(default=None, metadata=_option(
        "run share I of N of the suite (1/4 ... 4/4, one CI job each, same --seed), then "
        "`points-conformance merge` the N report folders into one verdict", metavar="I/N"))
    verbose: bool = field(default=False, metadata=_option(
        "also show pytest's own output: tracebacks, its FAILED lines and totals, warnings",
        type=bool))

    def as_state(self) -> dict[str, Any]:
        """The options as the suite's tests read them (``pc.options[...]``)."""
        return {"strict": self.strict, "allow_mutations": self.allow_mutations,
                "max_examples": self.max_examples, "seed": self.seed, "workers": self.workers,
                "max_wait": self.max_wait, "suite": self.suite, "only": set(self.only),
                "min_coverage": self.min_coverage,
                "shard": list(parse_shard(self.shard)) if self.shard else None}


def parse_shard(text: str) -> tuple[int, int]:
    """``"2/4"`` -> ``(2, 4)``; ValueError with a one-line reason for anything else."""
    index, slash, count = str(text).partition("/")
    if not slash or not index.strip().isdigit() or not count.strip().isdigit():
        raise ValueError(f"--shard {text}: expected I/N, as in 2/4")
    i, n = int(index), int(count)
    if n < 1 or not 1 <= i <= n:
        raise ValueError(f"--shard {text}: I must be from 1 to N, and N at least 1")
    return i, n


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _kwargs(f: dataclasses.Field, *, repeat: str) -> dict[str, Any]:
    meta = f.metadata
    if meta["type"] is bool:
        return {"action": "store_true", "help": meta["help"]}
    kwargs: dict[str, Any] = {"help": meta["help"], "metavar": meta["metavar"],
                              "default": f.default}
    if f.name == "only":
        kwargs.update({"default": []} | ({"nargs": "+"} if repeat == "nargs" else
                                         {"action": "append"}))
    else:
        kwargs["type"] = meta["type"]
    if meta["choices"]:
        kwargs["choices"] = meta["choices"]
        kwargs.pop("metavar")
    return kwargs


def add_to_argparse(parser: argparse.ArgumentParser) -> None:
    """`points-conformance run`'s flags: ``--base-url``, ``--only ID [ID ...]``, ..."""
    for f in dataclasses.fields(RunOptions):
        parser.add_argument(_flag(f.name), **_kwargs(f, repeat="nargs"))


def add_to_pytest(group: Any) -> None:
    """The plugin's ``--pc-*`` options (``--pc-only`` repeats, one id each)."""
    for f in dataclasses.fields(RunOptions):
        group.addoption("--pc-" + f.name.replace("_", "-"), dest=PYTEST_PREFIX + f.name,
                        **_kwargs(f, repeat="append"))


def from_namespace(args: argparse.Namespace) -> RunOptions:
    """The options of a parsed `run` command line."""
    return _build(lambda name: getattr(args, name))


def from_pytest(config: Any) -> RunOptions:
    """The options of a pytest session started with ``--pc-*`` options."""
    return _build(lambda name: config.getoption(PYTEST_PREFIX + name))


def _build(value) -> RunOptions:
    given = {f.name: value(f.name) for f in dataclasses.fields(RunOptions)}
    given["only"] = tuple(given["only"] or ())
    for name in ("profile", "report_dir", "baseline", "baseline_update"):
        if given[name] is not None:
            given[name] = Path(given[name])
    return RunOptions(**given)


def pytest_args(options: RunOptions) -> list[str]:
    """The ``--pc-*`` arguments that give a pytest session these options."""
    args: list[str] = []
    for f in dataclasses.fields(RunOptions):
        value = getattr(options, f.name)
        flag = "--pc-" + f.name.replace("_", "-")
        if f.name == "only":
            for req_id in value:
                args += [flag, req_id]
        elif f.metadata["type"] is bool:
            if value:
                args.append(flag)
        elif value is not None and value != f.default:
            args += [flag, str(value)]
    return args
