"""Typed API errors, each with a one-line message a person can act on.

`kind` is the machine word the fleet state and the runbook key their advice on.
"""

from __future__ import annotations

from wawp_tui.vocab import ErrorKind


class WawpError(Exception):
    """Base of every error the client raises; `str(e)` is one short human line."""

    kind: ErrorKind = ErrorKind.INTERNAL
    #: True when the fault is on the server's side (counts toward auto-heal's 3 failures).
    server_side = False
    #: True when the request may have reached the server (so an action's outcome is unknown).
    maybe_sent = False

    def __init__(self, message: str, status_code: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r})"


class BadRequest(WawpError):
    """400: a parameter is missing or wrong (or the call makes no sense in this status)."""

    kind: ErrorKind = ErrorKind.BAD_REQUEST


class Unauthorized(WawpError):
    """401: the access token is invalid or missing."""

    kind: ErrorKind = ErrorKind.UNAUTHORIZED


class Forbidden(WawpError):
    """403: quota or plan limit reached."""

    kind: ErrorKind = ErrorKind.FORBIDDEN


class NotFound(WawpError):
    """404: the instance does not exist (deleted, or the id is wrong)."""

    kind: ErrorKind = ErrorKind.NOT_FOUND


class NotLoaded(WawpError):
    """404 "Session not found" / "start it first": the session is not loaded on the server.

    A start may bring it back; the fleet state turns it into NotFound if a start does not.
    """

    kind: ErrorKind = ErrorKind.NOT_LOADED


class NoRoute(WawpError):
    """404 from a web server or proxy that has no such path: the base URL is wrong.

    Says nothing about the instance; neither a start nor a restart can help.
    """

    kind: ErrorKind = ErrorKind.NO_ROUTE


class AlreadyStarted(BadRequest):
    """422 on a start: the engine says the session is already started (even when FAILED)."""

    kind: ErrorKind = ErrorKind.ALREADY_STARTED


class ApiError(WawpError):
    """The server answered 2xx with an error inside ({"status": "error"}, {"success": false})."""

    kind: ErrorKind = ErrorKind.API_ERROR


class RateLimited(WawpError):
    """429: too many requests; `retry_after` seconds come from the Retry-After header."""

    kind: ErrorKind = ErrorKind.RATE_LIMITED

    def __init__(self, message: str, retry_after: float | None, status_code: int = 429) -> None:
        super().__init__(message, status_code)
        self.retry_after = retry_after


class ServerError(WawpError):
    """5xx other than 502: the server failed."""

    kind: ErrorKind = ErrorKind.SERVER_ERROR
    server_side = True


class BadGateway(WawpError):
    """502: the upstream connection failed."""

    kind: ErrorKind = ErrorKind.BAD_GATEWAY
    server_side = True


class Timeout(WawpError):
    """No complete answer within the configured timeout."""

    kind: ErrorKind = ErrorKind.TIMEOUT
    server_side = True
    maybe_sent = True


class NetworkError(WawpError):
    """The server could not be reached (refused, DNS, reset, TLS)."""

    kind: ErrorKind = ErrorKind.NETWORK

    def __init__(self, message: str, maybe_sent: bool = False) -> None:
        super().__init__(message)
        self.maybe_sent = maybe_sent


class MalformedResponse(WawpError):
    """The server answered, but not with something we can read."""

    kind: ErrorKind = ErrorKind.MALFORMED
    server_side = True


class ReplyTooLarge(WawpError):
    """The reply was bigger than we accept (a runaway body or a compression bomb).

    Not counted as server-side: restarting the instance cannot shrink a proxy's reply.
    """

    kind: ErrorKind = ErrorKind.TOO_LARGE
