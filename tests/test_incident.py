"""Incident truth: what the screen says when things go wrong (an outage, a FAILED
instance, a second operator, a wrong base URL, a missing token), driven through keys and
the public API against the simulator over real sockets, at 80x24 where it matters."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys

import pytest

from tests.conftest import make_config
from tests.drive import events_text, highlight, refresh, table_ids, tick
from wawp_tui.client.api import WawpClient
from wawp_tui.config import load_config
from wawp_tui.core import AuditLog, Monitor
from wawp_tui.models import FAILED, SCAN_QR_CODE, STARTING, WORKING
from wawp_tui.simulator import Simulator, build_scenario
from wawp_tui.ui.app import build_app
from wawp_tui.ui.screens.confirm import ConfirmScreen
from wawp_tui.ui.widgets.fleet_table import FleetTable

SIM_TOKEN = "sim-token-INCIDENT-0123456789"


def troubled_fleet(clock, n=6):
    """A healthy fleet with one FAILED and one SCAN_QR_CODE instance."""
    sim_instances = build_scenario("healthy", seed=3, instances=n, clock=clock)
    sim_instances[1].fail_at = clock() - 1
    sim_instances[2].logged_in = False
    sim_instances[2].base_status = SCAN_QR_CODE
    return sim_instances


def cell(app, instance_id, column):
    return str(app.query_one(FleetTable).get_cell(instance_id, column))


def text_of(app, selector):
    return str(app.query_one(selector).content)


async def test_an_outage_keeps_the_last_known_truth_and_is_one_alert(serve, clock, tmp_path, monkeypatch):
    sim_instances = troubled_fleet(clock)
    sim = Simulator(sim_instances, clock=clock, seed=3)
    server = serve(sim)
    config = make_config(server.url, sim_instances)
    app = build_app(config, WawpClient(server.url, timeout=1, connect_timeout=0.5), clock=clock,
                    audit=AuditLog(tmp_path / "audit.jsonl"), poll=False)
    bells = []
    monkeypatch.setattr(app, "bell", lambda: bells.append(1))
    failed, scan = sim_instances[1].id, sim_instances[2].id
    async with app.run_test(size=(80, 24)) as pilot:
        await refresh(app, pilot)
        await tick(app, pilot)
        before = table_ids(app)
        assert before[:2] == [failed, scan]
        assert bells == []  # already broken at start-up: listed, no bell
        port = int(server.url.rsplit(":", 1)[1])
        server.stop()
        for _ in range(6):  # 30 s of outage, a poll every 5 s
            clock.advance(5)
            await refresh(app, pilot)
            await tick(app, pilot)
        # Rows keep their last known word and rank, marked stale with the age.
        assert table_ids(app) == before
        assert cell(app, failed, "status").startswith("✗ FAILED ~")
        assert cell(app, scan, "status").startswith("▣ SCAN QR ~")
        summary = text_of(app, "#summary")
        assert "1 FAILED" in summary and "1 SCAN QR" in summary and "~ 6 stale" in summary
        assert "refreshed 30s ago" in summary
        # One alert for the outage, naming the count; the banner names the base URL.
        firing = [a.text for a in app.monitor.alerts.firing()]
        assert firing[0] == "API unreachable: 6 instances"
        assert len([t for t in firing if "UNREACHABLE" in t]) == 0
        assert server.url in text_of(app, "#banner")
        assert len(bells) == 1
        strip = text_of(app, "#alerts")
        assert strip.startswith("▲ 3 alerts (A ack, ! list): API unreachable: 6 instances")
        # The server comes back: the outage resolves by itself; FAILED is still FAILED.
        server = serve(sim, port=port)
        clock.advance(5)
        await refresh(app, pilot)
        await tick(app, pilot)
        assert "stale" not in text_of(app, "#summary")
        assert "refreshed just now" in text_of(app, "#summary")
        assert cell(app, failed, "status") == "✗ FAILED"
        assert not app.monitor.outage()
        assert [a.text for a in app.monitor.alerts.firing()][-2:] != []
        assert "resolved after 30s: API unreachable" in events_text(app)
        assert any(a.text.endswith(" FAILED") for a in app.monitor.alerts.firing())


async def test_a_failed_row_says_how_it_got_there_and_since_when(serve, clock, tmp_path):
    sim_instances = troubled_fleet(clock)
    sim_instances[3].fail_at = clock() + 50
    sim = Simulator(sim_instances, clock=clock, seed=3)
    server = serve(sim)
    app = build_app(make_config(server.url, sim_instances), WawpClient(server.url, timeout=2),
                    clock=clock, audit=AuditLog(tmp_path / "audit.jsonl"), poll=False)
    async with app.run_test(size=(160, 48)) as pilot:
        await refresh(app, pilot)
        broke_early, broke_later = sim_instances[1].id, sim_instances[3].id
        # A lower bound moves in 10 s steps: a fleet seen at start-up is not redrawn
        # every second (each change of a cell repaints the whole table).
        for advance, shown in ((9, ""), (1, "≥10s"), (9, "≥10s"), (28, "≥40s")):
            clock.advance(advance)
            await tick(app, pilot)
            assert cell(app, broke_early, "since") == shown
        clock.advance(60 - 47)
        await refresh(app, pilot)
        await tick(app, pilot)
        broke_early, broke_later = sim_instances[1].id, sim_instances[3].id
        assert cell(app, broke_early, "error") == "FAILED when first seen"
        assert cell(app, broke_early, "since") == "≥1m"  # broken since before we started
        assert cell(app, broke_later, "error") == "WORKING -> FAILED"
        assert cell(app, broke_later, "since") == "0s"
        await highlight(app, pilot, broke_early)
        from tests.drive import detail_text
        assert "since before start (≥ 1m)" in detail_text(app)  # the steps of SINCE
        context = text_of(app, "#context")
        assert server.url in context and "6 instances" in context


async def test_a_second_operator_cannot_double_restart(serve, clock, tmp_path):
    """Two monitors (two terminals, two people) on one fleet: the second one's restart,
    3 s after the first one's, is refused because its own poll sees the STARTING."""
    sim_instances = build_scenario("healthy", seed=5, instances=2, clock=clock)
    sim = Simulator(sim_instances, clock=clock, seed=5)
    server = serve(sim)
    config = make_config(server.url, sim_instances)
    target = sim_instances[0].id
    async with WawpClient(server.url, timeout=2) as one, WawpClient(server.url, timeout=2) as two:
        first, second = Monitor(config, one, clock=clock), Monitor(config, two, clock=clock)
        await first.refresh()
        await second.refresh()
        assert (await first.act("restart", [target])).outcomes[0].ok
        clock.advance(3)
        report = await second.act("restart", [target])
        outcome = report.outcomes[0]
        assert outcome.refused and "seen on the server: not sent from here" in outcome.message
        assert len(sim.calls_to("restart", target)) == 1
        # Its table shows the guard the same way as the first operator's.
        state = second.state(target)
        assert state.status == STARTING and "restart" in state.seen_actions
        assert any("restart seen on the server" in e.text for e in state.history)


async def test_a_rollout_does_not_stack_a_restart_on_a_manual_one(serve, clock, tmp_path):
    """A manual restart 2 s before the rollout began: the rollout counts it as done (it
    waits for it to reach its target) instead of stacking a second restart, and says so."""
    sim_instances = build_scenario("healthy", seed=5, instances=3, clock=clock)
    sim = Simulator(sim_instances, clock=clock, seed=5)
    server = serve(sim)
    config = make_config(server.url, sim_instances)
    lines = []

    async def sleep(seconds):
        clock.advance(seconds)

    async with WawpClient(server.url, timeout=2) as client:
        monitor = Monitor(config, client, clock=clock, sleep=sleep)
        await monitor.refresh()
        target = sim_instances[0].id
        assert (await monitor.act("restart", [target])).outcomes[0].ok
        clock.advance(2)
        from wawp_tui.core import plan
        rollout = monitor.rollout(plan("restart", [i.id for i in sim_instances], 5),
                                  state_path=None, progress=lines.append, sleep=sleep)
        final = await rollout.run()
    assert final.status == "done", final.summary()
    assert len(sim.calls_to("restart", target)) == 1
    assert all(len(sim.calls_to("restart", i.id)) == 1 for i in sim_instances)
    assert any(f"{target}: restart already done" in line and "not sending it twice" in line
               for line in lines), lines


async def test_the_same_moment_gives_the_same_answer_and_a_young_starting_is_refused(rig_two):
    sim, app, clock = rig_two
    async with app.run_test(size=(160, 48)) as pilot:
        await refresh(app, pilot)
        target = table_ids(app)[-1]
        await highlight(app, pilot, target)
        await pilot.press("r", "y")
        await app.workers.wait_for_complete()
        clock.advance(5)
        await refresh(app, pilot)
        assert app.monitor.state(target).status == STARTING
        for _ in range(3):  # always refused, never a warning in a confirmation
            await pilot.press("r")
            assert not isinstance(app.screen, ConfirmScreen)
        assert len(sim.calls_to("restart", target)) == 1
        assert "restart blocked: restarted 5s ago" in events_text(app)


@pytest.fixture
def rig_two(serve, clock, tmp_path):
    sim_instances = build_scenario("healthy", seed=9, instances=2, clock=clock)
    for inst in sim_instances:
        inst.boot_seconds = 20.0
    sim = Simulator(sim_instances, clock=clock, seed=9)
    server = serve(sim)
    app = build_app(make_config(server.url, sim_instances), WawpClient(server.url, timeout=2),
                    clock=clock, audit=AuditLog(tmp_path / "audit.jsonl"), poll=False)
    return sim, app, clock


async def test_targets_are_visible_and_listed_by_label(serve, clock, tmp_path):
    sim_instances = build_scenario("healthy", seed=4, instances=5, clock=clock)
    sim = Simulator(sim_instances, clock=clock, seed=4)
    server = serve(sim)
    app = build_app(make_config(server.url, sim_instances), WawpClient(server.url, timeout=2),
                    clock=clock, audit=AuditLog(tmp_path / "audit.jsonl"), poll=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await refresh(app, pilot)
        ids = table_ids(app)
        labels = {st.id: st.label for st in app.monitor.fleet}
        await pilot.press("space", "space", "space")  # select three, the cursor moves on
        assert "3 selected" in text_of(app, "#summary")
        await pilot.press("x")
        screen = app.screen
        assert isinstance(screen, ConfirmScreen)
        body = screen.body_text
        for instance_id in ids[:3]:
            assert labels[instance_id] in body
        assert labels[ids[3]] not in body.split("Acts on")[0]
        assert f"not on the highlighted row ({labels[ids[3]]})" in body
        assert "webhook" in body.lower()
        await pilot.press("n")


async def test_a_confirmation_counts_down_while_it_is_open(rig_two):
    sim, app, clock = rig_two
    async with app.run_test(size=(160, 48)) as pilot:
        await refresh(app, pilot)
        first, second = table_ids(app)
        await highlight(app, pilot, first)
        await pilot.press("r", "y")
        await app.workers.wait_for_complete()
        clock.advance(6)
        await refresh(app, pilot)
        await highlight(app, pilot, first)
        await pilot.press("space", "space", "r")  # both selected: one is held by a guard
        screen = app.screen
        assert isinstance(screen, ConfirmScreen)
        assert "restarted 6s ago" in screen.body_text and "wait 9s" in screen.body_text
        clock.advance(2)
        screen.redraw()  # what its one-second timer does
        assert "restarted 8s ago" in screen.body_text and "wait 7s" in screen.body_text
        await pilot.press("n")
        assert len(sim.calls_to("restart", first)) == 1 and not sim.calls_to("restart", second)


async def test_a_missing_token_marks_one_row_and_the_rest_is_monitored(serve, clock, tmp_path):
    sim_instances = build_scenario("healthy", seed=2, instances=3, clock=clock)
    sim = Simulator(sim_instances, clock=clock, seed=2)
    server = serve(sim)
    path = tmp_path / "config.toml"
    body = f'[api]\nbase_url = "{server.url}"\n'
    for n, inst in enumerate(sim_instances):
        body += f'[[instances]]\nid = "{inst.id}"\nlabel = "{inst.label}"\n'
        body += 'token_env = "NOT_SET_ANYWHERE"\n' if n == 0 else f'token = "{inst.token}"\n'
    path.write_text(body)
    os.chmod(path, 0o600)
    config = load_config(path, env={})
    app = build_app(config, WawpClient(server.url, timeout=2), clock=clock,
                    audit=AuditLog(tmp_path / "audit.jsonl"), poll=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await refresh(app, pilot)
        await tick(app, pilot)
        broken = sim_instances[0].id
        assert cell(app, broken, "status") == "! NO TOKEN"
        assert cell(app, broken, "error").startswith("NOT_SET_ANYWHERE is not")
        await highlight(app, pilot, broken)
        from tests.drive import detail_text
        assert "NOT_SET_ANYWHERE is not set (config.toml line 6): export" in detail_text(app)
        assert [cell(app, i.id, "status") for i in sim_instances[1:]] == ["✓ WORKING"] * 2
        assert not sim.calls_to("info", broken)
    # `status` reports it per instance and still polls the others (exit 1, not 2).
    env = {k: v for k, v in os.environ.items() if k != "NOT_SET_ANYWHERE"}
    out = subprocess.run([sys.executable, "-m", "wawp_tui", "status", "--json", "--config", str(path)],
                         capture_output=True, text=True, env=env, timeout=60)
    assert out.returncode == 1, out.stderr
    rows = {r["id"]: r for r in json.loads(out.stdout)}
    assert rows[broken]["status"] == "NOT_POLLED" and "NOT_SET_ANYWHERE" in rows[broken]["error"]
    assert [rows[i.id]["status"] for i in sim_instances[1:]] == [WORKING, WORKING]
    assert "1 instance(s) cannot be polled" in out.stderr


async def test_a_base_url_with_a_path_is_warned_about_and_blamed_in_the_banner(serve, clock, tmp_path):
    sim_instances = build_scenario("healthy", seed=2, instances=4, clock=clock)
    sim = Simulator(sim_instances, clock=clock, seed=2)
    server = serve(sim)
    path = tmp_path / "config.toml"
    wrong = server.url + "/v2"
    path.write_text(f'[api]\nbase_url = "{wrong}"\n' + "".join(
        f'[[instances]]\nid = "{i.id}"\nlabel = "{i.label}"\ntoken = "{i.token}"\n' for i in sim_instances))
    os.chmod(path, 0o600)
    config = load_config(path, env={})
    assert any("has a path (/v2)" in w for w in config.warnings)
    app = build_app(config, WawpClient(wrong, timeout=2), clock=clock,
                    audit=AuditLog(tmp_path / "audit.jsonl"), poll=False)
    async with app.run_test(size=(160, 48)) as pilot:
        await refresh(app, pilot)
        await refresh(app, pilot)
        await tick(app, pilot)
        banner = text_of(app, "#banner")
        assert "Every instance gets the same answer at " + wrong in banner and "base_url" in banner
        firing = app.monitor.alerts.firing()
        assert len(firing) == 1 and firing[0].text.startswith("every instance fails the same way")
    assert SIM_TOKEN not in banner


async def test_quit_during_a_rollout_asks_and_leaves_it_resumable(serve, clock, tmp_path):
    sim_instances = build_scenario("healthy", seed=6, instances=4, clock=clock)
    sim = Simulator(sim_instances, clock=clock, seed=6)
    server = serve(sim)
    state_path = tmp_path / "rollout.json"
    rerun = ("--config", "/etc/wawp-tui/fleet of ops.toml", "--base-url", server.url)
    app = build_app(make_config(server.url, sim_instances), WawpClient(server.url, timeout=2),
                    clock=clock, audit=AuditLog(tmp_path / "audit.jsonl"), poll=False,
                    rollout_state_path=state_path, rerun=rerun)
    async with app.run_test(size=(80, 24)) as pilot:
        await refresh(app, pilot)
        await pilot.press("W", "r")
        assert isinstance(app.screen, ConfirmScreen)
        assert "4 instances in 1 wave of up to" in app.screen.body_text
        await pilot.press("y")
        for _ in range(50):
            await pilot.pause(0.02)
            if app.fleet_screen.flows.rollout is not None and sim.calls_to("restart"):
                break
        await pilot.press("q")
        assert isinstance(app.screen, ConfirmScreen)
        # The command that works from any directory: the config by its absolute path,
        # the base URL given on the command line, quoted for a shell.
        assert (f"wawp-tui --config '/etc/wawp-tui/fleet of ops.toml' --base-url {server.url} "
                "rollout restart --resume") in app.screen.body_text
        await pilot.press("n")  # stays
        assert app.is_running and app.fleet_screen.flows.rollout is not None
        await pilot.press("q", "y")
        await pilot.pause()
    saved = json.loads(state_path.read_text())
    assert saved["status"] == "interrupted" and saved["reason"] == "quit from the TUI"


def test_dataclass_config_problem_field_defaults_to_none():
    from wawp_tui.models import InstanceConfig, Secret

    assert dataclasses.replace(InstanceConfig("A", "a", Secret("x"))).problem is None


async def test_read_only_says_so_at_80_columns_and_the_advice_names_no_key(rig):
    sim, app = rig("demo", read_only=True)
    async with app.run_test(size=(80, 24)) as pilot:
        await refresh(app, pilot)
        mode = app.query_one("#mode")
        assert mode.display and "READ-ONLY" in str(mode.content) and mode.region.right <= 80
        # The short tag at 80 columns: the footer's keys still fit beside it.
        footer = app.screen._compositor.render_strips()[-1].text
        assert "READ-ONLY" in footer and "Help" in footer and "Quit" in footer
        failed = next(st.id for st in app.monitor.fleet if st.status == FAILED)
        await highlight(app, pilot, failed)
        from tests.drive import detail_text
        advice = detail_text(app)
        assert "(read-only mode: nothing is sent from here)" in advice
        await pilot.press("r")
        assert not isinstance(app.screen, ConfirmScreen) and not sim.calls_to("restart")
