"""How WAHA, the engine behind Wawp, refuses a request (from its sources and issues).

- A session that is not loaded answers 404 "Session not found" (info) or "We didn't find
  a session ... Please start it first" (endpoints that need a running session).
- A start on a session that is already started answers 422, even when it is FAILED (#2231).
- The QR endpoint outside SCAN_QR_CODE answers 422 {error, session, status, expected}.
"""

from __future__ import annotations

from wawp_tui.models import SCAN_QR_CODE, STOPPED
from wawp_tui.simulator.replies import Reply, error_reply, json_reply
from wawp_tui.simulator.state import SimInstance


def waha_refusal(inst: SimInstance, endpoint: str, now: float) -> Reply | None:
    """WAHA's answer when it refuses `endpoint` for this instance now; None to serve it."""
    name = f"wawp-{inst.id.lower()}"
    if not inst.loaded:
        if endpoint == "start":
            return None
        if endpoint == "info":
            return error_reply(404, "Session not found")
        return error_reply(404, f"We didn't find a session with name '{name}'.\nPlease start it "
                                f"first by using POST /api/sessions/{name}/start request")
    status = inst.status_at(now)
    if endpoint == "start" and status != STOPPED:
        return json_reply(422, {"statusCode": 422, "message": f"Session '{name}' is already started.",
                                "error": "Unprocessable Entity"})
    if endpoint == "qr" and status != SCAN_QR_CODE:
        return json_reply(422, {"error": "Session status is not as expected. Try again later or "
                                         "restart the session",
                                "session": name, "status": status, "expected": [SCAN_QR_CODE]})
    return None
