"""Poller and FleetState against the simulator on loopback."""

import asyncio
import time

import pytest

from tests.conftest import make_config
from wawp_tui.client.api import WawpClient
from wawp_tui.core.fleet import FleetState
from wawp_tui.core.poller import Poller
from wawp_tui.simulator import Simulator, build_scenario


def setup(serve, clock, n=6, **client_kw):
    sim_instances = build_scenario("healthy", instances=n, clock=clock)
    sim = Simulator(sim_instances, clock=clock)
    url = serve(sim).url
    config = make_config(url, sim_instances)
    client = WawpClient(url, timeout=client_kw.get("timeout", 2), connect_timeout=1)
    fleet = FleetState(config.instances, clock)
    return sim, config, client, fleet


async def test_hung_instance_does_not_delay_the_others(serve, clock):
    sim, config, client, fleet = setup(serve, clock, timeout=1.0)
    hung = config.instances[0].id
    sim.inject(hung, "hang")
    done_at = {}
    poller = Poller(client, fleet, config.instances, clock=clock,
                    on_update=lambda i, changed: done_at.setdefault(i, time.monotonic()))
    started = time.monotonic()
    async with client:
        await poller.sweep()
    others = [done_at[i.id] - started for i in config.instances[1:]]
    # Every other instance was done before the hung one's 1 s timeout ended its poll (an
    # order, not a wall-clock bound: a stalled CI machine delays both alike).
    assert max(others) < done_at[hung] - started
    assert fleet.get(hung).error_kind == "timeout"
    assert all(fleet.get(i.id).status == "WORKING" for i in config.instances[1:])


async def test_failures_are_counted_and_recovery_recorded(serve, clock):
    sim, config, client, fleet = setup(serve, clock, n=2)
    target = config.instances[0].id
    sim.inject(target, "html_502", count=2)
    poller = Poller(client, fleet, config.instances, clock=clock)
    async with client:
        await poller.sweep()
        await poller.sweep()
        st = fleet.get(target)
        assert st.failures == 2 and st.last_error == "bad gateway (502)"
        assert poller.interval(target) == 5.0  # early retries keep the pace: recovery is seen in one refresh
        await poller.sweep()
    assert st.failures == 0 and st.last_error is None
    kinds = [e.kind for e in st.history]
    assert kinds == ["error", "error", "status"] or kinds[-2:] == ["error", "status"]


async def test_status_transitions_are_recorded(serve, clock):
    sim, config, client, fleet = setup(serve, clock, n=1)
    inst = config.instances[0]
    poller = Poller(client, fleet, config.instances, clock=clock)
    async with client:
        await poller.sweep()
        await client.restart(inst)
        await poller.sweep()
        clock.advance(30)
        await poller.sweep()
    texts = [e.text for e in fleet.get(inst.id).history if e.kind == "status"]
    assert texts == ["WORKING", "WORKING -> STARTING", "STARTING -> WORKING"]
    # The restart was sent behind the poller's back: it counts as seen on the server.
    assert fleet.get(inst.id).seen_actions == {"restart"}


async def test_run_loop_polls_without_overlap_and_stops_on_cancel(serve, clock):
    sim, config, client, fleet = setup(serve, clock, n=3)
    slow = config.instances[0].id
    sim.inject(slow, "slow", delay=0.4)
    fast = config.instances[1].id
    polls = []
    second_poll = asyncio.Event()

    def on_update(instance_id, changed):
        polls.append(instance_id)
        if polls.count(fast) >= 2:
            second_poll.set()

    poller = Poller(client, fleet, config.instances, refresh=1.0, clock=clock, on_update=on_update)
    async with client:
        task = asyncio.create_task(poller.run())
        started = time.monotonic()
        await asyncio.wait_for(second_poll.wait(), 30)  # the loop polls again by itself
        elapsed = time.monotonic() - started
        # Cancelled in the very turn a finished poll woke the loop: it still stops (a
        # loop sleeping in asyncio.wait_for lost this cancellation and ran on for ever).
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await asyncio.wait_for(task, 10)
    # A 0.4 s reply with a 1 s interval: polled, and never more often than the interval
    # allows (an overlapping poll would be an extra one).
    assert 1 <= polls.count(slow) <= int(elapsed / 1.0) + 1


async def test_concurrency_never_exceeds_the_caps(serve, clock):
    """The server never sees more requests at once than the poller's or the token's cap."""
    sim_instances = build_scenario("healthy", instances=24, clock=clock)
    sim = Simulator(sim_instances, clock=clock, latency=0.04)
    url = serve(sim).url
    config = make_config(url, sim_instances)
    fleet = FleetState(config.instances, clock)
    # Poller allows 12, but every instance shares one token capped at 4.
    async with WawpClient(url, timeout=5, max_concurrency=4) as client:
        await Poller(client, fleet, config.instances, clock=clock, concurrency=12).sweep()
    assert sim.max_in_flight == 4
    sim.max_in_flight = 0
    # And the poller's own cap holds when it is the smaller one.
    async with WawpClient(url, timeout=5, max_concurrency=16) as client:
        await Poller(client, fleet, config.instances, clock=clock, concurrency=3).sweep()
    assert sim.max_in_flight == 3
    assert all(fleet.get(i.id).status == "WORKING" for i in config.instances)


async def test_429_retry_after_is_honoured(serve, clock):
    sim, config, client, fleet = setup(serve, clock)
    limited = config.instances[0].id
    sim.inject(limited, "rate_limit", count=1, retry_after=90)
    poller = Poller(client, fleet, config.instances, clock=clock, refresh=5.0)
    async with client:
        await poller.sweep()
    assert fleet.get(limited).error_kind == "rate_limited"
    assert "429" in fleet.get(limited).last_error and "90" in fleet.get(limited).last_error
    assert poller.interval(limited) >= 90  # not polled again before the server said so
    assert poller.interval(config.instances[1].id) <= 30


async def test_host_back_up_polls_every_instance_that_could_not_reach_it(serve, clock):
    """Server down then up: the first success re-polls everything that failed on the
    network at once, instead of leaving it to exponential backoff."""
    sim_instances = build_scenario("healthy", instances=5, clock=clock)
    sim = Simulator(sim_instances, clock=clock)
    server = serve(sim)
    config = make_config(server.url, sim_instances)
    fleet = FleetState(config.instances, clock)
    client = WawpClient(server.url, timeout=2, connect_timeout=1)
    poller = Poller(client, fleet, config.instances, clock=clock, refresh=5.0)
    async with client:
        await poller.sweep()
        server.stop()
        for _ in range(5):
            await poller.sweep()
        assert all(st.failures == 5 and st.error_kind == "network" for st in fleet)
        assert poller.interval(config.instances[0].id) == 20.0  # backing off by now
        serve(sim, port=int(server.url.rsplit(":", 1)[1]))  # back up, same address
        poked = []
        poller.poke = lambda instance_id, delay=0.0: poked.append(instance_id)
        await poller.poll_one(config.instances[0].id)
    assert sorted(poked) == sorted(i.id for i in config.instances[1:])


def test_steady_interval_scales_with_the_fleet(clock):
    """Small fleets: every `refresh`; big ones: about `steady_rate` polls a second in all,
    never slower than the ceiling."""
    from wawp_tui.models import InstanceConfig, Secret

    def target(n, **kw):
        configs = [InstanceConfig(f"I{k}", "x", Secret("t")) for k in range(n)]
        return Poller(None, FleetState(configs, clock), configs, refresh=5.0, clock=clock,
                      **kw).steady_target

    assert target(25, max_interval=120, steady_rate=8) == 5.0
    assert target(500, max_interval=120, steady_rate=8) == 62.5
    assert target(5000, max_interval=120, steady_rate=8) == 120
    assert target(500, max_interval=30) == 30  # no budget: the ceiling alone


def test_a_big_fleet_is_not_polled_in_lock_step(clock):
    """After the start-up sweep, steady instances get a random phase over their interval,
    then +-10 % jitter: the load is spread, not one burst per round."""
    from wawp_tui.models import InstanceConfig, Secret

    configs = [InstanceConfig(f"I{k}", "x", Secret("t")) for k in range(400)]
    fleet = FleetState(configs, clock)
    for cfg in configs:
        fleet.apply_poll_ok(cfg.id, "WORKING", None, 3)
    poller = Poller(None, fleet, configs, refresh=5.0, clock=clock, max_interval=120,
                    steady_rate=8)
    assert poller.steady_target == 50.0
    first = [poller.next_interval(c.id) for c in configs]
    assert 5.0 <= min(first) < 8 and 47 < max(first) <= 50.0
    buckets = [sum(1 for f in first if lo <= f < lo + 9) for lo in range(5, 50, 9)]
    assert min(buckets) > 40  # about 80 per 9-second bucket: spread, not bunched
    later = [poller.next_interval(c.id) for c in configs]
    assert all(45.0 <= f <= 55.0 for f in later)


def test_steady_polls_fall_due_together_on_a_grid(clock):
    """Steady polls are batched: due on whole seconds (one wake-up and one repaint per
    batch, not one per poll), never later than their interval and at most a second
    earlier; a transition keeps its exact pace."""
    from wawp_tui.core.poller import STEADY_GRID
    from wawp_tui.models import InstanceConfig, Secret

    configs = [InstanceConfig(f"I{k}", "x", Secret("t")) for k in range(400)]
    fleet = FleetState(configs, clock)
    for cfg in configs:
        fleet.apply_poll_ok(cfg.id, "WORKING", None, 3)
    poller = Poller(None, fleet, configs, refresh=5.0, clock=clock, max_interval=120,
                    steady_rate=8)
    now = 1000.37
    dues = [poller.next_due(c.id, now) for c in configs]
    assert all(d % STEADY_GRID == 0 for d in dues)
    assert all(now + 5.0 - STEADY_GRID <= d <= now + 50.0 for d in dues)
    later = [poller.next_due(c.id, now) for c in configs]  # 45-55 s: +-10 % jitter
    assert all(now + 44.0 <= d <= now + 55.0 and d % STEADY_GRID == 0 for d in later)
    assert len(set(dues)) > 40  # the phases stay spread over the interval
    fleet.apply_poll_ok("I0", "STARTING", None, 3)
    assert poller.next_due("I0", now) == now + poller.interval("I0")
