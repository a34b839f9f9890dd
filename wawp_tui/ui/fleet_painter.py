"""FleetPainter: draws the fleet screen's widgets from the monitor's state.

Rows by keyed diff (only what changed), the summary line, the outage banner, the detail
pane, and once a second the cells that change with time alone. The screen hands down
what it holds (filter, selection, modes, palette); nothing here calls the API.

Left alone, the fleet costs what changes, not what it holds: each instance waits in a
heap for the time its row or its share of the summary can next read differently
(formatting.time_changes_at), so the once-a-second beat looks only at those due, and
the summary's counts follow one instance at a time. A row off screen is only moved to
its place in the order; its cells are drawn when it comes into view (a screen shows
about 45 of 5,000 rows, and drawing cells nobody sees was most of an idle screen's CPU).
"""

from __future__ import annotations

import heapq
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
        #: (when, id): when an instance's time-dependent parts may next change; an
        #: entry whose time is not _due_at[id] is an old one, skipped.
        self._due: list[tuple[float, str]] = []
        self._due_at: dict[str, float] = {}
        #: Each instance's share of the summary line, and their sums.
        self._parts: dict[str, view.SummaryPart] = {}
        self._counts = view.SummaryCounts({})
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
        self._recount(now)
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
            self._account(i, now)
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
        if len(self._parts) != len(self.monitor.fleet):
            self._recount(now)
        width = max(20, self.screen.size.width - 2)  # the padding of each line
        hidden = len(self.screen.selected) - len(self.screen.selected & table.row_keys())
        self.screen.query_one("#summary", QuietStatic).show_lines(view.summary_lines(
            self._counts, self.monitor.fleet, now, self.monitor.stale_basis, self.screen.palette,
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
                                    self.monitor.quiet_after, self.monitor.read_only))

    def time_cells(self) -> None:
        """Countdowns, "since" and staleness, once a second: only the instances whose
        time has come are looked at, only rows whose time-dependent cells changed are
        redrawn, and nothing is repainted when nothing changed."""
        table, now = self.table, self.monitor.clock()
        shown, view = table.row_keys(), table.in_view()
        changed = {}
        due, due_at = self._due, self._due_at
        looked: list[str] = []
        while due and due[0][0] <= now:
            at, instance_id = heapq.heappop(due)
            if due_at.get(instance_id) != at:
                continue  # rescheduled since
            del due_at[instance_id]
            looked.append(instance_id)
            self._account(instance_id, now, schedule=False)
            if instance_id in shown and instance_id not in view:
                self._unseen.add(instance_id)  # drawn when it comes into view (seen)
            elif instance_id in shown:
                sig = self._time_signature(instance_id, now)
                if self._time_sigs.get(instance_id) != sig:
                    self._time_sigs[instance_id] = sig
                    changed[instance_id] = self._row(instance_id, now)
        for instance_id in looked:
            self._schedule(instance_id, now)
        if changed:
            table.sync(changed, full=False)
        self.seen()  # the net under FleetTable.ViewMoved: at most a second late
        self.chrome()

    # -- what changes with time alone, and the summary's counts ------------------------

    def _time_signature(self, instance_id: str, now: float) -> tuple[object, ...]:
        return view.time_signature(self.monitor.state(instance_id), now, self.monitor.stale_basis,
                                   self.monitor.quiet_after)

    def _schedule(self, instance_id: str, now: float) -> None:
        """Put the instance in the heap at the time its time-dependent parts can change
        (at the next beat at the earliest)."""
        at = max(view.time_changes_at(self.monitor.state(instance_id), now, self.monitor.stale_basis,
                                      self.monitor.quiet_after), now + 1e-3)
        if self._due_at.get(instance_id) == at:
            return
        self._due_at[instance_id] = at
        heapq.heappush(self._due, (at, instance_id))
        if len(self._due) > 2 * len(self._due_at) + 64:  # drop the old entries
            self._due = [(t, i) for i, t in self._due_at.items()]
            heapq.heapify(self._due)

    def _account(self, instance_id: str, now: float, *, schedule: bool = True) -> None:
        """Bring the instance's share of the summary up to date (and its place in the heap)."""
        part = view.summary_part(self.monitor.state(instance_id), now, self.monitor.stale_basis)
        old = self._parts.get(instance_id)
        if old != part:
            if old is not None:
                self._counts.add(old, -1)
            self._counts.add(part)
            self._parts[instance_id] = part
        if schedule:
            self._schedule(instance_id, now)

    def _recount(self, now: float) -> None:
        """Every instance's share of the summary and its place in the heap, afresh."""
        self._parts, self._counts = {}, view.SummaryCounts({})
        self._due, self._due_at = [], {}
        for instance_id in self.monitor.fleet.instances:
            self._account(instance_id, now)
