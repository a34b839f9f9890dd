"""FleetPainter: draws the fleet screen's widgets from the monitor's state.

Rows by keyed diff (only what changed), the summary line, the outage banner, the detail
pane, and once a second the cells that change with time alone. The screen hands down
what it holds (filter, selection, modes, palette); nothing here calls the API.

Left alone, the fleet costs what changes, not what it holds: the summary's counts and
the heap of when each row can next read differently are a Tally (tally.py), so the
once-a-second beat looks only at the instances due. A row off screen is only moved to
its place in the order; its cells are drawn when it comes into view (a screen shows
about 45 of 5,000 rows, and drawing cells nobody sees was most of an idle screen's CPU).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from rich.text import Text
from textual.timer import Timer
from textual.widgets import Static

from wawp_tui.ui import formatting as view
from wawp_tui.ui.bridge import MonitorBridge
from wawp_tui.ui.fleet_view import FleetView
from wawp_tui.ui.row_filter import Row
from wawp_tui.ui.sorting import row_sort_key, summary_note
from wawp_tui.ui.tally import Tally
from wawp_tui.ui.widgets.detail_pane import DetailPane
from wawp_tui.ui.widgets.fleet_table import FleetTable
from wawp_tui.ui.widgets.quiet_static import QuietStatic

#: Poll results are drawn together at most this often (a repaint of a big table is costly).
FLUSH_DELAY = 0.25


class FleetPainter:
    """The drawing half of the fleet screen."""

    def __init__(self, screen: FleetView, on_drawn: Callable[[set[str]], None]) -> None:
        self.screen = screen
        self.monitor = screen.monitor
        self.on_drawn = on_drawn
        #: Seconds the last batch of changed rows took to draw (read by the bench).
        self.last_draw_seconds = 0.0
        self._time_sigs: dict[str, tuple[object, ...]] = {}
        #: The summary's counts, and when each row may next change with time alone.
        self.tally = Tally(self.monitor, quiet_after=self.monitor.quiet_after)
        self._timer: Timer | None = None
        self._context: tuple[tuple[object, ...], Text] | None = None
        #: Rows off screen whose cells may be out of date: drawn when they come into view.
        self._unseen: set[str] = set()

    def changed(self, bridge: MonitorBridge) -> None:
        """Instances changed: draw now if a person is waiting, else FLUSH_DELAY after the
        first change (the polls that fall due together, see Poller.next_due, answer
        within that and cost one repaint, not one for the first and one for the rest)."""
        if bridge.urgent:
            self._draw(bridge)
        elif self._timer is None:
            self._timer = self.screen.set_timer(FLUSH_DELAY, lambda: self._draw(bridge))

    def _draw(self, bridge: MonitorBridge) -> None:
        if self._timer is not None:
            self._timer.stop()
            self._timer = None
        if not self.screen.is_attached:
            return
        changed = bridge.take()
        if changed:
            started = time.perf_counter()
            self.rows(changed)
            self.last_draw_seconds = time.perf_counter() - started
        self.on_drawn(changed)

    @property
    def table(self) -> FleetTable:
        return self.screen.query_one(FleetTable)

    def _visible(self, instance_id: str) -> bool:
        wanted = self.screen.row_filter
        if not wanted:
            return True
        st = self.monitor.state(instance_id)
        return wanted.matches(Row.of(st, self.monitor.clock(), self.monitor.stale_basis))

    def _row(self, instance_id: str, now: float) -> tuple[tuple[object, ...], tuple[object, ...]]:
        st = self.monitor.state(instance_id)
        basis = self.monitor.stale_basis
        cells = view.row_cells(st, now, basis, self.screen.palette, instance_id in self.screen.selected,
                               self.monitor.quiet_after, self.table.error_width)
        return cells, row_sort_key(self.screen.table_sort.column, st, now, basis)

    def _order(self, instance_id: str, now: float) -> tuple[None, tuple[object, ...]]:
        """A row off screen: its place in the order only (see `seen`)."""
        self._unseen.add(instance_id)
        st = self.monitor.state(instance_id)
        return None, row_sort_key(self.screen.table_sort.column, st, now, self.monitor.stale_basis)

    def all(self) -> None:
        """Every row (after a filter or theme change), then the header and the detail."""
        now = self.monitor.clock()
        rows = {i: self._row(i, now) for i in self.monitor.fleet.instances if self._visible(i)}
        self.screen.query_one(FleetTable).sync(rows, full=True)
        self._unseen.clear()
        self._time_sigs = {i: self._time_signature(i, now) for i in rows}
        self.tally.recount(now)
        self.chrome()

    def rows(self, ids: set[str]) -> None:
        """The rows of `ids` (they changed), then the header, and the detail if shown."""
        if self.screen.filter_text:
            self.all()  # a status change can move a row in or out of the filter
            return
        now, table = self.monitor.clock(), self.screen.query_one(FleetTable)
        view, present = table.in_view(), table.row_keys()
        drawn = {i for i in ids if i in view or i not in present}
        self._unseen -= drawn
        table.sync({i: self._row(i, now) if i in drawn else self._order(i, now) for i in ids},
                   full=False)
        for i in ids:
            if i not in self._unseen:
                self._time_sigs[i] = self._time_signature(i, now)
            self.tally.account(i, now)
        # A row the order just moved into view (a FAILED rising to the top) is drawn now,
        # not at the next beat.
        self.seen()
        self.chrome(detail=table.highlighted_id in ids)

    def seen(self) -> None:
        """Draw the rows that came into view with cells that may be out of date."""
        if not self._unseen:
            return
        now, table = self.monitor.clock(), self.table
        due = self._unseen & table.in_view()
        if due:
            self._unseen -= due
            table.sync({i: self._row(i, now) for i in due}, full=False)
            for i in due:
                self._time_sigs[i] = self._time_signature(i, now)

    def chrome(self, detail: bool = True) -> None:
        """The summary line and the outage banner (and the detail pane unless told not)."""
        now, table = self.monitor.clock(), self.screen.query_one(FleetTable)
        if not self.tally.complete:
            self.tally.recount(now)
        width = max(20, self.screen.size.width - 2)  # the padding of each line
        hidden = len(self.screen.selected) - len(self.screen.selected & table.row_keys())
        self.screen.query_one("#summary", QuietStatic).show_lines(view.summary_lines(
            self.tally.counts, self.monitor.fleet, now, self.monitor.stale_basis, self.screen.palette,
            paused=self.screen.paused,
            auto_heal=self.monitor.auto_heal, read_only=self.monitor.read_only, shown=table.row_count,
            audit_off=self.monitor.audit.error is not None,
            selected=len(self.screen.selected), selected_hidden=hidden, width=width,
            tail=summary_note(self.screen.table_sort)))
        config = self.monitor.config
        source = "demo" if self.screen.demo else \
            self.monitor.origin or str(config.path or "no config file")
        where = self.monitor.where
        key = (source, where, len(self.monitor.fleet), self.screen.palette, width)
        if self._context is None or self._context[0] != key:
            self._context = key, view.context_line(source, where,
                                                   len(self.monitor.fleet), self.screen.palette, width)
        self.screen.query_one("#context", QuietStatic).show(self._context[1])
        # (Attached to a hub, read-only follows the hub's answer: known once it is reached.)
        self.screen.query_one("#mode", Static).display = self.monitor.read_only
        outage = self.monitor.outage()
        banner = self.screen.query_one("#banner", QuietStatic)
        banner.display = outage is not None
        if outage is not None:
            banner.show(Text(outage.text))
        if detail:
            self.detail()

    def detail(self) -> None:
        """The detail pane of the highlighted instance."""
        instance_id = self.screen.query_one(FleetTable).highlighted_id
        pane = self.screen.query_one(DetailPane)
        if instance_id is None:
            pane.show(Text("No instance matches the filter. Press escape to clear it."
                           if self.screen.filter_text else "No instances configured."))
            return
        pane.show(view.detail_parts(self.monitor.state(instance_id), self.monitor.clock(),
                                    self.monitor.stale_basis, self.screen.palette,
                                    self.monitor.quiet_after, self.monitor.read_only,
                                    self.monitor.hibernate_after))

    def time_cells(self) -> None:
        """Countdowns, "since" and staleness, once a second: only the instances whose
        time has come are looked at, only rows whose time-dependent cells changed are
        redrawn, and nothing is repainted when nothing changed."""
        table, now = self.table, self.monitor.clock()
        shown, view = table.row_keys(), table.in_view()
        changed = {}
        for instance_id in self.tally.due(now):
            if instance_id in shown and instance_id not in view:
                self._unseen.add(instance_id)  # drawn when it comes into view (seen)
            elif instance_id in shown:
                sig = self._time_signature(instance_id, now)
                if self._time_sigs.get(instance_id) != sig:
                    self._time_sigs[instance_id] = sig
                    changed[instance_id] = self._row(instance_id, now)
        if changed:
            table.sync(changed, full=False)
        self.seen()  # the net under FleetTable.ViewMoved: at most a second late
        self.chrome()

    # -- what changes with time alone ----------------------------------------------------

    def _time_signature(self, instance_id: str, now: float) -> tuple[object, ...]:
        return view.time_signature(self.monitor.state(instance_id), now, self.monitor.stale_basis,
                                   self.monitor.quiet_after)
