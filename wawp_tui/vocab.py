"""The words every part shares: actions, error kinds, severities, who acted, exit codes.

StrEnum members compare equal to their strings, so a value read from a file or a test
("restart", "network") and a member mean the same thing. No I/O, no Textual.
"""

from __future__ import annotations

from enum import IntEnum, StrEnum


class Action(StrEnum):
    """What can be done to an instance. Every one goes through the action runner."""

    START = "start"
    STOP = "stop"
    RESTART = "restart"
    LOGOUT = "logout"
    #: The full lifecycle reset: stop, wait 5 s, start.
    RESET = "reset"
    #: Fetch the pairing QR (read-only, but audited: it exposes a login credential).
    QR = "qr"
    #: Ask for a pairing code for phone-number login.
    PAIRING_CODE = "request-code"


#: The actions that change an instance's state (confirmed, guarded, refused in read-only).
STATE_ACTIONS = (Action.START, Action.STOP, Action.RESTART, Action.LOGOUT, Action.RESET)
#: Past tense for reports ("7 / 10 restarted").
DONE = {Action.START: "started", Action.STOP: "stopped", Action.RESTART: "restarted",
        Action.LOGOUT: "logged out", Action.RESET: "reset"}
#: Titles for confirmations and refusals.
TITLES = {Action.START: "Start", Action.STOP: "Stop", Action.RESTART: "Restart",
          Action.LOGOUT: "Log out", Action.RESET: "Full reset"}


class ErrorKind(StrEnum):
    """Why a poll or an action failed (the machine word behind the one-line message)."""

    BAD_REQUEST = "bad_request"
    UNAUTHORIZED = "unauthorized"
    FORBIDDEN = "forbidden"
    NOT_FOUND = "not_found"
    #: 404 "Session not found / start it first": the session is not loaded; a start may
    #: bring it back (only a 404 that persists after a start means deleted or wrong id).
    NOT_LOADED = "not_loaded"
    #: 404 from a web server or proxy that has no such path ("Cannot POST /v2/...", an
    #: nginx page): the base URL is wrong, not the instance.
    NO_ROUTE = "no_route"
    #: 422 on a start: the engine says the session is already started.
    ALREADY_STARTED = "already_started"
    #: An error inside a 2xx reply ({"status": "error"}, {"success": false}, ...).
    API_ERROR = "api_error"
    RATE_LIMITED = "rate_limited"
    SERVER_ERROR = "server_error"
    BAD_GATEWAY = "bad_gateway"
    TIMEOUT = "timeout"
    NETWORK = "network"
    #: A screen attached to a hub cannot reach the hub (the API itself may be fine).
    HUB = "hub"
    MALFORMED = "malformed"
    TOO_LARGE = "too_large"
    #: A bug or a reply nobody foresaw: one instance loses one poll, never the fleet.
    INTERNAL = "internal"
    #: The instance's own configuration is unusable (e.g. its token variable is unset).
    CONFIG = "config"


#: Kinds that mean "we cannot reach the API", not "the instance is broken".
NETWORK_KINDS = frozenset({ErrorKind.NETWORK, ErrorKind.TIMEOUT, ErrorKind.HUB})
#: Kinds a restart can plausibly fix (a 401, a 404 or an oversized reply are not the engine's fault).
SERVER_SIDE_KINDS = frozenset({ErrorKind.SERVER_ERROR, ErrorKind.BAD_GATEWAY, ErrorKind.TIMEOUT,
                               ErrorKind.MALFORMED})


class Severity(StrEnum):
    """How a status reads: the styling class of a badge (always with a symbol and a word)."""

    OK = "ok"
    WARN = "warn"
    BAD = "bad"
    IDLE = "idle"
    UNKNOWN = "unknown"


class Trigger(StrEnum):
    """Who asked for an action (audit, history, metrics)."""

    MANUAL = "manual"
    AUTO = "auto"
    ROLLOUT = "rollout"
    #: Keeping instances as their [[schedules]] mean (`schedule apply`, the hub).
    SCHEDULE = "schedule"
    #: The hub's idle hibernation ([monitor] idle_stop_after).
    HIBERNATE = "hibernate"


class AuditOutcome(StrEnum):
    """What became of an action, as the audit log records it."""

    SENT = "sent"
    OK = "ok"
    FAILED = "failed"
    #: The request may have reached the server but no reply said (a timeout).
    UNKNOWN = "unknown"
    REFUSED = "refused"


class ExitCode(IntEnum):
    """Every exit code of the command line, in one table."""

    OK = 0
    #: `status`: some instance is not WORKING; `rollout`: halted or something failed.
    NOT_ALL_WELL = 1
    #: A usage or configuration error (one line on stderr).
    USAGE = 2
    #: A bug: the traceback went to the crash report, one line to stderr.
    INTERNAL = 70
    #: Standard output could not be written (a full disk, a closed descriptor): EX_IOERR.
    #: A reader that left (`| head`) is not one: the command keeps its own code.
    IO_ERROR = 74
    INTERRUPTED = 130


class NagiosState(IntEnum):
    """`wawp-tui check`'s exit codes: the Nagios / Icinga plugin states (its only codes:
    a usage or configuration error is UNKNOWN there, not USAGE)."""

    OK = 0
    WARNING = 1
    CRITICAL = 2
    UNKNOWN = 3


def plural(count: int, noun: str) -> str:
    """ "1 wave", "3 waves", "0 instances"."""
    return f"{count} {noun}" + ("" if count == 1 else "s")
