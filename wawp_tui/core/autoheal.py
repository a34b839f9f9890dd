"""Auto-heal decisions (opt-in): which instance to restart now, if any. Pure.

The documentation's rule: after three consecutive failures, or when info shows FAILED, a
restart fixes most transient problems. Every runbook rule still applies (never for
SCAN_QR_CODE, never inside the 60 s loop guard), plus limits of its own so that a mass
failure never becomes a restart storm.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from wawp_tui.core import runbook
from wawp_tui.core.fleet import FleetState, InstanceState
from wawp_tui.models import FAILED
from wawp_tui.vocab import SERVER_SIDE_KINDS

#: Poll failures in a row (server-side kinds only) that call for a restart.
FAILURES_BEFORE_HEAL = 3


@dataclass(frozen=True)
class HealPolicy:
    """Limits on automatic restarts."""

    #: Automatic restarts of one instance within an hour.
    max_per_hour: int = 3
    #: Seconds between two automatic restarts anywhere in the fleet.
    fleet_pace: float = 10.0


@dataclass(frozen=True)
class HealDecision:
    """Restart `instance_id` because of `reason`."""

    instance_id: str
    reason: str


def needs_heal(state: InstanceState) -> str | None:
    """Why this instance calls for a restart, or None."""
    if state.status == FAILED and not state.failures:
        return "status FAILED"
    if state.failures >= FAILURES_BEFORE_HEAL and state.error_kind in SERVER_SIDE_KINDS:
        return f"{state.failures} failed polls in a row ({state.error_kind})"
    return None


def auto_restarts(state: InstanceState, since: float) -> list[float]:
    """Times of automatic restarts of this instance after `since`."""
    return [e.at for e in state.history
            if e.auto and e.kind == "action" and e.subject == "restart" and e.at >= since]


def decide(
    fleet: FleetState, now: float, policy: HealPolicy, *, outage: bool,
    busy: Collection[str] = (),
) -> tuple[list[HealDecision], list[str]]:
    """The restarts to send now (at most one: fleet-wide pacing), and notes on holds.

    With the outage banner up nothing is restarted: a platform-wide failure is not
    fixed by restarting instances, and restarting them all would make it worse.
    """
    candidates = [(st, why) for st in fleet if (why := needs_heal(st))]
    if not candidates:
        return [], []
    if outage:
        return [], ["auto-heal holding: most of the fleet fails at once (outage?); restarts will not fix that"]
    last_auto = max((t for st in fleet for t in auto_restarts(st, now - policy.fleet_pace)), default=None)
    if last_auto is not None and now - last_auto < policy.fleet_pace:
        return [], []
    notes = []
    for st, why in sorted(candidates, key=lambda pair: runbook.rank(pair[0], now, 5.0)):
        if st.in_flight or st.id in busy:
            continue
        if auto_restarts(st, now - runbook.RESTART_LOOP_GUARD):
            # Tried within the loop-guard window, whatever the server answered: a restart
            # it refused leaves no guard (nothing happened), but auto-heal does not hammer.
            continue
        if len(auto_restarts(st, now - 3600.0)) >= policy.max_per_hour:
            notes.append(f"{st.label}: auto-heal gave up ({policy.max_per_hour} restarts this hour); needs a person")
            continue
        verdict = runbook.check_action(st, "restart", now)
        if not verdict.allowed:
            continue
        return [HealDecision(st.id, why)], notes
    return [], notes
