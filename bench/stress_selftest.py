"""The self-test, again and again, two at a time: no fault may be caught or missed by luck.

Usage: python bench/stress_selftest.py [--runs N] [--parallel K] [--first-seed S]
                                      [--variants-apart]

Each run is the whole self-test (`points-conformance selftest`: the clean run, then every
fault switch) with its own seed (S, S+1, …), K runs at once, so the machine is loaded the way
a busy CI host loads it. Every fault a run misses and every requirement that fails on the
clean server is printed; the last line is

    stress: N runs, misses M, false failures F

A miss or a false failure here is a defect of the suite: a check that holds only for some
seeds, some timings or some library versions.
"""

from __future__ import annotations

import argparse
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from conformance.run import selftest  # noqa: E402


def _one(seed: int, apart: bool) -> tuple[int, selftest.SelftestResult]:
    return seed, selftest.run_all(workers=2, seed=seed, variants_apart=apart)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="self-tests in all (default 5)")
    parser.add_argument("--parallel", type=int, default=2, help="self-tests at once (default 2)")
    parser.add_argument("--first-seed", type=int, default=1, help="seed of the first run")
    parser.add_argument("--variants-apart", action="store_true",
                        help="run every legitimate variant alone, not in its group")
    args = parser.parse_args(argv)
    if args.runs < 1 or args.parallel < 1:
        parser.error("--runs and --parallel must be at least 1")

    started = time.monotonic()
    misses = false_failures = 0
    seeds = range(args.first_seed, args.first_seed + args.runs)
    with ThreadPoolExecutor(args.parallel) as pool:
        for seed, result in pool.map(lambda seed: _one(seed, args.variants_apart), seeds):
            missed = [row for row in result.rows if not row.caught]
            for row in missed:
                extra = row.failed - set(row.expected)
                print(f"seed {seed}: MISSED {row.fault.name}: expected "
                      f"{' '.join(sorted(row.expected)) or '-'} to fail, failed "
                      f"{' '.join(sorted(row.failed)) or '-'}"
                      + (f" (extra: {' '.join(sorted(extra))})" if extra else ""))
                print(row.outcome.explain(set(row.expected) - row.failed | extra))
            if result.false_failures:
                print(f"seed {seed}: FALSE FAILURES on the clean server:")
                print(result.clean.explain(result.false_failures))
            for name, ids in result.variant_failures.items():
                print(f"seed {seed}: FALSE FAILURES under the legitimate variant {name}: "
                      f"{' '.join(sorted(ids))}")
            misses += len(missed)
            false_failures += result.false_failure_count
            print(f"seed {seed}: caught {result.caught}/{len(result.rows)}, false failures "
                  f"{result.false_failure_count} ({result.seconds:.0f} s)", flush=True)
    print(f"({time.monotonic() - started:.0f} s in all)")
    print(f"stress: {args.runs} runs, misses {misses}, false failures {false_failures}")
    return 1 if misses or false_failures else 0


if __name__ == "__main__":
    sys.exit(main())
