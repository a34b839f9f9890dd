"""The fleet table repaints only the rows that changed, and a row that changed while
scrolled off screen shows its new cells when the operator scrolls to it. Read from the
screen as drawn (the table's render caches), never from our own record of the cells."""

from tests.drive import refresh, row_on_screen, table_ids, table_on_screen, tick
from wawp_tui.ui.widgets.fleet_table import FleetTable


async def _drawn(app, pilot) -> None:
    """Let the app paint (the caches of every row on screen are filled)."""
    await pilot.pause()
    table_on_screen(app)


async def test_a_row_changed_off_screen_shows_its_new_cells_when_scrolled_to(rig):
    sim, app = rig("healthy", n=120)
    async with app.run_test(size=(160, 48)) as pilot:
        await refresh(app, pilot)
        last = table_ids(app)[-1]
        # Seen once (its renders are cached), then scrolled away from.
        await pilot.press("G")
        await _drawn(app, pilot)
        assert "●" not in row_on_screen(app, last)
        await pilot.press("g")
        await _drawn(app, pilot)
        assert row_on_screen(app, last) is None
        # Selected while off screen (the selection mark is a cell of its row).
        app.fleet_screen.selected = frozenset({last})
        await _drawn(app, pilot)
        assert row_on_screen(app, last) is None
        await pilot.press("G")
        await _drawn(app, pilot)
        assert row_on_screen(app, last).lstrip().startswith("●")


async def test_time_moving_every_row_repaints_the_ones_on_screen_and_later_the_others(rig, clock):
    sim, app = rig("healthy", n=120)
    async with app.run_test(size=(160, 48)) as pilot:
        await refresh(app, pilot)
        first, last = table_ids(app)[0], table_ids(app)[-1]
        await pilot.press("G")
        await _drawn(app, pilot)
        await pilot.press("g")
        await _drawn(app, pilot)
        assert "≥" not in row_on_screen(app, first)  # a bound of nothing is not shown
        clock.advance(61)
        await tick(app, pilot)
        await _drawn(app, pilot)
        assert "≥1m" in row_on_screen(app, first)
        await pilot.press("G")
        await _drawn(app, pilot)
        assert "≥1m" in row_on_screen(app, last)


async def test_a_change_renders_only_its_own_row_again(rig):
    """One changed row on screen: the next paint renders that row alone; the other rows
    come from the table's cache (a change used to render every row on screen again)."""
    sim, app = rig("healthy", n=120)
    async with app.run_test(size=(160, 48)) as pilot:
        await refresh(app, pilot)
        table = app.fleet_screen.query_one(FleetTable)
        ids = table_ids(app)
        await _drawn(app, pilot)
        rendered: list[str] = []
        original = table._render_line_in_row

        def spy(row_key, *args, **kwargs):
            rendered.append(row_key.value)
            return original(row_key, *args, **kwargs)

        table._render_line_in_row = spy  # type: ignore[method-assign]
        app.fleet_screen.selected = frozenset({ids[3]})
        await _drawn(app, pilot)
        assert set(rendered) == {ids[3]}
        assert row_on_screen(app, ids[3]).lstrip().startswith("●")
        assert not row_on_screen(app, ids[2]).lstrip().startswith("●")


async def test_a_poll_changing_a_row_off_screen_draws_it_only_when_it_comes_into_view(
        rig, monkeypatch):
    """A row off screen is only put in its place: its cells are worked out when the
    operator scrolls to it (a screen shows ~45 rows of thousands), and then they are new."""
    from wawp_tui.ui import formatting

    sim, app = rig("healthy", n=120)
    async with app.run_test(size=(160, 48)) as pilot:
        await refresh(app, pilot)
        await pilot.press("o")  # by label: a row in trouble keeps its place
        await _drawn(app, pilot)
        last = table_ids(app)[-1]
        assert row_on_screen(app, last) is None
        drawn: list[str] = []
        original = formatting.row_cells
        monkeypatch.setattr(formatting, "row_cells",
                            lambda state, *a, **k: (drawn.append(state.id), original(state, *a, **k))[1])
        sim.inject(last, "html_502")
        await refresh(app, pilot, [last])
        await _drawn(app, pilot)
        assert last not in drawn and table_ids(app)[-1] == last
        await pilot.press("G")
        await _drawn(app, pilot)
        assert last in drawn and "502" in row_on_screen(app, last)


async def test_a_changed_cell_renders_alone_the_rest_of_its_row_comes_from_the_cache(rig):
    sim, app = rig("healthy", n=120)
    async with app.run_test(size=(160, 48)) as pilot:
        await refresh(app, pilot)
        table = app.fleet_screen.query_one(FleetTable)
        ids = table_ids(app)
        await _drawn(app, pilot)
        renders: list[tuple[int, int]] = []
        original = table._render_cell

        def spy(row_index, column_index, *args, **kwargs):
            before = len(table._cell_render_cache)
            result = original(row_index, column_index, *args, **kwargs)
            if len(table._cell_render_cache) != before:  # not found in the cache: rendered
                renders.append((row_index, column_index))
            return result

        table._render_cell = spy  # type: ignore[method-assign]
        app.fleet_screen.selected = frozenset({ids[3]})
        await _drawn(app, pilot)
        assert len(renders) == 1  # the selection mark; the row's 8 other cells were cached
        assert row_on_screen(app, ids[3]).lstrip().startswith("●")
