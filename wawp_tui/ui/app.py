"""WawpApp: the live fleet screen.

Data flows one way: the poller (a worker) updates FleetState and marks instances dirty;
a short coalescing timer turns dirty instances into a keyed diff of the table; a
one-second tick moves the countdowns. Keys post action requests to the ActionRunner in
workers: no handler ever waits on the network.
"""

from __future__ import annotations

import asyncio
import time
from typing import Callable

from rich.console import Group
from rich.text import Text
from textual import on
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.reactive import reactive
from textual.widgets import DataTable, Footer, Input, RichLog, Static
from textual.worker import Worker

from wawp_tui.core import autoheal, runbook
from wawp_tui.ui import theming as themes
from wawp_tui.core import rollout as rollout_mod
from wawp_tui.core.actions import ActionRunner, Outcome, Report
from wawp_tui.client.api import WawpClient
from wawp_tui.core.audit import AuditLog
from wawp_tui.core.fleet import FleetState
from wawp_tui.models import FAILED, SCAN_QR_CODE, UNREACHABLE, WORKING
from wawp_tui.core.history_store import HistoryStore
from wawp_tui.safe_text import clean
from wawp_tui.client.errors import WawpError
from wawp_tui.ui.screens.qr_screen import QrScreen
from wawp_tui.core.poller import Poller
from wawp_tui.ui import formatting as view
from wawp_tui.ui.widgets.fleet_table import FleetTable
from wawp_tui.ui.screens.confirm import ChoiceScreen, ConfirmScreen, TextScreen
from wawp_tui.ui.terminal_guard import TerminalGuard

#: Transitions into these words raise an alert (notification + bell).
ALERT_WORDS = {FAILED, SCAN_QR_CODE, UNREACHABLE}
#: How long the newest alert stays in the summary line.
ALERT_SHOWN_FOR = 300.0

#: Seconds poll results wait to be drawn together (a repaint of a big table is costly).
FLUSH_DELAY = 0.25

#: Below this width the detail pane goes under the table and the event log hides.
NARROW_WIDTH = 120

#: What each confirmation says the action will do (design.md: name the consequence).
CONSEQUENCES = {
    "start": "It boots and reconnects (STARTING, then WORKING).",
    "stop": ("Messages in its outbound queue are purged. While stopped no webhooks are "
             "delivered, and WhatsApp buffers incoming messages only 24-72 h."),
    "restart": ("Messages in its outbound queue are purged; it reconnects within ~30 s "
                "(no new QR needed)."),
    "logout": ("This unlinks the phone: the instance goes to SCAN_QR_CODE and someone "
               "must scan a new QR with the phone to bring it back."),
    "reset": ("Full lifecycle reset: stop, wait 5 s, start. The outbound queue is purged; "
              "press R again during the wait to cancel (it then stays STOPPED)."),
}
TITLES = {"start": "Start", "stop": "Stop", "restart": "Restart", "logout": "Log out",
          "reset": "Full reset"}


class WawpApp(App[int]):
    """The fleet monitor; built by `build_app` for the CLI and the tests alike."""

    CSS_PATH = "app.tcss"
    TITLE = "wawp-tui"

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
        Binding("W", "waves", "Waves", id="waves", show=False,
                tooltip="Rolling restart/stop/start in waves of the selection or filtered rows"),
        Binding("c", "copy_id", "Copy id", id="copy", show=False, tooltip="Copy the instance id"),
        Binding("h", "history", "History", id="history", show=False, tooltip="Fleet timeline"),
        Binding("a", "toggle_auto_heal", "Auto-heal", id="auto-heal", show=False, tooltip="Toggle auto-heal"),
        Binding("question_mark", "help", "Help", id="help", tooltip="Every key"),
        Binding("escape", "clear", "Clear", id="clear", show=False, tooltip="Clear filter and selection"),
        Binding("q", "quit", "Quit", id="quit", tooltip="Quit"),
        # Textual only hints at ctrl+q on ctrl+c; at 3 a.m. ctrl+c means "get me out".
        # Not a priority binding: in a text field ctrl+c still copies.
        Binding("ctrl+c", "quit", "Quit", show=False, system=True),
    ]

    paused: reactive[bool] = reactive(False)
    """Polling paused by the user (p)."""
    auto_heal: reactive[bool] = reactive(False)
    """Auto-heal switched on (a, or monitor.auto_heal)."""
    filter_text: reactive[str] = reactive("")
    """Current `/` filter (empty: every row)."""

    def __init__(
        self,
        config,
        client: WawpClient,
        *,
        clock: Callable[[], float] = time.time,
        audit: AuditLog | None = None,
        history: HistoryStore | None = None,
        poll: bool = True,
        demo: bool = False,
        timer: Callable[[], float] = time.perf_counter,
    ) -> None:
        super().__init__()
        self.config = config
        self.client = client
        self.clock = clock
        self.demo = demo
        #: The demo's phone: links a QR value (the embedded simulator unless a test gives one).
        self.demo_phone: Callable[[str, str], bool] | None = None
        self.refresh_seconds = config.monitor.refresh
        self.read_only = config.monitor.read_only
        self._poll_enabled = poll
        self.fleet = FleetState(config.instances, clock=clock)
        self.labels = {st.id: st.label for st in self.fleet}
        self.poller = Poller(client, self.fleet, config.instances, refresh=config.monitor.refresh,
                             max_interval=config.monitor.steady_max,
                             steady_rate=config.monitor.steady_rate,
                             concurrency=config.api.max_concurrency, clock=clock,
                             on_update=self._on_polled, timer=timer)
        #: The longest interval a healthy instance waits between polls: data older than
        #: two of these is stale.
        self.stale_basis = max(config.monitor.refresh, self.poller.steady_target or 0.0)
        self.audit = audit if audit is not None else AuditLog(None)
        self.runner = ActionRunner(client, self.fleet, config.instances, clock=clock,
                                   audit=self.audit, read_only=self.read_only,
                                   on_event=self._on_action_event, on_change=self._mark_urgent,
                                   on_unknown=self.poller.poke)
        self.selected: set[str] = set()
        self._ui_ready = False
        self.bell_enabled = config.monitor.bell
        self.history = history if history is not None else HistoryStore(None)
        for instance_id, entries in self.history.load(set(self.fleet.instances)).items():
            self.fleet.restore(instance_id, entries)
        self.fleet.on_record = self.history.append
        #: Instances whose first status of this session has been seen (no alert for those).
        self._seen: set[str] = set()
        #: The newest alert, shown in the summary line for a while: (at, text).
        self.last_alert: tuple[float, str] | None = None
        self._qr_screens: dict[str, QrScreen] = {}
        self._qr_wake: dict[str, asyncio.Event] = {}
        #: The rollout under way, if any (W).
        self.rollout: rollout_mod.Rollout | None = None
        self._dirty: set[str] = set()
        self._flush_pending = False
        self._resets: dict[str, Worker] = {}
        self._palette = view.Palette({})
        #: Per row, the time-dependent cells last drawn; per widget, what it last showed.
        self._time_sigs: dict[str, tuple] = {}
        self._ticks = 0
        self._config_mtime: float | None = None
        self._painted: dict[str, tuple] = {}
        self._shapes: dict[str, tuple] = {}
        self.heal_policy = autoheal.HealPolicy()
        self._heal_notes: set[str] = set()
        self._file_problems: set[str] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._leaving = False
        self.set_reactive(WawpApp.auto_heal, bool(config.monitor.auto_heal))
        self._theme_problems = self._register_themes()
        wanted = config.monitor.theme or themes.DEFAULT_THEME
        if wanted in self.available_themes:
            self.theme = wanted
        else:
            self._theme_problems.append(themes.ThemeProblem(
                wanted, f"no theme named {wanted!r}; using {themes.DEFAULT_THEME}"))
            self.theme = themes.DEFAULT_THEME

    def _toast(self, message: str, *, title: str = "", severity: str = "information",
               timeout: float | None = None) -> None:
        """A notification of plain text: it often quotes a server or a config, and
        Textual would otherwise parse it as markup (a "[@click=app.quit]" link)."""
        self.notify(clean(message, 500), title=clean(title, 60), severity=severity,  # type: ignore[arg-type]
                    timeout=timeout, markup=False)

    def _register_themes(self) -> list:
        for theme in themes.builtin_themes():
            self.register_theme(theme)
        from wawp_tui.config import user_themes_dir

        found, problems = themes.user_themes(user_themes_dir())
        for theme in found:
            self.register_theme(theme)
        return list(problems)

    # -- layout ----------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield Static(id="summary")
        yield Static(id="banner")
        yield Static(id="rollout")
        with Horizontal(id="main"):
            with Vertical(id="left"):
                yield Input(placeholder="filter: label, id, tag or status (enter keeps, escape clears)",
                            id="filter")
                yield FleetTable(id="fleet")
            with Vertical(id="side"):
                with VerticalScroll(id="detail-scroll"):
                    yield Static(id="detail")
                yield RichLog(id="events", max_lines=500, markup=False, wrap=True, min_width=20)
        with Horizontal(id="bottom"):
            yield Footer(compact=True)
            yield Static("READ-ONLY: no action reaches the API" if self.read_only else "",
                         id="mode")

    def on_mount(self) -> None:
        self._palette = view.Palette.from_variables(self.theme_variables)
        self._apply_size(self.size.width)
        self._fleet("#mode").display = self.read_only
        self._fleet("#filter").display = False
        self._fleet("#rollout").display = False
        self._ui_ready = True
        self._render_all()
        self._fleet(FleetTable).focus()
        self.set_interval(1.0, self._tick)
        for problem in self._theme_problems:
            self._toast(f"theme {problem.path}: {problem.message}", severity="warning", timeout=10)
        if self.demo:
            self._log_line("demo fleet: a simulated Wawp server in this process; nothing leaves this machine")
        self._report_file_problems()
        if self._poll_enabled:
            self.run_worker(self.poller.run(), name="poller", group="poller", exit_on_error=False)
        self._loop = asyncio.get_running_loop()
        self._config_mtime = self._mtime()

    def exit(self, *args, **kwargs) -> None:  # type: ignore[override]
        # From here on the widgets go away: late polls and timers must not touch them.
        self._leaving = True
        super().exit(*args, **kwargs)

    def exit_soon(self) -> None:
        """Ask the app to exit; safe from a signal handler or another thread."""
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self.exit)

    def _mtime(self) -> float | None:
        path = getattr(self.config, "path", None)
        try:
            return path.stat().st_mtime if path else None
        except OSError:
            return None

    def _report_file_problems(self) -> None:
        """Say once, in the event log, when the audit log or the history cannot be kept."""
        for problem in (self.audit.error, self.history.error, self.history.warning):
            if problem and problem not in self._file_problems:
                self._file_problems.add(problem)
                self._log_line(problem, ok=False)
                if problem == self.audit.error:
                    self._toast(f"{problem}: actions still work but are not recorded",
                                severity="error", timeout=15)

    def _check_config_file(self) -> None:
        """A config edited on disk is never half-applied: the user is told to restart."""
        mtime = self._mtime()
        if mtime is not None and self._config_mtime is not None and mtime != self._config_mtime:
            self._config_mtime = mtime
            self._toast(f"{self.config.path} changed on disk; restart wawp-tui to apply it "
                        "(the running fleet is unchanged).", severity="warning", timeout=15)

    def on_resize(self, event) -> None:
        self._apply_size(event.size.width)

    def _apply_size(self, width: int) -> None:
        self._fleet("#main").set_class(width < NARROW_WIDTH, "-narrow")

    def watch_theme(self, theme: str) -> None:
        self._palette = view.Palette.from_variables(self.theme_variables)
        self._painted.clear()
        if self._ui_ready:
            self._render_all()

    # -- state -> screen -------------------------------------------------------------

    def _on_polled(self, instance_id: str, changed: bool) -> None:
        if not self._screen_alive():
            return
        st = self.fleet.get(instance_id)
        first = instance_id not in self._seen
        self._seen.add(instance_id)
        if changed and not first:
            word = runbook.display_status(st, self.clock(), self.stale_basis)
            text = f"{st.label} ({instance_id}) -> {word}" + (f": {st.last_error}" if st.failures else "")
            alarming = word in ALERT_WORDS
            self._log_line(text, ok=not alarming)
            if alarming:
                self._alert(text)
        screen = self._qr_screens.get(instance_id)
        if screen is not None:
            if st.status == WORKING:
                screen.show_linked()
            elif st.qr_hint and screen.current is not None and st.qr_hint != screen.current.value:
                self._qr_wake[instance_id].set()
        self._mark_dirty(instance_id)

    def _alert(self, text: str) -> None:
        """A new problem: notification, bell, and a line in the summary for a while."""
        self.last_alert = (self.clock(), text)
        self._render_chrome(detail_changed=False)
        self._toast(text, title="new problem", severity="error", timeout=10)
        if self.bell_enabled:
            self.bell()

    def _mark_dirty(self, instance_id: str) -> None:
        self._dirty.add(instance_id)
        if not self._flush_pending:
            self._flush_pending = True
            # Coalesce poll results into at most a few table repaints a second.
            self.set_timer(FLUSH_DELAY, self._flush_polls)

    def _mark_urgent(self, instance_id: str) -> None:
        """Something the user did: draw it now, not with the next batch of polls."""
        self._dirty.add(instance_id)
        self.call_later(self._flush_now)

    def _fleet(self, selector, expect_type=None):
        """A widget of the fleet screen, even while a modal (a confirmation, the QR
        screen) is on top: `App.query_one` would search the modal and fail."""
        return self.screen_stack[0].query_one(selector, expect_type)

    def _screen_alive(self) -> bool:
        """False while the app shuts down: a poll or a timer can still land after the
        fleet screen lost its widgets, and must not turn a clean exit into a crash."""
        return (not self._leaving and bool(self.screen_stack)
                and bool(self.screen_stack[0].query(FleetTable)))

    def _flush_now(self) -> None:
        dirty, self._dirty = self._dirty, set()
        if dirty and self._screen_alive():
            self._render_rows(dirty)

    def _flush_polls(self) -> None:
        self._flush_pending = False
        self._flush_now()

    def _visible(self, instance_id: str) -> bool:
        needle = self.filter_text.strip().lower()
        if not needle:
            return True
        st = self.fleet.get(instance_id)
        word = runbook.display_status(st, self.clock(), self.stale_basis)
        hay = " ".join((st.label, st.id, word, " ".join(st.tags), runbook.badge(word)[1])).lower()
        return all(part in hay for part in needle.split())

    def _row(self, instance_id: str, now: float) -> tuple[tuple, tuple]:
        st = self.fleet.get(instance_id)
        cells = view.row_cells(st, now, self.stale_basis, self._palette, instance_id in self.selected)
        return cells, view.sort_key(st, now, self.stale_basis)

    def _render_all(self) -> None:
        now = self.clock()
        rows = {i: self._row(i, now) for i in self.fleet.instances if self._visible(i)}
        self._fleet(FleetTable).sync(rows, full=True)
        self._render_chrome()

    def _render_rows(self, ids: set[str]) -> None:
        now = self.clock()
        table = self._fleet(FleetTable)
        if self.filter_text:
            # A status change can move a row in or out of the filter.
            self._render_all()
            return
        table.sync({i: self._row(i, now) for i in ids}, full=False)
        for i in ids:
            self._time_sigs[i] = view.time_signature(self.fleet.get(i), now, self.stale_basis)
        if table.highlighted_id in ids:
            self._render_detail()

    def _render_chrome(self, detail_changed: bool = True) -> None:
        now = self.clock()
        table = self._fleet(FleetTable)
        line = view.summary(
            self.fleet, now, self.stale_basis, self._palette, paused=self.paused,
            auto_heal=self.auto_heal, read_only=self.read_only, shown=table.row_count,
            alert=self._recent_alert(now), audit_off=self.audit.error is not None)
        self._update_if_changed("#summary", line)
        banner = view.outage_banner(self.fleet, now, self.stale_basis)
        banner_widget = self._fleet("#banner", Static)
        if banner_widget.display != (banner is not None):
            banner_widget.display = banner is not None
        if banner:
            self._update_if_changed("#banner", Text(banner))
        if detail_changed:
            self._render_detail()

    def _update_if_changed(self, selector: str, content: Text | list[Text]) -> None:
        """Repaint a Static only when what it shows changed (idle must cost nothing)."""
        sig = view.signature(content)
        if self._painted.get(selector) == sig:
            return
        self._painted[selector] = sig
        widget = self._fleet(selector, Static)
        # A new layout only when the text may take a different number of lines: a
        # layout pass costs far more than repainting the one widget.
        shape = view.line_shape(content, widget.content_size.width)
        layout = self._shapes.get(selector) != shape
        self._shapes[selector] = shape
        widget.update(Group(*content) if isinstance(content, list) else content, layout=layout)

    def _recent_alert(self, now: float) -> str | None:
        if self.last_alert and now - self.last_alert[0] < ALERT_SHOWN_FOR:
            return f"NEW {runbook.fmt_duration(now - self.last_alert[0])} ago: {self.last_alert[1]}"
        return None

    def _render_detail(self) -> None:
        instance_id = self._fleet(FleetTable).highlighted_id
        if instance_id is None:
            self._update_if_changed("#detail", Text(
                "No instance matches the filter. Press escape to clear it."
                if self.filter_text else "No instances configured."))
            return
        st = self.fleet.get(instance_id)
        self._update_if_changed("#detail", view.detail_parts(st, self.clock(), self.stale_basis,
                                                             self._palette))

    def _tick(self) -> None:
        """Once a second: countdowns, "since", staleness; only rows whose time-dependent
        cells changed are rebuilt, and nothing is repainted when nothing changed."""
        if not self._screen_alive():
            return
        table = self._fleet(FleetTable)
        now = self.clock()
        changed = {}
        for instance_id in table.ids():
            sig = view.time_signature(self.fleet.get(instance_id), now, self.stale_basis)
            if self._time_sigs.get(instance_id) != sig:
                self._time_sigs[instance_id] = sig
                changed[instance_id] = self._row(instance_id, now)
        if changed:
            table.sync(changed, full=False)
        self._render_chrome()
        self._ticks += 1
        if self._ticks % 5 == 0:
            self._check_config_file()
            self._report_file_problems()
        if self.auto_heal and not self.paused:
            self._auto_heal(now)

    def _auto_heal(self, now: float) -> None:
        outage = view.outage_banner(self.fleet, now, self.stale_basis) is not None
        decisions, notes = autoheal.decide(self.fleet, now, self.heal_policy, outage=outage)
        for note in notes:
            if note not in self._heal_notes:
                self._log_line(note, ok=False)
        self._heal_notes = set(notes)
        for decision in decisions:
            label = self.labels[decision.instance_id]
            self._log_line(f"{label}: [auto] restarting ({decision.reason})")
            self.run_worker(self._run_auto(decision.instance_id), group="auto-heal",
                            exit_on_error=False)

    async def _run_auto(self, instance_id: str) -> None:
        report = await self.runner.run("restart", [instance_id], auto=True)
        self.poller.poke(instance_id, delay=1.0)
        self._toast(f"auto-heal: {report.summary(self.labels)}", timeout=8)

    @on(DataTable.RowSelected)
    def _selected(self, event: DataTable.RowSelected) -> None:
        # The table takes enter itself (select_cursor); treat it as the app's enter.
        self.action_open()

    @on(DataTable.RowHighlighted)
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._render_detail()

    def _log_line(self, text: str, ok: bool = True) -> None:
        stamp = time.strftime("%H:%M:%S", time.localtime(self.clock()))
        line = Text(f"{stamp} ", style=self._palette.style("muted"))
        line.append(text, style="" if ok else self._palette.style("bad"))
        if self._screen_alive():
            self._fleet("#events", RichLog).write(line)

    def _on_action_event(self, instance_id: str, text: str, ok: bool) -> None:
        self._log_line(f"{self.labels.get(instance_id, instance_id)}: {text}", ok)

    # -- targets ---------------------------------------------------------------------

    def _targets(self) -> list[str]:
        """The selection if any (in table order), else the highlighted instance."""
        table = self._fleet(FleetTable)
        if self.selected:
            shown = [i for i in table.ids() if i in self.selected]
            return shown or sorted(self.selected)
        highlighted = table.highlighted_id
        return [highlighted] if highlighted else []

    # -- actions ---------------------------------------------------------------------

    def action_act(self, action: str) -> None:
        """start / stop / restart / logout: check, confirm, then send in a worker."""
        ids = self._targets()
        if not ids:
            self._toast("No instance highlighted.", severity="warning")
            return
        allowed, refused = self.runner.check(action, ids)
        if not allowed:
            self._refused(action, refused)
            return
        self.push_screen(self._confirmation(action, allowed, refused),
                         callback=lambda yes: self._confirmed(yes, action, allowed))

    def _refused(self, action: str, refused) -> None:
        if len(refused) == 1:
            o = refused[0]
            text = f"{TITLES[action]} {self.labels.get(o.instance_id, o.instance_id)} refused: {o.message}"
        else:
            text = f"{TITLES[action]} refused for all {len(refused)}: {refused[0].message}"
        self._toast(text, severity="warning", timeout=8)
        self._log_line(text, ok=False)

    def _confirmation(self, action: str, allowed: list[str], refused) -> ConfirmScreen:
        names = [f"{self.labels[i]} ({i})" for i in allowed]
        who = names[0] if len(names) == 1 else f"{len(names)} instances: " + ", ".join(names[:5]) + (
            f", +{len(names) - 5} more" if len(names) > 5 else "")
        body = [CONSEQUENCES[action]]
        now = self.clock()
        warnings = {runbook.check_action(self.fleet.get(i), action, now).warning for i in allowed}
        body += [w for w in warnings if w]
        if refused:
            body.append(f"Skipped ({len(refused)}): " + "; ".join(
                f"{self.labels.get(o.instance_id, o.instance_id)}: {o.message}" for o in refused[:3]))
        return ConfirmScreen(f"{TITLES[action]} {who}?", "\n\n".join(body))

    def _confirmed(self, yes: bool | None, action: str, ids: list[str]) -> None:
        if not yes:
            self._log_line(f"{TITLES[action]} cancelled: nothing sent")
            return
        self.run_worker(self._run(action, ids), group="actions", exit_on_error=False)

    async def _run(self, action: str, ids: list[str]) -> None:
        report: Report = await self.runner.run(action, ids)
        for instance_id in ids:
            self.poller.poke(instance_id, delay=1.0)
        summary = report.summary(self.labels)
        severity = "information" if not (report.failed or report.refused) else "warning"
        self._toast(summary, severity=severity, timeout=8)
        if len(ids) > 1:
            self._log_line(summary, ok=not report.failed)

    def action_reset(self) -> None:
        """R: full reset of the highlighted/selected instances, or cancel a waiting one."""
        ids = self._targets()
        waiting = [i for i in ids if self.fleet.get(i).reset_start_at is not None]
        if waiting:
            def cancel(yes: bool | None) -> None:
                if yes:
                    for i in waiting:
                        worker = self._resets.pop(i, None)
                        if worker is not None:
                            worker.cancel()
            self.push_screen(ConfirmScreen("Cancel the full reset?",
                                           "The instance stays STOPPED; press s later to start it."),
                             callback=cancel)
            return
        if not ids:
            return
        allowed, refused = self.runner.check("reset", ids)
        if not allowed:
            self._refused("reset", refused)
            return

        def go(yes: bool | None) -> None:
            if not yes:
                self._log_line("Full reset cancelled: nothing sent")
                return
            for i in allowed:
                self._resets[i] = self.run_worker(self._run("reset", [i]), group="reset",
                                                  exit_on_error=False)

        self.push_screen(self._confirmation("reset", allowed, refused), callback=go)

    def action_toggle_select(self) -> None:
        instance_id = self._fleet(FleetTable).highlighted_id
        if instance_id is None:
            return
        self.selected ^= {instance_id}
        self._render_rows({instance_id})
        table = self._fleet(FleetTable)
        if table.cursor_row < table.row_count - 1:
            table.move_cursor(row=table.cursor_row + 1)

    def action_clear(self) -> None:
        if self.filter_text or self._fleet("#filter").display:
            self._set_filter("")
            self._fleet("#filter", Input).value = ""
            self._fleet("#filter").display = False
        elif self.selected:
            dirty = set(self.selected)
            self.selected.clear()
            self._render_rows(dirty)
        self._fleet(FleetTable).focus()

    def action_filter(self) -> None:
        box = self._fleet("#filter", Input)
        box.display = True
        box.focus()

    @on(Input.Changed, "#filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        self._set_filter(event.value)

    @on(Input.Submitted, "#filter")
    def _filter_submitted(self, event: Input.Submitted) -> None:
        if not event.value:
            self._fleet("#filter").display = False
        self._fleet(FleetTable).focus()

    def _set_filter(self, text: str) -> None:
        self.filter_text = text
        self._render_all()

    def action_pause(self) -> None:
        self.paused = not self.paused
        self.poller.set_paused(self.paused)
        self._log_line("refresh paused" if self.paused else "refresh resumed")
        self._render_chrome(detail_changed=False)

    def action_toggle_auto_heal(self) -> None:
        self.auto_heal = not self.auto_heal
        self._log_line(f"auto-heal {'ON' if self.auto_heal else 'off'}")
        self._render_chrome(detail_changed=False)

    def action_open(self) -> None:
        """enter: the QR screen for a SCAN_QR_CODE instance, else the detail pane."""
        instance_id = self._fleet(FleetTable).highlighted_id
        if instance_id and self.fleet.get(instance_id).status == SCAN_QR_CODE:
            self.open_qr(instance_id)
        else:
            self._fleet("#detail-scroll").focus()

    def open_qr(self, instance_id: str) -> QrScreen:
        """Push the QR screen and start fetching its code in a worker."""
        screen = QrScreen(instance_id, self.labels[instance_id], self.clock, demo=self.demo)
        self._qr_screens[instance_id] = screen
        self._qr_wake[instance_id] = asyncio.Event()

        def closed(_: None) -> None:
            self._qr_screens.pop(instance_id, None)
            wake = self._qr_wake.pop(instance_id, None)
            if wake is not None:
                wake.set()

        self.push_screen(screen, callback=closed)
        self.run_worker(self._qr_loop(instance_id, screen), group="qr", exit_on_error=False)
        return screen

    async def _qr_loop(self, instance_id: str, screen: QrScreen) -> None:
        """Fetch the QR, then again shortly before it expires, until the screen closes."""
        cfg = self.poller.configs[instance_id]
        while self._qr_screens.get(instance_id) is screen and not screen.linked:
            wait = 3.0
            try:
                code = await self.client.qr(cfg)
            except WawpError as exc:
                screen.show_qr(None, str(exc))
            else:
                screen.show_qr(code)
                if code.expires_at is not None:
                    wait = min(max(1.0, code.expires_at - self.clock() - 2.0), 30.0)
                else:
                    wait = 15.0
            wake = self._qr_wake.get(instance_id)
            if wake is None:
                return
            wake.clear()
            try:
                await asyncio.wait_for(wake.wait(), wait)
            except TimeoutError:
                pass

    @on(QrScreen.RefetchRequested)
    def _qr_refetch(self, event: QrScreen.RefetchRequested) -> None:
        wake = self._qr_wake.get(event.instance_id)
        if wake is not None:
            wake.set()

    @on(QrScreen.DemoScanRequested)
    def _demo_scan(self, event: QrScreen.DemoScanRequested) -> None:
        from wawp_tui.demo import demo_simulator

        scan = self.demo_phone or demo_simulator().scan
        try:
            linked = scan(event.instance_id, event.value)
        except KeyError:  # not an instance of the simulated fleet
            linked = False
        screen = self._qr_screens.get(event.instance_id)
        if screen is not None:
            screen.show_code("demo phone: linked, the instance is starting" if linked
                             else "demo phone: that code has expired; wait for the new one")
        self.poller.poke(event.instance_id)

    @on(QrScreen.PairingRequested)
    def _pairing_code(self, event: QrScreen.PairingRequested) -> None:
        if self.read_only:
            self._qr_screens[event.instance_id].show_code("read-only mode: no pairing code requested")
            return
        self.run_worker(self._request_code(event.instance_id, event.phone), group="qr",
                        exit_on_error=False)

    async def _request_code(self, instance_id: str, phone: str) -> None:
        cfg = self.poller.configs[instance_id]
        self.audit.write(self.clock(), "action", action="request-code", instance_id=instance_id,
                         label=cfg.label, outcome="sent", detail="", auto=False, status=None)
        try:
            code = await self.client.request_code(cfg, phone)
        except WawpError as exc:
            text, outcome = f"pairing code failed: {exc}", "failed"
        else:
            text, outcome = (f"pairing code: {code}  (on the phone: Linked devices > Link a device > "
                             "Link with phone number instead)"), "ok"
        self.audit.write(self.clock(), "action", action="request-code", instance_id=instance_id,
                         label=cfg.label, outcome=outcome, detail="" if outcome == "ok" else text,
                         auto=False, status=None)
        screen = self._qr_screens.get(instance_id)
        if screen is not None:
            screen.show_code(text)

    def action_copy_id(self) -> None:
        instance_id = self._fleet(FleetTable).highlighted_id
        if instance_id:
            # OSC 52: reaches the local clipboard through SSH and tmux (set-clipboard on).
            self.copy_to_clipboard(instance_id)
            self._toast(f"copied {instance_id}")

    def action_waves(self) -> None:
        """W: a rollout in waves of the selection (or the filtered rows), or cancel one."""
        if self.rollout is not None:
            def cancel(yes: bool | None) -> None:
                if yes and self.rollout is not None:
                    self.rollout.cancel_requested = True
                    self._log_line("rollout: cancel requested; it stops after the current wave")
            self.push_screen(ConfirmScreen("Cancel the rollout?",
                                           "It stops after the current wave; instances already "
                                           "done stay done. Resume later with: wawp-tui rollout "
                                           f"{self.rollout.state.action} --resume"), callback=cancel)
            return
        table = self._fleet(FleetTable)
        ids = [i for i in table.ids() if i in self.selected] if self.selected else list(table.ids())
        if not ids:
            self._toast("No instances to roll out: select some (space) or filter (/).", severity="warning")
            return
        if self.read_only:
            self._refused("restart", [Outcome(ids[0], False, "read-only mode: nothing sent", True)])
            return
        scope = "selected" if self.selected else ("filtered" if self.filter_text else "ALL")
        choices = {"r": ("restart", "restart in waves (maintenance pulse, after a webhook/proxy change)"),
                   "x": ("stop", "stop in waves (end of the business day)"),
                   "s": ("start", "start in waves")}

        def chosen(action: str | None) -> None:
            if not action:
                return
            state = rollout_mod.plan(action, ids, rollout_mod.DEFAULT_WAVE)
            body = rollout_mod.describe(state) + "\n\n" + CONSEQUENCES[action]
            self.push_screen(ConfirmScreen(f"Rollout: {action} {len(ids)} {scope} instances?", body),
                             callback=lambda yes: self._start_rollout(state) if yes else None)

        self.push_screen(ChoiceScreen(f"Rolling operation on {len(ids)} {scope} instances", choices),
                         callback=chosen)

    def _start_rollout(self, state) -> None:
        from wawp_tui.config import state_dir

        path = None if self.demo else state_dir() / "rollout.json"
        self.rollout = rollout_mod.Rollout(state, self.runner, self.poller, self.fleet, clock=self.clock,
                                           progress=self._rollout_progress, state_path=path)
        self.run_worker(self._run_rollout(), group="rollout", exit_on_error=False)

    async def _run_rollout(self) -> None:
        try:
            final = await self.rollout.run()
        finally:
            self.rollout = None
            self._fleet("#rollout", Static).display = False
        self._toast(final.summary(), severity="information" if final.status == "done" else "warning",
                    timeout=15)

    def _rollout_progress(self, line: str) -> None:
        self._log_line(f"rollout: {line}")
        widget = self._fleet("#rollout", Static)
        widget.display = True
        widget.update(Text(f"ROLLOUT {line.strip()}   (W cancels after this wave)", style="bold"))

    def action_history(self) -> None:
        entries = sorted(
            ((e, st) for st in self.fleet for e in st.history), key=lambda pair: pair[0].at,
            reverse=True)
        body = Text()
        for entry, st in entries[:300]:
            when = time.strftime("%H:%M:%S", time.localtime(entry.at))
            body.append(f"{when} ", style=self._palette.style("muted"))
            body.append(f"{st.label} ({st.id}) ", style="bold")
            body.append(("[auto] " if entry.auto else "") + entry.text + "\n",
                        style="" if entry.ok else self._palette.style("bad"))
        if not entries:
            body.append("Nothing has happened yet.")
        self.push_screen(TextScreen("Fleet timeline, newest first", body))

    def action_help(self) -> None:
        body = Text()
        for binding in self.BINDINGS:
            if binding.system:
                continue  # ctrl+c, listed with q
            key = binding.key.replace("question_mark", "?").replace("slash", "/")
            key = "q ctrl+c" if key == "q" else key
            body.append(f"{key:<10}", style="bold")
            body.append(f"{binding.tooltip or binding.description}\n")
        body.append("\nConfirmations: y / enter = yes, n / escape = no.\n")
        body.append("Statuses, worst first: ✗ FAILED, ! UNREACHABLE, ▣ SCAN QR, ◐ STUCK / STARTING, "
                    "? unknown, ■ STOPPED, ✓ WORKING.\n")
        body.append("The runbook refuses what the API forbids: 3 s between stop and start, no "
                    "second restart within 60 s unless it reached WORKING, no restart for "
                    "SCAN_QR_CODE (scan the QR).\n")
        self.push_screen(TextScreen("Keys", body))


def build_app(config, client: WawpClient, *, clock=time.time, audit: AuditLog | None = None,
              history: HistoryStore | None = None, poll: bool = True, demo: bool = False,
              timer=time.perf_counter) -> WawpApp:
    """The one factory the CLI, the screenshots and the tests call."""
    return WawpApp(config, client, clock=clock, audit=audit, history=history, poll=poll,
                   demo=demo, timer=timer)


def run_app(config, client: WawpClient, demo: bool = False) -> int:
    """Run the TUI until the user quits; returns the exit code."""
    from wawp_tui.config import audit_log_path, state_dir

    # The demo's fleet is made up: its history must not mix with a real one.
    history = HistoryStore(None if demo else state_dir() / "history.jsonl")
    app = build_app(config, client, audit=AuditLog(audit_log_path()), history=history, demo=demo)
    # Signals and a vanished terminal are handled beside the event loop, which may be the
    # very thing that is stuck (see TerminalGuard).
    with TerminalGuard(app.exit_soon):
        app.run()
    return app.return_code or 0
