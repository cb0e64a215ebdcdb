"""Latency and throughput of a sandboxed "hello world", against the bare-bubblewrap floor.

Measures, on this machine, in rounds that interleave what they compare:

* the **API**: ``POST /submissions?wait=true`` of Python ``print(1)`` to the standalone
  Judge0-compatible server in its own process, default pool, with each ``--store``:
  ``database``: ``lms judge0``, submissions in the LMS database (a SQLite file of its own, or
  ``--db-url``), as replicas and the platform keep them; ``memory``: ``python -m graders.judge0``,
  submissions in its process only, the baseline the database must match;
* the **floor**: ``bwrap`` with namespaces and a read-only ``/usr`` running
  ``python3 -c 'print(1)'`` directly, no cgroup, no uid drop, no HTTP;

each as p50/p99 latency at concurrency 1 and runs per second at concurrency 8. It prints every
round, the medians, the ratios of each store to the first one (per round, then their median:
the machine is shared, so only measurements taken side by side compare) and API/floor.
Targets (2 cores): p50 <= 50 ms, p99 <= 150 ms, >= 50 runs/s.

    sudo .venv/bin/python benchmarks/bench_sandbox.py [--runs 200] [--rounds 3]
        [--store memory --store database] [--db-url postgresql://...]
"""

from __future__ import annotations

import argparse
import concurrent.futures
import http.client
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FLOOR_COMMAND = [
    "bwrap", "--unshare-all", "--die-with-parent", "--new-session",
    "--ro-bind", "/usr", "/usr", "--symlink", "usr/bin", "/bin", "--symlink", "usr/lib", "/lib",
    "--symlink", "usr/lib64", "/lib64", "--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp",
    "--clearenv", "/usr/bin/python3", "-c", "print(1)",
]
FLOOR = "floor (bare bwrap + python3)"
HELLO = {"source_code": "print(1)", "language_id": 71, "expected_output": "1"}


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


def latencies(one_run: Callable[[], None], runs: int) -> list[float]:
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        one_run()
        samples.append(time.perf_counter() - started)
    return samples


def throughput(make_runner: Callable[[], Callable[[], None]], runs: int, concurrency: int) -> float:
    def worker(count: int) -> None:
        one_run = make_runner()
        for _ in range(count):
            one_run()

    shares = [runs // concurrency + (i < runs % concurrency) for i in range(concurrency)]
    started = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(worker, shares))
    return runs / (time.perf_counter() - started)


def floor_runner() -> Callable[[], None]:
    def run() -> None:
        done = subprocess.run(FLOOR_COMMAND, capture_output=True)
        assert done.stdout == b"1\n", done
    return run


def api_runner(port: int) -> Callable[[], Callable[[], None]]:
    body = json.dumps(HELLO)
    headers = {"Content-Type": "application/json"}

    def make() -> Callable[[], None]:
        # http.client, kept alive: the client shares the two cores with the server, so it
        # should cost as little as possible.
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)

        def run() -> None:
            connection.request("POST", "/submissions?wait=true", body, headers)
            response = connection.getresponse()
            answer = response.read()
            assert response.status == 201 and json.loads(answer)["status"]["id"] == 3, answer
        return run
    return make


@dataclass(frozen=True)
class Server:
    """How to start one API server: ``python -m <module> ...`` from ``root`` with ``env``."""

    label: str
    module: list[str]
    env: dict[str, str] = field(default_factory=dict)
    root: Path = ROOT


def server_for(store: str, db_url: str | None) -> Server:
    if store == "memory":  # the API alone, submissions in its process
        return Server("memory", ["graders.judge0"])
    # `lms judge0`: submissions in the LMS database, by default a SQLite file of its own
    # (the default LMS database under LMS_DATA_DIR)
    return Server("database" if not db_url else f"database ({db_url.split(':', 1)[0]})",
                  ["lms_extension.cli", "judge0"], {"LMS_DB_URL": db_url} if db_url else {})


def start_server(server: Server, workers: int, data_dir: str) -> tuple[subprocess.Popen, int]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {key: value for key, value in os.environ.items() if key != "LMS_DB_URL"}
    env.update(LMS_DATA_DIR=data_dir, **server.env)
    process = subprocess.Popen(
        [sys.executable, "-m", *server.module, "--host", "127.0.0.1", "--port", str(port),
         "--workers", str(workers)],
        cwd=server.root, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url + "/about", timeout=1).close()
            return process, port
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise SystemExit(f"the Judge0-compatible server ({server.label}) did not start")


Figures = tuple[float, float, float]  # p50 s, p99 s, runs/s


def measure(make: Callable[[], Callable[[], None]], runs: int) -> Figures:
    samples = latencies(make(), runs)
    return percentile(samples, 0.5), percentile(samples, 0.99), throughput(make, runs, concurrency=8)


def measure_api(server: Server, workers: int, runs: int) -> Figures:
    data_dir = tempfile.mkdtemp(prefix="bench-sandbox-")
    process, port = start_server(server, workers, data_dir)
    try:
        api = api_runner(port)
        for _ in range(10):  # warm up: page cache, language versions, first cgroups
            api()()
        return measure(api, runs)
    finally:
        process.terminate()
        process.wait(timeout=10)
        shutil.rmtree(data_dir, ignore_errors=True)


def compare(servers: list[Server], workers: int, runs: int, rounds: int) -> dict[str, list[Figures]]:
    """Every server and the floor once per round, in an order that turns around each round."""
    results: dict[str, list[Figures]] = {FLOOR: []} | {server.label: [] for server in servers}
    for _ in range(10):
        floor_runner()()
    for number in range(rounds):
        order = servers if number % 2 == 0 else servers[::-1]
        for server in order:
            results[server.label].append(measure_api(server, workers, runs))
        results[FLOOR].append(measure(floor_runner, runs))
        print(f"round {number + 1}/{rounds}: " + ", ".join(
            f"{label} {figures[-1][0] * 1000:.1f} ms p50, {figures[-1][2]:.1f} runs/s"
            for label, figures in results.items()), flush=True)
    return results


def report(results: dict[str, list[Figures]], baseline: str) -> None:
    def med(values) -> float:
        return statistics.median(values)

    print(f"{'median of rounds':32} {'p50 ms':>8} {'p99 ms':>8} {'runs/s @8':>10}")
    for label, figures in results.items():
        p50, p99, rate = (med(column) for column in zip(*figures))
        print(f"{label:32} {p50 * 1000:8.1f} {p99 * 1000:8.1f} {rate:10.1f}")
    for label, figures in results.items():
        if label in (FLOOR, baseline):
            continue
        ratios = [(a[0] / b[0], a[1] / b[1], a[2] / b[2]) for a, b in zip(figures, results[baseline])]
        p50, p99, rate = (med(column) for column in zip(*ratios))
        print(f"{'ratio ' + label + ' / ' + baseline:32} {p50:8.2f} {p99:8.2f} {rate:10.2f}"
              f"   (per round, runs/s: {', '.join(f'{r[2]:.2f}' for r in ratios)})")
    for label, figures in results.items():
        if label == FLOOR:
            continue
        ratios = [(a[0] / b[0], a[1] / b[1], a[2] / b[2]) for a, b in zip(figures, results[FLOOR])]
        p50, p99, rate = (med(column) for column in zip(*ratios))
        print(f"{'ratio ' + label + ' / floor':32} {p50:8.2f} {p99:8.2f} {rate:10.2f}")
    for label, figures in results.items():
        if label == FLOOR:
            continue
        p50, p99, rate = (med(column) for column in zip(*figures))
        verdicts = [("p50 <= 50 ms", p50 <= 0.050), ("p99 <= 150 ms", p99 <= 0.150),
                    (">= 50 runs/s", rate >= 50)]
        print(f"targets, {label}: " + ", ".join(f"{text} {'met' if ok else 'MISSED'}" for text, ok in verdicts))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200, help="runs per measurement")
    parser.add_argument("--rounds", type=int, default=3,
                        help="measurements of each store (and of the floor), interleaved")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                        help="the server's run pool (default: its own default, the core count)")
    parser.add_argument("--store", choices=("memory", "database"), action="append",
                        help="where the server keeps submissions (repeat to compare; the first is "
                             "the baseline of the ratios; default: memory, then database)")
    parser.add_argument("--db-url", default=None,
                        help="the database store's LMS_DB_URL (default: a SQLite file of its own); "
                             "its schema is created if the database is empty")
    args = parser.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("run as root: the sandbox creates cgroups and drops to per-run uids")

    stores = list(dict.fromkeys(args.store or ["memory", "database"]))
    servers = [server_for(store, args.db_url) for store in stores]
    print(f"{os.cpu_count()} cores, server pool of {args.workers}, {args.runs} runs per measurement, "
          f"{args.rounds} rounds, 1-minute load average {os.getloadavg()[0]:.2f}", flush=True)
    results = compare(servers, args.workers, args.runs, args.rounds)
    print(f"1-minute load average at the end {os.getloadavg()[0]:.2f}")
    report(results, servers[0].label)


if __name__ == "__main__":
    main()
