"""The TUI driven with Textual's Pilot against the simulator served on loopback."""

import pytest
from textual.widgets import DataTable

from tests.conftest import make_config
from tests.drive import events_text, highlight, record_toasts, refresh, table_ids, tick
from wawp_tui.core import RolloutState
from wawp_tui.ui.app import build_app
from wawp_tui.ui.screens.confirm import ConfirmScreen
from wawp_tui.ui.widgets.fleet_table import FleetTable


def first_with(app, status):
    return next(st.id for st in app.monitor.fleet if st.status == status)


async def test_restart_confirmed_sends_exactly_one_and_shows_countdown(rig):
    sim, app = rig()
    async with app.run_test(size=(160, 48)) as pilot:
        await refresh(app, pilot)
        target = first_with(app, "FAILED")
        await highlight(app, pilot, target)
        await pilot.press("r")
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("y")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert len(sim.calls_to("restart", target)) == 1
        assert len(sim.calls_to("restart")) == 1
        cells = app.query_one(FleetTable).get_row(target)
        assert "STARTING" in cells[1].plain
        assert cells[3].plain.endswith("s")  # the guard countdown is showing
        # A second r right away is refused with the reason, and nothing is sent.
        await pilot.press("r")
        await pilot.pause()
        assert not isinstance(app.screen, ConfirmScreen)
        assert len(sim.calls_to("restart", target)) == 1


@pytest.mark.parametrize("key", ["n", "escape"])
async def test_cancel_sends_nothing(rig, key):
    sim, app = rig()
    async with app.run_test(size=(160, 48)) as pilot:
        await refresh(app, pilot)
        await highlight(app, pilot, first_with(app, "WORKING"))
        await pilot.press("x")
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press(key)
        await app.workers.wait_for_complete()
        assert not isinstance(app.screen, ConfirmScreen)
        assert not sim.calls_to("stop")


async def test_read_only_sends_nothing(rig):
    sim, app = rig(read_only=True)
    async with app.run_test(size=(160, 48)) as pilot:
        await refresh(app, pilot)
        await highlight(app, pilot, first_with(app, "FAILED"))
        for key in ("r", "y", "x", "y", "R", "y", "L", "y"):
            await pilot.press(key)
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert not [c for c in sim.calls if not c["endpoint"].endswith("/info")]
        # (the fleet screen's footer; a refusal message may still be on top of it)
        assert app.screen_stack[0].query_one("#mode").display


async def test_filter_narrows_rows(rig):
    sim, app = rig()
    async with app.run_test(size=(160, 48)) as pilot:
        await refresh(app, pilot)
        total = app.query_one(FleetTable).row_count
        await pilot.press("slash", *"scan qr", "enter")
        await pilot.pause()
        shown = table_ids(app)
        assert 0 < len(shown) < total
        assert all(app.monitor.fleet.get(i).status == "SCAN_QR_CODE" for i in shown)
        await pilot.press("escape")
        await pilot.pause()
        assert app.query_one(FleetTable).row_count == total


async def test_bulk_restart_of_three_selected(rig):
    sim, app = rig("healthy", n=5)
    async with app.run_test(size=(160, 48)) as pilot:
        await refresh(app, pilot)
        app.query_one(FleetTable).move_cursor(row=0)
        await pilot.press("space", "space", "space", "r")
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("y")
        await app.workers.wait_for_complete()
        assert len(sim.calls_to("restart")) == 3
        assert len(app.fleet_screen.selected) == 3


async def test_worst_first_and_highlight_follows_its_instance(rig, clock):
    sim, app = rig()
    async with app.run_test(size=(160, 48)) as pilot:
        await refresh(app, pilot)
        order = table_ids(app)
        assert app.monitor.fleet.get(order[0]).status == "FAILED"
        assert app.monitor.fleet.get(order[-1]).status == "WORKING"
        working = order[-1]
        await pilot.press("down")
        await highlight(app, pilot, working)
        sim.inject(working, "html_502")
        await refresh(app, pilot)
        assert app.query_one(FleetTable).highlighted_id == working
        assert table_ids(app).index(working) < len(order) - 1


@pytest.mark.parametrize("size", [(80, 24), (160, 48)])
async def test_runs_at_small_and_large_sizes(rig, size):
    sim, app = rig()
    async with app.run_test(size=size) as pilot:
        await refresh(app, pilot)
        for key in ("question_mark", "escape", "h", "escape", "p", "p", "a", "y", "a", "down", "enter"):
            await pilot.press(key)
        await pilot.pause()
        table = app.query_one(DataTable)
        assert table.row_count == len(app.monitor.fleet)
        assert app.query_one("#main").has_class("-narrow") == (size[0] < 120)


async def test_a_new_problem_is_one_alert_with_one_bell_until_it_resolves(rig, monkeypatch, clock):
    sim, app = rig("healthy", n=3)
    bells = []
    monkeypatch.setattr(app, "bell", lambda: bells.append(1))
    async with app.run_test(size=(80, 24)) as pilot:
        await refresh(app, pilot)
        target = table_ids(app)[0]
        label = app.monitor.state(target).label
        sim.inject(target, "html_502")
        for _ in range(4):  # the same condition seen again and again: still one alert
            clock.advance(5)
            await refresh(app, pilot)
            await tick(app, pilot)
        assert len(bells) == 1
        strip = str(app.query_one("#alerts").content)
        said = f"{label} not answering: bad gateway (502) (last known WORKING)"
        assert strip.startswith(f"▲ 1 alert (A ack, ! list): {said}")
        assert [a.text for a in app.monitor.alerts.firing()] == [said]
        assert f"ALERT {said}" in events_text(app)
        sim.clear_faults(target)
        clock.advance(5)
        await refresh(app, pilot)
        await tick(app, pilot)
        assert not app.query_one("#alerts").display  # resolved: the strip empties by itself
        assert "resolved after 15s: " in events_text(app)
        assert app.monitor.alerts.all()[0].state == "resolved" and len(bells) == 1


async def test_rollout_from_the_tui_in_waves(rig, clock):
    sim, app = rig("healthy", n=4)
    toasts = record_toasts(app)
    async with app.run_test(size=(160, 48)) as pilot:
        await refresh(app, pilot)
        app.query_one(FleetTable).move_cursor(row=0)
        await pilot.press("space", "space", "space", "W")
        await pilot.press("x")  # stop
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("y")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert len(sim.calls_to("stop")) == 3
        assert app.fleet_screen.flows.rollout is None
        assert any("rollout stop done: 3 / 3" in t.message for t in toasts)


async def test_an_unchanged_refresh_repaints_nothing(rig, monkeypatch):
    # Loopback latency jitters by more than the display's hysteresis on a busy 2-core box;
    # a fixed timer keeps this test about repaints, not about the scheduler.
    sim, app = rig("healthy", n=20, timer=lambda: 0.0)
    async with app.run_test(size=(120, 40)) as pilot:
        await refresh(app, pilot)
        await tick(app, pilot)
        table = app.query_one(FleetTable)
        touched = []
        for name in ("update_cell", "_set_cells", "_write_cells", "add_row", "remove_row", "sort"):
            original = getattr(table, name)
            monkeypatch.setattr(table, name, lambda *a, _n=name, _o=original, **k: (
                touched.append((_n, a[1:])), _o(*a, **k))[1])
        from textual.widgets import Static
        for static in app.query(Static):
            original = static.update
            monkeypatch.setattr(static, "update", lambda *a, _o=original, _w=static, **k: (
                touched.append(_w.id), _o(*a, **k))[1])
        before = len(sim.calls)
        await refresh(app, pilot)  # every instance polled again, nothing changed
        await tick(app, pilot)
        assert len(sim.calls) - before == 20
        assert touched == []
        # The same hooks do see a real change, so the check above can fail.
        sim.inject(table.highlighted_id, "html_502")
        await refresh(app, pilot)
        assert "detail" in touched and any(t[0] in ("_set_cells", "_write_cells") for t in touched)


async def test_a_library_printing_to_stdout_does_not_crash_the_app(rig):
    """Textual captures print() and flushes it through App._flush; the app must not shadow it."""
    sim, app = rig("healthy", n=2)
    async with app.run_test(size=(80, 24)) as pilot:
        await refresh(app, pilot)
        print("a noisy library writes to stdout")
        await pilot.pause()
        await pilot.press("down")
        assert app.is_running


async def test_old_data_is_marked_stale_with_its_age_and_counted(rig, clock):
    sim, app = rig("healthy", n=3)
    async with app.run_test(size=(160, 48)) as pilot:
        await refresh(app, pilot)
        ids = list(app.monitor.fleet.instances)
        assert app.monitor.stale_basis == 5.0  # a small fleet is polled every refresh (5 s)
        await refresh(app, pilot, [ids[0]])  # one instance keeps getting fresh data
        clock.advance(10)
        await tick(app, pilot)
        table = app.query_one(FleetTable)
        assert "~" not in str(table.get_cell(ids[1], "status"))  # one missed poll: not yet
        clock.advance(10)
        await refresh(app, pilot, [ids[0]])
        await tick(app, pilot)
        # The last known word stays, marked stale with the age of its data.
        assert str(table.get_cell(ids[1], "status")) == "✓ WORKING ~20s"
        assert str(table.get_cell(ids[1], "error")) == "no poll since (stale)"
        assert str(table.get_cell(ids[0], "status")) == "✓ WORKING"
        summary = str(app.query_one("#summary").content)
        assert "3 WORKING" in summary and "~ 2 stale" in summary
        clock.advance(1)
        await tick(app, pilot)  # the age keeps counting, second by second
        assert str(table.get_cell(ids[1], "status")) == "✓ WORKING ~21s"


async def test_failing_polls_keep_the_last_word_with_the_age_of_good_data(rig, clock):
    sim, app = rig("healthy", n=3)
    async with app.run_test(size=(160, 48)) as pilot:
        await refresh(app, pilot)
        target = next(iter(app.monitor.fleet.instances))
        sim.inject(target, "html_502")
        table = app.query_one(FleetTable)
        clock.advance(10)
        await refresh(app, pilot, [target])
        # From the first failed poll: the last known word, marked with its age, sorted
        # with the problems (the top, in a healthy fleet).
        assert str(table.get_cell(target, "status")) == "✓ WORKING ~10s"
        assert table_ids(app)[0] == target
        for _ in range(6):
            clock.advance(10)
            await app.monitor.refresh([target])
        await refresh(app, pilot, [])
        await tick(app, pilot)
        assert str(table.get_cell(target, "status")) == "✓ WORKING ~1m10s"
        assert str(table.get_cell(target, "error")) == "bad gateway (502)"
        sim.clear_faults()
        await refresh(app, pilot, [target])
        assert str(table.get_cell(target, "status")) == "✓ WORKING"


async def test_polls_landing_during_exit_do_not_crash_it(rig):
    """A poll result, a tick or an action's report can land after the app began to leave."""
    sim, app = rig("healthy", n=3)
    async with app.run_test(size=(80, 24)) as pilot:
        await refresh(app, pilot)
        instance_id = next(iter(app.monitor.fleet.instances))
        app.exit()
        await app.monitor.refresh()
        await app.monitor.act("restart", [instance_id])
        app.fleet_screen.tick()
        await pilot.pause()
    assert app.return_code in (None, 0)


async def test_w_names_an_unfinished_saved_rollout_it_would_replace(serve, clock, tmp_path):
    """A cron rollout was interrupted: W's confirmation says a new rollout replaces it, and
    how to finish it instead."""
    from wawp_tui.client.api import WawpClient
    from wawp_tui.core import AuditLog, plan
    from wawp_tui.simulator import Simulator, build_scenario

    sim_instances = build_scenario("healthy", seed=7, instances=4, clock=clock)
    url = serve(Simulator(sim_instances, clock=clock, seed=7)).url
    saved_path = tmp_path / "rollout.json"
    saved = plan("restart", [i.id for i in sim_instances], 2)
    saved.status, saved.done = "interrupted", [sim_instances[0].id]
    saved.save(saved_path)
    app = build_app(make_config(url, sim_instances), WawpClient(url, timeout=2), clock=clock,
                    audit=AuditLog(tmp_path / "audit.jsonl"), poll=False,
                    rollout_state_path=saved_path)
    async with app.run_test(size=(160, 48)) as pilot:
        await refresh(app, pilot)
        await pilot.press("W", "x")
        assert isinstance(app.screen, ConfirmScreen)
        body = app.screen.body_text
        assert "replaces the unfinished restart rollout" in body and "(1 of 4 done, interrupted)" in body
        assert "wawp-tui rollout restart --resume" in body
        await pilot.press("n")
    assert RolloutState.load(saved_path).status == "interrupted"  # answered n: kept as it was
