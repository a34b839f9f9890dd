"""Every runbook rule and boundary, with `now` passed in: no sleeping, no clock mocks."""

import pytest

from wawp_tui.core import runbook
from wawp_tui.core.fleet import FleetState
from wawp_tui.models import InstanceConfig, Secret

T0 = 1_800_000_000.0


class Clock:
    def __init__(self):
        self.now = T0

    def __call__(self):
        return self.now


def make(status="WORKING"):
    """A fleet of one instance that has been polled once with `status` at T0."""
    clock = Clock()
    fleet = FleetState([InstanceConfig("ID1", "one", Secret("x"))], clock)
    fleet.apply_poll_ok("ID1", status, None, 5.0)
    return fleet, clock, fleet.get("ID1")


def at(clock, t):
    clock.now = T0 + t
    return clock.now


@pytest.mark.parametrize("seconds, text", [
    (0, "0s"), (0.2, "1s"), (28, "28s"), (59, "59s"), (60, "1m00s"), (65, "1m05s"),
    (3599, "59m59s"), (3720, "1h02m"), (3 * 86400 + 4 * 3600, "3d04h"), (-5, "0s"),
])
def test_fmt_duration(seconds, text):
    assert runbook.fmt_duration(seconds) == text


def test_restart_ladder_and_loop_guard():
    fleet, clock, st = make("FAILED")
    assert runbook.check_action(st, "restart", at(clock, 0)).allowed
    fleet.apply_action_sent("ID1", "restart")
    fleet.apply_action_result("ID1", "restart", True, "", status="STARTING")
    # Still STARTING: one more restart only from 15 s on.
    v = runbook.check_action(st, "restart", at(clock, 14.9))
    assert not v.allowed and v.retry_in == pytest.approx(0.1) and "15s" in v.reason
    assert runbook.is_stuck(st, at(clock, 15)) and not runbook.is_stuck(st, at(clock, 14.9))
    v = runbook.check_action(st, "restart", at(clock, 15))
    assert v.allowed and "one more restart" in v.warning
    fleet.apply_action_sent("ID1", "restart")  # the second restart, at t=15
    # At t=30 (15 s after the second), still STARTING: the loop guard refuses, no override.
    v = runbook.check_action(st, "restart", at(clock, 30))
    assert not v.allowed
    assert v.reason == ("restart blocked: restarted 15s ago and not WORKING since; the "
                        "restart-loop guard holds 60s: wait 45s; or press R for a full reset")
    assert v.retry_in == pytest.approx(45)
    fleet.apply_poll_ok("ID1", "STARTING", None, 5)
    assert runbook.advise(st, clock.now, 5).key == "R"
    # The full reset stays available whatever the history.
    assert runbook.check_action(st, "reset", at(clock, 30)).allowed
    assert runbook.check_action(st, "restart", at(clock, 75)).allowed


def test_a_restart_inside_stabilization_is_refused_not_warned():
    fleet, clock, st = make("WORKING")
    fleet.apply_action_sent("ID1", "restart")
    at(clock, 8)
    fleet.apply_poll_ok("ID1", "WORKING", None, 5)
    v = runbook.check_action(st, "restart", at(clock, 12))
    assert not v.allowed and "30s to stabilize after a restart; wait 18s" in v.reason
    assert v.retry_in == pytest.approx(18)
    assert runbook.check_action(st, "restart", at(clock, 12)) == v  # the same moment, the same answer
    assert runbook.check_action(st, "restart", at(clock, 31)) == runbook.Verdict(True)
    assert "stabilizing" in runbook.advise(st, at(clock, 12), 5).todo
    labels = [c.label for c in runbook.countdowns(st, at(clock, 12))]
    assert any("stabiliz" in label for label in labels)


def test_scan_qr_code_never_allows_restart():
    fleet, clock, st = make("SCAN_QR_CODE")
    for t in (0, 61, 3600):
        v = runbook.check_action(st, "restart", at(clock, t))
        assert not v.allowed and "scan the QR" in v.reason
    assert runbook.advise(st, T0, 5).key != "r"
    assert "restart will not help" in runbook.advise(st, T0, 5).meaning.lower() or \
        "will not help" in runbook.advise(st, T0, 5).meaning


def test_start_needs_three_seconds_after_stop():
    fleet, clock, st = make("WORKING")
    assert not runbook.check_action(st, "start", T0).allowed  # never start blindly
    fleet.apply_action_sent("ID1", "stop")
    fleet.apply_action_result("ID1", "stop", True, "", status="STOPPED")
    v = runbook.check_action(st, "start", at(clock, 1))
    assert not v.allowed and v.retry_in == pytest.approx(2) and "3s between stop and start" in v.reason
    assert runbook.check_action(st, "start", at(clock, 3)).allowed
    assert [c.label for c in runbook.countdowns(st, at(clock, 1))] == ["start allowed in"]


@pytest.mark.parametrize("status", ["SCAN_QR_CODE", "PASSKEY_REQUIRED", "PASSKEY_CONFIRMATION_REQUIRED"])
def test_no_reset_for_what_only_the_phone_fixes(status):
    _, _, st = make(status)
    v = runbook.check_action(st, "reset", T0)
    assert not v.allowed and "will not help" in v.reason and "phone" in v.reason


@pytest.mark.parametrize("status", ["FAILED", "STARTING", "WORKING"])
def test_reset_allowed_unless_stopped_or_in_a_boots_first_15s(status):
    fleet, clock, st = make(status)
    if status == "STARTING":
        # First seen STARTING: its boot began at the latest now, so it is young: a full
        # reset would stop it mid-handshake.
        v = runbook.check_action(st, "reset", T0)
        assert not v.allowed and v.guard == "booting" and v.retry_in == pytest.approx(15)
        assert runbook.check_action(st, "reset", T0 + 15).allowed
    else:
        assert runbook.check_action(st, "reset", T0).allowed
    fleet2, _, stopped = make("STOPPED")
    assert not runbook.check_action(stopped, "reset", T0).allowed


def test_in_flight_404_and_401_refuse_everything():
    fleet, clock, st = make("WORKING")
    st.in_flight = "restart"
    assert "already in flight" in runbook.check_action(st, "stop", T0).reason
    st.in_flight = None
    fleet.apply_poll_error("ID1", "not_found", "instance not found (404)", 3)
    for action in ("start", "stop", "restart", "logout", "reset"):
        assert not runbook.check_action(st, action, T0).allowed
    assert runbook.poll_interval(st, T0, 5) >= runbook.GONE_POLL
    fleet.apply_poll_error("ID1", "unauthorized", "access token rejected (401)", 3)
    assert "401" in runbook.check_action(st, "restart", T0).reason


def test_logout_and_stop_rules():
    _, _, qr = make("SCAN_QR_CODE")
    assert not runbook.check_action(qr, "logout", T0).allowed
    _, _, stopped = make("STOPPED")
    assert not runbook.check_action(stopped, "stop", T0).allowed
    assert not runbook.check_action(stopped, "logout", T0).allowed
    _, _, working = make("WORKING")
    assert {a for a, v in runbook.verdicts(working, T0).items() if v.allowed} == {"stop", "restart", "logout", "reset"}


def test_starting_over_60s_after_a_start_is_stuck():
    fleet, clock, st = make("STOPPED")
    at(clock, -1)
    fleet.apply_poll_ok("ID1", "STARTING", None, 5)  # someone started it (STOPPED -> STARTING)
    at(clock, 0)
    assert st.last_action_at["start"] == T0 - 1
    fleet.apply_poll_ok("ID1", "STARTING", None, 5)
    assert not runbook.is_stuck(st, at(clock, 59))  # 60 s since the start: not yet "over 60"
    assert runbook.is_stuck(st, at(clock, 61))
    fleet.apply_poll_ok("ID1", "STARTING", None, 5)
    assert runbook.advise(st, clock.now, 5).word == "STUCK"
    assert runbook.rank(st, at(clock, 61), 5) < runbook.rank(st, at(clock, 10), 5)


def test_first_seen_starting_is_a_restart_seen_now_so_young():
    """A STARTING nobody here caused counts from the first poll that showed it: no
    restart for 15 s, then the ladder's one more restart."""
    fleet, clock, st = make("STARTING")
    assert st.last_action_at["restart"] == T0 and "restart" in st.seen_actions
    v = runbook.check_action(st, "restart", at(clock, 5))
    assert not v.allowed and v.guard == "ladder" and v.retry_in == pytest.approx(10)
    assert "seen on the server" in v.reason
    assert runbook.is_stuck(st, at(clock, 15))
    assert runbook.check_action(st, "restart", at(clock, 15)).allowed

def test_a_second_boot_after_our_restart_is_the_engines_and_young():
    """Our restart, STARTING, FAILED, then STARTING again 20 s after it: that second boot
    is the engine's own (or someone else's), not our restart's effect. It counts as a
    restart seen on the server, and a boot 0 s old is neither STUCK nor restarted."""
    fleet, clock, st = make("FAILED")
    fleet.apply_action_sent("ID1", "restart")
    fleet.apply_action_result("ID1", "restart", True, "", status="STARTING")
    at(clock, 10)
    fleet.apply_poll_ok("ID1", "FAILED", None, 5.0)
    at(clock, 20)
    fleet.apply_poll_ok("ID1", "STARTING", None, 5.0)
    answer = runbook.assess(st, clock.now, 5.0)
    assert not answer.verdicts["restart"].allowed and not answer.verdicts["reset"].allowed
    assert answer.word == "STARTING" and answer.advice.key is None
    assert runbook.restarts_last_hour(st, clock.now) == (1, 1)
    cell = runbook.fmt_duration(answer.countdowns[0].remaining(clock.now))
    assert cell == runbook.fmt_duration(answer.verdicts["restart"].retry_in)


def test_failed_after_a_restart_suggests_logout():
    fleet, clock, st = make("FAILED")
    assert runbook.advise(st, T0, 5).key == "r"
    fleet.apply_action_sent("ID1", "restart")
    at(clock, 20)
    fleet.apply_poll_ok("ID1", "FAILED", None, 5)
    advice = runbook.advise(st, clock.now, 5)
    assert advice.key == "L" and "log out" in advice.todo


def test_worst_first_order():
    words = ["WORKING", "STOPPED", "STARTING", "STUCK", "SCAN_QR_CODE", "UNREACHABLE", "FAILED"]
    assert sorted(words, key=runbook.word_rank) == list(reversed(words))
    # Words only a phone moves on rank with SCAN_QR_CODE; an unknown word among the problems.
    assert runbook.word_rank("PASSKEY_REQUIRED") == runbook.word_rank("SCAN_QR_CODE")
    assert runbook.word_rank("SCAN_QR_CODE") < runbook.word_rank("MAINTENANCE") < runbook.word_rank("STARTING")


def test_old_data_keeps_its_word_marked_stale():
    fleet, clock, st = make("FAILED")
    assert runbook.display_status(st, at(clock, 14), 5) == "FAILED"
    assert runbook.stale_age(st, clock.now, 5) is None
    # No poll for two missed polls (a pause): still FAILED, and marked stale with its age.
    assert runbook.display_status(st, at(clock, 16), 5) == "FAILED"
    assert runbook.stale_age(st, clock.now, 5) == 16
    assert runbook.rank(st, clock.now, 5) == runbook.rank(make("FAILED")[2], T0, 5)
    fleet.apply_poll_ok("ID1", "WORKING", None, 3)  # at 16 s
    at(clock, 20)
    fleet.apply_poll_error("ID1", "timeout", "no reply within 10s (timeout)", 10000)
    # From the first failed poll: the last known word, marked with its age (never
    # UNREACHABLE for an instance that has had a good poll).
    assert runbook.display_status(st, clock.now, 5) == "WORKING"
    assert runbook.stale_age(st, clock.now, 5) == 4
    at(clock, 32)
    fleet.apply_poll_error("ID1", "timeout", "no reply within 10s (timeout)", 10000)
    assert runbook.display_status(st, clock.now, 5) == "WORKING"
    assert runbook.stale_age(st, clock.now, 5) == 16
    assert runbook.data_age(st, clock.now) == 16
    assert "3 polls failed" not in runbook.advise(st, clock.now, 5).meaning
    assert "Last known WORKING, 16s ago; 2 polls failed since" in runbook.advise(st, clock.now, 5).meaning
    # It sorts with the unreachable, above a healthy SCAN QR and below a FAILED.
    _, _, scan = make("SCAN_QR_CODE")
    _, _, failed = make("FAILED")
    assert runbook.rank(failed, T0, 5) < runbook.rank(st, clock.now, 5) < runbook.rank(scan, T0, 5)


def test_unreachable_is_only_for_an_instance_never_polled():
    clock = Clock()
    fleet = FleetState([InstanceConfig("ID1", "one", Secret("x"))], clock)
    st = fleet.get("ID1")
    assert runbook.display_status(st, T0, 5) == "PENDING"
    fleet.apply_poll_error("ID1", "network", "connection refused", 1)
    assert runbook.display_status(st, T0, 5) == "UNREACHABLE"
    assert runbook.stale_age(st, T0, 5) is None


def test_stuck_stays_stuck_while_polls_fail_and_starting_does_not_turn_stuck():
    fleet, clock, st = make("STARTING")
    at(clock, 61)
    fleet.apply_poll_ok("ID1", "STARTING", None, 3)
    assert runbook.glance(st, clock.now, 5).word == "STUCK"
    at(clock, 63)
    fleet.apply_poll_error("ID1", "network", "connection refused", 1)
    seen = runbook.glance(st, at(clock, 600), 5)
    assert seen.word == "STUCK" and seen.stale == 600 - 61
    # One that was STARTING (not yet stuck) at its last good poll stays STARTING: nobody
    # has seen it since, so the clock does not make it STUCK.
    fleet2, clock2, young = make("STARTING")
    at(clock2, 5)
    fleet2.apply_poll_error("ID1", "network", "connection refused", 1)
    assert runbook.glance(young, at(clock2, 600), 5).word == "STARTING"
    assert runbook.stuck_from(young) is None


def test_poll_intervals():
    fleet, clock, st = make("WORKING")
    assert runbook.poll_interval(st, T0, 5) == 5
    # WORKING since before we started: steady from the start.
    assert runbook.poll_interval(st, T0 + 10, 5, steady_cap=30) == 30
    # One that became WORKING while we watched slows down gradually, up to the ceiling.
    fleet.apply_poll_ok("ID1", "STOPPED", None, 3)
    fleet.apply_poll_ok("ID1", "WORKING", None, 3)
    assert st.status_since_known
    # A stop seen on the server: watched closely for the stabilization window...
    assert runbook.poll_interval(st, T0 + 10, 5, steady_cap=30) == runbook.FAST_POLL
    # ...then slowed down gradually.
    assert runbook.poll_interval(st, T0 + 40, 5, steady_cap=30) == 20
    assert runbook.poll_interval(st, T0 + 600, 5, steady_cap=30) == 30
    _, _, starting = make("STARTING")
    assert runbook.poll_interval(starting, T0, 5) == runbook.FAST_POLL
    fleet.apply_action_sent("ID1", "stop")
    assert runbook.poll_interval(st, at(clock, 10), 5) == runbook.FAST_POLL
    intervals = []
    for _ in range(8):
        fleet.apply_poll_error("ID1", "server_error", "server error (500)", 3)
        intervals.append(runbook.poll_interval(st, at(clock, 100), 5))
    assert intervals == [5, 5, 5, 10, 20, 40, 60, 60]
    fleet.apply_poll_error("ID1", "rate_limited", "rate limited (429)", 3)
    assert runbook.poll_interval(st, clock.now, 5, retry_after=17) == 17


def test_unknown_status_advice():
    _, _, st = make("MAINTENANCE")
    advice = runbook.advise(st, T0, 5)
    assert "MAINTENANCE" in advice.meaning and "dashboard" in advice.todo
    assert runbook.badge("MAINTENANCE") == ("?", "MAINTENANCE")


@pytest.mark.parametrize("word", ["PASSKEY_REQUIRED", "PASSKEY_CONFIRMATION_REQUIRED"])
def test_passkey_statuses_need_the_phone_not_a_restart(word):
    _, _, st = make(word)
    advice = runbook.advise(st, T0, 5)
    assert "phone" in advice.todo and "a restart will not help" in advice.meaning.lower()
    refused = runbook.check_action(st, "restart", T0)
    assert not refused.allowed and "passkey" in refused.reason
    assert runbook.check_action(st, "stop", T0).allowed
    assert runbook.badge(word)[0] == "▣"


def test_the_wait_adds_up_with_the_time_already_passed():
    fleet, clock, st = make("WORKING")
    fleet.apply_action_sent("ID1", "stop")
    fleet.apply_action_result("ID1", "stop", True, "", status="STOPPED")
    verdict = runbook.check_action(st, "start", at(clock, 1.5))
    assert "stopped 1s ago" in verdict.reason and "wait 2s" in verdict.reason


@pytest.mark.parametrize("word", ["SCAN_QR_CODE", "PASSKEY_REQUIRED", "PASSKEY_CONFIRMATION_REQUIRED"])
def test_the_phone_statuses_have_one_answer(word):
    """The restart refusal, the advice and a rollout's skip (test_rollout) all take it
    from `needs_person`: a passkey status is a person's job like SCAN_QR_CODE."""
    _, clock, st = make(word)
    person = runbook.needs_person(word)
    assert person
    verdict = runbook.check_action(st, "restart", clock.now)
    assert not verdict.allowed and verdict.reason == f"restart will not help: {person}"
    advice = runbook.advise(st, clock.now, 5)
    assert "restart will not help" in advice.meaning.lower() and advice.key != "r"


@pytest.mark.parametrize("word", ["WORKING", "FAILED", "STARTING", "STOPPED", "SOMETHING_NEW", None])
def test_other_statuses_need_no_person_at_the_phone(word):
    assert runbook.needs_person(word) is None
