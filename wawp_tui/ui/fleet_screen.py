"""FleetScreen: the fleet table, the detail pane, the event log, and every key that acts.

Data flows one way: the monitor's events reach this screen as messages (via the bridge);
it draws the changed rows in batches (a person's own action at once); a one-second tick
moves the countdowns. Keys check with the monitor, confirm with a modal, then act in a
worker: no handler ever waits on the network.
"""

from __future__ import annotations

from pathlib import Path
from typing import cast

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.reactive import reactive
from textual.screen import Screen
from textual.widgets import DataTable, Input, Static

from wawp_tui.core import FleetMonitor
from wawp_tui.models import SCAN_QR_CODE
from wawp_tui.safe_text import clean
from wawp_tui.ui import formatting as view
from wawp_tui.ui.action_flows import ActionFlows
from wawp_tui.ui.bridge import MonitorBridge
from wawp_tui.ui.describe import describe_page
from wawp_tui.ui.fleet_bindings import FLEET_BINDINGS
from wawp_tui.ui.fleet_painter import FleetPainter
from wawp_tui.ui.fleet_view import AppServices
from wawp_tui.ui.keys import bound_keys
from wawp_tui.ui.messages import (
    ActionFinished,
    AlertsUpdated,
    EventNote,
    FleetChanged,
    RolloutProgress,
    StatusAlert,
)
from wawp_tui.ui.notices import Notices
from wawp_tui.ui.row_filter import VIEWS, FilterError, RowFilter, parse
from wawp_tui.ui.screens.alerts_screen import AlertsScreen
from wawp_tui.ui.screens.qr_screen import QrScreen
from wawp_tui.ui.screens.text_page import TextScreen, events_page, help_page, timeline_page
from wawp_tui.ui.sorting import SortOrder
from wawp_tui.ui.widgets.detail_pane import DetailPane
from wawp_tui.ui.widgets.event_log import EventLog
from wawp_tui.ui.widgets.fleet_table import FleetTable
from wawp_tui.ui.widgets.key_footer import KeyFooter
from wawp_tui.ui.widgets.quiet_static import QuietStatic

#: Below this width the detail pane goes under the table and the event log hides.
NARROW_WIDTH = 120


class FleetScreen(Screen[None]):
    """The fleet monitor's one screen; modals (confirmations, QR, help) go on top.

    (About 340 lines, over the house's 250 for a reason: it is the one place every key
    of the screen lands, about 40 of them, each a method of a few lines handing over to
    FleetPainter (drawing), Notices (telling), ActionFlows (confirm and act) or a page.
    Splitting the key handlers across classes would scatter what a key does.)
    """

    BINDINGS = FLEET_BINDINGS

    selected: reactive[frozenset[str]] = reactive(frozenset(), init=False)
    """Instances selected for a bulk action (space)."""
    filter_text: reactive[str] = reactive("", init=False)
    """The `/` filter's expression in force (empty: every row; see row_filter.py)."""
    paused: reactive[bool] = reactive(False, init=False)
    """Polling paused by the user (p)."""
    auto_heal: reactive[bool] = reactive(False, init=False)
    """Auto-heal switched on (a, or monitor.auto_heal)."""
    table_sort: reactive[SortOrder] = reactive(SortOrder(), init=False)
    """The fleet table's order (o, O, a click on a header); worst first by default."""

    def __init__(self, monitor: FleetMonitor, *, demo: bool = False, bell: bool = True,
                 rollout_state_path: Path | None = None, rerun: tuple[str, ...] = ()) -> None:
        super().__init__()
        self.monitor = monitor
        self.demo = demo
        #: The options a printed command needs to see this fleet (see launch.rerun_options).
        self.rerun = rerun
        self.bell_enabled = bell
        self.clock = monitor.clock
        self.palette = view.Palette({})
        self.flows = ActionFlows(self, rollout_state_path)
        self.painter = FleetPainter(self, on_drawn=self._drawn)
        self.notices = Notices(self)
        self._bridge = MonitorBridge(monitor, self.post_message)
        self._mounted = False
        self._qr_screens: dict[str, QrScreen] = {}
        self._ticks = 0
        #: The parsed filter in force (the last expression that parsed).
        self.row_filter: RowFilter = parse("")
        self.set_reactive(FleetScreen.auto_heal, monitor.auto_heal)

    # -- layout ----------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield QuietStatic(id="summary")
        yield QuietStatic(id="context")
        yield QuietStatic(id="banner")
        yield QuietStatic(id="alerts")
        yield QuietStatic(id="rollout")
        with Horizontal(id="main"):
            with Vertical(id="left"):
                yield Input(placeholder="filter: words, tag:eu status:failed id:AB label:x, a|b, !x, "
                                        "/regex (enter keeps, escape clears)", id="filter")
                yield FleetTable(id="fleet")
            with Vertical(id="side"):
                yield DetailPane(id="detail-scroll")
                yield EventLog(id="events")
        with Horizontal(id="bottom"):
            # First, so a narrow terminal cuts the key hints, never the mode.
            yield Static("READ-ONLY: no action reaches the API", id="mode")
            yield KeyFooter(compact=True)

    def on_mount(self) -> None:
        self.restyle()
        self._apply_size(self.app.size.width)
        self.query_one("#mode").display = self.monitor.read_only
        self.query_one("#filter").display = False
        self.query_one("#rollout").display = False
        self.query_one("#alerts").display = False
        self._mounted = True
        self.render_all()
        self.query_one(FleetTable).focus()
        self.set_interval(1.0, self.tick)
        if self.demo:
            self.log_line("demo fleet: a simulated Wawp server in this process; nothing leaves this machine")
        self.notices.say_problems()

    def on_resize(self) -> None:
        self._apply_size(self.app.size.width)
        if self._alive():
            self.painter.chrome(detail=False)  # the summary and context fit the new width

    def _apply_size(self, width: int) -> None:
        self.query_one("#main").set_class(width < NARROW_WIDTH, "-narrow")
        self.set_class(width < NARROW_WIDTH, "-narrow")
        # The footer's line is shared: a narrow terminal gets the short mode tag, so the
        # key hints (help and quit among them) still fit.
        self.query_one("#mode", Static).update(
            "READ-ONLY" if width < NARROW_WIDTH else "READ-ONLY: no action reaches the API")

    def restyle(self) -> None:
        """The theme changed: take its colours and repaint everything."""
        self.palette = view.Palette.from_variables(self.app.theme_variables)
        for widget in self.query(QuietStatic):
            widget.forget()
        if self._mounted:
            self.render_all()

    # -- drawing and telling ---------------------------------------------------------

    @property
    def ready(self) -> bool:
        """Mounted and drawing (a tool driving the screen waits for this)."""
        return self._alive()

    def _alive(self) -> bool:
        """False once the app is leaving: a late poll or timer must not touch widgets."""
        return self._mounted and self.is_attached and not cast(AppServices, self.app).leaving

    @on(FleetChanged)
    def _fleet_changed(self) -> None:
        self._bridge.received()
        if self._alive():
            self.painter.changed(self._bridge)

    @on(FleetTable.Refitted)
    def _refitted(self) -> None:
        if self._alive():
            self.render_all()

    @on(FleetTable.ViewMoved)
    def _view_moved(self) -> None:
        if self._alive():
            self.painter.seen()

    def _drawn(self, changed: set[str]) -> None:
        """After a batch was drawn: open QR screens hear about their instance."""
        for instance_id in changed & set(self._qr_screens):
            self._qr_screens[instance_id].instance_changed()

    def tick(self) -> None:
        """The once-a-second heartbeat: the monitor's tick (auto-heal), then countdowns,
        "since" and staleness (only rows whose time-dependent cells changed are redrawn)."""
        if not self._alive():
            return
        self.monitor.tick()
        self.painter.time_cells()
        self.notices.flush()
        self.notices.draw_strip()
        self._ticks += 1
        if self._ticks % 5 == 0:
            self.notices.say_problems()

    def render_all(self) -> None:
        """Every row (after a filter or theme change), then the header and the detail."""
        self.painter.all()

    def log_line(self, text: str, ok: bool = True) -> None:
        """A line in the event log."""
        if self._alive():
            self.query_one(EventLog).add(self.clock(), text, ok, self.palette)

    def toast(self, message: str, *, title: str = "", severity: str = "information",
              timeout: float | None = None) -> None:
        """A notification of plain text (see WawpApp.toast)."""
        app = cast(AppServices, self.app)
        app.toast(message, title=title, severity=severity, timeout=timeout)

    @on(EventNote)
    def _event_note(self, message: EventNote) -> None:
        self.log_line(message.text, message.ok)
        if message.told and self._alive():
            self.toast(message.text, severity="information" if message.ok else "warning")

    @on(StatusAlert)
    def _status_alert(self, message: StatusAlert) -> None:
        if self._alive():
            self.notices.status_changed(message.instance_id, message.word)

    @on(AlertsUpdated)
    def _alerts_updated(self, message: AlertsUpdated) -> None:
        if self._alive():
            self.notices.alerts_updated(message.notices)

    @on(ActionFinished)
    def _action_finished(self, message: ActionFinished) -> None:
        self.notices.action_finished(message.report, message.count)

    @on(RolloutProgress)
    def _rollout_progress(self, message: RolloutProgress) -> None:
        if self._alive():
            self.notices.rollout_progress(message.line, done=message.done, ok=message.ok)

    # -- selection, filter, modes ----------------------------------------------------

    def targets(self) -> list[str]:
        """The selection if any, else the highlighted instance. Only what is on screen:
        selected rows the filter hides are not included (the confirmation says how many;
        see `hidden_selected`)."""
        table = self.query_one(FleetTable)
        if self.selected:
            return [i for i in table.ids() if i in self.selected]
        highlighted = table.highlighted_id
        return [highlighted] if highlighted else []

    def hidden_selected(self) -> int:
        """Selected instances the filter hides (left out of every action)."""
        return len(self.selected - set(self.query_one(FleetTable).row_keys()))

    def highlighted_id(self) -> str | None:
        """The instance under the cursor."""
        return self.query_one(FleetTable).highlighted_id

    def visible_ids(self) -> list[str]:
        """The rows shown (after the filter), in table order."""
        return list(self.query_one(FleetTable).ids())

    def watch_selected(self, old: frozenset[str], new: frozenset[str]) -> None:
        if self._mounted:
            self.painter.rows(set(old ^ new))

    def watch_filter_text(self, text: str) -> None:
        self.row_filter = parse(text)
        if self._mounted:
            self.render_all()

    def watch_paused(self, paused: bool) -> None:
        self.monitor.pause(paused)
        if self._mounted:
            self.log_line("refresh paused" if paused else "refresh resumed")
            self.painter.chrome(detail=False)

    def watch_auto_heal(self, on_: bool) -> None:
        self.monitor.auto_heal = on_
        if self._mounted:
            self.log_line(f"auto-heal {'ON' if on_ else 'off'}")
            self.painter.chrome(detail=False)

    def watch_table_sort(self, order: SortOrder) -> None:
        if self._mounted:
            self.query_one(FleetTable).show_sort(order)
            self.render_all()

    def action_sort_next(self) -> None:
        self.table_sort = self.table_sort.next_column()

    def action_sort_reverse(self) -> None:
        self.table_sort = self.table_sort.flipped()

    @on(DataTable.HeaderSelected)
    def _header_clicked(self, event: DataTable.HeaderSelected) -> None:
        self.table_sort = self.table_sort.clicked(str(event.column_key.value))

    def action_toggle_select(self) -> None:
        table = self.query_one(FleetTable)
        instance_id = table.highlighted_id
        if instance_id is None:
            return
        self.selected = self.selected ^ {instance_id}
        if table.cursor_row < table.row_count - 1:
            table.move_to(table.cursor_row + 1)

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
        """A good expression filters at once; a bad one is said under the box, and the
        rows stay as the last good one left them."""
        box = self.query_one("#filter", Input)
        try:
            parse(event.value)
        except FilterError as exc:
            box.border_subtitle = clean(f"invalid: {exc}", 200)
            box.add_class("-invalid")
            return
        box.border_subtitle = ""
        box.remove_class("-invalid")
        self.filter_text = event.value

    def show_view(self, name: str) -> None:
        """A view (the palette's :failed, :scanqr, :stuck, :stale, :all): its filter, in the
        filter box where it can be read and edited."""
        expression = VIEWS[name][1]
        box = self.query_one("#filter", Input)
        box.value = expression
        box.display = bool(expression)
        self.filter_text = expression
        self.query_one(FleetTable).focus()

    @on(Input.Submitted, "#filter")
    def _filter_submitted(self, event: Input.Submitted) -> None:
        if not event.value:
            self.query_one("#filter").display = False
        self.query_one(FleetTable).focus()

    def action_pause(self) -> None:
        self.paused = not self.paused

    def action_toggle_auto_heal(self) -> None:
        """a: off at once; on only after a confirmation (see ActionFlows.auto_heal)."""
        self.flows.auto_heal()

    def action_refresh(self) -> None:
        self.run_worker(self.refresh_now(), group="refresh", exclusive=True, exit_on_error=False)

    async def refresh_now(self, ids: list[str] | None = None) -> None:
        """Poll every instance (or `ids`) and draw the result at once (ctrl+r; tools, tests)."""
        await self.monitor.refresh(ids)
        self._bridge.mark_urgent()
        if self._alive():
            self.painter.changed(self._bridge)

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
        app = cast(AppServices, self.app)
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
        self.painter.detail()

    def action_copy_id(self) -> None:
        instance_id = self.query_one(FleetTable).highlighted_id
        if instance_id:
            # OSC 52: reaches the local clipboard through SSH and tmux (set-clipboard on).
            self.app.copy_to_clipboard(instance_id)
            self.toast(f"copied {instance_id}")

    def action_history(self) -> None:
        self.app.push_screen(TextScreen("Fleet timeline, newest first",
                                        timeline_page(self.monitor.fleet, self.palette)))

    def action_events(self) -> None:
        self.app.push_screen(TextScreen("Event log, newest first",
                                        events_page(self.query_one(EventLog).kept)))

    def action_acknowledge(self) -> None:
        """A: acknowledge every firing alert (the strip empties; the list keeps them)."""
        count = self.monitor.alerts.acknowledge()
        self.log_line(f"acknowledged {count} alert{'s' if count != 1 else ''}" if count
                      else "no firing alert to acknowledge")
        self.notices.draw_strip()

    def action_alerts(self) -> None:
        """!: the alert list, by group (A there acknowledges the one under the cursor)."""
        self.app.push_screen(AlertsScreen(self.monitor, self.palette),
                             callback=lambda _: self.notices.draw_strip())

    def action_describe(self) -> None:
        """d: the highlighted instance on a page of its own."""
        instance_id = self.highlighted_id()
        if instance_id is None:
            return
        st = self.monitor.state(instance_id)
        self.app.push_screen(TextScreen(f"Describe {st.label} ({st.id})", describe_page(
            st, self.clock(), self.monitor.stale_basis, self.palette,
            quiet_after=self.monitor.quiet_after, read_only=self.monitor.read_only,
            next_poll=self.monitor.next_poll(instance_id),
            hibernate_after=self.monitor.hibernate_after)))

    def action_raw_reply(self) -> None:
        """y: the highlighted instance's last reply, as it came (redacted)."""
        instance_id = self.highlighted_id()
        if instance_id is None:
            return
        st = self.monitor.state(instance_id)
        reply = self.monitor.last_reply(instance_id)
        self.app.push_screen(TextScreen(f"Last reply of {st.label} ({st.id})", Text(
            reply or "No reply yet: nothing has been received for this instance.")))

    def action_help(self) -> None:
        """?: every key that works here, as bound now (remapped keys show as remapped)."""
        self.app.push_screen(TextScreen("Keys", help_page(bound_keys(self))))

