"""Desired state: schedule windows and zones as pure functions with a clock passed in
(property tests over daylight-saving days and random windows), and the configuration
that names them."""

from __future__ import annotations

import itertools
import re
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wawp_tui import schedules
from wawp_tui.config import ConfigError, load_config

ZONES = ["Europe/London", "America/New_York", "Australia/Lord_Howe", "Asia/Kolkata", "UTC",
         "America/Santiago", "Europe/Chisinau"]


def at(zone, y, m, d, hh, mm):
    return datetime(y, m, d, hh, mm, tzinfo=ZoneInfo(zone)).timestamp()


def test_office_hours_in_london_across_the_week():
    s = schedules.make("support", "Mon-Fri 09:00-18:00", "Europe/London")
    friday_evening = at("Europe/London", 2026, 12, 4, 18, 30)
    plan = schedules.meant(s, friday_evening)
    assert not plan.running and plan.until == at("Europe/London", 2026, 12, 7, 9, 0)
    assert schedules.meant(s, at("Europe/London", 2026, 12, 7, 9, 0)).running
    assert not schedules.meant(s, at("Europe/London", 2026, 12, 7, 8, 59)).running
    assert schedules.describe_time(plan.until, s.zone, friday_evening) == "Mon 09:00"


def test_windows_that_cross_midnight_wrap_days_and_lists():
    night = schedules.make("night", "Fri-Mon 22:00-06:00; Wed 12:00-13:00", "UTC")
    assert night.windows[0].days == frozenset({4, 5, 6, 0})
    assert schedules.meant(night, at("UTC", 2026, 12, 8, 5, 0)).running  # Tue 05:00, from Mon 22:00
    assert not schedules.meant(night, at("UTC", 2026, 12, 8, 7, 0)).running
    assert schedules.meant(night, at("UTC", 2026, 12, 9, 12, 30)).running
    always = schedules.make("always", "daily 00:00-24:00", "UTC")
    assert schedules.meant(always, at("UTC", 2026, 12, 8, 5, 0)) == schedules.Meant(True, None)
    assert schedules.transitions(always, at("UTC", 2026, 12, 8, 5, 0)) == []


@pytest.mark.parametrize("text, words", [
    ("", "no window"), ("Mon-Fri", "DAYS HH:MM-HH:MM"), ("Funday 09:00-18:00", "not a day"),
    ("Mon 9-18", "not a time of day"), ("Mon 09:00-25:00", "not a time of day"),
    ("Mon 09:61-10:00", "not a time of day"), ("Mon 09:00-09:00", "empty"),
    ("Mon 24:00-10:00", "cannot start at 24:00"), ("Mon-Tue-Wed 09:00-10:00", "not a day"),
])
def test_a_bad_window_says_what_is_wrong(text, words):
    with pytest.raises(schedules.ScheduleError, match=words):
        schedules.parse_running(text)


@pytest.mark.parametrize("name", ["Mars/Olympus", "../../etc/passwd", "Europe/London\x1b[2J", "x" * 300])
def test_a_bad_zone_says_so(name):
    with pytest.raises(schedules.ScheduleError, match="zone"):
        schedules.zone(name)


@pytest.mark.parametrize("zone, day, start, end, hours", [
    # London springs forward at 01:00 GMT on 29 March 2026 (01:00-02:00 local never
    # happens) and falls back at 02:00 BST on 25 October (01:00-02:00 happens twice).
    ("Europe/London", date(2026, 3, 29), "00:30", "02:30", 1.0),
    ("Europe/London", date(2026, 10, 25), "00:30", "02:30", 3.0),
    ("America/New_York", date(2026, 3, 8), "01:00", "03:00", 1.0),
    ("America/New_York", date(2026, 11, 1), "01:00", "03:00", 3.0),
    ("Europe/London", date(2026, 3, 29), "01:15", "01:45", 0.0),  # wholly skipped: no window
])
def test_daylight_saving_days_do_each_transition_once(zone, day, start, end, hours):
    name = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"][day.weekday()]
    s = schedules.make("dst", f"{name} {start}-{end}", zone)
    midnight = datetime(day.year, day.month, day.day, tzinfo=ZoneInfo(zone)).timestamp()
    spans = [(a, b) for a, b in schedules.intervals(s, midnight + 3600) if midnight <= a < midnight + 86400]
    assert sum(b - a for a, b in spans) == pytest.approx(hours * 3600)
    changes = schedules.transitions(s, midnight - 1, count=10)
    assert len([c for c in changes if c[0] < midnight + 86400]) == (2 if hours else 0)


windows = st.builds(
    lambda days, start, length: f"{days} {start // 60:02d}:{start % 60:02d}-"
                                f"{((start + length) % 1440) // 60:02d}:{(start + length) % 60:02d}",
    st.sampled_from(["Mon-Fri", "Sat,Sun", "daily", "Sun", "Fri-Mon", "Tue,Thu"]),
    st.integers(0, 1439).map(lambda m: m - m % 15), st.integers(15, 1425).map(lambda m: m - m % 15))
#: Instants in the weeks the clocks change in the zones above (2026 and 2027).
moments = st.sampled_from([date(2026, 3, 8), date(2026, 3, 29), date(2026, 4, 5), date(2026, 10, 4),
                           date(2026, 10, 25), date(2026, 11, 1), date(2027, 3, 28)]).flatmap(
    lambda d: st.integers(-3 * 86400, 3 * 86400).map(
        lambda s: datetime(d.year, d.month, d.day, tzinfo=UTC).timestamp() + s))


@settings(max_examples=250, deadline=None)
@given(running=st.lists(windows, min_size=1, max_size=3), zone=st.sampled_from(ZONES), now=moments)
def test_transitions_alternate_and_meant_flips_exactly_at_them(running, zone, now):
    s = schedules.make("p", "; ".join(running), zone)
    spans = schedules.intervals(s, now)
    assert all(a < b for a, b in spans)
    assert all(b1 < a2 for (_, b1), (a2, _) in itertools.pairwise(spans))  # disjoint, never touching
    plan = schedules.meant(s, now)
    assert plan.running == any(a <= now < b for a, b in spans)
    changes = schedules.transitions(s, now, count=6)
    assert all(later[0] > earlier[0] for earlier, later in itertools.pairwise(changes))
    expected = not plan.running
    for when, running_then in changes:
        assert running_then == expected  # start, stop, start...: never both at once
        assert schedules.meant(s, when).running == running_then
        assert schedules.meant(s, when - 0.5).running != running_then
        expected = not expected
    if changes:
        assert plan.until == changes[0][0]


def _config(tmp_path, text):
    path = tmp_path / "config.toml"
    path.write_text('[[instances]]\nid = "A1"\nlabel = "a"\ntoken_env = "T"\ntags = ["support"]\n\n'
                    '[[instances]]\nid = "B2"\nlabel = "b"\ntoken_env = "T"\n\n' + text)
    return path


@pytest.mark.parametrize("text, words, line", [
    # (the two instances above take lines 1-11: what is added starts at line 12)
    ('[[schedules]]\nname = "s"\ntags = ["support"]\nrunning = "Mon-Fri 9-18"\n',
     "(s) running: time '9' is not a time of day", 15),
    ('[[schedules]]\nname = "s"\ntags = ["support"]\nrunning = "Mon 09:00-10:00"\n'
     'timezone = "Mars/Base"\n', "timezone: time zone 'Mars/Base'", 16),
    ('[[schedules]]\nname = "s"\nrunning = "Mon 09:00-10:00"\n', "needs tags", 12),
    ('[[schedules]]\nname = "s"\nids = ["ZZ9"]\nrunning = "Mon 09:00-10:00"\n', "not in the config: ZZ9", 14),
    ('[[schedules]]\nname = "one"\ntags = ["support"]\nrunning = "Mon 09:00-10:00"\n\n'
     '[[schedules]]\nname = "two"\nids = ["A1"]\nrunning = "Tue 09:00-10:00"\n',
     "A1 (a) is in two schedules: 'one' and 'two'", 17),
    ('[monitor]\nidle_stop_after = "soon"\n', "idle_stop_after: 'soon' is not a duration", 13),
])
def test_a_bad_schedule_is_a_config_error_naming_the_line(tmp_path, text, words, line):
    with pytest.raises(ConfigError, match=re.escape(words)) as caught:
        load_config(_config(tmp_path, text), env={"T": "x"})
    assert f"line {line}:" in str(caught.value)


def test_a_schedule_attaches_to_its_instances(tmp_path):
    config = load_config(_config(tmp_path, '[monitor]\nidle_stop_after = "72h"\n\n[[schedules]]\n'
                                           'name = "support hours"\ntags = ["support"]\n'
                                           'running = ["Mon-Fri 09:00-12:00", "Mon-Fri 13:00-18:00"]\n'
                                           'timezone = "Europe/London"\n'), env={"T": "x"})
    a, b = config.instances
    assert a.schedule is not None and a.schedule.name == "support hours" and b.schedule is None
    assert len(a.schedule.windows) == 2 and config.monitor.idle_stop_after == 72 * 3600
