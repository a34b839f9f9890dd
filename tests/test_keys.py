"""Keys an SRE types by habit, driven through the keyboard only: vim/k9s navigation."""

import pytest

from tests.conftest import make_config
from tests.drive import refresh, table_ids
from wawp_tui.client.api import WawpClient
from wawp_tui.core.audit import AuditLog
from wawp_tui.simulator import Simulator, build_scenario
from wawp_tui.ui.app import build_app
from wawp_tui.ui.fleet_screen import FleetScreen
from wawp_tui.ui.widgets.fleet_table import FleetTable

#: Far more rows than fit on the screen below.
MANY = 60
SIZE = (100, 30)


@pytest.fixture
def rig(serve, clock, tmp_path):
    def start(scenario="healthy", n=MANY):
        sim_instances = build_scenario(scenario, seed=7, instances=n, clock=clock)
        sim = Simulator(sim_instances, clock=clock, seed=7)
        url = serve(sim).url
        config = make_config(url, sim_instances)
        client = WawpClient(url, timeout=2, connect_timeout=1)
        app = build_app(config, client, clock=clock, audit=AuditLog(tmp_path / "audit.jsonl"), poll=False)
        return sim, app
    return start


def table(app) -> FleetTable:
    return app.fleet_screen.query_one(FleetTable)


def half_page(app) -> int:
    """Half the rows the table shows (under its one-line header)."""
    return (table(app).scrollable_content_region.height - 1) // 2


async def press(pilot, *keys):
    await pilot.press(*keys)
    await pilot.pause()


# -- navigation ----------------------------------------------------------------------


async def test_vim_and_k9s_keys_move_the_highlight(rig):
    sim, app = rig()
    async with app.run_test(size=SIZE) as pilot:
        await refresh(app, pilot)
        fleet = table(app)
        last, half = fleet.row_count - 1, half_page(app)
        assert last == MANY - 1 and 1 < half < last // 2  # more rows than fit
        steps = [
            (("j",), 1), (("j", "j", "k"), 2), (("down",), 3), (("up",), 2),
            (("G",), last), (("g",), 0),
            (("ctrl+d",), half), (("ctrl+d",), 2 * half), (("ctrl+u",), half),
            (("end",), last), (("home",), 0),
            (("ctrl+end",), last), (("ctrl+home",), 0),
            (("ctrl+u",), 0), (("k",), 0),  # nothing above the top
        ]
        for keys, row in steps:
            await press(pilot, *keys)
            assert fleet.cursor_row == row, keys
        await press(pilot, "G", "ctrl+d", "j")
        assert fleet.cursor_row == last  # nothing below the bottom either
        # Home/End mean rows here, never a sideways scroll.
        assert fleet.scroll_x == 0


async def test_pages_move_by_a_screenful_and_keep_the_highlight_in_view(rig):
    sim, app = rig()
    async with app.run_test(size=SIZE) as pilot:
        await refresh(app, pilot)
        fleet = table(app)
        await press(pilot, "ctrl+f")
        paged = fleet.cursor_row
        assert paged > half_page(app)
        await press(pilot, "ctrl+b")
        assert fleet.cursor_row == 0
        await press(pilot, "pagedown")
        assert fleet.cursor_row == paged
        await press(pilot, "ctrl+d", "ctrl+d", "ctrl+d")
        row_y = fleet.cursor_row - fleet.scroll_offset.y
        assert 1 <= row_y < fleet.scrollable_content_region.height  # still on screen


async def test_a_key_move_makes_the_highlight_follow_its_instance(rig):
    sim, app = rig("demo", n=None)
    async with app.run_test(size=(160, 48)) as pilot:
        await refresh(app, pilot)
        await press(pilot, "G", "k")
        moved_to = table(app).highlighted_id
        assert app.monitor.fleet.get(moved_to).status == "WORKING"
        sim.inject(moved_to, "html_502")
        await refresh(app, pilot)
        assert table(app).highlighted_id == moved_to
        assert table_ids(app).index(moved_to) < len(table_ids(app)) - 2  # it re-sorted up


async def test_space_selects_then_moves_down_and_says_so(rig):
    sim, app = rig(n=5)
    async with app.run_test(size=SIZE) as pilot:
        await refresh(app, pilot)
        first = table(app).highlighted_id
        await press(pilot, "space")
        assert app.fleet_screen.selected == {first}
        assert table(app).cursor_row == 1
        select = next(b for b in FleetScreen.BINDINGS if b.id == "select")
        assert "then move down" in select.tooltip


