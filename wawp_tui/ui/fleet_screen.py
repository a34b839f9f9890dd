"""FleetScreen: the fleet table, the detail pane, the event log, and every key that acts.

Data flows one way: the monitor's events reach this screen as messages (via the bridge);
it draws the changed rows in batches (a person's own action at once); a one-second tick
moves the countdowns. Keys check with the monitor, confirm with a modal, then act in a
worker: no handler ever waits on the network.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.reactive import reactive
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import DataTable, Footer, Input, Static

from wawp_tui.core import runbook
from wawp_tui.core.monitor import Monitor
from wawp_tui.models import FAILED, SCAN_QR_CODE, UNREACHABLE
from wawp_tui.ui import formatting as view
from wawp_tui.ui.action_flows import ActionFlows
from wawp_tui.ui.bridge import MonitorBridge
from wawp_tui.ui.messages import EventNote, FleetChanged, StatusAlert
from wawp_tui.ui.screens.qr_screen import QrScreen
from wawp_tui.ui.screens.text_page import TextScreen, help_page, timeline_page
from wawp_tui.ui.widgets.detail_pane import DetailPane
from wawp_tui.ui.widgets.event_log import EventLog
from wawp_tui.ui.widgets.fleet_table import FleetTable
from wawp_tui.ui.widgets.quiet_static import QuietStatic

if TYPE_CHECKING:
    from wawp_tui.ui.app import WawpApp

#: Transitions into these words raise an alert (notification + bell).
ALERT_WORDS = {FAILED, SCAN_QR_CODE, UNREACHABLE}
#: How long the newest alert stays in the summary line.
ALERT_SHOWN_FOR = 300.0
#: Poll results are drawn together at most this often (a repaint of a big table is costly).
FLUSH_DELAY = 0.25
#: Below this width the detail pane goes under the table and the event log hides.
NARROW_WIDTH = 120


class FleetScreen(Screen[None]):
    """The fleet monitor's one screen; modals (confirmations, QR, help) go on top."""

    BINDINGS = [
        Binding("s", "act('start')", "Start", id="start", tooltip="Start the highlighted/selected instances"),
        Binding("x", "act('stop')", "Stop", id="stop", tooltip="Stop the highlighted/selected instances"),
        Binding("r", "act('restart')", "Restart", id="restart", tooltip="Restart (guarded by the runbook)"),
        Binding("R", "reset", "Reset", id="reset", tooltip="Full reset: stop, wait 5 s, start"),
        Binding("L", "act('logout')", "Logout", id="logout", show=False, tooltip="Log out: needs the phone"),
        Binding("space", "toggle_select", "Select", id="select", show=False,
                tooltip="Select / unselect for bulk actions"),
        Binding("enter", "open", "Detail/QR", id="detail", show=False,
                tooltip="Show the QR (SCAN_QR_CODE) or focus the detail pane"),
        Binding("slash", "filter", "Filter", id="filter", tooltip="Filter by label, id, tag, status"),
        Binding("p", "pause", "Pause", id="pause", show=False, tooltip="Pause / resume refreshing"),
        Binding("ctrl+r", "refresh", "Refresh", id="refresh", show=False,
                tooltip="Poll every instance now"),
        Binding("W", "waves", "Waves", id="waves", show=False,
                tooltip="Rolling restart/stop/start in waves of the selection or filtered rows"),
        Binding("c", "copy_id", "Copy id", id="copy", show=False, tooltip="Copy the instance id"),
        Binding("h", "history", "History", id="history", show=False, tooltip="Fleet timeline"),
        Binding("a", "toggle_auto_heal", "Auto-heal", id="auto-heal", show=False, tooltip="Toggle auto-heal"),
        Binding("question_mark", "help", "Help", id="help", tooltip="Every key"),
        Binding("escape", "clear", "Clear", id="clear", show=False, tooltip="Clear filter and selection"),
    ]

    selected: reactive[frozenset[str]] = reactive(frozenset(), init=False)
    """Instances selected for a bulk action (space)."""
    filter_text: reactive[str] = reactive("", init=False)
    """The `/` filter (empty: every row)."""
    paused: reactive[bool] = reactive(False, init=False)
    """Polling paused by the user (p)."""
    auto_heal: reactive[bool] = reactive(False, init=False)
    """Auto-heal switched on (a, or monitor.auto_heal)."""

    def __init__(self, monitor: Monitor, *, demo: bool = False, bell: bool = True,
                 rollout_state_path: Path | None = None) -> None:
        super().__init__()
        self.monitor = monitor
        self.demo = demo
        self.bell_enabled = bell
        self.clock = monitor.clock
        self.palette = view.Palette({})
        self.flows = ActionFlows(self, rollout_state_path)
        #: The newest alert, shown in the summary line for a while: (at, text).
        self.last_alert: tuple[float, str] | None = None
        self._bridge = MonitorBridge(monitor, self.post_message)
        self._mounted = False
        self._time_sigs: dict[str, tuple[object, ...]] = {}
        self._qr_screens: dict[str, QrScreen] = {}
        self._problems_said: set[str] = set()
        self._draw_timer: Timer | None = None
        self._last_draw = 0.0
        #: Seconds the last batch of changed rows took to draw (read by the bench).
        self.last_draw_seconds = 0.0
        self._ticks = 0
        self.set_reactive(FleetScreen.auto_heal, monitor.auto_heal)

    # -- layout ----------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield QuietStatic(id="summary")
        yield QuietStatic(id="banner")
        yield QuietStatic(id="rollout")
        with Horizontal(id="main"):
            with Vertical(id="left"):
                yield Input(placeholder="filter: label, id, tag or status (enter keeps, escape clears)",
                            id="filter")
                yield FleetTable(id="fleet")
            with Vertical(id="side"):
                yield DetailPane(id="detail-scroll")
                yield EventLog(id="events")
        with Horizontal(id="bottom"):
            yield Footer(compact=True)
            yield Static("READ-ONLY: no action reaches the API", id="mode")

    def on_mount(self) -> None:
        self.restyle()
        self._apply_size(self.app.size.width)
        self.query_one("#mode").display = self.monitor.read_only
        self.query_one("#filter").display = False
        self.query_one("#rollout").display = False
        self._mounted = True
        self.render_all()
        self.query_one(FleetTable).focus()
        self.set_interval(1.0, self.tick)
        if self.demo:
            self.log_line("demo fleet: a simulated Wawp server in this process; nothing leaves this machine")
        self._say_problems()

    def on_resize(self) -> None:
        self._apply_size(self.app.size.width)

    def _apply_size(self, width: int) -> None:
        self.query_one("#main").set_class(width < NARROW_WIDTH, "-narrow")

    def restyle(self) -> None:
        """The theme changed: take its colours and repaint everything."""
        self.palette = view.Palette.from_variables(self.app.theme_variables)
        for widget in self.query(QuietStatic):
            widget.forget()
        if self._mounted:
            self.render_all()

    # -- drawing ---------------------------------------------------------------------

    @on(FleetChanged)
    def _fleet_changed(self) -> None:
        if self._draw_timer is not None and not self._bridge.urgent:
            return  # a batch is already waiting to be drawn
        waited = time.monotonic() - self._last_draw
        if self._bridge.urgent or waited >= FLUSH_DELAY:
            self._draw_changes()
        else:
            self._draw_timer = self.set_timer(FLUSH_DELAY - waited, self._draw_changes)

    def _alive(self) -> bool:
        """False once the app is leaving: a late poll or timer must not touch widgets."""
        return self._mounted and self.is_attached and not getattr(self.app, "_leaving", False)

    def _draw_changes(self) -> None:
        if not self._alive():
            return
        if self._draw_timer is not None:
            self._draw_timer.stop()
            self._draw_timer = None
        self._last_draw = time.monotonic()
        changed = self._bridge.take()
        if changed:
            started = time.perf_counter()
            self._render_rows(changed)
            self.last_draw_seconds = time.perf_counter() - started
        for instance_id in changed & set(self._qr_screens):
            self._qr_screens[instance_id].instance_changed()

    def _visible(self, instance_id: str) -> bool:
        needle = self.filter_text.strip().lower()
        if not needle:
            return True
        st = self.monitor.state(instance_id)
        word = runbook.display_status(st, self.clock(), self.monitor.stale_basis)
        hay = " ".join((st.label, st.id, word, " ".join(st.tags), runbook.badge(word)[1])).lower()
        return all(part in hay for part in needle.split())

    def _row(self, instance_id: str, now: float) -> tuple[tuple[object, ...], tuple[object, ...]]:
        st = self.monitor.state(instance_id)
        basis = self.monitor.stale_basis
        cells = view.row_cells(st, now, basis, self.palette, instance_id in self.selected)
        return cells, view.sort_key(st, now, basis)

    def render_all(self) -> None:
        """Every row (after a filter or theme change), then the header and the detail."""
        now = self.clock()
        rows = {i: self._row(i, now) for i in self.monitor.fleet.instances if self._visible(i)}
        self.query_one(FleetTable).sync(rows, full=True)
        self._render_chrome()

    def _render_rows(self, ids: set[str]) -> None:
        if self.filter_text:
            self.render_all()  # a status change can move a row in or out of the filter
            return
        now, table = self.clock(), self.query_one(FleetTable)
        table.sync({i: self._row(i, now) for i in ids}, full=False)
        for i in ids:
            self._time_sigs[i] = view.time_signature(self.monitor.state(i), now,
                                                     self.monitor.stale_basis)
        self._render_chrome(detail=table.highlighted_id in ids)

    def _render_chrome(self, detail: bool = True) -> None:
        now, table = self.clock(), self.query_one(FleetTable)
        self.query_one("#summary", QuietStatic).show(view.summary(
            self.monitor.fleet, now, self.monitor.stale_basis, self.palette, paused=self.paused,
            auto_heal=self.auto_heal, read_only=self.monitor.read_only, shown=table.row_count,
            alert=self._recent_alert(now), audit_off=self.monitor.audit.error is not None,
            selected=len(self.selected)))
        outage = self.monitor.outage()
        banner = self.query_one("#banner", QuietStatic)
        banner.display = outage is not None
        if outage is not None:
            banner.show(Text(outage.text))
        if detail:
            self._render_detail()

    def _recent_alert(self, now: float) -> str | None:
        if self.last_alert and now - self.last_alert[0] < ALERT_SHOWN_FOR:
            return f"NEW {runbook.fmt_duration(now - self.last_alert[0])} ago: {self.last_alert[1]}"
        return None

    def _render_detail(self) -> None:
        instance_id = self.query_one(FleetTable).highlighted_id
        pane = self.query_one(DetailPane)
        if instance_id is None:
            pane.show(Text("No instance matches the filter. Press escape to clear it."
                           if self.filter_text else "No instances configured."))
            return
        pane.show(view.detail_parts(self.monitor.state(instance_id), self.clock(),
                                    self.monitor.stale_basis, self.palette))

    def tick(self) -> None:
        """The once-a-second heartbeat: the monitor's tick (auto-heal), then countdowns,
        "since" and staleness; only rows whose time-dependent cells changed are redrawn."""
        if not self._alive():
            return
        self.monitor.tick()
        table, now = self.query_one(FleetTable), self.clock()
        changed = {}
        for instance_id in table.ids():
            sig = view.time_signature(self.monitor.state(instance_id), now, self.monitor.stale_basis)
            if self._time_sigs.get(instance_id) != sig:
                self._time_sigs[instance_id] = sig
                changed[instance_id] = self._row(instance_id, now)
        if changed:
            table.sync(changed, full=False)
        self._render_chrome()
        self._ticks += 1
        if self._ticks % 5 == 0:
            self._say_problems()

    # -- what the core says --------------------------------------------------------

    def log_line(self, text: str, ok: bool = True) -> None:
        """A line in the event log."""
        if self._alive():
            self.query_one(EventLog).add(self.clock(), text, ok, self.palette)

    @on(EventNote)
    def _event_note(self, message: EventNote) -> None:
        self.log_line(message.text, message.ok)

    @on(StatusAlert)
    def _status_alert(self, message: StatusAlert) -> None:
        if not self._alive():
            return
        st = self.monitor.state(message.instance_id)
        text = f"{st.label} ({st.id}) -> {message.word}" + (f": {st.last_error}" if st.failures else "")
        alarming = message.word in ALERT_WORDS
        self.log_line(text, ok=not alarming)
        if alarming:
            self.last_alert = (self.clock(), text)
            self._render_chrome(detail=False)
            self.toast(text, title="new problem", severity="error", timeout=10)
            if self.bell_enabled:
                self.app.bell()

    def _say_problems(self) -> None:
        """Once each, in the event log: the audit log or the history cannot be kept."""
        for problem in self.monitor.problems():
            if problem not in self._problems_said:
                self._problems_said.add(problem)
                self.log_line(problem, ok=False)
                if problem == self.monitor.audit.error:
                    self.toast(f"{problem}: actions still work but are not recorded",
                               severity="error", timeout=15)

    def toast(self, message: str, *, title: str = "", severity: str = "information",
              timeout: float | None = None) -> None:
        """A notification of plain text (see WawpApp.toast)."""
        app: WawpApp = self.app  # type: ignore[assignment]
        app.toast(message, title=title, severity=severity, timeout=timeout)

    # -- selection, filter, modes ----------------------------------------------------

    def targets(self) -> list[str]:
        """The selection if any (in table order), else the highlighted instance."""
        table = self.query_one(FleetTable)
        if self.selected:
            shown = [i for i in table.ids() if i in self.selected]
            return shown or sorted(self.selected)
        highlighted = table.highlighted_id
        return [highlighted] if highlighted else []

    def visible_ids(self) -> list[str]:
        """The rows shown (after the filter), in table order."""
        return list(self.query_one(FleetTable).ids())

    def watch_selected(self, old: frozenset[str], new: frozenset[str]) -> None:
        if self._mounted:
            self._render_rows(set(old ^ new))

    def watch_filter_text(self) -> None:
        if self._mounted:
            self.render_all()

    def watch_paused(self, paused: bool) -> None:
        self.monitor.pause(paused)
        if self._mounted:
            self.log_line("refresh paused" if paused else "refresh resumed")
            self._render_chrome(detail=False)

    def watch_auto_heal(self, on_: bool) -> None:
        self.monitor.auto_heal = on_
        if self._mounted:
            self.log_line(f"auto-heal {'ON' if on_ else 'off'}")
            self._render_chrome(detail=False)

    def action_toggle_select(self) -> None:
        table = self.query_one(FleetTable)
        instance_id = table.highlighted_id
        if instance_id is None:
            return
        self.selected = self.selected ^ {instance_id}
        if table.cursor_row < table.row_count - 1:
            table.move_cursor(row=table.cursor_row + 1)

    def action_clear(self) -> None:
        box = self.query_one("#filter", Input)
        if self.filter_text or box.display:
            box.value = ""
            box.display = False
            self.filter_text = ""
        elif self.selected:
            self.selected = frozenset()
        self.query_one(FleetTable).focus()

    def action_filter(self) -> None:
        box = self.query_one("#filter", Input)
        box.display = True
        box.focus()

    @on(Input.Changed, "#filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        self.filter_text = event.value

    @on(Input.Submitted, "#filter")
    def _filter_submitted(self, event: Input.Submitted) -> None:
        if not event.value:
            self.query_one("#filter").display = False
        self.query_one(FleetTable).focus()

    def action_pause(self) -> None:
        self.paused = not self.paused

    def action_toggle_auto_heal(self) -> None:
        self.auto_heal = not self.auto_heal

    def action_refresh(self) -> None:
        self.run_worker(self.refresh_now(), group="refresh", exclusive=True, exit_on_error=False)

    async def refresh_now(self, ids: list[str] | None = None) -> None:
        """Poll every instance (or `ids`) and draw the result at once (ctrl+r; tools, tests)."""
        await self.monitor.refresh(ids)
        self._bridge.mark_urgent()
        self._draw_changes()

    # -- actions (the flows live in ActionFlows) -------------------------------------

    def action_act(self, action: str) -> None:
        """start / stop / restart / logout: check, confirm, then send in a worker."""
        self.flows.act(action, self.targets())

    def action_reset(self) -> None:
        """R: full reset of the highlighted/selected instances, or cancel a waiting one."""
        self.flows.reset(self.targets())

    def action_waves(self) -> None:
        """W: a rollout in waves of the selection (or the filtered rows), or cancel one."""
        self.flows.waves()

    # -- looking closer --------------------------------------------------------------

    def action_open(self) -> None:
        """enter: the QR screen for a SCAN_QR_CODE instance, else the detail pane."""
        instance_id = self.query_one(FleetTable).highlighted_id
        if instance_id and self.monitor.state(instance_id).status == SCAN_QR_CODE:
            self.open_qr(instance_id)
        else:
            self.query_one(DetailPane).focus()

    def open_qr(self, instance_id: str) -> QrScreen:
        """Push the QR screen of an instance (it fetches and refreshes its own code)."""
        app: WawpApp = self.app  # type: ignore[assignment]
        screen = QrScreen(self.monitor, instance_id, demo_scan=app.demo_scan())
        self._qr_screens[instance_id] = screen
        def closed(_: None) -> None:
            self._qr_screens.pop(instance_id, None)

        self.app.push_screen(screen, callback=closed)
        return screen

    @on(DataTable.RowSelected)
    def _row_selected(self) -> None:
        # The table takes enter itself (select_cursor); treat it as the screen's enter.
        self.action_open()

    @on(DataTable.RowHighlighted)
    def _row_highlighted(self) -> None:
        self._render_detail()

    def action_copy_id(self) -> None:
        instance_id = self.query_one(FleetTable).highlighted_id
        if instance_id:
            # OSC 52: reaches the local clipboard through SSH and tmux (set-clipboard on).
            self.app.copy_to_clipboard(instance_id)
            self.toast(f"copied {instance_id}")

    def action_history(self) -> None:
        self.app.push_screen(TextScreen("Fleet timeline, newest first",
                                        timeline_page(self.monitor.fleet, self.palette)))

    def action_help(self) -> None:
        """?: every key that works here, as bound now (remapped keys show as remapped)."""
        ours = [b.action for b in (*self.BINDINGS, *self.app.BINDINGS) if isinstance(b, Binding)]
        active = [a.binding for a in self.app.active_bindings.values()
                  if not a.binding.key.startswith("super+")]
        # Our keys first, in their own order; then navigation and the rest.
        active.sort(key=lambda b: ours.index(b.action) if b.action in ours else len(ours))
        self.app.push_screen(TextScreen("Keys", help_page(active)))

