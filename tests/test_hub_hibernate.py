"""Idle hibernation on the hub (hub/hibernate.py): a real hub on loopback, a real
simulator behind it (WAHA's `timestamps.activity` for some instances, none for another),
on a clock the test moves. Listed in advance, stopped through the gate when idle, never
when tagged keep-awake or when no activity can be seen; a message webhook counts as
activity; a hibernated instance reads HIBERNATED, across a restart, until it runs again."""

from __future__ import annotations

import json
import time

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.conftest import FakeClock
from tests.hub_kit import WAWP_TOKEN, WEBHOOK_SECRET, bearer, config_for, hub_in_loop, until
from wawp_tui.core import Note, runbook
from wawp_tui.hub.book import Book
from wawp_tui.hub.hibernate import Hibernator
from wawp_tui.hub.jobs import Job
from wawp_tui.hub.webhooks import sign
from wawp_tui.models import STOPPED, WORKING
from wawp_tui.simulator import SimInstance, Simulator

T0 = 1_800_000_000.0
HOUR = 3600.0


def _sims() -> list[SimInstance]:
    def one(n: str, label: str, **kw) -> SimInstance:
        return SimInstance(id=f"HIB{n:0>9}", label=label, token=WAWP_TOKEN, started_at=0.0,
                           boot_seconds=0.0, **kw)
    return [one("1", "Idle shop", flavour="waha", quiet_since=T0 - 1800),
            one("2", "Night bot", flavour="waha", quiet_since=T0 - 2 * HOUR, tags=("keep-awake",)),
            one("3", "Blind shop"),  # the documented API's replies: no activity at all
            one("4", "Busy shop", flavour="waha")]


@pytest.fixture
def idle(serve, tmp_path):
    clock = FakeClock(T0)
    sims = _sims()
    sim = Simulator(sims, clock=clock)
    config = config_for(serve(sim).url, sims, idle_stop_after=HOUR)
    return clock, sim, sims, config, tmp_path


def _job(hibernator: Hibernator, notes: list[str]) -> Job:
    listening = []

    async def run(monitor) -> None:
        if not listening:
            listening.append(True)
            monitor.subscribe(lambda e: notes.append(e.text) if isinstance(e, Note) else None)
        await hibernator.run(monitor)
    return Job("hibernation", 0.05, run, at_start=True)


def _message(instance_id: str, event_id: str) -> tuple[bytes, dict[str, str]]:
    body = json.dumps({"id": event_id, "timestamp": int(time.time() * 1000), "event": "message",
                       "session": instance_id, "payload": {"body": "hi [/] \x1b]0;x\x07"}}).encode()
    return body, {"x-webhook-hmac": sign(WEBHOOK_SECRET.encode(), body), "content-type": "application/json"}


async def test_idle_instances_are_listed_then_hibernated_and_nothing_else(idle):
    clock, sim, sims, config, tmp_path = idle
    shop, bot, blind, busy = (s.id for s in sims)
    audit, notes = tmp_path / "audit.jsonl", []
    hib = Hibernator(Book(tmp_path / "hub-keeper.json"), HOUR, every=0.05)
    async with hub_in_loop(config, jobs=[_job(hib, notes)], clock=clock, audit_path=audit) as (hub, base), \
            httpx.AsyncClient(base_url=base) as http:
        await until(lambda: all(hub.monitor.state(s.id).status for s in sims), what="first polls")
        await until(lambda: any("no activity signal from 1 WORKING instance (Blind shop)" in n
                                for n in notes), 10, "the blind one said")
        # Listed in advance: the fleet document, each instance's view, the detail line.
        doc = (await http.get("/api/v1/fleet", headers=bearer("val"))).json()
        assert doc["hub"]["hibernate_after"] == HOUR
        coming = doc["hub"]["hibernations"]
        assert coming["count"] == 2 and [c["id"] for c in coming["next"]] == [shop, busy]
        assert coming["next"][0]["at"] == pytest.approx(T0 + 1800)
        views = {i: (await http.get(f"/api/v1/instances/{i}", headers=bearer("val"))).json()["view"]
                 for i in (shop, bot, blind)}
        assert views[shop]["hibernation"] == "hibernates in 30m00s unless active (idle 1h00m)"
        assert views[bot]["hibernation"] == "never hibernated: tagged keep-awake"
        assert views[blind]["hibernation"].startswith("never hibernated: the server reports no activity")
        assert views[blind]["hibernates_at"] is None
        assert not sim.calls_to("stop")
        # Half an hour on: the idle one is stopped, through the gate, journaled.
        clock.advance(1801)
        await until(lambda: sim.calls_to("stop"), 15, "the idle one stopped")
        await until(lambda: runbook.shown_word(hub.monitor.state(shop), clock(), 60) == runbook.HIBERNATED,
                    15, "it reads HIBERNATED")
        clock.advance(3 * HOUR)  # hours on: the keep-awake and the blind one are still up
        await until(lambda: hib.runs >= 10, 10)
        runs = hib.runs
        await until(lambda: hib.runs >= runs + 3, 10)
        assert [c["instance_id"] for c in sim.calls_to("stop")] == [shop]
        assert hub.monitor.state(busy).status == WORKING  # its activity follows the clock
        sent = [r for r in map(json.loads, audit.read_text().splitlines()) if r.get("action") == "stop"]
        assert sent[0]["outcome"] == "sent" and sent[0]["trigger"] == "hibernate" and sent[0]["by"] == "hibernate"
        assert any(n.startswith("hibernate: stopping 1 instance idle for 1h00m or more: Idle shop") for n in notes)
        # Hibernated is meant: not a problem for status, no alert after a day stopped.
        assert runbook.meant(hub.monitor.state(shop), clock()) == runbook.schedules.Meant(False, None)
        word = (await http.get(f"/api/v1/instances/{shop}", headers=bearer("val"))).json()["view"]["word"]
        assert word == runbook.HIBERNATED
        # A message webhook is a sign of activity: the blind one can now be seen idle.
        body, headers = _message(blind, "evt-msg-1")
        reply = await http.post("/webhooks/wawp", content=body, headers=headers)
        assert reply.json() == {"outcome": "activity", "instance_id": blind}
        heard = hub.monitor.state(blind).heard_at
        assert heard == clock()
        doc = (await http.get("/api/v1/fleet", headers=bearer("val"))).json()
        assert {c["id"]: c["at"] for c in doc["hub"]["hibernations"]["next"]}[blind] == heard + HOUR


async def test_a_hibernated_instance_stays_so_across_a_restart_until_its_owner_starts_it(idle):
    clock, sim, sims, config, tmp_path = idle
    shop = sims[0].id
    clock.advance(1801)
    book = tmp_path / "hub-keeper.json"
    first = Hibernator(Book(book), HOUR, every=0.05)
    async with hub_in_loop(config, jobs=[first.job()], clock=clock) as (hub, _):
        await until(lambda: runbook.hibernated(hub.monitor.state(shop)), 15, "hibernated")
    assert list(json.loads(book.read_text())["hibernated"]) == [shop]
    second = Hibernator(Book(book), HOUR, every=0.05)
    async with hub_in_loop(config, jobs=[second.job()], clock=clock) as (hub, _):
        await until(lambda: hub.monitor.state(shop).status == STOPPED and second.runs >= 2, 15, "polled")
        assert runbook.shown_word(hub.monitor.state(shop), clock(), 60) == runbook.HIBERNATED
        sims[0].start(clock())  # its owner's app starts it when its user comes back
        sims[0].quiet_since = None
        hub.monitor.poke(shop)
        await until(lambda: hub.monitor.state(shop).status == WORKING, 10, "woken by its owner")
        assert not runbook.hibernated(hub.monitor.state(shop))
        await until(lambda: not json.loads(book.read_text())["hibernated"], 10, "forgotten")
    assert len(sim.calls_to("stop")) == 1


@settings(max_examples=150, deadline=None)
@given(st.one_of(st.binary(max_size=400), st.text(max_size=400).map(str.encode),
                 st.recursive(st.one_of(st.none(), st.booleans(), st.floats(), st.integers(),
                                        st.text(max_size=40)),
                              lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                      st.dictionaries(st.text(max_size=12), inner, max_size=4)),
                              max_leaves=20).map(lambda d: json.dumps(d).encode())))
def test_a_damaged_book_reads_as_empty_or_partial_never_a_crash(tmp_path_factory, raw):
    path = tmp_path_factory.mktemp("book") / "hub-keeper.json"
    path.write_bytes(raw)
    book = Book(path)
    book.load()
    for name in ("support hours", "x"):
        carried = book.carried(name)
        assert carried is None or isinstance(carried.at, float)
    assert all(isinstance(k, str) and isinstance(v, float) for k, v in book.hibernated.items())
    book.hibernate_many({"ABC": 1.0})  # written again, whole
    assert json.loads(path.read_text())["hibernated"]["ABC"] == 1.0
