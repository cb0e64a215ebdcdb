"""Latency and throughput of a sandboxed "hello world", against the bare-bubblewrap floor.

Measures, in one run on this machine:

* the **API**: ``POST /submissions?wait=true`` of Python ``print(1)`` to the standalone
  Judge0-compatible server (``lms judge0``, its own process, default pool, submissions in
  a SQLite database of its own; ``--store memory``: ``python -m graders.judge0``);
* the **floor**: ``bwrap`` with namespaces and a read-only ``/usr`` running
  ``python3 -c 'print(1)'`` directly, no cgroup, no uid drop, no HTTP;

each as p50/p99 latency at concurrency 1 and runs per second at concurrency 8, and prints
the ratios API/floor. Targets (2 cores): p50 <= 50 ms, p99 <= 150 ms, >= 50 runs/s.

    sudo .venv/bin/python benchmarks/bench_sandbox.py [--runs 200]
"""

from __future__ import annotations

import argparse
import concurrent.futures
import http.client
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FLOOR_COMMAND = [
    "bwrap", "--unshare-all", "--die-with-parent", "--new-session",
    "--ro-bind", "/usr", "/usr", "--symlink", "usr/bin", "/bin", "--symlink", "usr/lib", "/lib",
    "--symlink", "usr/lib64", "/lib64", "--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp",
    "--clearenv", "/usr/bin/python3", "-c", "print(1)",
]
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


def start_server(workers: int, store: str, data_dir: str) -> tuple[subprocess.Popen, int]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    # "database": `lms judge0`, submissions in a SQLite file of its own (the default LMS
    # database under LMS_DATA_DIR); "memory": the API alone, submissions in its process
    command = ["lms_extension.cli", "judge0"] if store == "database" else ["graders.judge0"]
    env = {key: value for key, value in os.environ.items() if key != "LMS_DB_URL"}
    env["LMS_DATA_DIR"] = data_dir
    server = subprocess.Popen(
        [sys.executable, "-m", *command, "--host", "127.0.0.1", "--port", str(port),
         "--workers", str(workers)],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url + "/about", timeout=1).close()
            return server, port
        except OSError:
            time.sleep(0.1)
    server.kill()
    raise SystemExit("the Judge0-compatible server did not start")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200, help="runs per measurement")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                        help="the server's run pool (default: its own default, the core count)")
    parser.add_argument("--store", choices=("database", "memory"), default="database",
                        help="where the server keeps submissions (default: the database, as "
                             "`lms judge0` and the platform do)")
    args = parser.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("run as root: the sandbox creates cgroups and drops to per-run uids")

    data_dir = tempfile.mkdtemp(prefix="bench-sandbox-")
    server, port = start_server(args.workers, args.store, data_dir)
    try:
        api = api_runner(port)
        for _ in range(10):  # warm up both paths: page cache, language versions, first cgroups
            api()()
            floor_runner()()
        results = {}
        for name, make in (("floor (bare bwrap + python3)", floor_runner), ("API (wait=true)", api)):
            samples = latencies(make(), args.runs)
            results[name] = (percentile(samples, 0.5), percentile(samples, 0.99),
                             throughput(make, args.runs, concurrency=8))
    finally:
        server.terminate()
        server.wait(timeout=10)
        shutil.rmtree(data_dir, ignore_errors=True)

    print(f"{os.cpu_count()} cores, server pool of {args.workers}, submissions in {args.store}, {args.runs} runs per "
          f"measurement, 1-minute load average {os.getloadavg()[0]:.2f}")
    print(f"{'':32} {'p50 ms':>8} {'p99 ms':>8} {'runs/s @8':>10}")
    for name, (p50, p99, rate) in results.items():
        print(f"{name:32} {p50 * 1000:8.1f} {p99 * 1000:8.1f} {rate:10.1f}")
    (floor_p50, floor_p99, floor_rate), (p50, p99, rate) = results.values()
    print(f"{'ratio API / floor':32} {p50 / floor_p50:8.2f} {p99 / floor_p99:8.2f} {rate / floor_rate:10.2f}")
    verdicts = [("p50 <= 50 ms", p50 <= 0.050), ("p99 <= 150 ms", p99 <= 0.150),
                (">= 50 runs/s", rate >= 50)]
    print("targets: " + ", ".join(f"{label} {'met' if ok else 'MISSED'}" for label, ok in verdicts))


if __name__ == "__main__":
    main()
