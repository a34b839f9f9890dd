"""MonitorBridge: the core's events, turned into Textual messages for the fleet screen.

The core calls back synchronously on the event loop; the bridge only records which
instances changed (and whether a person's action is among them) and posts a message.
The screen decides when to draw.
"""

from __future__ import annotations

from collections.abc import Callable

from textual.message import Message

from wawp_tui.core import AlertsChanged, Event, FleetMonitor, Note, Polled, StateTouched, StatusChanged
from wawp_tui.ui.messages import AlertsUpdated, EventNote, FleetChanged, StatusAlert


class MonitorBridge:
    """Subscribes to a Monitor; `post` delivers a message to the screen."""

    def __init__(self, monitor: FleetMonitor, post: Callable[[Message], object]) -> None:
        self._post = post
        self._dirty: set[str] = set()
        self._urgent = False
        #: A FleetChanged is on its way and not yet received: polls only add to the set
        #: (a busy fleet posts one message per batch, not one per poll).
        self._posted = False
        monitor.subscribe(self._on_event)

    def _on_event(self, event: Event) -> None:
        if isinstance(event, Polled):
            self._dirty.add(event.instance_id)
            if not self._posted:
                self._posted = True
                self._post(FleetChanged())
        elif isinstance(event, StateTouched):
            # A person did this: draw it now, not with the next batch of polls.
            self._dirty.add(event.instance_id)
            self._urgent = True
            self._post(FleetChanged())
        elif isinstance(event, Note):
            self._post(EventNote(event.text, event.ok, event.told))
        elif isinstance(event, StatusChanged):
            self._post(StatusAlert(event.instance_id, event.word))
        elif isinstance(event, AlertsChanged):
            self._post(AlertsUpdated(event.fired, event.resolved, event.updated, event.notices))

    def received(self) -> None:
        """The screen has the FleetChanged: the next poll posts another."""
        self._posted = False

    @property
    def urgent(self) -> bool:
        """Whether a person's action is waiting to be drawn."""
        return self._urgent

    def mark_urgent(self) -> None:
        """Draw at the next FleetChanged without waiting for the batch (a refresh key)."""
        self._urgent = True

    def take(self) -> set[str]:
        """The instances changed since the last call (and the urgency is spent)."""
        dirty, self._dirty, self._urgent = self._dirty, set(), False
        return dirty
