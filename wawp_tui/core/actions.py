"""ActionRunner: start / stop / restart / logout / full reset, only as the runbook allows.

Every request is checked against the runbook first, read-only mode is enforced here (not
just by hiding keys), one key press sends at most one call per instance, bulk actions
are paced, and every action and outcome goes to the audit log.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Awaitable, Callable, Iterable

from wawp_tui.core import runbook
from wawp_tui.client.api import WawpClient
from wawp_tui.core.audit import AuditLog
from wawp_tui.client.errors import WawpError
from wawp_tui.core.fleet import Clock, FleetState
from wawp_tui.models import InstanceConfig, SessionInfo

ACTIONS = ("start", "stop", "restart", "logout", "reset")
#: Past tense for reports ("7 / 10 restarted").
DONE = {"start": "started", "stop": "stopped", "restart": "restarted",
        "logout": "logged out", "reset": "reset"}

#: (instance id, one line, ok) for the event log; called for progress and outcomes.
EventCallback = Callable[[str, str, bool], None]
Sleep = Callable[[float], Awaitable[None]]


@dataclass(frozen=True)
class Outcome:
    """What happened to one instance."""

    instance_id: str
    ok: bool
    message: str
    #: True when nothing was sent (runbook refused, read-only, already in flight).
    refused: bool = False
    #: True when the request may have reached the server but no reply said (timeout).
    unknown: bool = False


@dataclass(frozen=True)
class Report:
    """The result of one key press (one or many instances)."""

    action: str
    outcomes: tuple[Outcome, ...]

    @property
    def ok(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.ok]

    @property
    def failed(self) -> list[Outcome]:
        return [o for o in self.outcomes if not o.ok and not o.refused]

    @property
    def refused(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.refused]

    def summary(self, labels: dict[str, str] | None = None) -> str:
        """One line: "7 / 10 restarted, 3 failed: A (429 ...), B (...)"."""
        labels = labels or {}
        name = lambda o: labels.get(o.instance_id, o.instance_id)  # noqa: E731
        total = len(self.outcomes)
        if total == 1:
            o = self.outcomes[0]
            return f"{name(o)}: {o.message}"
        parts = [f"{len(self.ok)} / {total} {DONE.get(self.action, self.action)}"]
        for title, group in (("failed", self.failed), ("refused", self.refused)):
            if group:
                shown = ", ".join(f"{name(o)} ({o.message})" for o in group[:3])
                more = f", +{len(group) - 3} more" if len(group) > 3 else ""
                parts.append(f"{len(group)} {title}: {shown}{more}")
        return ", ".join(parts)


class ActionRunner:
    """Sends guarded actions for the UI and for auto-heal; never touches Textual."""

    def __init__(
        self,
        client: WawpClient,
        fleet: FleetState,
        instances: Iterable[InstanceConfig],
        *,
        clock: Clock,
        audit: AuditLog,
        read_only: bool = False,
        concurrency: int = 4,
        sleep: Sleep = asyncio.sleep,
        on_event: EventCallback | None = None,
        on_change: Callable[[str], None] | None = None,
        on_unknown: Callable[[str], None] | None = None,
    ) -> None:
        self.client = client
        self.fleet = fleet
        self.configs = {cfg.id: cfg for cfg in instances}
        self.clock = clock
        self.audit = audit
        self.read_only = read_only
        self.sleep = sleep
        self.on_event = on_event
        self.on_change = on_change
        #: Called when an action's outcome is unknown (timeout): the poller re-polls at once.
        self.on_unknown = on_unknown
        self._slots = asyncio.Semaphore(max(1, concurrency))

    # -- checks ----------------------------------------------------------------------

    def check(self, action: str, ids: Iterable[str]) -> tuple[list[str], list[Outcome]]:
        """Split ids into those the runbook allows now and refusals with their reason."""
        allowed, refused = [], []
        now = self.clock()
        for instance_id in ids:
            if self.read_only:
                refused.append(Outcome(instance_id, False, "read-only mode: nothing sent", True))
                continue
            verdict = runbook.check_action(self.fleet.get(instance_id), action, now)
            if verdict.allowed:
                allowed.append(instance_id)
            else:
                refused.append(Outcome(instance_id, False, verdict.reason, True))
        return allowed, refused

    # -- running ---------------------------------------------------------------------

    async def run(self, action: str, ids: Iterable[str], *, auto: bool = False) -> Report:
        """Check, then send `action` to every allowed instance (bounded concurrency)."""
        if action not in ACTIONS:
            raise ValueError(f"unknown action {action!r}")
        ids = list(dict.fromkeys(ids))
        allowed, refused = self.check(action, ids)
        for outcome in refused:
            self._audit(action, outcome.instance_id, "refused", outcome.message, auto)
        # Claim every instance before the first await: a second key press arriving
        # meanwhile is refused as "in flight" instead of sending a second call.
        for instance_id in allowed:
            self.fleet.get(instance_id).in_flight = action
            self._changed(instance_id)
        job = self.reset if action == "reset" else self._send
        results = await asyncio.gather(*(self._paced(job, i, action, auto) for i in allowed))
        order = {i: n for n, i in enumerate(ids)}
        outcomes = sorted([*results, *refused], key=lambda o: order[o.instance_id])
        return Report(action, tuple(outcomes))

    async def _paced(self, job, instance_id: str, action: str, auto: bool) -> Outcome:
        async with self._slots:
            if action == "reset":
                return await job(instance_id, auto=auto, claimed=True)
            return await job(instance_id, action, auto)

    async def _send(self, instance_id: str, action: str, auto: bool) -> Outcome:
        st = self.fleet.get(instance_id)
        st.in_flight = action
        try:
            return await self._call(instance_id, action, auto)
        finally:
            st.in_flight = None
            self._changed(instance_id)

    async def _call(self, instance_id: str, action: str, auto: bool) -> Outcome:
        """One API call with its bookkeeping: fleet history, audit log, event."""
        cfg = self.configs[instance_id]
        self.fleet.apply_action_sent(instance_id, action, auto=auto)
        self._audit(action, instance_id, "sent", "", auto)
        self._changed(instance_id)
        try:
            info: SessionInfo = await getattr(self.client, action)(cfg)
        except WawpError as exc:
            message = str(exc)
            if exc.maybe_sent:
                # The request may have reached the server: do not guess, look.
                message = f"outcome unknown ({exc}); check its status: re-polling now"
                if self.on_unknown is not None:
                    self.on_unknown(instance_id)
            self.fleet.apply_action_result(instance_id, action, False, message, auto=auto,
                                           maybe_done=exc.maybe_sent)
            self._audit(action, instance_id, "unknown" if exc.maybe_sent else "failed", message, auto)
            self._emit(instance_id, f"{action} failed: {message}", False)
            return Outcome(instance_id, False, message, unknown=exc.maybe_sent)
        message = f"{DONE[action]}, now {info.status}"
        self.fleet.apply_action_result(instance_id, action, True, "", status=info.status, auto=auto)
        self._audit(action, instance_id, "ok", message, auto, status=info.status)
        self._emit(instance_id, f"{action} ok: now {info.status}", True)
        return Outcome(instance_id, True, message)

    async def reset(self, instance_id: str, *, auto: bool = False, claimed: bool = False) -> Outcome:
        """Full lifecycle reset: stop, wait 5 s (visible countdown), start.

        Cancelling during the wait leaves the instance STOPPED and says so; once the
        start step is sent it is not cancelled.
        """
        st = self.fleet.get(instance_id)
        if not claimed:
            verdict = runbook.check_action(st, "reset", self.clock())
            if self.read_only or not verdict.allowed:
                reason = "read-only mode: nothing sent" if self.read_only else verdict.reason
                return Outcome(instance_id, False, reason, True)
        st.in_flight = "reset"
        self.fleet.apply_action_sent(instance_id, "reset", auto=auto)
        self._audit("reset", instance_id, "sent", "stop, wait 5s, start", auto)
        try:
            stopped = await self._call(instance_id, "stop", auto)
            if not stopped.ok:
                return self._reset_result(instance_id, False, f"stop step failed: {stopped.message}",
                                          auto, maybe_done=stopped.unknown)
            st.reset_start_at = self.clock() + runbook.RESET_PAUSE
            self._emit(instance_id, f"reset: stopped; start in {runbook.RESET_PAUSE:g}s", True)
            self._changed(instance_id)
            try:
                await self.sleep(runbook.RESET_PAUSE)
            except asyncio.CancelledError:
                self._reset_result(instance_id, False, "cancelled before start: left STOPPED, press s to start", auto)
                raise
            st.reset_start_at = None
            started = await self._call(instance_id, "start", auto)
            if not started.ok:
                return self._reset_result(instance_id, False, f"start step failed: {started.message}", auto)
            return self._reset_result(instance_id, True, "reset done: stopped, waited 5s, started", auto)
        finally:
            st.reset_start_at = None
            st.in_flight = None
            self._changed(instance_id)

    def _reset_result(self, instance_id: str, ok: bool, message: str, auto: bool,
                      maybe_done: bool = True) -> Outcome:
        # Once the stop step went through, the reset did something: its guards stay.
        self.fleet.apply_action_result(instance_id, "reset", ok, message, auto=auto,
                                       maybe_done=ok or maybe_done)
        self._audit("reset", instance_id, "ok" if ok else "failed", message, auto)
        self._emit(instance_id, f"reset: {message}", ok)
        return Outcome(instance_id, ok, message)

    # -- plumbing --------------------------------------------------------------------

    def _audit(self, action: str, instance_id: str, outcome: str, detail: str, auto: bool,
               status: str | None = None) -> None:
        st = self.fleet.get(instance_id)
        self.audit.write(self.clock(), "action", action=action, instance_id=instance_id,
                         label=st.label, outcome=outcome, detail=detail,
                         auto=auto, status=status)

    def _emit(self, instance_id: str, text: str, ok: bool) -> None:
        if self.on_event is not None:
            self.on_event(instance_id, text, ok)

    def _changed(self, instance_id: str) -> None:
        if self.on_change is not None:
            self.on_change(instance_id)
