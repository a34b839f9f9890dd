"""Instances meant to be off are not problems: end to end, with a fleet of three of which
one follows a schedule whose window excludes now (a real simulator on loopback; the
commands as subprocesses, the TUI through its keys, the exporter scraped)."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta

import pytest

from tests.conftest import FakeClock, make_config
from tests.drive import detail_text, highlight, refresh
from tests.exporter_kit import exporter_in_loop, samples, scrape_until, value
from wawp_tui.client.api import WawpClient
from wawp_tui.core.alerts import AlertBook
from wawp_tui.core.audit import AuditLog
from wawp_tui.core.fleet import FleetState
from wawp_tui.models import STOPPED, WORKING, InstanceConfig, Secret
from wawp_tui.schedules import make
from wawp_tui.simulator import SIM_TOKEN, Simulator, build_scenario
from wawp_tui.ui.app import build_app


def _window_later(hours: float = 2.0) -> str:
    """A daily one-hour window starting `hours` from now (UTC): now is outside it."""
    start = datetime.now(UTC) + timedelta(hours=hours)
    end = start + timedelta(hours=1)
    return f"daily {start:%H:%M}-{end:%H:%M}"


def _run(*args, env):
    return subprocess.run([sys.executable, "-m", "wawp_tui", *args], capture_output=True, text=True,
                          env={**os.environ, **env}, timeout=120)


@pytest.fixture
def fleet(serve, tmp_path):
    sims = build_scenario("healthy", seed=21, instances=3)
    sim = Simulator(sims)
    url = serve(sim).url
    path = tmp_path / "config.toml"
    text = [f'[api]\nbase_url = "{url}"\ntimeout = 3\n',
            f'[[schedules]]\nname = "support hours"\ntags = ["support"]\nrunning = "{_window_later()}"\n'
            'timezone = "UTC"\n']
    for n, inst in enumerate(sims):
        tags = '["support"]' if n == 0 else '["sales"]'
        text.append(f'[[instances]]\nid = "{inst.id}"\nlabel = "{inst.label}"\ntags = {tags}\n')
    path.write_text("\n".join(text))
    env = {"WAWP_ACCESS_TOKEN": SIM_TOKEN, "HOME": str(tmp_path), "XDG_STATE_HOME": str(tmp_path / "state")}
    return sim, sims, path, env


def test_status_and_check_say_well_while_it_is_stopped_as_meant(fleet):
    sim, sims, path, env = fleet
    scheduled = sims[0]
    scheduled.stop(time.time())
    out = _run("status", "--config", str(path), env=env)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "scheduled until" in out.stdout
    rows = json.loads(_run("status", "--json", "--config", str(path), env=env).stdout)
    assert [r["meant"] for r in rows] == ["stopped", None, None]
    check = _run("check", "--config", str(path), env=env)
    assert check.returncode == 0 and check.stdout.startswith("WAWP OK"), check.stdout
    # Another instance stopped, with no schedule: meant to run, a problem as before.
    sims[1].stop(time.time())
    assert _run("status", "--config", str(path), env=env).returncode == 1


def test_schedule_show_and_apply_keep_the_fleet_as_meant(fleet, tmp_path):
    sim, sims, path, env = fleet
    shown = _run("schedule", "show", "--config", str(path), env=env)
    assert shown.returncode == 0 and "now: meant STOPPED" in shown.stdout and " UTC" in shown.stdout
    assert shown.stdout.count("start ") == 2 and shown.stdout.count("stop ") == 2
    dry = _run("schedule", "apply", "--dry-run", "--config", str(path), env=env)
    assert dry.returncode == 0 and "stop 1 instance" in dry.stdout and not sim.calls_to("stop")
    done = _run("schedule", "apply", "--yes", "--config", str(path), env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert [c["instance_id"] for c in sim.calls_to("stop")] == [sims[0].id]
    again = _run("schedule", "apply", "--yes", "--config", str(path), env=env)
    assert again.returncode == 0 and "matches its schedules" in again.stdout
    assert len(sim.calls_to("stop")) == 1  # once
    audit = [json.loads(line) for line in (tmp_path / "state" / "wawp-tui" / "log" / "audit.jsonl")
             .read_text().splitlines()]
    sent = [r for r in audit if r.get("action") == "stop" and r.get("outcome") == "sent"]
    assert sent and sent[0]["trigger"] == "schedule" and sent[0]["by"] == "schedule:support hours"
    sims[0].start(time.time())  # someone started it again: out of schedule once more
    unattended = subprocess.run([sys.executable, "-m", "wawp_tui", "schedule", "apply", "--config",
                                 str(path)], capture_output=True, text=True, stdin=subprocess.DEVNULL,
                                env={**os.environ, **env}, timeout=60)
    assert unattended.returncode == 2 and "unattended without --yes" in unattended.stderr
    assert len(sim.calls_to("stop")) == 1


async def test_the_tui_row_says_scheduled_and_sorts_with_the_healthy(serve, clock, tmp_path):
    sims = build_scenario("healthy", seed=22, instances=3, clock=clock)
    sims[0].stop(clock.now)
    sims[1].fail_at = clock.now - 1
    sim = Simulator(sims, clock=clock)
    url = serve(sim).url
    config = make_config(url, sims)
    schedule = make("support hours", "Mon-Fri 09:00-18:00", "UTC", tags=("support",))
    # The fake clock reads Fri 2027-01-15 08:00 UTC: before the window opens.
    config = dataclasses.replace(config, instances=(
        dataclasses.replace(config.instances[0], schedule=schedule), *config.instances[1:]))
    app = build_app(config, WawpClient(url, timeout=2), clock=clock,
                    audit=AuditLog(tmp_path / "audit.jsonl"), poll=False)
    async with app.run_test(size=(120, 30)) as pilot:
        await refresh(app, pilot)
        table = app.fleet_screen.query_one("#fleet")
        first_row = [str(c) for c in table.get_row_at(0)]
        last_row = [str(c) for c in table.get_row_at(table.row_count - 1)]
        assert "FAILED" in " ".join(first_row)
        assert "SCHEDULED" in " ".join(last_row) and "scheduled until" in " ".join(last_row)
        await highlight(app, pilot, sims[0].id)
        text = detail_text(app)
        assert "schedule: support hours" in text and "meant STOPPED until" in text
        assert not [a for a in app.monitor.alerts.firing() if sims[0].id in a.instance_ids]
        summary = app.fleet_screen.query_one("#summary").render().plain
        assert "1 SCHEDULED" in summary


async def test_the_exporter_says_what_each_instance_is_meant_to_be(serve, tmp_path):
    sims = build_scenario("healthy", seed=23, instances=2)
    sim = Simulator(sims)
    url = serve(sim).url
    config = make_config(url, sims, token=SIM_TOKEN, refresh=0.5)
    schedule = make("night", _window_later(), "UTC", ids=(sims[0].id,))
    config = dataclasses.replace(config, instances=(
        dataclasses.replace(config.instances[0], schedule=schedule), config.instances[1]))
    async with exporter_in_loop(config) as (_, base):
        text = await scrape_until(base, lambda found: value(found, "wawp_instance_up", id=sims[1].id) == 1)
    found = samples(text)
    assert value(found, "wawp_instance_desired", id=sims[0].id, state="stopped") == 1
    assert value(found, "wawp_instance_desired", id=sims[0].id, state="running") == 0
    assert value(found, "wawp_instance_desired", id=sims[1].id, state="running") == 1


def test_a_day_stopped_while_meant_to_run_is_an_alert_that_says_why():
    clock = FakeClock()
    fleet = FleetState([InstanceConfig("S1", "shop", Secret("x"))], clock)
    fleet.apply_poll_ok("S1", WORKING, None, 5.0)
    clock.advance(10)
    fleet.apply_poll_ok("S1", STOPPED, None, 5.0)
    book = AlertBook()
    assert not book.update(fleet, clock(), 5.0, None)
    clock.advance(86400 + 60)
    fired = book.update(fleet, clock(), 5.0, None).fired
    assert len(fired) == 1 and "STOPPED for 1d00h" in fired[0].text
    assert "WhatsApp buffers incoming messages only 24-72 h" in fired[0].text
