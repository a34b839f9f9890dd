"""POST /webhooks/wawp: Wawp's and WAHA's `session.status` events, as a doorbell (WAHA's
envelope `{id, timestamp, event, session, payload}`, Wawp's with `instance_id`, and the
older Wawp page's `{instance_id, status, qr, ts}`).

An event never changes what is shown: it makes the hub poll that instance within a
second (at most one poll a second per instance), and only the poll's answer counts. So a
forged, replayed or wrong event can cost one poll, never a wrong status.

Message events (WAHA's `message`, `message.any`) are a sign of activity: the hub notes
when it heard one (`heard_at`, at its own clock, not the event's), which only postpones
idle hibernation; they change no status and cost no poll.

The order of checks, as GitHub's and Stripe's webhooks have it: the size (64 KB), then
the HMAC of the raw body before anything parses it (WAHA: `X-Webhook-Hmac`, hex, with
`X-Webhook-Hmac-Algorithm` sha512 or sha256), then the envelope; an event id seen before
is ignored, and so is an event whose timestamp is more than MAX_AGE from the hub's clock.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import Any

from wawp_tui.core import Monitor
from wawp_tui.vocab import ErrorKind

#: Largest body read (bigger: 413, unread).
MAX_BODY = 64 * 1024
#: The algorithms WAHA signs with (its default first).
ALGORITHMS = {"sha512": hashlib.sha512, "sha256": hashlib.sha256}
#: Event ids remembered for de-duplication.
SEEN_IDS = 4096
#: Seconds an event's timestamp may be off the hub's clock (replays of old events).
MAX_AGE = 300.0
#: At most one poll a second per instance, however many events ring.
SPACING = 1.0
#: The events that ring the doorbell.
STATUS_EVENTS = frozenset({"session.status"})
#: The events that say an instance is in use (a message received or sent).
MESSAGE_EVENTS = frozenset({"message", "message.any"})


#: A signature's algorithm when no header names it, by its length in hex: Wawp's docs name
#: no header (its SDK checks HMAC-SHA256), WAHA names it (sha512 by default).
BY_LENGTH = {64: "sha256", 128: "sha512"}


def signature_ok(secret: bytes, body: bytes, signature: str | None, algorithm: str | None) -> bool:
    """The body's HMAC under `secret` is `signature` (hex, or `sha256=<hex>`), in constant
    time; the algorithm is the header's, else the prefix's, else told by the length."""
    if not signature:
        return False
    given = signature.strip().lower()
    prefix, sep, rest = given.partition("=")
    if sep and prefix in ALGORITHMS:
        given, algorithm = rest, algorithm or prefix
    name = (algorithm or "").strip().lower() or BY_LENGTH.get(len(given), "sha512")
    digest = ALGORITHMS.get(name)
    if digest is None:
        return False
    expected = hmac.new(secret, body, digest).hexdigest()
    return hmac.compare_digest(expected.encode(), given.encode("ascii", "replace"))


def sign(secret: bytes, body: bytes, algorithm: str = "sha512") -> str:
    """The hex HMAC a sender puts in X-Webhook-Hmac (the simulator, the tests)."""
    return hmac.new(secret, body, ALGORITHMS[algorithm]).hexdigest()


class Doorbell:
    """Turns verified events into polls: de-duplicated, spaced, never trusted."""

    def __init__(self, monitor: Monitor, *, wall: Callable[[], float] = time.time,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.monitor = monitor
        self.wall, self.clock = wall, clock
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._last_poke: dict[str, float] = {}
        self._waiting: set[str] = set()
        #: How each event ended (for tests and the journal): counts by outcome.
        self.outcomes: dict[str, int] = {}

    def ring(self, body: bytes) -> tuple[str, str | None]:
        """Handle a verified body: (outcome, instance id) with outcome one of poll,
        later (spaced), activity (a message event), duplicate, stale, ignored, unknown,
        malformed."""
        outcome, instance_id = self._ring(body)
        self.outcomes[outcome] = self.outcomes.get(outcome, 0) + 1
        return outcome, instance_id

    def _ring(self, body: bytes) -> tuple[str, str | None]:
        try:
            event = json.loads(body)
        except (ValueError, RecursionError):  # (64 KB of "[" nests past the parser's limit)
            return "malformed", None
        if not isinstance(event, Mapping):
            return "malformed", None
        kind = event.get("event")
        if kind is None and isinstance(event.get("status"), str):
            kind = "session.status"  # Wawp's older page: {instance_id, status, qr, ts}
        if kind not in STATUS_EVENTS and kind not in MESSAGE_EVENTS:
            return "ignored", None
        instance_id = _instance_of(event)
        if instance_id is None or instance_id not in self.monitor.fleet.instances:
            return "unknown", None
        event_id = event.get("id")
        if isinstance(event_id, str) and event_id:
            key = event_id[:200]
            if key in self._seen:
                return "duplicate", instance_id
            self._seen[key] = None
            while len(self._seen) > SEEN_IDS:
                self._seen.popitem(last=False)
        at = _seconds(event.get("timestamp", event.get("ts")))
        if at is not None and abs(self.wall() - at) > MAX_AGE:
            return "stale", instance_id
        if kind in MESSAGE_EVENTS:
            self.monitor.fleet.heard(instance_id, self.monitor.clock())
            return "activity", instance_id
        if self._held(instance_id):
            return "later", instance_id
        return self._poke(instance_id), instance_id

    def _held(self, instance_id: str) -> bool:
        """Its server asked for a pause (429 with Retry-After): the poller's own poll after
        it comes first, whatever rings meanwhile."""
        return self.monitor.state(instance_id).error_kind == ErrorKind.RATE_LIMITED

    def _poke(self, instance_id: str) -> str:
        now = self.clock()
        last = self._last_poke.get(instance_id)
        if last is None or now - last >= SPACING:
            self._last_poke[instance_id] = now
            self._poll(instance_id)
            return "poll"
        if instance_id not in self._waiting:
            self._waiting.add(instance_id)
            asyncio.get_running_loop().call_later(last + SPACING - now, self._later, instance_id)
        return "later"

    def _later(self, instance_id: str) -> None:
        self._waiting.discard(instance_id)
        self._last_poke[instance_id] = self.clock()
        self._poll(instance_id)

    def _poll(self, instance_id: str, tries: int = 8) -> None:
        if self._held(instance_id):
            return
        # A poll under way began before the event: one more after it, not none.
        if self.monitor.poller.polling(instance_id) and tries:
            asyncio.get_running_loop().call_later(0.1, self._poll, instance_id, tries - 1)
            return
        # Any poll counts for the spacing (a steady one may have just answered): the one
        # the event asks for comes a second after it, still about a second from the event.
        polled = self.monitor.state(instance_id).last_poll_at
        since = None if polled is None else self.monitor.clock() - polled
        if since is not None and 0 <= since < SPACING and tries:
            asyncio.get_running_loop().call_later(SPACING - since, self._poll, instance_id, tries - 1)
            return
        self.monitor.poke(instance_id)


def _instance_of(event: Mapping[str, Any]) -> str | None:
    """Wawp names the instance (`instance_id`), WAHA the session (`session`)."""
    for key in ("instance_id", "session"):
        value = event.get(key)
        if isinstance(value, str) and 0 < len(value) <= 64:
            return value
    return None


def _seconds(value: object) -> float | None:
    """An event's timestamp in Unix seconds (WAHA sends milliseconds)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    number = float(value)
    return number / 1000.0 if number > 1e11 else number
