"""Auto-heal decisions with a fake clock: once, not inside the guard, capped, paced, held in outages."""

from wawp_tui.core.autoheal import HealPolicy, decide
from wawp_tui.core.fleet import FleetState
from wawp_tui.models import InstanceConfig, Secret

T0 = 1_800_000_000.0


class Clock:
    now = T0

    def __call__(self):
        return self.now


def fleet_of(statuses):
    clock = Clock()
    fleet = FleetState([InstanceConfig(f"I{n}", f"inst {n}", Secret("x")) for n in range(len(statuses))], clock)
    for n, status in enumerate(statuses):
        fleet.apply_poll_ok(f"I{n}", status, None, 3)
    return fleet, clock


def heal(fleet, clock, policy=HealPolicy(), outage=False):
    decisions, notes = decide(fleet, clock(), policy, outage=outage)
    for d in decisions:
        fleet.apply_action_sent(d.instance_id, "restart", auto=True)
    return [d.instance_id for d in decisions], notes


def test_failed_is_restarted_once_then_guarded():
    fleet, clock = fleet_of(["FAILED", "WORKING"])
    assert heal(fleet, clock)[0] == ["I0"]
    clock.now += 30
    fleet.apply_poll_ok("I0", "FAILED", None, 3)
    assert heal(fleet, clock)[0] == []  # inside the 60 s loop guard
    clock.now += 31
    fleet.apply_poll_ok("I0", "FAILED", None, 3)
    assert heal(fleet, clock)[0] == ["I0"]


def test_auto_heal_stops_where_the_ladder_ends_then_tries_once_after_the_back_off():
    """Restart, restart, restart (each after the 60 s loop guard): the ladder is used up and
    it is still FAILED, so it needs a person: nothing for the 5 min back-off, then one try."""
    fleet, clock = fleet_of(["FAILED"])
    sent_at, notes_seen = [], []
    for _ in range(10):
        ids, notes = heal(fleet, clock)
        sent_at += [clock.now - T0 for _ in ids]
        notes_seen += notes
        clock.now += 61
        fleet.apply_poll_ok("I0", "FAILED", None, 3)
    assert sent_at == [0, 61, 122, 488]  # held from 182 (122 + 60) to 482 (+5 min)
    assert any("auto-heal stopped: needs a person" in n for n in notes_seen)


def test_never_for_scan_qr_code_or_working():
    fleet, clock = fleet_of(["SCAN_QR_CODE", "WORKING", "STOPPED"])
    assert heal(fleet, clock) == ([], [])


def test_never_for_a_failed_whose_qr_codes_ran_out():
    """New codes with nobody at the phone would only cycle; a FAILED that came another way
    is still restarted, and the advice for the person still names the restart."""
    from wawp_tui.core import runbook

    fleet, clock = fleet_of(["SCAN_QR_CODE", "WORKING"])
    clock.now += 180
    fleet.apply_poll_ok("I0", "FAILED", None, 3)
    fleet.apply_poll_ok("I1", "FAILED", None, 3)
    assert heal(fleet, clock)[0] == ["I1"]
    clock.now += 11
    assert heal(fleet, clock)[0] == []
    advice = runbook.advise(fleet.get("I0"), clock(), 5.0)
    assert "QR codes ran out" in advice.meaning and advice.key == "r"


def test_failing_polls_never_trigger_a_restart():
    """A failed poll says nothing of what the instance does now (another operator's
    restart reads as 502s): the gate fails closed, and auto-heal does not ask."""
    fleet, clock = fleet_of(["WORKING", "WORKING"])
    for _ in range(3):
        fleet.apply_poll_error("I0", "bad_gateway", "bad gateway (502)", 3)
        fleet.apply_poll_error("I1", "unauthorized", "access token rejected (401)", 3)
    assert heal(fleet, clock)[0] == []


def test_fleet_wide_pacing_and_outage_hold():
    fleet, clock = fleet_of(["FAILED"] * 5)
    assert len(heal(fleet, clock)[0]) == 1
    assert heal(fleet, clock)[0] == []  # paced: one per 10 s fleet-wide
    clock.now += 10
    assert len(heal(fleet, clock)[0]) == 1
    clock.now += 10
    ids, notes = heal(fleet, clock, outage=True)
    assert ids == [] and "outage" in notes[0]


def test_auto_heal_says_once_that_it_stopped_not_once_a_second():
    """An instance that needs a person, auto-heal on, a tick a second for a minute: one
    line in the event log (with the back-off at that moment), not sixty."""
    from tests.conftest import FakeClock, make_config
    from wawp_tui.core import Monitor
    from wawp_tui.core.events import Note
    from wawp_tui.simulator import build_scenario

    clock = FakeClock()
    sims = build_scenario("healthy", seed=3, instances=2, clock=clock)
    monitor = Monitor(make_config("http://127.0.0.1:9", sims), None, clock=clock)
    notes = []
    monitor.subscribe(lambda event: notes.append(event.text) if isinstance(event, Note) else None)
    fleet, held, other = monitor.fleet, sims[0].id, sims[1].id

    def polled(status):
        fleet.apply_poll_ok(held, status, None, 3)
        fleet.apply_poll_ok(other, "WORKING", None, 3)

    polled("FAILED")
    for _ in range(3):
        fleet.apply_action_sent(held, "restart")
        fleet.apply_action_result(held, "restart", True, "", status="FAILED")
        clock.advance(61)
    polled("FAILED")
    monitor.auto_heal = True
    for _ in range(60):
        monitor.tick()
        clock.advance(1)
        polled("FAILED")
    assert len(notes) == 1 and "auto-heal stopped: needs a person" in notes[0], notes
    assert "back-off 4m59s" in notes[0]  # held from 60 s after the last restart
