"""Monitor: the fleet monitor without a screen. Its public API is all any front end uses.

It owns the fleet state, the poller, the action runner, the history and the audit log;
it runs the once-a-second tick (auto-heal decisions); it detects outages; and it tells
its subscribers what happened through events (core/events.py). The TUI, `status`,
`rollout`, the bench, the soak and the screenshot tool all drive it and nothing below it.

    monitor = Monitor(config, client)
    monitor.subscribe(print)
    await monitor.refresh()                  # one poll of every instance
    report = await monitor.act("restart", [instance_id])

No Textual, no I/O of its own beyond what its parts do.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from wawp_tui.client.api import WawpClient
from wawp_tui.config import Config
from wawp_tui.core import autoheal, runbook
from wawp_tui.core.actions import ActionRunner, Outcome, Report, Sleep
from wawp_tui.core.alerts import AlertBook
from wawp_tui.core.audit import AuditLog
from wawp_tui.core.consequences import CONSEQUENCES
from wawp_tui.core.events import AlertsChanged, Event, Note, Polled, StatusChanged
from wawp_tui.core.fleet import Clock, FleetState, InstanceState
from wawp_tui.core.history_store import HistoryStore
from wawp_tui.core.outage import Outage, detect
from wawp_tui.core.poller import Poller
from wawp_tui.core.rollout import Progress, Rollout, RolloutState
from wawp_tui.models import UNREACHABLE, QrCode
from wawp_tui.safe_text import clean
from wawp_tui.vocab import Action, AuditOutcome, Trigger

_log = logging.getLogger(__name__)
Listener = Callable[[Event], None]


@dataclass(frozen=True)
class ActionCheck:
    """What an action would do now, before anyone confirms it."""

    action: str
    allowed: list[str]
    refused: list[Outcome]
    #: Runbook warnings for the allowed instances (each said once).
    warnings: list[str]
    #: What it does to an instance (the purged queue, the webhook pause, the phone).
    consequence: str


class Monitor:
    """Everything a front end needs to watch and act on a fleet (see the module docstring)."""

    def __init__(
        self,
        config: Config,
        client: WawpClient,
        *,
        clock: Clock = time.time,
        timer: Callable[[], float] = time.perf_counter,
        audit: AuditLog | None = None,
        history: HistoryStore | None = None,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.config = config
        self.client = client
        self.clock = clock
        self.fleet = FleetState(config.instances, clock=clock)
        self.history = history if history is not None else HistoryStore(None)
        for instance_id, entries in self.history.load(set(self.fleet.instances), now=clock()).items():
            self.fleet.restore(instance_id, entries)
        self.fleet.on_record = self.history.append
        self.audit = audit if audit is not None else AuditLog(None)
        monitor = config.monitor
        self.poller = Poller(client, self.fleet, config.instances, refresh=monitor.refresh,
                             max_interval=monitor.steady_max, steady_rate=monitor.steady_rate,
                             concurrency=config.api.max_concurrency, clock=clock,
                             on_update=self._polled, timer=timer)
        self.runner = ActionRunner(client, self.fleet, config.instances, clock=clock,
                                   audit=self.audit, read_only=monitor.read_only,
                                   emit=self._emit, repoll=self.poller.poke, sleep=sleep,
                                   prepoll=self.poller.poll_one,
                                   prepoll_timeout=config.api.timeout)
        #: Auto-heal switched on (the config's default; front ends toggle it). Never in
        #: read-only mode: a mode that acts by itself is an action like any other.
        self.auto_heal = bool(monitor.auto_heal) and not monitor.read_only
        self.heal_policy = autoheal.HealPolicy()
        #: Alerts, grouped and deduplicated, firing -> resolved (updated every tick).
        self.alerts = AlertBook()
        self._listeners: list[Listener] = []
        self._seen: set[str] = set()
        #: The holds auto-heal has said (HealNote.key): each is said once while it lasts.
        self._heal_notes: set[str] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        #: Instances whose automatic restart is under way (decided, maybe not yet sent).
        self._healing: set[str] = set()
        #: When auto-heal last tried each instance, sent or refused at the gate: it does
        #: not try again within the loop guard (a refusal is audited once, not each tick).
        self._heal_tried: dict[str, float] = {}
        self._outage: Outage | None = None
        self._outage_key: tuple[int, str] | None = None
        #: Idle hibernation's limit, set by the hub that carries it out (hub/hibernate.py);
        #: 0 everywhere else (the TUI alone never hibernates an instance).
        self.hibernate_after = 0.0

    # -- facts -----------------------------------------------------------------------

    @property
    def read_only(self) -> bool:
        """No action reaches the API."""
        return self.runner.read_only

    @property
    def paused(self) -> bool:
        return self.poller.paused

    @property
    def stale_basis(self) -> float:
        """The longest a healthy instance waits between polls: data older than two of
        these (plus a margin) is stale."""
        return max(self.poller.refresh, self.poller.steady_target or 0.0)

    @property
    def quiet_after(self) -> float:
        """Seconds a WORKING instance may show no activity before it is flagged (0: never)."""
        return self.config.monitor.quiet_after

    @property
    def where(self) -> str:
        """The API these statuses come from (and the proxy), for the context line."""
        return self.config.api.where

    @property
    def origin(self) -> str | None:
        """The context line names the config file (None: FleetMonitor's default)."""
        return None

    @property
    def labels(self) -> dict[str, str]:
        """Instance id -> label, for messages."""
        return {st.id: st.label for st in self.fleet}

    def state(self, instance_id: str) -> InstanceState:
        """What is known about one instance (read it; never write it)."""
        return self.fleet.get(instance_id)

    def outage(self) -> Outage | None:
        """The fleet-wide failure under way, if any (worked out again only when a fact it
        rests on changed: a fleet of steady polls does not walk every instance for it)."""
        key = (self.fleet.failure_revision, self.config.api.base_url)
        if self._outage_key != key:
            self._outage = detect(self.fleet, self.config.api.base_url)
            self._outage_key = key
        return self._outage

    def last_reply(self, instance_id: str) -> str | None:
        """The last reply the server gave for this instance, as it came (JSON pretty-printed,
        tokens redacted, escapes made visible), for a person to read; None before any."""
        reply = self.client.last_reply(instance_id)
        return None if reply is None else reply.shown()

    def problems(self) -> list[str]:
        """Why something the operator relies on is not being kept (audit log, history)."""
        return [p for p in (self.audit.error, self.history.error, self.history.warning) if p]

    # -- events ----------------------------------------------------------------------

    def subscribe(self, listener: Listener) -> None:
        """Call `listener` with every event from now on."""
        self._listeners.append(listener)

    def note(self, text: str, *, ok: bool = True, instance_id: str | None = None,
             told: bool = False) -> None:
        """A line for every subscriber's event log (a hub job's progress, say); `told`:
        a notification on every screen too."""
        self._emit(Note(text, ok, instance_id, told))

    def _emit(self, event: Event) -> None:
        for listener in list(self._listeners):
            listener(event)

    def _polled(self, instance_id: str, changed: bool) -> None:
        first = instance_id not in self._seen
        self._seen.add(instance_id)
        self._emit(Polled(instance_id, changed))
        if changed and not first:
            st = self.fleet.get(instance_id)
            word = UNREACHABLE if st.failures else \
                runbook.display_status(st, self.clock(), self.stale_basis)
            self._emit(StatusChanged(instance_id, word))

    # -- polling ---------------------------------------------------------------------

    async def run(self) -> None:
        """Poll forever (cancel to stop)."""
        await self.poller.run()

    async def refresh(self, ids: Iterable[str] | None = None, *,
                      deadline: float | None = None) -> set[str]:
        """Poll every instance (or `ids`) once now; returns those not finished within
        `deadline` seconds (their polls are cancelled)."""
        wanted = list(ids) if ids is not None else list(self.fleet.instances)
        # An instance whose configuration is unusable (no token) is never polled.
        wanted = [i for i in wanted if i in self.poller.configs]
        tasks = {i: asyncio.ensure_future(self.poller.poll_one(i)) for i in wanted}
        if not tasks:
            return set()
        _, unfinished = await asyncio.wait(tasks.values(), timeout=deadline)
        for task in unfinished:
            task.cancel()
        await asyncio.gather(*unfinished, return_exceptions=True)
        return {i for i, task in tasks.items() if task in unfinished}

    def pause(self, paused: bool) -> None:
        """Stop or resume polling; resuming polls what came due meanwhile."""
        self.poller.set_paused(paused)

    def explain_auto_heal(self) -> str:
        """What auto-heal would do on its own, with this monitor's limits (to ask first)."""
        text = autoheal.explain(self.heal_policy)
        if self.read_only:
            text += "\n\nREAD-ONLY: its actions are refused like yours; nothing reaches the API."
        return text

    def poll_interval(self, instance_id: str) -> float:
        """Seconds until this instance would be polled again, by the runbook's pace."""
        return self.poller.interval(instance_id)

    def next_poll(self, instance_id: str) -> float | None:
        """The runbook's pace for this instance, or None when it is never polled (no token)."""
        return self.poller.interval(instance_id) if instance_id in self.poller.configs else None

    def poke(self, instance_id: str, delay: float = 0.0) -> None:
        """Poll this instance soon."""
        self.poller.poke(instance_id, delay)

    # -- the heartbeat ---------------------------------------------------------------

    def tick(self) -> None:
        """Once a second: the alerts are brought up to date; auto-heal decides (when on
        and not paused) and acts."""
        outage = self.outage()
        changes = self.alerts.update(self.fleet, self.clock(), self.stale_basis, outage)
        if changes:
            self._emit(AlertsChanged(tuple(changes.fired), tuple(changes.resolved),
                                     tuple(changes.updated), tuple(changes.notices)))
        if not self.auto_heal or self.paused:
            return
        decisions, notes = autoheal.decide(self.fleet, self.clock(), self.heal_policy,
                                           outage=outage is not None, busy=self._healing,
                                           tried=self._heal_tried)
        for note in notes:
            if note.key not in self._heal_notes:
                self._emit(Note(note, ok=False))
        self._heal_notes = {note.key for note in notes}
        for decision in decisions:
            label = self.fleet.get(decision.instance_id).label
            verb = "starting" if decision.action == Action.START else "restarting"
            self._emit(Note(f"{label}: [auto] {verb} ({decision.reason})",
                            instance_id=decision.instance_id))
            self._healing.add(decision.instance_id)
            self._heal_tried[decision.instance_id] = self.clock()
            self._spawn(self._heal(decision.instance_id, decision.action))

    async def _heal(self, instance_id: str, action: str) -> None:
        try:
            report = await self.act(action, [instance_id], trigger=Trigger.AUTO)
        finally:
            self._healing.discard(instance_id)
        self._emit(Note(f"auto-heal: {report.summary(self.labels)}", ok=not report.failed))

    async def idle(self) -> None:
        """Wait until what the monitor started on its own (auto-heal restarts) is done."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    def _spawn(self, job: asyncio.Future[None] | object) -> None:
        task: asyncio.Task[None] = asyncio.ensure_future(job)  # type: ignore[arg-type]
        self._tasks.add(task)
        task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            exc = task.exception()
            _log.error("background job failed", exc_info=exc)
            self._emit(Note(f"internal error: {clean(type(exc).__name__)}: {clean(exc)}", ok=False))

    # -- actions ---------------------------------------------------------------------

    def auto_heal_refusal(self) -> str | None:
        """Why a person may not switch auto-heal here (read-only: refused and audited)."""
        return self.refuse_auto_heal() if self.read_only else None

    def refuse_auto_heal(self) -> str:
        """A person asked for auto-heal in read-only mode: refused, audited once; the
        reason to show."""
        self.audit.write(self.clock(), "action", action="auto-heal", instance_id=None, label=None,
                         outcome=str(AuditOutcome.REFUSED), detail=runbook.READ_ONLY,
                         auto=False, trigger=str(Trigger.MANUAL), status=None)
        return f"auto-heal refused: {runbook.READ_ONLY}"

    def record_refusals(self, action: str, refused: Iterable[Outcome], *,
                        trigger: Trigger = Trigger.MANUAL) -> None:
        """A person's key press was refused (for these instances): audited once, here,
        since nothing reaches the runner (a confirmation asks `check` every second)."""
        for outcome in refused:
            self.runner.audit_refusal(action, outcome.instance_id, outcome.message, trigger)

    def check(self, action: str, ids: Iterable[str]) -> ActionCheck:
        """What `action` on `ids` would do now: who is allowed, who refused and why."""
        allowed, refused = self.runner.check(action, ids)
        now = self.clock()
        warnings = list(dict.fromkeys(
            w for w in (runbook.check_action(self.fleet.get(i), action, now).warning
                        for i in allowed) if w))
        return ActionCheck(action, allowed, refused, warnings, CONSEQUENCES.get(action, ""))

    async def act(self, action: str, ids: Iterable[str], *,
                  trigger: Trigger = Trigger.MANUAL, by: str | None = None) -> Report:
        """Send a guarded action; the instances are polled again a second later.

        Each instance passes the one gate right before its request: a poll no older than
        a second (another operator's restart a moment ago shows as STARTING and counts),
        then the runbook's answer at that instant; a failed pre-poll refuses.
        """
        ids = list(ids)
        report = await self.runner.run(action, ids, trigger=trigger, by=by)
        for instance_id in ids:
            self.poller.poke(instance_id, delay=1.0)
        return report

    async def fetch_qr(self, instance_id: str, *, by: str | None = None) -> QrCode:
        """The current pairing QR of an instance in SCAN_QR_CODE (audited, with `by`)."""
        return await self.runner.fetch_qr(instance_id, by=by)

    async def request_code(self, instance_id: str, phone: str, *, by: str | None = None) -> str:
        """A pairing code for phone-number login, or the line saying why there is none."""
        return await self.runner.request_code(instance_id, phone, by=by)

    def rollout(self, state: RolloutState, *, state_path: Path | None,
                progress: Progress | None = None, continue_on_error: bool = False,
                sleep: Sleep = asyncio.sleep, trigger: Trigger = Trigger.ROLLOUT,
                by: str | None = None) -> Rollout:
        """A rolling operation in waves over this monitor (run it with `await r.run()`)."""
        return Rollout(state, self, clock=self.clock, progress=progress,
                       continue_on_error=continue_on_error, state_path=state_path, sleep=sleep,
                       trigger=trigger, by=by)

    async def aclose(self) -> None:
        """Cancel what the monitor started on its own (auto-heal restarts)."""
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def close(self) -> None:
        """`aclose`, then the client's connections (the end of a front end that owns both)."""
        await self.aclose()
        await self.client.aclose()
