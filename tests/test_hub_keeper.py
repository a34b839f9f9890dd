"""The hub keeps the [[schedules]] (hub/keeper.py): a real hub on loopback in this event
loop, a real simulator behind it, both on a clock the test moves (no sleeping): a change
carried out once, within a second of its instant, through the gate and the journal; a
change missed while the hub was down done when it comes back (and said), never twice;
SCAN_QR_CODE left alone. The bookkeeping over daylight-saving days, restarts included, as
a property test of the keeper itself."""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import json
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import FakeClock
from tests.hub_kit import TOKENS, WAWP_TOKEN, config_for, hub_in_loop, until
from wawp_tui import schedules
from wawp_tui.config import Config
from wawp_tui.core import Note
from wawp_tui.core.fleet import FleetState
from wawp_tui.core.rollout import RolloutState
from wawp_tui.hub.attach import AttachedMonitor
from wawp_tui.hub.book import Book
from wawp_tui.hub.jobs import Job
from wawp_tui.hub.keeper import ScheduleKeeper
from wawp_tui.hub.link import HubLink
from wawp_tui.models import SCAN_QR_CODE, STOPPED, WORKING, InstanceConfig, Secret
from wawp_tui.simulator import SimInstance, Simulator

#: The FakeClock's start: Fri 2027-01-15 08:00:00 UTC.
T0 = 1_800_000_000.0
#: A window that ends a minute after T0; it starts again on Saturday at 07:00.
DESK = "daily 07:00-08:01"
STOP_AT, START_AT = T0 + 60, T0 + 23 * 3600
NAME = "support hours"


def _sims() -> list[SimInstance]:
    desk = SimInstance(id="DESK00000001", label="Desk one", token=WAWP_TOKEN, tags=("desk",),
                       started_at=0.0, boot_seconds=0.0)
    phone = SimInstance(id="DESK00000002", label="Desk phone", token=WAWP_TOKEN, tags=("desk",),
                        started_at=0.0, boot_seconds=0.0, base_status=SCAN_QR_CODE, logged_in=False)
    sales = SimInstance(id="SALE00000001", label="Sales", token=WAWP_TOKEN, tags=("sales",),
                        started_at=0.0, boot_seconds=0.0)
    return [desk, phone, sales]


def _config(url: str, sims) -> Config:
    config = config_for(url, sims)
    schedule = schedules.make(NAME, DESK, "UTC", tags=("desk",))
    return dataclasses.replace(config, schedules=(schedule,), instances=tuple(
        dataclasses.replace(i, schedule=schedule if "desk" in i.tags else None)
        for i in config.instances))


@pytest.fixture
def desk(serve, tmp_path):
    clock = FakeClock(T0)
    sims = _sims()
    sim = Simulator(sims, clock=clock)
    url = serve(sim).url
    return clock, sim, sims, _config(url, sims), tmp_path


def _keeper(tmp_path) -> ScheduleKeeper:
    return ScheduleKeeper(Book(tmp_path / "hub-keeper.json"), tmp_path / "schedule-rollout.json")


def _heard(keeper: ScheduleKeeper, notes: list[str]) -> Job:
    """The keeper's job, with every note of the hub's monitor kept in `notes`."""
    listening = []

    async def run(monitor) -> None:
        if not listening:
            listening.append(True)
            monitor.subscribe(lambda e: notes.append(e.text) if isinstance(e, Note) else None)
        await keeper.run(monitor)
    return Job("schedules", 0.02, run, at_start=True)


async def _looks(keeper: ScheduleKeeper, more: int = 3) -> None:
    """Wait until the keeper looked at the clock `more` times again."""
    target = keeper.runs + more
    await until(lambda: keeper.runs >= target, 15, "the keeper looked again")


def _audit(path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


async def test_a_window_end_stops_once_at_its_instant_and_the_next_start_starts(desk):
    clock, sim, sims, config, tmp_path = desk
    keeper, notes, audit = _keeper(tmp_path), [], tmp_path / "audit.jsonl"
    desk_one, phone = sims[0].id, sims[1].id
    async with hub_in_loop(config, jobs=[_heard(keeper, notes)], clock=clock, audit_path=audit) as (hub, _):
        await until(lambda: all(hub.monitor.state(i.id).status for i in sims), what="first polls")
        await _looks(keeper)
        # First start with this schedule: no memory of an earlier change, so nothing now.
        assert any("kept from its next change (stop Fri 08:01 UTC)" in n for n in notes), notes
        clock.now = STOP_AT - 0.5
        await _looks(keeper)
        assert not sim.calls_to("stop")
        clock.now = STOP_AT + 0.2
        await until(lambda: sim.calls_to("stop"), 15, "the stop at the window's end")
        await until(lambda: keeper.book.carried(NAME) is not None and keeper.book.carried(NAME).at == STOP_AT,
                    20, "the change carried out")
        assert [c["instance_id"] for c in sim.calls_to("stop")] == [desk_one]  # not the SCAN_QR_CODE one
        sent = [r for r in _audit(audit) if r.get("action") == "stop" and r.get("outcome") == "sent"]
        assert len(sent) == 1 and sent[0]["trigger"] == "schedule" and sent[0]["by"] == f"schedule:{NAME}"
        assert datetime.fromisoformat(sent[0]["ts"]).timestamp() - STOP_AT < 1.0
        change = [r for r in _audit(audit) if r["event"] == "schedule"]
        assert change[-1]["change"] == "stop" and change[-1]["missed"] is False
        assert f"schedule {NAME}: stopping 1 instance (stop Fri 08:01 UTC)" in notes
        assert any("Desk phone: left alone: SCAN_QR_CODE" in n for n in notes)
        # Said on the stream every attached screen reads.
        frames = hub.broadcaster.backlog(f"{hub.broadcaster.boot}.0") or []
        assert any(b"stopping 1 instance" in f for f in frames)
        # Between changes: no second stop, however often it looks; a person's start stands.
        clock.now = STOP_AT + 3600
        await _looks(keeper)
        sims[0].start(clock.now)
        hub.monitor.poke(desk_one)
        await until(lambda: hub.monitor.state(desk_one).status == WORKING, 10, "started by hand")
        await _looks(keeper)
        assert len(sim.calls_to("stop")) == 1
        # The next start: the stopped one starts (after someone stopped it again), the one
        # waiting for its phone does not.
        sims[0].stop(clock.now)
        hub.monitor.poke(desk_one)
        await until(lambda: hub.monitor.state(desk_one).status == STOPPED, 10, "stopped again")
        clock.now = START_AT + 0.3
        await until(lambda: sim.calls_to("start"), 15, "the start at the window's start")
        await until(lambda: keeper.book.carried(NAME).at == START_AT, 20, "the start carried out")
        assert [c["instance_id"] for c in sim.calls_to("start")] == [desk_one]
        assert not sim.calls_to("start", phone) and not sim.calls_to("stop", sims[2].id)
        assert f"schedule {NAME}: starting 1 instance (start Sat 07:00 UTC)" in notes


async def test_a_change_missed_while_the_hub_was_down_is_done_when_it_comes_back_once(desk):
    clock, sim, sims, config, tmp_path = desk
    desk_one = sims[0].id
    first = _keeper(tmp_path)
    async with hub_in_loop(config, jobs=[first.job()], clock=clock):
        await until(lambda: first.book.carried(NAME) is not None, 15, "the first hub's baseline")
    assert not sim.calls_to("stop")
    # Down over the window's end; back half an hour later, still outside the window.
    clock.now = STOP_AT + 1800
    second, notes = _keeper(tmp_path), []
    async with hub_in_loop(config, jobs=[_heard(second, notes)], clock=clock) as (hub, base):
        await until(lambda: sim.calls_to("stop"), 15, "the missed stop")
        await until(lambda: second.book.carried(NAME).at == STOP_AT, 20, "carried out")
        assert [c["instance_id"] for c in sim.calls_to("stop")] == [desk_one]
        said = [n for n in notes if n.startswith("missed while the hub was down")]
        assert said == [f"missed while the hub was down: schedule {NAME}: stopping 1 instance "
                        "(stop Fri 08:01 UTC, 30m00s ago; still meant STOPPED)"], notes
        # A screen that attaches after it (it was reconnecting) is told too, once.
        screen = AttachedMonitor(HubLink(base, Secret(TOKENS["alice"])), Config())
        told: list[Note] = []
        screen.subscribe(lambda e: told.append(e) if isinstance(e, Note) and e.told else None)
        try:
            await screen.refresh()
            await screen.refresh()
        finally:
            await screen.close()
        assert [n.text for n in told] == [f"[hub] {said[0]}"]
        # Someone needs it tonight: started by hand while the hub runs...
        sims[0].start(clock.now)
        hub.monitor.poke(desk_one)
        await until(lambda: hub.monitor.state(desk_one).status == WORKING, 10, "started by hand")
    # ... and a restart of the hub does not stop it again: that change was carried out.
    clock.now += 600
    third = _keeper(tmp_path)
    async with hub_in_loop(config, jobs=[third.job()], clock=clock):
        await until(lambda: third.runs >= 5, 15, "the third hub looked")
        await asyncio.sleep(0)
    assert len(sim.calls_to("stop")) == 1


async def test_a_missed_change_that_no_longer_holds_is_not_done(desk):
    """Down from before the window's end until after the next start: the stop no longer
    holds (the instance is meant to run again), so nothing is stopped."""
    clock, sim, sims, config, tmp_path = desk
    first = _keeper(tmp_path)
    async with hub_in_loop(config, jobs=[first.job()], clock=clock):
        await until(lambda: first.book.carried(NAME) is not None, 15, "baseline")
    clock.now = START_AT + 600
    second = _keeper(tmp_path)
    async with hub_in_loop(config, jobs=[second.job()], clock=clock):
        await until(lambda: second.book.carried(NAME).at == START_AT, 20, "the latest change")
    assert not sim.calls_to("stop") and not sim.calls_to("start")


async def test_a_damaged_memory_acts_from_the_next_change_and_says_why(desk):
    clock, sim, sims, config, tmp_path = desk
    (tmp_path / "hub-keeper.json").write_bytes(b"\x1b]0;pwned\x07{not json")
    clock.now = STOP_AT + 1800  # outside the window, the desk WORKING: a guess would stop it
    keeper, notes = _keeper(tmp_path), []
    async with hub_in_loop(config, jobs=[_heard(keeper, notes)], clock=clock):
        await until(lambda: keeper.runs >= 5 and keeper.book.carried(NAME) is not None, 15, "looked")
    assert not sim.calls_to("stop")
    assert any("is damaged" in n for n in notes) and not any("\x1b" in n for n in notes)
    assert any("kept from its next change (start Sat 07:00 UTC)" in n for n in notes)
    assert json.loads((tmp_path / "hub-keeper.json").read_text())["schedules"][NAME]["at"] == STOP_AT


# -- the bookkeeping, over days of 23 and 25 hours -------------------------------------

#: Days the clocks change, per zone (spring forward, fall back), in 2027.
DST_DAYS = {"Europe/London": (date(2027, 3, 28), date(2027, 10, 31)),
            "America/New_York": (date(2027, 3, 14), date(2027, 11, 7)),
            "Australia/Lord_Howe": (date(2027, 4, 4), date(2027, 10, 3))}
#: Times around the changes (01:00-03:00 local), and a few others.
TIMES = st.sampled_from(["00:30", "01:00", "01:30", "01:45", "02:00", "02:15", "02:30", "03:00",
                         "09:00", "18:00", "23:30"])


class _Fleet:
    """What the keeper needs of a monitor, without a server: a FleetState whose one
    instance obeys at once (the rollout's actions are logged, then applied)."""

    def __init__(self, schedule, clock) -> None:
        self.clock = clock
        self.fleet = FleetState([InstanceConfig("PROP00000001", "prop", Secret("x"), schedule=schedule)], clock)
        self.fleet.apply_poll_ok("PROP00000001", WORKING, None, 1.0)
        self.config = Config()
        self.read_only = False
        self.sent: list[tuple[str, float]] = []
        self.audit = _NoAudit()

    def state(self, instance_id):
        return self.fleet.get(instance_id)

    def note(self, text, **_):
        pass

    async def refresh(self, ids=None, *, deadline=None):
        for instance_id in ids or []:
            st = self.fleet.get(instance_id)
            self.fleet.apply_poll_ok(instance_id, st.status, None, 1.0)
        return set()

    def rollout(self, state: RolloutState, **_):
        monitor = self

        class Run:
            async def run(self):
                for instance_id in state.waves[0]:
                    monitor.sent.append((state.action, monitor.clock()))
                    word = STOPPED if state.action == "stop" else WORKING
                    monitor.fleet.apply_poll_ok(instance_id, word, None, 1.0)
                state.status = "done"
                return state
        return Run()


class _NoAudit:
    """Keeps the keeper's "schedule" records: one per change carried out."""

    def __init__(self) -> None:
        self.changes: list[tuple[float, bool]] = []

    def write(self, at, event, **fields):
        if event == "schedule":
            self.changes.append((datetime.fromisoformat(fields["change_at"]).timestamp(),
                                 fields["change"] == "start"))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(zone=st.sampled_from(sorted(DST_DAYS)), spring=st.booleans(), start=TIMES, end=TIMES,
       steps=st.lists(st.tuples(st.floats(1, 3 * 3600), st.booleans()), min_size=20, max_size=60))
def test_each_change_is_carried_out_once_across_dst_days_and_restarts(tmp_path_factory, zone, spring,
                                                                      start, end, steps):
    if start == end:
        return
    schedule = schedules.make("prop", f"daily {start}-{end}", zone)
    day = DST_DAYS[zone][0 if spring else 1]
    clock = FakeClock(datetime.combine(day - timedelta(days=1), datetime.min.time(),
                                       ZoneInfo(zone)).timestamp())
    monitor = _Fleet(schedule, clock)
    path = tmp_path_factory.mktemp("book") / "hub-keeper.json"
    keeper = ScheduleKeeper(Book(path), None)
    asyncio.run(keeper.run(monitor))
    baseline = schedules.last_transition(schedule, clock())
    expected = set()
    for seconds, restart in steps:
        clock.advance(seconds)
        if restart:  # the hub stops and starts again: a new keeper reads the same file
            keeper = ScheduleKeeper(Book(path), None)
        asyncio.run(keeper.run(monitor))
        latest = schedules.last_transition(schedule, clock())
        if latest is not None and latest != baseline:
            expected.add(latest)
    carried = monitor.audit.changes
    # Each change once, in order (a day of 23 or 25 hours, a restart: nothing twice)...
    assert [at for at, _ in carried] == sorted({at for at, _ in carried}), carried
    # ... and every change that was the latest at some look is carried out, its own way.
    assert set(carried) == expected, (carried, expected)
    # Never the same action twice in a row, and the instance ends as the last change says.
    actions = [action for action, _ in monitor.sent]
    assert all(a != b for a, b in itertools.pairwise(actions)), monitor.sent
    if carried:
        assert monitor.state("PROP00000001").status == (WORKING if carried[-1][1] else STOPPED)
