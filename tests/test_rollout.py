"""Rollouts in waves against the simulator on loopback, with a clock tests move."""

import asyncio
import itertools

import pytest

from tests.conftest import make_config
from wawp_tui.client.api import WawpClient
from wawp_tui.core import Monitor
from wawp_tui.core.rollout import RolloutState, plan
from wawp_tui.simulator import Simulator, build_scenario


@pytest.fixture
async def rig(serve, clock, tmp_path):
    sim_instances = build_scenario("healthy", instances=7, clock=clock)
    for inst in sim_instances:
        inst.boot_seconds = 3.0
    sim = Simulator(sim_instances, clock=clock)
    url = serve(sim).url
    config = make_config(url, sim_instances)

    async def fake_sleep(seconds):
        clock.advance(seconds)

    async with WawpClient(url, timeout=2) as client:
        def make(state, **kw):
            monitor = Monitor(config, client, clock=clock)
            lines = []
            kw.setdefault("sleep", fake_sleep)
            rollout = monitor.rollout(state, progress=lines.append,
                                      state_path=tmp_path / "rollout.json", **kw)
            return rollout, lines
        yield sim, config, make, tmp_path / "rollout.json"


def ids(config):
    return [i.id for i in config.instances]


def sends(sim, endpoint):
    return [c for c in sim.calls if c["endpoint"] == f"/v2/session/{endpoint}"]


async def test_waves_never_overlap_and_wait_for_stabilization(rig):
    sim, config, make, _ = rig
    rollout, lines = make(plan("restart", ids(config), wave_size=3))
    state = await rollout.run()
    assert state.status == "done" and len(state.done) == 7
    restarts = sends(sim, "restart")
    assert len(restarts) == 7
    waves = state.waves
    times = {c["instance_id"]: c["at"] for c in restarts}
    for earlier, later in itertools.pairwise(waves):
        # The next wave starts only after the previous one is WORKING and 30 s stable.
        assert min(times[i] for i in later) - max(times[i] for i in earlier) >= 30
    assert lines[-1].startswith("rollout restart done: 7 / 7 done")


async def test_stuck_instance_halts_with_the_reason(rig):
    sim, config, make, _ = rig
    stuck = ids(config)[1]
    sim.instances[stuck].stuck_starting = True
    rollout, lines = make(plan("restart", ids(config), wave_size=3))
    state = await rollout.run()
    assert state.status == "halted"
    assert stuck in state.reason and "did not reach WORKING" in state.reason
    assert len(sends(sim, "restart")) == 3  # the second wave never started


async def test_continue_on_error_goes_on(rig):
    sim, config, make, _ = rig
    sim.instances[ids(config)[1]].stuck_starting = True
    rollout, _ = make(plan("restart", ids(config), wave_size=3), continue_on_error=True)
    state = await rollout.run()
    assert state.status == "done" and len(sends(sim, "restart")) == 7
    assert list(state.failed) == [ids(config)[1]]


async def test_skips_instances_already_in_target_or_not_applicable(rig, clock):
    sim, config, make, _ = rig
    a, b, c = ids(config)[:3]
    sim.instances[a].stop(clock())
    sim.instances[b].logout(clock())
    rollout, lines = make(plan("restart", [a, b, c], wave_size=5))
    state = await rollout.run()
    assert set(state.skipped) == {a, b}
    assert [x["instance_id"] for x in sends(sim, "restart")] == [c]
    stop, _ = make(plan("stop", [a, c], wave_size=5))
    state = await stop.run()
    assert state.skipped == {a: "already STOPPED"}
    assert state.status == "done"


@pytest.mark.parametrize("word", ["PASSKEY_REQUIRED", "PASSKEY_CONFIRMATION_REQUIRED", "SCAN_QR_CODE"])
async def test_a_restart_rollout_skips_an_instance_waiting_for_the_phone(rig, clock, word):
    """A passkey status needs a person at the phone like SCAN_QR_CODE: skipped with the
    reason, never counted as a failure that halts the fleet's cron rollout."""
    sim, config, make, _ = rig
    a, b, c = ids(config)[:3]
    for waiting in (a, b):
        if word == "SCAN_QR_CODE":
            sim.instances[waiting].logout(clock())
        else:
            sim.instances[waiting].raw_status = word
    rollout, lines = make(plan("restart", [a, b, c], wave_size=2))
    state = await rollout.run()
    assert state.status == "done" and not state.failed, (state.failed, lines)
    assert state.skipped == {a: f"{word}: needs a person at the phone, not a restart",
                             b: f"{word}: needs a person at the phone, not a restart"}
    assert [x["instance_id"] for x in sends(sim, "restart")] == [c]
    assert lines[-1].startswith("rollout restart done: 1 / 3 done, 2 skipped")


@pytest.mark.parametrize("late", [10.0, 35.0])
async def test_a_restart_rollout_skips_an_instance_whose_ladder_is_used_up(rig, clock, late):
    """Stuck STARTING: r, r, and r after the loop guard by hand (three steps); the rollout
    comes `late` seconds later, while the last minute runs. Its countdown ends in "needs a
    person", not in a restart: skipped with the reason, like an instance that already
    needs a person, and the rollout goes on to the others (it used to wait, then halt)."""
    sim, config, make, _ = rig
    stuck, other = ids(config)[:2]
    sim.instances[stuck].stuck_starting = True
    rollout, lines = make(plan("restart", [stuck, other], wave_size=1))
    monitor = rollout.monitor
    await monitor.refresh()
    for pause in (15.0, 60.0, late):
        assert (await monitor.act("restart", [stuck])).ok
        clock.advance(pause)
        await monitor.refresh()
    state = await rollout.run()
    assert state.status == "done" and not state.failed, (state.reason, lines)
    assert "the ladder is used up" in state.skipped[stuck]
    assert len(sends(sim, "restart")) == 4  # the three by hand, and the other instance's
    assert not [line for line in lines if "for the runbook" in line], lines  # no wait for it


async def test_interrupted_rollout_resumes_without_repeating(rig, clock):
    sim, config, make, path = rig
    waiting = asyncio.Event()

    async def sleep_then_park_once_wave_2_is_sent(seconds):
        # Wave 2 sent, now waiting for WORKING: the rollout stays here until it is
        # interrupted, however fast the polls run (a fixed real-time pause did not).
        if len(sends(sim, "restart")) >= 6:
            waiting.set()
            await asyncio.Event().wait()
        clock.advance(seconds)

    rollout, _ = make(plan("restart", ids(config), wave_size=3),
                      sleep=sleep_then_park_once_wave_2_is_sent)
    task = asyncio.create_task(rollout.run())
    await asyncio.wait_for(waiting.wait(), timeout=30)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    saved = RolloutState.load(path)
    assert saved.first_unfinished_wave() == 1
    assert len(saved.sent) == 6
    resumed, _ = make(saved)
    state = await resumed.run()
    assert state.status == "done"
    per_instance = [x["instance_id"] for x in sends(sim, "restart")]
    assert sorted(per_instance) == sorted(ids(config))  # each restarted exactly once


async def test_dry_run_and_cron_cli(serve, tmp_path):
    import os
    import subprocess
    import sys

    from wawp_tui.simulator import SIM_TOKEN

    sim_instances = build_scenario("healthy", instances=4)
    sim = Simulator(sim_instances)
    url = serve(sim).url
    path = tmp_path / "c.toml"
    path.write_text(f'[api]\nbase_url = "{url}"\n' + "".join(
        f'[[instances]]\nid = "{i.id}"\nlabel = "{i.label}"\ntags = ["{"support" if n < 2 else "sales"}"]\n'
        for n, i in enumerate(sim_instances)))
    env = {**os.environ, "WAWP_ACCESS_TOKEN": SIM_TOKEN}
    out = subprocess.run([sys.executable, "-m", "wawp_tui", "rollout", "restart", "--tag", "support",
                          "--dry-run", "--config", str(path)], capture_output=True, text=True, env=env)
    assert out.returncode == 0, out.stderr
    assert "restart 2 instances in 1 wave of up to 2" in out.stdout and "obeys the runbook" in out.stdout and "dry run: nothing sent" in out.stdout
    out = subprocess.run([sys.executable, "-m", "wawp_tui", "rollout", "stop", "--config", str(path)],
                         capture_output=True, text=True, env=env, stdin=subprocess.DEVNULL)
    assert out.returncode == 2 and "unattended without --yes" in out.stderr
    assert not [c for c in sim.calls if not c["endpoint"].endswith("/info")]


async def test_two_rollouts_at_once_on_one_machine_send_each_restart_once(serve, tmp_path):
    """Two terminals (or cron and a person) start the same rollout at the same moment:
    one runs, the other says who holds it and sends nothing."""
    import os
    import subprocess
    import sys

    from wawp_tui.simulator import SIM_TOKEN

    sim_instances = build_scenario("healthy", instances=2)
    sim = Simulator(sim_instances)
    url = serve(sim).url
    path = tmp_path / "c.toml"
    path.write_text(f'[api]\nbase_url = "{url}"\n' + "".join(
        f'[[instances]]\nid = "{i.id}"\nlabel = "{i.label}"\n' for i in sim_instances))
    env = {**os.environ, "WAWP_ACCESS_TOKEN": SIM_TOKEN}
    command = [sys.executable, "-m", "wawp_tui", "rollout", "restart", "--yes", "--wave", "2",
               "--config", str(path)]
    both = [subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             env=env, stdin=subprocess.DEVNULL) for _ in range(2)]
    results = [(p.wait(timeout=120), *p.communicate()) for p in both]
    codes = sorted(code for code, _, _ in results)
    assert codes == [0, 1], results
    refused = next(err for code, _, err in results if code == 1)
    assert "another rollout is running on this machine (process " in refused
    assert "nothing was sent" in refused and "Traceback" not in refused
    restarts = [c["instance_id"] for c in sim.calls if c["endpoint"].endswith("/restart")]
    assert sorted(restarts) == sorted(i.id for i in sim_instances)
