"""What it takes to make the fleet match its [[schedules]] now. Pure.

For each scheduled instance: meant STOPPED but running (or booting, or FAILED) -> stop;
meant running but STOPPED -> start. Never for an instance a person must see to (waiting
for the phone, or past the end of the runbook's ladder) and never on a guess (no fresh
status): those are listed with the reason. `schedule apply` and the hub run the result
through the rollout engine and the one gate.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from wawp_tui.core import runbook
from wawp_tui.core.fleet import FleetState
from wawp_tui.models import FAILED, STARTING, STOPPED, WORKING
from wawp_tui.vocab import Action


@dataclass
class Plan:
    """Per schedule name and action: the instances to act on; and who is left alone, why."""

    actions: dict[tuple[str, str], list[str]] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)

    @property
    def empty(self) -> bool:
        return not any(self.actions.values())


def plan(fleet: FleetState, now: float) -> Plan:
    """The stops and starts that make every scheduled instance what it is meant to be."""
    result = Plan()
    for st in fleet:
        meant = runbook.meant(st, now)
        if meant is None or st.schedule is None:
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
        result.actions.setdefault((st.schedule.name, str(wanted)), []).append(st.id)
    return result
