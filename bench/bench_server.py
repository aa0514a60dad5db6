"""Load figures of the reference server: isredeemable, and the whole redeem flow.

Starts ``serve()`` in its own process on a free loopback port (with a temporary database and
extra bench customers), drives it from other processes over keep-alive HTTP connections, and
prints requests per second with p50/p99 latency. Run from the repository root:

    python bench/bench_server.py [--duration 10] [--processes 2] [--connections 8]

Traffic goes to 127.0.0.1 only; every loop is bounded by --duration.
"""

from __future__ import annotations

import argparse
import base64
import copy
import http.client
import json
import multiprocessing
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent
AUTH = "Basic " + base64.b64encode(b"conformance:reference-secret").decode()
SPENDER = "447700900001"
BENCH_CUSTOMERS = 64
TARGET_ISREDEEMABLE_RPS = 1500


@dataclass
class Tally:
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    first_error: str = ""


def bench_seed(path: Path) -> None:
    """The reference seed plus customers of its own for each concurrent redeem flow."""
    seed = yaml.safe_load((REPO / "fixtures" / "reference-seed.yaml").read_text())
    seed = copy.deepcopy(seed)
    for i in range(BENCH_CUSTOMERS):
        seed["customers"][f"bench_{i}"] = {
            "user_id": 50000 + i, "mobile": f"4477008{i:05d}", "email": f"bench{i}@example.com",
            "first_name": "Bench", "last_name": str(i), "balance": 1_000_000}
    path.write_text(yaml.safe_dump(seed))


def start_server(seed: Path) -> tuple[subprocess.Popen, str, str, int]:
    code = f"from conformance.server import serve; serve(port=0, seed_data={str(seed)!r})"
    process = subprocess.Popen([sys.executable, "-c", code], cwd=REPO, stderr=subprocess.PIPE,
                               text=True, env={**os.environ, "PYTHONPATH": str(REPO)})
    first = process.stderr.readline()
    match = re.search(r"on http://(127\.0\.0\.1):(\d+) ", first)
    if not match:
        process.kill()
        raise SystemExit(f"the server did not start: {first}{process.stderr.read()}")
    counted = [0]

    def drain() -> None:
        # serve() logs one line per request; read them so the pipe never blocks the server.
        for _ in process.stderr:
            counted[0] += 1

    threading.Thread(target=drain, daemon=True).start()
    return process, match.group(1), int(match.group(2)), counted


def _request(conn: http.client.HTTPConnection, method: str, path: str,
             body: bytes | None = None, auth: bool = True) -> tuple[int, bytes]:
    headers = {"Authorization": AUTH} if auth else {}
    if body is not None:
        headers["Content-Type"] = "application/json"
    conn.request(method, path, body=body, headers=headers)
    response = conn.getresponse()
    return response.status, response.read()


def isredeemable_loop(host: str, port: int, deadline: float, tally: Tally) -> None:
    conn = http.client.HTTPConnection(host, port, timeout=10)
    path = f"/v1.1/points/isredeemable?mobile={SPENDER}&points=100&program_id=504"
    while time.perf_counter() < deadline:
        started = time.perf_counter()
        status, body = _request(conn, "GET", path)
        tally.latencies.append(time.perf_counter() - started)
        if status != 200 or b'"code":800' not in body:
            tally.errors += 1
            tally.first_error = tally.first_error or f"{status} {body[:200]!r}"
    conn.close()


def redeem_flow_loop(host: str, port: int, deadline: float, tally: Tally, mobile: str) -> None:
    """validationcode -> /_test/otp -> redeem -> reverse, as one timed flow."""
    conn = http.client.HTTPConnection(host, port, timeout=10)
    while time.perf_counter() < deadline:
        started = time.perf_counter()
        try:
            status, _ = _request(conn, "GET", f"/v1.1/points/validationcode?mobile={mobile}"
                                              "&points=100")
            assert status == 200, status
            status, body = _request(conn, "GET", f"/_test/otp?mobile={mobile}&purpose=redeem",
                                    auth=False)
            code = json.loads(body)["code"]
            item = {"mobile": mobile, "points_redeemed": 100, "validation_code": code}
            status, body = _request(conn, "POST", "/v1.1/points/redeem",
                                    json.dumps({"root": {"redeem": [item]}}).encode())
            points = json.loads(body)["response"]["responses"]["points"]
            assert points["item_status"]["code"] == 800, points
            status, body = _request(conn, "POST", "/v2/points/reverse", json.dumps(
                {"redemptionId": points["redemption_id"]}).encode())
            assert json.loads(body)["pointsReversed"] == 100, body
        except (AssertionError, KeyError, ValueError) as exc:
            tally.errors += 1
            tally.first_error = tally.first_error or repr(exc)
            continue
        tally.latencies.append(time.perf_counter() - started)
    conn.close()


def worker(args: tuple[str, str, int, float, int, int]) -> Tally:
    """One load process: ``connections`` threads, each on its own keep-alive connection."""
    scenario, host, port, duration, connections, offset = args
    deadline = time.perf_counter() + duration
    tallies = [Tally() for _ in range(connections)]
    threads = []
    for i, tally in enumerate(tallies):
        if scenario == "isredeemable":
            target, extra = isredeemable_loop, ()
        else:
            target, extra = redeem_flow_loop, (f"4477008{offset + i:05d}",)
        threads.append(threading.Thread(target=target, args=(host, port, deadline, tally, *extra)))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    total = Tally()
    for tally in tallies:
        total.latencies += tally.latencies
        total.errors += tally.errors
        total.first_error = total.first_error or tally.first_error
    return total


def run(scenario: str, host: str, port: int, duration: float, processes: int,
        connections: int) -> dict:
    jobs = [(scenario, host, port, duration, connections, p * connections)
            for p in range(processes)]
    started = time.perf_counter()
    with multiprocessing.get_context("fork").Pool(processes) as pool:
        tallies = pool.map(worker, jobs)
    elapsed = time.perf_counter() - started
    latencies = sorted(x for t in tallies for x in t.latencies)
    errors = sum(t.errors for t in tallies)
    count = len(latencies)

    def pct(q: float) -> float:
        return latencies[min(count - 1, int(q * count))] * 1000 if count else float("nan")

    return {"scenario": scenario, "completed": count, "errors": errors,
            "first_error": next((t.first_error for t in tallies if t.first_error), ""),
            "per_s": count / min(elapsed, duration + 1), "p50_ms": pct(0.50), "p99_ms": pct(0.99)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per scenario")
    parser.add_argument("--processes", type=int, default=2, help="load processes")
    parser.add_argument("--connections", type=int, default=8, help="connections per process")
    args = parser.parse_args()
    if args.processes * args.connections > BENCH_CUSTOMERS:
        parser.error(f"at most {BENCH_CUSTOMERS} connections in all (one customer each)")
    with tempfile.TemporaryDirectory() as scratch:
        seed = Path(scratch) / "bench-seed.yaml"
        bench_seed(seed)
        process, host, port, logged = start_server(seed)
        try:
            run("isredeemable", host, port, 1.0, 1, 2)  # warm-up
            results = [run(s, host, port, args.duration, args.processes, args.connections)
                       for s in ("isredeemable", "redeem-flow")]
            # One connection, no queueing: the latency a single client sees.
            for scenario in ("isredeemable", "redeem-flow"):
                single = run(scenario, host, port, min(args.duration, 3.0), 1, 1)
                single["scenario"] += " x1"
                results.append(single)
        finally:
            process.terminate()
            process.wait(timeout=20)
    print(f"reference server on {host}:{port}; {args.processes} load processes x "
          f"{args.connections} connections, {args.duration:.0f}s per scenario; "
          f"{logged[0]} access-log lines")
    print(f"{'scenario':<18}{'done':>9}{'errors':>8}{'per s':>10}{'p50 ms':>9}{'p99 ms':>9}")
    for r in results:
        print(f"{r['scenario']:<18}{r['completed']:>9}{r['errors']:>8}{r['per_s']:>10.0f}"
              f"{r['p50_ms']:>9.2f}{r['p99_ms']:>9.2f}")
        if r["first_error"]:
            print(f"  first error: {r['first_error']}")
    print("redeem-flow = validationcode + /_test/otp + redeem + reverse (4 requests per flow);"
          " x1 = one connection")
    rps = results[0]["per_s"]
    verdict = "meets" if rps >= TARGET_ISREDEEMABLE_RPS else "BELOW"
    print(f"isredeemable {rps:.0f}/s {verdict} the target of {TARGET_ISREDEEMABLE_RPS}/s")
    return 0 if rps >= TARGET_ISREDEEMABLE_RPS and not any(r["errors"] for r in results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
