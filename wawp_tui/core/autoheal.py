"""Auto-heal decisions (opt-in): which instance to act on now, if any. Pure.

The documentation's rule: when info shows FAILED, a restart fixes most transient problems.
Every runbook rule still applies, through the runbook's one answer (never for SCAN_QR_CODE
or a passkey, never inside the loop guard, never past the end of the ladder: once an
instance needs a person, auto-heal stops and says so), plus limits of its own so that a
mass failure never becomes a restart storm.

The documentation's other trigger, "three consecutive failed polls", is not used: a poll
that fails says nothing of what the instance is doing now (another operator's restart
often reads as 502s), and the one gate refuses to send on a failed poll (fail closed).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass

from wawp_tui.core import runbook
from wawp_tui.core.fleet import FleetState, InstanceState
from wawp_tui.models import FAILED
from wawp_tui.vocab import Action, ErrorKind


@dataclass(frozen=True)
class HealPolicy:
    """Limits on automatic actions."""

    #: Seconds between two automatic actions anywhere in the fleet.
    fleet_pace: float = 10.0


class HealNote(str):
    """A note on why auto-heal holds, said once while its reason lasts: the text quotes
    the countdown at that moment, `key` names the hold without it (so a back-off of an
    hour is one line in the event log, not one a second)."""

    key: str

    def __new__(cls, text: str, key: str) -> HealNote:
        note = super().__new__(cls, text)
        note.key = key
        return note


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
            return None  # new codes with nobody at the phone would only cycle
        return Action.RESTART, "status FAILED"
    if state.failures and state.error_kind == ErrorKind.NOT_LOADED:
        return Action.START, "the session is not loaded (404)"
    return None


def auto_actions(state: InstanceState, since: float, action: str = Action.RESTART) -> list[float]:
    """Times of automatic `action`s sent to this instance after `since`."""
    return [e.at for e in state.history
            if e.auto and e.kind == "action" and e.subject == action and e.at >= since]


def decide(
    fleet: FleetState, now: float, policy: HealPolicy, *, outage: bool,
    busy: Collection[str] = (), tried: Mapping[str, float] | None = None,
) -> tuple[list[HealDecision], list[HealNote]]:
    """What to send now (at most one action: fleet-wide pacing), and notes on holds.

    With the outage banner up nothing is sent: a platform-wide failure is not fixed by
    restarting instances, and restarting them all would make it worse. `tried`: when
    auto-heal last tried each instance (sent, or refused at the gate).
    """
    candidates = [(st, need) for st in fleet if (need := needs_heal(st))]
    if not candidates:
        return [], []
    if outage:
        text = "auto-heal holding: most of the fleet fails at once (outage?); restarts will not fix that"
        return [], [HealNote(text, "outage")]
    last_tries = tried or {}
    recent = [t for t in last_tries.values() if now - t < policy.fleet_pace]
    recent += [t for st in fleet for a in (Action.RESTART, Action.START)
               for t in auto_actions(st, now - policy.fleet_pace, a)]
    if recent and now - max(recent) < policy.fleet_pace:
        return [], []
    notes: list[HealNote] = []
    for st, (action, why) in sorted(candidates, key=lambda pair: runbook.rank(pair[0], now, 5.0)):
        if st.in_flight or st.id in busy:
            continue
        person = runbook.needs_a_person(st, now)
        if person is not None:
            notes.append(HealNote(f"{st.label}: auto-heal stopped: {person}", f"{st.id} stopped"))
            continue
        verdict = runbook.check_action(st, action, now)
        if action == Action.START:
            # Once an hour: a start answered "not found" again means deleted or wrong id.
            if not auto_actions(st, now - 3600.0, Action.START) and verdict.allowed:
                return [HealDecision(st.id, why, Action.START)], notes
            continue
        attempt = last_tries.get(st.id)
        if auto_actions(st, now - runbook.RESTART_LOOP_GUARD) or \
                (attempt is not None and now - attempt < runbook.RESTART_LOOP_GUARD):
            # Tried within the loop-guard window, whatever the server (or the gate)
            # answered: a restart refused leaves no guard, but auto-heal does not hammer.
            continue
        if verdict.guard in ("ladder_end", "ladder_rate"):
            notes.append(HealNote(f"{st.label}: auto-heal waits: {verdict.reason}",
                                  f"{st.id} waits {verdict.guard}"))
            continue
        if verdict.allowed:
            return [HealDecision(st.id, why)], notes
    return [], notes


def explain(policy: HealPolicy) -> str:
    """What switching auto-heal on lets the monitor do with no one asked, with this
    policy's own numbers: for the confirmation before it is turned on."""
    guard = f"{runbook.RESTART_LOOP_GUARD:.0f} s"
    pace = f"{policy.fleet_pace:.0f} s"
    return (
        "Auto-heal acts on its own, with no further question:\n"
        "• restarts an instance that is FAILED, as the runbook allows: not within the "
        f"{guard} loop guard, never for SCAN_QR_CODE or a passkey, nor a FAILED whose QR codes "
        "ran out (they need the phone);\n"
        "• starts a session that is not loaded (404), once an hour.\n"
        "It follows the runbook's ladder (restart, one more restart, full reset) and stops "
        "where the ladder ends: an instance that needs a person is left to a person, with a "
        "back-off of 5 min doubling to 1 h. "
        f"At most one action every {pace} fleet-wide; it holds during an outage or a pause. "
        "A restart drops the instance's outbound queue. Every action is logged and audited."
    )
