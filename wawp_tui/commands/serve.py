"""`wawp-tui serve`: the hub, one watcher for a team.

The exporter (commands/exporter.py: one Monitor, /metrics, /healthz, the guarded uvicorn)
plus the hub's API (wawp_tui/hub/api.py): the fleet and its events for the screens that
attach (`wawp-tui --hub URL`), every action through the one gate with the caller's name in
the journal, and webhooks as a doorbell. `wawp-tui exporter` is this without the API.

Safe by default: with no [[hub.users]] it listens on loopback only (a non-loopback
--listen is refused, saying why) and takes no actions over HTTP; tokens come from
environment variables, are compared in constant time and never logged; a token shorter
than 16 characters refuses the start; a webhook secret variable that is named but unset
refuses the start (the hub would otherwise take unsigned events). TLS with --tls-cert and
--tls-key, or behind a reverse proxy (docs/hub.md).

Periodic work on the hub's monitor is a `Job` added with `Hub.add_job` before `serve`
(wawp_tui/hub/jobs.py): keeping the [[schedules]] and idle hibernation (hub/keeper.py,
hub/hibernate.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import socket
import ssl
from collections.abc import Coroutine, Sequence
from pathlib import Path
from typing import Any

from wawp_tui.client.api import WawpClient
from wawp_tui.commands import serve_web
from wawp_tui.commands.exporter import Exporter, bind, parse_listen
from wawp_tui.commands.scope import describe_tags, only_tagged
from wawp_tui.commands.served import is_loopback
from wawp_tui.config import Config, audit_log_path, state_dir
from wawp_tui.core import Monitor
from wawp_tui.hub.api import HubApi, HubOptions
from wawp_tui.hub.jobs import Job, keep
from wawp_tui.hub.keeper import hub_jobs
from wawp_tui.hub.stream import Broadcaster
from wawp_tui.hub.users import MIN_TOKEN, OPERATOR, Users
from wawp_tui.hub.web import WEB_USER, WebOptions, WebWall
from wawp_tui.launch import UsageError, say
from wawp_tui.vocab import ExitCode, plural


def hub_config(config: Config, tags: Sequence[str], auto_heal: bool) -> Config:
    """The config the hub's Monitor runs on: the tagged instances; auto-heal only when the
    command line asks (a headless process acts by itself only when told so there)."""
    if auto_heal and config.monitor.read_only:
        raise UsageError("serve: --auto-heal sends restarts, so it cannot run read-only")
    scoped = only_tagged(config, tags)
    return dataclasses.replace(scoped, monitor=dataclasses.replace(scoped.monitor, auto_heal=auto_heal))


def check_exposure(config: Config, host: str, tls: tuple[str, str] | None) -> list[str]:
    """Refuse what would expose the fleet (UsageError); the warnings to print."""
    hub = config.hub
    shown = f"[{host}]" if ":" in host else host
    if not hub.users and not is_loopback(host):
        raise UsageError(f"serve: --listen {shown} is reachable from other machines, and no "
                         "[[hub.users]] are configured: a hub without users serves loopback only "
                         "(add users with tokens to [hub], see docs/hub.md)")
    short = [u.name for u in hub.users if u.token and len(u.token.reveal()) < MIN_TOKEN]
    if short:
        raise UsageError(f"serve: the token of {', '.join(short)} is shorter than {MIN_TOKEN} "
                         "characters; use a long random one (e.g. `openssl rand -hex 32`)")
    if hub.webhook_secret_env and not hub.webhook_secret:
        raise UsageError(f"serve: [hub] webhook_secret_env names {hub.webhook_secret_env}, which is "
                         "not set: without it the hub would take unsigned webhooks; export it "
                         "or remove the key")
    warnings = Users(hub.users).problems([u for u in hub.users if not u.token])
    if hub.users and not is_loopback(host) and tls is None:
        warnings.append(f"warning: --listen {shown} without --tls-cert/--tls-key: bearer tokens "
                        "cross the network in clear unless a TLS reverse proxy is in front "
                        "(docs/hub.md)")
    return warnings


def tls_files(cert: str | None, key: str | None) -> tuple[str, str] | None:
    """(certificate, key) for https, both readable, or None."""
    if not cert and not key:
        return None
    if not cert or not key:
        raise UsageError("serve: --tls-cert and --tls-key go together")
    for name, path in (("--tls-cert", cert), ("--tls-key", key)):
        if not os.access(path, os.R_OK) or not Path(path).is_file():
            raise UsageError(f"serve: {name} {path}: not a readable file")
    # Loaded once here, as uvicorn will (a pair that does not load was an internal error
    # after the hub said it served); an encrypted key gets no passphrase prompt.
    try:
        ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(cert, key, password=lambda: b"")
    except (ssl.SSLError, OSError, ValueError) as exc:
        why = getattr(exc, "reason", None) or getattr(exc, "strerror", None) or str(exc)
        raise UsageError(f"serve: cannot use --tls-cert {cert} with --tls-key {key}: {why} "
                         "(a PEM certificate, then its own unencrypted PEM key)") from None
    return cert, key


def run(config: Config, client: WawpClient, *, listen: str | None, tags: Sequence[str],
        auto_heal: bool, tls_cert: str | None = None, tls_key: str | None = None,
        demo: bool = False, web: WebOptions | None = None) -> int:
    """`wawp-tui serve`: serve until SIGTERM / SIGINT; the exit code."""
    try:
        host, port = parse_listen(listen or config.hub.listen)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    tls = tls_files(tls_cert, tls_key)
    warnings = check_exposure(config, host, tls)
    setup = None
    if web is not None:  # the wall page (commands/serve_web.py): checked and bound first
        setup, more = serve_web.prepare(config, web, tls)
        config, warnings = setup.config, warnings + more
    for warning in warnings:
        say(f"wawp-tui: serve: {warning}")
    config = hub_config(config, tags, auto_heal)
    if not config.instances:
        say(f"wawp-tui: serve: {'no instance matches --tag' if tags else 'the config has no instance'}: "
            "serving 0 instances")
    sock = bind(host, port)
    hub = Hub(config, client, audit_path=None if demo else audit_log_path(), tls=tls)
    for job in hub_jobs(config, None if demo else state_dir()):
        hub.add_job(job)
    if setup is not None:
        hub.add_web(setup.page(host, sock.getsockname()[1], tls), setup.sock)
    with contextlib.closing(sock), contextlib.closing(setup.sock) if setup else contextlib.nullcontext():
        asyncio.run(hub.serve(sock, tags=tags, handle_signals=True))
    return ExitCode.OK


class Hub(Exporter):
    """The exporter, plus the API, the event fan-out and the hub's jobs."""

    def __init__(self, config: Config, client: WawpClient, **kwargs: Any) -> None:
        super().__init__(config, client, **kwargs)
        self.users = Users(config.hub.users)
        self.options = HubOptions(webhook_secret=config.hub.webhook_secret,
                                  metrics_auth=config.hub.metrics_auth)
        self.jobs: list[Job] = []
        self.broadcaster: Broadcaster | None = None
        self.api: HubApi | None = None
        self.web: tuple[WebWall, socket.socket] | None = None

    def add_job(self, job: Job) -> None:
        """Run `job` on the hub's monitor while it serves (add before `serve`)."""
        self.jobs.append(job)

    def add_web(self, page: WebWall, sock: socket.socket) -> None:
        """Serve the wall page on `sock` while the hub serves (`--web`; add before `serve`)."""
        self.web = (page, sock)

    def asgi_app(self) -> Any:
        monitor = self.monitor
        assert monitor is not None, "the app is built once the monitor runs"
        self.broadcaster = Broadcaster(monitor)
        self.api = HubApi(monitor, self.broadcaster, self.users, self.options,
                          exporter_app=super().asgi_app())
        return self.api.app()

    def background(self, monitor: Monitor) -> list[Coroutine[Any, Any, None]]:
        assert self.broadcaster is not None
        page = [self.web[0].serve(self.web[1])] if self.web is not None else []
        return [self.broadcaster.run(), *(keep(job, monitor) for job in self.jobs), *page]

    def stopping(self) -> None:
        if self.broadcaster is not None:
            self.broadcaster.close()

    def _announce(self, monitor: Monitor, host: str, port: int, tags: Sequence[str]) -> None:
        scheme = "https" if self.tls else "http"
        where = f"{scheme}://[{host}]:{port}" if ":" in host else f"{scheme}://{host}:{port}"
        hub = self.config.hub
        users = [u for u in hub.users if u.name != WEB_USER]  # (the wall page's tabs are not people)
        if users:
            operators = sum(1 for u in users if u.role == OPERATOR)
            who = f"{plural(len(users), 'user')} ({operators} operator{'s' if operators != 1 else ''})"
        else:
            who = "no users: loopback only, no actions over HTTP"
        hooks = "webhooks signed (HMAC)" if hub.webhook_secret else \
            "webhooks with a user's token" if hub.users else "webhooks unsigned (loopback)"
        heal = "auto-heal on" if monitor.auto_heal else "auto-heal off"
        if self.jobs:
            heal += f", keeping: {', '.join(job.name for job in self.jobs)}"
        say(f"wawp-tui hub: {where} (/api/v1/fleet, /api/v1/events, /webhooks/wawp, /metrics, "
            f"/healthz), {plural(len(monitor.config.instances), 'instance')}{describe_tags(tags)}, "
            f"{who}, {hooks}, {heal}")
        if self.web is not None:
            say(self.web[0].describe(self.web[1]))
