"""Small threaded HTTP(S) servers that hand parsed requests to one application callable.

They know nothing about identity: the platform gives them a function from
:class:`HttpRequest` to :class:`HttpResponse`. :class:`HttpsServer` speaks TLS;
:class:`HttpServer`, its plain-HTTP base, serves the pages a person's browser is sent
to when the platform is asked for them over plain HTTP. What they take care of:

- TLS per connection (:class:`HttpsServer`), with the handshake done in the
  connection's own thread, so a client that stalls during the handshake never blocks
  the accept loop;
- HTTP/1.1 keep-alive with an exact ``Content-Length`` on every response;
- bounded request bodies (no chunked uploads, at most :data:`MAX_BODY_BYTES`);
- silence: no access log and no tracebacks for clients that hang up;
- a quick, clean stop that also closes idle keep-alive connections.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import ssl
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.cookies import CookieError, SimpleCookie
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from socketserver import TCPServer
from typing import Any, cast
from urllib.parse import urlsplit

__all__ = ["MAX_BODY_BYTES", "HttpRequest", "HttpResponse", "HttpServer", "HttpsServer"]

logger = logging.getLogger("sso_api.testing")

#: Largest request body accepted; token and authorize requests are a few kilobytes.
MAX_BODY_BYTES = 256 * 1024
# A client must finish the TLS handshake within this time, and an idle keep-alive
# connection is closed after this time, so abandoned connections free their threads.
_HANDSHAKE_TIMEOUT = 10.0
_IDLE_TIMEOUT = 30.0


@dataclass(frozen=True)
class HttpRequest:
    """One request as the application sees it.

    ``path`` is the raw (still percent-encoded) path without the query; ``query`` is
    the raw query string. HEAD requests arrive as ``method="HEAD"`` and their response
    body is dropped by the server. ``secure`` tells whether the request came over TLS.
    """

    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes
    cookies: dict[str, str]
    secure: bool = True

    def header(self, name: str) -> str | None:
        """The value of header ``name`` (case-insensitive), or None."""
        return self.headers.get(name.lower())


@dataclass
class HttpResponse:
    """A complete response; the server adds ``Content-Length`` and the common headers."""

    status: int
    body: bytes = b""
    content_type: str = "text/plain; charset=utf-8"
    headers: list[tuple[str, str]] = field(default_factory=list)


Application = Callable[[HttpRequest], HttpResponse]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "sso-api-fake-identity-platform"
    sys_version = ""
    timeout = _IDLE_TIMEOUT
    # http.server sends the headers and the body in two writes; with Nagle's algorithm
    # the body then waits for the client's delayed ACK, about 40 ms per response.
    disable_nagle_algorithm = True

    # Every method goes to the application, which answers 405 where it must: an
    # unknown method is bad input, and bad input gets a 4xx, not http.server's 501.
    def do_GET(self) -> None:
        self._serve()

    do_POST = do_HEAD = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_GET

    def log_message(self, format: str, *args: Any) -> None:
        # Quiet by design: the test output is no place for an access log, and request
        # lines can carry authorization codes.
        return

    def _serve(self) -> None:
        if self.headers.get("Transfer-Encoding"):
            self._reject(411, "Send a Content-Length; chunked bodies are not accepted.")
            return
        try:
            length = int(self.headers.get("Content-Length") or "0")
        except ValueError:
            length = -1
        if length < 0:
            self._reject(400, "Invalid Content-Length.")
            return
        if length > MAX_BODY_BYTES:
            self._reject(413, "Request body too large.")
            return
        body = self.rfile.read(length) if length else b""
        if len(body) < length:
            self.close_connection = True
            return
        target = urlsplit(self.path)
        request = HttpRequest(
            method=self.command,
            path=target.path,
            query=target.query,
            headers={name.lower(): value for name, value in self.headers.items()},
            body=body,
            cookies=_parse_cookies(self.headers.get_all("Cookie") or []),
            secure=isinstance(self.server, HttpsServer),
        )
        server = cast(HttpServer, self.server)
        try:
            response = server.application(request)
        except Exception:
            # A bug in the fake, never the client's fault: keep the traceback for the
            # developer (logging, not stderr noise per request) and answer 500.
            logger.exception("fake identity platform failed on %s %s", self.command, target.path)
            response = HttpResponse(500, b"internal error in the fake identity platform")
        self._write(response)

    def _reject(self, status: int, message: str) -> None:
        # The body was not read, so the connection cannot be reused.
        self.close_connection = True
        self._write(HttpResponse(status, message.encode()), extra=[("Connection", "close")])

    def _write(self, response: HttpResponse, extra: list[tuple[str, str]] | None = None) -> None:
        self.send_response(response.status)
        for name, value in [*response.headers, *(extra or [])]:
            self.send_header(name, value)
        self.send_header("Content-Type", response.content_type)
        self.send_header("Content-Length", str(len(response.body)))
        self.send_header("Cache-Control", "no-store, no-cache")
        self.send_header("Pragma", "no-cache")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Referrer-Policy", "no-referrer")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(response.body)


def _parse_cookies(headers: list[str]) -> dict[str, str]:
    jar: SimpleCookie = SimpleCookie()
    for header in headers:
        # A malformed Cookie header is the client's problem; ignore it like a browser
        # would ignore a malformed Set-Cookie.
        with contextlib.suppress(CookieError):
            jar.load(header)
    return {name: morsel.value for name, morsel in jar.items()}


class HttpServer(ThreadingHTTPServer):
    """A ThreadingHTTPServer bound at construction and served by :meth:`start`.

    Binding happens in ``__init__`` so the port (and so every URL the platform hands
    out) is known before the first request. Connection threads are daemons; ``stop``
    closes the listener and every open connection. Plain HTTP; :class:`HttpsServer`
    adds TLS.
    """

    daemon_threads = True
    block_on_close = False

    def __init__(self, host: str, port: int, *, application: Application) -> None:
        self.application = application
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        self._thread: threading.Thread | None = None
        if ":" in host:
            self.address_family = socket.AF_INET6
        super().__init__((host, port), _Handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind resolves the host's FQDN, a reverse DNS lookup that can
        # stall for seconds in sandboxes; nothing here uses that name.
        TCPServer.server_bind(self)
        self.server_name = str(self.server_address[0])
        self.server_port = int(self.server_address[1])

    @property
    def port(self) -> int:
        """The bound port (the real one when 0 was asked for)."""
        return self.server_port

    def start(self) -> None:
        """Serve in a background daemon thread."""
        # A short poll interval keeps stop() fast: shutdown() waits for one poll.
        self._thread = threading.Thread(
            target=self.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"fake-identity-platform:{self.port}",
            daemon=True,
        )
        self._thread.start()

    def stop(self) -> None:
        """Stop serving, close the listener and every open connection."""
        if self._thread is not None:
            self.shutdown()
            self._thread.join()
            self._thread = None
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            # Wakes connection threads blocked on an idle keep-alive read.
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
        self.server_close()

    def _open(self, raw: socket.socket) -> socket.socket | None:
        """The connection to read requests from, or None to drop the client."""
        return raw

    def finish_request(self, request: Any, client_address: Any) -> None:
        raw = cast(socket.socket, request)
        raw.settimeout(_HANDSHAKE_TIMEOUT)
        connection = self._open(raw)
        if connection is None:
            raw.close()
            return
        with self._connections_lock:
            self._connections.add(connection)
        try:
            connection.settimeout(_IDLE_TIMEOUT)
            _Handler(connection, client_address, self)
        except OSError:  # includes ssl.SSLError
            pass  # the client went away mid-request
        finally:
            with self._connections_lock:
                self._connections.discard(connection)
            connection.close()

    def handle_error(self, request: Any, client_address: Any) -> None:
        logger.debug("connection from %s failed", client_address, exc_info=True)


class HttpsServer(HttpServer):
    """An :class:`HttpServer` speaking TLS with the given certificate and key."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        certificate_file: str,
        key_file: str,
        application: Application,
    ) -> None:
        self.ssl_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ssl_context.minimum_version = ssl.TLSVersion.TLSv1_2
        self.ssl_context.load_cert_chain(certificate_file, key_file)
        super().__init__(host, port, application=application)

    def _open(self, raw: socket.socket) -> socket.socket | None:
        try:
            return self.ssl_context.wrap_socket(raw, server_side=True)
        except OSError:  # includes ssl.SSLError
            # Failed handshakes (a client that does not trust our CA, a port scanner)
            # are the client's business.
            return None
