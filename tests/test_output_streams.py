"""Closed, full and narrow output streams, as a shell, cron or a monitoring system gives
them: one line on stderr and exit 74 (`check`: 3, UNKNOWN), never a traceback; a reader
that left is not a failure; an edit that was written says so; an ASCII-only encoding
gets ASCII symbols. Every case is the real program in a subprocess on the simulator."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from wawp_tui.simulator import SIM_TOKEN, Simulator, build_scenario


@pytest.fixture
def fleet_file(serve, tmp_path):
    """(scenario) -> a config file for a simulated fleet of three."""

    def make(scenario: str = "demo"):
        instances = build_scenario(scenario, seed=3, instances=3)
        url = serve(Simulator(instances, seed=3)).url
        lines = ["[api]", f'base_url = "{url}"', "timeout = 5", ""]
        for inst in instances:
            lines += ["[[instances]]", f'id = "{inst.id}"', f'label = "{inst.label}"',
                      f'token = "{SIM_TOKEN}"', ""]
        path = tmp_path / f"{scenario}.toml"
        path.write_text("\n".join(lines))
        path.chmod(0o600)
        return path

    return make


def run(args, *, stdout, env=None, stderr=subprocess.PIPE, close_stdout=False):
    """The program with this stdout (a file object, a descriptor, or closed)."""
    argv = [sys.executable, "-m", "wawp_tui", *map(str, args)]
    if close_stdout:
        argv = ["sh", "-c", 'exec "$@" >&-', "sh", *argv]
    proc = subprocess.run(argv, stdout=stdout, stderr=stderr, env={**os.environ, **(env or {})},
                          timeout=120)
    return proc.returncode, (proc.stderr or b"").decode()


def one_clean_line(err: str) -> str:
    assert "Traceback" not in err and "Exception ignored" not in err, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    return lines[0]


@pytest.mark.parametrize("args", [["status"], ["status", "--json"]])
def test_status_into_a_full_disk_or_a_closed_stdout_is_one_line_and_exit_74(fleet_file, args):
    path = fleet_file()
    with open("/dev/full", "wb") as full:
        code, err = run(["--config", path, *args], stdout=full)
    assert code == 74
    assert "standard output" in one_clean_line(err) and "No space left" in err
    code, err = run(["--config", path, *args], stdout=None, close_stdout=True)
    assert code == 74
    assert "standard output" in one_clean_line(err) and "closed" in err


def test_check_whose_output_fails_is_unknown_not_a_warning(fleet_file):
    """Nagios reads exit 1 as WARNING: a check that could not print is UNKNOWN (3)."""
    path = fleet_file()
    with open("/dev/full", "wb") as full:
        code, err = run(["check", "--config", path], stdout=full)
    assert code == 3
    assert "standard output" in one_clean_line(err)
    code, err = run(["check", "--config", path], stdout=None, close_stdout=True)
    assert code == 3
    assert "standard output" in one_clean_line(err)
    # stderr gone as well: still no traceback anywhere, still UNKNOWN
    with open("/dev/full", "wb") as full:
        code, _ = run(["check", "--config", path], stdout=full, stderr=full)
    assert code == 3


def test_an_edit_whose_confirmation_cannot_be_printed_says_it_was_written(tmp_path):
    path = tmp_path / "config.toml"
    with open("/dev/full", "wb") as full:
        code, err = run(["--config", path, "add", "NEW1", "--label", "New one"], stdout=full)
    assert code == 74
    line = one_clean_line(err)
    assert "the instance NEW1 was added to" in line and str(path) in line
    assert 'id = "NEW1"' in path.read_text()


def test_a_reader_that_left_is_not_a_fleet_problem(fleet_file):
    """`status | head -1` on a healthy fleet: the reader closes the pipe, and the exit code
    is still the fleet's (0), with nothing on stderr."""
    path = fleet_file("healthy")
    for args in (["status"], ["status", "--json"]):
        read_end, write_end = os.pipe()
        os.close(read_end)  # the reader is gone before the first byte
        try:
            code, err = run(["--config", path, *args], stdout=write_end)
        finally:
            os.close(write_end)
        assert (code, err) == (0, "")
    # and a fleet that has a problem keeps its own code (1), not an output error
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        code, err = run(["--config", fleet_file("demo"), "status"], stdout=write_end)
    finally:
        os.close(write_end)
    assert (code, err) == (1, "")


def test_an_ascii_only_output_gets_ascii_symbols_and_the_right_verdict(fleet_file):
    """PYTHONIOENCODING=ascii: the table prints with [FAIL]-style symbols, and `check`
    still says CRITICAL (not UNKNOWN) for a fleet that is critical."""
    path = fleet_file()
    env = {"PYTHONIOENCODING": "ascii"}
    proc = subprocess.run([sys.executable, "-m", "wawp_tui", "--config", str(path), "status"],
                          capture_output=True, env={**os.environ, **env}, timeout=120)
    assert proc.returncode == 1, proc.stderr
    assert proc.stderr == b""
    text = proc.stdout.decode("ascii")  # every byte is ASCII
    assert "[FAIL] FAILED" in text and "\\u" not in text
    proc = subprocess.run([sys.executable, "-m", "wawp_tui", "check", "--config", str(path),
                           "--critical", "1"], capture_output=True,
                          env={**os.environ, **env}, timeout=120)
    assert proc.returncode == 2 and proc.stdout.startswith(b"WAWP CRITICAL"), proc.stdout


def test_a_read_only_command_creates_no_folder(fleet_file, tmp_path):
    """`status` as root with HOME=/nonexistent made /nonexistent/.local/state/... for its
    log: a command that only reads creates no directory."""
    path = fleet_file()
    home = tmp_path / "nonexistent"
    env = {k: v for k, v in os.environ.items() if not k.startswith("XDG_")}
    for args in (["status"], ["status", "--json"], ["check"]):
        proc = subprocess.run([sys.executable, "-m", "wawp_tui", *args, "--config", str(path)],
                              capture_output=True, env={**env, "HOME": str(home)}, timeout=120)
        assert proc.returncode in (1, 2), proc.stderr
        assert not home.exists(), sorted(str(p) for p in home.rglob("*"))
    # where the state folder exists, the log still works (and is the only thing made)
    state = tmp_path / "state"
    state.mkdir()
    subprocess.run([sys.executable, "-m", "wawp_tui", "status", "--config", str(path)],
                   capture_output=True, env={**env, "HOME": str(home), "XDG_STATE_HOME": str(state)},
                   timeout=120)
    assert not home.exists()
    assert [p.name for p in state.iterdir()] in ([], ["wawp-tui"])
