"""The token is a secret: a whole session, driven through every screen and every fault,
in both credential modes, and the CLI, leave it in no output at all: screens, event log,
notifications, audit log, history, log records, status output, crash report."""

import json
import logging

import pytest

from tests.conftest import make_config
from tests.drive import events_text, record_toasts
from wawp_tui import cli
from wawp_tui.client.api import WawpClient
from wawp_tui.config import state_dir
from wawp_tui.core.audit import AuditLog
from wawp_tui.core.history_store import HistoryStore
from wawp_tui.simulator import FAULT_KINDS, Simulator, build_scenario
from wawp_tui.ui.app import build_app
from wawp_tui.ui.widgets.fleet_table import FleetTable

# Obviously fake, and distinctive enough that any leak is found by a substring search.
SECRET = "fake-token-LEAKSCAN-0123456789abcdef"
FRAGMENTS = (SECRET, SECRET[:16], SECRET[-16:])


def leaks(text: str) -> list[str]:
    return [f for f in FRAGMENTS if f in text]


@pytest.fixture
def secret_fleet(serve, clock):
    sim_instances = build_scenario("demo", seed=3, instances=12, clock=clock)
    for inst in sim_instances:
        inst.token = SECRET
    sim = Simulator(sim_instances, clock=clock, seed=3)
    return sim, sim_instances, serve(sim)


@pytest.mark.parametrize("credentials_in", ["body", "query"])
async def test_a_full_session_leaks_nothing(secret_fleet, clock, tmp_path, caplog, credentials_in):
    import dataclasses

    sim, sim_instances, server = secret_fleet
    caplog.set_level(logging.DEBUG)
    config = make_config(server.url, sim_instances, auto_heal=True)
    config = dataclasses.replace(config, api=dataclasses.replace(config.api,
                                                                 credentials_in=credentials_in))
    client = WawpClient(server.url, timeout=1, connect_timeout=1, credentials_in=credentials_in)
    audit_path, history_path = tmp_path / "audit.jsonl", tmp_path / "history.jsonl"
    app = build_app(config, client, clock=clock, audit=AuditLog(audit_path),
                    history=HistoryStore(history_path), poll=False, demo=True)
    outputs: list[str] = []
    toasts = record_toasts(app)
    app.demo_phone = sim.scan

    async def step(*keys):
        for key in keys:
            await pilot.press(key)
        # Wait for what the keys started; the poller and the QR screen's refresh loop
        # run until their screen closes.
        started = [w for w in app.workers if w.group not in ("qr", "poller")]
        if started:  # (an empty list would mean "all of them")
            await app.workers.wait_for_complete(started)
        await pilot.pause()
        outputs.append(app.export_screenshot())

    async with app.run_test(size=(120, 40)) as pilot:
        await app.fleet_screen.refresh_now()
        # Every fault the simulator knows, one instance each, for a few polls.
        ids = [i.id for i in sim_instances if i.id in sim.instances]
        for instance_id, kind in zip(ids * 2, FAULT_KINDS):
            if kind != "hang":
                sim.inject(instance_id, kind, count=3)
        sim.inject(ids[-1], "hang", count=1)
        for _ in range(3):
            clock.advance(6)
            await app.fleet_screen.refresh_now()
            app.fleet_screen.tick()
            await step()
        table = app.query_one(FleetTable)
        # Every screen and action: help, history, detail/QR with the pairing prompt,
        # filter, selection, each action with its confirmation, waves, pause, auto-heal.
        await step("question_mark")
        await step("escape", "h")
        await step("escape", "exclamation_mark")
        await step("escape")
        # A reply that echoes the request, token included: the raw-reply page (y) and
        # the describe page (d) of every kind of row.
        sim.inject(ids[1], "echo_500", format="json", count=1)
        sim.inject(ids[2], "echo_500", format="html", count=1)
        await app.fleet_screen.refresh_now(ids[1:3])
        rows = sorted({table.get_row_index(i) for i in ids[1:3]} | set(range(min(4, table.row_count))))
        for row in rows:
            table.move_cursor(row=row)
            await step("d")
            await step("escape", "y")
            await step("escape")
        qr_id = next((st.id for st in app.monitor.fleet if st.status == "SCAN_QR_CODE"), None)
        if qr_id is not None:
            table.move_cursor(row=table.get_row_index(qr_id))
            await step("enter")
            await step("k")
            await step(*"+201000000000", "enter")
            await step("d")
            await step("escape")
        for key in ("r", "x", "s", "L", "R"):
            table.move_cursor(row=0)
            await step(key)
            await step("y")
            await step("escape")
        await step("space", "down", "space", "W")
        await step("escape", "slash", *"sales", "enter")
        await step("escape", "p", "p", "a", "c")
        sim.clear_faults()
        clock.advance(61)
        await app.fleet_screen.refresh_now()
        app.fleet_screen.tick()
        await step()
        events = events_text(app)
    await client.aclose()

    assert len(outputs) > 20 and events
    shown = "\n".join(outputs).replace("&#160;", " ")
    # The session did reach the QR screen, the pairing prompt, help, waves and the faults.
    for word in ("Linked", "pairing", "Help", "wave", "UNREACHABLE", "PASSKEY", "HTTP",
                 "Guards:", "Alerts"):
        assert word in shown, word
    found = {
        "screens": leaks("\n".join(outputs)),
        "event log": leaks(events),
        "notifications": leaks("\n".join(t.message for t in toasts)),
        "audit": leaks(audit_path.read_text() if audit_path.exists() else ""),
        "history": leaks(history_path.read_text() if history_path.exists() else ""),
        "log records": leaks("\n".join(r.getMessage() + repr(r.args) for r in caplog.records)),
        "errors": leaks("\n".join(repr(st.last_error) for st in app.monitor.fleet)),
    }
    assert {k: v for k, v in found.items() if v} == {}
    if credentials_in == "query":
        # The token did travel (in the query string, as configured) and still never showed.
        assert any(c["credentials_in"] == "query" for c in sim.calls)


def test_cli_outputs_and_crash_report_leak_nothing(secret_fleet, tmp_path, capsys, monkeypatch):
    sim, sim_instances, server = secret_fleet
    path = tmp_path / "config.toml"
    lines = [f'[api]\nbase_url = "{server.url}"\ntimeout = 1\ncredentials_in = "query"\n']
    lines += [f'[[instances]]\nid = "{i.id}"\nlabel = "{i.label}"\n' for i in sim_instances]
    path.write_text("\n".join(lines))
    path.chmod(0o600)
    monkeypatch.setenv("WAWP_ACCESS_TOKEN", SECRET)
    for instance_id, kind in zip([i for i in sim.instances], FAULT_KINDS):
        if kind != "hang":
            sim.inject(instance_id, kind)
    seen = []
    for argv in (["status"], ["status", "--json"], ["rollout", "restart", "--dry-run"],
                 ["add", "NEW000000001", "--label", "x"], ["remove", "NEW000000001"]):
        cli.main([*argv, "--config", str(path)])
        out, err = capsys.readouterr()
        seen.append(out + err)
    assert json.loads(seen[1])  # the runs above did produce their output
    # A crash inside the program: the report is written, the token is not in it.
    from wawp_tui.commands import status as status_report

    def explode(*a, **k):
        raise RuntimeError("boom while polling")

    monkeypatch.setattr(status_report, "collect", explode)
    assert cli.main(["status", "--config", str(path)]) == 70
    out, err = capsys.readouterr()
    seen.append(out + err)
    crash = (state_dir() / "crash.log").read_text()
    assert "boom while polling" in crash
    assert leaks("\n".join(seen) + crash) == []
