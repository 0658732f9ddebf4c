"""A lean HTTP/1.1 keep-alive client for the load generators in bench/ (an `asyncio.Protocol`).

A general client (httpx) costs 2.5–3.8 ms of CPU per request on the benchmark machine: on 2 cores
shared with the server under test, the load generator would be the bottleneck. This one does only
what a load loop needs, for well under 0.5 ms per request:

* one persistent connection per `Connection` (one per client task), TCP_NODELAY set;
* requests are bytes the caller builds (`request_bytes`, with `Content-Length`), written in one
  `transport.write`; one request at a time per connection (no pipelining);
* the response is parsed just enough: status line, headers up to the blank line, then a
  `Content-Length` body, a `Transfer-Encoding: chunked` body (decoded, trailers skipped), or, with
  neither, a body read up to the server's close; interim 1xx responses are skipped;
* the connection is reopened on the next request after `Connection: close`, a server EOF or any
  error (a timeout or a malformed response leaves the connection unusable, so it is closed);
* each request has a timeout (`RequestTimeout`).

Errors are `ClientError` subclasses; their class name is what a benchmark reports.
It only knows plain `http://` (no TLS, no proxies, no redirects, no cookies, no compression: it
sends no `Accept-Encoding`).

Import it as `bench._http` from the repository root (bench/ itself must not be on sys.path: see
bench/intake.py).
"""

from __future__ import annotations

import asyncio
import json
import socket
from urllib.parse import quote

MAX_HEAD = 64 * 1024  # status line + headers
MAX_BODY = 64 * 1024 * 1024


class ClientError(Exception):
    """Base of what `Connection.request` raises."""


class ConnectError(ClientError):
    """The TCP connection could not be opened."""


class RequestTimeout(ClientError):
    """No complete response within the request's timeout."""


class ServerDisconnected(ClientError):
    """The server closed the connection before the response was complete."""


class ProtocolError(ClientError):
    """The response is not HTTP/1.x as this client reads it."""


class Response:
    __slots__ = ("status", "headers", "body")

    def __init__(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self.status = status
        self.headers = headers  # lower-case names; repeated headers joined with ", "
        self.body = body

    def json(self):
        return json.loads(self.body)

    def __repr__(self) -> str:
        return f"<Response {self.status}, {len(self.body)} bytes>"


def json_body(data) -> bytes:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()


def query_string(params: dict[str, object]) -> str:
    """`?a=1&b=…`, percent-encoded as UTF-8."""
    return "?" + "&".join(f"{quote(str(k), safe='')}={quote(str(v), safe='')}" for k, v in params.items())


def request_head(method: str, target: str, host: str, headers: dict[str, str] | None = None) -> bytes:
    """The request line and the constant headers, without the closing blank line: build it once per
    client and finish each request with `request_bytes(head, …)`."""
    lines = [f"{method} {target} HTTP/1.1", f"Host: {host}"]
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    return ("\r\n".join(lines) + "\r\n").encode("latin-1")


def request_bytes(head: bytes, body: bytes | None = None, extra: bytes = b"") -> bytes:
    """A whole request: `head` (from `request_head`), `extra` header lines (each ending in CRLF),
    `Content-Length` when there is a body, the blank line and the body."""
    if body is None:
        return head + extra + b"\r\n"
    return b"%s%sContent-Length: %d\r\n\r\n%s" % (head, extra, len(body), body)


def _content_length(value: str) -> int:
    parts = {p.strip() for p in value.split(",")}  # "n, n" (a repeated header) is allowed if all agree
    if len(parts) != 1:
        raise ProtocolError(f"conflicting Content-Length: {value!r}")
    (text,) = parts
    if not (text.isascii() and text.isdigit()):
        raise ProtocolError(f"bad Content-Length: {value!r}")
    n = int(text)
    if n > MAX_BODY:
        raise ProtocolError(f"Content-Length {n} over the client's limit")
    return n


class _Protocol(asyncio.Protocol):
    """One connection; at most one request in flight. Parsing state lives here between data_received calls."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.buf = bytearray()
        self.waiter: asyncio.Future | None = None
        self._expect_body = True
        self._reset()

    def _reset(self) -> None:
        self.status = 0
        self.headers: dict[str, str] | None = None  # None: still reading the head
        self.keep_alive = True
        self.length: int | None = None  # Content-Length body
        self.chunked = False
        self.until_close = False
        self.chunks: list[bytes] = []
        self.chunk_left = -1  # bytes of data left in the current chunk; -1: at a size line; -2: trailers

    # --- asyncio callbacks

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def data_received(self, data: bytes) -> None:
        if self.waiter is None or self.waiter.done():
            self._fail(ProtocolError(f"{len(data)} bytes from the server with no request waiting"))
            return
        self.buf += data
        try:
            self._parse()
        except ProtocolError as exc:
            self._fail(exc)

    def eof_received(self) -> bool:
        return False  # close our side too; connection_lost follows

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        waiter = self.waiter
        if waiter is None or waiter.done():
            return
        if self.headers is not None and self.until_close:
            self._finish(bytes(self.buf))
            return
        what = "in the middle of the response" if self.buf or self.headers is not None else "without a response"
        cause = f" ({type(exc).__name__}: {exc})" if exc else ""
        waiter.set_exception(ServerDisconnected(f"the server closed the connection {what}{cause}"))

    # --- parsing

    def _parse(self) -> None:
        buf = self.buf
        while self.headers is None:  # the head (possibly after interim 1xx responses)
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                if len(buf) > MAX_HEAD:
                    raise ProtocolError("response head over 64 KiB")
                return
            head = bytes(buf[:end]).decode("latin-1")
            del buf[:end + 4]
            status_line, *lines = head.split("\r\n")
            version, _, rest = status_line.partition(" ")
            code = rest[:3]
            if not version.startswith("HTTP/1.") or len(code) != 3 or not code.isdigit():
                raise ProtocolError(f"bad status line: {status_line[:100]!r}")
            status = int(code)
            if 100 <= status < 200 and status != 101:
                continue  # interim (100 Continue, 103 Early Hints): the real response follows
            headers: dict[str, str] = {}
            for line in lines:
                name, sep, value = line.partition(":")
                if not sep or not name or name != name.strip():
                    raise ProtocolError(f"bad header line: {line[:100]!r}")
                name, value = name.lower(), value.strip()
                headers[name] = f"{headers[name]}, {value}" if name in headers else value
            self.status, self.headers = status, headers
            conn = headers.get("connection", "").lower()
            self.keep_alive = "close" not in conn if version == "HTTP/1.1" else "keep-alive" in conn
            te = headers.get("transfer-encoding")
            if not self._expect_body or status in (204, 304):
                self.length = 0
            elif te is not None:
                codings = [c.strip().lower() for c in te.split(",")]
                if codings[-1] != "chunked" or len(codings) != 1:
                    raise ProtocolError(f"unsupported Transfer-Encoding: {te!r} (only 'chunked')")
                self.chunked = True
            elif "content-length" in headers:
                self.length = _content_length(headers["content-length"])
            else:
                self.until_close = True
                self.keep_alive = False
        if self.length is not None:
            if len(buf) >= self.length:
                body = bytes(buf[:self.length])
                del buf[:self.length]
                self._finish(body)
        elif self.chunked:
            self._parse_chunks()
        elif len(buf) > MAX_BODY:  # until_close
            raise ProtocolError("response body over the client's limit")

    def _parse_chunks(self) -> None:
        buf = self.buf
        while True:
            if self.chunk_left >= 0:  # inside a chunk's data (+ its CRLF)
                if len(buf) < self.chunk_left + 2:
                    return
                if buf[self.chunk_left:self.chunk_left + 2] != b"\r\n":
                    raise ProtocolError("chunk data not followed by CRLF")
                self.chunks.append(bytes(buf[:self.chunk_left]))
                del buf[:self.chunk_left + 2]
                self.chunk_left = -1
                continue
            end = buf.find(b"\r\n")
            if end < 0:
                if len(buf) > MAX_HEAD:
                    raise ProtocolError("chunk size or trailer line over 64 KiB")
                return
            line = bytes(buf[:end])
            del buf[:end + 2]
            if self.chunk_left == -2:  # trailers, up to an empty line
                if not line:
                    self._finish(b"".join(self.chunks))
                    return
                continue
            size = line.split(b";", 1)[0].strip()  # chunk extensions are ignored
            if not size or size.strip(b"0123456789abcdefABCDEF"):  # hex digits only (int() takes more)
                raise ProtocolError(f"bad chunk size line: {line[:100]!r}")
            n = int(size, 16)
            if sum(map(len, self.chunks)) + n > MAX_BODY:
                raise ProtocolError("response body over the client's limit")
            self.chunk_left = n if n else -2

    def _finish(self, body: bytes) -> None:
        response = Response(self.status, self.headers or {}, body)
        keep_alive = self.keep_alive
        waiter = self.waiter
        self._reset()
        if self.buf:  # bytes beyond the response: the stream is out of step
            keep_alive = False
        if not keep_alive:
            self.close()
        if waiter is not None and not waiter.done():
            waiter.set_result(response)

    def _fail(self, exc: ClientError) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(exc)
        self.close()

    # --- used by Connection

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()

    async def exchange(self, data: bytes, timeout: float, expect_body: bool) -> Response:
        self._reset()
        self.buf.clear()
        self._expect_body = expect_body
        self.waiter = waiter = self.loop.create_future()
        self.transport.write(data)  # type: ignore[union-attr]
        timer = self.loop.call_later(timeout, self._timed_out, waiter, timeout)
        try:
            return await waiter
        finally:
            timer.cancel()
            self.waiter = None

    def _timed_out(self, waiter: asyncio.Future, timeout: float) -> None:
        if not waiter.done():
            waiter.set_exception(RequestTimeout(f"no complete response within {timeout:g} s"))
            self.close()  # the response may still come: this connection is out of step now


class Connection:
    """One keep-alive connection to `host:port`, opened on the first request and reopened after the
    server or an error closed it. Not for concurrent use: one request at a time (one per client task)."""

    def __init__(self, host: str, port: int, timeout: float = 30.0) -> None:
        self.host, self.port, self.timeout = host, port, timeout
        self.connects = 0  # how many times a connection was opened (1 if keep-alive held throughout)
        self._proto: _Protocol | None = None

    async def _connect(self, deadline: float) -> _Protocol:
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout_at(deadline):
                _, proto = await loop.create_connection(lambda: _Protocol(loop), self.host, self.port)
        except TimeoutError:
            raise RequestTimeout(f"could not connect to {self.host}:{self.port} within {self.timeout:g} s") from None
        except OSError as exc:
            raise ConnectError(f"{self.host}:{self.port}: {exc}") from exc
        self.connects += 1
        return proto

    async def request(self, data: bytes, *, expect_body: bool = True) -> Response:
        """Send one whole request (see `request_bytes`) and read its response. `expect_body=False`
        for HEAD requests. Raises a `ClientError`."""
        proto = self._proto
        if proto is None or proto.closed:
            loop = asyncio.get_running_loop()
            self._proto = proto = await self._connect(loop.time() + self.timeout)
            # (a connect's time is not taken off the request's own timeout: it is rare after the first)
        return await proto.exchange(data, self.timeout, expect_body)

    def close(self) -> None:
        if self._proto is not None:
            self._proto.close()
            self._proto = None
