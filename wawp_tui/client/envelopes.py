"""What an error body means, beyond its status code (lessons from WAHA and Wawp clients).

- A 404 is not always "deleted or wrong id": WAHA answers "Session not found" and "We
  didn't find a session ... Please start it first" for a session that is merely not
  loaded, and Wawp clients read `invalid_session` as "the phone dropped". Only a body that
  names a missing instance is "gone" at once.
- A 2xx reply can carry an error: {"status": "error", "message": ...} (older Wawp API),
  {"code": "invalid_session", "message": ...}, {"success": false, ...}.
- A 422 on a start can mean "already started" (WAHA does so even for a FAILED session).
"""

from __future__ import annotations

import re
from typing import Any

from wawp_tui.client.bodies import shorten
from wawp_tui.client.errors import AlreadyStarted, ApiError, NotFound, NotLoaded, WawpError

#: Words in a 404 (or an error envelope) that name a missing instance: deleted or wrong id.
_GONE = re.compile(r"\binstance(?:[ _]?id)?\b.*\b(not found|does not exist|deleted|incorrect|"
                   r"invalid(?:ated)?)|\bunknown instance\b", re.IGNORECASE)
_ALREADY_STARTED = re.compile(r"already (started|running)", re.IGNORECASE)
_ERROR_CODE = re.compile(r"^[a-z][a-z0-9]*(_[a-z0-9]+)+$")

GONE = "instance not found (404): deleted or wrong id"
NOT_LOADED = "session not loaded (404): a start brings it back"


def for_404(detail: str) -> WawpError:
    """NotFound when the body names a missing instance; NotLoaded otherwise."""
    if detail and _GONE.search(detail):
        plain = detail.lower().strip(" .") in ("instance not found", "not found")
        return NotFound(shorten(GONE if plain else f"{GONE}: {detail}"), 404)
    suffix = f": {detail}" if detail and detail.lower() not in ("not found", "session not found") else ""
    return NotLoaded(shorten(f"{NOT_LOADED}{suffix}"), 404)


def for_422(detail: str) -> WawpError | None:
    """AlreadyStarted for a redundant start; None for any other 422."""
    if _ALREADY_STARTED.search(detail):
        return AlreadyStarted(shorten(f"already started (422): {detail}; if it stays FAILED, "
                                      "restart it (r)"), 422)
    return None


def in_reply(payload: Any) -> WawpError | None:
    """The error hidden in a 2xx reply, or None when the reply is what it says."""
    if not isinstance(payload, dict):
        return None
    message = _text(payload.get("message")) or _text(payload.get("error")) or ""
    code = payload.get("code")
    # An error code is a snake_case word beside a message ({"code": "invalid_session",
    # "message": ...}); a pairing code ("ABCD-EFGH") is a reply, not an error.
    if isinstance(code, str) and _ERROR_CODE.match(code) and "message" in payload:
        if code in ("invalid_session", "session_not_found"):
            return NotLoaded(shorten(f"{NOT_LOADED}: invalid session: {message or code}"))
        if "status" not in payload:
            return ApiError(shorten(f"the API reported an error: {message or code} ({code})"))
    status = payload.get("status")
    failed = (isinstance(status, str) and status.strip().lower() == "error") \
        or payload.get("success") is False or (payload.get("error") and "status" not in payload)
    if not failed:
        return None
    if message and _GONE.search(message):
        return NotFound(shorten(f"{GONE}: {message}"))
    return ApiError(shorten(f"the API reported an error: {message or 'no message'}"))


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, list):
        return "; ".join(v.strip() for v in value[:5] if isinstance(v, str))
    return ""
