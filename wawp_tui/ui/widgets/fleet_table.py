"""FleetTable: the fleet as a DataTable, updated by keyed diff, worst first (or sorted
by the column the operator chose), moved with the keys an SRE types by habit."""

from __future__ import annotations

from collections.abc import Callable, Iterable, KeysView, Mapping
from typing import Any

from rich.text import Text
from textual.binding import Binding
from textual.cache import LRUCache
from textual.coordinate import Coordinate
from textual.geometry import Region
from textual.message import Message
from textual.widgets import DataTable
from textual.widgets.data_table import CellDoesNotExist, ColumnKey, RowKey

from wawp_tui.ui.formatting import COLUMNS, ERROR_WIDTH, error_width
from wawp_tui.ui.sorting import SortOrder, header_label


class FleetTable(DataTable):
    """Rows keyed by instance id; only changed cells are sent to the widget.

    The parent hands it the wanted rows (cells + sort key); this widget adds what came,
    removes what went, updates changed cells, and re-sorts only when an order-relevant
    value changed. The highlight follows its instance; the scroll position stays put.

    | Key(s) | Description |
    | :- | :- |
    | enter | Show the QR (SCAN_QR_CODE) or focus the detail pane. |
    | down, j / up, k | Highlight the next / previous row. |
    | ctrl+d / ctrl+u | Half a page down / up. |
    | pagedown, ctrl+f / pageup, ctrl+b | A page down / up. |
    | home, g, ctrl+home / end, G, ctrl+end | The first / last row. |
    | left / right | Scroll sideways. |
    """

    BINDINGS = [
        # The same id as the screen's enter: one keymap entry remaps both (the table's
        # wins while it has focus; it posts RowSelected, which the screen opens).
        Binding("enter", "select_cursor", "Detail/QR", id="detail", show=False,
                tooltip="Show the QR (SCAN_QR_CODE) or focus the detail pane"),
        Binding("down,j", "cursor_down", "Down", id="cursor-down", show=False, tooltip="Next row"),
        Binding("up,k", "cursor_up", "Up", id="cursor-up", show=False, tooltip="Previous row"),
        Binding("ctrl+d", "half_page_down", "Half page down", id="half-page-down", show=False,
                tooltip="Half a page down"),
        Binding("ctrl+u", "half_page_up", "Half page up", id="half-page-up", show=False,
                tooltip="Half a page up"),
        Binding("pagedown,ctrl+f", "page_down", "Page down", id="page-down", show=False,
                tooltip="A page down"),
        Binding("pageup,ctrl+b", "page_up", "Page up", id="page-up", show=False, tooltip="A page up"),
        # DataTable's home/end scroll sideways; in a list of instances they mean a row.
        Binding("home,g,ctrl+home", "first_row", "Top", id="top", show=False,
                tooltip="First row (the worst, in the default order)"),
        Binding("end,G,ctrl+end", "last_row", "Bottom", id="bottom", show=False, tooltip="Last row"),
        Binding("left", "cursor_left", "Scroll left", id="scroll-left", show=False,
                tooltip="Scroll the columns left"),
        Binding("right", "cursor_right", "Scroll right", id="scroll-right", show=False,
                tooltip="Scroll the columns right"),
    ]

    DEFAULT_CSS = """
    FleetTable { height: 1fr; }
    """

    class Refitted(Message):
        """The columns were fitted to a new width (LAST ERROR narrower or wider): the
        rows must be drawn again for it (their text is clipped to the column)."""

    class ViewMoved(Message):
        """Other rows may be on screen now (a scroll, a resize, a new order): rows whose
        cells were left to draw until seen (see `sync`) are due."""

    #: Rows above and below the viewport drawn as if on screen (a one-row scroll shows
    #: a row that is already up to date).
    VIEW_MARGIN = 2

    def __init__(self, **kwargs) -> None:
        super().__init__(cursor_type="row", zebra_stripes=False, **kwargs)
        self._cells: dict[str, tuple] = {}
        self._order: dict[str, tuple] = {}
        #: Until the user moves the cursor, it stays on the top (worst) row.
        self._user_moved = False
        self._sort = SortOrder()
        #: The sort changed: the next sync re-sorts even if no row's key changed.
        self._sort_changed = False
        #: Sorts done so far, and the rows in view when last asked (see in_view).
        self._sorts = 0
        self._in_view: tuple[tuple[int, ...], set[str]] | None = None
        #: LAST ERROR's width now (see formatting.error_width).
        self.error_width = ERROR_WIDTH

    def on_key(self) -> None:
        self._user_moved = True

    def on_click(self) -> None:
        self._user_moved = True

    def on_mount(self) -> None:
        for key, title, width in COLUMNS:
            self.add_column(self._header(key, title, width), key=key, width=width)

    @property
    def highlighted_id(self) -> str | None:
        """The instance id under the cursor (None for an empty table)."""
        if not self.row_count:
            return None
        try:
            row_key, _ = self.coordinate_to_cell_key(self.cursor_coordinate)
        except CellDoesNotExist:
            return None
        return row_key.value

    def ids(self) -> Iterable[str]:
        """The ids currently shown."""
        return self._cells.keys()

    def row_keys(self) -> KeysView[str]:
        """The ids currently shown, as a set-like view (membership in O(1))."""
        return self._cells.keys()

    def in_view(self) -> set[str]:
        """The ids of the rows on screen (and VIEW_MARGIN rows either side)."""
        if not self.row_count:
            return set()
        top = max(0, int(self.scroll_y) - self.VIEW_MARGIN)
        bottom = min(self.row_count, int(self.scroll_y) + self.size.height + self.VIEW_MARGIN)
        key = (top, bottom, self.row_count, self._sorts)
        if self._in_view is not None and self._in_view[0] == key:
            return self._in_view[1]
        shown: set[str] = set()
        self._in_view = key, shown
        for row in range(top, bottom):
            try:
                row_key, _ = self.coordinate_to_cell_key(Coordinate(row, 0))
            except CellDoesNotExist:
                break
            if row_key.value is not None:
                shown.add(row_key.value)
        return shown

    def watch_scroll_y(self, old: float, new: float) -> None:
        super().watch_scroll_y(old, new)
        if int(old) != int(new):
            self.post_message(self.ViewMoved())

    def on_resize(self) -> None:
        self._fit()
        self.post_message(self.ViewMoved())

    def _fit(self) -> None:
        """Narrow LAST ERROR where that brings the whole id on screen (a wide terminal with
        the detail pane beside the table); the rows are drawn again for it."""
        wanted = error_width(self.scrollable_content_region.width, self.cell_padding)
        if wanted == self.error_width or not self.columns:
            return
        self.error_width = wanted
        self.columns[ColumnKey("error")].width = wanted
        # (The table's own column sizing runs only for new rows: ask for it, and forget
        # the renders made at the old width.)
        self._require_update_dimensions = True
        self._clear_caches()
        self.refresh(layout=True)
        self.post_message(self.Refitted())

    def show_sort(self, order: SortOrder) -> None:
        """Sort in `order` from the next sync on (its keys come with the rows), with the
        arrow in the sorted column's header."""
        self._sort = order
        self._sort_changed = True
        for key, title, width in COLUMNS:
            self.columns[ColumnKey(key)].label = Text(self._header(key, title, width))

    def _header(self, key: str, title: str, width: int) -> str:
        return header_label(title, width, self._sort.arrow if key == self._sort.column else None)

    def move_to(self, row: int) -> None:
        """Highlight `row` (clamped to the table) as the user's own move: from now on the
        highlight follows its instance when rows re-sort."""
        self._user_moved = True
        if self.row_count:
            self.move_cursor(row=max(0, min(row, self.row_count - 1)))

    def sync(self, rows: Mapping[str, tuple[tuple | None, tuple]], *, full: bool) -> None:
        """Bring the table to `rows` ({id: (cells, sort_key)}).

        `full=True` means `rows` is the complete wanted set (rows missing from it are
        removed); otherwise it is a partial update of rows that may have changed. Cells
        of None (for a row already in the table) move the row to its new place and
        leave its cells as they are: the caller draws them once the row is in view.
        """
        keep = self.highlighted_id
        reorder = False
        changed: list[tuple[str, str, object]] = []
        with self.app.batch_update():
            if full:
                for gone in [i for i in self._cells if i not in rows]:
                    self.remove_row(gone)
                    del self._cells[gone]
                    del self._order[gone]
            for instance_id, (cells, order) in rows.items():
                old = self._cells.get(instance_id)
                if cells is None:
                    if old is not None and self._order.get(instance_id) != order:
                        self._order[instance_id] = order
                        reorder = True
                    continue
                if old is None:
                    self.add_row(*cells, key=instance_id)
                    reorder = True
                else:
                    for (column, _, _), before, after in zip(COLUMNS, old, cells):
                        if not _same(before, after):
                            changed.append((instance_id, column, after))
                    if self._order.get(instance_id) != order:
                        reorder = True
                self._cells[instance_id] = cells
                self._order[instance_id] = order
            if reorder or self._sort_changed:
                # The sort repaints every row (it invalidates the whole render cache), so
                # forgetting the changed rows one by one first would be wasted work.
                self._write_cells(changed)
                self._resort(keep, reveal=self._sort_changed)
                self.post_message(self.ViewMoved())
            elif changed:
                self._set_cells(changed)

    def _set_cells(self, changed: list[tuple[str, str, object]]) -> None:
        """DataTable.update_cell, for many cells at once, repainting only what shows.

        update_cell (Textual 8.2) writes `_data`, then bumps `_update_count`, the one key
        every render cache of the table shares: any changed cell, even on a row scrolled
        far off screen, made every visible row render again (about 45 rows x 9 cells). This
        writes the cells the same way, then forgets the cached renders of the changed rows
        only and repaints those of them that are on screen. Keys are ours and known to
        exist; columns have fixed widths, so no cell can change a column's width.
        """
        if changed:
            self._repaint_rows(self._write_cells(changed))

    def _write_cells(self, changed: list[tuple[str, str, object]]) -> set[tuple[RowKey, ColumnKey]]:
        """Write cells into the table's data as update_cell does; the cells written."""
        data = self._data
        cells: set[tuple[RowKey, ColumnKey]] = set()
        for instance_id, column, value in changed:
            key, column_key = RowKey(instance_id), ColumnKey(column)
            data[key][column_key] = value
            cells.add((key, column_key))
        return cells

    def _repaint_rows(self, written: set[tuple[RowKey, ColumnKey]]) -> None:
        """Forget the cached renders of the `written` cells and of their rows' lines, and
        repaint those on screen; the rest of the table keeps its cache (see _set_cells),
        and so do the other cells of a changed row (a row's line is put together again
        from them: one SINCE cell costs one cell's render, not nine)."""
        rows = {row for row, _ in written}
        try:
            caches = (self._cell_render_cache, self._row_render_cache,
                      self._row_renderable_cache, self._line_cache)
        except AttributeError:  # not the Textual these caches were read from: every row
            self._update_count += 1
            self.refresh()
            return
        cells, row_lines, renderables, lines = caches
        index = {i: key for key in rows if (i := self._row_locations.get(key)) is not None}
        header = self.header_height if self.show_header else 0
        # Every row is one line high, so row i is line header + i of the whole table
        # (the key of the line cache); the row renderables are keyed by row index.
        ys = {header + i for i in index}
        _forget(cells, lambda k: (k[0], k[1]) in written)
        _forget(row_lines, lambda k: k[0] in rows)
        _forget(renderables, lambda k: k[1] in index)
        _forget(lines, lambda k: k[0] in ys)
        width = max(self.size.width, self.virtual_size.width)
        for y in ys:
            # Off screen: nothing to repaint (scrolling there renders the new cells).
            self._refresh_region(Region(0, y, width, 1))

    def _resort(self, keep: str | None, *, reveal: bool = False) -> None:
        """Re-sort, the highlight on its instance; the viewport stays where the user put
        it, unless they asked for the new order (`reveal`): then it shows the highlight."""
        order = self._order
        self._sort_changed = False
        self._sorts += 1
        # The sort key gets the "id" cell: a Text (cells are never markup-parsed strings).
        # (The sort also repaints the header, whose arrow may just have moved.)
        self.sort("id", key=lambda cell: order[cell.plain], reverse=self._sort.reverse)
        if not self._user_moved:
            self.move_cursor(row=0, scroll=reveal)
        elif keep is not None and keep in self._cells:
            self.move_cursor(row=self.get_row_index(keep), scroll=reveal)

    # -- moving: every move is the user's own (see move_to), by key or from the command
    # palette (where no key reaches this widget, so on_key alone would miss it) ---------

    def _page_rows(self) -> int:
        """Rows that fit in the viewport under the header."""
        header = self.header_height if self.show_header else 0
        return max(1, self.scrollable_content_region.height - header)

    def action_cursor_down(self) -> None:
        self._user_moved = True
        super().action_cursor_down()

    def action_cursor_up(self) -> None:
        self._user_moved = True
        super().action_cursor_up()

    def action_page_down(self) -> None:
        self._user_moved = True
        super().action_page_down()

    def action_page_up(self) -> None:
        self._user_moved = True
        super().action_page_up()

    def action_half_page_down(self) -> None:
        self._half_page(+1)

    def action_half_page_up(self) -> None:
        self._half_page(-1)

    def _half_page(self, sign: int) -> None:
        """As in vim and less: the view and the highlight move by half a page together,
        so the highlight keeps its place on screen."""
        rows = sign * max(1, self._page_rows() // 2)
        self.scroll_relative(y=rows, animate=False)
        self.move_to(self.cursor_row + rows)

    def action_first_row(self) -> None:
        self.move_to(0)

    def action_last_row(self) -> None:
        self.move_to(self.row_count - 1)


def _same(before: object, after: object) -> bool:
    """Cell equality that also sees a style change (Rich's Text.__eq__ ignores it)."""
    if isinstance(before, Text) and isinstance(after, Text):
        return before.plain == after.plain and str(before.style) == str(after.style)
    return before == after


def _forget(cache: LRUCache, drop: Callable[[Any], bool]) -> None:
    """Discard the entries of a render cache whose key matches `drop`."""
    for key in [k for k in cache.keys() if drop(k)]:  # noqa: SIM118 (LRUCache has no __iter__)
        cache.discard(key)
