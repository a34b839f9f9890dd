"""The fleet as JSON: what the hub serves (`/api/v1/fleet`, `/api/v1/events`) and what a
screen attached to it reads back into a FleetState of its own. Pure, no I/O.

An instance travels as its *facts* (the InstanceState the runbook reads: statuses and
since when, polls, failures, actions seen and sent and by whom, the ladder, the history,
its schedule), so an attached screen runs the same pure runbook on the same facts and
gives the same answers (words, guards, countdowns, advice) as the hub. Beside the facts,
`view` says what the hub's runbook made of them when they were encoded (for scripts and
dashboards that do not run the runbook; its `at` says when).

Decoding is a boundary: whatever the hub sent is checked field by field (numbers finite,
words cleaned, lists bounded, every string through `safe_text.clean`), and a field that is
not what it should be reads as absent. A hub can be wrong or hostile; it cannot put an
escape sequence on a screen or crash one.
"""

from __future__ import annotations

import hashlib
import math
from collections import deque
from collections.abc import Mapping
from typing import Any

from wawp_tui import schedules
from wawp_tui.core import runbook
from wawp_tui.core.fleet import (
    HISTORY_LIMIT,
    RESTART_LOG_LIMIT,
    FleetState,
    HistoryEntry,
    InstanceState,
)
from wawp_tui.core.ladder import Ladder
from wawp_tui.safe_text import clean, clean_data, clean_word
from wawp_tui.schedules import Schedule, ScheduleError
from wawp_tui.vocab import STATE_ACTIONS

#: The version of the documents below; a reader refuses a version it does not know.
SCHEMA = 1
#: Ladder steps and back-off levels kept from a document (far above what the rules use).
_MAX_STEPS = 64
_MAX_LEVEL = 64
#: Longest `last_error`, history line and schedule text kept.
_LINE = 300

JsonDict = dict[str, Any]


# -- encoding (the hub) ----------------------------------------------------------------


def qr_marker(hint: str | None) -> str | None:
    """What travels instead of the QR value an info reply carried: a short digest that
    changes when the code rotates (a screen refetches then), never the code itself (a
    pairing credential while it lives: only an operator fetches it, audited)."""
    if hint is None:
        return None
    return hashlib.sha256(hint.encode("utf-8", "replace")).hexdigest()[:16]


def encode_schedule(schedule: Schedule | None) -> JsonDict | None:
    if schedule is None:
        return None
    return {"name": schedule.name, "running": schedule.text, "timezone": schedule.zone_name}


def encode_instance(st: InstanceState) -> JsonDict:
    """The facts of one instance (see the module docstring)."""
    return {
        "id": st.id, "label": st.label, "tags": list(st.tags),
        "schedule": encode_schedule(st.schedule),
        "status": st.status, "status_since": st.status_since,
        "status_since_known": st.status_since_known,
        "last_poll_at": st.last_poll_at, "last_ok_at": st.last_ok_at,
        "failures": st.failures, "last_error": st.last_error, "error_kind": st.error_kind,
        "latency_ms": st.latency_ms, "latency_avg": st.latency_avg,
        "latency_shown": st.latency_shown, "me": st.me, "qr": qr_marker(st.qr_hint),
        "engine": st.engine, "presence": st.presence, "activity_at": st.activity_at,
        "heard_at": st.heard_at, "hibernated_at": st.hibernated_at,
        "failing_since": st.failing_since,
        "last_action_at": dict(st.last_action_at), "sent_at": dict(st.sent_at),
        "seen_actions": sorted(st.seen_actions), "acted_by": dict(st.acted_by),
        "last_working_at": st.last_working_at,
        "restarts_since_working": st.restarts_since_working,
        "in_flight": st.in_flight, "in_flight_by": st.in_flight_by,
        "reset_start_at": st.reset_start_at,
        "ladder": {"steps": list(st.ladder.steps), "level": st.ladder.level,
                   "held_at": st.ladder.held_at},
        "restart_log": [[at, seen] for at, seen in st.restart_log],
        "history": [[e.at, e.kind, e.text, e.subject, e.auto, e.ok] for e in st.history],
    }


def visible_key(st: InstanceState) -> tuple[Any, ...]:
    """What a poll can change of what the runbook says, now or later, apart from time:
    equal keys before and after a poll mean a steady poll (only its freshness moved), so
    a screen need not redraw the row and the hub need not work its view out again. Times
    that only say "still so" (the poll's, the last WORKING, the last activity) are left
    out; what they govern (staleness, quiet) is a matter of time, found again when due."""
    last = st.history[-1] if st.history else None
    return (st.status, st.status_since, st.failures, st.error_kind, st.last_error, st.latency_shown,
            st.in_flight, st.in_flight_by, st.reset_start_at, len(st.history), last,
            tuple(sorted(st.last_action_at.items())), tuple(sorted(st.acted_by.items())),
            frozenset(st.seen_actions), st.restarts_since_working, st.ladder, st.label, st.tags,
            st.schedule, st.qr_hint, st.engine, st.presence, st.hibernated_at,
            None if st.me is None else tuple(sorted((str(k), str(v)) for k, v in st.me.items())))


def view(st: InstanceState, now: float, refresh: float, quiet_after: float,
         read_only: bool = False) -> JsonDict:
    """What the runbook makes of an instance at `now` (for readers without the runbook)."""
    seen = runbook.assess(st, now, refresh, quiet_after=quiet_after, read_only=read_only)
    return {
        "at": now, "word": seen.word, "badge": " ".join(runbook.badge(seen.word)),
        "severity": str(seen.severity), "rank": seen.rank,
        "stale_since": runbook.stale_from(st, refresh) if seen.stale is not None else None,
        "countdowns": [{"label": c.label, "ends_at": c.ends_at} for c in seen.countdowns],
        "advice": {"meaning": seen.advice.meaning, "todo": seen.advice.todo},
        "refusals": {action: {"reason": v.plain or v.reason, "retry_after": v.retry_in}
                     for action, v in seen.verdicts.items() if not v.allowed},
        "schedule": runbook.schedule_line(st, now), "ladder": runbook.ladder_line(st, now),
    }


def encode_fleet(fleet: FleetState) -> JsonDict:
    """The fleet-wide facts outage detection reads."""
    return {"last_refresh_at": fleet.last_refresh_at, "last_success_at": fleet.last_success_at,
            "network_streak": fleet.network_streak,
            "last_network_error": fleet.last_network_error}


# -- decoding (an attached screen) ------------------------------------------------------


def _num(value: object) -> float | None:
    """A finite number, or None (a bool is not a number here)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def _count(value: object, most: int = 1_000_000) -> int:
    number = _num(value)
    return 0 if number is None else int(min(max(number, 0), most))


def _text(value: object, limit: int = _LINE) -> str | None:
    return clean(value, limit) if isinstance(value, str) else None


def _word(value: object) -> str | None:
    return clean_word(value) if isinstance(value, str) and value else None


def _times(value: object) -> dict[str, float]:
    """{action: time} for the actions there are; anything else is left out."""
    if not isinstance(value, Mapping):
        return {}
    out = {}
    for action in STATE_ACTIONS:
        at = _num(value.get(str(action)))
        if at is not None:
            out[str(action)] = at
    return out


def _names(value: object) -> dict[str, str]:
    if not isinstance(value, Mapping):
        return {}
    out = {}
    for action in STATE_ACTIONS:
        who = _text(value.get(str(action)), 80)
        if who:
            out[str(action)] = who
    return out


def _kind(value: object) -> str | None:
    """A machine word of ours ("network", "status"): lower-case letters and _, or None."""
    if isinstance(value, str) and 0 < len(value) <= 32 and value.isascii() \
            and all(c.islower() or c == "_" for c in value):
        return value
    return None


def _action(value: object) -> str | None:
    return str(value) if isinstance(value, str) and value in STATE_ACTIONS else None


def _ladder(value: object) -> Ladder:
    if not isinstance(value, Mapping):
        return Ladder()
    steps = value.get("steps")
    kept = tuple(t for t in (_num(s) for s in steps[:_MAX_STEPS]) if t is not None) \
        if isinstance(steps, list) else ()
    return Ladder(steps=tuple(sorted(kept)), level=_count(value.get("level"), _MAX_LEVEL),
                  held_at=_num(value.get("held_at")))


def _restart_log(value: object) -> deque[tuple[float, bool]]:
    log: deque[tuple[float, bool]] = deque(maxlen=RESTART_LOG_LIMIT)
    if isinstance(value, list):
        for item in value[-RESTART_LOG_LIMIT:]:
            if isinstance(item, list) and len(item) == 2 and (at := _num(item[0])) is not None:
                log.append((at, item[1] is True))
    return log


def _history(value: object) -> deque[HistoryEntry]:
    history: deque[HistoryEntry] = deque(maxlen=HISTORY_LIMIT)
    if isinstance(value, list):
        for item in value[-HISTORY_LIMIT:]:
            if not isinstance(item, list) or len(item) != 6:
                continue
            at, kind, text = _num(item[0]), _kind(item[1]), _text(item[2])
            if at is None or kind is None or text is None:
                continue
            history.append(HistoryEntry(at, kind, text, subject=_text(item[3], 40) or "",
                                        auto=item[4] is True, ok=item[5] is not False))
    return history


class Schedules:
    """Schedules read back from documents, kept by what they say: the same schedule is
    one object across updates (the runbook caches its answers by schedule)."""

    def __init__(self) -> None:
        self._known: dict[tuple[str, str, str], Schedule | None] = {}

    def read(self, value: object) -> Schedule | None:
        if not isinstance(value, Mapping):
            return None
        name, running = _text(value.get("name"), 60), _text(value.get("running"), 200)
        zone_name = _text(value.get("timezone"), 64) or ""
        if not name or not running:
            return None
        key = (name, running, zone_name)
        if key not in self._known:
            if len(self._known) > 1000:
                self._known.clear()
            try:
                self._known[key] = schedules.make(name, running, zone_name)
            except ScheduleError:
                self._known[key] = None  # a zone this machine does not know: no schedule
        return self._known[key]


def instance_identity(data: object) -> tuple[str, str, tuple[str, ...]] | None:
    """(id, label, tags) of an instance document, or None when it has no usable id."""
    if not isinstance(data, Mapping):
        return None
    instance_id = data.get("id")
    if not isinstance(instance_id, str) or not instance_id or len(instance_id) > 64 \
            or not all(c.isalnum() or c in "-_" for c in instance_id) or not instance_id.isascii():
        return None
    tags = data.get("tags")
    kept = tuple(t for t in (_text(x, 40) for x in tags[:32]) if t) if isinstance(tags, list) else ()
    return instance_id, _text(data.get("label"), 100) or instance_id, kept


def decode_instance(data: Mapping[str, Any], st: InstanceState, known: Schedules) -> None:
    """Put an instance document's facts into `st` (same id), checked field by field."""
    st.label = _text(data.get("label"), 100) or st.label
    st.schedule = known.read(data.get("schedule"))
    st.status = _word(data.get("status"))
    st.status_since = _num(data.get("status_since"))
    st.status_since_known = data.get("status_since_known") is True
    st.last_poll_at = _num(data.get("last_poll_at"))
    st.last_ok_at = _num(data.get("last_ok_at"))
    st.failures = _count(data.get("failures"))
    st.last_error = _text(data.get("last_error"))
    st.error_kind = _kind(data.get("error_kind"))
    st.latency_ms = _num(data.get("latency_ms"))
    st.latency_avg = _num(data.get("latency_avg"))
    st.latency_shown = _num(data.get("latency_shown"))
    me = data.get("me")
    st.me = clean_data(me) if isinstance(me, Mapping) else None
    st.qr_hint = _text(data.get("qr"), 32)
    st.engine = _text(data.get("engine"), 40)
    st.presence = _text(data.get("presence"), 40)
    st.activity_at = _num(data.get("activity_at"))
    st.heard_at = _num(data.get("heard_at"))
    st.hibernated_at = _num(data.get("hibernated_at"))
    st.failing_since = _num(data.get("failing_since"))
    st.last_action_at = _times(data.get("last_action_at"))
    st.sent_at = _times(data.get("sent_at"))
    seen = data.get("seen_actions")
    st.seen_actions = {a for a in (_action(x) for x in seen[:16]) if a} if isinstance(seen, list) else set()
    st.acted_by = _names(data.get("acted_by"))
    st.last_working_at = _num(data.get("last_working_at"))
    st.restarts_since_working = _count(data.get("restarts_since_working"), 1000)
    st.in_flight = _action(data.get("in_flight"))
    st.in_flight_by = _text(data.get("in_flight_by"), 80) if st.in_flight else None
    st.reset_start_at = _num(data.get("reset_start_at"))
    st.ladder = _ladder(data.get("ladder"))
    st.restart_log = _restart_log(data.get("restart_log"))
    st.history = _history(data.get("history"))


def decode_fleet(data: object, fleet: FleetState) -> None:
    """The fleet-wide facts of a document (see `encode_fleet`)."""
    if not isinstance(data, Mapping):
        return
    fleet.last_refresh_at = _num(data.get("last_refresh_at"))
    fleet.last_success_at = _num(data.get("last_success_at"))
    streak, error = _count(data.get("network_streak")), _text(data.get("last_network_error"))
    if (streak, error) != (fleet.network_streak, fleet.last_network_error):
        fleet.network_streak, fleet.last_network_error = streak, error
        fleet.failure_revision += 1
