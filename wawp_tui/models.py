"""Shared vocabulary: status words, secrets, instance settings and API replies.

No I/O and no Textual here: every other module may import this one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from wawp_tui.safe_text import register_secret
from wawp_tui.schedules import Schedule

WORKING = "WORKING"
STARTING = "STARTING"
SCAN_QR_CODE = "SCAN_QR_CODE"
STOPPED = "STOPPED"
FAILED = "FAILED"
#: WAHA 2026.7 (GOWS engine): the phone must approve a passkey (WebAuthn) to finish pairing.
PASSKEY_REQUIRED = "PASSKEY_REQUIRED"
#: ... and the user must check a code on the phone before the pairing completes.
PASSKEY_CONFIRMATION_REQUIRED = "PASSKEY_CONFIRMATION_REQUIRED"

#: Statuses the API and its engine document; anything else is kept as an unknown raw word.
KNOWN_STATUSES: tuple[str, ...] = (WORKING, STARTING, SCAN_QR_CODE, STOPPED, FAILED,
                                   PASSKEY_REQUIRED, PASSKEY_CONFIRMATION_REQUIRED)

#: Shown instead of a status when the last poll failed (network, 5xx, 401, 404 ...).
UNREACHABLE = "UNREACHABLE"
#: Shown when the last good data is older than two missed polls.
STALE = "STALE"
#: Every word we show in place of a status (runbook's PENDING, STUCK, CONFIG; status's
#: NOT_POLLED). A server that answers with one of them must not pass for our own verdict
#: ("PENDING" would read "waiting for the first poll" and sort below WORKING): the client
#: marks it as the API's word (see API_WORD).
OWN_WORDS = frozenset({UNREACHABLE, STALE, "PENDING", "STUCK", "CONFIG", "NOT_POLLED", "NEEDS_PERSON"})
#: The mark on a server's status word that collides with one of OWN_WORDS.
API_WORD = "API:"


def api_word(word: str) -> str:
    """The server's status word as we keep it: marked when it collides with our own words
    (it is then an unknown word, shown and sorted among the problems)."""
    return f"{API_WORD}{word}" if word in OWN_WORDS else word


def is_known_status(word: str | None) -> bool:
    """True for a status the API or its engine documents."""
    return word in KNOWN_STATUSES


class Secret:
    """A string that never shows itself in repr, str or f-strings.

    The access token travels through config, client and poller wrapped in this, so a
    stray log line or exception message cannot leak it; and every value wrapped here is
    registered with the text boundary, so a server that echoes it back gets it redacted.
    """

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value
        register_secret(value)

    def reveal(self) -> str:
        """The real value: call it only where the token goes on the wire."""
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__

    def __format__(self, spec: str) -> str:
        return "***"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __bool__(self) -> bool:
        return bool(self._value)


@dataclass(frozen=True)
class InstanceConfig:
    """One instance of the fleet as configured: who it is and how to authenticate."""

    id: str
    label: str
    token: Secret
    tags: tuple[str, ...] = ()
    #: Where the token came from, for messages ("env WAWP_TOKEN_SUPPORT", "config file").
    token_source: str = ""
    #: Why this one instance cannot be polled (its token variable is unset...), or None.
    #: The rest of the fleet is monitored all the same.
    problem: str | None = None
    #: When it is meant to be running ([[schedules]]), or None: meant to run always.
    schedule: Schedule | None = None


@dataclass(frozen=True)
class SessionInfo:
    """The useful part of an info/start/stop/restart/logout reply."""

    status: str
    name: str | None = None
    me: dict[str, Any] | None = None
    #: The engine behind the session ("NOWEB", "WEBJS", "GOWS"), when the reply says.
    engine: str | None = None
    #: "online" / "offline", when the reply says.
    presence: str | None = None
    #: Unix time (seconds) of the session's last activity, when the reply says.
    activity_at: float | None = None
    #: The value of the QR the reply carries in SCAN_QR_CODE (tells the QR screen to refetch).
    qr_hint: str | None = None
    #: Unix time of the session's latest STARTING, when the reply lists its status times
    #: (WAHA's `statuses[]`): a restart over before any poll saw STARTING still counts.
    boot_at: float | None = None

    @property
    def known(self) -> bool:
        """False when the server sent a status word this client does not know."""
        return is_known_status(self.status)


@dataclass(frozen=True)
class QrCode:
    """A decoded `/v2/auth/qr?format=raw` payload."""

    value: str
    #: Unix time in seconds when the code stops being valid (None if the server did not say).
    expires_at: float | None
    #: Which form the server sent: "wawp" (base64 JSON), "raw" ({"value"}), "image" (PNG).
    form: str = "wawp"
