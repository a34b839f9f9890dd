"""The simulator pushes too: a signed `session.status` event on every transition, with
WAHA's envelope and headers (`X-Webhook-Hmac`: the hex HMAC-SHA512 of the raw body,
`X-Webhook-Hmac-Algorithm: sha512`), so the hub's doorbell runs end to end here.

The simulator's state is lazy (a status is worked out when asked), so a small ticker asks
every instance every TICK seconds and sends an event for each one whose status moved:
commands, injected faults, boots that finish and QR codes that run out alike.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import secrets
from collections.abc import Callable
from typing import Any

import httpx

from wawp_tui.simulator.state import SimInstance

_log = logging.getLogger(__name__)

#: Seconds between two looks at every instance.
TICK = 0.2
#: Events waiting to be sent at most (a hub that is down must not fill the memory).
BACKLOG = 10_000


def envelope(inst: SimInstance, status: str, now: float) -> dict[str, Any]:
    """WAHA's webhook body for a status change (with Wawp's `instance_id`)."""
    statuses = [{"status": status, "timestamp": int(now * 1000)}]
    if inst.booted:
        statuses.insert(0, {"status": "STARTING", "timestamp": int(inst.started_at * 1000)})
    return {"id": f"evt_{secrets.token_hex(12)}", "timestamp": int(now * 1000),
            "event": "session.status", "session": inst.id, "instance_id": inst.id,
            "me": inst.me(now), "payload": {"status": status, "statuses": statuses},
            "engine": "NOWEB", "environment": {"tier": "SIMULATOR"}}


def signed(body: bytes, secret: bytes | None) -> dict[str, str]:
    headers = {"content-type": "application/json"}
    if secret:
        headers["x-webhook-hmac"] = hmac.new(secret, body, hashlib.sha512).hexdigest()
        headers["x-webhook-hmac-algorithm"] = "sha512"
    return headers


class WebhookSender:
    """Watches the simulated instances and posts an event per transition to `url`."""

    def __init__(self, instances: dict[str, SimInstance], clock: Callable[[], float], url: str,
                 secret: bytes | None = None, *, tick: float = TICK) -> None:
        self.instances, self.clock, self.url, self.secret, self.tick = instances, clock, url, secret, tick
        self._last: dict[str, str] = {}
        self._queue: asyncio.Queue[bytes] = asyncio.Queue(BACKLOG)
        self._tasks: list[asyncio.Task[None]] = []
        #: Events sent, and those the receiver refused or did not take (tests, tools).
        self.sent = 0
        self.failed = 0

    def look(self) -> None:
        """Queue an event for every instance whose status moved since the last look."""
        now = self.clock()
        for inst in self.instances.values():
            status = inst.status_at(now)
            if self._last.get(inst.id, status) != status:
                body = json.dumps(envelope(inst, status, now)).encode()
                try:
                    self._queue.put_nowait(body)
                except asyncio.QueueFull:
                    self.failed += 1
            self._last[inst.id] = status

    async def _watch(self) -> None:
        while True:
            self.look()
            await asyncio.sleep(self.tick)

    async def _deliver(self) -> None:
        async with httpx.AsyncClient(timeout=5.0, trust_env=False) as client:
            while True:
                body = await self._queue.get()
                try:
                    reply = await client.post(self.url, content=body, headers=signed(body, self.secret))
                    ok = reply.status_code < 300
                except httpx.HTTPError as exc:
                    _log.info("webhook to %s not delivered: %s", self.url, type(exc).__name__)
                    ok = False
                if ok:
                    self.sent += 1
                else:
                    self.failed += 1

    def start(self) -> None:
        self.look()  # what everyone is now: only changes from here are sent
        self._tasks = [asyncio.ensure_future(self._watch()), asyncio.ensure_future(self._deliver())]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
