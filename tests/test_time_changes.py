"""`time_changes_at` never names a time later than the first change of what a row or
the summary shows with time alone: the once-a-second beat looks at an instance only
when its time has come, so a late answer would leave old text on screen."""

from itertools import pairwise

import pytest
from rich.text import Text

from wawp_tui.core import FleetState, runbook
from wawp_tui.models import InstanceConfig, Secret
from wawp_tui.ui import formatting as view

T0 = 1_800_000_000.0
REFRESH = 5.0


class Clock:
    def __init__(self):
        self.now = T0

    def __call__(self):
        return self.now


def _fleet():
    clock = Clock()
    return FleetState([InstanceConfig("ID1", "one", Secret("x"))], clock), clock


def seen_at_start(status):
    fleet, clock = _fleet()
    fleet.apply_poll_ok("ID1", status, None, 20.0)
    return fleet.get("ID1")


def changed_while_watched():
    fleet, clock = _fleet()
    fleet.apply_poll_ok("ID1", "WORKING", None, 20.0)
    clock.now += 7.3
    fleet.apply_poll_ok("ID1", "FAILED", None, 20.0)
    return fleet.get("ID1")


def restarted():
    fleet, clock = _fleet()
    fleet.apply_poll_ok("ID1", "FAILED", None, 20.0)
    clock.now += 2.2
    fleet.apply_action_sent("ID1", "restart")
    fleet.apply_action_result("ID1", "restart", True, "", status="STARTING")
    return fleet.get("ID1")


def starting_on_its_own():
    fleet, clock = _fleet()
    fleet.apply_poll_ok("ID1", "STOPPED", None, 20.0)
    clock.now += 3.1
    fleet.apply_poll_ok("ID1", "STARTING", None, 20.0)
    return fleet.get("ID1")


def failing_then_stale():
    fleet, clock = _fleet()
    fleet.apply_poll_ok("ID1", "WORKING", None, 20.0)
    clock.now += 4.4
    fleet.apply_poll_error("ID1", "timeout", "timed out", None)
    return fleet.get("ID1")


def quiet():
    fleet, clock = _fleet()
    fleet.apply_poll_ok("ID1", "WORKING", None, 20.0, activity_at=T0 - 3590.5)
    return fleet.get("ID1")


def never_polled():
    fleet, clock = _fleet()
    return fleet.get("ID1")


@pytest.mark.parametrize("make", [lambda: seen_at_start("WORKING"), lambda: seen_at_start("STOPPED"),
                                  changed_while_watched, restarted, starting_on_its_own,
                                  failing_then_stale, quiet, never_polled])
def test_nothing_shown_changes_before_the_time_named(make):
    st = make()
    step = 0.25
    for k in range(int(200 / step)):
        now = T0 + k * step + 0.1
        due = view.time_changes_at(st, now, REFRESH)
        assert due >= now
        shown = (view.time_signature(st, now, REFRESH), view.summary_part(st, now, REFRESH))
        later = now + step
        while later < due and later < now + 70:
            assert (view.time_signature(st, later, REFRESH),
                    view.summary_part(st, later, REFRESH)) == shown, (now, later, due)
            later += step


def test_a_steady_row_is_looked_at_once_a_minute_at_most_often_after_its_first():
    st = seen_at_start("WORKING")
    assert view.time_changes_at(st, T0 + 300.5, 200.0) == T0 + 360  # "≥6m"
    assert view.time_changes_at(st, T0 + 390.5, 200.0) == T0 + 405  # stale from then
    assert view.time_changes_at(st, T0 + 405.5, 200.0) == T0 + 405.5  # "~6m46s": every beat
    assert runbook.stale_from(st, 200.0) == T0 + runbook.stale_after(200.0)


def test_a_row_seen_at_start_moves_in_ever_coarser_steps():
    """A lower bound rounded down stays true; a wall monitor's rows (most of them seen at
    start-up) then change about 50 times in their first day, not 1,440."""
    st = seen_at_start("WORKING")
    ages = (5, 61, 599, 600, 899, 900, 3599, 3600, 7300, 86400 + 5)
    assert [view.since_text(st, T0 + a) for a in ages] == [
        "", "≥1m", "≥9m", "≥10m", "≥10m", "≥15m", "≥55m", "≥1h", "≥2h", "≥1d"]
    texts = [view.since_text(st, T0 + a) for a in range(0, 86400, 5)]
    changes = sum(1 for a, b in pairwise(texts) if a != b)
    assert changes == 5 + 9 + 10 + 23
    for age in (30.0, 200.0, 700.0, 5000.0, 90000.0):
        due = view.time_changes_at(st, T0 + age, 10**6)
        assert view.since_text(st, due - 0.01) == view.since_text(st, T0 + age)


def test_history_from_another_day_shows_its_date():
    """History outlives a restart: an entry from yesterday must not read as today's."""
    import time

    from wawp_tui.ui.screens.text_page import timeline_page

    st = changed_while_watched()
    day = time.strftime("%b %d", time.localtime(T0 + 7.3))
    palette = view.Palette({})
    today = Text().join(view.detail_parts(st, T0 + 60, REFRESH, palette)).plain
    assert day not in today and time.strftime("%H:%M:%S", time.localtime(T0 + 7.3)) in today
    later = T0 + 2 * 86400
    assert f"{day} " in Text().join(view.detail_parts(st, later, REFRESH, palette)).plain
    fleet, clock = _fleet()
    fleet.apply_poll_ok("ID1", "WORKING", None, 20.0)
    clock.now = later
    assert timeline_page(fleet, palette).plain.startswith(time.strftime("%b %d", time.localtime(T0)))


def test_elapsed_times_round_down_so_a_lower_bound_is_never_overstated():
    watched = changed_while_watched()  # FAILED since T0 + 7.3
    assert view.since_text(watched, T0 + 7.3 + 59.5) == "59s"  # not "1m00s" a moment before "1m"
    assert view.since_text(watched, T0 + 7.3 + 60.0) == "1m"
    seen = seen_at_start("WORKING")
    detail = Text().join(view.detail_parts(seen, T0 + 10.2, REFRESH, view.Palette({}))).plain
    assert "since before start (≥ 10s)" in detail and view.since_text(seen, T0 + 10.2) == "≥10s"
    later = Text().join(view.detail_parts(seen, T0 + 19.9, REFRESH, view.Palette({}))).plain
    assert "since before start (≥ 10s)" in later  # the steps of SINCE, never rounded up


def test_the_detail_of_a_steady_instance_moves_in_steps_not_every_second():
    """"last good poll" moves every ten seconds, then every minute: a steady instance's
    detail (polled 30 s apart at 500 instances) does not repaint every second."""
    seen = seen_at_start("WORKING")
    last_ok = seen.last_ok_at
    facts = {Text().join(view.detail_parts(seen, last_ok + s, REFRESH, view.Palette({}))).plain
             for s in (10.0, 12.0, 13.5)}
    assert len(facts) == 1 and "last good poll 10s ago" in facts.pop()
    assert [view.ago_in_steps(s) for s in (0, 9.9, 10, 59.9, 60, 119, 7260)] == [
        "just now", "just now", "10s ago", "50s ago", "1m ago", "1m ago", "2h01m ago"]
