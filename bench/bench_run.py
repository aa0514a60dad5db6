"""Wall time and peak memory of a full run, against plain `st run` on the same specs and target.

Usage: python bench/bench_run.py [--max-examples N] [--repeat K]

Targets (issue "The run"): the default full run under 60 s with peak memory under 500 MB, and
no slower than `st run` with the same specs, target and --max-examples (ratio <= 1.0; the
aim is 0.8). Peak memory counts the run's child processes too (CON-08 runs in one).
"""

from __future__ import annotations

import argparse
import json
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

REPO = Path(__file__).resolve().parent.parent
PROFILE = REPO / "fixtures" / "profiles" / "reference.yaml"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _tree(pid: int) -> list[int]:
    """``pid`` and its descendants (a run starts CON-08 in a child process)."""
    found, pending = [], [pid]
    while pending:
        current = pending.pop()
        found.append(current)
        for task in Path(f"/proc/{current}/task").glob("*/children"):
            try:
                pending.extend(int(child) for child in task.read_text().split())
            except (OSError, ValueError):
                pass
    return found


def _high_water_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def _timed(cmd: list[str]) -> tuple[float, int, int, str]:
    """Wall seconds, peak RSS in MB (high-water marks of the process and its children, summed),
    exit code, output."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    peak_kb = 0
    while proc.poll() is None:
        peak_kb = max(peak_kb, sum(_high_water_kb(pid) for pid in _tree(proc.pid)))
        time.sleep(0.05)
    out = proc.stdout.read() if proc.stdout else ""
    return time.perf_counter() - start, peak_kb // 1024, proc.returncode, out


class Server:
    def __init__(self, tmp: Path):
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "conformance", "serve", "--port", str(self.port),
             "--db", str(tmp / f"bench-{self.port}.sqlite3")],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(100):
            try:
                requests.get(self.url, timeout=0.2)
                return
            except requests.ConnectionError:
                time.sleep(0.1)
        raise SystemExit("reference server did not start")

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-examples", type=int, default=25)
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    st = shutil.which("st") or str(Path(sys.executable).with_name("st"))
    from conformance.specs import openapi

    rows = []
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        spec_file = tmp / "combined.json"
        spec_file.write_text(json.dumps(openapi.load_combined()))
        for _ in range(args.repeat):
            # 1. the default full run, as a newcomer types it (starts its own server)
            wall, peak, code, _ = _timed([sys.executable, "-m", "conformance", "run",
                                          "--max-examples", str(args.max_examples), "--seed", "1",
                                          "--report-dir", str(tmp / "default")])
            rows.append(("default run (embedded server)", wall, peak, code))
            # 2. the same run and 3. plain st run, against one external server each
            server = Server(tmp)
            try:
                wall, peak, code, _ = _timed([
                    sys.executable, "-m", "conformance", "run", "--base-url", server.url,
                    "--profile", str(PROFILE), "--max-examples", str(args.max_examples),
                    "--seed", "1", "--report-dir", str(tmp / "external")])
                rows.append(("points-conformance run (external server)", wall, peak, code))
            finally:
                server.stop()
            server = Server(tmp)
            try:
                wall, peak, code, _ = _timed([
                    st, "run", str(spec_file), "--url", server.url, "--max-examples",
                    str(args.max_examples), "--seed", "1",
                    "--phases", "examples,coverage,fuzzing,stateful",
                    "--auth", "conformance:reference-secret",
                    "-H", "X-CAP-API-AUTH-ORG-ID: 100458",
                    "-H", "X-CAP-UI-AUTH-TOKEN: reference-ui-token",
                    "--checks", "not_a_server_error,status_code_conformance,"
                                "content_type_conformance,response_schema_conformance,"
                                "negative_data_rejection,ignored_auth",
                    "--continue-on-failure", "--no-color"])
                rows.append(("st run (same spec, same server setup)", wall, peak, code))
            finally:
                server.stop()
    print(f"{'what':<44} {'wall s':>8} {'peak MB':>8} {'exit':>5}")
    for what, wall, peak, code in rows:
        print(f"{what:<44} {wall:>8.1f} {peak:>8} {code:>5}")
    ours = statistics.median(w for what, w, _, _ in rows if what.startswith("points-"))
    theirs = statistics.median(w for what, w, _, _ in rows if what.startswith("st run"))
    default = statistics.median(w for what, w, _, _ in rows if what.startswith("default"))
    peak_mb = max(p for what, _, p, _ in rows if not what.startswith("st run"))
    print(f"\nratio run/st: {ours / theirs:.2f} (target <= 1.00); default run {default:.1f} s "
          f"(target < 60); peak {peak_mb} MB (target < 500)")
    return 0 if ours / theirs <= 1.00 and default < 60 and peak_mb < 500 else 1


if __name__ == "__main__":
    raise SystemExit(main())
