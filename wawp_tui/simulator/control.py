"""The simulator's control endpoints (/_sim/*): inject faults, scan a QR, read the state."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from wawp_tui.simulator.replies import Reply, error_reply, json_reply
from wawp_tui.simulator.state import SimInstance


class Steerable(Protocol):
    """What the control endpoints steer: the Simulator (a protocol, so that the server
    imports its controls and not the other way round)."""

    instances: dict[str, SimInstance]
    clock: Callable[[], float]
    calls: list[dict[str, Any]]

    def inject(self, instance_id: str, kind: str, count: int | None = None, **params: Any) -> None: ...

    def clear_faults(self, instance_id: str | None = None) -> None: ...

    def scan(self, instance_id: str, value: str) -> bool: ...


def control(sim: Steerable, path: str, method: str, body: dict[str, Any]) -> Reply:
    """The /_sim/* endpoints: what black-box tests and tools use to steer the server."""
    if path == "/_sim/calls":
        return json_reply(200, sim.calls)
    if path == "/_sim/stats":
        # How many API requests were served so far (the bench's polls per second).
        return json_reply(200, {"api_calls": len(sim.calls)})
    if path == "/_sim/state":
        now = sim.clock()
        return json_reply(200, [{"id": i.id, "label": i.label, "status": i.status_at(now),
                            "faults": [f.kind for f in i.faults]} for i in sim.instances.values()])
    if path == "/_sim/fault" and method == "POST":
        params = {k: v for k, v in body.items() if k not in ("instance_id", "kind", "count")}
        try:
            sim.inject(str(body.get("instance_id")), str(body.get("kind")), body.get("count"), **params)
        except (KeyError, ValueError) as exc:
            return error_reply(400, str(exc))
        return json_reply(200, {"ok": True})
    if path == "/_sim/scan" and method == "POST":
        try:
            linked = sim.scan(str(body.get("instance_id")), str(body.get("value")))
        except KeyError as exc:
            return error_reply(400, f"no instance {exc}")
        return json_reply(200, {"linked": linked})
    if path == "/_sim/set" and method == "POST":
        # What instances say about themselves (status word, name, QR): hostile tests,
        # and the bench, which changes many at once ("instance_ids").
        wanted = body.get("instance_ids") or [body.get("instance_id")]
        targets = [sim.instances.get(str(i)) for i in wanted]
        if not wanted or None in targets:
            return error_reply(400, "no such instance")
        for inst in targets:
            for key in ("raw_status", "push_name", "qr_value", "pairing_code"):
                if key in body:
                    setattr(inst, key, body[key])
        return json_reply(200, {"ok": True})
    if path == "/_sim/clear" and method == "POST":
        try:
            sim.clear_faults(body.get("instance_id"))
        except KeyError as exc:
            return error_reply(400, str(exc))
        return json_reply(200, {"ok": True})
    return error_reply(404, f"no route {path}")
