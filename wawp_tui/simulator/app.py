"""Simulator: a fake Wawp v2 server as a plain ASGI app, with fault injection.

Behaves like the documented API: credentials in the JSON body or the query string, auth
checked before existence, the documented error codes in several body formats, and a
per-instance state machine. `/_sim/*` endpoints let black-box tests inject faults.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import parse_qs

from wawp_tui.models import SCAN_QR_CODE
from wawp_tui.simulator import hostile
from wawp_tui.simulator.control import control
from wawp_tui.simulator.faults import FAULT_KINDS, REALITY_KINDS, DropConnection, classic_fault
from wawp_tui.simulator.hostile import HOSTILE_KINDS
from wawp_tui.simulator.replies import error_reply, json_reply
from wawp_tui.simulator.state import Fault, SimInstance, qr_png
from wawp_tui.simulator.waha import waha_refusal
from wawp_tui.simulator.webhooks import WebhookSender

SESSION_ENDPOINTS = ("info", "start", "stop", "restart", "logout")


class Simulator:
    """An ASGI callable serving the Wawp v2 session API for `instances`."""

    def __init__(
        self,
        instances: list[SimInstance],
        clock: Callable[[], float] = time.time,
        seed: int = 0,
        latency: float = 0.0,
    ) -> None:
        self.instances: dict[str, SimInstance] = {i.id: i for i in instances}
        #: Seconds every API reply is delayed by (a distant server, for benchmarks).
        self.latency = latency
        self.clock = clock
        self.seed = seed
        #: Every API request, without its token: endpoint, instance_id, method, credentials_in.
        self.calls: list[dict[str, Any]] = []
        self._release = asyncio.Event()
        self._tokens = {i.token for i in instances}
        #: API requests being served right now, and the most ever at once (politeness checks).
        self.in_flight = 0
        self.max_in_flight = 0
        #: Posts a signed session.status event on every transition (`--webhook`), or None.
        self.webhook: WebhookSender | None = None

    def push_to(self, url: str, secret: bytes | None = None) -> WebhookSender:
        """Send a signed event to `url` on every transition once served (see webhooks.py)."""
        self.webhook = WebhookSender(self.instances, self.clock, url, secret)
        return self.webhook

    # -- control (in-process and over /_sim) ------------------------------------------

    def inject(self, instance_id: str, kind: str, count: int | None = None, **params: Any) -> None:
        """Make the next `count` requests for this instance misbehave (None: until cleared)."""
        kinds = FAULT_KINDS + REALITY_KINDS + HOSTILE_KINDS
        if kind not in kinds:
            raise ValueError(f"unknown fault kind {kind!r}; one of {', '.join(kinds)}")
        self.instances[instance_id].faults.append(Fault(kind, count, dict(params)))

    def clear_faults(self, instance_id: str | None = None) -> None:
        targets = [self.instances[instance_id]] if instance_id else self.instances.values()
        for inst in targets:
            inst.faults.clear()
        self.release_hangs()

    def scan(self, instance_id: str, value: str) -> bool:
        """A phone scanned `value`: links the instance if it is its current QR."""
        inst = self.instances[instance_id]
        now = self.clock()
        if inst.status_at(now) != SCAN_QR_CODE or inst.qr(now)["value"] != value:
            return False
        inst.logged_in = True
        inst.base_status = "STARTING"
        inst.started_at = now
        return True

    def release_hangs(self) -> None:
        """Let every hung request finish (used when the server stops)."""
        self._release.set()
        self._release = asyncio.Event()

    def calls_to(self, endpoint: str, instance_id: str | None = None) -> list[dict[str, Any]]:
        """Recorded calls to an endpoint ("restart" or "/v2/session/restart")."""
        if not endpoint.startswith("/"):
            endpoint = f"/v2/session/{endpoint}"
        return [c for c in self.calls if c["endpoint"] == endpoint
                and (instance_id is None or c["instance_id"] == instance_id)]

    # -- ASGI -------------------------------------------------------------------------

    async def __call__(self, scope: MutableMapping[str, Any],
                       receive: Callable[[], Awaitable[MutableMapping[str, Any]]],
                       send: Callable[[MutableMapping[str, Any]], Awaitable[None]]) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    if self.webhook is not None:
                        self.webhook.start()
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    if self.webhook is not None:
                        await self.webhook.stop()
                    self.release_hangs()
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        try:
            status, headers, payload = await self._handle(scope, body)
        except DropConnection:
            # Promise a body, then fail: the server closes the socket mid-reply, which
            # the client sees as a dropped connection (not as a tidy 500).
            await send({"type": "http.response.start", "status": 200,
                        "headers": [(b"content-type", b"application/json"), (b"content-length", b"512")]})
            raise
        await send({"type": "http.response.start", "status": status,
                    "headers": [(k.encode(), v.encode("latin-1", "replace")) for k, v in headers]})
        if isinstance(payload, bytes):
            await send({"type": "http.response.body", "body": payload})
            return
        for chunk in payload:  # a streamed body (the hostile huge_body)
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b""})

    async def _handle(self, scope: MutableMapping[str, Any], raw_body: bytes) -> tuple[int, list, bytes]:
        path = scope["path"].rstrip("/") or "/"
        query = {k: v[-1] for k, v in parse_qs(scope.get("query_string", b"").decode()).items()}
        method = scope["method"]
        try:
            body = json.loads(raw_body) if raw_body.strip() else {}
        except ValueError:
            return error_reply(400, "body is not valid JSON")
        if not isinstance(body, dict):
            body = {}
        if path.startswith("/_sim/"):
            return control(self, path, method, body)
        if path.startswith(("/v2/session/", "/v2/auth/")):
            return await self._api(path, method, query, body)
        return error_reply(404, f"no route {path}")

    async def _api(self, path: str, method: str, query: dict, body: dict) -> tuple[int, list, bytes]:
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            return await self._serve_api(path, method, query, body)
        finally:
            self.in_flight -= 1

    async def _serve_api(self, path: str, method: str, query: dict, body: dict) -> tuple[int, list, bytes]:
        if self.latency:
            await asyncio.sleep(self.latency)
        instance_id = body.get("instance_id") or query.get("instance_id")
        token = body.get("access_token") or query.get("access_token")
        where = "body" if body.get("access_token") else "query"
        call = {"endpoint": path, "instance_id": instance_id, "method": method,
                "credentials_in": where if token else None, "at": self.clock()}
        self.calls.append(call)
        if not instance_id or not token:
            missing = "instance_id" if not instance_id else "access_token"
            return error_reply(400, f"Missing parameter {missing}")
        # Auth before existence: a wrong token never learns whether an id exists.
        inst = self.instances.get(instance_id)
        if token not in self._tokens or (inst is not None and token != inst.token):
            return error_reply(401, "Invalid access token")
        if inst is None:
            return error_reply(404, "Instance not found")
        fault = inst.take_fault(path.rsplit("/", 1)[-1])
        if fault is not None:
            if fault.kind in HOSTILE_KINDS:
                # In a thread: building a 1 GB gzip bomb takes seconds the first time, and
                # the other instances must keep being served meanwhile.
                return await asyncio.to_thread(self._hostile, fault, path, query, body)
            faulty = await classic_fault(fault, inst, self.clock(), self._release)
            if faulty is not None:
                return faulty
        return self._endpoint(path, method, inst, body, query, call)

    def _endpoint(self, path: str, method: str, inst: SimInstance, body: dict, query: dict,
                  call: dict[str, Any]):
        now = self.clock()
        name = path.rsplit("/", 1)[-1]
        # What the instance was, and is after the call: black-box tests read the log to
        # judge what each actor did to it (a restart sent while it was STARTING...).
        call["was"] = inst.status_at(now)
        if inst.flavour == "waha":
            refused = waha_refusal(inst, name, now)
            if refused is not None:
                return refused
        if path.startswith("/v2/session/") and name in SESSION_ENDPOINTS:
            if name != "info":
                getattr(inst, name)(now)
            reply = inst.session(now)
            call["status"] = reply["status"]
            return json_reply(200, reply)
        if path == "/v2/session/me":
            me = inst.me(now)
            if me is None:
                return error_reply(400, "Session is not logged in")
            return json_reply(200, me)
        if path == "/v2/auth/qr":
            if inst.status_at(now) != SCAN_QR_CODE:
                return json_reply(400, {"error": "Bad Request",
                                   "message": f"QR is only available in SCAN_QR_CODE (status {inst.status_at(now)})",
                                   "statusCode": 400})
            qr = inst.qr(now)
            if inst.qr_form == "raw":
                return json_reply(200, {"value": qr["value"]})
            if inst.qr_form == "image":
                png = base64.b64encode(qr_png(qr["value"])).decode()
                return json_reply(200, {"mimetype": "image/png", "data": png})
            if query.get("format") == "raw":
                data = base64.b64encode(json.dumps(qr).encode()).decode()
                return json_reply(200, {"mimetype": "application/json", "data": data})
            return json_reply(200, qr)
        if path == "/v2/auth/request-code":
            phone = str(body.get("phone_number") or query.get("phone_number") or "")
            digits = phone.lstrip("+")
            if not digits.isdigit() or not 7 <= len(digits) <= 15:
                return error_reply(400, "phone_number must be digits in international format")
            if inst.status_at(now) != SCAN_QR_CODE:
                return error_reply(400, "Session is already logged in")
            code = hashlib.sha256(f"{inst.id}:{digits}".encode()).hexdigest()[:8].upper()
            return json_reply(200, {"code": inst.pairing_code or f"{code[:4]}-{code[4:]}"})
        return error_reply(404, f"no route {path}")

    @staticmethod
    def _hostile(fault: Fault, path: str, query: dict, body: dict):
        params = fault.params
        if fault.kind == "echo_500":
            return hostile.echo_500(path, query, body, str(params.get("format", "json")))
        return getattr(hostile, fault.kind)(params)
