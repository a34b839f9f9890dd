"""The messages the core's events become on their way to the screen (attributes down,
messages up: the bridge posts them, the fleet screen handles them)."""

from __future__ import annotations

from textual.message import Message

from wawp_tui.core import Alert, Report
from wawp_tui.core.alerts import Notice


class FleetChanged(Message):
    """Instances changed; the handler takes the changed ids from the bridge.

    Floods merge: a pending FleetChanged is replaced by the next one (`can_replace`),
    so a thousand polls landing together cost one redraw.
    """

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, FleetChanged)


class EventNote(Message):
    """A line for the event log."""

    def __init__(self, text: str, ok: bool = True, told: bool = False) -> None:
        super().__init__()
        self.text = text
        self.ok = ok
        #: A notification too (the event log hides on a narrow terminal).
        self.told = told


class StatusAlert(Message):
    """An instance moved to a new status word after its first poll."""

    def __init__(self, instance_id: str, word: str) -> None:
        super().__init__()
        self.instance_id = instance_id
        self.word = word


class AlertsUpdated(Message):
    """Alerts fired, resolved or changed at this tick, and what to tell of them now (the
    strip, the event log, the bell)."""

    def __init__(self, fired: tuple[Alert, ...], resolved: tuple[Alert, ...],
                 updated: tuple[Alert, ...] = (), notices: tuple[Notice, ...] = ()) -> None:
        super().__init__()
        self.fired = fired
        self.resolved = resolved
        self.updated = updated
        self.notices = notices


class ActionFinished(Message):
    """An action the operator confirmed has its report."""

    def __init__(self, report: Report, count: int) -> None:
        super().__init__()
        self.report = report
        self.count = count


class RolloutProgress(Message):
    """A line of a rollout's progress; `done` once it has ended (with its summary)."""

    def __init__(self, line: str, *, done: bool = False, ok: bool = True) -> None:
        super().__init__()
        self.line = line
        self.done = done
        self.ok = ok
