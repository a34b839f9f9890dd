"""The ladder's end outlives the process that reached it: a cron rollout started after a
TUI found an instance "needs a person" (the shared history says so) does not restart it."""

from __future__ import annotations

import os
import subprocess
import sys
import time

from tests.conftest import FakeClock
from wawp_tui.core.fleet import FleetState
from wawp_tui.core.history_store import HistoryStore
from wawp_tui.models import FAILED, STARTING, InstanceConfig, Secret
from wawp_tui.simulator import SIM_TOKEN, Simulator, build_scenario


def test_a_cron_rollout_after_the_ladder_ended_leaves_the_instance_to_a_person(serve, tmp_path):
    sims = build_scenario("healthy", seed=31, instances=2)
    target = sims[0]
    target.stuck_starting = True
    sim = Simulator(sims)
    url = serve(sim).url
    state = tmp_path / "state"
    history = state / "wawp-tui" / "history.jsonl"
    history.parent.mkdir(parents=True)
    # What a TUI wrote two minutes ago: two restarts, a full reset, then the hold.
    clock = FakeClock(time.time() - 120)
    fleet = FleetState([InstanceConfig(target.id, target.label, Secret("x"))], clock)
    fleet.on_record = HistoryStore(history).append
    fleet.apply_poll_ok(target.id, FAILED, None, 5.0)
    for _ in range(2):
        fleet.apply_action_sent(target.id, "restart")
        clock.advance(16)
        fleet.apply_poll_ok(target.id, STARTING, None, 5.0)
    fleet.apply_action_sent(target.id, "reset")
    clock.advance(61)
    fleet.apply_poll_ok(target.id, STARTING, None, 5.0)
    assert '"kind": "ladder"' in history.read_text()
    target.restart(time.time())  # the instance is STARTING on the server, stuck
    config = tmp_path / "config.toml"
    config.write_text(f'[api]\nbase_url = "{url}"\ntimeout = 3\n\n'
                      + "".join(f'[[instances]]\nid = "{s.id}"\nlabel = "{s.label}"\n\n' for s in sims))
    env = {**os.environ, "WAWP_ACCESS_TOKEN": SIM_TOKEN, "HOME": str(tmp_path),
           "XDG_STATE_HOME": str(state)}
    out = subprocess.run([sys.executable, "-m", "wawp_tui", "rollout", "restart", "--yes", "--ids",
                          target.id, "--config", str(config)], capture_output=True, text=True,
                         env=env, timeout=120)
    assert "needs a person" in out.stdout, out.stdout + out.stderr
    assert not sim.calls_to("restart", target.id)  # the rollout sent none
