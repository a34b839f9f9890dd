"""The incident screen, second pass: the first seconds of an outage, alerts that resolve
and group, a frame that never loses its summary, context or footer, bulk actions that say
what they do. Driven through keys, messages and the public API against the simulator over
real sockets, at 80x24 where it matters."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from pathlib import Path

import pytest
from rich.text import Text
from textual.widgets import Static

from tests.conftest import make_config
from tests.drive import events_text, refresh, screen_lines, table_ids, tick
from wawp_tui.client.api import WawpClient
from wawp_tui.core import AuditLog, Monitor
from wawp_tui.models import SCAN_QR_CODE, STARTING, STOPPED, InstanceConfig, Secret
from wawp_tui.simulator import Simulator, build_scenario
from wawp_tui.simulator.state import Fault
from wawp_tui.ui.app import build_app
from wawp_tui.ui.messages import RolloutProgress
from wawp_tui.ui.screens.confirm import ChoiceScreen, ConfirmScreen
from wawp_tui.ui.widgets.fleet_table import FleetTable


def cell(app, instance_id, column) -> str:
    value = app.query_one(FleetTable).get_cell(instance_id, column)
    return value.plain if isinstance(value, Text) else str(value)


def text_of(app, selector) -> str:
    content = app.query_one(selector).content
    return content.plain if isinstance(content, Text) else str(content)


def mixed_fleet(clock, n=8):
    """WORKING, with one FAILED, one stuck STARTING and one SCAN_QR_CODE."""
    sim_instances = build_scenario("healthy", seed=11, instances=n, clock=clock)
    failed, stuck, scan = sim_instances[1], sim_instances[2], sim_instances[3]
    failed.fail_at = clock() - 1
    stuck.base_status, stuck.started_at, stuck.stuck_starting = STARTING, clock() - 120, True
    scan.logged_in, scan.base_status = False, SCAN_QR_CODE
    return sim_instances


def app_on(serve, clock, tmp_path, sim_instances, size_note=""):
    sim = Simulator(sim_instances, clock=clock, seed=11)
    server = serve(sim)
    config = make_config(server.url, sim_instances)
    app = build_app(config, WawpClient(server.url, timeout=1, connect_timeout=0.5), clock=clock,
                    audit=AuditLog(tmp_path / "audit.jsonl"), poll=False)
    return sim, server, app


# -- outage truth ---------------------------------------------------------------------


async def test_from_the_first_failed_poll_rows_keep_their_word_and_stuck_stays_stuck(serve, clock, tmp_path):
    sim_instances = mixed_fleet(clock)
    sim, server, app = app_on(serve, clock, tmp_path, sim_instances)
    failed, stuck, scan, working = (i.id for i in sim_instances[1:5])
    async with app.run_test(size=(80, 24)) as pilot:
        await refresh(app, pilot)
        clock.advance(61)  # STARTING for over a minute: STUCK
        await refresh(app, pilot)
        await tick(app, pilot)
        assert cell(app, stuck, "status") == "◐ STUCK"
        before = table_ids(app)
        server.stop()
        clock.advance(4)
        await refresh(app, pilot)  # the very first failed poll
        await tick(app, pilot)
        assert cell(app, failed, "status") == "✗ FAILED ~4s"
        assert cell(app, stuck, "status") == "◐ STUCK ~4s"
        assert cell(app, scan, "status") == "▣ SCAN QR ~4s"
        assert cell(app, working, "status") == "✓ WORKING ~4s"
        assert table_ids(app) == before  # the order of the last known words
        summary = text_of(app, "#summary")
        assert "UNREACHABLE" not in summary
        assert "1 FAILED" in summary and "1 STUCK" in summary and "1 SCAN QR" in summary
        assert "~ 8 stale" in summary
        for _ in range(30):  # five minutes of outage
            clock.advance(10)
            await refresh(app, pilot)
        await tick(app, pilot)
        assert cell(app, stuck, "status") == "◐ STUCK ~5m04s"
        assert cell(app, failed, "status") == "✗ FAILED ~5m04s"
        assert table_ids(app) == before
        # FAILED and STUCK stay alerts on their last known word; the rest is the outage's.
        texts = [g.text for g in app.monitor.alerts.groups()]
        assert texts[0].startswith("API unreachable")
        assert not any("not answering" in t for t in texts)


async def test_an_instance_never_polled_reads_unreachable(serve, clock, tmp_path):
    sim_instances = build_scenario("healthy", seed=11, instances=3, clock=clock)
    sim, server, app = app_on(serve, clock, tmp_path, sim_instances)
    target = sim_instances[0].id
    sim.inject(target, "html_502")
    async with app.run_test(size=(80, 24)) as pilot:
        await refresh(app, pilot)
        assert cell(app, target, "status") == "! UNREACHABLE"
        assert "1 UNREACHABLE" in text_of(app, "#summary")


async def test_the_outage_alert_resolves_when_the_api_answers_and_own_faults_alert_alone(
        serve, clock, tmp_path, monkeypatch):
    """Three instances with faults of their own (404, 502, 429) must not keep the outage
    firing once the API answers again: each gets its own alert, in one group."""
    sim_instances = build_scenario("healthy", seed=11, instances=8, clock=clock)
    sim, server, app = app_on(serve, clock, tmp_path, sim_instances)
    bells = []
    monkeypatch.setattr(app, "bell", lambda: bells.append(1))
    port = int(server.url.rsplit(":", 1)[1])
    odd = [i.id for i in sim_instances[:3]]
    async with app.run_test(size=(80, 24)) as pilot:
        await refresh(app, pilot)
        server.stop()
        for _ in range(4):
            clock.advance(5)
            await refresh(app, pilot)
            await tick(app, pilot)
        assert app.query_one("#banner").display
        assert [g.text for g in app.monitor.alerts.groups()] == ["API unreachable: 8 instances"]
        assert len(bells) == 1  # told once, after the group wait
        for instance_id, kind in zip(odd, ("not_found", "html_502", "rate_limit")):
            sim.inject(instance_id, kind)
        serve(sim, port=port)
        clock.advance(5)
        await refresh(app, pilot)
        await tick(app, pilot)
        # The API answers: the banner and the outage alert are gone at once.
        assert not app.query_one("#banner").display
        assert not any(a.key == "outage" for a in app.monitor.alerts.firing())
        assert "resolved after 20s: API unreachable" in events_text(app)
        # The three with faults of their own: one group, every one of them in it.
        clock.advance(5)
        await refresh(app, pilot)
        await tick(app, pilot)
        groups = app.monitor.alerts.groups()
        assert [g.text for g in groups] == ["3 instances not answering"]
        assert set(groups[0].instance_ids) == set(odd)
        assert "ALERT 3 instances not answering" in events_text(app)


async def test_a_mass_logout_is_one_alert_told_once(serve, clock, tmp_path, monkeypatch):
    sim_instances = build_scenario("healthy", seed=11, instances=24, clock=clock)
    sim, server, app = app_on(serve, clock, tmp_path, sim_instances)
    bells = []
    monkeypatch.setattr(app, "bell", lambda: bells.append(1))
    async with app.run_test(size=(80, 24)) as pilot:
        await refresh(app, pilot)
        await tick(app, pilot)
        # 20 phones unlink; the polls see them over two rounds.
        for inst in sim_instances[:20]:
            inst.logged_in, inst.base_status = False, SCAN_QR_CODE
        clock.advance(2)
        await refresh(app, pilot, [i.id for i in sim_instances[:12]])
        await tick(app, pilot)
        clock.advance(2)
        await refresh(app, pilot, [i.id for i in sim_instances[12:20]])
        await tick(app, pilot)
        assert events_text(app).count("ALERT") == 0  # gathering (the group wait)
        clock.advance(3)
        await tick(app, pilot)
        assert events_text(app).count("ALERT") == 1
        assert "ALERT 20 instances need a QR scan" in events_text(app)
        assert len(bells) == 1
        strip = text_of(app, "#alerts")
        assert strip.startswith("▲ 1 alert (A ack, ! list): 20 instances need a QR scan")
        assert len(app.monitor.alerts.firing()) == 20  # each instance still its own alert


async def test_the_api_back_after_a_long_outage_is_seen_within_seconds(serve, clock, tmp_path):
    """After a long outage every instance waits a minute between polls (the backoff cap):
    the probe sees the API come back, and every instance is polled again at once."""
    sim_instances = build_scenario("healthy", seed=11, instances=2)
    sim = Simulator(sim_instances, seed=11)
    server = serve(sim)
    port = int(server.url.rsplit(":", 1)[1])
    config = make_config(server.url, sim_instances, refresh=2.0)
    async with WawpClient(server.url, timeout=1, connect_timeout=0.5) as client:
        monitor = Monitor(config, client)
        await monitor.refresh()
        server.stop()
        for _ in range(8):  # deep in the backoff: a minute to the next poll of each
            await monitor.refresh()
        assert all(monitor.poll_interval(i) == 60 for i in monitor.fleet.instances)
        poller = asyncio.create_task(monitor.run())
        try:
            await until(lambda: all(st.failures >= 9 for st in monitor.fleet), 30)
            serve(sim, port=port)
            # Far sooner than the minute of backoff (a probe every 2 s, then all at once),
            # with room for a loaded machine.
            await until(lambda: not any(st.failures for st in monitor.fleet), 40)
            assert monitor.outage() is None
        finally:
            poller.cancel()
            await asyncio.gather(poller, return_exceptions=True)


async def until(predicate, limit: float) -> None:
    """Wait for a condition against a generous deadline (the machine may be loaded)."""
    deadline = time.monotonic() + limit
    while not predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.05)


# -- the frame ------------------------------------------------------------------------

LONG_PATH = "/srv/operations/wawp/on-call-rotations/emea-and-americas/production-fleet.toml"
EVERY_WORD = ("FAILED", "UNREACHABLE", "NO TOKEN", "SCAN QR", "PASSKEY", "PASSKEY CODE", "STUCK",
              "STARTING", "MAINTENANCE", "STOPPED", "WORKING")


def every_status_fleet(clock, n=16):
    """One instance in every word the summary can count, the rest WORKING."""
    sim_instances = build_scenario("healthy", seed=13, instances=n, clock=clock)
    a = sim_instances
    a[0].fail_at = clock() - 1
    a[1].faults.append(Fault("html_502"))  # never polled successfully: UNREACHABLE
    a[2].logged_in, a[2].base_status = False, SCAN_QR_CODE
    a[3].raw_status = "PASSKEY_REQUIRED"
    a[4].raw_status = "PASSKEY_CONFIRMATION_REQUIRED"
    a[5].base_status, a[5].started_at, a[5].stuck_starting = STARTING, clock(), True
    a[7].raw_status = "MAINTENANCE"
    a[8].base_status = STOPPED
    return sim_instances


def frame_app(serve, clock, tmp_path, read_only=True):
    sim_instances = every_status_fleet(clock)
    sim = Simulator(sim_instances, clock=clock, seed=13)
    server = serve(sim)
    config = make_config(server.url, sim_instances, read_only=read_only)
    no_token = InstanceConfig("NOTOKEN00001", "Support desk without a token", Secret(""),
                              problem="WAWP_TOKEN_SUPPORT_DESK_EMEA is not set (config line 42)")
    config = dataclasses.replace(config, instances=config.instances + (no_token,),
                                 path=Path(LONG_PATH))
    app = build_app(config, WawpClient(server.url, timeout=1, connect_timeout=0.5), clock=clock,
                    audit=AuditLog(tmp_path / "audit.jsonl"), poll=False)
    return sim, server, app


def assert_frame(app, url: str, words=EVERY_WORD) -> None:
    """The rule: the summary (every count and the refreshed age), the context (the base
    URL always) and the footer are on screen."""
    lines = screen_lines(app)
    screen = "\n".join(lines)
    for word in words:
        assert f" {word}" in screen, f"{word} count missing:\n{screen}"
    assert "refreshed " in screen and "auto-heal" in screen, screen
    context = next((line for line in lines if url in line), None)
    assert context is not None and "17 instances" in context, screen
    assert "Quit" in lines[-1] and "Help" in lines[-1], screen


@pytest.mark.parametrize("size", [(80, 24), (100, 30), (120, 40), (160, 48)])
async def test_summary_context_and_footer_always_show(serve, clock, tmp_path, size):
    sim, server, app = frame_app(serve, clock, tmp_path)
    async with app.run_test(size=size) as pilot:
        assert "Quit" in screen_lines(app)[-1]  # the footer's keys from the first frame
        await refresh(app, pilot)
        clock.advance(61)  # one STARTING is STUCK by now; another has just begun
        young = list(sim.instances.values())[6]
        young.base_status, young.started_at, young.boot_seconds = STARTING, clock(), 1e9
        await refresh(app, pilot)
        await tick(app, pilot)
        await pilot.press("p")  # paused: one more mode in the summary
        table = app.query_one(FleetTable)
        table.move_cursor(row=0)
        await pilot.press("space", "space", "space", "o")  # a selection, a sort
        await tick(app, pilot)
        assert app.query_one("#alerts").display
        assert_frame(app, server.url)
        # The outage: the banner comes on top of everything else.
        await pilot.press("p")
        server.stop()
        for _ in range(3):
            clock.advance(5)
            await refresh(app, pilot)
            await tick(app, pilot)
        assert app.query_one("#banner").display
        assert_frame(app, server.url)
        # ...and after it, everything is still there (nothing stays hidden).
        server = serve(sim, port=int(server.url.rsplit(":", 1)[1]))
        clock.advance(5)
        await refresh(app, pilot)
        await tick(app, pilot)
        assert not app.query_one("#banner").display
        assert_frame(app, server.url)


def test_the_context_line_shortens_the_path_never_the_base_url():
    from wawp_tui.ui.formatting import Palette, context_line

    url = "https://wawp-gateway.internal.example.com:8443"
    line = context_line(LONG_PATH, url, 1200, Palette({}), width=78).plain
    assert len(line) <= 78 and line.endswith(f" · {url} · 1200 instances")
    assert "…" in line
    line = context_line(LONG_PATH, "https://api.wawp.net", 60, Palette({}), width=78).plain
    assert len(line) == 78 and line.endswith(" · https://api.wawp.net · 60 instances")
    assert line.startswith("/srv/operat") and "…" in line and line.split(" · ")[0].endswith("/production-fleet.toml")
    home = str(Path.home())
    assert context_line(f"{home}/.config/wawp-tui/config.toml", url, 1, Palette({}),
                        width=200).plain.startswith("~/.config/wawp-tui/config.toml · ")


# -- bulk actions say exactly what they do ------------------------------------------------


async def test_a_filter_hiding_part_of_the_selection_is_said_and_respected(serve, clock, tmp_path):
    sim_instances = build_scenario("healthy", seed=17, instances=12, clock=clock)
    for n, inst in enumerate(sim_instances):
        inst.label = f"{'Alpha' if n < 3 else 'Bravo'} desk {n:02d}"
    sim, server, app = app_on(serve, clock, tmp_path, sim_instances)
    async with app.run_test(size=(80, 24)) as pilot:
        await refresh(app, pilot)
        app.query_one(FleetTable).move_cursor(row=0)
        await pilot.press(*["space"] * 10)
        await pilot.press("slash", *"desk 0", "enter")  # shows 10 rows: 00..09
        await pilot.press("escape", "slash", *"Alpha", "enter")  # shows 3 of the 10 selected
        assert len(app.fleet_screen.visible_ids()) == 3
        assert "3 of 10 selected (7 hidden by the filter)" in text_of(app, "#summary")
        await pilot.press("r")
        confirm = app.screen
        assert isinstance(confirm, ConfirmScreen)
        assert confirm.body_text.startswith("Targets (3):")
        assert "3 of 10 selected; 7 hidden by the filter are not included" in confirm.body_text
        await pilot.press("y")
        await app.workers.wait_for_complete()
        shown = {i.id for i in sim_instances[:3]}
        assert {c["instance_id"] for c in sim.calls_to("restart")} == shown
        await pilot.press("W")
        choice = app.screen
        assert isinstance(choice, ChoiceScreen)
        title = str(choice.query_one("#title", Static).content)
        assert title == ("Rolling operation on 3 instances (3 of 10 selected; 7 hidden by the "
                         "filter are not included)")


async def test_ten_targets_at_80x24_scroll_and_the_question_stays(serve, clock, tmp_path):
    sim_instances = build_scenario("healthy", seed=17, instances=14, clock=clock)
    sim, server, app = app_on(serve, clock, tmp_path, sim_instances)
    async with app.run_test(size=(80, 24)) as pilot:
        await refresh(app, pilot)
        app.query_one(FleetTable).move_cursor(row=0)
        await pilot.press(*["space"] * 10, "r")
        confirm = app.screen
        assert isinstance(confirm, ConfirmScreen)
        await pilot.pause()

        def seen() -> str:
            return "\n".join(screen_lines(app))

        assert "Restart 10 instances?" in seen()
        assert "y: yes    n / escape: no" in seen()  # the keys, on screen
        assert "outbound queue" not in seen()  # the consequence is further down...
        await pilot.press("G")
        await pilot.pause()
        assert "outbound queue" in seen() and "Restart 10 instances?" in seen()  # ...it scrolled
        assert "y: yes    n / escape: no" in seen()
        await pilot.press("g", "ctrl+d", "k", "j")
        # Ten instances: enter is not yes (it does nothing but say so); y is.
        await pilot.press("enter")
        assert app.screen is confirm and not sim.calls_to("restart")
        assert "press y" in seen()
        await pilot.press("y")
        await app.workers.wait_for_complete()
        assert len(sim.calls_to("restart")) == 10


async def test_enter_confirms_one_instance_but_not_auto_heal_or_a_rollout(serve, clock, tmp_path):
    sim_instances = build_scenario("healthy", seed=17, instances=3, clock=clock)
    sim, server, app = app_on(serve, clock, tmp_path, sim_instances)
    async with app.run_test(size=(80, 24)) as pilot:
        await refresh(app, pilot)
        await pilot.press("r")
        assert isinstance(app.screen, ConfirmScreen) and app.screen.enter_confirms
        await pilot.press("enter")
        await app.workers.wait_for_complete()
        assert len(sim.calls_to("restart")) == 1  # one instance: enter is yes
        await pilot.press("a")
        assert isinstance(app.screen, ConfirmScreen)
        assert "enter does not confirm (auto-heal then acts by itself): press y" in app.screen.keys_text
        await pilot.press("enter")
        assert isinstance(app.screen, ConfirmScreen) and not app.monitor.auto_heal
        await pilot.press("y")
        assert app.monitor.auto_heal
        await pilot.press("W", "x")
        assert isinstance(app.screen, ConfirmScreen) and not app.screen.enter_confirms
        await pilot.press("enter")
        assert app.fleet_screen.flows.rollout is None and not sim.calls_to("stop")
        await pilot.press("escape")
        assert not isinstance(app.screen, ConfirmScreen)


async def test_the_rollout_banner_names_labels(serve, clock, tmp_path):
    sim_instances = build_scenario("healthy", seed=17, instances=3, clock=clock)
    sim, server, app = app_on(serve, clock, tmp_path, sim_instances)
    async with app.run_test(size=(160, 48)) as pilot:
        await refresh(app, pilot)
        app.fleet_screen.post_message(RolloutProgress(
            f"wave 1/1: restart {sim_instances[0].id}, {sim_instances[1].id}"))
        await pilot.pause()
        banner = text_of(app, "#rollout")
        assert banner.startswith(f"ROLLOUT wave 1/1: restart {sim_instances[0].label}, "
                                 f"{sim_instances[1].label}")
        assert sim_instances[0].id not in banner
        assert f"{sim_instances[0].label} ({sim_instances[0].id})" in events_text(app)


def test_the_resume_command_works_from_any_directory(serve, tmp_path, monkeypatch):
    """What `q` prints during a rollout runs as printed from another folder, and the
    resumed rollout's last line no longer says why the first run stopped."""
    import argparse
    import json
    import os
    import shlex
    import subprocess
    import sys

    from wawp_tui.config import load_config, state_dir
    from wawp_tui.core.rollout import plan
    from wawp_tui.launch import rerun_options, resume_command
    from wawp_tui.simulator import SIM_TOKEN

    sim_instances = build_scenario("healthy", seed=17, instances=2)
    sim = Simulator(sim_instances)
    url = serve(sim).url
    folder = tmp_path / "configs"
    folder.mkdir()
    path = folder / "fleet.toml"
    path.write_text("".join(f'[[instances]]\nid = "{i.id}"\nlabel = "{i.label}"\n' for i in sim_instances))
    monkeypatch.chdir(folder)
    monkeypatch.setenv("WAWP_ACCESS_TOKEN", SIM_TOKEN)
    config = load_config(Path("fleet.toml"), env=dict(os.environ), base_url_override=url)
    options = rerun_options(argparse.Namespace(base_url=url), config)
    assert options == ("--config", str(path), "--base-url", url)
    state = plan("restart", [i.id for i in sim_instances], 5)
    state.status, state.reason = "interrupted", "quit from the TUI"
    state.save(state_dir() / "rollout.json")
    command = shlex.split(resume_command("restart", options))
    assert command[0] == "wawp-tui"
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    out = subprocess.run([sys.executable, "-m", "wawp_tui", *command[1:], "--yes"], cwd=elsewhere,
                         capture_output=True, text=True, env=dict(os.environ), stdin=subprocess.DEVNULL,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    last = out.stdout.strip().splitlines()[-1]
    assert "rollout restart done: 2 / 2 done" in last and "quit from the TUI" not in last
    assert json.loads((state_dir() / "rollout.json").read_text())["reason"] == ""


# -- smaller things -----------------------------------------------------------------------


async def test_since_at_start_and_across_restarts_of_the_tui(serve, clock, tmp_path):
    """SINCE does not read ≥0s at start; a TUI started again continues the kept history
    (no FAILED line per start) and knows the status held at least since then."""
    from tests.drive import detail_text, highlight
    from wawp_tui.core import HistoryStore

    sim_instances = mixed_fleet(clock, n=4)
    sim = Simulator(sim_instances, clock=clock, seed=11)
    server = serve(sim)
    config = make_config(server.url, sim_instances)
    failed, stuck = sim_instances[1].id, sim_instances[2].id

    def app():
        return build_app(config, WawpClient(server.url, timeout=1), clock=clock,
                         audit=AuditLog(tmp_path / "audit.jsonl"), poll=False,
                         history=HistoryStore(tmp_path / "history.jsonl"))

    first = app()
    async with first.run_test(size=(160, 48)) as pilot:
        await refresh(first, pilot)
        assert cell(first, failed, "since") == ""
        await highlight(first, pilot, failed)
        assert "FAILED since before wawp-tui started" in detail_text(first)
        clock.advance(61)
        await refresh(first, pilot)
        await tick(first, pilot)
        await highlight(first, pilot, stuck)
        # STUCK for as long as it has been seen STARTING (not "0s"), a lower bound.
        assert "Stuck in STARTING at least 1m01s after a restart" in detail_text(first)
    clock.advance(3600)
    again = app()
    async with again.run_test(size=(160, 48)) as pilot:
        await refresh(again, pilot)
        assert cell(again, failed, "since") == "≥1h"
        st = again.monitor.state(failed)
        assert [e.text for e in st.history if e.kind == "status"] == ["FAILED"]
        await highlight(again, pilot, failed)
        assert "FAILED since before start (≥ 1h)" in detail_text(again)
        assert detail_text(again).count(" FAILED\n") <= 1


async def test_full_ids_at_160_columns(serve, clock, tmp_path):
    sim_instances = build_scenario("healthy", seed=11, instances=3, clock=clock)
    sim, server, app = app_on(serve, clock, tmp_path, sim_instances)
    async with app.run_test(size=(160, 48)) as pilot:
        await refresh(app, pilot)
        lines = screen_lines(app)
        for inst in sim_instances:
            assert any(inst.id in line for line in lines), inst.id
