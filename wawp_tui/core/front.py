"""FleetMonitor: what a front end (the fleet screen, the wall, `status`, `check`, a
rollout) may use of a monitor, written down once.

Two monitors satisfy it: `Monitor` (this process polls the fleet itself) and the hub's
`AttachedMonitor` (wawp_tui/hub/attach.py: a mirror of a hub's fleet, fed by its events,
whose actions are asked of the hub and decided by the hub's one gate). A screen typed
against this protocol runs on either, unchanged: the same FleetState, the same pure
runbook, the same events.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Protocol

from wawp_tui.config import Config
from wawp_tui.core.actions import Outcome, Report, Sleep
from wawp_tui.core.alerts import AlertBook
from wawp_tui.core.audit import AuditLog
from wawp_tui.core.events import Event
from wawp_tui.core.fleet import FleetState, InstanceState
from wawp_tui.core.monitor import ActionCheck
from wawp_tui.core.outage import Outage
from wawp_tui.core.rollout import Progress, Rollout, RolloutState
from wawp_tui.models import QrCode
from wawp_tui.vocab import Trigger


class FleetMonitor(Protocol):
    """The surface of a monitor that front ends use (see the module docstring)."""

    #: Local settings: theme, bell, read-only (an attached screen's fleet is the hub's).
    config: Config
    #: The clock every time on screen is read from (an attached screen's is the hub's).
    clock: Callable[[], float]
    fleet: FleetState
    alerts: AlertBook
    audit: AuditLog
    auto_heal: bool

    @property
    def read_only(self) -> bool: ...

    @property
    def paused(self) -> bool: ...

    @property
    def stale_basis(self) -> float: ...

    @property
    def quiet_after(self) -> float: ...

    @property
    def hibernate_after(self) -> float:
        """Seconds without activity after which the hub stops a WORKING instance (0: no
        idle hibernation: always, but on a hub with [monitor] idle_stop_after)."""
        ...

    @property
    def labels(self) -> dict[str, str]: ...

    @property
    def where(self) -> str:
        """Where the statuses come from, for the context line (never a token)."""
        ...

    @property
    def origin(self) -> str | None:
        """What the context line names first instead of the config file (None: the file)."""
        ...

    def state(self, instance_id: str) -> InstanceState: ...

    def outage(self) -> Outage | None: ...

    def last_reply(self, instance_id: str) -> str | None: ...

    def problems(self) -> list[str]: ...

    def subscribe(self, listener: Callable[[Event], None]) -> None: ...

    async def run(self) -> None: ...

    async def refresh(self, ids: Iterable[str] | None = None, *,
                      deadline: float | None = None) -> set[str]: ...

    def pause(self, paused: bool) -> None: ...

    def explain_auto_heal(self) -> str: ...

    def auto_heal_refusal(self) -> str | None:
        """Why a person here may not switch auto-heal (said and audited), or None."""
        ...

    def next_poll(self, instance_id: str) -> float | None:
        """Seconds until this instance is polled again here (None: not polled here)."""
        ...

    def poke(self, instance_id: str, delay: float = 0.0) -> None: ...

    def tick(self) -> None: ...

    def record_refusals(self, action: str, refused: Iterable[Outcome], *,
                        trigger: Trigger = Trigger.MANUAL) -> None: ...

    def check(self, action: str, ids: Iterable[str]) -> ActionCheck: ...

    async def act(self, action: str, ids: Iterable[str], *,
                  trigger: Trigger = Trigger.MANUAL, by: str | None = None) -> Report: ...

    async def fetch_qr(self, instance_id: str, *, by: str | None = None) -> QrCode: ...

    async def request_code(self, instance_id: str, phone: str, *, by: str | None = None) -> str: ...

    def rollout(self, state: RolloutState, *, state_path: Path | None,
                progress: Progress | None = None, continue_on_error: bool = False,
                sleep: Sleep = ..., trigger: Trigger = Trigger.ROLLOUT,
                by: str | None = None) -> Rollout: ...

    async def aclose(self) -> None: ...

    async def close(self) -> None:
        """Stop what the monitor runs and close its connections (the end of a front end)."""
        ...
