"""The command line end to end, as subprocesses, against the simulator on loopback."""

import json
import os
import re
import socket
import subprocess
import sys
import time

import httpx
import pytest

from wawp_tui.simulator import SIM_TOKEN, Simulator, build_scenario


def run(*args, env=None, timeout=60):
    full_env = {**os.environ, **(env or {})}
    return subprocess.run([sys.executable, "-m", "wawp_tui", *args], capture_output=True, text=True,
                          env=full_env, timeout=timeout)


@pytest.fixture
def fleet(serve, tmp_path):
    sim_instances = build_scenario("healthy", instances=3)
    sim = Simulator(sim_instances)
    url = serve(sim).url
    path = tmp_path / "config.toml"
    lines = [f'[api]\nbase_url = "{url}"\ntimeout = 2\n']
    for inst in sim_instances:
        lines.append(f'[[instances]]\nid = "{inst.id}"\nlabel = "{inst.label}"\ntags = ["t1"]\n')
    path.write_text("\n".join(lines))
    return sim, path, {"WAWP_ACCESS_TOKEN": SIM_TOKEN}


def test_status_table_and_exit_0_when_all_working(fleet):
    sim, path, env = fleet
    out = run("status", "--config", str(path), env=env)
    assert out.returncode == 0, out.stderr
    assert out.stdout.count("✓ WORKING") == 3 and "3 instances: 3 WORKING" in out.stdout
    assert SIM_TOKEN not in out.stdout + out.stderr


def test_status_json_in_config_order_with_the_contract_keys(fleet):
    sim, path, env = fleet
    first = list(sim.instances)[0]
    sim.inject(first, "html_502")
    # Options before and after the subcommand.
    out = run("--config", str(path), "status", "--json", env=env)
    assert out.returncode == 1
    rows = json.loads(out.stdout)
    assert [r["id"] for r in rows] == list(sim.instances)
    # (and "proxy": the proxy the polls went through, null when direct; docs/network.md)
    assert set(rows[0]) == {"id", "label", "status", "error", "latency_ms", "me", "tags", "proxy", "meant",
                            "hibernates_at"}
    assert rows[0]["proxy"] is None
    assert rows[0]["status"] == "UNREACHABLE" and rows[0]["error"] == "bad gateway (502)"
    assert rows[1]["status"] == "WORKING" and rows[1]["me"]["id"].endswith("@c.us")
    assert rows[1]["tags"] == ["t1"]


def test_status_rate_limited_is_reported_not_waited(fleet):
    sim, path, env = fleet
    sim.inject(list(sim.instances)[0], "rate_limit", retry_after=120)
    started = time.monotonic()
    out = run("status", "--json", "--config", str(path), env=env)
    assert time.monotonic() - started < 20
    assert json.loads(out.stdout)[0]["error"] == "rate limited (429), retry in 120s"


def test_status_demo():
    out = run("status", "--demo")
    assert out.returncode == 1
    assert "FAILED" in out.stdout and "SCAN QR" in out.stdout and "PASSKEY" in out.stdout


def test_config_errors_exit_2_with_one_line(tmp_path):
    bad = tmp_path / "config.toml"
    bad.write_text('[[instances]]\nid = "A1"\nlabel = "a"\nlable = "x"\n')
    out = run("status", "--config", str(bad), env={"WAWP_ACCESS_TOKEN": "x"})
    assert out.returncode == 2
    assert out.stderr.count("\n") == 1 and "line 4" in out.stderr and "Traceback" not in out.stderr
    out = run("status", "--bogus")
    assert out.returncode == 2 and "Traceback" not in out.stderr
    out = run("status", "--config", str(tmp_path / "none.toml"))
    assert out.returncode == 2 and "config file not found" in out.stderr


def test_add_and_remove(tmp_path):
    path = tmp_path / "c.toml"
    out = run("add", "ABC123456789", "--label", "Desk", "--tag", "eu", "--config", str(path))
    assert out.returncode == 0, out.stderr
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    again = run("--config", str(path), "add", "ABC123456789", "--label", "Desk")
    assert again.returncode == 2 and "ABC123456789 already in" in again.stderr
    assert run("remove", "ABC123456789", "--config", str(path)).returncode == 0
    assert "ABC123456789" not in path.read_text()


def test_no_token_flag_exists():
    out = run("status", "--token", "x")
    assert out.returncode == 2


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_simulate_serves_http_until_stopped():
    """--port 0 announces the port it got; the banner comes once the port is bound (so a
    busy port is an error and no banner)."""
    proc = subprocess.Popen([sys.executable, "-m", "wawp_tui", "simulate", "--port", "0",
                             "--instances", "4", "--scenario", "healthy"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        match = re.search(r"http://127\.0\.0\.1:(\d+) ", line)
        assert match and match.group(1) != "0", line
        port = int(match.group(1))
        state = None
        deadline = time.monotonic() + 30  # uvicorn starts serving just after the banner
        while state is None and time.monotonic() < deadline:
            try:
                state = httpx.get(f"http://127.0.0.1:{port}/_sim/state", timeout=1).json()
            except httpx.TransportError:
                time.sleep(0.1)
        assert state is not None and len(state) == 4
        busy = run("simulate", "--port", str(port))
        assert busy.returncode == 2 and "cannot listen" in busy.stderr
        assert "Wawp simulator on" not in busy.stdout and "Traceback" not in busy.stderr
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    assert "Traceback" not in proc.stderr.read()
    refused = run("simulate", "--host", "0.0.0.0", "--port", str(port))
    assert refused.returncode == 2 and "loopback" in refused.stderr


def test_a_piped_status_table_keeps_every_error_whole():
    """Piped into a file or a cron mail, the table is not cut to 100 columns: the error
    text is the part an operator needs."""
    import io

    from wawp_tui.commands.status import StatusRow, write_table

    error = "server error (500): " + " ".join(f"word{n}" for n in range(25)) + " END"
    rows = [StatusRow("A1", "support desk", "UNREACHABLE", error, None, None, ())]
    piped = io.StringIO()
    write_table(rows, piped)
    assert error in piped.getvalue() and "END" in piped.getvalue()

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    on_screen = Terminal()
    write_table(rows, on_screen, width=80)
    assert all(len(line) <= 80 for line in on_screen.getvalue().splitlines())
