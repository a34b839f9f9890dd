"""WallApp: `wawp-tui --wall`, the wall screen alone, for a monitor nobody touches.

It shows a WallSource (wall_view.py): here a local Monitor built read-only whatever the
config says (a wall never acts: no key, no auto-heal, no bell); attached to a hub, the
hub's feed. The high-contrast theme unless --theme names another. No command palette,
no text selection, no key but q and ?.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from textual.app import App
from textual.binding import Binding
from textual.screen import Screen
from textual.worker import Worker, WorkerState

from wawp_tui.config import Config, state_dir
from wawp_tui.core import AuditLog, HistoryStore, Monitor
from wawp_tui.safe_text import clean
from wawp_tui.ui import theming as themes
from wawp_tui.ui.terminal_guard import TerminalGuard
from wawp_tui.ui.wall_screen import WallScreen
from wawp_tui.ui.wall_view import WallSource

if TYPE_CHECKING:
    from wawp_tui.client.api import WawpClient
    from wawp_tui.hub.link import HubLink

_log = logging.getLogger(__name__)


class WallApp(App[int]):
    """The wall (see the module docstring); `feed` keeps the source current (a local
    monitor's poller), `close` releases it when the app ends."""

    CSS_PATH = "wall.tcss"
    TITLE = "wawp-tui wall"
    ENABLE_COMMAND_PALETTE = False
    ALLOW_SELECT = False

    BINDINGS = [
        Binding("ctrl+c", "quit", "Quit", id="quit-ctrl-c", show=False, system=True),
        Binding("ctrl+z", "suspend_process", "Suspend", id="suspend", show=False, system=True,
                priority=True),
    ]

    def __init__(self, source: WallSource, *, theme: str | None = None,
                 feed: Callable[[], Awaitable[None]] | None = None,
                 close: Callable[[], Awaitable[None]] | None = None, title: str = "",
                 lost: Callable[[], str | None] | None = None) -> None:
        super().__init__()
        self.source = source
        self.wall = WallScreen(source, title=title, lost=lost)
        self._feed = feed
        self._close = close
        self._leaving = False
        self._event_loop: asyncio.AbstractEventLoop | None = None
        self._theme_problems = themes.install(self, theme, fallback=themes.HIGH_CONTRAST)

    def get_default_screen(self) -> Screen[Any]:
        return self.wall

    def on_mount(self) -> None:
        self._event_loop = asyncio.get_running_loop()
        for problem in self._theme_problems:
            self.notify(clean(f"theme {problem.path}: {problem.message}", 300),
                        severity="warning", timeout=10, markup=False)
        if self._feed is not None:
            self.run_worker(self._feed(), name="feed", group="feed", exit_on_error=False)

    def watch_theme(self) -> None:
        if self.wall.is_mounted:
            self.wall.restyle()

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """A failed feed is said on screen (and logged); the data then goes STALE."""
        if event.state != WorkerState.ERROR or event.worker.error is None:
            return
        error = event.worker.error
        _log.error("worker %s failed", event.worker.name or event.worker.group, exc_info=error)
        self.notify(f"internal error in {event.worker.group}: {type(error).__name__}: {clean(error)}",
                    severity="error", timeout=60, markup=False)

    async def on_unmount(self) -> None:
        if self._close is not None:
            await self._close()

    @property
    def leaving(self) -> bool:
        """The app is exiting: late timers must leave the widgets alone."""
        return self._leaving

    def exit(self, *args: Any, **kwargs: Any) -> None:
        self._leaving = True
        super().exit(*args, **kwargs)

    def exit_soon(self) -> None:
        """Ask the app to exit; safe from a signal handler or another thread."""
        loop = self._event_loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self.exit)


def wall_config(config: Config) -> Config:
    """The config a wall runs with: read-only and without auto-heal whatever the file
    says (a wall never acts), and no bell."""
    monitor = dataclasses.replace(config.monitor, read_only=True, auto_heal=False, bell=False)
    return dataclasses.replace(config, monitor=monitor)


def build_wall_app(config: Config, client: WawpClient, *, theme: str | None = None,
                   clock: Callable[[], float] = time.time, poll: bool = True,
                   history: HistoryStore | None = None, title: str = "",
                   timer: Callable[[], float] = time.perf_counter) -> WallApp:
    """The wall on a local monitor of `config` (made read-only); the app owns `client`
    from here on and closes it when it ends."""
    monitor = Monitor(wall_config(config), client, clock=clock, timer=timer, audit=AuditLog(None),
                      history=history)

    async def close() -> None:
        await monitor.aclose()
        await monitor.client.aclose()

    return WallApp(monitor, theme=theme, feed=monitor.run if poll else None, close=close, title=title)


def run_wall(config: Config, client: WawpClient, *, demo: bool = False,
             theme: str | None = None) -> int:
    """Run the wall until someone quits; returns the exit code."""
    # The statuses' history is the TUI's own (ages survive a restart); the demo's is made up.
    history = HistoryStore(None if demo else state_dir() / "history.jsonl")
    app = build_wall_app(config, client, theme=theme, history=history, title="demo" if demo else "")
    with TerminalGuard(app.exit_soon) as guard:
        app.run()
    return guard.exit_code or app.return_code or 0


def build_wall_attached(link: HubLink, config: Config, *, theme: str | None = None) -> WallApp:
    """The wall on a hub's fleet (`wawp-tui --wall --hub URL`): a viewer, whatever the token
    allows (the config is made read-only, and a wall has no key that acts); it goes stale
    loudly when the hub is gone and reconnects by itself (AttachedMonitor.run)."""
    from urllib.parse import urlsplit

    from wawp_tui.hub.attach import AttachedMonitor

    monitor = AttachedMonitor(link, wall_config(config))
    return WallApp(monitor, theme=theme, feed=monitor.run, close=monitor.close,
                   title=f"hub {urlsplit(link.url).netloc}",
                   lost=lambda: None if monitor.connected else "no news from the hub")


def run_wall_attached(link: HubLink, config: Config, *, theme: str | None = None,
                      in_browser: bool = False) -> int:
    """Run the wall attached to a hub until someone quits (or the browser tab that runs
    it closes, or the page's server goes: `in_browser`); returns the exit code."""
    app = build_wall_attached(link, config, theme=theme)
    with TerminalGuard(app.exit_soon, pipes=in_browser) as guard:
        app.run()
    return guard.exit_code or app.return_code or 0
