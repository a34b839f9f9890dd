"""A rollout leaves two things behind, its progress and its record: when either cannot be
written it says which and why, before anything is sent (exit 2); a record that fails in
the middle stops the rollout after that wave; --no-audit is the explicit way round; an
output that fails does not stop it. The real command, on the simulator."""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys

import pytest

from wawp_tui.simulator import SIM_TOKEN, Simulator, build_scenario


@pytest.fixture
def fleet(serve, tmp_path):
    """(n) -> (simulator, config path): a healthy fleet of n at a simulator."""

    def make(n: int = 3):
        instances = build_scenario("healthy", seed=9, instances=n)
        sim = Simulator(instances, seed=9)
        url = serve(sim).url
        path = tmp_path / "config.toml"
        path.write_text(f'[api]\nbase_url = "{url}"\n' + "".join(
            f'[[instances]]\nid = "{i.id}"\nlabel = "{i.label}"\n' for i in instances))
        return sim, path

    return make


def rollout(path, *args, state_home, stdout=subprocess.PIPE, limit_file_size=None):
    env = {**os.environ, "WAWP_ACCESS_TOKEN": SIM_TOKEN, "XDG_STATE_HOME": str(state_home)}

    def limit() -> None:  # (in the child, before exec)
        if limit_file_size is not None:
            resource.setrlimit(resource.RLIMIT_FSIZE, (limit_file_size, limit_file_size))

    proc = subprocess.run([sys.executable, "-m", "wawp_tui", "rollout", "stop", "--yes", "--wave", "1",
                           "--config", str(path), *args], stdout=stdout, stderr=subprocess.PIPE,
                          stdin=subprocess.DEVNULL, env=env, timeout=180, preexec_fn=limit)
    out = proc.stdout.decode() if isinstance(proc.stdout, bytes) else ""
    return proc.returncode, out, proc.stderr.decode()


def stops(sim) -> list[str]:
    return [c["instance_id"] for c in sim.calls if c["endpoint"].endswith("/stop")]


def audit_file(state_home):
    return state_home / "wawp-tui" / "log" / "audit.jsonl"


def test_a_state_folder_that_cannot_be_written_is_named_and_nothing_is_sent(fleet, tmp_path):
    sim, path = fleet()
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    code, out, err = rollout(path, state_home=blocker / "state")
    assert code == 2
    assert f"cannot save its progress in {blocker}/state/wawp-tui" in err
    assert "nothing was sent" in err and "internal error" not in err and "Traceback" not in err
    assert stops(sim) == []


def test_an_audit_log_that_cannot_be_written_refuses_the_rollout(fleet, tmp_path):
    sim, path = fleet()
    log = audit_file(tmp_path / "state")
    log.parent.mkdir(parents=True)
    log.symlink_to("/dev/full")
    code, out, err = rollout(path, state_home=tmp_path / "state")
    assert code == 2
    assert "audit log off: write failed: No space left on device; nothing was sent" in err
    assert "--no-audit" in err
    assert stops(sim) == []
    # the explicit way round: --no-audit, said in the output
    code, out, err = rollout(path, "--no-audit", state_home=tmp_path / "state")
    assert code == 0, err
    assert "audit: off (--no-audit)" in out
    assert sorted(stops(sim)) == sorted(i for i in sim.instances)


def test_a_record_that_fails_mid_rollout_stops_it_after_that_wave(fleet, tmp_path):
    """The audit log hits a file-size limit (a disk filling up) on the first action's
    record: that wave ends, the next ones are not sent, and the rollout is resumable."""
    sim, path = fleet(3)
    state = tmp_path / "state"
    log = audit_file(state)
    log.parent.mkdir(parents=True)
    earlier = json.dumps({"ts": "2026-01-01T00:00:00.000+00:00", "event": "action",
                          "detail": "x" * 800}) + "\n"
    log.write_text(earlier)
    # room for the rollout's own first record, not for an action's
    code, out, err = rollout(path, state_home=state, limit_file_size=len(earlier) + 300)
    assert code == 1, (out, err)
    assert "rollout stopping after this wave: audit log off: write failed: File too large" in err
    assert "wawp-tui rollout stop --resume" in err
    assert len(stops(sim)) == 1
    saved = json.loads((state / "wawp-tui" / "rollout.json").read_text())
    assert saved["status"] == "cancelled" and len(saved["done"]) == 1
    first = json.loads(log.read_text().splitlines()[1])
    assert first["event"] == "rollout" and first["action"] == "stop" and first["instances"] == 3


def test_output_that_fails_does_not_stop_a_rollout(fleet, tmp_path):
    sim, path = fleet(2)
    with open("/dev/full", "wb") as full:
        code, _, err = rollout(path, state_home=tmp_path / "state", stdout=full)
    assert code == 74
    assert err.count("cannot write to standard output") == 1 and "Traceback" not in err
    assert sorted(stops(sim)) == sorted(sim.instances)
    records = [json.loads(line) for line in audit_file(tmp_path / "state").read_text().splitlines()]
    assert [r["event"] for r in records][0] == "rollout"
    assert sum(r.get("outcome") == "ok" for r in records) == 2
