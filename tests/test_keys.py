"""Keys an SRE types by habit, driven through the keyboard (and a header click) only:
vim/k9s navigation, sort by column, `:` for the palette, `?` with every key, auto-heal
asked before it turns on, and all of it still working when keys are remapped."""

import io

import pytest
from rich.console import Console
from textual.command import CommandPalette

from tests.conftest import make_config
from tests.drive import refresh, table_ids
from wawp_tui.client.api import WawpClient
from wawp_tui.core import InstanceState, autoheal
from wawp_tui.core.audit import AuditLog
from wawp_tui.simulator import Simulator, build_scenario
from wawp_tui.ui.app import build_app
from wawp_tui.ui.commands import FleetCommands
from wawp_tui.ui.fleet_screen import FleetScreen
from wawp_tui.ui.keys import SECTIONS, bound_keys
from wawp_tui.ui.screens.confirm import ConfirmScreen
from wawp_tui.ui.screens.text_page import TextScreen
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


def page_text(app) -> str:
    """The open text page (help) as plain text, as a wide terminal would lay it out."""
    console = Console(width=140, file=io.StringIO(), color_system=None)
    with console.capture() as captured:
        console.print(app.screen.body)
    return captured.get()


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


# -- palette and help ----------------------------------------------------------------


async def test_colon_opens_the_palette_and_a_command_runs_its_action(rig):
    sim, app = rig()
    async with app.run_test(size=SIZE) as pilot:
        await refresh(app, pilot)
        await press(pilot, "colon")
        assert isinstance(app.screen, CommandPalette)
        await pilot.press(*"last row")
        await app.workers.wait_for_complete()
        await pilot.pause()
        await press(pilot, "enter")
        assert app.screen is app.fleet_screen
        assert table(app).cursor_row == MANY - 1
        await press(pilot, "colon", *"next column", "enter")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert headers(app)[2] == "LABEL ▲"


async def test_the_palette_offers_every_action_of_the_fleet_screen_with_its_key(rig):
    sim, app = rig(n=5)
    async with app.run_test(size=SIZE) as pilot:
        await refresh(app, pilot)
        await press(pilot, "ctrl+p")
        provider = FleetCommands(app.screen)
        commands = {text: help_text for text, help_text, _ in provider.commands()}
        wanted = {b.id for b in [*FleetScreen.BINDINGS, *FleetTable.BINDINGS]} - {"palette"}
        offered = {e.binding.id for e in bound_keys(app.fleet_screen)}
        assert wanted <= offered
        assert commands["Bottom: Last row"] == "key: End, G, ctrl+End"
        assert commands["Sort: Sort by the next column (status, label, guard, error, since, latency, id, tags)"] == "key: o"
        assert not any("palette" in text.lower() for text in commands)


async def test_help_lists_every_key_in_sections_navigation_included(rig):
    sim, app = rig(n=5)
    async with app.run_test(size=SIZE) as pilot:
        await refresh(app, pilot)
        await press(pilot, "question_mark")
        assert isinstance(app.screen, TextScreen)
        page = page_text(app)
        lines = {line[:20].strip(): line for line in page.splitlines() if line.startswith("  ")}
        for keys in ("down, j", "up, k", "ctrl+d", "ctrl+u", "PgDn, ctrl+f", "PgUp, ctrl+b",
                     "Home, g, ctrl+Home", "End, G, ctrl+End", "o", "O", ":, ctrl+p", "enter",
                     "escape", "q, ctrl+q", "space", "a", "?"):
            assert keys in lines, keys
        assert page.index("Actions") < page.index("Navigation") < page.index("View") < page.index("Other")
        assert "then move down" in lines["space"]


def test_every_fleet_binding_has_an_id_and_a_section():
    sectioned = {name for names in SECTIONS.values() for name in names}
    for binding in [*FleetScreen.BINDINGS, *FleetTable.BINDINGS]:
        assert binding.id, binding
        assert binding.id in sectioned, binding.id


# -- auto-heal -----------------------------------------------------------------------


async def test_auto_heal_asks_before_it_turns_on_and_not_before_it_turns_off(rig):
    sim, app = rig(n=5)
    async with app.run_test(size=(80, 24)) as pilot:
        await refresh(app, pilot)
        await press(pilot, "a")
        assert isinstance(app.screen, ConfirmScreen)
        said = app.screen.query_one("#body").render().plain
        for words in ("restarts", "FAILED", "SCAN_QR_CODE", "outage", "outbound queue", "10 s",
                      "needs a person", "5 min"):
            assert words in said, words
        await press(pilot, "n")
        assert app.screen is app.fleet_screen
        assert not app.monitor.auto_heal
        assert "auto-heal off" in summary(app)

        await press(pilot, "a", "y")
        assert app.monitor.auto_heal
        assert "auto-heal ON" in summary(app)

        await press(pilot, "a")
        assert app.screen is app.fleet_screen  # no question to turn it off
        assert not app.monitor.auto_heal


def test_the_auto_heal_question_quotes_the_policy_it_runs_with():
    said = autoheal.explain(autoheal.HealPolicy(fleet_pace=30.0))
    assert "every 30 s" in said and "60 s loop guard" in said and "ladder" in said


# -- remapped keys -------------------------------------------------------------------


async def test_remapped_keys_work_and_show_as_remapped(rig):
    sim, app = rig()
    async with app.run_test(size=SIZE) as pilot:
        app.set_keymap({"cursor-down": "ctrl+n", "auto-heal": "A", "sort": "S"})
        await refresh(app, pilot)
        await press(pilot, "ctrl+n", "ctrl+n")
        assert table(app).cursor_row == 2
        await press(pilot, "j")  # the old key is gone
        assert table(app).cursor_row == 2
        await press(pilot, "S")
        assert headers(app)[2] == "LABEL ▲"
        await press(pilot, "A")
        assert isinstance(app.screen, ConfirmScreen)
        await press(pilot, "escape")

        await press(pilot, "question_mark")
        page = page_text(app)
        assert "ctrl+n" in page and "down, j" not in page
        await press(pilot, "escape", "ctrl+p")
        commands = {text: help_text for text, help_text, _ in FleetCommands(app.screen).commands()}
        assert commands["Down: Next row"] == "key: ctrl+n"
