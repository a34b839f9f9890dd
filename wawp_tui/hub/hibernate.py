"""Idle hibernation (opt-in, the hub only: `[monitor] idle_stop_after = "72h"`).

The Stop Session page's SaaS advice: an instance nobody used for 72 hours is stopped, to
save resources. The hub stops a WORKING instance whose last sign of activity is older
than `idle_stop_after`, through the one gate, audited with trigger and by `hibernate`,
said on the stream. The rule is the runbook's (`runbook.hibernates_at`), so every screen
attached to the hub shows the same "hibernates in 2h" before it happens.

Activity is what the API offers: the server's `timestamps.activity` (WAHA's engines
report it in the session info) and the message events (`message`, `message.any`) that
reach the hub's /webhooks/wawp. An instance with neither is never hibernated: its
idleness cannot be seen (fail safe). Never an instance tagged `keep-awake`, nor one that
follows a [[schedules]] entry (the schedule says when it runs).

A hibernated instance reads HIBERNATED (meant to be off, not a problem) until it runs
again. Waking it is its owner's: the API has no hook that starts an instance when a
message arrives for it (a stopped instance receives no webhooks), so the owner's app
starts it (`/v2/session/start`) when its user comes back.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from wawp_tui.core import Monitor, runbook
from wawp_tui.core.fleet import FleetState, InstanceState
from wawp_tui.hub.book import Book
from wawp_tui.hub.jobs import Job
from wawp_tui.models import STOPPED, WORKING
from wawp_tui.safe_text import clean
from wawp_tui.vocab import Action, Trigger, plural

#: Seconds between two looks (hibernation is counted in hours).
EVERY = 5.0
#: Stops sent per look at most: a fleet of thousands idle at once (the first start with
#: hibernation on) is stopped over minutes, not in one burst.
BATCH = 20
#: Seconds before an instance the gate refused is tried again (its refusal is audited
#: once per try, not every look).
RETRY = 60.0
#: Labels named in one line.
NAMED = 6
BY = "hibernate"


def upcoming(fleet: FleetState, after: float) -> list[tuple[float, str]]:
    """(when, id) of every instance idle hibernation will stop if it stays idle, soonest
    first (the hub's fleet API lists them)."""
    found = [(at, st.id) for st in fleet if (at := runbook.hibernates_at(st, after)) is not None]
    found.sort()
    return found


@dataclass
class Hibernator:
    """The job that hibernates idle instances (see the module docstring)."""

    book: Book
    after: float
    #: Seconds between looks.
    every: float = EVERY
    runs: int = 0
    _begun: bool = False
    _tried: dict[str, float] = field(default_factory=dict)
    _told_blind: bool = False
    #: Stopped by us, not yet seen STOPPED (the reply may not carry the status): id -> when.
    _pending: dict[str, float] = field(default_factory=dict)

    def job(self) -> Job:
        return Job("hibernation", self.every, self.run, at_start=True)

    async def run(self, monitor: Monitor) -> None:
        if not self._begun:
            self._begin(monitor)
        if not monitor.read_only:
            self._forget_woken(monitor)
            self._settle(monitor)
            self._tell_blind(monitor)
            await self._hibernate(monitor)
        self.runs += 1

    def _begin(self, monitor: Monitor) -> None:
        self._begun = True
        self.book.load()
        if monitor.read_only:
            monitor.note("idle hibernation: read-only: no instance is stopped", ok=False)
            return
        monitor.hibernate_after = self.after
        for instance_id, at in self.book.hibernated.items():
            monitor.fleet.mark_hibernated(instance_id, at)
        monitor.note(f"idle hibernation on: a WORKING instance with no activity for "
                     f"{runbook.fmt_duration(self.after)} is stopped (by {BY}); never one tagged "
                     f"{runbook.KEEP_AWAKE}, one that follows a schedule, or one whose activity "
                     "the server does not report; its owner starts it again")

    def _forget_woken(self, monitor: Monitor) -> None:
        """Instances hibernated earlier that run again (their owner started them)."""
        woken = {i for i in self.book.hibernated if i in monitor.fleet.instances
                 and (st := monitor.state(i)).status is not None and st.status != STOPPED}
        self.book.forget(woken)

    def _tell_blind(self, monitor: Monitor) -> None:
        """Once every instance has been polled: how many can never be hibernated for want
        of an activity signal (said once, so nobody waits for it to happen)."""
        if self._told_blind or any(st.status is None and not st.failures for st in monitor.fleet):
            return
        self._told_blind = True
        blind = [st for st in monitor.fleet if st.status == WORKING and not st.failures
                 and st.schedule is None and runbook.KEEP_AWAKE not in st.tags
                 and runbook.last_activity(st) is None]
        if blind:
            monitor.note(f"idle hibernation: no activity signal from {plural(len(blind), 'WORKING instance')} "
                         f"({_names(blind)}): the server reports no timestamps.activity and no message "
                         "webhook reached the hub, so it cannot see them idle and never hibernates them",
                         ok=False)

    async def _hibernate(self, monitor: Monitor) -> None:
        now = monitor.clock()
        due = [i for at, i in upcoming(monitor.fleet, self.after) if at <= now
               and monitor.state(i).in_flight is None and now - self._tried.get(i, -RETRY) >= RETRY]
        if not due:
            return
        ids = due[:BATCH]
        # The idleness is checked again on a poll of its own (a message may just have come),
        # then the gate polls once more right before each stop.
        await monitor.refresh(ids, deadline=max(30.0, 2 * monitor.config.api.timeout))
        now = monitor.clock()
        still = [i for i in ids if (at := runbook.hibernates_at(monitor.state(i), self.after)) is not None
                 and at <= now]
        if not still:
            return
        for instance_id in still:
            self._tried[instance_id] = now
        states = [monitor.state(i) for i in still]
        monitor.note(f"hibernate: stopping {plural(len(still), 'instance')} idle for "
                     f"{runbook.fmt_duration(self.after)} or more: {_names(states)}", told=True)
        report = await monitor.act(Action.STOP, still, trigger=Trigger.HIBERNATE, by=BY)
        done = monitor.clock()
        for outcome in report.outcomes:
            if outcome.ok:
                self._pending[outcome.instance_id] = done
                self._tried.pop(outcome.instance_id, None)
        self._settle(monitor)
        monitor.note(f"hibernate: {report.summary(monitor.labels)}", ok=not report.failed)

    def _settle(self, monitor: Monitor) -> None:
        """Instances we stopped, once seen STOPPED: hibernated (remembered across a restart).
        One not STOPPED within RETRY was started again meanwhile, or never stopped: not ours."""
        now = monitor.clock()
        settled = {}
        for instance_id, at in list(self._pending.items()):
            st = monitor.state(instance_id)
            if st.status == STOPPED:
                monitor.fleet.mark_hibernated(instance_id, at)
                monitor.poke(instance_id)  # a poll tells the screens (HIBERNATED) at once
                settled[instance_id] = at
            elif now - at < RETRY:
                continue
            del self._pending[instance_id]
        if settled:
            self.book.hibernate_many(settled)


def _names(states: list[InstanceState]) -> str:
    shown = ", ".join(clean(st.label, 60) for st in states[:NAMED])
    return shown + (f" and {len(states) - NAMED} more" if len(states) > NAMED else "")
