"""Two actors and a third who acted first, as real processes on one simulated fleet.

Another operator restarts an instance (one POST from elsewhere); a second later a person
presses r in a TUI (tmux) and a cron job runs `wawp-tui rollout restart --yes`, each with
a state folder of its own, so no file of ours ties them together: only polls do. The
simulator's own call log shows one restart (the other operator's) inside the guard. And
auto-heal, in a headless exporter, does not stack a restart on another operator's that it
never saw as STARTING (the server's status times tell it)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import httpx
import pytest

from tests.conftest import TEST_TOKEN
from tests.tmux import Terminal, needs_tmux
from wawp_tui.simulator import Simulator, build_scenario


def _config(path, url, sims):
    lines = [f'[api]\nbase_url = "{url}"\ntimeout = 5.0\n\n[monitor]\nrefresh = 1.0\n']
    for inst in sims:
        lines.append(f'[[instances]]\nid = "{inst.id}"\nlabel = "{inst.label}"\n')
    path.write_text("\n".join(lines))
    path.chmod(0o600)
    return path


def _env(tmp_path, name):
    state = tmp_path / name
    state.mkdir()
    return {"HOME": str(state), "XDG_STATE_HOME": str(state / "state"),
            "XDG_CONFIG_HOME": str(state / "config"), "XDG_CACHE_HOME": str(state / "cache"),
            "WAWP_ACCESS_TOKEN": TEST_TOKEN, "PYTHONPATH": os.getcwd()}


def _restart_from_elsewhere(url, instance_id):
    reply = httpx.post(f"{url}/v2/session/restart",
                       json={"instance_id": instance_id, "access_token": TEST_TOKEN}, timeout=5)
    assert reply.status_code == 200


def _until(condition, limit=90.0):
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.2)
    return False


@needs_tmux
def test_a_key_and_a_rollout_after_another_operators_restart_stack_nothing(serve, tmp_path):
    sims = build_scenario("healthy", seed=11, instances=3)
    for inst in sims:
        inst.token = TEST_TOKEN
    target = sims[0]
    target.boot_seconds = 12.0  # STARTING long enough for both actors to see it
    sim = Simulator(sims)
    url = serve(sim).url
    config = _config(tmp_path / "config.toml", url, sims)

    _restart_from_elsewhere(url, target.id)
    tui_env, cron_env = _env(tmp_path, "operator"), _env(tmp_path, "cron")
    term = Terminal("actors", Terminal.wawp("--config", str(config)), tui_env, cwd=tmp_path)
    try:
        rollout = subprocess.Popen(
            [sys.executable, "-m", "wawp_tui", "rollout", "restart", "--yes", "--ids", target.id,
             "--wave", "1", "--config", str(config)],
            env={**os.environ, **cron_env}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        # The worst first: the STARTING instance is the highlighted row.
        term.wait_for("STARTING")
        term.keys("r")
        screen = term.wait_for("refused", limit=30)
        out, _ = rollout.communicate(timeout=120)
        assert rollout.returncode == 0, out
        restarts = sim.calls_to("restart", target.id)
        # Only the other operator's: the key was refused, the rollout counted it as done.
        assert len(restarts) == 1, (restarts, out)
        assert "restart already done" in out and "not sending it twice" in out, out
        assert "Restart" in screen and "refused" in screen  # said at once, on the screen
        # The refused key press is in the operator's audit log, once.
        audit = (tmp_path / "operator" / "state" / "wawp-tui" / "log" / "audit.jsonl")
        records = [json.loads(line) for line in audit.read_text().splitlines()] if audit.exists() else []
        refused = [r for r in records if r.get("outcome") == "refused" and r.get("action") == "restart"]
        assert len(refused) == 1, records
        assert all(len(sim.calls_to("restart", i.id)) == 0 for i in sims[1:])
    finally:
        term.keys("q")
        term.close()


def test_auto_heal_does_not_restart_what_another_operator_just_restarted(serve, tmp_path):
    """The exporter polls every 5 s; the other operator's restart boots in 1 s and then the
    instance FAILS: no poll ever sees STARTING, yet the server's status times (WAHA's
    `statuses[]`) show the boot, so auto-heal's FAILED -> restart waits out the 60 s loop
    guard instead of stacking a second restart a few seconds after the first."""
    sims = build_scenario("healthy", seed=12, instances=4)
    for inst in sims:
        inst.token, inst.flavour = TEST_TOKEN, "waha"
    target = sims[0]
    target.boot_seconds = 1.0
    sim = Simulator(sims)
    url = serve(sim).url
    config = _config(tmp_path / "config.toml", url, sims)
    config.write_text(config.read_text().replace("refresh = 1.0", "refresh = 5.0"))
    env = {**os.environ, **_env(tmp_path, "exporter")}
    exporter = subprocess.Popen(
        [sys.executable, "-m", "wawp_tui", "exporter", "--auto-heal", "--listen", "127.0.0.1:0",
         "--config", str(config)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        assert _until(lambda: len(sim.calls_to("info", target.id)) >= 1, 30)
        time.sleep(0.5)
        _restart_from_elsewhere(url, target.id)
        foreign = time.time()
        target.fail_at = foreign + 2.0  # booted at +1 s, FAILED from +2 s
        # Auto-heal has seen FAILED (a poll after +2 s) and ticked several times since.
        assert _until(lambda: any(c.get("status") == "FAILED" for c in sim.calls_to("info", target.id)), 30)
        seen_failed = time.time()
        while time.time() < max(seen_failed + 8.0, foreign + 15.0):
            time.sleep(0.5)
        restarts = sim.calls_to("restart", target.id)
        assert len(restarts) == 1, restarts  # the other operator's only, inside the guard
    finally:
        exporter.terminate()
        exporter.wait(timeout=20)


@pytest.fixture(autouse=True)
def _cwd_is_the_checkout(monkeypatch):
    monkeypatch.chdir(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
