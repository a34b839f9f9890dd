"""The classic faults a simulated instance can be told to show (see FAULT_KINDS)."""

from __future__ import annotations

import asyncio
import json

from wawp_tui.simulator.replies import Reply, error_reply, html_reply, json_reply
from wawp_tui.simulator.state import Fault, SimInstance

FAULT_KINDS = (
    "html_502", "html_500", "xml_400", "text_500", "malformed_json", "empty_200",
    "rate_limit", "slow", "hang", "drop", "unauthorized", "forbidden", "not_found",
    "unknown_status",
)


class DropConnection(Exception):
    """Raised inside the app to make the server close the connection without a reply."""


async def classic_fault(fault: Fault, inst: SimInstance, now: float,
                        released: asyncio.Event) -> Reply | None:
    """The reply a classic fault makes (None: answer normally, after its delay)."""
    kind, params = fault.kind, fault.params
    if kind == "html_502":
        return html_reply(502, "502 Bad Gateway")
    if kind == "html_500":
        return html_reply(500, "500 Internal Server Error")
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
        await released.wait()
        raise DropConnection("hung request released")
    if kind == "drop":
        raise DropConnection("connection dropped on purpose")
    if kind == "unauthorized":
        return error_reply(401, "Invalid access token")
    if kind == "forbidden":
        return error_reply(403, "Instance quota reached for your plan")
    if kind == "not_found":
        return error_reply(404, "Instance not found")
    if kind == "unknown_status":
        body = inst.session(now)
        body["status"] = params.get("status", "PASSKEY_REQUIRED")
        return json_reply(200, body)
    return None
