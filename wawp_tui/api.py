"""WawpClient: the Wawp v2 session API over one long-lived httpx.AsyncClient.

Credentials travel in the JSON body of a POST (never in the URL) unless the config asks
for the documentation samples' query-string form. Every failure becomes a typed
`WawpError` with one short line that never contains the token.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import email.utils
import errno
import json
import logging
import re
import socket
import time
from typing import Any

import httpx

from wawp_tui.bodies import message_from_body, shorten
from wawp_tui.errors import (
    BadGateway,
    BadRequest,
    Forbidden,
    MalformedResponse,
    NetworkError,
    NotFound,
    RateLimited,
    ServerError,
    Timeout,
    Unauthorized,
    WawpError,
)
from wawp_tui.models import InstanceConfig, QrCode, SessionInfo

DEFAULT_BASE_URL = "https://api.wawp.net"
_TOKEN_IN_URL = re.compile(r"(access_token=)[^&\s\"'>]+")


class _RedactTokens(logging.Filter):
    """Scrubs `access_token=...` from httpx/httpcore log records (query mode puts it in URLs)."""

    def filter(self, record: logging.LogRecord) -> bool:
        text = record.getMessage()
        if "access_token=" in text:
            record.msg, record.args = _TOKEN_IN_URL.sub(r"\1***", text), None
        return True


for _name in ("httpx", "httpcore", "httpcore.http11", "httpcore.connection"):
    logging.getLogger(_name).addFilter(_RedactTokens())
USER_AGENT = "wawp-tui"

#: The reason phrase we lead with for each documented status code.
_LABELS = {
    400: "bad request",
    401: "access token rejected",
    403: "forbidden: quota or limit reached",
    404: "instance not found (deleted or wrong id)",
    500: "server error",
    502: "bad gateway",
    503: "service unavailable",
    504: "gateway timeout",
}


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def error_for_response(response: httpx.Response) -> WawpError:
    """The typed error for a non-2xx reply, its message taken from whatever the body is."""
    code = response.status_code
    detail = message_from_body(response.content, response.headers.get("content-type", ""))
    if code == 429:
        retry = parse_retry_after(response.headers.get("retry-after"))
        wait = f", retry in {int(retry + 0.999)}s" if retry is not None else ""
        return RateLimited(f"rate limited (429){wait}", retry_after=retry)
    label = _LABELS.get(code, f"HTTP {code}")
    message = f"{label} ({code})" if code in _LABELS else label
    if detail and detail.lower() not in message.lower() and not _is_echo(detail, code):
        message = f"{message}: {detail}"
    message = shorten(message)
    if code == 400 or (400 <= code < 500 and code not in (401, 403, 404)):
        return BadRequest(message, code)
    if code == 401:
        return Unauthorized(message, code)
    if code == 403:
        return Forbidden(message, code)
    if code == 404:
        return NotFound(message, code)
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
    if not isinstance(status, str) or not status.strip():
        raise MalformedResponse("malformed response: no status in the reply")
    me = payload.get("me")
    return SessionInfo(
        status=status.strip().upper(),
        name=payload.get("name") if isinstance(payload.get("name"), str) else None,
        me=me if isinstance(me, dict) else None,
        raw=payload,
    )


def parse_qr(payload: Any) -> QrCode:
    """A QrCode from `/v2/auth/qr?format=raw`: base64 `data` holding JSON value + expiry (ms)."""
    if not isinstance(payload, dict):
        raise MalformedResponse("malformed QR reply: expected a JSON object")
    inner: Any = payload
    data = payload.get("data")
    if isinstance(data, str):
        try:
            decoded = base64.b64decode(data, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            raise MalformedResponse("malformed QR reply: data is not base64 text") from None
        try:
            inner = json.loads(decoded)
        except ValueError:
            inner = {"value": decoded}
    elif isinstance(data, dict):
        inner = data
    if not isinstance(inner, dict) or not isinstance(inner.get("value"), str):
        raise MalformedResponse("malformed QR reply: no QR value")
    expiry = inner.get("expiry")
    expires_at = None
    if isinstance(expiry, (int, float)) and not isinstance(expiry, bool):
        # The API gives milliseconds; tolerate seconds from servers that send them.
        expires_at = expiry / 1000.0 if expiry > 1e11 else float(expiry)
    return QrCode(value=inner["value"], expires_at=expires_at)


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
    ) -> None:
        if credentials_in not in ("body", "query"):
            raise ValueError("credentials_in must be 'body' or 'query'")
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.connect_timeout = connect_timeout
        self.credentials_in = credentials_in
        self.max_concurrency = max(1, max_concurrency)
        self._limits: dict[int, asyncio.Semaphore] = {}
        self._http = httpx.AsyncClient(
            base_url=self.base_url,
            timeout=httpx.Timeout(timeout, connect=connect_timeout, pool=None),
            limits=httpx.Limits(max_connections=max(64, self.max_concurrency * 2),
                                max_keepalive_connections=max(32, self.max_concurrency)),
            headers={"User-Agent": USER_AGENT, "Accept": "application/json"},
            transport=transport,
            follow_redirects=False,
        )

    def __repr__(self) -> str:
        return f"WawpClient(base_url={self.base_url!r}, credentials_in={self.credentials_in!r})"

    async def __aenter__(self) -> "WawpClient":
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._http.aclose()

    # -- endpoints -------------------------------------------------------------------

    async def info(self, inst: InstanceConfig) -> SessionInfo:
        """Status of one instance (the heartbeat the poller calls)."""
        return parse_session(await self._call(inst, "/v2/session/info"))

    async def start(self, inst: InstanceConfig) -> SessionInfo:
        """STOPPED -> STARTING."""
        return parse_session(await self._call(inst, "/v2/session/start"))

    async def stop(self, inst: InstanceConfig) -> SessionInfo:
        """Graceful shutdown that keeps the login."""
        return parse_session(await self._call(inst, "/v2/session/stop"))

    async def restart(self, inst: InstanceConfig) -> SessionInfo:
        """Atomic stop + start; answers at once with STARTING."""
        return parse_session(await self._call(inst, "/v2/session/restart"))

    async def logout(self, inst: InstanceConfig) -> SessionInfo:
        """Unlink the phone; the instance stays alive in SCAN_QR_CODE."""
        return parse_session(await self._call(inst, "/v2/session/logout"))

    async def me(self, inst: InstanceConfig) -> dict[str, Any]:
        """Profile of the connected WhatsApp account."""
        payload = await self._call(inst, "/v2/session/me")
        if not isinstance(payload, dict):
            raise MalformedResponse("malformed response: expected a JSON object")
        me = payload.get("me", payload)
        return me if isinstance(me, dict) else {}

    async def qr(self, inst: InstanceConfig) -> QrCode:
        """The current pairing QR (only meaningful in SCAN_QR_CODE)."""
        return parse_qr(await self._call(inst, "/v2/auth/qr", params={"format": "raw"}))

    async def request_code(self, inst: InstanceConfig, phone_number: str) -> str:
        """A pairing code for phone-number login, the alternative to scanning a QR."""
        payload = await self._call(inst, "/v2/auth/request-code", extra={"phone_number": phone_number})
        code = payload.get("code") if isinstance(payload, dict) else None
        if not isinstance(code, str) or not code:
            raise MalformedResponse("malformed response: no pairing code in the reply")
        return code

    # -- transport -------------------------------------------------------------------

    async def _call(
        self,
        inst: InstanceConfig,
        path: str,
        *,
        params: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> Any:
        token = inst.token.reveal()
        creds = {"instance_id": inst.id, "access_token": token}
        query = dict(params or {})
        body: dict[str, Any] = dict(extra or {})
        if self.credentials_in == "query":
            query.update(creds)
        else:
            body.update(creds)
        limit = self._limits.setdefault(hash(token), asyncio.Semaphore(self.max_concurrency))
        try:
            async with limit:
                # A whole-call deadline: a server that drips bytes, or an in-process app
                # that hangs, must not hold this instance past the configured timeout.
                async with asyncio.timeout(self.timeout + self.connect_timeout):
                    response = await self._http.post(path, params=query or None, json=body)
        except (TimeoutError, httpx.TimeoutException):
            raise Timeout(f"no reply within {self.timeout:g}s (timeout)") from None
        except httpx.HTTPError as exc:
            # Only a failed connect proves the request never left.
            raise NetworkError(_network_message(exc, token),
                               maybe_sent=not isinstance(exc, httpx.ConnectError)) from None
        if response.status_code >= 400:
            raise error_for_response(response)
        if response.status_code >= 300:
            raise MalformedResponse(f"unexpected redirect ({response.status_code}); check base_url")
        return _decode_json(response)


def _decode_json(response: httpx.Response) -> Any:
    if not response.content.strip():
        raise MalformedResponse(f"malformed response: empty body ({response.status_code})")
    try:
        return response.json()
    except ValueError:
        ctype = response.headers.get("content-type", "no content-type").split(";")[0]
        raise MalformedResponse(f"malformed response: not valid JSON ({ctype})") from None


def _network_message(exc: httpx.HTTPError, token: str) -> str:
    """A one-line cause for a transport failure, with no URL (it may carry the token)."""
    if isinstance(exc, httpx.ConnectError):
        cause = _connect_cause(exc)
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


def _connect_cause(exc: BaseException) -> str:
    """Why a connect failed, found in the exception chain (httpx wraps the OSError)."""
    seen: BaseException | None = exc
    text = ""
    while seen is not None:
        if isinstance(seen, socket.gaierror):
            return "host name does not resolve (DNS)"
        if isinstance(seen, ConnectionRefusedError) or getattr(seen, "errno", None) == errno.ECONNREFUSED:
            return "connection refused"
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
