"""`wawp-tui check`, the Nagios / Icinga plugin: one line, the right state for each fleet,
perfdata that parses, --tag scoping, UNKNOWN for what it cannot judge."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time

import pytest

from wawp_tui.cli import main
from wawp_tui.commands import check
from wawp_tui.commands.status import NOT_POLLED, StatusRow
from wawp_tui.simulator import SIM_TOKEN, Simulator, build_scenario
from wawp_tui.simulator.state import Fault
from wawp_tui.vocab import NagiosState

PERF = re.compile(r"'([a-z_]+)'=(\d+);([^;]*);([^;]*);([^;]*);(\S*)")
LINE = re.compile(r"^WAWP (OK|WARNING|CRITICAL|UNKNOWN) - ([^|\n]+?)(?: \| (.*))?$")


def perfdata(line: str) -> dict[str, tuple[int, str, str, str, str]]:
    """label -> (value, warn, crit, min, max)."""
    m = LINE.match(line)
    assert m and m.group(3), line
    found = {p[0]: (int(p[1]), *p[2:]) for p in PERF.findall(m.group(3))}
    assert " ".join(f"'{k}'={v[0]};{v[1]};{v[2]};{v[3]};{v[4]}" for k, v in found.items()) == m.group(3)
    return found


@pytest.fixture
def fleet(serve, tmp_path, monkeypatch):
    """20 instances, all WORKING; tags: the first 5 "eu", the others "us"."""
    sims = build_scenario("healthy", instances=20)
    sim = Simulator(sims)
    url = serve(sim).url
    path = tmp_path / "config.toml"
    # generous timeouts: a loaded CI machine must not turn a slow reply into a problem
    lines = [f'[api]\nbase_url = "{url}"\ntimeout = 5\nconnect_timeout = 3\n']
    for n, inst in enumerate(sims):
        lines.append(f'[[instances]]\nid = "{inst.id}"\nlabel = "{inst.label}"\n'
                     f'tags = ["{"eu" if n < 5 else "us"}"]\n')
    path.write_text("\n".join(lines))
    monkeypatch.setenv("WAWP_ACCESS_TOKEN", SIM_TOKEN)
    return sims, path


def run_check(path, *args, capsys) -> tuple[int, str]:
    code = main(["check", "--config", str(path), *args])
    out, err = capsys.readouterr()
    assert out.count("\n") == 1, out  # ONE line
    assert SIM_TOKEN not in out + err
    return code, out.rstrip("\n")


def fail(sim_instance):
    sim_instance.fail_at, sim_instance.recover_at = time.time() - 120, None


def test_all_working_is_ok(fleet, capsys):
    sims, path = fleet
    code, line = run_check(path, capsys=capsys)
    assert code == NagiosState.OK == 0
    assert line.startswith("WAWP OK - 20 instances: 20 WORKING | ")
    perf = perfdata(line)
    assert list(perf) == [*check.CATEGORIES, "problems"]
    assert perf["working"] == (20, "", "", "0", "20")
    # default thresholds: warning at 1 problem, critical at 10% of 20 = 2 (ranges: above 0, above 1)
    assert perf["problems"] == (0, "0", "1", "0", "20")


def test_one_failed_is_a_warning_naming_it(fleet, capsys):
    sims, path = fleet
    fail(sims[3])
    code, line = run_check(path, capsys=capsys)
    assert code == NagiosState.WARNING
    assert line.startswith("WAWP WARNING - 1 of 20 instances need attention (warning at 1, critical at 2): "
                           f"FAILED: {sims[3].label} | ")
    assert perfdata(line)["failed"][0] == 1 and perfdata(line)["problems"][0] == 1


def test_many_problems_are_critical_by_count_and_by_share(fleet, capsys):
    sims, path = fleet
    fail(sims[0])
    sims[1].base_status, sims[1].logged_in = "SCAN_QR_CODE", False
    sims[2].faults.append(Fault("html_502"))
    sims[3].base_status = "STOPPED"  # not a problem
    code, line = run_check(path, capsys=capsys)
    assert code == NagiosState.CRITICAL  # 3 >= 10% of 20
    perf = perfdata(line)
    assert (perf["failed"][0], perf["scan_qr"][0], perf["unreachable"][0], perf["stopped"][0]) == (1, 1, 1, 1)
    assert perf["problems"][0] == 3
    assert "unreachable: " in line and "(bad gateway (502))" in line
    # counts: warning at 2, critical at 4
    code, line = run_check(path, "--warning", "2", "--critical", "4", capsys=capsys)
    assert code == NagiosState.WARNING and perfdata(line)["problems"][1:3] == ("1", "3")
    # shares: 15% of 20 is 3 -> critical; 20% is 4 -> warning at 5% (1)
    assert run_check(path, "--warning", "5%", "--critical", "15%", capsys=capsys)[0] == NagiosState.CRITICAL
    assert run_check(path, "--warning", "5%", "--critical", "20%", capsys=capsys)[0] == NagiosState.WARNING


def test_tag_scopes_the_check(fleet, capsys):
    sims, path = fleet
    fail(sims[10])  # a "us" instance
    code, line = run_check(path, "--tag", "eu", capsys=capsys)
    assert code == NagiosState.OK and line.startswith("WAWP OK - 5 instances (tag eu): 5 WORKING")
    assert perfdata(line)["working"] == (5, "", "", "0", "5")
    code, line = run_check(path, "--tag", "us", capsys=capsys)
    assert code == NagiosState.WARNING and "1 of 15 instances (tag us)" in line
    code, line = run_check(path, "--tag", "nowhere", capsys=capsys)
    assert code == NagiosState.UNKNOWN and line == "WAWP UNKNOWN - no instance to check (tag nowhere)"


def test_a_platform_outage_is_critical_not_unknown(fleet, capsys):
    sims, path = fleet
    for inst in sims:
        inst.faults.append(Fault("html_502"))
    code, line = run_check(path, capsys=capsys)
    assert code == NagiosState.CRITICAL and perfdata(line)["unreachable"][0] == 20
    assert "+15 more" in line


def test_an_api_unreachable_for_every_instance_is_unknown(tmp_path, monkeypatch, capsys):
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    path = tmp_path / "config.toml"
    path.write_text(f'[api]\nbase_url = "http://127.0.0.1:{port}"\ntimeout = 1\nconnect_timeout = 1\n'
                    '[[instances]]\nid = "AAAAAAAAAAAA"\nlabel = "a"\n'
                    '[[instances]]\nid = "BBBBBBBBBBBB"\nlabel = "b"\n')
    monkeypatch.setenv("WAWP_ACCESS_TOKEN", SIM_TOKEN)
    code, line = run_check(path, capsys=capsys)
    assert code == NagiosState.UNKNOWN
    assert line.startswith("WAWP UNKNOWN - cannot reach the Wawp API: every poll of 2 instances failed (")
    assert perfdata(line)["unreachable"][0] == 2


def test_config_and_usage_errors_are_unknown_on_stdout(tmp_path, monkeypatch, capsys):
    bad = tmp_path / "config.toml"
    bad.write_text('[[instances]]\nid = "A1"\nlabel = "a"\nlable = "x"\n')
    monkeypatch.setenv("WAWP_ACCESS_TOKEN", "x")
    code, line = run_check(bad, capsys=capsys)
    assert code == NagiosState.UNKNOWN == 3
    assert line.startswith("WAWP UNKNOWN - ") and "line 4" in line
    for args in (["--warning", "0"], ["--critical", "150%"], ["--warning", "x"], ["--bogus"],
                 ["--deadline", "0"]):
        code, line = run_check(bad, *args, capsys=capsys)
        assert code == NagiosState.UNKNOWN and line.startswith("WAWP UNKNOWN - "), (args, line)
    # options before the subcommand too
    assert main(["--config", str(tmp_path / "missing.toml"), "check"]) == NagiosState.UNKNOWN
    assert capsys.readouterr().out.startswith("WAWP UNKNOWN - ")
    # status keeps its own codes
    assert main(["status", "--config", str(bad)]) == 2


def test_the_plugin_as_a_real_process(fleet):
    sims, path = fleet
    fail(sims[0])
    done = subprocess.run([sys.executable, "-m", "wawp_tui", "check", "--config", str(path),
                           "--critical", "1"], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "WAWP_ACCESS_TOKEN": SIM_TOKEN})
    assert done.returncode == 2 and done.stdout.startswith("WAWP CRITICAL - 1 of 20")
    assert done.stdout.count("\n") == 1 and not done.stderr


# -- the judgement, without a server --------------------------------------------------


def row(i: int, status: str, error: str | None = None) -> StatusRow:
    return StatusRow(id=f"I{i:011d}", label=f"inst {i} | pipe", status=status, error=error,
                     latency_ms=None, me=None, tags=())


@pytest.mark.parametrize("text, total, expected", [
    ("1", 20, 1), ("3", 5, 3), ("10%", 20, 2), ("10%", 5, 1), ("10%", 200, 20), ("33.3%", 3, 1),
    ("50%", 3, 2), ("100%", 7, 7), ("0.1%", 10, 1),
])
def test_thresholds_as_counts_and_shares(text, total, expected):
    assert check.parse_threshold(text, "--warning").count(total) == expected


def test_what_counts_as_a_problem():
    kinds = {"I00000000005": "not_found", "I00000000006": "server_error"}
    rows = [row(0, "WORKING"), row(1, "STARTING"), row(2, "STOPPED"), row(3, "SCAN_QR_CODE"),
            row(4, "PASSKEY_CONFIRMATION_REQUIRED"), row(5, "UNREACHABLE", "gone (404)"),
            row(6, "UNREACHABLE", "server error (500)"), row(7, "FAILED"), row(8, "NEW_WORD"),
            row(9, NOT_POLLED, "not polled")]
    verdict = check.judge(rows, kinds, check.Threshold(1, False), check.Threshold(100, True))
    perf = perfdata(verdict.line())
    assert {k: v[0] for k, v in perf.items()} == {
        "working": 1, "starting": 1, "stopped": 1, "scan_qr": 1, "passkey": 1, "failed": 1,
        "unreachable": 2, "not_found": 1, "unknown": 1, "problems": 7}
    assert verdict.state == NagiosState.WARNING
    # a label never breaks the line: no "|" in the text part
    assert verdict.summary.count("|") == 0 and "+2 more" in verdict.summary


def test_network_failures_everywhere_are_unknown_but_a_mix_is_judged():
    rows = [row(0, "UNREACHABLE", "cannot connect"), row(1, NOT_POLLED, "not polled")]
    kinds = {"I00000000000": "network"}
    one, ten = check.Threshold(1, False), check.Threshold(10, True)
    assert check.judge(rows, kinds, one, ten).state == NagiosState.UNKNOWN
    rows.append(row(2, "WORKING"))
    assert check.judge(rows, kinds, one, ten).state == NagiosState.CRITICAL
    assert check.judge([], {}, one, ten).state == NagiosState.UNKNOWN
