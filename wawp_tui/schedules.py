"""Desired state: when an instance is meant to run, as pure functions of a clock.

A schedule says when its instances are meant to be running ("Mon-Fri 09:00-18:00" in
"Europe/London"); outside those windows they are meant to be STOPPED: a support desk at
night, an agent who clocked out. Windows are local wall-clock times, so on the days the
clocks change (23 and 25 hours) each boundary still happens once: a local time the clock
skips happens when the clock jumps over it, one it passes twice happens the first time.

No I/O, no clock of its own: every answer is for a Unix time passed in.
"""

from __future__ import annotations

import os
import re
import weakref
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, tzinfo
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_DAY = {name.lower(): n for n, name in enumerate(DAY_NAMES)}
_DAY.update({"monday": 0, "tuesday": 1, "wednesday": 2, "thursday": 3, "friday": 4,
             "saturday": 5, "sunday": 6})
_TIME = re.compile(r"^(\d{1,2}):(\d{2})$")
#: How far around an instant the windows are laid out (a week and a bit each way covers
#: every weekly pattern and a window that crosses midnight).
_DAYS_BEFORE, _DAYS_AFTER = 8, 9


class ScheduleError(ValueError):
    """A window, day or zone that cannot be read; the text says which and why."""


@dataclass(frozen=True)
class Window:
    """Running on `days` (0 = Monday) from `start` to `end`, in minutes after local
    midnight; `end` <= `start` means the window ends the next day (22:00-06:00)."""

    days: frozenset[int]
    start: int
    end: int


@dataclass(frozen=True)
class Schedule:
    """When some instances are meant to be running, in one time zone."""

    name: str
    windows: tuple[Window, ...]
    #: The IANA zone ("Europe/London"), or "" for the machine's own.
    zone_name: str = ""
    tags: tuple[str, ...] = ()
    ids: tuple[str, ...] = ()
    #: The windows as written, for messages.
    text: str = ""
    zone: tzinfo = field(default=UTC, compare=False, repr=False)


@dataclass(frozen=True)
class Meant:
    """What a schedule means at one instant."""

    running: bool
    #: The next time that changes (None: never, e.g. windows that cover the whole week).
    until: float | None


def parse_running(text: str) -> tuple[Window, ...]:
    """Windows from "Mon-Fri 09:00-18:00", several joined by ";" or ","-separated day
    lists ("Mon,Wed 08:00-12:00; Sat 10:00-14:00"); "daily" means every day."""
    windows = []
    parts = [p.strip() for p in text.split(";") if p.strip()]
    if not parts:
        raise ScheduleError(f"no window in {text!r}: write e.g. \"Mon-Fri 09:00-18:00\"")
    for part in parts:
        pieces = part.split()
        if len(pieces) != 2:
            raise ScheduleError(f"window {part!r} must be DAYS HH:MM-HH:MM, e.g. \"Mon-Fri 09:00-18:00\"")
        days, times = pieces
        windows.append(Window(_days(days), *_times(times)))
    return tuple(windows)


def _days(text: str) -> frozenset[int]:
    if text.lower() in ("daily", "every-day", "mon-sun"):
        return frozenset(range(7))
    found: set[int] = set()
    for item in text.split(","):
        ends = item.split("-")
        if len(ends) > 2 or not all(e.lower() in _DAY for e in ends):
            raise ScheduleError(f"day {item!r} is not a day or a range of days (Mon, Tue, Wed, "
                                "Thu, Fri, Sat, Sun; e.g. Mon-Fri or Sat,Sun)")
        first, last = _DAY[ends[0].lower()], _DAY[ends[-1].lower()]
        span = (last - first) % 7
        found.update((first + n) % 7 for n in range(span + 1))  # Fri-Mon wraps the weekend
    return frozenset(found)


def _times(text: str) -> tuple[int, int]:
    ends = text.split("-")
    if len(ends) != 2:
        raise ScheduleError(f"time range {text!r} must be HH:MM-HH:MM, e.g. 09:00-18:00")
    minutes = []
    for end in ends:
        found = _TIME.match(end)
        hour, minute = (int(found.group(1)), int(found.group(2))) if found else (99, 99)
        if not found or minute > 59 or hour > 24 or (hour == 24 and minute):
            raise ScheduleError(f"time {end!r} is not a time of day (00:00 to 24:00)")
        minutes.append(hour * 60 + minute)
    start, stop = minutes
    if start == 1440:
        raise ScheduleError(f"time range {text!r} cannot start at 24:00 (write 00:00 of the next day)")
    if start == stop:
        raise ScheduleError(f"time range {text!r} is empty: start and end are the same")
    return start, stop


def zone(name: str) -> tzinfo:
    """The zone of an IANA name ("" for the machine's own); ScheduleError when unknown."""
    if not name:
        return local_zone()
    if not re.fullmatch(r"[A-Za-z0-9_+\-]+(/[A-Za-z0-9_+\-]+)*", name) or len(name) > 64:
        raise ScheduleError(f"time zone {name[:64]!r} is not an IANA zone name (e.g. Europe/London)")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ScheduleError(f"time zone {name!r} is not known here (IANA names, e.g. "
                            "Europe/London, America/New_York, UTC)") from None


def local_zone() -> tzinfo:
    """The machine's zone with its daylight-saving rules (TZ, then /etc/localtime), not a
    fixed offset, which would be an hour off for half the year."""
    name = os.environ.get("TZ", "").lstrip(":")
    if name:
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError, OSError):
            pass
    try:
        with Path("/etc/localtime").open("rb") as handle:
            return ZoneInfo.from_file(handle, key="localtime")
    except (OSError, ValueError):
        return UTC


def make(name: str, running: str, zone_name: str = "", *, tags: tuple[str, ...] = (),
         ids: tuple[str, ...] = ()) -> Schedule:
    """A checked schedule (ScheduleError names what is wrong)."""
    return Schedule(name=name, windows=parse_running(running), zone_name=zone_name, tags=tags,
                    ids=ids, text=running, zone=zone(zone_name))


def _wall(instant: float, tz: tzinfo) -> datetime:
    return datetime.fromtimestamp(instant, tz).replace(tzinfo=None, fold=0)


def boundary(day: date, minutes: int, tz: tzinfo) -> float:
    """The instant local wall time first reaches `minutes` after midnight of `day`: the
    time itself when it exists (its first occurrence when the clock passes it twice); when
    the clock skips it, the moment of the jump."""
    naive = datetime(day.year, day.month, day.day) + timedelta(minutes=minutes)
    candidates = [naive.replace(tzinfo=tz, fold=f).timestamp() for f in (0, 1)]
    exact = [c for c in candidates if _wall(c, tz) == naive]
    if exact:
        return min(exact)
    low, high = min(candidates), max(candidates)
    while high - low > 0.5:  # the jump lies between the two readings of a skipped time
        mid = (low + high) / 2
        if _wall(mid, tz) >= naive:
            high = mid
        else:
            low = mid
    return float(round(high))


def intervals(schedule: Schedule, around: float) -> list[tuple[float, float]]:
    """The running periods near `around`, as disjoint (start, end) instants, in order."""
    tz = schedule.zone
    today = datetime.fromtimestamp(around, tz).date()
    spans = []
    for offset in range(-_DAYS_BEFORE, _DAYS_AFTER + 1):
        day = today + timedelta(days=offset)
        for window in schedule.windows:
            if day.weekday() not in window.days:
                continue
            end_day = day if window.end > window.start else day + timedelta(days=1)
            start = boundary(day, window.start, tz)
            end = boundary(end_day, window.end, tz)
            if end > start:
                spans.append((start, end))
    spans.sort()
    merged: list[tuple[float, float]] = []
    for start, end in spans:
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


#: Changes within this many seconds of the instant asked about are real ones; further
#: out, a span may only end because the layout does (every weekly pattern repeats within it).
_HORIZON = 7.5 * 86400


def _changes(schedule: Schedule, now: float) -> list[tuple[float, bool]]:
    """Every change within _HORIZON of `now`, in order: (instant, running from then on)."""
    found = []
    for start, end in intervals(schedule, now):
        for at, running in ((start, True), (end, False)):
            if abs(at - now) < _HORIZON:
                found.append((at, running))
    return found


#: schedule -> (from, until, answer): the answer holds between two changes, and a fleet
#: asks it for every row every second (laying out the windows takes ~150 zone lookups).
_MEANT: weakref.WeakKeyDictionary[Schedule, tuple[float, float, Meant]] = weakref.WeakKeyDictionary()


def meant(schedule: Schedule, now: float) -> Meant:
    """Whether the schedule's instances are meant to be running at `now`, and until when."""
    known = _MEANT.get(schedule)
    if known is not None and known[0] <= now < known[1]:
        return known[2]
    running = any(start <= now < end for start, end in intervals(schedule, now))
    changes = _changes(schedule, now)
    later = [at for at, _ in changes if at > now]
    earlier = [at for at, _ in changes if at <= now]
    answer = Meant(running, later[0] if later else None)
    # Held from the last change to the next (within a day either way: a clock that jumps
    # far is asked again).
    _MEANT[schedule] = (max(earlier[-1] if earlier else now, now - 86400.0),
                        min(later[0] if later else now + 86400.0, now + 86400.0), answer)
    return answer


def transitions(schedule: Schedule, now: float, count: int = 4) -> list[tuple[float, bool]]:
    """The next `count` changes after `now`: (instant, running from then on)."""
    return [change for change in _changes(schedule, now) if change[0] > now][:count]


def last_transition(schedule: Schedule, now: float) -> tuple[float, bool] | None:
    """The latest change at or before `now`: (instant, running from then on)."""
    past = [change for change in _changes(schedule, now) if change[0] <= now]
    return past[-1] if past else None


def due(schedule: Schedule, carried: float | None, now: float) -> tuple[float, bool] | None:
    """The change to carry out at `now`, given the last one carried out (`carried`, its
    instant; None: none yet): the latest change at or before `now` when it is later than
    `carried`, else None. Only the latest: after a gap (a hub down overnight) the fleet is
    made what is meant now, not replayed change by change; and a change is due once, so
    a day of 23 or 25 hours, or a clock read twice, does nothing twice."""
    last = last_transition(schedule, now)
    if last is None or (carried is not None and last[0] <= carried):
        return None
    return last


def describe_time(instant: float, tz: tzinfo, now: float) -> str:
    """ "Mon 09:00" within the coming week, else "12 Jan 09:00" (local to the zone)."""
    when = datetime.fromtimestamp(instant, tz)
    if 0 <= instant - now < 6.5 * 86400:
        return f"{DAY_NAMES[when.weekday()]} {when:%H:%M}"
    return f"{when.day} {when:%b %H:%M}"


def applies_to(schedule: Schedule, instance_id: str, tags: tuple[str, ...]) -> bool:
    """Whether a schedule covers this instance (by id, or by any of its tags)."""
    return instance_id in schedule.ids or bool(set(tags) & set(schedule.tags))
