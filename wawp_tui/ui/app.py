"""WawpApp: the thin shell around the fleet screen.

It builds the monitor (the core), registers the themes, watches the config file, turns
worker errors into a readable line, offers the screen's actions in the command palette,
and leaves cleanly whatever the terminal does (with TerminalGuard). Everything about the
fleet is on FleetScreen.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from textual.app import App
from textual.binding import Binding
from textual.screen import Screen
from textual.worker import Worker, WorkerState

from wawp_tui.config import Config, audit_log_path, history_path, state_dir
from wawp_tui.core import AuditLog, FleetMonitor, HistoryStore, Monitor, Rollout
from wawp_tui.launch import resume_command
from wawp_tui.safe_text import clean
from wawp_tui.ui import theming as themes
from wawp_tui.ui.commands import FleetCommands
from wawp_tui.ui.fleet_screen import FleetScreen
from wawp_tui.ui.screens.confirm import ConfirmScreen
from wawp_tui.ui.terminal_guard import TerminalGuard

if TYPE_CHECKING:
    from wawp_tui.client.api import WawpClient
    from wawp_tui.hub.link import HubLink

_log = logging.getLogger(__name__)
#: Toasts on screen at once (the rest go to the event log).
MAX_TOASTS = 3
#: Seconds between looks at the config file's modification time.
CONFIG_WATCH = 5.0


class WawpApp(App[int]):
    """The fleet monitor; built by `build_app` for the CLI, the tools and the tests alike."""

    CSS_PATH = "app.tcss"
    TITLE = "wawp-tui"
    COMMANDS = App.COMMANDS | {FleetCommands}

    BINDINGS = [
        Binding("q", "quit", "Quit", id="quit", tooltip="Quit (also ctrl+c)"),
        # Textual only hints at ctrl+q on ctrl+c; at 3 a.m. ctrl+c means "get me out".
        # Not a priority binding: in a text field ctrl+c still copies.
        Binding("ctrl+c", "quit", "Quit", id="quit-ctrl-c", show=False, system=True),
        # Job control, as in any terminal program: the screen is put away and the terminal
        # restored (SIGTSTP), `fg` brings it back redrawn (SIGCONT). Without it, ctrl+z was
        # a dead key and the shell line typed next went into the TUI. A priority binding:
        # in a text field too, as the terminal itself would.
        Binding("ctrl+z", "suspend_process", "Suspend", id="suspend", show=False, system=True,
                priority=True),
    ]

    def __init__(self, monitor: FleetMonitor, *, poll: bool = True, demo: bool = False,
                 rollout_state_path: Path | None = None, rerun: tuple[str, ...] = ()) -> None:
        super().__init__()
        self.monitor = monitor
        self.demo = demo
        #: The options that let a later command see this fleet (the resume command).
        self.rerun = rerun
        #: The demo's phone: links a QR value (the embedded simulator unless a test gives one).
        self.demo_phone: Callable[[str, str], bool] | None = None
        self._poll = poll
        self._loop: asyncio.AbstractEventLoop | None = None
        self._leaving = False
        #: When each toast on screen goes away (monotonic seconds); see toast().
        self._toasts: list[float] = []
        self._toasts_held = 0
        self._held_said_until = 0.0
        self._config_mtime = self._mtime()
        config = monitor.config
        self.fleet_screen = FleetScreen(monitor, demo=demo, bell=config.monitor.bell,
                                        rollout_state_path=rollout_state_path, rerun=rerun)
        self._theme_problems = themes.install(self, config.monitor.theme or themes.DEFAULT_THEME)

    def get_default_screen(self) -> Screen[Any]:
        return self.fleet_screen

    def on_mount(self) -> None:
        self._loop = asyncio.get_running_loop()
        for problem in self._theme_problems:
            self.toast(f"theme {problem.path}: {problem.message}", severity="warning", timeout=10)
        if self._poll:
            self.run_worker(self.monitor.run(), name="poller", group="poller", exit_on_error=False)
        self.set_interval(CONFIG_WATCH, self._check_config_file)
        self.app_resume_signal.subscribe(self, self._redraw_after_suspend)

    def _redraw_after_suspend(self, _app: object) -> None:
        # Back from ctrl+z (`fg`): the terminal's screen was the shell's meanwhile, and a
        # resize to the same size repaints nothing, so parts that had not changed (the
        # context line) stayed blank. Everything is drawn again.
        self.refresh(layout=True)

    def watch_theme(self) -> None:
        if self.fleet_screen.is_mounted:
            self.fleet_screen.restyle()

    # -- talking to the operator -------------------------------------------------------

    def toast(self, message: str, *, title: str = "", severity: str = "information",
              timeout: float | None = None) -> None:
        """A notification of plain text: it often quotes a server or a config, and
        Textual would otherwise parse it as markup (a "[@click=app.quit]" link).

        At most MAX_TOASTS are on screen: toasts cover part of the screen, and a burst
        must not bury the table. The rest go to the event log, and one toast says so."""
        now = time.monotonic()
        self._toasts = [until for until in self._toasts if until > now]
        lasts = timeout if timeout is not None else self.NOTIFICATION_TIMEOUT
        if len(self._toasts) >= MAX_TOASTS:
            self._toasts_held += 1
            if self.fleet_screen.is_mounted:
                self.fleet_screen.log_line(f"{clean(title, 60) + ': ' if title else ''}{clean(message, 500)}",
                                           ok=severity != "error")
            if self._held_said_until <= now:
                self._held_said_until = now + lasts
                self.notify("More notifications went to the event log (e shows it).",
                            severity="information", timeout=lasts, markup=False)
            return
        self._toasts.append(now + lasts)
        self.notify(clean(message, 500), title=clean(title, 60), severity=severity,  # type: ignore[arg-type]
                    timeout=timeout, markup=False)

    def demo_scan(self) -> Callable[[str, str], bool] | None:
        """In the demo, the simulated phone that scans a QR; None otherwise."""
        if not self.demo:
            return None
        if self.demo_phone is None:
            from wawp_tui.demo import demo_simulator

            self.demo_phone = demo_simulator().scan
        return self.demo_phone

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """The one place a worker's failure becomes a readable line (and a log record)."""
        if event.state != WorkerState.ERROR or event.worker.error is None:
            return
        error = event.worker.error
        _log.error("worker %s failed", event.worker.name or event.worker.group, exc_info=error)
        line = f"internal error in {event.worker.group}: {type(error).__name__}: {clean(error)}"
        if self.fleet_screen.is_mounted and not self._leaving:
            self.fleet_screen.log_line(line, ok=False)
        self.toast(line, severity="error", timeout=15)

    # -- the config file ---------------------------------------------------------------

    def _mtime(self) -> float | None:
        path = self.monitor.config.path
        try:
            return path.stat().st_mtime if path else None
        except OSError:
            return None

    def _check_config_file(self) -> None:
        """A config edited on disk is never half-applied: the user is told to restart."""
        mtime = self._mtime()
        if mtime is not None and self._config_mtime is not None and mtime != self._config_mtime:
            self._config_mtime = mtime
            self.toast(f"{self.monitor.config.path} changed on disk; restart wawp-tui to apply "
                       "it (the running fleet is unchanged).", severity="warning", timeout=15)

    # -- leaving -----------------------------------------------------------------------

    async def action_quit(self) -> None:
        """q / ctrl+c: leave; during a rollout, ask first and leave it resumable."""
        rollout = self.fleet_screen.flows.rollout
        if rollout is None or self._leaving:
            self.exit()
            return
        if isinstance(self.screen, ConfirmScreen) and self.screen.id == "quit-rollout":
            self._leave_rollout(rollout)  # asked twice: the answer is yes
            return
        wave = rollout.state.first_unfinished_wave() + 1
        where = "nothing to resume in the demo" if rollout.state_path is None else \
            f"resume it later with: {resume_command(rollout.state.action, self.rerun)}"
        screen = ConfirmScreen(
            "Quit during the rollout?",
            f"The rollout ({rollout.state.action}, wave {wave} of {len(rollout.state.waves)}) "
            f"stops here: what was sent stays sent, nothing more is sent; {where}.")
        screen.id = "quit-rollout"
        self.push_screen(screen, callback=lambda yes: self._leave_rollout(rollout) if yes else None)

    def _leave_rollout(self, rollout: Rollout) -> None:
        rollout.interrupt("quit from the TUI")
        message = None if rollout.state_path is None else \
            f"rollout interrupted; resume with: {resume_command(rollout.state.action, self.rerun)}"
        self.exit(message=message)

    async def on_unmount(self) -> None:
        # The app owns its monitor and the monitor's client (build_app took them).
        await self.monitor.close()

    @property
    def leaving(self) -> bool:
        """The app is exiting: its widgets are going away (late polls and timers must
        leave them alone)."""
        return self._leaving

    def exit(self, *args: Any, **kwargs: Any) -> None:
        # From here on the widgets go away: late polls and timers must not touch them.
        self._leaving = True
        super().exit(*args, **kwargs)

    def exit_soon(self) -> None:
        """Ask the app to exit; safe from a signal handler or another thread."""
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self.exit)


def build_app(config: Config, client: WawpClient, *, clock: Callable[[], float] = time.time,
              audit: AuditLog | None = None, history: HistoryStore | None = None,
              poll: bool = True, demo: bool = False,
              timer: Callable[[], float] = time.perf_counter,
              rollout_state_path: Path | None = None, rerun: tuple[str, ...] = ()) -> WawpApp:
    """The one factory the CLI, the screenshots, the tools and the tests call; the app
    owns `client` from here on and closes it when it ends."""
    monitor = Monitor(config, client, clock=clock, timer=timer, audit=audit, history=history)
    return WawpApp(monitor, poll=poll, demo=demo, rollout_state_path=rollout_state_path, rerun=rerun)


def run_app(config: Config, client: WawpClient, demo: bool = False,
            rerun: tuple[str, ...] = ()) -> int:
    """Run the TUI until the user quits; returns the exit code."""
    # The demo's fleet is made up: its history, audit and rollouts stay out of the real ones.
    history = HistoryStore(None if demo else history_path())
    audit = AuditLog(None if demo else audit_log_path())
    app = build_app(config, client, audit=audit, history=history, demo=demo,
                    rollout_state_path=None if demo else state_dir() / "rollout.json", rerun=rerun)
    return _run(app)


def run_attached(link: HubLink, config: Config, rerun: tuple[str, ...] = ()) -> int:
    """Run the TUI attached to a hub (`wawp-tui --hub URL`) until the user quits: its
    fleet, its gate; nothing polled from here."""
    from wawp_tui.hub.attach import AttachedMonitor

    app = WawpApp(AttachedMonitor(link, config), rerun=rerun,
                  rollout_state_path=state_dir() / "hub-rollout.json")
    return _run(app)


def _run(app: WawpApp) -> int:
    # Signals and a vanished terminal are handled beside the event loop, which may be the
    # very thing that is stuck (see TerminalGuard).
    with TerminalGuard(app.exit_soon) as guard:
        app.run()
    # Told to stop (SIGTERM, SIGHUP, the terminal gone): say so, as a killed process would,
    # even though the app left cleanly; `q` and ctrl+c are the user's own way out: 0.
    return guard.exit_code or app.return_code or 0
