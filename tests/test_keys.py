"""Keys an SRE types by habit, driven through the keyboard (and a header click) only:
vim/k9s navigation and sort by column."""

import pytest

from tests.conftest import make_config
from tests.drive import refresh, table_ids
from wawp_tui.client.api import WawpClient
from wawp_tui.core import InstanceState
from wawp_tui.core.audit import AuditLog
from wawp_tui.simulator import Simulator, build_scenario
from wawp_tui.ui.app import build_app
from wawp_tui.ui.fleet_screen import FleetScreen
from wawp_tui.ui.sorting import SortOrder, row_sort_key
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


def headers(app) -> list[str]:
    return [column.label.plain for column in table(app).ordered_columns]


def summary(app) -> str:
    return app.fleet_screen.query_one("#summary").render().plain


def labels(app) -> list[str]:
    return [app.monitor.fleet.get(i).label for i in table_ids(app)]


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


# -- sorting -------------------------------------------------------------------------


async def test_o_cycles_the_sort_column_and_O_reverses_it(rig):
    sim, app = rig(n=12)
    async with app.run_test(size=(160, 48)) as pilot:
        await refresh(app, pilot)
        assert headers(app)[1:3] == ["STATUS ▼", "LABEL"]
        assert "sort:" not in summary(app)  # the default order goes unsaid
        by_status = table_ids(app)

        await press(pilot, "o")
        assert headers(app)[1:3] == ["STATUS", "LABEL ▲"]
        assert labels(app) == sorted(labels(app), key=str.lower)
        assert "sort: label ▲" in summary(app)

        await press(pilot, "O")
        assert headers(app)[2] == "LABEL ▼"
        assert labels(app) == sorted(labels(app), key=str.lower, reverse=True)
        assert "sort: label ▼" in summary(app)

        # Round the other columns and back: worst first again, as it was.
        for _ in range(7):  # guard, error, since, latency, id, tags, status
            await press(pilot, "o")
        assert headers(app)[1] == "STATUS ▼"
        assert table_ids(app) == by_status
        assert "sort:" not in summary(app)


async def test_the_sort_survives_a_filter_and_a_redraw(rig):
    sim, app = rig(n=12)
    async with app.run_test(size=(160, 48)) as pilot:
        await refresh(app, pilot)
        await press(pilot, "o", "O")  # label, Z to A
        expected = sorted(labels(app), key=str.lower, reverse=True)
        await press(pilot, "slash", *"working", "enter")
        await press(pilot, "escape")
        sim.inject(table_ids(app)[-1], "html_502")
        await refresh(app, pilot)
        assert labels(app) == expected
        assert headers(app)[2] == "LABEL ▼"


async def test_a_click_on_a_header_sorts_by_it_and_a_second_reverses(rig):
    sim, app = rig(n=12)
    async with app.run_test(size=(160, 48)) as pilot:
        await refresh(app, pilot)
        fleet = table(app)

        def x_of(key: str) -> int:
            x = 0
            for column in fleet.ordered_columns:
                if column.key.value == key:
                    return x + 2
                x += column.get_render_width(fleet)
            raise KeyError(key)

        await pilot.click(FleetTable, offset=(x_of("id"), 0))
        await pilot.pause()
        assert headers(app)[7] == "ID ▲"
        assert table_ids(app) == sorted(table_ids(app), key=str.lower)
        await pilot.click(FleetTable, offset=(x_of("id"), 0))
        await pilot.pause()
        assert headers(app)[7] == "ID ▼"
        assert table_ids(app) == sorted(table_ids(app), key=str.lower, reverse=True)
        await pilot.click(FleetTable, offset=(x_of("sel"), 0))  # not a sortable column
        await pilot.pause()
        assert headers(app)[7] == "ID ▼"


def test_sort_keys_put_what_an_sre_looks_for_first_and_empty_last():
    now = 1_800_000_000.0

    def state(i, **kw):
        return InstanceState(id=f"I{i}", label=f"L{i}", status="WORKING", **kw)

    slow, fast, silent = state(1, latency_shown=900.0), state(2, latency_shown=40.0), state(3)
    ranked = sorted([fast, silent, slow], key=lambda st: row_sort_key("latency", st, now, 5.0))
    assert ranked == [slow, fast, silent]
    old = state(4, status_since=now - 3600, status_since_known=True)
    new = state(5, status_since=now - 5, status_since_known=True)
    unknown = state(6, status_since=now - 10, status_since_known=False)
    ranked = sorted([old, unknown, new], key=lambda st: row_sort_key("since", st, now, 5.0))
    assert ranked == [new, old, unknown]
    # A sort by SINCE does not change with the clock alone (no re-sort every second).
    assert row_sort_key("since", old, now, 5.0) == row_sort_key("since", old, now + 30, 5.0)


def test_the_sort_order_cycles_round_every_sortable_column():
    seen, order = [], SortOrder()
    for _ in range(8):
        seen.append(order.column)
        order = order.next_column()
    assert order == SortOrder()
    assert seen == ["status", "label", "guard", "error", "since", "latency", "id", "tags"]
    assert SortOrder("label").flipped().describe() == "label ▼"
    assert SortOrder().clicked("status") == SortOrder("status", reverse=True)
    assert SortOrder("id").clicked("sel") == SortOrder("id")


