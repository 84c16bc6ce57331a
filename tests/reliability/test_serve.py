"""The explorer under load and faults: stalled and vanishing clients, huge uploads, hostile JSON.

A real `cnnlab serve` runs in its own process (its threads and peak memory read from
/proc) or in a thread (short timeouts set on the instance); every client is on loopback
and every wait is bounded.
"""

from __future__ import annotations

import base64
import http.client
import io
import json
import os
import socket
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

from cnnlab.serve import make_server

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")


class Served:
    """`cnnlab serve --port 0` in a subprocess; ``lines`` collects its stderr as it comes."""

    def __init__(self) -> None:
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        self.proc = subprocess.Popen([sys.executable, "-m", "cnnlab.cli", "serve", "--port", "0"], env=env,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        assert line.startswith("cnnlab explorer: http://127.0.0.1:"), line
        self.port = int(line.split()[2].rstrip("/").rsplit(":", 1)[1])
        self.lines: list[str] = []
        threading.Thread(target=lambda: self.lines.extend(self.proc.stderr), daemon=True).start()

    def status(self, key: str) -> int:
        """A number of /proc/PID/status, e.g. ``Threads`` or ``VmHWM`` (kB)."""
        with open(f"/proc/{self.proc.pid}/status") as f:
            return next(int(line.split()[1]) for line in f if line.startswith(key + ":"))

    def request(self, method: str, path: str, body: bytes | None = None, timeout: float = 60) -> tuple[int, bytes]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            conn.request(method, path, body=body)
            response = conn.getresponse()
            return response.status, response.read()
        finally:
            conn.close()

    def post(self, path: str, body: bytes | dict) -> tuple[int, dict]:
        status, data = self.request("POST", path, body if isinstance(body, bytes) else json.dumps(body).encode())
        return status, strict_json(data)

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def strict_json(data: bytes):
    """JSON as the standard demands it: NaN and infinities are not JSON."""
    def refuse(name):
        raise AssertionError(f"the answer holds {name}")

    return json.loads(data, parse_constant=refuse)


def wait_for(condition, seconds: float = 20.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


@pytest.fixture(scope="module")
def served():
    server = Served()
    yield server
    server.stop()
    assert not any("Traceback" in line for line in server.lines), "".join(server.lines)


def drawing(seed: int, size: int = 140) -> dict:
    from PIL import Image, ImageDraw

    rng = np.random.default_rng(seed)
    im = Image.new("L", (size, size), 255)
    points = [tuple(int(v) for v in rng.integers(20, size - 20, 2)) for _ in range(4)]
    ImageDraw.Draw(im).line(points, fill=0, width=10)
    return {"width": size, "height": size, "pixels": base64.b64encode(im.tobytes()).decode()}


# --- stalled and vanishing clients ------------------------------------------------------
def test_stalled_clients_do_not_grow_threads(served):
    assert served.request("GET", "/api/health")[0] == 200
    before = served.status("Threads")
    head = b"POST /api/conv HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100\r\n\r\n"
    stalled = []
    try:
        for i in range(200):  # half a head, or a head and half a body, then silence
            s = socket.create_connection(("127.0.0.1", served.port), timeout=10)
            s.sendall(head[:30] if i % 2 else head + b'{"input": ')
            stalled.append(s)
        time.sleep(1.0)
        threads = served.status("Threads")
        assert threads <= before + 2, (before, threads)  # the pool was started before: no thread per connection
        refused = 0
        for s in stalled[-50:]:  # the last ones found the pool and its queue full: answered at once
            s.settimeout(5)
            try:
                refused += s.recv(200).startswith(b"HTTP/1.1 503")
            except OSError:
                pass
        assert refused > 0
    finally:
        for s in stalled:
            s.close()
    assert wait_for(lambda: served.request("GET", "/api/health", timeout=5)[0] == 200)
    assert served.status("Threads") <= before + 2


def test_vanishing_clients_cost_one_log_line_each(served):
    head = b"POST /api/upload HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100000\r\n\r\n"
    ports = []
    for _ in range(20):  # mid-body: the client closes after 1 kB of 100 kB
        with socket.create_connection(("127.0.0.1", served.port), timeout=10) as s:
            s.sendall(head + b"x" * 1000)
            ports.append(s.getsockname()[1])
    for _ in range(10):  # mid-response: a reset while a large answer is on its way
        s = socket.create_connection(("127.0.0.1", served.port), timeout=10)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.sendall(b"GET /api/image?src=astronaut HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        s.recv(100)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")  # close -> RST
        s.close()

    def lost(port: int) -> list[str]:
        return [line for line in list(served.lines) if f":{port} " in line]

    assert wait_for(lambda: all(lost(port) for port in ports), 20), served.lines[-5:]
    for port in ports:
        (line,) = lost(port)
        assert line.startswith("cnnlab serve: 127.0.0.1:") and "disconnected" in line and "POST /api/upload" in line
        assert "after 1000 of 100000 bytes" in line
    assert served.request("GET", "/api/health")[0] == 200
    assert not any("Traceback" in line or line.startswith((" ", "\t")) for line in served.lines), served.lines[-10:]


def test_slow_and_idle_clients_are_dropped():
    """A client trickling bytes is cut off at the deadline (one line); an idle one quietly."""
    lines: list[str] = []
    srv = make_server("127.0.0.1", 0, log=lines.append, preload=False)
    srv.head_timeout, srv.workers = 1.0, 4
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    try:
        port = srv.server_address[1]
        began = time.monotonic()
        with socket.create_connection(("127.0.0.1", port), timeout=10) as slow, \
                socket.create_connection(("127.0.0.1", port), timeout=10) as idle:
            closed = False
            for ch in b"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\n":  # never finished
                try:
                    slow.sendall(bytes([ch]))
                except OSError:
                    closed = True
                    break
                time.sleep(0.1)
                if time.monotonic() - began > 5:
                    break
            assert closed or slow.recv(100) == b"", "the slow client was not dropped"
            assert time.monotonic() - began < 4
            assert idle.recv(100) == b""  # closed, nothing said
        assert wait_for(lambda: len(lines) >= 1, 5)
        assert len(lines) == 1 and "sent no complete request head in time" in lines[0], lines
    finally:
        srv.shutdown()
        srv.server_close()


# --- memory -------------------------------------------------------------------------------
def test_concurrent_huge_uploads_keep_memory_bounded():
    """Four 5000x5000 PNGs (about 85 kB each) at once: the server stays under 1 GiB."""
    from PIL import Image

    uploads = []
    for i in range(4):
        a = np.zeros((5000, 5000, 3), np.uint8)
        a[i::500] = 255
        buf = io.BytesIO()
        Image.fromarray(a).save(buf, format="PNG", optimize=True)
        uploads.append(buf.getvalue())
    del a
    assert all(len(u) < 200_000 for u in uploads)
    server = Served()
    try:
        answers: list = []
        threads = [threading.Thread(target=lambda u=u: answers.append(server.post("/api/upload", u))) for u in uploads]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        assert len(answers) == 4 and all(status == 200 for status, _ in answers), answers
        assert all(r["original"] == [5000, 5000] and (r["width"], r["height"]) == (1024, 1024) for _, r in answers)
        peak = server.status("VmHWM") * 1024
        assert peak < 2**30, f"peak RSS {peak / 2**20:.0f} MiB"
        status, r = server.post("/api/filter", {"image": answers[0][1]["id"], "kernel": "sharpen"})
        assert status == 200 and r["width"] == 1024
    finally:
        server.stop()


# --- hostile JSON ---------------------------------------------------------------------------
@pytest.mark.parametrize("body", [
    b"[" * 100_000, b'{"a":' * 50_000 + b"1" + b"}" * 50_000, b"[" * 500 + b"]" * 500,
    json.dumps({"input": 2, "input_values": [[[[[[[[[[1]]]]]]]]]]}).encode(),
], ids=["arrays-100000", "objects-50000", "arrays-500", "values-10"])
def test_nested_json_is_refused(served, body):
    status, r = served.post("/api/conv", body)
    assert status == 400 and "nests deeper than 8 levels" in r["error"], r


@pytest.mark.parametrize("path,body,message", [
    ("/api/conv", b'{"input": 2, "kernel": 1, "kernel_values": [[1e38]]}', "between -1000 and 1000"),
    ("/api/conv", b'{"input": 2, "kernel": 1, "kernel_values": [[1e999]]}', "must be finite"),
    ("/api/conv", b'{"input": 2, "kernel": 1, "kernel_values": [[Infinity]]}', "holds Infinity"),
    ("/api/conv", b'{"input": 2, "kernel": 1, "kernel_values": [[-Infinity]]}', "holds -Infinity"),
    ("/api/conv", b'{"input": NaN}', "holds NaN"),
    ("/api/conv", b'{"input": 2, "kernel": 1, "kernel_values": [[' + b"9" * 400 + b"]]}", "between -1000 and 1000"),
    ("/api/conv", b'{"input": ' + b"9" * 5000 + b"}", "not valid JSON"),
    ("/api/filter", b'{"kernel": "1e38,0;0,0"}', "between -1000 and 1000"),
    ("/api/filter", b'{"kernel": "-1e38"}', "between -1000 and 1000"),
])
def test_non_finite_numbers_are_refused(served, path, body, message):
    status, r = served.post(path, body)
    assert status == 400 and message in r["error"], r
    assert "\n" not in r["error"] and "Out of range float" not in r["error"]


def test_extreme_allowed_values_give_finite_answers(served):
    status, r = served.post("/api/conv", {"input": 11, "kernel": 11, "input_values": [[1000] * 11] * 11,
                                          "kernel_values": [[-1000] * 11] * 11})
    assert status == 200 and r["output"] == [[-1000 * 1000 * 121]]
    kernel = ";".join([",".join(["1000"] * 15)] * 15)
    status, r = served.post("/api/filter", {"kernel": kernel, "display": "rescale"})
    assert status == 200 and np.isfinite([r["min"], r["max"]]).all()


# --- concurrency ----------------------------------------------------------------------------
def test_concurrent_digits_match_sequential(served):
    bodies = [drawing(seed) for seed in range(6)]
    sequential = [served.post("/api/digit", body) for body in bodies]
    assert all(status == 200 for status, _ in sequential)
    results: dict = {}

    def ask(k: int) -> None:
        for i in range(len(bodies)):
            j = (i + k) % len(bodies)
            results[k, j] = served.post("/api/digit", bodies[j])

    threads = [threading.Thread(target=ask, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert len(results) == 4 * len(bodies)
    for (k, j), (status, r) in results.items():
        expected = sequential[j][1]
        assert status == 200 and r["probabilities"] == expected["probabilities"] and r["layers"] == expected["layers"]


def test_twenty_clients_without_errors(served):
    """20 keep-alive clients, mixed requests (the benchmark does 200 each; this is the quick form)."""
    bodies = [("/api/conv", {"input": 8 + i % 20, "kernel": 3, "stride": 1 + i % 3, "padding": "same"}) for i in range(5)]
    bodies += [("/api/filter", {"image": "camera", "kernel": "sharpen"}), ("/api/digit", drawing(0))]
    errors: list = []

    def client(k: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", served.port, timeout=60)
        try:
            for i in range(10):
                path, body = bodies[(k + i) % len(bodies)]
                conn.request("POST", path, body=json.dumps(body))
                response = conn.getresponse()
                data = response.read()
                if response.status != 200:
                    errors.append((path, response.status, data[:200]))
        except OSError as e:
            errors.append(repr(e))
        finally:
            conn.close()

    threads = [threading.Thread(target=client, args=(k,)) for k in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(300)
    assert errors == []


def test_idle_connections_give_way_to_waiting_ones():
    """Two kept-alive, idle connections hold both workers: a third client is served anyway, at once."""
    srv = make_server("127.0.0.1", 0, preload=False)
    srv.workers = 2
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        port = srv.server_address[1]
        idle = [http.client.HTTPConnection("127.0.0.1", port, timeout=10) for _ in range(2)]
        for conn in idle:
            conn.request("GET", "/api/health")
            assert conn.getresponse().read() == b'{"ok":true}'
        began = time.monotonic()
        third = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        third.request("GET", "/api/health")
        assert third.getresponse().status == 200
        assert time.monotonic() - began < srv.head_timeout / 2
        for conn in idle + [third]:
            conn.close()
    finally:
        srv.shutdown()
        srv.server_close()


@pytest.mark.parametrize("length,first", [(20 * 2**20, b"HTTP/1.1 413 "), (100, b"HTTP/1.1 100 Continue")])
def test_expect_continue_only_for_bodies_that_will_be_read(served, length, first):
    with socket.create_connection(("127.0.0.1", served.port), timeout=10) as s:
        s.sendall(f"POST /api/upload HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {length}\r\n"
                  f"Expect: 100-continue\r\n\r\n".encode())
        assert s.recv(200).startswith(first)
