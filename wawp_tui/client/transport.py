"""The HTTP transport under WawpClient: httpx's interface, aiohttp's engine.

Why: with httpx's default transport (httpcore + h11 over anyio) one request costs 2 to
4 ms of CPU on this project's 2-core machines; with this transport (aiohttp's connection
pool and C HTTP parser under the same httpx.AsyncClient) about 0.3 ms. Measured side by
side by python -m wawp_tui.devtools.transport_bench (2,000 requests, concurrency 16, medians of 5 runs):
httpx default 1.98 ms, httpx-aiohttp 0.33 ms, this transport 0.31 ms, aiohttp without
httpx 0.15 ms, raw asyncio streams 0.10 ms. httpx stays the interface: the request, the
response, the streaming API and the exception types our code catches are httpx's.

Why not the `httpx-aiohttp` package, which does the same: its exception map turns a
refused connection, a failed DNS lookup, a failed TLS handshake and a connection dropped
by the server all into `httpx.ConnectTimeout`, a *timeout*, so every one of them would
read "no reply within Ns" and a dropped request would pass for one that never left. This
module maps each failure to the class httpx's own transport raises for it:

| failure                                         | httpx exception            |
| ----------------------------------------------- | -------------------------- |
| refused, DNS, unreachable, TLS handshake/cert   | ConnectError (cause kept)  |
| connect slower than Timeout.connect             | ConnectTimeout             |
| no byte within Timeout.read (headers or body)   | ReadTimeout                |
| closed before or during the reply, bad chunking | RemoteProtocolError        |
| reset (RST) while reading or sending            | ReadError                  |
| a reply that is not HTTP                        | RemoteProtocolError        |

The original exception stays as `__cause__` (so the OSError behind a ConnectError, e.g.
`socket.gaierror` or `ConnectionRefusedError`, can still be found by walking the chain).

Bodies are never decompressed here: the session runs with `auto_decompress=False`, so the
bytes httpx gets are the ones on the wire (minus chunked framing) with `Content-Encoding`
intact; httpx's decoders do the decompressing, chunk by chunk, when the caller reads
`aiter_bytes()` / `.content`, and `aiter_raw()` sees the compressed bytes. The body is
streamed as it arrives (never buffered whole here). A response closed before its body was
read to the end closes its connection instead of returning it to the pool.

To cap a body's size *after* decompression, read `aiter_raw()` and inflate with
`zlib.decompressobj(...).decompress(chunk, max_length)`: httpx's own decoders
(`aiter_bytes()`, `.content`) inflate each raw chunk whole, so one 20 KB gzip chunk
becomes 20 MB in memory at once, whatever the transport.

Proxy and trust come from the config (wawp_tui/route.py decides them): requests go
through `proxy` (an http:// proxy; https is tunnelled with CONNECT) when one is given,
and an https connection trusts `trust` (the system store through truststore, or the CA
file and folder named). aiohttp's own environment lookups stay off (`trust_env=False`):
the route was decided once, by documented rules, and is shown to the user.

Failures this module names itself (the client reads them as they are):

| failure                                         | httpx exception            |
| ----------------------------------------------- | -------------------------- |
| the proxy cannot be reached                     | ProxyUnreachable (Connect) |
| the proxy answers CONNECT with an error         | ProxyRefused (Connect)     |
| certificate not trusted / expired / wrong host  | CertificateRejected        |
| the CA file or folder cannot be loaded          | TrustUnusable (Connect)    |
| a header line over 8 KB, or too many headers    | HeadersTooLarge (Protocol) |

Timeouts come from the request's httpx.Timeout: `connect` bounds the TCP (+TLS)
connect, `read` bounds the wait for each chunk of the reply, `pool` bounds the wait for a
free connection (plus the connect). aiohttp has no write timeout: WawpClient's whole-call
deadline bounds a stalled send.
"""

from __future__ import annotations

import asyncio
import math
import os
import re
import ssl
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

import httpx

from wawp_tui.route import RouteError, Trust, choose_trust
from wawp_tui.safe_text import clean

if TYPE_CHECKING:
    import aiohttp
    from yarl import URL
else:
    # Imported on first use (_load): aiohttp costs 0.12 s of start-up, which the demo
    # (an in-process transport) and the first frame of the TUI never need.
    aiohttp = URL = None

__all__ = ["AiohttpTransport", "CertificateRejected", "HeadersTooLarge", "ProxyRefused",
           "ProxyUnreachable", "TrustUnusable", "make_transport", "tls_context"]

_QUERY_IN_URL = re.compile(r"(\w+://[^\s'\"?]*)\?[^\s'\"]*")
_RESET_IN_MESSAGE = re.compile(r"\b(ConnectionResetError|ConnectionAbortedError|BrokenPipeError)\(")
#: What aiohttp's (and h11's) parsers say of a header block they will not hold.
_HEADERS_TOO_LARGE = re.compile(r"Got more than \d+ bytes|Too many headers|LineTooLong|line too long|"
                                r"buffer too long|header.{0,20}too (long|large)", re.IGNORECASE)


class ProxyUnreachable(httpx.ConnectError):
    """The proxy itself could not be reached (nothing went to the API)."""


class ProxyRefused(httpx.ConnectError):
    """The proxy answered the CONNECT with an error status (nothing went to the API)."""

    def __init__(self, message: str, status: int, reason: str) -> None:
        super().__init__(message)
        self.status = status
        self.reason = reason


class CertificateRejected(httpx.ConnectError):
    """The server's certificate failed verification; `reason` is OpenSSL's verify message
    ("self-signed certificate", "certificate has expired", "Hostname mismatch, ...")."""

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


class TrustUnusable(httpx.ConnectError):
    """The CA file or folder to trust could not be loaded (nothing was sent)."""


class HeadersTooLarge(httpx.RemoteProtocolError):
    """The reply's header block was refused: a line over 8 KB or too many header lines."""


def _load() -> bool:
    """Import aiohttp (once); False when it is not installed."""
    global aiohttp, URL
    if aiohttp is None:
        try:  # the dependency is declared; a broken install falls back to httpx's own transport
            import aiohttp as engine
            from yarl import URL as url_class
        except ImportError:  # pragma: no cover
            return False
        aiohttp, URL = engine, url_class  # type: ignore[misc]
    return True


def tls_context(trust: Trust) -> ssl.SSLContext:
    """The TLS context for `trust`: the system store through truststore, or exactly the
    CA file and folder named. TrustUnusable when they cannot be loaded."""
    try:
        if trust.system:
            import truststore  # (only on the first https request: 20 ms of start-up)

            return truststore.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        return ssl.create_default_context(cafile=trust.cafile, capath=trust.capath)
    except (ssl.SSLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", None) or getattr(exc, "strerror", None) or str(exc)
        raise TrustUnusable(f"cannot use the CA certificates of {trust.describe()}: "
                            f"{reason}") from exc


def make_transport(*, max_connections: int, keepalive: int, connect_timeout: float,
                   proxy: str | None = None,
                   trust: Trust | None = None) -> httpx.AsyncBaseTransport | None:
    """The fastest transport that behaves like httpx's own: AiohttpTransport.

    `max_connections` caps open connections (idle ones included). `keepalive` > 0 keeps
    idle connections for reuse (for 5 s, like httpx); aiohttp has no separate cap on the
    number of idle ones, so any count > 0 means "reuse", and 0 turns reuse off.
    `connect_timeout` is the connect bound for a request that carries none (the request's
    own httpx.Timeout wins). `proxy` and `trust`: see the module docstring (None trusts
    what the environment names, else the system store). Returns None (httpx's default
    transport) when aiohttp is not importable.
    """
    if not _load():  # pragma: no cover
        return None
    return AiohttpTransport(max_connections=max_connections, keepalive=keepalive,
                            connect_timeout=connect_timeout, proxy=proxy, trust=trust)


class AiohttpTransport(httpx.AsyncBaseTransport):
    """An httpx transport over one aiohttp ClientSession (created on first use, inside the
    running event loop, and bound to it)."""

    def __init__(self, *, max_connections: int = 100, keepalive: int = 20,
                 connect_timeout: float = 5.0, keepalive_expiry: float = 5.0,
                 proxy: str | None = None, trust: Trust | None = None) -> None:
        if not _load():  # pragma: no cover
            raise RuntimeError("aiohttp is not installed")
        self._max_connections = max(1, max_connections)
        self._keepalive = max(0, keepalive)
        self._keepalive_expiry = keepalive_expiry
        self._connect_timeout = connect_timeout
        self._session: aiohttp.ClientSession | None = None
        self._timeouts: dict[tuple[float | None, ...], aiohttp.ClientTimeout] = {}
        self._closed = False
        self._tls: ssl.SSLContext | None = None
        self._trust = trust
        self._proxy = URL(proxy) if proxy else None

    def _tls_for(self, request: httpx.Request) -> ssl.SSLContext | bool:
        """The trust for an https request, made on the first one (loading the trust
        store costs 20 ms of start-up that a plain-http fleet never needs)."""
        if request.url.scheme != "https":
            return True  # (aiohttp's default; nothing to verify over plain http)
        if self._tls is None:
            try:
                trust = self._trust or choose_trust(None, os.environ)
            except RouteError as exc:
                raise TrustUnusable(str(exc)) from None
            self._tls = tls_context(trust)
        return self._tls

    def _new_session(self) -> aiohttp.ClientSession:
        connector = aiohttp.TCPConnector(
            limit=self._max_connections,
            limit_per_host=0,
            # Idle connections are kept this long; none at all when keepalive is 0.
            keepalive_timeout=self._keepalive_expiry if self._keepalive else None,
            force_close=not self._keepalive,
            # Fire timeouts when due: by default aiohttp rounds a timeout of 5 s or more
            # up to a whole second of the loop clock (a 10 s read timeout at up to 11 s).
            timeout_ceil_threshold=math.inf,
        )
        return aiohttp.ClientSession(
            connector=connector,
            auto_decompress=False,          # httpx decodes; raw bytes reach aiter_raw()
            cookie_jar=aiohttp.DummyCookieJar(),  # httpx keeps cookies, if any
            trust_env=False,                # no proxy / netrc lookups on the hot path
            raise_for_status=False,
            timeout=aiohttp.ClientTimeout(total=None, sock_connect=self._connect_timeout,
                                          ceil_threshold=math.inf),
        )

    def _timeout(self, request: httpx.Request) -> aiohttp.ClientTimeout:
        spec = request.extensions.get("timeout") or {}
        key = (spec.get("connect", self._connect_timeout), spec.get("read"), spec.get("pool"))
        timeout = self._timeouts.get(key)
        if timeout is None:
            connect, read, pool = key
            timeout = aiohttp.ClientTimeout(
                total=None, sock_connect=connect, sock_read=read,
                connect=None if pool is None else pool + (connect or 0.0),
                ceil_threshold=math.inf)
            if len(self._timeouts) < 64:
                self._timeouts[key] = timeout
        return timeout

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self._closed:
            raise RuntimeError("the transport is closed")
        session = self._session
        if session is None:
            session = self._session = self._new_session()
        try:
            content = request.content
        except httpx.RequestNotRead:
            content = b"".join([part async for part in request.stream])  # type: ignore[union-attr]
        try:
            response = await session.request(
                request.method,
                URL(str(request.url), encoded=True),  # httpx already encoded it
                headers=request.headers.multi_items(),
                data=content or None,
                allow_redirects=False,
                timeout=self._timeout(request),
                server_hostname=request.extensions.get("sni_hostname"),
                ssl=self._tls_for(request),
                proxy=self._proxy,
            )
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            raise as_httpx_error(exc) from exc
        extensions = {"http_version": b"HTTP/1.1"}
        if response.reason:
            extensions["reason_phrase"] = response.reason.encode("ascii", "replace")
        return httpx.Response(
            status_code=response.status,
            headers=response.raw_headers,
            stream=_ResponseStream(response),
            request=request,
            extensions=extensions,
        )

    async def aclose(self) -> None:
        self._closed = True
        session, self._session = self._session, None
        if session is not None:
            await session.close()


class _ResponseStream(httpx.AsyncByteStream):
    """The reply body as it arrives, raw (no decompression)."""

    __slots__ = ("_response",)

    def __init__(self, response: aiohttp.ClientResponse) -> None:
        self._response = response

    async def __aiter__(self) -> AsyncIterator[bytes]:
        content = self._response.content
        try:
            while True:
                chunk = await content.readany()
                if not chunk:
                    break
                yield chunk
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            raise as_httpx_error(exc) from exc

    async def aclose(self) -> None:
        # release() returns the connection to the pool only when the body was read to
        # the end; otherwise aiohttp closes it (unread bytes must not reach the next reply).
        self._response.release()


def as_httpx_error(exc: BaseException) -> httpx.TransportError:
    """The httpx exception that httpx's own transport raises for the same failure.

    aiohttp puts the whole URL in some messages; a query string (where a token travels
    in query mode) is replaced by `***`.
    """
    message = _QUERY_IN_URL.sub(r"\1?***", str(exc) or type(exc).__name__)
    if isinstance(exc, httpx.TransportError):
        return exc
    if isinstance(exc, aiohttp.ClientProxyConnectionError):
        return ProxyUnreachable(message)
    if isinstance(exc, aiohttp.ClientHttpProxyError):
        return ProxyRefused(message, exc.status, clean(exc.message, 80))
    verify = _verify_error(exc)
    if verify is not None:
        return CertificateRejected(message, verify)
    if isinstance(exc, (aiohttp.ClientConnectorError, aiohttp.ServerFingerprintMismatch)):
        return httpx.ConnectError(message)
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        return httpx.ConnectTimeout(message)
    if isinstance(exc, (aiohttp.ServerTimeoutError, TimeoutError)):
        return httpx.ReadTimeout(message)
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return httpx.RemoteProtocolError(message)
    if isinstance(exc, aiohttp.ClientPayloadError):
        # A reset under the body is a read error; a body cut short is a protocol error.
        # aiohttp keeps the parser's complaint as the cause and names the socket error,
        # if there was one, only in the message.
        cause = exc.__cause__
        if (isinstance(cause, OSError) and not isinstance(cause, TimeoutError)) \
                or _RESET_IN_MESSAGE.search(message):
            return httpx.ReadError(message)
        return httpx.RemoteProtocolError(message)
    if isinstance(exc, aiohttp.ClientResponseError):
        if _HEADERS_TOO_LARGE.search(f"{exc.message} {exc.__cause__ or ''}"):
            return HeadersTooLarge(message)
        return httpx.RemoteProtocolError(message)
    if isinstance(exc, (aiohttp.NonHttpUrlClientError, aiohttp.InvalidURL)):
        return httpx.UnsupportedProtocol(message)
    if isinstance(exc, OSError):  # ClientOSError, ClientConnectionResetError, raw resets
        return httpx.ReadError(message)
    return httpx.TransportError(message)


def _verify_error(exc: BaseException) -> str | None:
    """OpenSSL's verify message when a certificate was rejected somewhere in the chain."""
    seen: BaseException | None = exc
    for _ in range(8):
        if seen is None:
            return None
        inner = getattr(seen, "certificate_error", None)  # aiohttp's wrapper of the ssl error
        if isinstance(inner, BaseException):
            seen = inner
            continue
        if isinstance(seen, ssl.SSLCertVerificationError):
            message = getattr(seen, "verify_message", None) or getattr(seen, "reason", None)
            return clean(message or "certificate verify failed", 120)
        seen = seen.__cause__ or seen.__context__
    return None
