"""Where the runbook's ladder ends: restart, one more restart, full reset, then a person,
with a back-off like CrashLoopBackOff. The rules with a clock passed in, then the whole
story through the fleet state, the verdicts and the advice an operator reads."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wawp_tui.core import ladder, runbook
from wawp_tui.core.fleet import FleetState
from wawp_tui.models import FAILED, STARTING, WORKING, InstanceConfig, Secret

T0 = 1_800_000_000.0


def test_backoff_doubles_from_five_minutes_to_an_hour():
    assert [ladder.backoff(n) for n in range(6)] == [300, 600, 1200, 2400, 3600, 3600]
    assert ladder.backoff(10**9) == 3600


def test_three_steps_then_a_person_unless_working_within_a_minute():
    facts = ladder.Facts(STARTING, T0, None)
    climb = ladder.Ladder()
    for t in (0, 15, 40):
        assert ladder.steps_left(climb, facts, T0 + t) > 0
        climb = ladder.step(climb, facts, T0 + t)
    assert ladder.steps_left(climb, facts, T0 + 41) == 0
    assert ladder.held_from(climb, facts, T0 + 41) == T0 + 100  # 60 s after the last step
    assert ladder.hold(climb, facts, T0 + 99) is None
    held = ladder.hold(climb, facts, T0 + 100)
    assert held == ladder.Hold(T0 + 100, T0 + 400, 3)
    # Back at WORKING within the minute: no person needed, the next step only later.
    back = ladder.Facts(WORKING, T0 + 70, T0 + 70)
    assert ladder.hold(climb, back, T0 + 100) is None
    # The steps of the hour still count: the next one when the oldest leaves the hour.
    assert ladder.next_step_at(climb, back, T0 + 100) == T0 + 3600


def test_failed_again_soon_after_coming_back_needs_a_person_at_once():
    climb = ladder.Ladder(steps=(T0, T0 + 15, T0 + 40))
    failed_again = ladder.Facts(FAILED, T0 + 200, T0 + 190)
    assert ladder.held_from(climb, failed_again, T0 + 201) == T0 + 200


def test_after_a_back_off_one_try_then_a_longer_back_off():
    facts = ladder.Facts(FAILED, T0 - 1, None)
    climb = ladder.settle(ladder.Ladder(steps=(T0, T0 + 61, T0 + 122)), facts, T0 + 182)
    assert climb.held_at == T0 + 182
    assert ladder.steps_left(climb, facts, T0 + 481) == 0
    assert ladder.steps_left(climb, facts, T0 + 482) == 1  # the back-off ran out: one try
    climb = ladder.step(climb, facts, T0 + 490)
    assert ladder.hold(climb, facts, T0 + 550) == ladder.Hold(T0 + 550, T0 + 1150, 1)  # 10 min


def test_ten_minutes_of_working_clear_the_back_off_but_not_the_hours_steps():
    climb = ladder.Ladder(steps=(T0,), level=3)
    working = ladder.Facts(WORKING, T0 + 10, T0 + 700)
    assert ladder.current(climb, working, T0 + 610) == ladder.Ladder(steps=(T0,))
    assert ladder.current(climb, ladder.Facts(WORKING, T0 + 10, T0 + 500), T0 + 500) == climb
    assert ladder.current(climb, working, T0 + 3601) == ladder.Ladder()


def test_an_instance_failing_every_eleven_minutes_needs_a_person_within_the_hour():
    """Each failure restarted, each restart WORKING for 10 min, then FAILED again: the
    back-off resets each time, the hour's steps do not: the fourth failure of the hour
    needs a person, not a fourth restart."""
    climb, at = ladder.Ladder(), T0
    for n in range(3):
        failed = ladder.Facts(FAILED, at, at - 1)
        assert ladder.steps_left(climb, failed, at) > 0, n
        climb = ladder.step(climb, failed, at)
        at += 660  # WORKING from a few seconds after the restart, for 11 minutes
        climb = ladder.settle(climb, ladder.Facts(WORKING, at - 655, at), at)
    failed = ladder.Facts(FAILED, at, at - 1)
    assert ladder.steps_left(climb, failed, at) == 0
    assert ladder.hold(climb, failed, at) is not None


@settings(max_examples=300, deadline=None)
@given(events=st.lists(st.tuples(st.floats(0, 400), st.sampled_from(["step", "poll"]),
                                 st.sampled_from([WORKING, STARTING, FAILED])), max_size=30))
def test_no_step_is_free_while_held_and_never_four_in_an_hour_without_a_back_off(events):
    """Whatever happens, the ladder frees no step during a back-off, and four steps in an
    hour always have a back-off (5 min or more) between two of them."""
    now, status, since, working = T0, WORKING, T0, T0
    climb, taken = ladder.Ladder(), []
    for wait, kind, word in events:
        now += wait
        facts = ladder.Facts(status, since, working)
        if kind == "step":
            if ladder.steps_left(climb, facts, now) > 0:
                assert ladder.hold(climb, facts, now) is None
                climb = ladder.step(climb, facts, now)
                taken.append(now)
        else:
            if word != status:
                status, since = word, now
            if word == WORKING:
                working = now
            climb = ladder.settle(climb, ladder.Facts(status, since, working), now)
    for n in range(len(taken) - 3):
        window = taken[n:n + 4]
        if window[-1] - window[0] < ladder.STEP_WINDOW:
            assert max(b - a for a, b in itertools.pairwise(window)) >= ladder.BACKOFF_FIRST


class Clock:
    def __init__(self):
        self.now = T0

    def __call__(self):
        return self.now


def test_the_whole_story_of_a_stuck_instance_as_the_operator_reads_it():
    """r, 15 s, r, R, still STARTING: the screen says it needs a person, names the human
    steps, refuses r and R for the back-off with one countdown everywhere."""
    clock = Clock()
    fleet = FleetState([InstanceConfig("ID1", "shop", Secret("x"))], clock)
    st_ = fleet.get("ID1")
    fleet.apply_poll_ok("ID1", FAILED, None, 5.0)
    fleet.apply_action_sent("ID1", "restart")
    fleet.apply_action_result("ID1", "restart", True, "", status=STARTING)
    clock.now += 15
    fleet.apply_poll_ok("ID1", STARTING, None, 5.0)
    assert runbook.assess(st_, clock.now, 5.0).advice.key == "r"  # the one more restart
    fleet.apply_action_sent("ID1", "restart")
    clock.now += 15
    fleet.apply_poll_ok("ID1", STARTING, None, 5.0)
    answer = runbook.assess(st_, clock.now, 5.0)
    assert answer.advice.key == "R" and not answer.verdicts["restart"].allowed
    fleet.apply_action_sent("ID1", "reset")  # the full reset: the ladder's last step
    fleet.apply_action_sent("ID1", "start")
    fleet.apply_action_result("ID1", "start", True, "", status=STARTING)
    fleet.apply_action_result("ID1", "reset", True, "reset done")
    clock.now += 30
    fleet.apply_poll_ok("ID1", STARTING, None, 5.0)
    answer = runbook.assess(st_, clock.now, 5.0)
    assert "press r" not in answer.advice.todo and answer.advice.key is None
    assert "needs a person" in answer.advice.todo and "30s" in answer.advice.todo
    assert answer.verdicts["restart"].guard == "ladder_end"
    clock.now += 30  # 60 s after the reset, still STARTING
    fleet.apply_poll_ok("ID1", STARTING, None, 5.0)
    answer = runbook.assess(st_, clock.now, 5.0)
    assert answer.word == runbook.NEEDS_PERSON and runbook.badge(answer.word) == ("⚑", "NEEDS PERSON")
    assert "log out" in answer.advice.todo and "Wawp support" in answer.advice.todo
    for action in ("restart", "reset"):
        verdict = answer.verdicts[action]
        assert not verdict.allowed and verdict.guard == "backoff"
        assert verdict.retry_in == pytest.approx(300)
    assert answer.countdowns[0].label.startswith("needs a person")
    assert runbook.fmt_duration(answer.countdowns[0].remaining(clock.now)) == "5m00s"
    assert "5m00s" in answer.verdicts["restart"].reason
    assert runbook.needs_a_person(st_, clock.now).startswith("needs a person")
    assert runbook.ladder_line(st_, clock.now) == (
        "restarts in the last hour: 2 (2 from here, 0 seen on the server) · ladder: 3 of 3 steps used")
    read_only = runbook.assess(st_, clock.now, 5.0, read_only=True).advice.todo
    assert "press" not in read_only and "(L)" not in read_only
    clock.now += 300  # the back-off ran out: one try, and the next back-off is 10 min
    fleet.apply_poll_ok("ID1", STARTING, None, 5.0)
    assert runbook.check_action(st_, "restart", clock.now).allowed


def test_the_advice_of_a_stopped_instance_that_needs_a_person_names_no_refused_key():
    """The ladder ended; a person stops the instance (x): for 3 s a start is refused too,
    and the advice says what holds it instead of "start it first (s)"."""
    clock = Clock()
    fleet = FleetState([InstanceConfig("ID1", "shop", Secret("x"))], clock)
    st_ = fleet.get("ID1")
    fleet.apply_poll_ok("ID1", FAILED, None, 5.0)
    for _ in range(3):
        fleet.apply_action_sent("ID1", "restart")
        fleet.apply_action_result("ID1", "restart", True, "", status=FAILED)
        clock.now += 61
    fleet.apply_poll_ok("ID1", FAILED, None, 5.0)
    assert runbook.shown_word(st_, clock.now, 5.0) == runbook.NEEDS_PERSON
    fleet.apply_action_sent("ID1", "stop")
    fleet.apply_action_result("ID1", "stop", True, "", status="STOPPED")
    clock.now += 1
    answer = runbook.assess(st_, clock.now, 5.0)
    assert not answer.verdicts["start"].allowed
    assert "(s)" not in answer.advice.todo and "press s" not in answer.advice.todo
    assert answer.advice.todo.endswith("wait 2s"), answer.advice
    clock.now += 2
    assert "(s)" in runbook.assess(st_, clock.now, 5.0).advice.todo  # the way out, once allowed


def test_back_at_working_during_the_back_off_is_watched_not_a_person_to_log_out():
    """The ladder ended (FAILED); a person's start brings it back WORKING within the
    back-off. Restarts stay refused for the rest of it, but the row reads WORKING, the
    advice names no logout (it would unlink a working phone) and nothing pages; FAILED
    again, it needs a person at once, on the same back-off."""
    from wawp_tui.commands.metrics import guards

    clock = Clock()
    fleet = FleetState([InstanceConfig("ID1", "shop", Secret("x"))], clock)
    st_ = fleet.get("ID1")
    fleet.apply_poll_ok("ID1", FAILED, None, 5.0)
    for _ in range(3):
        fleet.apply_action_sent("ID1", "restart")
        fleet.apply_action_result("ID1", "restart", True, "", status=FAILED)
        clock.now += 61
    fleet.apply_poll_ok("ID1", FAILED, None, 5.0)
    held = runbook.person_hold(st_, clock.now)
    assert held is not None and guards(st_, clock.now)["needs_person"]
    fleet.apply_action_sent("ID1", "start")
    fleet.apply_action_result("ID1", "start", True, "", status=STARTING)
    clock.now += 20
    fleet.apply_poll_ok("ID1", WORKING, None, 5.0)
    answer = runbook.assess(st_, clock.now, 5.0)
    assert answer.word == WORKING and answer.advice.key is None
    assert "log out" not in answer.advice.todo and "press" not in answer.advice.todo
    assert not answer.verdicts["restart"].allowed and answer.verdicts["restart"].guard == "backoff"
    assert runbook.fmt_duration(held.until - clock.now) in answer.advice.todo
    assert not guards(st_, clock.now)["needs_person"]
    clock.now += 30
    fleet.apply_poll_ok("ID1", FAILED, None, 5.0)
    assert runbook.shown_word(st_, clock.now, 5.0) == runbook.NEEDS_PERSON
    assert runbook.person_hold(st_, clock.now) == held


def test_the_guards_and_the_ladder_outlive_the_process_that_held_them(tmp_path):
    """A monitor started again (a new terminal, a cron rollout) reads the last hour back
    from the shared history: a restart sent 10 s ago still holds the next, the ladder's
    steps still count, and a back-off in force is still in force."""
    from wawp_tui.core.history_store import HistoryStore

    clock = Clock()
    store = HistoryStore(tmp_path / "history.jsonl")
    first = FleetState([InstanceConfig("ID1", "shop", Secret("x"))], clock)
    first.on_record = store.append
    first.apply_poll_ok("ID1", FAILED, None, 5.0)
    for _ in range(2):
        first.apply_action_sent("ID1", "restart")
        first.apply_action_result("ID1", "restart", True, "", status=STARTING)
        clock.now += 16
        first.apply_poll_ok("ID1", STARTING, None, 5.0)
    first.apply_action_sent("ID1", "reset")
    clock.now += 61
    first.apply_poll_ok("ID1", STARTING, None, 5.0)
    assert runbook.person_hold(first.get("ID1"), clock.now) is not None

    clock.now += 10
    again = FleetState([InstanceConfig("ID1", "shop", Secret("x"))], clock)
    loaded = HistoryStore(tmp_path / "history.jsonl").load({"ID1"}, now=clock.now)
    again.restore("ID1", loaded["ID1"])
    st_ = again.get("ID1")
    again.apply_poll_ok("ID1", STARTING, None, 5.0)
    held = runbook.person_hold(st_, clock.now)
    assert held is not None and held.until == pytest.approx(first.get("ID1").ladder.held_at + 300)
    assert not runbook.check_action(st_, "restart", clock.now).allowed
    assert runbook.restarts_last_hour(st_, clock.now) == (2, 0)
    # An hour and a back-off later, nothing of it holds any more.
    clock.now += 3700
    later = FleetState([InstanceConfig("ID1", "shop", Secret("x"))], clock)
    later.restore("ID1", HistoryStore(tmp_path / "history.jsonl").load({"ID1"}, now=clock.now)["ID1"])
    later.apply_poll_ok("ID1", FAILED, None, 5.0)
    assert runbook.check_action(later.get("ID1"), "restart", clock.now).allowed
