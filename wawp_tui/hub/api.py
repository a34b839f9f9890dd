"""The hub's HTTP API: a thin Starlette layer over the one Monitor (Prometheus' way: every
handler reads state the engine owns, and nothing here blocks its loop).

    GET  /healthz                              open: the poller runs
    GET  /metrics                              open (or a user's token: [hub] metrics_auth)
    GET  /api/v1/fleet                         viewer: every instance, its facts and view
    GET  /api/v1/instances/{id}                viewer: one instance, its view as of now
    GET  /api/v1/events                        viewer: Server-Sent Events (Last-Event-ID)
    POST /api/v1/instances/{id}/{action}       operator: restart stop start reset logout
    GET  /api/v1/instances/{id}/qr             operator: the pairing QR (audited)
    POST /api/v1/instances/{id}/pairing-code   operator: {"phone": "..."} (audited)
    POST /webhooks/wawp                        the HMAC (or a user's token): a doorbell

Refusals, each one line of JSON `{"error": ...}`: 401 no or unknown token, 403 a viewer
acting (or a hub that takes no actions), 404, 409 the runbook said no (`reason`,
`retry_after`), 413 a body too big, 429 too many actions or streams (`Retry-After`).
"""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from wawp_tui.core import Monitor, QrUnavailable, runbook, wire
from wawp_tui.hub import webhooks
from wawp_tui.hub.hibernate import upcoming
from wawp_tui.hub.limits import Buckets
from wawp_tui.hub.stream import Broadcaster, EventStream
from wawp_tui.hub.users import LOCAL, OPERATOR, VIEWER, Caller, Users
from wawp_tui.models import Secret
from wawp_tui.safe_text import clean
from wawp_tui.vocab import STATE_ACTIONS, Action, Trigger

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
Asgi = Callable[[Scope, Receive, Send], Awaitable[None]]

#: Largest action or pairing-code body read.
MAX_ACTION_BODY = 4096
#: Actions (and QR fetches) a user may ask for: a burst, then this many a second.
ACTION_BURST, ACTION_RATE = 60, 2.0
#: Event streams open at once, per user and in all.
STREAMS_PER_USER, STREAMS_TOTAL = 32, 256
#: Fleet documents being written at once, per user and in all: each is the whole fleet
#: (6 MB at 5,000 instances), held until the client has read it (a hundred clients that
#: asked and never read held 330 MB for a minute; a team's screens starting together ask a few at once).
FLEETS_PER_USER, FLEETS_TOTAL = 16, 32
#: Bytes of a fleet document written at a time.
CHUNK = 256 * 1024
#: Coming idle hibernations listed in the fleet document (the soonest; `count` has all).
HIBERNATIONS_LISTED = 100
#: The triggers a caller may name for its action. Auto-heal, the schedules and hibernation
#: are the hub's own: a caller naming one is journaled as a person's action (its name).
CALLER_TRIGGERS = {"manual": Trigger.MANUAL, "rollout": Trigger.ROLLOUT}

INDEX = """wawp-tui hub
  GET  /healthz, /metrics
  GET  /api/v1/fleet, /api/v1/instances/{id}, /api/v1/events (Server-Sent Events)
  POST /api/v1/instances/{id}/{restart|stop|start|reset|logout}
  POST /webhooks/wawp
Every /api endpoint needs Authorization: Bearer <token> of a [[hub.users]] entry.
"""


def _error(status: int, message: str, *, headers: dict[str, str] | None = None,
           **extra: Any) -> JSONResponse:
    return JSONResponse({"error": clean(message, 500), **extra}, status_code=status, headers=headers)


class _Raw:
    """An ASGI app as a Starlette endpoint (the exporter's /metrics and /healthz), behind
    an optional check that may answer first."""

    def __init__(self, app: Asgi, guard: Callable[[Request], Response | None] | None = None) -> None:
        self.app, self.guard = app, guard

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.guard is not None:
            refusal = self.guard(Request(scope, receive))
            if refusal is not None:
                await refusal(scope, receive, send)
                return
        await self.app(scope, receive, send)


class _Counted(Response):
    """A JSON reply counted in `counts[key]` from now until it is written out (or its
    client is gone)."""

    def __init__(self, body: bytes, counts: dict[str, int], key: str) -> None:
        super().__init__(body, media_type="application/json", headers={"cache-control": "no-store"})
        self.counts, self.key = counts, key
        counts[key] = counts.get(key, 0) + 1

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # In pieces: the server waits for a client's buffer to drain before the next one,
        # so a reply stays counted until it is read (written whole, it would leave at once
        # for the server's own unbounded buffer).
        try:
            await send({"type": "http.response.start", "status": self.status_code,
                        "headers": self.raw_headers})
            body = memoryview(self.body)
            for at in range(0, len(body), CHUNK):
                await send({"type": "http.response.body", "body": bytes(body[at:at + CHUNK]),
                            "more_body": at + CHUNK < len(body)})
            if not body:
                await send({"type": "http.response.body", "body": b""})
        finally:
            left = self.counts.get(self.key, 1) - 1
            if left > 0:
                self.counts[self.key] = left
            else:
                self.counts.pop(self.key, None)


@dataclass
class HubOptions:
    """What the API needs beyond the monitor (from [hub] and the command line)."""

    webhook_secret: Secret
    metrics_auth: bool = False


class HubApi:
    """The routes over one Monitor, its Broadcaster and the configured users."""

    def __init__(self, monitor: Monitor, broadcaster: Broadcaster, users: Users,
                 options: HubOptions, *, exporter_app: Asgi,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.monitor, self.broadcaster, self.users = monitor, broadcaster, users
        self.options = options
        self.doorbell = webhooks.Doorbell(monitor)
        self.actions = Buckets(ACTION_RATE, ACTION_BURST, clock)
        self.exporter_app = exporter_app
        #: Fleet documents being written, per user (see FLEETS_PER_USER).
        self._fleets: dict[str, int] = {}

    def app(self) -> Starlette:
        metrics_guard = self._metrics_guard if self.options.metrics_auth else None
        return Starlette(routes=[
            Route("/", self.index, methods=["GET"]),
            Route("/healthz", _Raw(self.exporter_app)),
            Route("/metrics", _Raw(self.exporter_app, metrics_guard)),
            Route("/api/v1/fleet", self.fleet, methods=["GET"]),
            Route("/api/v1/events", self.events, methods=["GET"]),
            Route("/api/v1/instances/{instance_id}", self.instance, methods=["GET"]),
            Route("/api/v1/instances/{instance_id}/qr", self.qr, methods=["GET"]),
            Route("/api/v1/instances/{instance_id}/pairing-code", self.pairing_code, methods=["POST"]),
            Route("/api/v1/instances/{instance_id}/{action}", self.act, methods=["POST"]),
            Route("/webhooks/wawp", self.webhook, methods=["POST"]),
        ])

    # -- who is asking ---------------------------------------------------------------

    @property
    def takes_actions(self) -> bool:
        """Actions over HTTP: only with users configured, and not on a read-only hub."""
        return self.users.configured and not self.monitor.read_only

    def _caller(self, request: Request, role: str = VIEWER) -> Caller | JSONResponse:
        if not self.users.configured:
            # No users: the hub listens on loopback only (serve refuses otherwise), reads
            # are open there, and nothing acts over HTTP.
            if role == OPERATOR:
                return _error(403, "this hub has no [[hub.users]]: it takes no actions over HTTP "
                                   "(add an operator to its config)")
            return Caller(LOCAL, VIEWER)
        caller = self.users.who(request.headers.get("authorization"))
        if caller is None:
            return _error(401, "the token of a configured hub user is needed, in an "
                               "Authorization header (the bearer scheme)",
                          headers={"www-authenticate": 'Bearer realm="wawp-tui hub"'})
        if role == OPERATOR and not caller.can_act:
            return _error(403, f"{caller.name} is a viewer: viewers read, operators act")
        return caller

    def _metrics_guard(self, request: Request) -> Response | None:
        caller = self._caller(request)
        return caller if isinstance(caller, Response) else None

    # -- reading ---------------------------------------------------------------------

    async def index(self, request: Request) -> Response:
        caller = self._caller(request)  # every endpoint but /healthz and /metrics: a user's
        return caller if isinstance(caller, Response) else PlainTextResponse(INDEX)

    def _about(self, caller: Caller) -> dict[str, Any]:
        monitor = self.monitor
        return {
            "hub": {"boot": self.broadcaster.boot, "api": monitor.where,
                    "stale_basis": monitor.stale_basis, "quiet_after": monitor.quiet_after,
                    "hibernate_after": monitor.hibernate_after,
                    "hibernations": self._hibernations(),
                    "news": list(self.broadcaster.news),
                    "refresh": monitor.poller.refresh, "read_only": monitor.read_only,
                    "auto_heal": monitor.auto_heal, "paused": monitor.paused,
                    "takes_actions": self.takes_actions,
                    "alerts": [{"key": a.key, "text": a.text, "severity": a.severity,
                                "started_at": a.started_at, "group": a.group}
                               for a in monitor.alerts.firing()]},
            "you": {"name": caller.name, "role": caller.role,
                    "can_act": caller.can_act and self.takes_actions},
        }

    def _hibernations(self) -> dict[str, Any]:
        """Idle hibernation's coming stops, soonest first (listed in advance)."""
        after = self.monitor.hibernate_after
        coming = upcoming(self.monitor.fleet, after) if after > 0 else []
        return {"count": len(coming),
                "next": [{"id": i, "at": at} for at, i in coming[:HIBERNATIONS_LISTED]]}

    async def fleet(self, request: Request) -> Response:
        caller = self._caller(request)
        if isinstance(caller, Response):
            return caller
        writing = self._fleets.get(caller.name, 0)
        if writing >= FLEETS_PER_USER or sum(self._fleets.values()) >= FLEETS_TOTAL:
            return _error(429, f"too many fleet documents being sent ({FLEETS_PER_USER} per user, "
                               f"{FLEETS_TOTAL} in all): retry in a second",
                          headers={"retry-after": "1"}, retry_after=1)
        wanted = request.query_params.get("ids")
        ids = [i for i in wanted.split(",") if i] if wanted else None
        return _Counted(self.broadcaster.snapshot(self._about(caller), ids), self._fleets, caller.name)

    async def instance(self, request: Request) -> Response:
        caller = self._caller(request)
        if isinstance(caller, Response):
            return caller
        instance_id = request.path_params["instance_id"]
        if instance_id not in self.monitor.fleet.instances:
            return _error(404, f"no instance {instance_id!r} on this hub")
        monitor, st = self.monitor, self.monitor.fleet.get(instance_id)
        doc = wire.encode_instance(st)
        doc["view"] = wire.view(st, monitor.clock(), monitor.stale_basis, monitor.quiet_after,
                                monitor.read_only)
        doc["view"]["hibernates_at"] = runbook.hibernates_at(st, monitor.hibernate_after)
        doc["view"]["hibernation"] = runbook.hibernation_line(st, monitor.clock(), monitor.hibernate_after)
        return JSONResponse({"schema": wire.SCHEMA, "now": monitor.clock(), **doc})

    async def events(self, request: Request) -> Response:
        caller = self._caller(request)
        if isinstance(caller, Response):
            return caller
        if self.broadcaster.readers(caller.name) >= STREAMS_PER_USER \
                or self.broadcaster.readers() >= STREAMS_TOTAL:
            return _error(429, f"too many event streams open ({STREAMS_PER_USER} per user, "
                               f"{STREAMS_TOTAL} in all): close one", headers={"retry-after": "5"})
        last = request.headers.get("last-event-id") or request.query_params.get("last_event_id")
        backlog = self.broadcaster.backlog(last)
        return EventStream(self.broadcaster, self.broadcaster.join(caller.name), backlog)

    # -- acting ----------------------------------------------------------------------

    async def _read_json(self, request: Request, cap: int) -> dict[str, Any] | JSONResponse:
        body = await read_capped(request, cap)
        if body is None:
            return _error(413, f"the body is over {cap} bytes")
        if not body.strip():
            return {}
        try:
            data = json.loads(body)
        except (ValueError, RecursionError):  # (4 KB of "[" nests past the parser's limit)
            return _error(400, "the body is not JSON (or is nested too deeply)")
        return data if isinstance(data, dict) else _error(400, "the body must be a JSON object")

    def _gate_caller(self, request: Request) -> Caller | JSONResponse:
        """An operator who may act now (the hub takes actions; within the user's rate)."""
        caller = self._caller(request, OPERATOR)
        if isinstance(caller, Response):
            return caller
        if self.monitor.read_only:
            return _error(403, "this hub is read-only: it sends no action")
        wait = self.actions.take(caller.name)
        if wait is not None:
            seconds = max(1, round(wait + 0.5))
            return _error(429, f"{caller.name} asked for too many actions ({ACTION_BURST} at once, "
                               f"then {ACTION_RATE:g} a second); retry in {seconds}s",
                          headers={"retry-after": str(seconds)}, retry_after=seconds)
        return caller

    async def act(self, request: Request) -> Response:
        """The one gate decides at this instant (a fresh poll, every actor's history); the
        journal names the caller: 202 with what was sent, or 409 with the reason."""
        instance_id, action = request.path_params["instance_id"], request.path_params["action"]
        if action not in STATE_ACTIONS:
            return _error(404, f"no action {action!r}: one of {', '.join(STATE_ACTIONS)}")
        caller = self._gate_caller(request)
        if isinstance(caller, Response):
            return caller
        if instance_id not in self.monitor.fleet.instances:
            return _error(404, f"no instance {instance_id!r} on this hub")
        data = await self._read_json(request, MAX_ACTION_BODY)
        if isinstance(data, Response):
            return data
        trigger = CALLER_TRIGGERS.get(str(data.get("trigger", "manual")), Trigger.MANUAL)
        reason = clean(data.get("reason"), 200) if isinstance(data.get("reason"), str) else ""
        monitor = self.monitor
        monitor.audit.write(monitor.clock(), "hub-request", action=action, instance_id=instance_id,
                            by=caller.name, trigger=str(trigger), reason=reason or None)
        report = await monitor.act(action, [instance_id], trigger=trigger, by=caller.name)
        outcome = report.outcomes[0]
        st = monitor.fleet.get(instance_id)
        if outcome.refused:
            retry = outcome.retry_in
            if retry is None and st.in_flight:
                retry = self._in_flight_for(st.in_flight)
            retry = None if retry is None else round(retry, 1)
            return JSONResponse({"sent": False, "action": action, "instance_id": instance_id,
                                 "reason": outcome.message, "retry_after": retry,
                                 "status": st.status}, status_code=409)
        return JSONResponse({"sent": True, "action": action, "instance_id": instance_id,
                             "ok": outcome.ok, "unknown": outcome.unknown,
                             "message": outcome.message, "status": st.status, "by": caller.name},
                            status_code=202)

    def _in_flight_for(self, action: str) -> float:
        """Seconds another actor's request can still take (its answer, then the runbook's
        guards, decide whether a second one may go): a 409 says when to ask again."""
        timeout = self.monitor.config.api.timeout
        return runbook.RESET_PAUSE + 2 * timeout if action == Action.RESET else timeout

    async def qr(self, request: Request) -> Response:
        caller = self._gate_caller(request)
        if isinstance(caller, Response):
            return caller
        instance_id = request.path_params["instance_id"]
        if instance_id not in self.monitor.fleet.instances:
            return _error(404, f"no instance {instance_id!r} on this hub")
        try:
            code = await self.monitor.fetch_qr(instance_id, by=caller.name)
        except QrUnavailable as exc:
            return _error(409, str(exc))
        return JSONResponse({"value": code.value, "expires_at": code.expires_at, "form": code.form},
                            headers={"cache-control": "no-store"})

    async def pairing_code(self, request: Request) -> Response:
        caller = self._gate_caller(request)
        if isinstance(caller, Response):
            return caller
        instance_id = request.path_params["instance_id"]
        if instance_id not in self.monitor.fleet.instances:
            return _error(404, f"no instance {instance_id!r} on this hub")
        data = await self._read_json(request, MAX_ACTION_BODY)
        if isinstance(data, Response):
            return data
        phone = data.get("phone")
        if not isinstance(phone, str) or not phone.strip():
            return _error(400, 'the body needs {"phone": "+<digits>"}')
        text = await self.monitor.request_code(instance_id, phone.strip()[:32], by=caller.name)
        return JSONResponse({"text": text}, headers={"cache-control": "no-store"})

    # -- the doorbell ----------------------------------------------------------------

    async def webhook(self, request: Request) -> Response:
        """Signed with the HMAC when a secret is configured; else a user's token, or
        nothing on a hub with no users (loopback only). Answered at once; the poll it
        may cause runs on its own."""
        secret = self.options.webhook_secret
        if not secret and self.users.configured:
            caller = self._caller(request)
            if isinstance(caller, Response):
                return caller
        body = await read_capped(request, webhooks.MAX_BODY)
        if body is None:
            return _error(413, f"webhook bodies are at most {webhooks.MAX_BODY // 1024} KB")
        if secret and not webhooks.signature_ok(
                secret.reveal().encode(), body, request.headers.get("x-webhook-hmac"),
                request.headers.get("x-webhook-hmac-algorithm")):
            return _error(401, "bad or missing X-Webhook-Hmac (HMAC of the raw body, hex; "
                               "X-Webhook-Hmac-Algorithm sha512 or sha256)")
        outcome, instance_id = self.doorbell.ring(body)
        return JSONResponse({"outcome": outcome, "instance_id": instance_id})


async def read_capped(request: Request, cap: int) -> bytes | None:
    """The request body, or None once it is over `cap` bytes (the rest is never read)."""
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > cap:
        return None
    chunks, total = [], 0
    async for chunk in request.stream():
        total += len(chunk)
        if total > cap:
            return None
        chunks.append(chunk)
    return b"".join(chunks)

