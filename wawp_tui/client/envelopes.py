"""What an error body means, beyond its status code (lessons from WAHA and Wawp clients).

- A 404 is not always "deleted or wrong id": WAHA answers "Session not found" and "We
  didn't find a session ... Please start it first" for a session that is merely not
  loaded, and Wawp clients read `invalid_session` as "the phone dropped". Only a body
  worded so is "not loaded" (a start may bring it back). A body that names a missing
  instance is "gone"; a web server's or proxy's own page ("Cannot POST /v2/...", an nginx
  "404 Not Found", "The requested URL was not found") means the path does not exist
  there: the base URL is wrong. Any other 404 is read as the API documents it: the id is
  wrong or the instance was deleted.
- A 2xx reply can carry an error: {"status": "error", "message": ...} (older Wawp API),
  {"code": "invalid_session", "message": ...}, {"success": false, ...}.
- A 422 on a start can mean "already started" (WAHA does so even for a FAILED session).
"""

from __future__ import annotations

import re
from typing import Any

from wawp_tui.client.bodies import shorten
from wawp_tui.client.errors import AlreadyStarted, ApiError, NoRoute, NotFound, NotLoaded, WawpError

#: Words in a 404 (or an error envelope) that name a missing instance: deleted or wrong id.
_GONE = re.compile(r"\binstance(?:[ _]?id)?\b.*\b(not found|does not exist|deleted|incorrect|"
                   r"invalid(?:ated)?)|\b(unknown|no such|invalid|wrong) instance(?:[ _]?id)?\b",
                   re.IGNORECASE)
#: Words of a session that exists but is not loaded (WAHA): a start may bring it back.
_NOT_LOADED = re.compile(r"\bsession\b.*\bnot (found|loaded|started|running)\b|\bstart it first\b|"
                         r"\bdidn'?t find a session\b|\binvalid[ _]session\b|\bsession_not_found\b",
                         re.IGNORECASE)
#: A web server's or proxy's own 404 (Express, nginx, Apache): no such path there.
_NO_ROUTE = re.compile(r"^cannot (get|post|put|patch|delete|head|options) /|"
                       r"\brequested url\b.*\bnot found\b|^404 not found\b|^html error page$|"
                       r"\b(no|unknown) (route|endpoint)\b|\broute\b.*\bnot found\b", re.IGNORECASE)
_ALREADY_STARTED = re.compile(r"already (started|running)", re.IGNORECASE)
_ERROR_CODE = re.compile(r"^[a-z][a-z0-9]*(_[a-z0-9]+)+$")

GONE = "instance not found (404): deleted or wrong id"
NOT_LOADED = "session not loaded (404): a start brings it back"
#: A 2xx envelope that says the same ({"code": "invalid_session"}): no 404 was sent.
NOT_LOADED_IN_REPLY = "session not loaded: a start brings it back"
NO_ROUTE = "no such path on the server (404{detail}): check base_url (host, port, path or proxy)"


def for_404(detail: str) -> WawpError:
    """What a 404 means by its body (see the module docstring): NotFound, NotLoaded or
    NoRoute; a body that says nothing of its own is the API's documented "wrong id or
    deleted"."""
    plain = detail.lower().strip(" .")
    if detail and _GONE.search(detail):
        return NotFound(shorten(GONE if plain in ("instance not found", "not found")
                                else f"{GONE}: {detail}"), 404)
    if detail and _NOT_LOADED.search(detail):
        suffix = "" if plain == "session not found" else f": {detail}"
        return NotLoaded(shorten(f"{NOT_LOADED}{suffix}"), 404)
    if detail and _NO_ROUTE.search(detail):
        return NoRoute(shorten(NO_ROUTE.format(detail=f": {detail}")), 404)
    suffix = f": {detail}" if detail and plain not in ("not found", "404") else ""
    return NotFound(shorten(f"{GONE}{suffix}"), 404)


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
            return NotLoaded(shorten(f"{NOT_LOADED_IN_REPLY}: invalid session: {message or code}"))
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
