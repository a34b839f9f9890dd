"""What the monitor core tells whoever watches it (the TUI, the exporter, a test).

Plain frozen dataclasses, delivered synchronously to each subscriber in the order they
happen. The core never waits on a subscriber and never imports one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from wawp_tui.core.alerts import Alert, Notice


@dataclass(frozen=True)
class Polled:
    """A poll of `instance_id` finished; `changed` when its status word changed."""

    instance_id: str
    changed: bool


@dataclass(frozen=True)
class StateTouched:
    """Something a person did changed an instance (in flight, a countdown): draw it now."""

    instance_id: str


@dataclass(frozen=True)
class Note:
    """A line for the event log: an action's progress or outcome, a hold, a problem.

    `instance_id` is None for fleet-wide notes.
    """

    text: str
    ok: bool = True
    instance_id: str | None = None
    #: Worth a notification on every screen, not only a line in the log (the hub keeping
    #: a schedule's change: "schedule support hours: stopping 12 instances").
    told: bool = False


@dataclass(frozen=True)
class StatusChanged:
    """An instance moved to a new word after its first poll, or its polls started to
    fail (`word` UNREACHABLE; the row keeps its last known word, marked with its age)."""

    instance_id: str
    word: str


@dataclass(frozen=True)
class AlertsChanged:
    """Alerts fired, resolved or changed their text at this tick, and what to tell of
    them now, group by group (see core/alerts.py)."""

    fired: tuple[Alert, ...]
    resolved: tuple[Alert, ...]
    updated: tuple[Alert, ...] = ()
    notices: tuple[Notice, ...] = ()


Event = Polled | StateTouched | Note | StatusChanged | AlertsChanged
