"""WawpClient: the Wawp v2 session API over one long-lived httpx transport.

Credentials travel in the JSON body of a POST (never in the URL) unless the config asks
for the documentation samples' query-string form. Every failure becomes a typed
`WawpError` with one short line that never contains the token.
"""

from __future__ import annotations

import asyncio
import email.utils
import errno
import hashlib
import json
import logging
import math
import socket
import ssl
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx

from wawp_tui.client import envelopes
from wawp_tui.client.bodies import message_from_body, shorten
from wawp_tui.client.errors import (
    BadGateway,
    BadRequest,
    Forbidden,
    MalformedResponse,
    NetworkError,
    RateLimited,
    ReplyTooLarge,
    ServerError,
    Timeout,
    Unauthorized,
    WawpError,
)
from wawp_tui.client.qr_forms import MAX_QR_VALUE, parse_qr, plausible_time, qr_from_image
from wawp_tui.client.reply_body import (
    ACCEPT_ENCODING,
    MAX_BODY,
    BadBody,
    BodyTooLarge,
    human_size,
    loads_bounded,
    read_bounded,
)
from wawp_tui.client.transport import (
    CertificateRejected,
    HeadersTooLarge,
    ProxyRefused,
    ProxyUnreachable,
    TrustUnusable,
    make_transport,
)
from wawp_tui.logs import RedactingFilter
from wawp_tui.models import SCAN_QR_CODE, STARTING, InstanceConfig, QrCode, SessionInfo, api_word
from wawp_tui.route import Proxy, Trust
from wawp_tui.safe_text import clean, clean_data, clean_word, holds_secret, secrets_generation

DEFAULT_BASE_URL = "https://api.wawp.net"
_T = TypeVar("_T")
_R = TypeVar("_R")
for _name in ("httpx", "httpcore"):
    # Records made by the HTTP stack can carry URLs (query mode puts the token there).
    logging.getLogger(_name).addFilter(RedactingFilter())
USER_AGENT = "wawp-tui"

#: The reason phrase we lead with for each documented status code.
_LABELS = {
    400: "bad request",
    401: "access token rejected",
    403: "forbidden: quota or limit reached",
    404: "instance not found (deleted or wrong id)",
    407: "the proxy asks for credentials (proxy authentication required)",
    422: "refused by the engine",
    500: "server error",
    502: "bad gateway",
    503: "service unavailable",
    504: "gateway timeout",
}


#: Longest wait a Retry-After may impose (a hostile "1e308" must not stop polling).
MAX_RETRY_AFTER = 3600.0


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or an HTTP date),
    capped at an hour; None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()[:64]
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
        if when is None:
            return None
        seconds = when.timestamp() - (time.time() if now is None else now)
    if not math.isfinite(seconds):
        return None
    return min(max(0.0, seconds), MAX_RETRY_AFTER)


def error_for_response(response: httpx.Response) -> WawpError:
    """The typed error for a non-2xx reply, its message taken from whatever the body is."""
    return _error_for(response.status_code, response.headers, response.content)


def _error_for(code: int, headers: httpx.Headers, content: bytes) -> WawpError:
    try:
        detail = message_from_body(content, headers.get("content-type", ""))
    except Exception:  # noqa: BLE001 - an unreadable error body still has its status code to go by
        detail = ""
    if code == 429:
        retry = parse_retry_after(headers.get("retry-after"))
        wait = f", retry in {math.ceil(retry)}s" if retry is not None else ""
        return RateLimited(f"rate limited (429){wait}", retry_after=retry)
    label = _LABELS.get(code, f"HTTP {code}")
    message = f"{label} ({code})" if code in _LABELS else label
    if detail and detail.lower() not in message.lower() and not _is_echo(detail, code):
        message = f"{message}: {detail}"
    message = shorten(message)
    if code == 422:
        redundant = envelopes.for_422(detail)
        if redundant is not None:
            return redundant
    if code == 400 or (400 <= code < 500 and code not in (401, 403, 404)):
        return BadRequest(message, code)
    if code == 401:
        return Unauthorized(message, code)
    if code == 403:
        return Forbidden(message, code)
    if code == 404:
        return envelopes.for_404(detail)
    if code == 502:
        return BadGateway(message, code)
    return ServerError(message, code)


def _is_echo(detail: str, code: int) -> bool:
    """True when the body only repeats the status line ("502 Bad Gateway")."""
    words = detail.lower().replace(str(code), "").strip(" :-")
    return words in ("", "bad gateway", "internal server error", "not found", "unauthorized",
                     "forbidden", "bad request", "service unavailable", "gateway timeout")


def parse_session(payload: Any) -> SessionInfo:
    """A SessionInfo from a decoded info/start/stop/restart/logout reply."""
    if not isinstance(payload, dict):
        raise MalformedResponse("malformed response: expected a JSON object")
    status = payload.get("status")
    word = api_word(clean_word(status)) if isinstance(status, str) else ""
    if not word:
        raise MalformedResponse("malformed response: no status in the reply")
    me = payload.get("me")
    name = payload.get("name")
    return SessionInfo(
        status=word,
        name=clean(name, 80) if isinstance(name, str) else None,
        me=clean_data(me) if isinstance(me, dict) else None,
        **liveness(payload),
        qr_hint=_qr_hint(payload.get("qr")) if word == SCAN_QR_CODE else None,
        boot_at=last_boot(payload.get("statuses")),
    )


#: At most this many entries of a reply's status history are read.
MAX_STATUS_TIMES = 64


def last_boot(statuses: Any) -> float | None:
    """When the session last began STARTING, from WAHA's `statuses` ([{status,
    timestamp (ms)}], oldest first): the newest plausible time, else None."""
    if not isinstance(statuses, list):
        return None
    times = [plausible_time(entry.get("timestamp")) for entry in statuses[-MAX_STATUS_TIMES:]
             if isinstance(entry, dict) and entry.get("status") == STARTING]
    return max((t for t in times if t is not None), default=None)


def liveness(payload: dict[str, Any]) -> dict[str, Any]:
    """engine, presence and last activity, where a WAHA-style reply carries them."""
    engine = payload.get("engine")
    if isinstance(engine, dict):
        engine = engine.get("engine")
    presence = payload.get("presence")
    timestamps = payload.get("timestamps")
    activity = timestamps.get("activity") if isinstance(timestamps, dict) else None
    return {"engine": (clean(engine, 20) or None) if isinstance(engine, str) else None,
            "presence": (clean(presence, 20) or None) if isinstance(presence, str) else None,
            "activity_at": plausible_time(activity)}


def _qr_hint(qr: Any) -> str | None:
    """What tells the QR screen a new code is out, from the `qr` field of a reply in
    SCAN_QR_CODE: the code's value ({"value": ...}), or for an image data URL a digest of
    it. Never a decoding: this runs for every poll of every instance, and reading a QR
    image costs Pillow and zxing tens of milliseconds; the QR screen fetches (and decodes,
    in a thread) the one code it shows."""
    if isinstance(qr, dict):
        value = qr.get("value")
        if isinstance(value, str) and len(value) <= MAX_QR_VALUE and not holds_secret(value):
            return value
        return None
    if isinstance(qr, str) and qr.startswith("data:image/"):
        return "image:" + hashlib.sha256(qr.encode("utf-8", "surrogatepass")).hexdigest()
    return None


class WawpClient:
    """The Wawp v2 API for many instances over one connection pool.

    Use as `async with WawpClient(...) as client:`. `max_concurrency` caps concurrent
    requests per access token, so a big fleet never trips the account's rate limits.
    """

    def __init__(
        self,
        base_url: str = DEFAULT_BASE_URL,
        *,
        timeout: float = 10.0,
        connect_timeout: float = 5.0,
        credentials_in: str = "body",
        max_concurrency: int = 16,
        transport: httpx.AsyncBaseTransport | None = None,
        proxy: Proxy | None = None,
        trust: Trust | None = None,
    ) -> None:
        if credentials_in not in ("body", "query"):
            raise ValueError("credentials_in must be 'body' or 'query'")
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.connect_timeout = connect_timeout
        self.credentials_in = credentials_in
        self.max_concurrency = max(1, max_concurrency)
        #: The proxy requests go through (None: direct), for messages.
        self.proxy = proxy
        self._limits: dict[int, asyncio.Semaphore] = {}
        pool = httpx.Limits(max_connections=max(64, self.max_concurrency * 2),
                            max_keepalive_connections=max(32, self.max_concurrency))
        if transport is None:
            # aiohttp's engine under httpx's interface: a poll costs ~0.3 ms of CPU instead
            # of ~2 ms (see wawp_tui/client/transport.py for the figures and the error mapping).
            transport = make_transport(max_connections=pool.max_connections or 64,
                                       keepalive=pool.max_keepalive_connections or 32,
                                       connect_timeout=connect_timeout,
                                       proxy=proxy.url if proxy else None, trust=trust)
        # The transport is called directly, not through an httpx.AsyncClient: the client's
        # layers (auth, redirects, cookie jar, event hooks, a log record carrying the URL)
        # do nothing we want and cost a quarter of a poll's CPU. Requests and replies stay
        # httpx's, so any httpx transport (ASGI for the demo, mocks in tests) plugs in.
        self._transport = transport or httpx.AsyncHTTPTransport(limits=pool)
        self._base = httpx.URL(self.base_url + "/")
        # What every request shares, made once: a poll builds only its body (see _request).
        self._headers = httpx.Headers({"User-Agent": USER_AGENT, "Accept": "application/json",
                                       "Accept-Encoding": ACCEPT_ENCODING,
                                       "Content-Type": "application/json"})
        self._extensions = {"timeout": httpx.Timeout(timeout, connect=connect_timeout,
                                                     pool=None).as_dict()}
        self._urls: dict[str, httpx.URL] = {}
        #: Instance id -> (what its last info reply was, what it read as): a steady
        #: instance answers the same bytes poll after poll, and reading them again (JSON,
        #: depth, cleaning, redaction) was a fifth of a poll's CPU.
        self._last_info: dict[str, tuple[tuple[int, bytes, int], SessionInfo]] = {}
        #: Instance id -> its last reply as it came (code, content type, body, size): what
        #: `y` shows, read only when asked (bounded: the first KEPT_REPLY bytes).
        self._last_reply: dict[str, RawReply] = {}

    def last_reply(self, instance_id: str) -> RawReply | None:
        """The last reply any request for this instance got, as it came (None: none yet)."""
        return self._last_reply.get(instance_id)

    def __repr__(self) -> str:
        return f"WawpClient(base_url={self.base_url!r}, credentials_in={self.credentials_in!r})"

    async def __aenter__(self) -> WawpClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connection pool."""
        self._last_info.clear()
        await self._transport.aclose()

    # -- endpoints -------------------------------------------------------------------

    async def info(self, inst: InstanceConfig) -> SessionInfo:
        """Status of one instance (the heartbeat the poller calls). A reply identical to
        the last one (same code, same bytes, no token registered since) reads as before:
        reading is a pure function of those."""
        reply = await self._fetch(inst, "/v2/session/info")
        key = (reply[0], hashlib.blake2b(reply[2], digest_size=16).digest(), secrets_generation())
        last = self._last_info.get(inst.id)
        if last is not None and last[0] == key:
            return last[1]
        with _reading("the reply"):
            payload = _payload(*reply)
        with _reading("the session reply"):
            info = parse_session(payload)
        self._last_info[inst.id] = (key, info)
        return info

    async def start(self, inst: InstanceConfig) -> SessionInfo:
        """STOPPED -> STARTING."""
        return await self._session(inst, "/v2/session/start")

    async def stop(self, inst: InstanceConfig) -> SessionInfo:
        """Graceful shutdown that keeps the login."""
        return await self._session(inst, "/v2/session/stop")

    async def restart(self, inst: InstanceConfig) -> SessionInfo:
        """Atomic stop + start; answers at once with STARTING."""
        return await self._session(inst, "/v2/session/restart")

    async def logout(self, inst: InstanceConfig) -> SessionInfo:
        """Unlink the phone; the instance stays alive in SCAN_QR_CODE."""
        return await self._session(inst, "/v2/session/logout")

    async def me(self, inst: InstanceConfig) -> dict[str, Any]:
        """Profile of the connected WhatsApp account."""
        payload = await self._call(inst, "/v2/session/me")
        if not isinstance(payload, dict):
            raise MalformedResponse("malformed response: expected a JSON object")
        with _reading("the account reply"):
            me = payload.get("me", payload)
            return clean_data(me) if isinstance(me, dict) else {}

    async def qr(self, inst: InstanceConfig) -> QrCode:
        """The current pairing QR (only meaningful in SCAN_QR_CODE), in whichever form the
        server sends it: Wawp's base64 JSON, WAHA's raw value, or a PNG image."""
        code, headers, content = await self._fetch(inst, "/v2/auth/qr", params={"format": "raw"})
        if headers.get("content-type", "").lower().startswith("image/"):
            return await _off_loop(qr_from_image, content)
        return await _off_loop(parse_qr, _payload(code, headers, content))

    async def request_code(self, inst: InstanceConfig, phone_number: str) -> str:
        """A pairing code for phone-number login, the alternative to scanning a QR."""
        payload = await self._call(inst, "/v2/auth/request-code", extra={"phone_number": phone_number})
        code = payload.get("code") if isinstance(payload, dict) else None
        with _reading("the pairing code reply"):
            if not isinstance(code, str) or not clean(code, 40):
                raise MalformedResponse("malformed response: no pairing code in the reply")
            return clean(code, 40)

    # -- transport -------------------------------------------------------------------

    async def _session(self, inst: InstanceConfig, path: str) -> SessionInfo:
        """One info/start/stop/restart/logout call and its reply read."""
        payload = await self._call(inst, path)
        with _reading("the session reply"):
            return parse_session(payload)

    async def _call(self, inst: InstanceConfig, path: str, *,
                    params: dict[str, str] | None = None, extra: dict[str, Any] | None = None) -> Any:
        """One call, its JSON reply decoded and checked for an error in any envelope."""
        reply = await self._fetch(inst, path, params=params, extra=extra)
        with _reading("the reply"):
            return _payload(*reply)

    def _request(self, path: str, query: dict[str, str], body: dict[str, Any]) -> httpx.Request:
        """The request httpx's `stream("POST", path, params=..., json=...)` builds, without
        redoing per call what never changes (the URL under base_url, the headers, the
        timeouts): httpx's own building was a third of a poll's CPU."""
        url = self._urls.get(path)
        if url is None:
            # As httpx merges a path under base_url: appended to its path, never replacing it.
            base = self._base
            url = self._urls[path] = base.copy_with(raw_path=base.raw_path + path.lstrip("/").encode())
        if query:
            url = url.copy_merge_params(query)
        return httpx.Request("POST", url, headers=self._headers, extensions=dict(self._extensions),
                             content=json.dumps(body).encode())

    async def _fetch(
        self,
        inst: InstanceConfig,
        path: str,
        *,
        params: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> tuple[int, httpx.Headers, bytes]:
        """One request with every bound (deadline, size, concurrency): status, headers and
        the decoded body of a 2xx reply; any other reply raises its typed error."""
        token = inst.token.reveal()
        creds = {"instance_id": inst.id, "access_token": token}
        query = dict(params or {})
        body: dict[str, Any] = dict(extra or {})
        if self.credentials_in == "query":
            query.update(creds)
        else:
            body.update(creds)
        limit = self._limits.setdefault(hash(token), asyncio.Semaphore(self.max_concurrency))
        started = time.monotonic()
        try:
            async with limit:
                # A whole-call deadline: a server that drips bytes, or an in-process app
                # that hangs, must not hold this instance past the configured timeout.
                async with asyncio.timeout(self.timeout + self.connect_timeout):
                    response = await self._transport.handle_async_request(
                        self._request(path, query, body))
                    try:
                        code, headers = response.status_code, response.headers
                        content = await read_bounded(
                            response.aiter_raw(), headers.get("content-encoding", ""),
                            headers.get("content-length"))
                    finally:
                        await response.aclose()
        except (TimeoutError, httpx.TimeoutException):
            # The time that really passed (a slow connect plus the read's own timeout, a
            # wait for a free connection), not the setting: 15 s must not read "10s".
            raise Timeout(f"no reply within {_seconds(time.monotonic() - started)} "
                          "(timeout)") from None
        except BodyTooLarge:
            raise ReplyTooLarge(f"reply too large: over {human_size(MAX_BODY)} once decoded; "
                                "ignored") from None
        except BadBody as exc:
            raise MalformedResponse(f"malformed response: {exc}") from None
        except httpx.HTTPError as exc:
            # Only a failed connect proves the request never left.
            raise NetworkError(_network_message(exc, token, self.proxy),
                               maybe_sent=not isinstance(exc, httpx.ConnectError)) from None
        # Kept by reference (no copy of a steady poll's bytes), cut only when big.
        self._last_reply[inst.id] = RawReply(code, headers.get("content-type", ""),
                                             content[:KEPT_REPLY], len(content))
        if code >= 400:
            raise _error_for(code, headers, content)
        if code >= 300:
            raise MalformedResponse(f"unexpected redirect ({code}); check base_url")
        return code, headers, content


#: Bytes of an instance's last reply kept for the raw-reply page (the rest is counted),
#: and the lines of it shown.
KEPT_REPLY = 64 * 1024
SHOWN_LINES = 2000


@dataclass(frozen=True)
class RawReply:
    """An instance's last reply as it came, before any reading (for a person to see)."""

    code: int
    content_type: str
    body: bytes
    #: Its whole size; `body` holds the first KEPT_REPLY bytes of it.
    size: int

    def shown(self) -> str:
        """The reply for a screen: JSON pretty-printed, anything else as text; through
        the text boundary (tokens redacted, escapes made visible), bounded in size."""
        head = f"HTTP {self.code} · {clean(self.content_type, 80) or 'no content type'} · {self.size} bytes"
        if self.size > len(self.body):
            head += f" (the first {len(self.body)} shown)"
        try:
            text = json.dumps(clean_data(loads_bounded(self.body), limit=4000), indent=2,
                              ensure_ascii=False)
        except BadBody:
            text = self.body.decode("utf-8", "replace")
        # Line by line: the boundary makes one line of whatever it is given.
        lines = [clean(line, 2000, strip=False) for line in text.splitlines()[:SHOWN_LINES]]
        if len(text.splitlines()) > SHOWN_LINES:
            lines.append("…")
        return "\n".join([head, "", *lines] if any(lines) else [head, "", "(empty body)"])


@contextmanager
def _reading(what: str) -> Iterator[None]:
    """The reply boundary: reading a reply raises the client's own errors and nothing
    else. The parsers check every shape they know; this is the net under them, so a
    shape nobody thought of (a number where text was read, a 400-digit integer) makes a
    malformed reply of that one instance, never a TypeError that loses a whole report
    or an action's audit."""
    try:
        yield
    except WawpError:
        raise
    except Exception as exc:  # noqa: BLE001 - the promise above: only WawpError leaves a reply
        raise MalformedResponse(f"malformed response: {what} could not be read "
                                f"({type(exc).__name__})") from None


#: Longest a QR reply may take to read (an image is bounded in bytes and pixels, so the
#: thread ends soon after anyway; the caller stops waiting for it here).
QR_DECODE_BUDGET = 5.0


async def _off_loop(read: Callable[[_T], _R], data: _T) -> _R:
    """`read(data)` in a thread, within QR_DECODE_BUDGET: reading a QR image is CPU work
    (Pillow, zxing) that must not stop the event loop, so the screen and the polls of
    every other instance go on meanwhile."""
    def guarded(value: _T) -> _R:
        with _reading("the QR reply"):
            return read(value)

    try:
        async with asyncio.timeout(QR_DECODE_BUDGET):
            return await asyncio.to_thread(guarded, data)
    except TimeoutError:
        raise MalformedResponse(f"QR reply not read within {QR_DECODE_BUDGET:g}s; "
                                "ignored") from None


def _payload(code: int, headers: httpx.Headers, content: bytes) -> Any:
    """The JSON of a 2xx reply; an error hidden inside it is raised as the error it is."""
    payload = _decode_json(code, headers, content)
    hidden = envelopes.in_reply(payload)
    if hidden is not None:
        raise hidden
    return payload


def _decode_json(code: int, headers: httpx.Headers, content: bytes) -> Any:
    if not content.strip():
        raise MalformedResponse(f"malformed response: empty body ({code})")
    try:
        return loads_bounded(content)
    except BadBody as exc:
        ctype = clean(headers.get("content-type", "no content-type").split(";")[0], 40)
        raise MalformedResponse(f"malformed response: {exc} ({ctype})") from None


def _seconds(elapsed: float) -> str:
    """"0.5s", "2.1s", "15s": tenths below ten seconds, whole seconds above."""
    return f"{elapsed:.1f}s" if elapsed < 9.95 else f"{elapsed:.0f}s"


def _network_message(exc: httpx.HTTPError, token: str, proxy: Proxy | None = None) -> str:
    """A one-line cause for a transport failure, with no URL (it may carry the token)."""
    if isinstance(exc, ProxyRefused):
        cause = f"the proxy {_proxy_name(proxy)} refused the tunnel ({exc.status} {exc.reason})"
    elif isinstance(exc, ProxyUnreachable):
        cause = f"cannot reach the proxy {_proxy_name(proxy)}: {_connect_cause(exc)}"
    elif isinstance(exc, CertificateRejected):
        cause = f"TLS certificate rejected: {exc.reason}"
    elif isinstance(exc, TrustUnusable):
        cause = clean(exc, 300)
    elif isinstance(exc, httpx.ConnectError):
        cause = _connect_cause(exc)
    elif isinstance(exc, HeadersTooLarge):
        cause = "reply headers too large (a header line over 8 KB, or too many header lines)"
    elif isinstance(exc, httpx.RemoteProtocolError):
        cause = "connection dropped by the server"
    elif isinstance(exc, httpx.ReadError):
        cause = "connection reset while reading"
    elif isinstance(exc, httpx.WriteError):
        cause = "connection reset while sending"
    else:
        cause = type(exc).__name__
    message = f"network: {cause}"
    return message.replace(token, "***") if token else message


def _proxy_name(proxy: Proxy | None) -> str:
    return f"{proxy.shown} ({proxy.source})" if proxy is not None else "(from the environment)"


def _connect_cause(exc: BaseException) -> str:
    """Why a connect failed, found in the exception chain (httpx wraps the OSError)."""
    seen: BaseException | None = exc
    text = ""
    while seen is not None:
        if isinstance(seen, socket.gaierror):
            return "host name does not resolve (DNS)"
        if isinstance(seen, ConnectionRefusedError) or getattr(seen, "errno", None) == errno.ECONNREFUSED:
            return "connection refused"
        if isinstance(seen, ssl.SSLError) and seen.reason:
            return f"TLS handshake failed ({seen.reason.lower().replace('_', ' ')})"
        text += " " + str(seen).lower()
        seen = seen.__cause__ or seen.__context__
    if "name or service" in text or "nodename" in text or "getaddrinfo" in text:
        return "host name does not resolve (DNS)"
    if "refused" in text or "all connection attempts failed" in text:
        return "connection refused"
    if "ssl" in text or "certificate" in text:
        return "TLS handshake failed"
    if "unreachable" in text:
        return "network unreachable"
    return "cannot connect"
