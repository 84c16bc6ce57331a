"""Latency of the explorer's endpoints, as a browser sees it: round trips to a real `cnnlab serve`.

The server runs in its own process, held to 2 cores (the target machine). First it is
asked over one keep-alive connection, one request at a time, as the digit lab's page does
while you draw (target: the digit lab answers within 100 ms per request). Then under load:
``--clients`` keep-alive clients at once, each sending ``--per-client`` mixed requests
(playground, filter lab, digit lab in turn): requests/s, p50/p99 latency, errors, and the
server's peak resident memory (VmHWM, Linux).

    python benchmarks/bench_serve.py [--requests 200] [--clients 20] [--per-client 200] [--cores 2]
"""

from __future__ import annotations

import argparse
import base64
import http.client
import json
import os
import subprocess
import sys
import threading
import time

import numpy as np


def drawings(count: int, size: int = 280, seed: int = 0) -> list[dict]:
    """Random pen strokes (3-6 points, 20 pixels wide) on a white pad, as the page sends them."""
    from PIL import Image, ImageDraw

    rng = np.random.default_rng(seed)
    out = []
    for _ in range(count):
        im = Image.new("L", (size, size), 255)
        points = [tuple(int(v) for v in rng.integers(40, size - 40, 2)) for _ in range(rng.integers(3, 7))]
        ImageDraw.Draw(im).line(points, fill=0, width=20, joint="curve")
        out.append({"width": size, "height": size, "pixels": base64.b64encode(im.tobytes()).decode()})
    return out


def start_server(cores: int) -> tuple[subprocess.Popen, str]:
    affinity = sorted(os.sched_getaffinity(0))[:cores] if hasattr(os, "sched_getaffinity") else None
    proc = subprocess.Popen([sys.executable, "-m", "cnnlab.cli", "serve", "--port", "0"], stdout=subprocess.PIPE,
                            text=True, preexec_fn=(lambda: os.sched_setaffinity(0, affinity)) if affinity else None)
    line = proc.stdout.readline()
    if not line.startswith("cnnlab explorer: "):
        proc.kill()
        raise SystemExit(f"the server did not start: {line!r}")
    return proc, line.split()[2]


def measure(conn: http.client.HTTPConnection, path: str, bodies: list[dict], warmup: int = 5) -> tuple[np.ndarray, np.ndarray]:
    """Round-trip and server-side milliseconds of each request (after ``warmup`` unmeasured ones)."""
    trips, server = [], []
    for i, body in enumerate(bodies[:warmup] + bodies):
        data = json.dumps(body).encode()
        began = time.perf_counter()
        conn.request("POST", path, body=data, headers={"Content-Type": "application/json"})
        response = conn.getresponse()
        answer = json.loads(response.read())
        elapsed = (time.perf_counter() - began) * 1000
        if response.status != 200:
            raise SystemExit(f"{path}: {response.status} {answer}")
        if i >= warmup:
            trips.append(elapsed)
            server.append(answer.get("ms", np.nan))
    return np.array(trips), np.array(server)


def row(name: str, trips: np.ndarray, server: np.ndarray) -> str:
    p = np.percentile(trips, [50, 90, 99])
    return (f"{name:<34} {p[0]:7.1f} {p[1]:7.1f} {p[2]:7.1f} {trips.max():7.1f}   "
            + (f"{np.nanmedian(server):7.1f}" if np.isfinite(server).any() else "      -"))


def mixed(count: int) -> list[tuple[str, dict]]:
    """The load's requests: the playground, the filter lab and the digit lab, in turn."""
    convs = [{"input": n, "kernel": 3, "stride": 1 + n % 3, "padding": "same"} for n in range(8, 33)]
    filters = [{"image": image, "kernel": kernel} for image in ("camera", "astronaut") for kernel in ("sharpen", "gaussian", "sobel")]
    digits = drawings(20, seed=2)
    kinds = [("/api/conv", convs), ("/api/filter", filters), ("/api/digit", digits)]
    return [(kinds[i % 3][0], kinds[i % 3][1][i // 3 % len(kinds[i % 3][1])]) for i in range(count)]


def load(host: str, port: int, clients: int, per_client: int) -> tuple[float, np.ndarray, list]:
    """``clients`` threads, each on its own keep-alive connection: wall seconds, latencies (ms), errors."""
    requests = mixed(per_client)
    latencies: list[float] = []
    errors: list = []
    start = threading.Barrier(clients + 1)

    def client(k: int) -> None:
        conn = http.client.HTTPConnection(host, port, timeout=120)
        start.wait()
        for i in range(per_client):
            path, body = requests[(i + k) % per_client]
            began = time.perf_counter()
            try:
                conn.request("POST", path, body=json.dumps(body).encode(), headers={"Content-Type": "application/json"})
                response = conn.getresponse()
                data = response.read()
            except OSError as e:
                errors.append(f"{path}: {e!r}")
                conn.close()
                continue
            latencies.append((time.perf_counter() - began) * 1000)
            if response.status != 200:
                errors.append(f"{path}: {response.status} {data[:100]!r}")
        conn.close()

    threads = [threading.Thread(target=client, args=(k,)) for k in range(clients)]
    for t in threads:
        t.start()
    start.wait()
    began = time.perf_counter()
    for t in threads:
        t.join()
    return time.perf_counter() - began, np.array(latencies), errors


def peak_rss_mib(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/status") as f:
            return next(int(line.split()[1]) for line in f if line.startswith("VmHWM:")) / 1024
    except (OSError, StopIteration):
        return float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=200, help="digit requests to time (default 200)")
    parser.add_argument("--clients", type=int, default=20, help="clients at once under load (default 20)")
    parser.add_argument("--per-client", type=int, default=200, help="mixed requests each client sends (default 200)")
    parser.add_argument("--cores", type=int, default=2, help="cores the server may use (default 2)")
    args = parser.parse_args()
    proc, url = start_server(args.cores)
    try:
        host, port = url.split("//")[1].rstrip("/").split(":")
        conn = http.client.HTTPConnection(host, int(port), timeout=60)
        print(f"cnnlab serve at {url}, held to {args.cores} cores; {os.cpu_count()} cores on this machine, "
              f"load average {os.getloadavg()[0]:.1f}")
        print(f"{'endpoint (ms)':<34} {'median':>7} {'p90':>7} {'p99':>7} {'max':>7}   {'server':>7}")
        trips, server = measure(conn, "/api/digit", drawings(args.requests))
        print(row("digit lab (280x280 drawing)", trips, server))
        digit_median, digit_p90 = np.percentile(trips, [50, 90])
        small = [{**d} for d in drawings(min(args.requests, 50), size=140, seed=1)]
        print(row("digit lab (140x140 drawing)", *measure(conn, "/api/digit", small)))
        convs = [{"input": n, "kernel": 3, "stride": 1 + n % 3, "padding": "same"} for n in range(8, 33)]
        print(row("playground (8..32, 'same')", *measure(conn, "/api/conv", convs)))
        print(row("playground (32x32 transposed, s2)", *measure(conn, "/api/conv", [{"input": 32, "kernel": 3, "stride": 2,
                                                                                  "transposed": True}] * 20)))
        for kernel in ("sharpen", "gaussian", "motion"):
            print(row(f"filter lab (512x512 RGB, {kernel})", *measure(conn, "/api/filter", [{"image": "astronaut",
                                                                                          "kernel": kernel}] * 20)))
        verdict = "meets" if digit_p90 <= 100 else "MISSES"
        print(f"digit lab: median {digit_median:.1f} ms, p90 {digit_p90:.1f} ms: {verdict} the 100 ms target")
        conn.close()
        seconds, latencies, errors = load(host, int(port), args.clients, args.per_client)
        p50, p99 = np.percentile(latencies, [50, 99]) if len(latencies) else (np.nan, np.nan)
        print(f"load: {args.clients} clients x {args.per_client} mixed requests (playground, filter lab, digit lab): "
              f"{len(latencies) / seconds:.0f} requests/s, p50 {p50:.1f} ms, p99 {p99:.1f} ms, max {latencies.max():.1f} ms, "
              f"{len(errors)} errors; server peak RSS {peak_rss_mib(proc.pid):.0f} MiB")
        for error in errors[:5]:
            print(f"  error: {error}")
    finally:
        proc.terminate()
        proc.wait(timeout=20)


if __name__ == "__main__":
    main()
