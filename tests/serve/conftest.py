"""A live explorer on a free loopback port, shared by the tests of this folder, and an HTTP client."""

from __future__ import annotations

import http.client
import json
import threading
from urllib.parse import urlsplit

import pytest

from cnnlab.serve import make_server


class Client:
    """Plain http.client requests (every header under the test's control), one connection each."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        self.url, self.host, self.port = url.rstrip("/"), parts.hostname, parts.port

    def request(self, method: str, path: str, body: bytes | None = None, headers: dict | None = None,
                skip_host: bool = False) -> tuple[int, dict, bytes]:
        conn = http.client.HTTPConnection(self.host, self.port, timeout=30)
        try:
            conn.putrequest(method, path, skip_host=skip_host, skip_accept_encoding=True)
            headers = dict(headers or {})
            if body is not None and "Content-Length" not in headers and "Transfer-Encoding" not in headers:
                headers["Content-Length"] = str(len(body))
            for key, value in headers.items():
                conn.putheader(key, value)
            conn.endheaders(body)
            response = conn.getresponse()
            return response.status, dict(response.getheaders()), response.read()
        finally:
            conn.close()

    def get(self, path: str, **kw) -> tuple[int, dict, bytes]:
        return self.request("GET", path, **kw)

    def post(self, path: str, obj=None, raw: bytes | None = None, **kw) -> tuple[int, dict]:
        """POST JSON (or raw bytes); the answer must be JSON, whatever its status."""
        body = raw if raw is not None else json.dumps(obj).encode()
        status, headers, data = self.request("POST", path, body=body, **kw)
        assert headers["Content-Type"] == "application/json", (status, data[:200])
        return status, json.loads(data)

    def healthy(self) -> bool:
        status, _, data = self.get("/api/health")
        return status == 200 and json.loads(data) == {"ok": True}


@pytest.fixture(scope="package")
def server():
    srv = make_server("127.0.0.1", 0)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()


@pytest.fixture(scope="package")
def client(server) -> Client:
    return Client(server.url)
