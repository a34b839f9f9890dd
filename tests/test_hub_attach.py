"""A screen's monitor attached to a hub (AttachedMonitor) against a real hub on loopback:
the mirror gives the runbook's same answers, a schedule's words travel, the hub gone makes
rows stale and actions refused, and it comes back by itself. And the wire is a boundary."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from datetime import UTC, datetime, timedelta

import httpx
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.hub_kit import TOKENS, WAWP_TOKEN, config_for, hub_in_loop, until
from wawp_tui import schedules
from wawp_tui.config import Config
from wawp_tui.core import InstanceState, runbook, wire
from wawp_tui.hub.attach import AttachedMonitor
from wawp_tui.hub.link import HubLink
from wawp_tui.models import STOPPED, Secret
from wawp_tui.safe_text import clean
from wawp_tui.simulator import SimInstance, Simulator


def _link(base: str, user: str = "alice") -> HubLink:
    return HubLink(base, Secret(TOKENS[user]))


def _same_answers(hub_st: InstanceState, mirror: InstanceState, now: float, basis: float) -> None:
    ours = runbook.assess(mirror, now, basis)
    theirs = runbook.assess(hub_st, now, basis)
    assert ours.word == theirs.word and ours.stale == theirs.stale
    assert [(c.label, c.ends_at) for c in ours.countdowns] == [(c.label, c.ends_at) for c in theirs.countdowns]
    assert ours.advice == theirs.advice
    assert {a: v.reason for a, v in ours.verdicts.items()} == {a: v.reason for a, v in theirs.verdicts.items()}
    assert runbook.schedule_line(mirror, now) == runbook.schedule_line(hub_st, now)


def _night_schedule() -> schedules.Schedule:
    """A one-minute window two hours from now (UTC): now is outside it."""
    start = datetime.now(UTC) + timedelta(hours=2)
    end = start + timedelta(minutes=1)
    return schedules.make("night desk", f"daily {start:%H:%M}-{end:%H:%M}", "UTC")


async def test_the_mirror_gives_the_hubs_answers_and_the_hub_gone_is_said(serve):
    sims = [SimInstance(id=f"ATT{k:09d}", label=f"Desk {k}", token=WAWP_TOKEN, started_at=0.0)
            for k in range(3)]
    sims[0].boot_seconds = 30.0
    sims[2].base_status = STOPPED
    sim = Simulator(sims)
    url = serve(sim).url
    config = config_for(url, sims)
    night = _night_schedule()
    config = dataclasses.replace(config, instances=tuple(
        dataclasses.replace(c, schedule=night) if c.id == sims[2].id else c for c in config.instances))
    async with hub_in_loop(config) as (hub, base):
        port = hub.address[1]
        await until(lambda: all(hub.monitor.state(i.id).status for i in sims))
        screen = AttachedMonitor(_link(base), Config())
        runner = asyncio.ensure_future(screen.run())
        await until(lambda: screen.connected and len(screen.fleet) == 3, what="attached")
        assert screen.where == f"hub {base}" and screen.origin == "alice (operator)"
        assert not screen.read_only
        report = await screen.act("restart", [sims[0].id])
        assert report.outcomes[0].ok, report.outcomes
        await until(lambda: screen.state(sims[0].id).status == "STARTING", what="the restart seen")
        again = await screen.act("restart", [sims[0].id])
        assert again.outcomes[0].refused and "(by alice)" in again.outcomes[0].message
        assert len(sim.calls_to("restart", sims[0].id)) == 1
        await until(lambda: screen.state(sims[0].id).last_poll_at == hub.monitor.state(sims[0].id).last_poll_at)
        now = hub.monitor.clock()
        for inst in sims:
            _same_answers(hub.monitor.state(inst.id), screen.state(inst.id), now, hub.monitor.stale_basis)
        # The schedule's words reach the screen: SCHEDULED, and its line.
        assert runbook.shown_word(screen.state(sims[2].id), now, screen.stale_basis) == runbook.SCHEDULED
        assert "night desk" in (runbook.schedule_line(screen.state(sims[2].id), now) or "")
    # The hub stops: rows keep their words, stale; actions are refused, nothing sent.
    await until(lambda: not screen.connected, what="the loss seen")
    now = screen.clock()
    st0 = screen.state(sims[1].id)
    assert runbook.display_status(st0, now, screen.stale_basis) == "WORKING"
    assert runbook.stale_age(st0, now, screen.stale_basis) is not None
    # The advice names what is gone: the hub, not the API (which the hub may reach).
    advice = runbook.advise(st0, now, screen.stale_basis)
    assert "The hub cannot be reached" in advice.meaning and "base_url" not in advice.todo
    refused = await screen.act("stop", [sims[1].id])
    assert refused.outcomes[0].refused and "hub unreachable" in refused.outcomes[0].message
    assert not screen.check("stop", [sims[1].id]).allowed
    outage = screen.outage()
    assert outage is not None and "No news from the hub" in outage.text and "unreachable" in outage.headline
    # Back on the same address: it reconnects by itself and the rows are fresh again.
    async with hub_in_loop(config, port=port) as (hub2, _):
        await until(lambda: screen.connected, 20, "reconnected")
        await until(lambda: not screen.state(sims[1].id).failures, what="rows fresh")
        assert screen.check("stop", [sims[1].id]).allowed == [sims[1].id]
        runner.cancel()
        await screen.close()


async def test_a_viewer_screen_is_read_only(serve):
    sims = [SimInstance(id="VIEW00000001", label="Desk", token=WAWP_TOKEN, started_at=0.0)]
    sim = Simulator(sims)
    async with hub_in_loop(config_for(serve(sim).url, sims)) as (hub, base):
        screen = AttachedMonitor(_link(base, "val"), Config())
        assert await screen.refresh() == set()
        assert screen.read_only and screen.origin == "val (viewer)"
        report = await screen.act("restart", [sims[0].id])
        assert report.outcomes[0].refused and "viewer" in report.outcomes[0].message
        assert sim.calls_to("restart") == []
        await screen.close()


async def test_a_wrong_token_is_said_not_crashed(serve):
    sims = [SimInstance(id="TOKN00000001", label="Desk", token=WAWP_TOKEN, started_at=0.0)]
    sim = Simulator(sims)
    async with hub_in_loop(config_for(serve(sim).url, sims)) as (hub, base):
        screen = AttachedMonitor(HubLink(base, Secret("not-a-token-of-this-hub")), Config())
        assert await screen.refresh() == set()  # no ids known yet: nothing missing
        assert not screen.connected
        assert "WAWP_HUB_TOKEN" in (screen.outage().text if screen.outage() else "")
        # The hub's own words read whole on screen (after "token:" they read as a token).
        shown = clean(screen.outage().text, 1000)
        assert "***" not in shown and "the token of a configured hub user" in shown, shown
        await screen.close()


_JUNK = st.recursive(
    st.none() | st.booleans() | st.floats(allow_nan=True, allow_infinity=True) | st.integers()
    | st.text(alphabet=st.characters(codec="utf-8"), max_size=60)
    | st.sampled_from(["\x1b]0;pwned\x07", "[/]", "[bold red]x", "restart", "WORKING", "network",
                       TOKENS["alice"]]),
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=20), children, max_size=8),
    max_leaves=30)
_KEYS = ["status", "status_since", "last_poll_at", "failures", "last_error", "error_kind", "me",
         "last_action_at", "sent_at", "seen_actions", "acted_by", "in_flight", "in_flight_by",
         "ladder", "restart_log", "history", "schedule", "label", "latency_ms", "qr"]


@settings(max_examples=150, deadline=None)
@given(st.dictionaries(st.sampled_from(_KEYS), _JUNK, max_size=len(_KEYS)))
def test_whatever_a_hub_sends_decodes_to_clean_facts(data):
    Secret(TOKENS["alice"])  # the screen's own hub token, registered as its link does
    state = InstanceState(id="JUNK00000001", label="x")
    wire.decode_instance({"id": "JUNK00000001", **data}, state, wire.Schedules())
    now = time.time()
    seen = runbook.assess(state, now, 5.0)  # the runbook takes it without raising
    texts = [state.label, state.last_error or "", state.status or "", state.in_flight_by or "",
             *(e.text for e in state.history), *state.acted_by.values(), seen.advice.meaning, seen.advice.todo]
    for text in texts:
        assert "\x1b" not in text and "\x07" not in text
        assert TOKENS["alice"] not in text or text == ""


def test_the_wire_round_trips_the_facts():
    from wawp_tui.core.fleet import FleetState
    from wawp_tui.models import InstanceConfig

    fleet = FleetState([InstanceConfig(id="RT0000000001", label="Round trip", token=Secret(""),
                                       tags=("eu",), schedule=_night_schedule())], clock=lambda: 1000.0)
    fleet.apply_poll_ok("RT0000000001", "WORKING", {"id": "1@c.us"}, 12.0)
    fleet.claim("RT0000000001", "restart", "alice")
    fleet.apply_action_sent("RT0000000001", "restart", by="alice")
    fleet.apply_action_result("RT0000000001", "restart", True, "", status="STARTING")
    original = fleet.get("RT0000000001")
    copy = InstanceState(id="RT0000000001", label="?")
    wire.decode_instance(wire.encode_instance(original), copy, wire.Schedules())
    for now in (1000.0, 1010.0, 1040.0, 1100.0):
        _same_answers(original, copy, now, 5.0)
    assert copy.acted_by == {"restart": "alice"} and copy.in_flight_by == "alice"
    assert copy.schedule is not None and copy.schedule.name == "night desk"


def test_a_link_refuses_credentials_in_the_url():
    import pytest

    with pytest.raises(ValueError, match="credentials"):
        HubLink("http://alice:pw@127.0.0.1:9877", None)
    with pytest.raises(ValueError):
        HubLink("ftp://127.0.0.1", None)
    assert httpx  # (the client library the link uses)
