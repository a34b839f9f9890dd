"""The fault matrix, end to end over loopback: every fault the simulator can inject,
through each entry point (`status`, the TUI, auto-heal). For each one: no crash, a
one-line readable error on that instance only, the others unaffected, and recovery
within one refresh once the fault is cleared."""

import dataclasses
import json

import pytest
from rich.text import Text
from textual.widgets import Static

from tests.conftest import make_config
from tests.drive import detail_text, refresh
from wawp_tui import cli
from wawp_tui.client.api import WawpClient
from wawp_tui.core.audit import AuditLog
from wawp_tui.simulator import SIM_TOKEN, Simulator, build_scenario
from wawp_tui.ui.app import build_app
from wawp_tui.ui.widgets.fleet_table import FleetTable

# kind, parameters, words in the one-line error (None: not an error), whether auto-heal
# restarts an instance that keeps failing this way (server-side trouble only).
FAULTS = [
    ("html_502", {}, "bad gateway (502)", True),
    ("html_500", {}, "server error (500)", True),
    ("xml_400", {}, "Missing parameter instance_id", False),
    ("text_500", {}, "engine crashed", True),
    ("malformed_json", {}, "not valid JSON", True),
    ("empty_200", {}, "empty body", True),
    ("rate_limit", {"retry_after": 4}, "rate limited (429), retry in 4s", False),
    ("drop", {}, "connection dropped", False),
    ("hang", {}, "s (timeout)", True),
    ("unauthorized", {}, "token", False),
    ("forbidden", {}, "quota", False),
    ("not_found", {}, "deleted or wrong id", False),
    ("unknown_status", {"status": "MAINTENANCE"}, None, False),
]
IDS = [f[0] for f in FAULTS]
N = 4


@pytest.fixture
def fleet(serve, clock, tmp_path):
    sim_instances = build_scenario("healthy", instances=N, clock=clock)
    sim = Simulator(sim_instances, clock=clock)
    server = serve(sim)
    config = make_config(server.url, sim_instances)
    return sim, server, config


def status_json(capsys, config, tmp_path, url):
    # conftest isolates the environment; the token comes from the documented variable.
    import os
    os.environ["WAWP_ACCESS_TOKEN"] = SIM_TOKEN
    path = tmp_path / "config.toml"
    lines = [f'[api]\nbase_url = "{url}"\ntimeout = 1\nconnect_timeout = 1\n']
    lines += [f'[[instances]]\nid = "{i.id}"\nlabel = "{i.label}"\n' for i in config.instances]
    path.write_text("\n".join(lines))
    code = cli.main(["status", "--json", "--config", str(path)])
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err and SIM_TOKEN not in out + err
    assert code in (0, 1), err
    return code, {row["id"]: row for row in json.loads(out)}


def check_one_line(message):
    assert message and "\n" not in message and "<" not in message and len(message) <= 120


@pytest.mark.parametrize("kind, params, words, server_side", FAULTS, ids=IDS)
def test_status_command(fleet, capsys, tmp_path, kind, params, words, server_side):
    sim, server, config = fleet
    target = config.instances[0].id
    sim.inject(target, kind, **params)
    code, rows = status_json(capsys, config, tmp_path, server.url)
    assert code == 1
    if words is None:
        assert rows[target]["status"] == "MAINTENANCE" and rows[target]["error"] is None
    else:
        check_one_line(rows[target]["error"])
        assert words in rows[target]["error"]
    assert all(rows[i.id]["status"] == "WORKING" for i in config.instances[1:])
    sim.clear_faults()
    code, rows = status_json(capsys, config, tmp_path, server.url)
    assert code == 0 and all(row["status"] == "WORKING" for row in rows.values())


def test_status_command_with_the_server_down_then_back(fleet, capsys, tmp_path, serve):
    sim, server, config = fleet
    port = int(server.url.rsplit(":", 1)[1])
    server.stop()
    code, rows = status_json(capsys, config, tmp_path, server.url)
    assert code == 1
    assert all("connection refused" in row["error"] for row in rows.values())
    serve(sim, port=port)
    code, rows = status_json(capsys, config, tmp_path, server.url)
    assert code == 0


# -- the TUI and auto-heal ---------------------------------------------------------------


def status_cell(app, instance_id) -> str:
    cell = app.query_one(FleetTable).get_cell(instance_id, "status")
    return cell.plain if isinstance(cell, Text) else str(cell)




def make_app(config, url, tmp_path, clock, auto_heal=False):
    config = dataclasses.replace(config, monitor=dataclasses.replace(config.monitor,
                                                                     auto_heal=auto_heal))
    client = WawpClient(url, timeout=1, connect_timeout=1)
    return build_app(config, client, clock=clock, audit=AuditLog(tmp_path / "audit.jsonl"),
                     poll=False)


@pytest.mark.parametrize("kind, params, words, server_side", FAULTS, ids=IDS)
async def test_tui_and_auto_heal(fleet, tmp_path, clock, kind, params, words, server_side):
    sim, server, config = fleet
    target = config.instances[0].id
    app = make_app(config, server.url, tmp_path, clock, auto_heal=True)
    async with app.run_test(size=(120, 40)) as pilot:
        await refresh(app, pilot)
        sim.inject(target, kind, **params)
        for _ in range(3):  # three failed polls: what auto-heal waits for
            clock.advance(4)  # polls 4 s apart: still within two missed polls (not STALE)
            await refresh(app, pilot)
        table = app.query_one(FleetTable)
        table.move_cursor(row=table.get_row_index(target))
        await pilot.pause()
        st = app.monitor.fleet.get(target)
        if words is None:
            assert status_cell(app, target).startswith("? MAINTENANCE")
            assert "MAINTENANCE" in detail_text(app) and "dashboard" in detail_text(app)
        else:
            # The last known word stays, marked with the age of the last good poll.
            assert status_cell(app, target) == "✓ WORKING ~12s"
            check_one_line(st.last_error)
            assert words in st.last_error and words in detail_text(app)
        for other in config.instances[1:]:
            assert "WORKING" in status_cell(app, other.id)
        # Auto-heal sends nothing on failing polls, server-side or not: what the instance
        # does now is unknown (another operator's restart reads as 502s), and the one gate
        # fails closed; the advice names no key that would be refused.
        app.fleet_screen.tick()
        await pilot.pause()
        await app.monitor.idle()
        assert not sim.calls_to("restart")
        assert "press r" not in detail_text(app)
        # Cleared: the next poll of that instance (one refresh) shows it healthy again.
        sim.clear_faults()
        clock.advance(app.monitor.poll_interval(target))
        await app.fleet_screen.refresh_now([target])
        await pilot.pause()
        # (a restarted instance has booted by then: the simulator runs on the same clock)
        assert status_cell(app, target) == "✓ WORKING"
        assert app.monitor.fleet.get(target).failures == 0
    assert not (tmp_path / "audit.jsonl").exists()  # nothing was done, nothing was logged


async def test_tui_server_down_banner_and_no_restart_storm(fleet, tmp_path, clock, serve):
    sim, server, config = fleet
    port = int(server.url.rsplit(":", 1)[1])
    app = make_app(config, server.url, tmp_path, clock, auto_heal=True)
    async with app.run_test(size=(120, 40)) as pilot:
        await refresh(app, pilot)
        server.stop()
        for _ in range(3):
            clock.advance(4)
            await refresh(app, pilot)
        banner = app.query_one("#banner", Static)
        assert banner.display and "unreachable from here" in str(banner.content)
        # Every row keeps its last known word, marked with the age of its last good poll.
        assert all(status_cell(app, i.id) == "✓ WORKING ~12s" for i in config.instances)
        app.fleet_screen.tick()
        await pilot.pause()
        assert sim.calls_to("restart") == []  # an outage is not fixed by restarts
        serve(sim, port=port)
        clock.advance(6)
        await refresh(app, pilot)
        assert all(status_cell(app, i.id) == "✓ WORKING" for i in config.instances)
        app.fleet_screen.tick()
        await pilot.pause()
        assert not banner.display


async def test_tui_with_nothing_listening(tmp_path, clock):
    """A refused connection from the first poll (wrong port, firewall): told, not crashed."""
    config = make_config("http://127.0.0.1:9", build_scenario("healthy", instances=2, clock=clock))
    app = make_app(config, "http://127.0.0.1:9", tmp_path, clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await refresh(app, pilot)
        assert all(st.last_error.endswith("connection refused") for st in app.monitor.fleet)
        app.fleet_screen.tick()
        await pilot.pause()
        assert "unreachable from here" in str(app.query_one("#banner", Static).content)
