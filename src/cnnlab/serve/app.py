"""The explorer's web server: the standard library's ``ThreadingHTTPServer``, no framework.

Routes::

    GET  /  /conv  /filters  /digits    the pages (static/*.html)
    GET  /static/NAME                   a file of the package's static/ folder, nothing else
    GET  /api/health                    {"ok": true}
    GET  /api/kernels                   the filter lab's masks and choices
    GET  /api/image?src=camera          a sample photograph or an upload, as PNG
    POST /api/conv                      JSON -> the playground's convolution (api.conv)
    POST /api/filter                    JSON -> a filtered image (Explorer.filter)
    POST /api/upload                    the image file's bytes -> its id (Explorer.upload)
    POST /api/digit                     JSON -> prediction and activations (Explorer.digit)

Safety: the static files are read once, at start, into a table keyed by file name, and
a request can only pick an entry of that table, so no URL reaches any other file. A body
over its limit is refused from its Content-Length, before it is read. Every error is a
JSON ``{"error": message}`` with a 4xx status (5xx for a bug, logged); no request can
stop the server. When it listens on loopback, requests must name a loopback host, so
that a web page elsewhere cannot reach it through DNS rebinding.
"""

from __future__ import annotations

import ipaddress
import json
import socket
import sys
import traceback
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib.resources import files
from typing import Any, Callable
from urllib.parse import parse_qs, unquote, urlsplit

from cnnlab.serve import api
from cnnlab.serve.api import BadRequest, Explorer

MAX_JSON_BYTES = 2**20  # a JSON request; the digit lab's (a drawing up to 1024x1024, in base64) may be larger
MAX_BODY = {"/api/upload": api.MAX_UPLOAD_BYTES, "/api/digit": 2 * 2**20}
PAGES = {"/": "index.html", "/conv": "conv.html", "/filters": "filters.html", "/digits": "digits.html"}
TYPES = {".html": "text/html; charset=utf-8", ".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8",
         ".svg": "image/svg+xml", ".png": "image/png", ".ico": "image/x-icon", ".json": "application/json"}
LOOPBACK_NAMES = {"localhost", "localhost.", "ip6-localhost"}
HEADERS = {  # every answer: no sniffing, no framing, scripts and styles from this server only
    "X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY", "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data: blob:; object-src 'none'; "
                               "base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
}


def is_loopback(host: str) -> bool:
    """Whether ``host`` (a name or address, IPv6 possibly in brackets) is this machine only.

    Example:
        >>> is_loopback("127.0.0.1"), is_loopback("localhost"), is_loopback("[::1]"), is_loopback("0.0.0.0")
        (True, True, True, False)
    """
    host = host.strip().lower()
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _host_name(header: str) -> str:
    """The host of a ``Host`` header, without the port: ``'[::1]:80'`` -> ``'[::1]'``."""
    if header.startswith("["):
        return header.split("]", 1)[0] + "]"
    return header.rsplit(":", 1)[0]


def load_static() -> dict[str, tuple[bytes, str]]:
    """Every file of the package's ``static/`` folder: name -> (content, content type)."""
    table = {}
    for entry in (files("cnnlab.serve") / "static").iterdir():
        suffix = "." + entry.name.rsplit(".", 1)[-1] if "." in entry.name else ""
        if entry.is_file() and suffix in TYPES:
            table[entry.name] = (entry.read_bytes(), TYPES[suffix])
    return table


class Handler(BaseHTTPRequestHandler):
    """One request. ``self.server`` is the ``ExplorerServer`` with the shared state."""

    server: "ExplorerServer"
    protocol_version = "HTTP/1.1"
    server_version = "cnnlab-explorer"
    sys_version = ""
    timeout = 30  # seconds a client may stay silent: a stalled upload cannot hold a thread forever
    disable_nagle_algorithm = True  # headers and body go out in two writes: no 40 ms delayed-ACK stall between them

    # --- answering ----------------------------------------------------------------------
    def _send(self, status: int, body: bytes, content_type: str, cache: bool = False) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "max-age=60" if cache else "no-store")
        for key, value in HEADERS.items():
            self.send_header(key, value)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, status: int, obj: Any) -> None:
        self._send(status, json.dumps(obj, allow_nan=False, separators=(",", ":")).encode(), "application/json")

    def _error(self, status: int, message: str) -> None:
        self._json(status, {"error": message})

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """Errors found by the request parser itself (bad request line, headers...): JSON too."""
        self.close_connection = True
        try:
            self._error(code, message or HTTPStatus(code).phrase)
        except OSError:
            pass

    def log_message(self, format: str, *args: Any) -> None:
        if self.server.log:
            self.server.log(f"{self.address_string()} {format % args}")

    # --- dispatching --------------------------------------------------------------------
    def do_GET(self) -> None:
        self._dispatch(self._get)

    def do_HEAD(self) -> None:
        self._dispatch(self._get)

    def do_POST(self) -> None:
        self._dispatch(self._post)

    def _other(self) -> None:
        self.close_connection = True
        self._error(405, f"method {self.command} is not allowed here: use GET for pages, POST for /api/...")

    do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _other

    def _dispatch(self, route: Callable[[str, dict[str, list[str]]], None]) -> None:
        try:
            if self.server.loopback_only and not is_loopback(_host_name(self.headers.get("Host") or "")):
                self.close_connection = True
                raise BadRequest(f"host {self.headers.get('Host')!r} is not allowed: open the explorer at "
                                 f"{self.server.url}", 403)
            parts = urlsplit(self.path)
            route(parts.path, parse_qs(parts.query))
        except BadRequest as e:
            self._error(e.status, str(e))
        except (ValueError, TypeError) as e:  # the library's checks of user input
            self._error(400, str(e))
        except (ConnectionError, TimeoutError, socket.timeout):
            self.close_connection = True
        except Exception:  # a bug: say so, log it, keep serving
            self.close_connection = True
            sys.stderr.write(f"cnnlab serve: internal error on {self.command} {self.path[:200]}\n{traceback.format_exc()}")
            try:
                self._error(500, "internal error (logged by the server)")
            except OSError:
                pass

    def _get(self, path: str, query: dict[str, list[str]]) -> None:
        if self.headers.get("Content-Length", "0") not in ("", "0"):
            self.close_connection = True  # a GET with a body: do not read it, do not reuse the connection
        if path in PAGES:
            return self._static(PAGES[path])
        if path.startswith("/static/"):
            return self._static(unquote(path[len("/static/"):]))
        if path == "/api/health":
            return self._json(200, {"ok": True})
        if path == "/api/kernels":
            return self._json(200, api.kernels())
        if path == "/api/image":
            source = query.get("src", ["camera"])[0]
            from cnnlab.filters import to_uint8

            return self._send(200, api.png_bytes(to_uint8(self.server.explorer.image(source))), "image/png")
        if path.startswith("/api/"):
            raise BadRequest(f"no such endpoint: GET {path[:100]}", 404)
        raise BadRequest(f"no such page: {path[:100]} (the pages are {', '.join(PAGES)})", 404)

    def _static(self, name: str) -> None:
        entry = self.server.static.get(name)  # an exact name of the table, or nothing
        if entry is None:
            raise BadRequest(f"no such file: {name[:100]!r}", 404)
        self._send(200, entry[0], entry[1], cache=False)

    def _body(self, path: str) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            self.close_connection = True
            raise BadRequest("chunked requests are not accepted: send a Content-Length", 411)
        text = self.headers.get("Content-Length")
        if text is None:
            self.close_connection = True
            raise BadRequest("a POST needs a Content-Length header", 411)
        limit = MAX_BODY.get(path, MAX_JSON_BYTES)
        try:
            length = int(text)
        except ValueError:
            self.close_connection = True
            raise BadRequest(f"Content-Length must be a number of bytes (got {text[:40]!r})") from None
        if length < 0:
            self.close_connection = True
            raise BadRequest(f"Content-Length must not be negative (got {length})")
        if length > limit:
            self.close_connection = True  # the body is never read: the connection cannot be reused
            raise BadRequest(f"the request body is {length} bytes, over the limit of {limit} for {path}", 413)
        data = self.rfile.read(length)
        if len(data) != length:
            self.close_connection = True
            raise BadRequest(f"the request body ended after {len(data)} of {length} bytes")
        return data

    def _post(self, path: str, query: dict[str, list[str]]) -> None:
        routes = {"/api/conv": api.conv, "/api/filter": self.server.explorer.filter,
                  "/api/digit": self.server.explorer.digit}
        if path not in routes and path != "/api/upload":
            self.close_connection = True
            raise BadRequest(f"no such endpoint: POST {path[:100]}", 404 if path.startswith("/api/") else 405)
        data = self._body(path)
        if path == "/api/upload":
            return self._json(200, self.server.explorer.upload(data))
        try:
            params = json.loads(data.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            raise BadRequest(f"the request body is not valid JSON ({e})") from None
        self._json(200, routes[path](params))


class ExplorerServer(ThreadingHTTPServer):
    """A threading HTTP server holding the explorer's state; ``url`` is where it listens."""

    daemon_threads = True  # Ctrl-C does not wait for open connections
    request_queue_size = 64

    def __init__(self, address: tuple[str, int], explorer: Explorer, log: Callable[[str], None] | None = None) -> None:
        host = address[0]
        if ":" in host.strip("[]"):
            self.address_family = socket.AF_INET6
        super().__init__((host.strip("[]"), address[1]), Handler)
        self.explorer = explorer
        self.static = load_static()
        self.log = log
        self.loopback_only = is_loopback(host)
        shown = host if ":" not in host.strip("[]") else f"[{host.strip('[]')}]"
        self.url = f"http://{shown}:{self.server_address[1]}/"


def make_server(host: str = "127.0.0.1", port: int = 8000, checkpoint: str | None = None,
                log: Callable[[str], None] | None = None, preload: bool = True, lang: str = "en") -> ExplorerServer:
    """Create (not start) the explorer's server; ``port=0`` picks a free port.

    Args:
        host: the address to listen on; loopback (this machine only) by default.
        port: 0..65535.
        checkpoint: the digit lab's model (default: the packaged pretrained LeNet-5).
        log: called with one line per request (default: silent).
        preload: load the digit model now, so that a bad checkpoint fails before serving.
        lang: the pages' language until a visitor switches ("en" or "ko").

    Raises:
        ValueError: a port out of range or a checkpoint the digit lab cannot use.
        OSError: the address cannot be listened on (in use, not this machine's, ...).
    """
    if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
        raise ValueError(f"serve: port must be from 0 to 65535 (got {port!r})")
    explorer = Explorer(checkpoint)
    if preload:
        explorer.model()
    from cnnlab.i18n import script

    try:
        server = ExplorerServer((host, port), explorer, log)
        server.static["i18n.js"] = (script(lang).encode("utf-8"), "text/javascript; charset=utf-8")
        return server
    except socket.gaierror as e:
        raise OSError(f"cannot listen on {host!r}: {e.strerror}") from None
    except OSError as e:
        raise OSError(f"cannot listen on {host}:{port}: {e.strerror or e}") from None
