"""`wawp-tui exporter`: the fleet monitor without a screen, as a Prometheus exporter.

The same Monitor as the TUI polls the (tagged) fleet forever and ticks once a second;
an HTTP server on the same event loop serves

- ``/metrics``: prometheus-client's exposition (text or OpenMetrics, as the scraper
  asks; gzip when accepted) of the collector in ``commands/metrics.py``, which reads the
  Monitor's state at scrape time;
- ``/healthz``: ``200 ok`` while the poller runs, ``503`` with the reason once it has
  stopped or the exporter is shutting down. It says the exporter works, not that the
  API answers: that is ``wawp_api_unreachable``.

Why a small ASGI app on uvicorn, on the Monitor's event loop, rather than
``start_http_server``'s thread: the collector then reads the fleet state between two
steps of the poller, never while a poll is half-applied, with no lock anywhere; shutdown
is one loop to stop; and uvicorn is already what serves the simulator. Only the
encoding of the collected samples (prometheus-client's own encoders, most of a scrape's
cost) runs in a worker thread, so a big scrape holds the poller up for the collection
alone (about a fifth of the scrape).

No client can hold the server down (commands/served.py): a request head must arrive
within 10 s and a reply be read within 60 s, idle and slow connections are closed, and
nothing limits the number of connections, so /healthz always answers; at most two
scrapes collect and encode at once, the others wait their turn (memory stays bounded
however many scrapers come). There is no authentication: listening beyond loopback
is warned about (docs/network.md).

Read-only by default: no action reaches the API. ``--auto-heal`` lets the runbook's
auto-heal act (restart FAILED instances, start sessions the server unloaded), and
nothing else: the exporter has no other way to act. SIGTERM and SIGINT stop the HTTP
server and the poller and the process exits 0.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import gzip
import ipaddress
import signal
import socket
import time
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Iterator, MutableMapping, Sequence
from pathlib import Path
from typing import Any

import uvicorn
from prometheus_client import CollectorRegistry, ProcessCollector
from prometheus_client.exposition import choose_encoder, gzip_accepted
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from wawp_tui.client.api import WawpClient
from wawp_tui.commands.metrics import CountingAudit, FleetCollector, FleetCounters
from wawp_tui.commands.scope import describe_tags, only_tagged
from wawp_tui.commands.served import HEADER_TIMEOUT, RESPONSE_TIMEOUT, exposure_warning, server_config
from wawp_tui.config import Config, audit_log_path
from wawp_tui.core import Monitor
from wawp_tui.launch import UsageError, say
from wawp_tui.vocab import ExitCode

DEFAULT_LISTEN = "127.0.0.1:9877"
#: Seconds between two ticks of the Monitor (auto-heal decisions).
TICK = 1.0
#: Seconds uvicorn waits for open connections when stopping.
GRACEFUL = 1
#: Scrapes that collect and encode at once (each holds a snapshot of the fleet's series).
SCRAPES_AT_ONCE = 2

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


# -- the command line ------------------------------------------------------------------


def parse_listen(text: str) -> tuple[str, int]:
    """HOST:PORT (IPv6 as [::1]:9877) -> (host, port); ValueError saying what is wrong.
    Port 0 picks a free port (printed at start)."""
    host, sep, port_text = text.strip().rpartition(":")
    if not sep or not host:
        raise ValueError(f"--listen wants HOST:PORT, e.g. {DEFAULT_LISTEN} (got {text!r})")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            raise ValueError(f"--listen: {host!r} is not an IPv6 address") from None
    elif ":" in host:
        raise ValueError(f"--listen: write an IPv6 address in brackets, e.g. [::1]:9877 (got {text!r})")
    if not host or any(c.isspace() or c in "/@?#" for c in host):
        raise ValueError(f"--listen: {host!r} is not a host name or address")
    if not port_text.isdigit() or not 0 <= int(port_text) <= 65535:
        raise ValueError(f"--listen: the port must be a number from 0 to 65535 (got {port_text!r})")
    return host, int(port_text)


def bind(host: str, port: int) -> socket.socket:
    """The listening socket, bound now so a busy port is one line and exit 2, before
    anything is polled."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        return socket.create_server((host, port), family=family, backlog=1024)
    except OSError as exc:
        raise UsageError(f"exporter: cannot listen on {_hostport(host, port)}: "
                         f"{exc.strerror or exc}") from None


def _hostport(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def exporter_config(config: Config, tags: Sequence[str], auto_heal: bool) -> Config:
    """The config the exporter's Monitor runs on: the tagged instances; read-only unless
    auto-heal is asked for on the command line (the config's own auto_heal is ignored:
    a headless process acts only when its command line says so)."""
    if auto_heal and config.monitor.read_only:
        raise UsageError("exporter: --auto-heal sends restarts, so it cannot run read-only "
                         "(drop --read-only, or read_only = true from the config)")
    scoped = only_tagged(config, tags)
    monitor = dataclasses.replace(scoped.monitor, auto_heal=auto_heal, read_only=not auto_heal)
    return dataclasses.replace(scoped, monitor=monitor)


def run(config: Config, client: WawpClient, *, listen: str, tags: Sequence[str],
        auto_heal: bool, demo: bool = False) -> int:
    """`wawp-tui exporter`: serve until SIGTERM / SIGINT; the exit code."""
    try:
        host, port = parse_listen(listen)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    config = exporter_config(config, tags, auto_heal)
    if not config.instances:
        why = f"no instance matches --tag {' '.join(tags)}" if tags else "the config has no instance"
        say(f"wawp-tui: exporter: {why}: serving 0 instances")
    warning = exposure_warning(host, port, "exporter")
    if warning:
        say(f"wawp-tui: exporter: {warning}")
    sock = bind(host, port)
    exporter = Exporter(config, client, audit_path=None if demo else audit_log_path())
    with contextlib.closing(sock):
        asyncio.run(exporter.serve(sock, tags=tags, handle_signals=True))
    return ExitCode.OK


# -- the exporter ------------------------------------------------------------------------


class _Server(uvicorn.Server):
    """uvicorn without its own signal handling: the exporter owns SIGTERM / SIGINT (uvicorn
    would raise the signal again after stopping, and the exit code would not be 0)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class Exporter:
    """One Monitor, its metrics and the HTTP server in front of them."""

    def __init__(self, config: Config, client: WawpClient, *, audit_path: Path | None = None,
                 header_timeout: float = HEADER_TIMEOUT,
                 response_timeout: float = RESPONSE_TIMEOUT,
                 tls: tuple[str, str] | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self.config = config
        #: The monitor's clock (tests pass one they move).
        self.clock = clock
        self.tls = tls
        self.client = client
        self.audit_path = audit_path
        self.header_timeout = header_timeout
        self.response_timeout = response_timeout
        self._scrape_slots = asyncio.Semaphore(SCRAPES_AT_ONCE)
        self.monitor: Monitor | None = None
        self.registry = CollectorRegistry(auto_describe=False)
        self._poller: asyncio.Task[None] | None = None
        self._stopping = False
        #: Set once the HTTP server listens (tests wait on it).
        self.serving = asyncio.Event()
        #: (host, port) the server listens on.
        self.address: tuple[str, int] | None = None

    # -- what /healthz says --------------------------------------------------------------

    def health(self) -> tuple[int, str]:
        """(HTTP status, body) of /healthz."""
        if self._stopping:
            return 503, "shutting down\n"
        if self._poller is None:
            return 503, "starting\n"
        if self._poller.done():
            return 503, "poller stopped\n"
        return 200, "ok\n"

    # -- the HTTP side ---------------------------------------------------------------------

    def asgi_app(self) -> Callable[[Scope, Receive, Send], Awaitable[None]]:
        """/metrics, /healthz and a short index; GET and HEAD only."""

        async def app(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] != "http":
                return
            path, method = scope.get("path", ""), scope.get("method", "GET")
            if method not in ("GET", "HEAD"):
                await _reply(send, 405, "GET or HEAD only\n", extra=[(b"allow", b"GET, HEAD")])
            elif path == "/metrics":
                await self._metrics(scope, send, head=method == "HEAD")
            elif path == "/healthz":
                status, body = self.health()
                await _reply(send, status, body, head=method == "HEAD")
            elif path == "/":
                await _reply(send, 200, "wawp-tui exporter: /metrics (Prometheus), /healthz\n",
                             head=method == "HEAD")
            else:
                await _reply(send, 404, "not found: try /metrics or /healthz\n")

        return app

    async def _metrics(self, scope: Scope, send: Send, *, head: bool) -> None:
        """Collect now, on the loop (one consistent moment of the fleet); encode in a thread
        with the encoder the scraper asks for (text 0.0.4 or OpenMetrics)."""
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        encoder, content_type = choose_encoder(headers.get("accept", ""))
        zipped = gzip_accepted(headers.get("accept-encoding", ""))
        async with self._scrape_slots:  # (waiting here holds no snapshot)
            snapshot = _Snapshot(list(self.registry.collect()))
            body = await asyncio.to_thread(_encode, encoder, snapshot, zipped)
        await _reply(send, 200, body, head=head, content_type=content_type,
                     extra=[(b"content-encoding", b"gzip")] if zipped else None)

    # -- running ---------------------------------------------------------------------------

    async def serve(self, sock: socket.socket, *, tags: Sequence[str] = (),
                    stop: asyncio.Event | None = None, handle_signals: bool = False) -> None:
        """Poll and serve until `stop` is set (or SIGTERM / SIGINT with `handle_signals`)."""
        stop = stop or asyncio.Event()
        loop = asyncio.get_running_loop()
        if handle_signals:
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(sig, stop.set)
        audit = CountingAudit(self.audit_path)
        try:
            async with self.client:
                self.monitor = monitor = Monitor(self.config, self.client, audit=audit, clock=self.clock)
                counters = FleetCounters(monitor)
                audit.counters = counters
                monitor.subscribe(counters.on_event)
                self.registry.register(FleetCollector(monitor, counters))
                ProcessCollector(registry=self.registry)
                if monitor.auto_heal and audit.error:
                    say(f"wawp-tui: warning: {audit.error}; auto-heal's actions will not be recorded")
                await self._serve(monitor, sock, stop, tags)
        finally:
            audit.close()
            if handle_signals:
                for sig in (signal.SIGTERM, signal.SIGINT):
                    loop.remove_signal_handler(sig)

    async def _serve(self, monitor: Monitor, sock: socket.socket, stop: asyncio.Event,
                     tags: Sequence[str]) -> None:
        server = _Server(server_config(self.asgi_app(), header_timeout=self.header_timeout,
                                       response_timeout=self.response_timeout, graceful=GRACEFUL,
                                       tls=self.tls))
        self._poller = poller = asyncio.ensure_future(monitor.run())
        ticker = asyncio.ensure_future(_heartbeat(monitor))
        web = asyncio.ensure_future(server.serve(sockets=[sock]))
        stopped = asyncio.ensure_future(stop.wait())
        extra = [asyncio.ensure_future(job) for job in self.background(monitor)]
        host, port = sock.getsockname()[:2]
        self.address = (host, port)
        self._announce(monitor, host, port, tags)
        self.serving.set()
        try:
            await asyncio.wait({poller, ticker, web, stopped, *extra}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            self._stopping = True
            self.stopping()
            server.should_exit = True
            for task in (poller, ticker, stopped, *extra):
                task.cancel()
            await monitor.aclose()
            await asyncio.gather(poller, ticker, stopped, *extra, return_exceptions=True)
            await asyncio.gather(web, return_exceptions=True)
        for task in (poller, ticker, web, *extra):  # ended on its own: a bug, main() files the report
            if task.done() and not task.cancelled() and task.exception() is not None:
                raise task.exception()  # type: ignore[misc]

    def background(self, monitor: Monitor) -> list[Coroutine[Any, Any, None]]:
        """What runs beside the poller and the server until they stop (the hub's fan-out
        and jobs); none for the exporter."""
        return []

    def stopping(self) -> None:
        """The server is about to stop (the hub ends its event streams here)."""

    def _announce(self, monitor: Monitor, host: str, port: int, tags: Sequence[str]) -> None:
        count = len(monitor.config.instances)
        mode = ("auto-heal on: restarts FAILED instances by the runbook; no other action"
                if monitor.auto_heal else "read-only: no action is sent")
        say(f"wawp-tui exporter: http://{_hostport(host, port)}/metrics and /healthz, "
            f"{count} instance{'s' if count != 1 else ''}{describe_tags(tags)}, {mode}")


async def _heartbeat(monitor: Monitor) -> None:
    """Once a second: the Monitor's tick (auto-heal decisions when on)."""
    while True:
        monitor.tick()
        await asyncio.sleep(TICK)


class _Snapshot:
    """The metric families of one scrape, already collected: what the encoder reads."""

    def __init__(self, families: list[Metric]) -> None:
        self.families = families

    def collect(self) -> Iterable[Metric]:
        return iter(self.families)


def _encode(encoder: Callable[[Collector], bytes], snapshot: _Snapshot, zipped: bool) -> bytes:
    body = encoder(snapshot)
    return gzip.compress(body, compresslevel=6) if zipped else body


async def _reply(send: Send, status: int, body: str | bytes, *, head: bool = False,
                 content_type: str = "text/plain; charset=utf-8",
                 extra: list[tuple[bytes, bytes]] | None = None) -> None:
    data = body.encode() if isinstance(body, str) else body
    headers = [(b"content-type", content_type.encode("latin-1")),
               (b"content-length", str(len(data)).encode()), *(extra or [])]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": b"" if head else data})
