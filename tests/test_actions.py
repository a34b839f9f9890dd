"""ActionRunner against the simulator: guarded, one call per press, audited, paced."""

import asyncio
import json

import pytest

from tests.conftest import TEST_TOKEN, make_config
from wawp_tui.client.api import WawpClient
from wawp_tui.core.actions import ActionRunner
from wawp_tui.core.audit import AuditLog
from wawp_tui.core.fleet import FleetState
from wawp_tui.core.poller import Poller
from wawp_tui.simulator import Simulator, build_scenario


@pytest.fixture
async def rig(serve, clock, tmp_path):
    sim_instances = build_scenario("healthy", instances=4, clock=clock)
    sim = Simulator(sim_instances, clock=clock)
    url = serve(sim).url
    config = make_config(url, sim_instances)
    fleet = FleetState(config.instances, clock)
    audit_path = tmp_path / "audit.jsonl"
    sleeps = []

    async def fake_sleep(seconds):
        sleeps.append(seconds)
        clock.advance(seconds)

    async with WawpClient(url, timeout=2) as client:
        poller = Poller(client, fleet, config.instances, clock=clock)
        await poller.sweep()
        runner = ActionRunner(client, fleet, config.instances, clock=clock,
                              audit=AuditLog(audit_path), sleep=fake_sleep, prepoll=poller.poll_one)
        yield sim, config, fleet, runner, audit_path, sleeps


def ids(config):
    return [i.id for i in config.instances]


async def test_one_press_one_call_and_audit(rig):
    sim, config, fleet, runner, audit_path, _ = rig
    first = ids(config)[0]
    report, second = await asyncio.gather(runner.run("restart", [first]), runner.run("restart", [first]))
    assert len(sim.calls_to("restart", first)) == 1
    assert report.ok and second.refused and "already in flight" in second.refused[0].message
    records = [json.loads(line) for line in audit_path.read_text().splitlines()]
    outcomes = [(r["action"], r["outcome"]) for r in records]
    assert ("restart", "sent") in outcomes and ("restart", "ok") in outcomes and ("restart", "refused") in outcomes
    assert TEST_TOKEN not in audit_path.read_text() and "demo-token" not in audit_path.read_text()
    assert fleet.get(first).status == "STARTING"


async def test_refused_action_sends_nothing_and_says_when(rig, clock):
    sim, config, fleet, runner, _, _ = rig
    first = ids(config)[0]
    await runner.run("stop", [first])
    report = await runner.run("start", [first])
    assert not sim.calls_to("start")
    assert "wait 3s" in report.refused[0].message
    clock.advance(3)
    assert (await runner.run("start", [first])).ok


async def test_a_session_unloaded_by_its_stop_still_waits_three_seconds_to_start(rig, clock):
    """The server unloads a stopped session (404 "Session not found"): a start is the way
    back, but still not within 3 s of the stop."""
    sim, config, fleet, runner, _, _ = rig
    first = ids(config)[0]
    assert (await runner.run("stop", [first])).ok
    sim.inject(first, "not_loaded", endpoint="info")
    clock.advance(1)
    await Poller(runner.client, fleet, config.instances, clock=clock).sweep([first])
    assert fleet.get(first).error_kind == "not_loaded"
    report = await runner.run("start", [first])
    assert not sim.calls_to("start") and "wait 2s" in report.refused[0].message
    clock.advance(2)
    assert (await runner.run("start", [first])).outcomes[0].instance_id == first
    assert len(sim.calls_to("start", first)) == 1


async def test_read_only_sends_nothing(rig):
    sim, config, fleet, runner, _, _ = rig
    runner.read_only = True
    report = await runner.run("restart", ids(config))
    assert len(report.refused) == 4 and not sim.calls_to("restart")
    assert "read-only" in report.summary()


async def test_bulk_report(rig):
    sim, config, fleet, runner, _, _ = rig
    a, b, c, d = ids(config)
    sim.inject(b, "html_502", count=1, endpoint="restart")
    sim.inject(c, "rate_limit", count=1, retry_after=5, endpoint="restart")
    sim.inject(d, "html_502", count=1, endpoint="info")  # the gate's pre-poll fails
    report = await runner.run("restart", [a, b, c, d])
    assert len(report.ok) == 1 and len(report.failed) == 2 and len(report.refused) == 1
    text = report.summary()
    assert text.startswith("1 / 4 restarted, 2 failed: ")
    assert "bad gateway (502)" in text and "retry in 5s" in text
    # Fail closed: a pre-poll that fails refuses, and nothing is sent to that instance.
    assert "1 refused:" in text and "cannot be confirmed now" in text
    assert not sim.calls_to("restart", d)


async def test_full_reset_stops_waits_five_seconds_then_starts(rig, clock):
    sim, config, fleet, runner, _, sleeps = rig
    first = ids(config)[0]
    report = await runner.run("reset", [first])
    assert report.ok and sleeps == [5.0]
    endpoints = [c["endpoint"] for c in sim.calls if c["instance_id"] == first][-3:]
    # The start step passes the gate too: a fresh poll (STOPPED, 5 s after the stop) first.
    assert endpoints == ["/v2/session/stop", "/v2/session/info", "/v2/session/start"]
    assert fleet.get(first).in_flight is None


async def test_reset_cancelled_during_the_wait_leaves_it_stopped(serve, clock, tmp_path):
    sim_instances = build_scenario("healthy", instances=1, clock=clock)
    sim = Simulator(sim_instances, clock=clock)
    url = serve(sim).url
    config = make_config(url, sim_instances)
    fleet = FleetState(config.instances, clock)
    events = []
    async with WawpClient(url) as client:
        poller = Poller(client, fleet, config.instances, clock=clock)
        await poller.sweep()
        runner = ActionRunner(client, fleet, config.instances, clock=clock, audit=AuditLog(None),
                              sleep=lambda s: asyncio.sleep(30), prepoll=poller.poll_one,
                              emit=lambda e: events.append(getattr(e, "text", "")))
        task = asyncio.create_task(runner.run("reset", ids(config)))
        for _ in range(200):
            await asyncio.sleep(0.01)
            if fleet.get(ids(config)[0]).reset_start_at is not None:
                break
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert not sim.calls_to("start")
    assert any("cancelled before start" in e for e in events)
    assert fleet.get(ids(config)[0]).in_flight is None


async def test_stuck_starting_escalation_follows_the_rules(rig, clock):
    sim, config, fleet, runner, _, sleeps = rig
    target = ids(config)[0]
    sim.instances[target].stuck_starting = True
    poller = Poller(runner.client, fleet, config.instances, clock=clock)
    assert (await runner.run("restart", [target])).ok
    clock.advance(10)
    await poller.sweep([target])
    refused = await runner.run("restart", [target])
    assert refused.refused and "one more restart is allowed once it has been STARTING 15s: wait 5s" \
        in refused.refused[0].message
    clock.advance(5)
    await poller.sweep([target])
    assert (await runner.run("restart", [target])).ok  # the one more restart
    clock.advance(15)
    await poller.sweep([target])
    blocked = await runner.run("restart", [target])
    assert "wait 45s; or press R for a full reset" in blocked.refused[0].message
    assert len(sim.calls_to("restart", target)) == 2
    sim.instances[target].stuck_starting = False
    before = len(sim.calls)
    assert (await runner.run("reset", [target])).ok
    sent = [c for c in sim.calls[before:] if not c["endpoint"].endswith("/info")]
    assert [c["endpoint"] for c in sent] == ["/v2/session/stop", "/v2/session/start"]
    assert sent[1]["at"] - sent[0]["at"] >= 5.0


@pytest.mark.parametrize("refusal", ["html_502", "rate_limit"])
async def test_a_restart_the_server_refused_does_not_hide_the_next_one_from_elsewhere(
        rig, clock, refusal):
    """Our restart answered 502 / 429 (not done), then another operator's restart a second
    later: the STARTING that follows is theirs, seen on the server, and counts. Only the
    runbook's one more restart (15 s of STARTING) may follow it, never a second one."""
    sim, config, fleet, runner, _, _ = rig
    target = ids(config)[0]
    inst = sim.instances[target]
    inst.stuck_starting = True
    sim.inject(target, refusal, count=1, endpoint="restart")
    assert (await runner.run("restart", [target])).failed
    clock.advance(1)
    inst.restart(clock())  # another operator
    poller = Poller(runner.client, fleet, config.instances, clock=clock)
    clock.advance(1)
    await poller.sweep([target])
    assert "restart" in fleet.get(target).seen_actions
    clock.advance(15)
    assert (await runner.run("restart", [target])).ok  # the one more restart
    clock.advance(15)
    blocked = await runner.run("restart", [target])
    assert blocked.refused and "restart-loop guard" in blocked.refused[0].message
    assert len(sim.calls_to("restart", target)) == 2  # the 502/429 one and the one more


async def test_action_timeout_reports_unknown_outcome_and_repolls(serve, clock):
    sim_instances = build_scenario("healthy", instances=1, clock=clock)
    sim = Simulator(sim_instances, clock=clock)
    url = serve(sim).url
    config = make_config(url, sim_instances)
    fleet = FleetState(config.instances, clock)
    poked = []
    async with WawpClient(url, timeout=10, connect_timeout=10) as patient:
        # (Seen first with a patient client: only the action's own call may time out.)
        await Poller(patient, fleet, config.instances, clock=clock).sweep()
    async with WawpClient(url, timeout=0.3, connect_timeout=0.3) as client:
        runner = ActionRunner(client, fleet, config.instances, clock=clock, audit=AuditLog(None),
                              repoll=poked.append)
        sim.inject(ids(config)[0], "hang", count=1)
        report = await runner.run("restart", ids(config))
    assert "outcome unknown" in report.failed[0].message and "check its status" in report.failed[0].message
    assert poked == ids(config)
    assert len(sim.calls_to("restart")) == 1
