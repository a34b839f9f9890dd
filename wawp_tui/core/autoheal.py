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
from wawp_tui.vocab import SERVER_SIDE_KINDS, Action, ErrorKind

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
    """Send `action` (a restart; a start for a session the server has unloaded) to
    `instance_id` because of `reason`."""

    instance_id: str
    reason: str
    action: str = Action.RESTART


def needs_heal(state: InstanceState) -> tuple[str, str] | None:
    """(action, why) when this instance calls for auto-heal, or None."""
    if state.status == FAILED and not state.failures:
        if runbook.qr_codes_ran_out(state):
            return None  # new codes with nobody at the phone would only cycle (up to 3 an hour)
        return Action.RESTART, "status FAILED"
    if state.failures and state.error_kind == ErrorKind.NOT_LOADED:
        return Action.START, "the session is not loaded (404)"
    if state.failures >= FAILURES_BEFORE_HEAL and state.error_kind in SERVER_SIDE_KINDS:
        return Action.RESTART, f"{state.failures} failed polls in a row ({state.error_kind})"
    return None


def auto_actions(state: InstanceState, since: float, action: str = Action.RESTART) -> list[float]:
    """Times of automatic `action`s sent to this instance after `since`."""
    return [e.at for e in state.history
            if e.auto and e.kind == "action" and e.subject == action and e.at >= since]


def decide(
    fleet: FleetState, now: float, policy: HealPolicy, *, outage: bool,
    busy: Collection[str] = (),
) -> tuple[list[HealDecision], list[str]]:
    """What to send now (at most one action: fleet-wide pacing), and notes on holds.

    With the outage banner up nothing is sent: a platform-wide failure is not fixed by
    restarting instances, and restarting them all would make it worse.
    """
    candidates = [(st, need) for st in fleet if (need := needs_heal(st))]
    if not candidates:
        return [], []
    if outage:
        return [], ["auto-heal holding: most of the fleet fails at once (outage?); restarts will not fix that"]
    recent = [t for st in fleet for a in (Action.RESTART, Action.START)
              for t in auto_actions(st, now - policy.fleet_pace, a)]
    if recent and now - max(recent) < policy.fleet_pace:
        return [], []
    notes: list[str] = []
    for st, (action, why) in sorted(candidates, key=lambda pair: runbook.rank(pair[0], now, 5.0)):
        if st.in_flight or st.id in busy:
            continue
        if action == Action.START:
            # Once: a start answered "not found" again means deleted or wrong id.
            if not auto_actions(st, now - 3600.0, Action.START) \
                    and runbook.check_action(st, Action.START, now).allowed:
                return [HealDecision(st.id, why, Action.START)], notes
            continue
        if auto_actions(st, now - runbook.RESTART_LOOP_GUARD):
            # Tried within the loop-guard window, whatever the server answered: a restart
            # it refused leaves no guard (nothing happened), but auto-heal does not hammer.
            continue
        if len(auto_actions(st, now - 3600.0)) >= policy.max_per_hour:
            notes.append(f"{st.label}: auto-heal gave up ({policy.max_per_hour} restarts this hour); needs a person")
            continue
        if runbook.check_action(st, Action.RESTART, now).allowed:
            return [HealDecision(st.id, why)], notes
    return [], notes


def explain(policy: HealPolicy) -> str:
    """What switching auto-heal on lets the monitor do with no one asked, with this
    policy's own numbers: for the confirmation before it is turned on."""
    guard = f"{runbook.RESTART_LOOP_GUARD:.0f} s"
    pace = f"{policy.fleet_pace:.0f} s"
    return (
        "Auto-heal acts on its own, with no further question:\n"
        f"• restarts an instance that is FAILED or failed {FAILURES_BEFORE_HEAL} polls in a row "
        f"(server side), as the runbook allows: not within the {guard} loop guard, never for "
        "SCAN_QR_CODE or a passkey, nor a FAILED whose QR codes ran out (they need the phone);\n"
        "• starts a session that is not loaded (404), once an hour.\n"
        f"At most one action every {pace} fleet-wide and {policy.max_per_hour} restarts of an "
        "instance an hour; it holds during an outage or a pause. A restart drops the "
        "instance's outbound queue. Every action is logged and audited."
    )
