"""The hub keeps the [[schedules]]: at each change of a schedule (a window's start or
end) it makes the schedule's instances what they are meant to be.

At a change it polls the schedule's instances, plans with `core.desired.plan` and runs
the plan with `core.desired.carry_out`: the rollout engine in waves, each action through
the one gate (3 s between a stop and a start, nothing on SCAN_QR_CODE, the ladder's
back-off; decided at the moment of sending), audited with `by: "schedule:<name>"`, and
said on the hub's stream ("schedule support hours: stopping 12 instances").

Only at changes. Between two changes the hub does not undo what a person did by hand
(an instance started at 20:00 for an urgent customer runs until the next change; the
screens show it "running outside its schedule").

The hub remembers the last change it carried out per schedule (wawp_tui/hub/book.py), so:
- a change is carried out once, whatever the clock does (days of 23 and 25 hours, a
  restart, a clock read twice);
- a change that passed while the hub was down is carried out when it comes back (the
  latest one only: the fleet is made what is meant now), and said so: "missed while the
  hub was down: ...". An instance someone set the other way after that change (as far
  as the hub can tell: actions it saw, or the server reported) is left as it is;
- a hub that has no memory of a schedule (its first start with it, or a damaged file)
  acts from its next change, and says so: it cannot tell a change it missed from an
  instance a person set by hand, and does nothing on a guess.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from wawp_tui import schedules
from wawp_tui.config import Config
from wawp_tui.core import DEFAULT_WAVE, Monitor, RolloutBusy, runbook
from wawp_tui.core.desired import SCHEDULE_ROLLOUT, Plan, carry_out, plan
from wawp_tui.hub.book import FILE_NAME, Book
from wawp_tui.hub.hibernate import Hibernator
from wawp_tui.hub.jobs import Job
from wawp_tui.safe_text import clean
from wawp_tui.schedules import Schedule
from wawp_tui.vocab import Action, plural

_log = logging.getLogger(__name__)

#: Seconds between two looks at the clock: a change is carried out within this of its
#: instant (a look costs a comparison until a change is due).
EVERY = 0.25
#: Seconds before a change that could not run (another rollout held the lock) is tried again.
RETRY = 10.0
#: Seconds the polls at a change may take, at least.
POLL_DEADLINE = 30.0


@dataclass
class ScheduleKeeper:
    """The job that keeps the schedules (see the module docstring)."""

    book: Book
    #: The rollout state file (its run lock keeps `schedule apply` from acting at once).
    rollout_path: Path | None
    wave: int = DEFAULT_WAVE
    #: The hub's clock when the keeper first ran: a change before it was missed.
    started_at: float | None = None
    #: Looks at the clock so far (tests wait on it).
    runs: int = 0
    _schedules: dict[str, Schedule] = field(default_factory=dict)
    #: Per schedule: nothing can be due before this instant (the next change, or a retry).
    _quiet_until: dict[str, float] = field(default_factory=dict)
    _looked_at: dict[str, float] = field(default_factory=dict)
    _said: set[str] = field(default_factory=set)

    def job(self) -> Job:
        return Job("schedules", EVERY, self.run, at_start=True)

    async def run(self, monitor: Monitor) -> None:
        now = monitor.clock()
        if self.started_at is None:
            self._begin(monitor, now)
        if not monitor.read_only:
            for schedule in self._schedules.values():
                await self._look(monitor, schedule, monitor.clock())
        self.runs += 1

    def _begin(self, monitor: Monitor, now: float) -> None:
        self.started_at = now
        self.book.load()
        if self.book.error:
            self._say(monitor, f"schedules: {self.book.error}", ok=False)
        self._schedules = {st.schedule.name: st.schedule for st in monitor.fleet
                           if st.schedule is not None}
        if not self._schedules:
            return
        if monitor.read_only:
            self._say(monitor, "schedules: read-only: the hub does not keep them (nothing is "
                               "sent); `wawp-tui schedule show` lists their changes", ok=False)
            return
        for schedule in self._schedules.values():
            if self.book.carried(schedule.name) is not None:
                continue
            # No memory of this schedule: act from its next change (see the docstring).
            last = schedules.last_transition(schedule, now)
            if last is not None:
                self.book.carry(schedule.name, last[0], last[1], now)
            coming = schedules.transitions(schedule, now, 1)
            when = f"its next change ({_change(schedule, *coming[0], now)})" if coming else \
                "its next change"
            self._say(monitor, f"schedule {schedule.name}: kept from {when}; the hub has no record "
                               "of an earlier change of it carried out, so it leaves the instances "
                               "as they are now (`wawp-tui schedule apply` makes them match now)")

    async def _look(self, monitor: Monitor, schedule: Schedule, now: float) -> None:
        name = schedule.name
        quiet, looked = self._quiet_until.get(name), self._looked_at.get(name)
        if quiet is not None and looked is not None and looked <= now < quiet:
            return  # nothing can be due yet (a clock set back looks again)
        self._looked_at[name] = now
        carried = self.book.carried(name)
        change = schedules.due(schedule, carried.at if carried is not None else None, now)
        if change is not None:
            if not await self._carry_out(monitor, schedule, change):
                self._quiet_until[name] = now + RETRY
                return
            now = monitor.clock()
            self._looked_at[name] = now
        until = schedules.meant(schedule, now).until
        self._quiet_until[name] = until if until is not None else float("inf")

    async def _carry_out(self, monitor: Monitor, schedule: Schedule, change: tuple[float, bool]) -> bool:
        """Carry out one change; False when it must be tried again (another rollout ran)."""
        at, running = change
        name = schedule.name
        members = [st.id for st in monitor.fleet if st.schedule is not None and st.schedule.name == name]
        await monitor.refresh(members, deadline=max(POLL_DEADLINE, 2 * monitor.config.api.timeout))
        now = monitor.clock()
        todo = plan(monitor.fleet, now, names={name}, since=at)
        missed = self.started_at is not None and at < self.started_at
        self._say(monitor, _headline(schedule, at, running, todo, len(members), now, missed), told=True)
        for instance_id, why in todo.skipped.items():
            self._say(monitor, f"schedule {name}: {monitor.state(instance_id).label}: left alone: {why}",
                      instance_id=instance_id)
        try:
            finals = await carry_out(monitor, todo, wave=self.wave, state_path=self.rollout_path,
                                     progress=lambda n, line: self._progress(monitor, n, line))
        except RolloutBusy as exc:
            key = f"busy:{name}:{at}"
            if key not in self._said:
                self._said.add(key)
                self._say(monitor, f"schedule {name}: {exc}; the hub tries again every "
                                   f"{RETRY:g}s", ok=False)
            return False
        done = monitor.clock()
        self.book.carry(name, at, running, done)
        if self.book.error and f"book:{self.book.error}" not in self._said:
            self._said.add(f"book:{self.book.error}")
            self._say(monitor, f"schedules: {self.book.error}: a restart may carry out this change "
                               "again", ok=False)
        failed = sum(len(f.failed) for f in finals)
        monitor.audit.write(done, "schedule", schedule=clean(name, 60), change="start" if running else "stop",
                            change_at=datetime.fromtimestamp(at, schedule.zone).isoformat(),
                            missed=missed, by=f"schedule:{clean(name, 60)}",
                            actions=todo.count(Action.START if running else Action.STOP),
                            left_alone=len(todo.skipped), failed=failed)
        return True

    def _progress(self, monitor: Monitor, name: str, line: str) -> None:
        self._say(monitor, f"schedule {name}: {line.strip()}")

    def _say(self, monitor: Monitor, text: str, *, ok: bool = True, instance_id: str | None = None,
             told: bool = False) -> None:
        _log.info("%s", text)
        monitor.note(clean(text, 500), ok=ok, instance_id=instance_id, told=told)


def _change(schedule: Schedule, at: float, running: bool, now: float) -> str:
    """ "start Mon 09:00 Europe/London" (the time in the schedule's zone)."""
    zone = schedule.zone_name or "local time"
    when = datetime.fromtimestamp(at, schedule.zone)
    day = schedules.DAY_NAMES[when.weekday()]
    date = "" if abs(at - now) < 6.5 * 86400 else f" {when.day} {when:%b}"
    return f"{'start' if running else 'stop'} {day}{date} {when:%H:%M} {zone}"


def _headline(schedule: Schedule, at: float, running: bool, todo: Plan, members: int, now: float,
              missed: bool) -> str:
    """ "schedule support hours: stopping 12 instances (stop Mon 18:00 Europe/London)"."""
    action = Action.START if running else Action.STOP
    count = todo.count(action)
    change = _change(schedule, at, running, now)
    if count:
        doing = f"{'starting' if running else 'stopping'} {plural(count, 'instance')}"
    else:
        doing = f"nothing to do: {plural(members, 'instance')} already as meant or left alone"
    if missed:
        return (f"missed while the hub was down: schedule {schedule.name}: {doing} ({change}, "
                f"{runbook.fmt_ago(now - at)} ago; still meant {'running' if running else 'STOPPED'})")
    return f"schedule {schedule.name}: {doing} ({change})"


def keep_schedules(book: Book, state_folder: Path | None, wave: int = DEFAULT_WAVE) -> ScheduleKeeper:
    """The keeper of a hub whose state lives in `state_folder` (None: in memory, the demo)."""
    return ScheduleKeeper(book, state_folder / SCHEDULE_ROLLOUT if state_folder is not None else None, wave)


def hub_jobs(config: Config, state_folder: Path | None) -> list[Job]:
    """A hub's keepers: its [[schedules]] (when any instance follows one), and idle
    hibernation (when `[monitor] idle_stop_after` is set); they share one Book."""
    book = Book(state_folder / FILE_NAME if state_folder is not None else None)
    jobs = []
    if any(i.schedule is not None for i in config.instances):
        jobs.append(keep_schedules(book, state_folder).job())
    if config.monitor.idle_stop_after > 0:
        jobs.append(Hibernator(book, config.monitor.idle_stop_after).job())
    return jobs
