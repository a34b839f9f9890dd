"""What every HTTP server we run shares (the exporter now, the hub later): uvicorn set up
so that no client, idle, slow or many, can hold the server down, and a warning when it
listens beyond this machine.

Why not uvicorn's `limit_concurrency`: it counts *connections*, idle ones included, and
answers 503 to every request past the limit, so 63 idle sockets (or a slowloris of 200)
held /healthz and /metrics at 503 for as long as they stayed open. Instead:

- every connection must deliver a whole request head within `header_timeout` seconds of
  opening (or of its previous reply): an idle socket or a client dripping its headers is
  closed then, however it dribbles (uvicorn's own keep-alive timer stops at the first
  byte received, and it has none at all for a new connection);
- every reply must be written out within `response_timeout` seconds of its request: a
  client that stops reading cannot keep a connection (and its buffered reply) for ever;
- request heads are capped at 16 KB (h11's limit), bodies are never read;
- no limit on the number of requests in flight: cheap answers (/healthz) are never
  refused; the application bounds its own expensive work (the exporter lets two scrapes
  encode at once, the others wait their turn).

A stream (the hub's Server-Sent Events) is a reply that never ends: the application lifts
the reply's deadline for it (`scope["extensions"]["wawp.stream"]["unlimited"]()`) and
keeps its own rules instead (a write that does not finish in 10 s, a reader that falls
behind: the connection is aborted with `...["abort"]()`).
"""

from __future__ import annotations

import asyncio
import ipaddress
from typing import Any

import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

#: Seconds a connection has to send a whole request head (from opening, or from the end
#: of its previous reply).
HEADER_TIMEOUT = 10.0
#: Seconds from a request head to the end of its reply (waiting for a scrape slot
#: included): a scraper gives up long before (Prometheus: 10 s by default), and a client
#: that stops reading is let go.
RESPONSE_TIMEOUT = 60.0
#: Seconds an idle keep-alive connection is kept (uvicorn's own timer).
KEEP_ALIVE = 5
#: Largest request head accepted (h11 answers 431/400 past it).
MAX_HEAD = 16 * 1024


class GuardedH11(H11Protocol):
    """uvicorn's h11 protocol with a deadline for each phase of a connection: the
    request head, then the reply (see the module docstring)."""

    header_timeout = HEADER_TIMEOUT
    response_timeout = RESPONSE_TIMEOUT

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        self._deadline: asyncio.TimerHandle | None = None
        super().connection_made(transport)
        self._arm(self.header_timeout)

    def data_received(self, data: bytes) -> None:
        cycle = self.cycle
        super().data_received(data)
        if self.cycle is not cycle:  # a whole request head arrived: now the reply's turn
            self._arm(self.response_timeout)
            # (The application's task has not run yet: its scope can still be given to.)
            self.cycle.scope.setdefault("extensions", {})["wawp.stream"] = {
                "unlimited": self._disarm, "abort": self._abort}

    def _abort(self) -> None:
        if not self.transport.is_closing():
            self.transport.abort()

    def on_response_complete(self) -> None:
        cycle = self.cycle
        super().on_response_complete()
        if self.transport.is_closing():
            self._disarm()
        elif self.cycle is not cycle:  # a pipelined request started at once
            self._arm(self.response_timeout)
        else:
            self._arm(self.header_timeout)

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _arm(self, seconds: float) -> None:
        self._disarm()
        self._deadline = self.loop.call_later(seconds, self._expired)

    def _disarm(self) -> None:
        deadline = getattr(self, "_deadline", None)
        if deadline is not None:
            deadline.cancel()
            self._deadline = None

    def _expired(self) -> None:
        self._deadline = None
        if not self.transport.is_closing():
            # abort, not close: close would wait to flush a reply the client is not reading
            self.transport.abort()


def guarded_protocol(header_timeout: float = HEADER_TIMEOUT,
                     response_timeout: float = RESPONSE_TIMEOUT) -> type[GuardedH11]:
    """A GuardedH11 with these deadlines (tests shorten them)."""
    return type("GuardedH11", (GuardedH11,), {"header_timeout": header_timeout,
                                              "response_timeout": response_timeout})


def server_config(app: Any, *, header_timeout: float = HEADER_TIMEOUT,
                  response_timeout: float = RESPONSE_TIMEOUT, graceful: int = 1,
                  tls: tuple[str, str] | None = None) -> uvicorn.Config:
    """uvicorn's Config for one of our servers: guarded connections, no logging of its
    own (the process's log file gets warnings), no proxy headers trusted, no websocket;
    https with `tls` (certificate file, key file)."""
    certfile, keyfile = tls or (None, None)
    return uvicorn.Config(
        app, ssl_certfile=certfile, ssl_keyfile=keyfile, log_config=None, log_level="warning",
        access_log=False, lifespan="off",
        timeout_graceful_shutdown=graceful, limit_concurrency=None,
        timeout_keep_alive=KEEP_ALIVE, h11_max_incomplete_event_size=MAX_HEAD,
        http=guarded_protocol(header_timeout, response_timeout), ws="none",
        server_header=False, proxy_headers=False)


def is_loopback(host: str) -> bool:
    """127.0.0.0/8, ::1 and localhost: reachable from this machine only."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def exposure_warning(host: str, port: int, what: str) -> str | None:
    """The warning for a server listening beyond this machine, or None on loopback."""
    if is_loopback(host):
        return None
    shown = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    everyone = " (every address of this machine)" if host in ("0.0.0.0", "::") else ""
    return (f"warning: --listen {shown}{everyone} is reachable from other machines, and the "
            f"{what} has no authentication: anyone who can reach it reads what it serves. "
            "Listen on 127.0.0.1 and put an authenticating reverse proxy in front "
            "(docs/network.md)")
