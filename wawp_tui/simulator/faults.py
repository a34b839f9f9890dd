"""The classic faults a simulated instance can be told to show (see FAULT_KINDS)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable

from wawp_tui.simulator.replies import Reply, error_reply, html_reply, json_reply
from wawp_tui.simulator.state import Fault, SimInstance

FAULT_KINDS = (
    "html_502", "html_500", "xml_400", "text_500", "malformed_json", "empty_200",
    "rate_limit", "slow", "hang", "drop", "unauthorized", "forbidden", "not_found",
    "unknown_status",
)
#: How the real service and its engine answer besides the documented shapes (issue 13).
REALITY_KINDS = (
    "error_envelope",  # 200 with an error inside; `shape`: status_error, invalid_session, success_false
    "nest_list",       # 400 NestJS body whose message is a list
    "gone",            # 404 whose body names a missing instance (deleted or wrong id)
    "not_loaded",      # 404 "Session not found" (WAHA: not loaded; start it first)
)
#: The bodies of `error_envelope`, by shape.
ENVELOPES = {
    "status_error": {"status": "error", "message": "Instance ID Invalidated"},
    "invalid_session": {"code": "invalid_session", "message": "Session expired: the phone dropped"},
    "success_false": {"success": False, "error": "Session is not ready"},
}


class DropConnection(Exception):
    """Raised inside the app to make the server close the connection without a reply."""


#: Faults whose reply never depends on the instance, the clock or parameters.
FIXED_REPLIES: dict[str, Callable[[], Reply]] = {
    "html_502": lambda: html_reply(502, "502 Bad Gateway"),
    "html_500": lambda: html_reply(500, "500 Internal Server Error"),
    "xml_400": lambda: (400, [("content-type", "application/xml")],
                        b'<?xml version="1.0" encoding="UTF-8"?><error><code>400</code>'
                        b"<message>Missing parameter instance_id</message></error>"),
    "text_500": lambda: (500, [("content-type", "text/plain")], b"Internal Server Error: engine crashed\n"),
    "malformed_json": lambda: (200, [("content-type", "application/json")], b'{"name": "wawp-x", "status": "WOR'),
    "empty_200": lambda: (200, [("content-type", "application/json")], b""),
    "unauthorized": lambda: error_reply(401, "Invalid access token"),
    "forbidden": lambda: error_reply(403, "Instance quota reached for your plan"),
    "not_found": lambda: error_reply(404, "Instance not found"),
    "gone": lambda: error_reply(404, "Instance not found: the instance_id is incorrect or was deleted"),
    "not_loaded": lambda: error_reply(404, "Session not found"),
    "nest_list": lambda: json_reply(400, {"statusCode": 400, "error": "Bad Request", "message": [
        "phone_number must be a string", "instance_id should not be empty"]}),
}


async def classic_fault(fault: Fault, inst: SimInstance, now: float,
                        released: asyncio.Event) -> Reply | None:
    """The reply a classic fault makes (None: answer normally, after its delay)."""
    kind, params = fault.kind, fault.params
    fixed = FIXED_REPLIES.get(kind)
    if fixed is not None:
        return fixed()
    if kind == "rate_limit":
        retry = str(params.get("retry_after", 7))
        return (429, [("content-type", "application/json"), ("retry-after", retry)],
                json.dumps({"error": "Too Many Requests", "message": "Rate limit exceeded (standard policy)",
                            "statusCode": 429}).encode())
    if kind == "slow":
        await asyncio.sleep(float(params.get("delay", 1.0)))
        return None
    if kind == "hang":
        await released.wait()
        raise DropConnection("hung request released")
    if kind == "drop":
        raise DropConnection("connection dropped on purpose")
    if kind == "error_envelope":
        return json_reply(200, ENVELOPES[str(params.get("shape", "status_error"))])
    if kind == "unknown_status":
        body = inst.session(now)
        body["status"] = params.get("status", "MAINTENANCE")
        return json_reply(200, body)
    return None
