"""The explorer's web server: the standard library's ``http.server`` on a fixed pool of threads, no framework.

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

Load: a fixed pool of ``workers`` threads serves the connections, and at most ``backlog``
more wait for one; beyond that a connection is answered 503 at once, so stalled clients
cannot grow the threads. A request's head must arrive within ``head_timeout`` seconds
and its body within ``body_timeout``, however slowly the bytes trickle in; a connection
with nothing of its next request yet (kept alive, idle) gives its thread up as soon as
another connection waits, else at ``head_timeout``. A client that goes away or stalls
mid-request costs one line on the log, no traceback. JSON bodies holding NaN, infinities
or deep nesting are refused (400), and every answer is finite JSON. Image decodes and
filters run on ``api.MAX_BUSY`` threads of their own, which bounds their memory.
"""

from __future__ import annotations

import io
import ipaddress
import json
import math
import queue
import socket
import sys
import threading
import time
import traceback
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, HTTPServer
from importlib.resources import files
from typing import Any, Callable
from urllib.parse import parse_qs, unquote, urlsplit

from cnnlab.serve import api
from cnnlab.serve.api import BadRequest, Explorer, refuse

MAX_JSON_BYTES = 2**20  # a JSON request; the digit lab's (a drawing up to 1024x1024, in base64) may be larger
MAX_BODY = {"/api/upload": api.MAX_UPLOAD_BYTES, "/api/digit": 2 * 2**20}
PAGES = {"/": "index.html", "/conv": "conv.html", "/filters": "filters.html", "/digits": "digits.html"}
TYPES = {".html": "text/html; charset=utf-8", ".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8",
         ".svg": "image/svg+xml", ".png": "image/png", ".ico": "image/x-icon", ".json": "application/json"}
MAX_DEPTH = 8  # JSON nesting: the deepest request (the playground's rows of numbers in an object) has 3
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


def parse_json(data: bytes) -> Any:
    """A request body as JSON, refusing what would make the answer or the server misbehave.

    NaN, infinities and numbers too large for a float are refused (they would come back as
    non-finite numbers, which JSON cannot hold), and so is nesting deeper than ``MAX_DEPTH``.

    Example:
        >>> parse_json(b'{"input": 7}')
        {'input': 7}
    """

    def constant(name: str) -> float:
        raise BadRequest(f"the request body holds {name}: JSON numbers must be finite")

    def finite(text: str) -> float:
        value = float(text)
        if not math.isfinite(value):
            raise BadRequest(f"the number {text[:40]} is too large: JSON numbers must be finite (at most about 1.8e308)")
        return value

    deep = BadRequest(f"the request body nests deeper than {MAX_DEPTH} levels of arrays and objects")
    try:
        obj = json.loads(data.decode("utf-8"), parse_float=finite, parse_constant=constant)
    except BadRequest:
        raise
    except RecursionError:  # deeper than the parser goes
        raise deep from None
    except (UnicodeDecodeError, ValueError) as e:  # JSONDecodeError, or an integer of over 4300 digits
        raise BadRequest(f"the request body is not valid JSON ({e})") from None
    todo = [(obj, 1)]
    while todo:  # an explicit stack: the depth is measured without recursion
        value, depth = todo.pop()
        if isinstance(value, (list, dict)):
            if depth > MAX_DEPTH:
                raise deep
            todo.extend((item, depth + 1) for item in (value.values() if isinstance(value, dict) else value))
    return obj


class _Stalled(ConnectionError):
    """The client did not send its request in time (raised past ``http.server``'s own timeout handling)."""


class _Reader(io.RawIOBase):
    """The connection's incoming bytes, with a deadline for the whole of a head or a body.

    A per-read timeout alone would let a client that sends one byte every few seconds hold
    a worker forever; here each read waits only for what is left of the deadline. A
    connection with nothing of its next request yet gives its worker up as soon as
    another connection waits for one (``crowded()``).
    """

    def __init__(self, sock: socket.socket, crowded: Callable[[], bool]) -> None:
        self.sock, self.crowded, self.deadline, self.received, self.what = sock, crowded, 0.0, 0, ""

    def readable(self) -> bool:
        return True

    def expect(self, what: str, seconds: float) -> None:
        """Start waiting for ``what`` (e.g. ``'request head'``) for at most ``seconds``."""
        self.what, self.deadline = what, time.monotonic() + seconds

    def readinto(self, buffer: Any) -> int:
        while True:
            left = self.deadline - time.monotonic()
            if left <= 0:
                raise _Stalled(f"sent no complete {self.what} in time")
            wait = left if self.received else min(left, 0.25)  # nothing yet: look at the queue now and then
            self.sock.settimeout(wait)
            try:
                n = self.sock.recv_into(buffer)
                break
            except TimeoutError:
                if not self.received and self.crowded():
                    raise _Stalled("gave its thread up to a waiting connection") from None
        self.received += n
        return n


class Handler(BaseHTTPRequestHandler):
    """One request. ``self.server`` is the ``ExplorerServer`` with the shared state."""

    server: "ExplorerServer"
    protocol_version = "HTTP/1.1"
    server_version = "cnnlab-explorer"
    sys_version = ""
    timeout = 30  # seconds for sending an answer (reading has its own deadlines: see _Reader)
    disable_nagle_algorithm = True  # headers and body go out in two writes: no 40 ms delayed-ACK stall between them

    # --- the connection -------------------------------------------------------------------
    def setup(self) -> None:
        super().setup()
        self.rfile.close()
        self.reader = _Reader(self.connection, lambda: self.server.crowded())
        self.rfile = io.BufferedReader(self.reader)

    def handle(self) -> None:
        """Requests until the connection closes; a client that goes away costs one log line."""
        self.close_connection = True
        try:
            self._next()
            while not self.close_connection:
                self._next()
        except ConnectionError as e:
            if not isinstance(e, _Stalled) or self.reader.received:  # an idle keep-alive connection closing is no news
                self._lost(e)

    def _next(self) -> None:
        self.command = self.path = ""  # nothing parsed yet: the log names no request
        self.reader.received = 0
        self.reader.expect("request head", self.server.head_timeout)
        self.handle_one_request()

    def _lost(self, e: BaseException) -> None:
        self.close_connection = True
        what = str(e) if isinstance(e, _Stalled) else f"disconnected ({str(e) or type(e).__name__})"
        during = f" during {self.command} {self.path[:100]}" if self.command else ""
        self.server.note(f"{self.address_string()}:{self.client_address[1]} {what}{during}")

    # --- answering ----------------------------------------------------------------------
    def _send(self, status: int, body: bytes, content_type: str, cache: bool = False) -> None:
        self.connection.settimeout(self.timeout)  # the reader leaves the socket with what was left of its deadline
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
        try:
            text = json.dumps(obj, allow_nan=False, separators=(",", ":"))
        except ValueError:  # inputs are bounded so that this cannot happen: a bug, answered 500
            raise RuntimeError("the answer holds a NaN or an infinity") from None
        self._send(status, text.encode(), "application/json")

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
            self._json(e.status, e.answer())
        except (ValueError, TypeError) as e:  # the library's checks of user input
            self._error(400, str(e))
        except (ConnectionError, TimeoutError) as e:  # the client went away (or stalled) mid-request
            self._lost(e)
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

    def handle_expect_100(self) -> bool:
        """Say "100 Continue" only to a body that will be read: an oversized one is refused before it is sent."""
        try:
            length = int(self.headers.get("Content-Length", ""))
        except ValueError:
            return True  # refused by _body, without a 100
        if length > MAX_BODY.get(urlsplit(self.path).path, MAX_JSON_BYTES):
            return True
        return super().handle_expect_100()

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
            raise refuse("error.body_size", 413, size=length, limit=limit, path=path)
        self.reader.expect("request body", self.server.body_timeout)
        data = self.rfile.read(length)
        if len(data) != length:  # the client closed its side: nobody may be left to read an answer
            raise ConnectionAbortedError(f"the request body ended after {len(data)} of {length} bytes")
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
        self._json(200, routes[path](parse_json(data)))


class ExplorerServer(HTTPServer):
    """The explorer's HTTP server: its state, and a fixed pool of threads serving the connections.

    Args:
        address: ``(host, port)``; an IPv6 host may be in brackets.
        explorer: the state shared by all requests.
        log: called with one line per request and per client lost mid-request (default:
            requests unlogged, lost clients on stderr).
        workers: threads serving connections (each holds one connection while it is open).
        backlog: accepted connections that may wait for a thread; more are answered 503.
    """

    request_queue_size = 64  # the kernel's queue of connections not yet accepted
    head_timeout = 10.0  # seconds for a request's head, from the end of the previous request on the connection
    body_timeout = 30.0  # seconds for a request's body (an upload is at most 10 MiB)

    def __init__(self, address: tuple[str, int], explorer: Explorer, log: Callable[[str], None] | None = None,
                 workers: int = 32, backlog: int = 64) -> None:
        self.explorer, self.workers, self.backlog = explorer, workers, backlog
        self._waiting: queue.Queue = queue.Queue()  # accepted connections; its length is held to `backlog` below
        self._threads: list[threading.Thread] = []
        host = address[0]
        if ":" in host.strip("[]"):
            self.address_family = socket.AF_INET6
        super().__init__((host.strip("[]"), address[1]), Handler)  # closes the server if it cannot listen
        self.static = load_static()
        self.log = log
        self.loopback_only = is_loopback(host)
        shown = host if ":" not in host.strip("[]") else f"[{host.strip('[]')}]"
        self.url = f"http://{shown}:{self.server_address[1]}/"

    def note(self, line: str) -> None:
        """Log one line about a client (lost mid-request, refused): to ``log``, else to stderr."""
        if self.log:
            self.log(line)
        else:
            sys.stderr.write(f"cnnlab serve: {line}\n")

    def crowded(self) -> bool:
        """Whether connections wait for a worker."""
        return not self._waiting.empty()

    def serve_forever(self, poll_interval: float = 0.5) -> None:
        """Start the worker threads, then accept connections until ``shutdown()``."""
        while len(self._threads) < self.workers:
            thread = threading.Thread(target=self._work, name=f"cnnlab-serve-{len(self._threads)}", daemon=True)
            thread.start()
            self._threads.append(thread)
        super().serve_forever(poll_interval)

    def process_request(self, request: socket.socket, client_address: Any) -> None:
        """Queue the connection for a worker, or answer 503 at once when too many wait."""
        if self._waiting.qsize() >= self.backlog:  # only this thread adds: the check cannot race
            if self.log:
                self.log(f"{client_address[0]}:{client_address[1]} refused (503): {self.backlog} connections wait already")
            return self._refuse(request)
        self._waiting.put((request, client_address))

    def _refuse(self, request: socket.socket) -> None:
        body = json.dumps(refuse("error.busy", 503).answer()).encode()
        head = (f"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n"
                f"Retry-After: 1\r\nConnection: close\r\n\r\n")
        try:
            request.setblocking(False)  # never wait on a client here: this thread accepts for everyone
            request.send(head.encode() + body)
        except OSError:
            pass
        self.shutdown_request(request)

    def _work(self) -> None:
        while (item := self._waiting.get()) is not None:
            request, client_address = item
            try:
                self.finish_request(request, client_address)
            except Exception:
                self.handle_error(request, client_address)
            finally:
                self.shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A connection that failed outside a request (reset while being set up): one line, no traceback."""
        error = sys.exc_info()[1]
        if isinstance(error, OSError):
            self.note(f"{client_address[0]}:{client_address[1]} disconnected ({error})")
        else:
            super().handle_error(request, client_address)

    def server_close(self) -> None:
        """Stop listening, drop the waiting connections and let the workers end."""
        super().server_close()
        while True:
            try:
                item = self._waiting.get_nowait()
            except queue.Empty:
                break
            if item is not None:
                self.shutdown_request(item[0])
        for _ in self._threads:
            self._waiting.put(None)
        self._threads = []
        self.explorer.close()


def make_server(host: str = "127.0.0.1", port: int = 8000, checkpoint: str | None = None,
                log: Callable[[str], None] | None = None, preload: bool = True, lang: str = "en") -> ExplorerServer:
    """Create (not start) the explorer's server; ``port=0`` picks a free port.

    Args:
        host: the address to listen on; loopback (this machine only) by default.
        port: 0..65535.
        checkpoint: the digit lab's model (default: the packaged pretrained LeNet-5).
        log: called with one line per request, and per client lost mid-request (default:
            requests unlogged, lost clients on stderr).
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
