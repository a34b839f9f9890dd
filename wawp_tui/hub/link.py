"""HubLink: the HTTP client of a hub, for the screens and commands that attach to it.

One httpx.AsyncClient per hub (connections reused), the bearer token in a header (never in
a URL, a message or a log), every body read with a cap (a hub can be wrong or hostile:
its answers are data from outside, and `core/wire.py` checks them field by field), and
the event stream parsed by hand with a cap on each event, so a line that never ends
cannot fill the memory.
"""

from __future__ import annotations

import json
import os
import ssl
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

import httpx

from wawp_tui.client.transport import TrustUnusable, tls_context
from wawp_tui.core import wire
from wawp_tui.models import Secret
from wawp_tui.route import choose_trust
from wawp_tui.safe_text import clean

#: The variable that holds the bearer token of an attached screen.
TOKEN_ENV = "WAWP_HUB_TOKEN"
URL_ENV = "WAWP_HUB_URL"
#: Largest fleet document read (50,000 instances take about 80 MB).
MAX_FLEET = 512 * 1024 * 1024
#: Largest single event, and largest other reply.
MAX_EVENT = 64 * 1024 * 1024
MAX_REPLY = 1024 * 1024
#: Seconds a stream may stay silent (the hub beats every 10 s) before it counts as lost.
STREAM_SILENCE = 35.0


class HubError(Exception):
    """The hub cannot be reached or refused: one line saying which and what to do."""

    def __init__(self, message: str, *, status: int | None = None, sent: bool = False,
                 reason: str | None = None) -> None:
        super().__init__(message)
        #: The why alone ("connection refused"), without "hub unreachable (URL)".
        self.reason = reason or message
        self.status = status
        #: The request may have reached the hub (a timeout after sending).
        self.sent = sent


@dataclass(frozen=True)
class Reply:
    """A hub's answer: its HTTP status and JSON body (an empty dict when not JSON)."""

    status: int
    body: dict[str, Any]


def check_url(url: str) -> str:
    """The hub's base URL (http or https, a host, no credentials in it), or ValueError."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"--hub wants http(s)://HOST:PORT, not {clean(url, 100)!r}")
    if parts.username or parts.password:
        raise ValueError("--hub: no credentials in the URL; the token goes in WAWP_HUB_TOKEN")
    return url.strip().rstrip("/")


def _refusal(status: int, body: Mapping[str, Any]) -> str:
    said = clean(body.get("error"), 300) if isinstance(body.get("error"), str) else ""
    why = {401: f"the hub does not know this token (401): set {TOKEN_ENV} to your hub token",
           403: "the hub refused (403)", 404: "not on this hub (404)",
           429: "too many requests (429)"}.get(status, f"the hub answered {status}")
    # Not "...token: <the hub's words>": a word after "token:" is redacted as one.
    return f"{why} (the hub says: {said})" if said else why


class HubLink:
    """Requests to one hub (see the module docstring)."""

    def __init__(self, url: str, token: Secret | None, *, timeout: float = 10.0,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.url = check_url(url)
        headers = {"user-agent": "wawp-tui"}
        if token:
            headers["authorization"] = f"Bearer {token.reveal()}"
        # https trusts what the Wawp client trusts: SSL_CERT_FILE and its kin, else the
        # system's store (truststore), not only the CAs bundled with httpx.
        verify: ssl.SSLContext | bool = True
        if self.url.startswith("https:") and transport is None:
            try:
                verify = tls_context(choose_trust(None, os.environ))
            except TrustUnusable as exc:
                raise ValueError(f"--hub: {exc}") from None
        self._client = httpx.AsyncClient(base_url=self.url, headers=headers, transport=transport,
                                         timeout=httpx.Timeout(timeout, connect=5.0),
                                         follow_redirects=False, verify=verify)

    def _unreachable(self, exc: Exception) -> HubError:
        sent = isinstance(exc, (httpx.ReadTimeout, httpx.WriteTimeout, httpx.RemoteProtocolError,
                                httpx.ReadError))
        kind = type(exc).__name__
        tls = _tls_trouble(exc)
        if tls is not None:
            return HubError(f"hub unreachable ({self.url}): {tls}", reason=tls)
        reason = {"ConnectError": "connection refused or no route",
                  "ConnectTimeout": "no answer to connect",
                  "RemoteProtocolError": "the connection was closed",
                  "ReadError": "the connection was lost",
                  "ReadTimeout": "it went silent"}.get(kind, kind)
        return HubError(f"hub unreachable ({self.url}): {reason}", sent=sent, reason=reason)

    async def _read(self, response: httpx.Response, cap: int) -> bytes:
        chunks, total = [], 0
        async for chunk in response.aiter_bytes():
            total += len(chunk)
            if total > cap:
                raise HubError(f"the hub's reply is over {cap // (1024 * 1024)} MB: refused")
            chunks.append(chunk)
        return b"".join(chunks)

    async def request(self, method: str, path: str, *, json_body: Any = None,
                      cap: int = MAX_REPLY, within: float | None = None) -> Reply:
        """One request (`within` seconds at most per phase); HubError when the hub cannot
        be reached."""
        extra: dict[str, Any] = {} if within is None else {"timeout": within}
        try:
            async with self._client.stream(method, path, json=json_body, **extra) as response:
                raw = await self._read(response, cap)
        except httpx.HTTPError as exc:
            raise self._unreachable(exc) from None
        try:
            body = json.loads(raw) if raw.strip() else {}
        except (ValueError, RecursionError):  # (not JSON, or nested past the parser's limit)
            body = {}
        return Reply(response.status_code, body if isinstance(body, dict) else {})

    async def fleet(self) -> tuple[dict[str, Any], float]:
        """The fleet document and the local time its `now` was read (the middle of the
        request: the estimate of the clock offset)."""
        started = time.time()
        reply = await self.request("GET", "/api/v1/fleet", cap=MAX_FLEET, within=60.0)
        ended = time.time()
        if reply.status != 200:
            raise HubError(_refusal(reply.status, reply.body), status=reply.status)
        schema = reply.body.get("schema")
        if schema is None:
            raise HubError("its answer is not a fleet document (not JSON, or not a wawp-tui hub): "
                           "check the URL")
        if schema != wire.SCHEMA:
            raise HubError(f"the hub speaks schema {clean(schema, 20)}; this wawp-tui reads "
                           f"{wire.SCHEMA}: run the same version on both")
        return reply.body, (started + ended) / 2

    async def events(self, last_id: str | None) -> AsyncIterator[tuple[str, str | None, bytes, float]]:
        """The hub's events after `last_id`: (event, id, data, local arrival time)."""
        headers = {"accept": "text/event-stream"}
        if last_id:
            headers["last-event-id"] = last_id
        timeout = httpx.Timeout(10.0, connect=5.0, read=STREAM_SILENCE)
        try:
            async with self._client.stream("GET", "/api/v1/events", headers=headers,
                                           timeout=timeout) as response:
                if response.status_code != 200:
                    raw = await self._read(response, MAX_REPLY)
                    try:
                        body = json.loads(raw)
                    except (ValueError, RecursionError):
                        body = {}
                    raise HubError(_refusal(response.status_code, body if isinstance(body, dict) else {}),
                                   status=response.status_code)
                async for item in _parse(response.aiter_bytes()):
                    yield item
        except httpx.HTTPError as exc:
            raise self._unreachable(exc) from None

    async def act(self, instance_id: str, action: str, body: dict[str, Any]) -> Reply:
        return await self.request("POST", f"/api/v1/instances/{quote(instance_id, safe='')}/"
                                          f"{quote(action, safe='')}", json_body=body, within=90.0)

    async def qr(self, instance_id: str) -> Reply:
        return await self.request("GET", f"/api/v1/instances/{quote(instance_id, safe='')}/qr")

    async def pairing_code(self, instance_id: str, phone: str) -> Reply:
        return await self.request("POST", f"/api/v1/instances/{quote(instance_id, safe='')}/pairing-code",
                                  json_body={"phone": phone})

    async def aclose(self) -> None:
        await self._client.aclose()


def _tls_trouble(exc: BaseException) -> str | None:
    """Why the TLS handshake failed, found in the exception chain, or None."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ssl.SSLCertVerificationError):
            why = clean(seen.verify_message or "certificate verify failed", 100)
            return (f"its TLS certificate is not trusted ({why}): name its CA in SSL_CERT_FILE "
                    "or add it to the system's store")
        if isinstance(seen, ssl.SSLError):
            return f"TLS handshake failed ({clean(seen.reason or str(seen), 100).lower()})"
        seen = seen.__cause__ or seen.__context__
    return None


async def _parse(chunks: AsyncIterator[bytes]) -> AsyncIterator[tuple[str, str | None, bytes, float]]:
    """Server-Sent Events from a byte stream: (event, id, data, arrival), each event
    capped at MAX_EVENT."""
    # A bytearray, searched from where the last search stopped: a line that never ends
    # (a hostile hub) costs its length once, not its length squared (64 KB chunks up to
    # the 64 MB cap took the screen's whole CPU).
    buffer = bytearray()
    searched = 0
    event, event_id, size = "message", None, 0
    data: list[bytes] = []
    async for chunk in chunks:
        buffer += chunk
        if len(buffer) > MAX_EVENT:
            raise HubError(f"an event from the hub is over {MAX_EVENT // (1024 * 1024)} MB: refused")
        while True:
            cut = buffer.find(b"\n", searched)
            if cut < 0:
                searched = len(buffer)
                break
            line = bytes(buffer[:cut]).rstrip(b"\r")
            del buffer[:cut + 1]  # (cheap at the front of a bytearray)
            searched = 0
            if not line:
                if data:
                    yield event, event_id, b"\n".join(data), time.time()
                event, event_id, data, size = "message", None, [], 0
                continue
            if line.startswith(b":"):
                continue
            field, _, value = line.partition(b":")
            value = value[1:] if value.startswith(b" ") else value
            if field == b"event":
                event = value.decode("ascii", "replace")[:40]
            elif field == b"id":
                event_id = value.decode("ascii", "replace")[:100]
            elif field == b"data":
                size += len(value)
                if size > MAX_EVENT:
                    raise HubError(f"an event from the hub is over {MAX_EVENT // (1024 * 1024)} MB: refused")
                data.append(value)
