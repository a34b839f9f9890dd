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
from wawp_tui.simulator.hostile import HOSTILE_KINDS
from wawp_tui.simulator.state import Fault, SimInstance

FAULT_KINDS = (
    "html_502", "html_500", "xml_400", "text_500", "malformed_json", "empty_200",
    "rate_limit", "slow", "hang", "drop", "unauthorized", "forbidden", "not_found",
    "unknown_status",
)
SESSION_ENDPOINTS = ("info", "start", "stop", "restart", "logout")


class DropConnection(Exception):
    """Raised inside the app to make the server close the connection without a reply."""


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

    # -- control (in-process and over /_sim) ------------------------------------------

    def inject(self, instance_id: str, kind: str, count: int | None = None, **params: Any) -> None:
        """Make the next `count` requests for this instance misbehave (None: until cleared)."""
        if kind not in FAULT_KINDS + HOSTILE_KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; one of "
                             f"{', '.join(FAULT_KINDS + HOSTILE_KINDS)}")
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
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
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
            return _error(400, "body is not valid JSON")
        if not isinstance(body, dict):
            body = {}
        if path.startswith("/_sim/"):
            return self._control(path, method, body)
        if path.startswith(("/v2/session/", "/v2/auth/")):
            return await self._api(path, method, query, body)
        return _error(404, f"no route {path}")

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
        self.calls.append({"endpoint": path, "instance_id": instance_id, "method": method,
                           "credentials_in": where if token else None, "at": self.clock()})
        if not instance_id or not token:
            missing = "instance_id" if not instance_id else "access_token"
            return _error(400, f"Missing parameter {missing}")
        # Auth before existence: a wrong token never learns whether an id exists.
        inst = self.instances.get(instance_id)
        if token not in self._tokens or (inst is not None and token != inst.token):
            return _error(401, "Invalid access token")
        if inst is None:
            return _error(404, "Instance not found")
        fault = inst.take_fault(path.rsplit("/", 1)[-1])
        if fault is not None:
            if fault.kind in HOSTILE_KINDS:
                # In a thread: building a 1 GB gzip bomb takes seconds the first time, and
                # the other instances must keep being served meanwhile.
                return await asyncio.to_thread(self._hostile, fault, path, query, body)
            faulty = await self._fault(fault, inst)
            if faulty is not None:
                return faulty
        return self._endpoint(path, method, inst, body, query)

    def _endpoint(self, path: str, method: str, inst: SimInstance, body: dict, query: dict):
        now = self.clock()
        name = path.rsplit("/", 1)[-1]
        if path.startswith("/v2/session/") and name in SESSION_ENDPOINTS:
            if name != "info":
                getattr(inst, name)(now)
            return _json(200, inst.session(now))
        if path == "/v2/session/me":
            me = inst.me(now)
            if me is None:
                return _error(400, "Session is not logged in")
            return _json(200, me)
        if path == "/v2/auth/qr":
            if inst.status_at(now) != SCAN_QR_CODE:
                return _json(400, {"error": "Bad Request",
                                   "message": f"QR is only available in SCAN_QR_CODE (status {inst.status_at(now)})",
                                   "statusCode": 400})
            qr = inst.qr(now)
            if inst.qr_value is not None:
                qr = {"value": inst.qr_value, "expiry": qr["expiry"]}
            if query.get("format") == "raw":
                data = base64.b64encode(json.dumps(qr).encode()).decode()
                return _json(200, {"mimetype": "application/json", "data": data})
            return _json(200, qr)
        if path == "/v2/auth/request-code":
            phone = str(body.get("phone_number") or query.get("phone_number") or "")
            digits = phone.lstrip("+")
            if not digits.isdigit() or not 7 <= len(digits) <= 15:
                return _error(400, "phone_number must be digits in international format")
            if inst.status_at(now) != SCAN_QR_CODE:
                return _error(400, "Session is already logged in")
            code = hashlib.sha256(f"{inst.id}:{digits}".encode()).hexdigest()[:8].upper()
            return _json(200, {"code": inst.pairing_code or f"{code[:4]}-{code[4:]}"})
        return _error(404, f"no route {path}")

    @staticmethod
    def _hostile(fault: Fault, path: str, query: dict, body: dict):
        params = fault.params
        if fault.kind == "echo_500":
            return hostile.echo_500(path, query, body, str(params.get("format", "json")))
        return getattr(hostile, fault.kind)(params)

    async def _fault(self, fault: Fault, inst: SimInstance):
        kind, params = fault.kind, fault.params
        if kind == "html_502":
            return _html(502, "502 Bad Gateway")
        if kind == "html_500":
            return _html(500, "500 Internal Server Error")
        if kind == "xml_400":
            xml = ('<?xml version="1.0" encoding="UTF-8"?><error><code>400</code>'
                   "<message>Missing parameter instance_id</message></error>")
            return 400, [("content-type", "application/xml")], xml.encode()
        if kind == "text_500":
            return 500, [("content-type", "text/plain")], b"Internal Server Error: engine crashed\n"
        if kind == "malformed_json":
            return 200, [("content-type", "application/json")], b'{"name": "wawp-x", "status": "WOR'
        if kind == "empty_200":
            return 200, [("content-type", "application/json")], b""
        if kind == "rate_limit":
            retry = str(params.get("retry_after", 7))
            return (429, [("content-type", "application/json"), ("retry-after", retry)],
                    json.dumps({"error": "Too Many Requests", "message": "Rate limit exceeded (standard policy)",
                                "statusCode": 429}).encode())
        if kind == "slow":
            await asyncio.sleep(float(params.get("delay", 1.0)))
            return None
        if kind == "hang":
            await self._release.wait()
            raise DropConnection("hung request released")
        if kind == "drop":
            raise DropConnection("connection dropped on purpose")
        if kind == "unauthorized":
            return _error(401, "Invalid access token")
        if kind == "forbidden":
            return _error(403, "Instance quota reached for your plan")
        if kind == "not_found":
            return _error(404, "Instance not found")
        if kind == "unknown_status":
            body = inst.session(self.clock())
            body["status"] = params.get("status", "PASSKEY_REQUIRED")
            return _json(200, body)
        return None

    def _control(self, path: str, method: str, body: dict):
        if path == "/_sim/calls":
            return _json(200, self.calls)
        if path == "/_sim/state":
            now = self.clock()
            return _json(200, [{"id": i.id, "label": i.label, "status": i.status_at(now),
                                "faults": [f.kind for f in i.faults]} for i in self.instances.values()])
        if path == "/_sim/fault" and method == "POST":
            params = {k: v for k, v in body.items() if k not in ("instance_id", "kind", "count")}
            try:
                self.inject(str(body.get("instance_id")), str(body.get("kind")), body.get("count"), **params)
            except (KeyError, ValueError) as exc:
                return _error(400, str(exc))
            return _json(200, {"ok": True})
        if path == "/_sim/scan" and method == "POST":
            try:
                linked = self.scan(str(body.get("instance_id")), str(body.get("value")))
            except KeyError as exc:
                return _error(400, f"no instance {exc}")
            return _json(200, {"linked": linked})
        if path == "/_sim/set" and method == "POST":
            # What instances say about themselves (status word, name, QR): hostile tests,
            # and the bench, which changes many at once ("instance_ids").
            wanted = body.get("instance_ids") or [body.get("instance_id")]
            targets = [self.instances.get(str(i)) for i in wanted]
            if not wanted or None in targets:
                return _error(400, "no such instance")
            for inst in targets:
                for key in ("raw_status", "push_name", "qr_value", "pairing_code"):
                    if key in body:
                        setattr(inst, key, body[key])
            return _json(200, {"ok": True})
        if path == "/_sim/clear" and method == "POST":
            try:
                self.clear_faults(body.get("instance_id"))
            except KeyError as exc:
                return _error(400, str(exc))
            return _json(200, {"ok": True})
        return _error(404, f"no route {path}")


#: The reason phrase NestJS puts in "error".
_REASONS = {400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
            429: "Too Many Requests", 500: "Internal Server Error"}


def _error(status: int, message: str) -> tuple[int, list, bytes]:
    """An error reply in NestJS's shape: {statusCode, message, error}."""
    return _json(status, {"error": _REASONS.get(status, "Error"), "message": message, "statusCode": status})


def _json(status: int, payload: Any) -> tuple[int, list, bytes]:
    return status, [("content-type", "application/json")], json.dumps(payload).encode()


def _html(status: int, title: str) -> tuple[int, list, bytes]:
    page = (f"<!DOCTYPE html><html><head><title>{title}</title><style>body{{font-family:sans-serif}}"
            f"</style></head><body><center><h1>{title}</h1></center><hr><center>nginx</center>"
            "</body></html>")
    return status, [("content-type", "text/html; charset=utf-8")], page.encode()
