"""What it takes to make the fleet match its [[schedules]] now, and doing it.

`plan` (pure): for each scheduled instance, meant STOPPED but running (or booting, or
FAILED) -> stop; meant running but STOPPED -> start. Never for an instance a person must
see to (waiting for the phone, or past the end of the runbook's ladder) and never on a
guess (no fresh status): those are listed with the reason.

`carry_out`: a plan through the rollout engine, in waves, each action through the one
gate (3 s between a stop and a start, the ladder's back-off), audited as
`schedule:<name>`. `wawp-tui schedule apply` (cron) and the hub's keeper
(wawp_tui/hub/keeper.py, at each change of a schedule) both run it: one code path.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from wawp_tui import schedules
from wawp_tui.core import runbook
from wawp_tui.core.fleet import FleetState, InstanceState
from wawp_tui.core.rollout import DEFAULT_WAVE, Progress, Rollout, RolloutState
from wawp_tui.core.rollout import plan as waves
from wawp_tui.models import FAILED, STARTING, STOPPED, WORKING
from wawp_tui.vocab import Action, Trigger

#: The rollout state of a schedule's changes, in the state folder: `schedule apply` and
#: the hub share it, so on one machine only one of them acts at a time (its run lock).
SCHEDULE_ROLLOUT = "schedule-rollout.json"


@dataclass
class Plan:
    """Per schedule name and action: the instances to act on; and who is left alone, why."""

    actions: dict[tuple[str, str], list[str]] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)

    @property
    def empty(self) -> bool:
        return not any(self.actions.values())

    def count(self, action: str) -> int:
        return sum(len(ids) for (_, act), ids in self.actions.items() if act == action)


def plan(fleet: FleetState, now: float, *, names: Collection[str] | None = None,
         since: float | None = None) -> Plan:
    """The stops and starts that make every scheduled instance (of the schedules `names`,
    or all) what it is meant to be.

    `since`: the schedule's change being carried out. An instance a person (or anyone)
    already stopped or started the other way after it is left as they set it: the hub
    acts at changes, and does not undo what was done since (until the next change)."""
    result = Plan()
    for st in fleet:
        meant = runbook.meant(st, now)
        if meant is None or st.schedule is None:
            continue
        if names is not None and st.schedule.name not in names:
            continue
        if st.failures or st.status is None:
            result.skipped[st.id] = f"no fresh status ({st.last_error or 'not polled yet'})"
            continue
        person = runbook.needs_a_person(st, now)
        if meant.running:
            wanted = Action.START if st.status == STOPPED else None
        else:
            wanted = Action.STOP if st.status in (WORKING, STARTING, FAILED) else None
        if wanted is None:
            if not meant.running and runbook.needs_person(st.status):
                result.skipped[st.id] = f"{st.status}: {runbook.needs_person(st.status)}"
            continue
        if person is not None and wanted == Action.START:
            result.skipped[st.id] = person
            continue
        undone = _set_since(st, wanted, since, now) if since is not None else None
        if undone is not None:
            result.skipped[st.id] = undone
            continue
        result.actions.setdefault((st.schedule.name, str(wanted)), []).append(st.id)
    return result


def _set_since(st: InstanceState, wanted: str, since: float, now: float) -> str | None:
    """Why an instance was set the other way after the change `since`, or None."""
    other = Action.START if wanted == Action.STOP else Action.STOP
    at = st.last_action_at.get(str(other))
    if at is None or at < since or st.schedule is None:
        return None
    verb = "started" if other == Action.START else "stopped"
    change = schedules.describe_time(since, st.schedule.zone, now)
    return (f"{verb} {runbook.fmt_ago(now - at)} ago, after the change of {change}: left as it "
            "was set until the next change")


class Keeper(Protocol):
    """What carrying out a plan needs of a monitor: its rollouts."""

    def rollout(self, state: RolloutState, *, state_path: Path | None,
                progress: Progress | None = None, continue_on_error: bool = False,
                trigger: Trigger = Trigger.ROLLOUT, by: str | None = None) -> Rollout: ...


async def carry_out(monitor: Keeper, todo: Plan, *, wave: int = DEFAULT_WAVE,
                    state_path: Path | None,
                    progress: Callable[[str, str], None] = lambda name, line: None) -> list[RolloutState]:
    """Run a plan: per schedule and action one rollout in waves, the stops first (a start
    after a stop of the same instance waits the runbook's 3 s), each action through the
    gate, audited with trigger `schedule` and by `schedule:<name>`; `progress(name, line)`
    hears each rollout's lines. The rollouts' final states, in order. RolloutBusy (another
    rollout holds `state_path` on this machine) is the caller's to say."""
    finals = []
    for (name, action), ids in _ordered(todo.actions.items()):
        def said(line: str, name: str = name) -> None:
            progress(name, line)

        rollout = monitor.rollout(waves(action, ids, wave), state_path=state_path, progress=said,
                                  continue_on_error=True, trigger=Trigger.SCHEDULE,
                                  by=f"schedule:{name}")
        finals.append(await rollout.run())
    return finals


def _ordered(items: Iterable[tuple[tuple[str, str], list[str]]]) -> list[tuple[tuple[str, str], list[str]]]:
    return sorted(items, key=lambda kv: kv[0][1] != Action.STOP)


def all_done(finals: Iterable[RolloutState]) -> bool:
    """Every rollout of a plan reached its end with nothing failed."""
    return all(final.status == "done" and not final.failed for final in finals)
