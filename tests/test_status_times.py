"""The server's own status times (WAHA's `statuses[]`), as a misbehaving server sends
them, over real sockets: a boot the reply lists is judged once, at the first poll that
carries it. Every poll repeats the list, and a time that lies ahead (a server clock that
runs fast, an absurd year) or that the server stamped a moment after our own restart
(its stop took a while) must not count as a new restart again and again."""

from __future__ import annotations

import json

from tests.conftest import make_config
from wawp_tui.client.api import WawpClient
from wawp_tui.core import Monitor, runbook
from wawp_tui.simulator import Simulator, build_scenario

YEAR_2099_MS = 4_070_908_800_000


async def _watched(serve, clock, flavour="healthy"):
    sims = build_scenario("healthy", seed=4, instances=1, clock=clock)
    sims[0].flavour = flavour
    sim = Simulator(sims, clock=clock, seed=4)
    server = serve(sim)

    async def sleep(seconds):
        clock.advance(seconds)

    client = WawpClient(server.url, timeout=2)
    monitor = Monitor(make_config(server.url, sims), client, clock=clock, sleep=sleep)
    return sim, sims[0], client, monitor


async def test_a_boot_time_in_the_future_is_one_boot_not_one_per_poll(serve, clock):
    sim, inst, client, monitor = await _watched(serve, clock)
    body = json.dumps({"name": "x", "status": "WORKING",
                       "statuses": [{"status": "STARTING", "timestamp": YEAR_2099_MS},
                                    {"status": "WORKING", "timestamp": YEAR_2099_MS}]}).encode()
    sim.inject(inst.id, "raw", code=200, headers={"content-type": "application/json"}, body=body)
    async with client:
        for _ in range(24):  # two minutes of polls, every 5 s
            await monitor.refresh()
            clock.advance(5)
        state = monitor.state(inst.id)
        now = clock()
        assert sum(runbook.restarts_last_hour(state, now)) <= 1
        answer = runbook.assess(state, now, 5.0)
        # WORKING all along: nothing claims that a ladder is used up and waits for WORKING.
        assert answer.word == "WORKING" and answer.verdicts["restart"].allowed, answer
        assert "ladder" not in answer.advice.todo


async def test_our_own_restart_stamped_late_by_the_server_is_counted_once(serve, clock):
    sim, inst, client, monitor = await _watched(serve, clock, flavour="waha")
    async with client:
        await monitor.refresh()
        assert (await monitor.act("restart", [inst.id])).outcomes[0].ok
        inst.started_at = clock() + 2.0  # the server's STARTING, 2 s after the request
        for _ in range(30):  # a minute of polls, every 2 s: STARTING, then WORKING
            clock.advance(2)
            await monitor.refresh()
        state = monitor.state(inst.id)
        assert state.status == "WORKING"
        assert runbook.restarts_last_hour(state, clock()) == (1, 0)
        assert not [e for e in state.history if "seen on the server" in e.text]
