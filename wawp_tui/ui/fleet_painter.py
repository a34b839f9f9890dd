"""FleetPainter: draws the fleet screen's widgets from the monitor's state.

Rows by keyed diff (only what changed), the summary line, the outage banner, the detail
pane, and once a second the cells that change with time alone. The screen hands down
what it holds (filter, selection, modes, palette); nothing here calls the API.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from rich.text import Text
from textual.timer import Timer

from wawp_tui.core import runbook
from wawp_tui.ui import formatting as view
from wawp_tui.ui.bridge import MonitorBridge
from wawp_tui.ui.fleet_view import FleetView
from wawp_tui.ui.sorting import row_sort_key, summary_note
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
        self._timer: Timer | None = None
        self._last_draw = 0.0

    def changed(self, bridge: MonitorBridge) -> None:
        """Instances changed: draw now if a person is waiting or the last batch is old
        enough, else once FLUSH_DELAY has passed (a batch of polls costs one repaint)."""
        if self._timer is not None and not bridge.urgent:
            return  # a batch is already waiting to be drawn
        waited = time.monotonic() - self._last_draw
        if bridge.urgent or waited >= FLUSH_DELAY:
            self._draw(bridge)
        else:
            self._timer = self.screen.set_timer(FLUSH_DELAY - waited, lambda: self._draw(bridge))

    def _draw(self, bridge: MonitorBridge) -> None:
        if self._timer is not None:
            self._timer.stop()
            self._timer = None
        if not self.screen.is_attached:
            return
        self._last_draw = time.monotonic()
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
        needle = self.screen.filter_text.strip().lower()
        if not needle:
            return True
        st = self.monitor.state(instance_id)
        word = runbook.display_status(st, self.monitor.clock(), self.monitor.stale_basis)
        hay = " ".join((st.label, st.id, word, " ".join(st.tags), runbook.badge(word)[1])).lower()
        return all(part in hay for part in needle.split())

    def _row(self, instance_id: str, now: float) -> tuple[tuple[object, ...], tuple[object, ...]]:
        st = self.monitor.state(instance_id)
        basis = self.monitor.stale_basis
        cells = view.row_cells(st, now, basis, self.screen.palette, instance_id in self.screen.selected,
                               self.monitor.quiet_after)
        return cells, row_sort_key(self.screen.table_sort.column, st, now, basis)

    def all(self) -> None:
        """Every row (after a filter or theme change), then the header and the detail."""
        now = self.monitor.clock()
        rows = {i: self._row(i, now) for i in self.monitor.fleet.instances if self._visible(i)}
        self.screen.query_one(FleetTable).sync(rows, full=True)
        self.chrome()

    def rows(self, ids: set[str]) -> None:
        """The rows of `ids` (they changed), then the header, and the detail if shown."""
        if self.screen.filter_text:
            self.all()  # a status change can move a row in or out of the filter
            return
        now, table = self.monitor.clock(), self.screen.query_one(FleetTable)
        table.sync({i: self._row(i, now) for i in ids}, full=False)
        for i in ids:
            self._time_sigs[i] = view.time_signature(self.monitor.state(i), now,
                                                     self.monitor.stale_basis, self.monitor.quiet_after)
        self.chrome(detail=table.highlighted_id in ids)

    def chrome(self, detail: bool = True) -> None:
        """The summary line and the outage banner (and the detail pane unless told not)."""
        now, table = self.monitor.clock(), self.screen.query_one(FleetTable)
        self.screen.query_one("#summary", QuietStatic).show(view.summary(
            self.monitor.fleet, now, self.monitor.stale_basis, self.screen.palette, paused=self.screen.paused,
            auto_heal=self.screen.auto_heal, read_only=self.monitor.read_only, shown=table.row_count,
            audit_off=self.monitor.audit.error is not None,
            selected=len(self.screen.selected)) + summary_note(self.screen.table_sort))
        config = self.monitor.config
        source = "demo" if self.screen.demo else str(config.path or "no config file")
        self.screen.query_one("#context", QuietStatic).show(view.context_line(
            source, config.api.base_url, len(self.monitor.fleet), self.screen.palette))
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
                                    self.monitor.quiet_after, self.monitor.read_only))

    def time_cells(self) -> None:
        """Countdowns, "since" and staleness, once a second: only rows whose time-dependent
        cells changed are redrawn, and nothing is repainted when nothing changed."""
        table, now = self.table, self.monitor.clock()
        changed = {}
        for instance_id in table.ids():
            sig = view.time_signature(self.monitor.state(instance_id), now, self.monitor.stale_basis,
                                      self.monitor.quiet_after)
            if self._time_sigs.get(instance_id) != sig:
                self._time_sigs[instance_id] = sig
                changed[instance_id] = self._row(instance_id, now)
        if changed:
            table.sync(changed, full=False)
        self.chrome()
