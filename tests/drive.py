"""Driving the TUI in tests through its public API: the refresh key's method, the
heartbeat, and what the operator saw (toasts, event log, detail pane)."""

from __future__ import annotations

from dataclasses import dataclass

from textual.pilot import Pilot

from wawp_tui.ui.app import WawpApp
from wawp_tui.ui.widgets.detail_pane import DetailPane
from wawp_tui.ui.widgets.event_log import EventLog
from wawp_tui.ui.widgets.fleet_table import FleetTable


async def refresh(app: WawpApp, pilot: Pilot, ids: list[str] | None = None) -> None:
    """Poll every instance (or `ids`) and draw it, as ctrl+r does."""
    await app.fleet_screen.refresh_now(ids)
    await pilot.pause()


async def tick(app: WawpApp, pilot: Pilot) -> None:
    """One beat of the once-a-second heartbeat (after the test moved its clock)."""
    app.fleet_screen.tick()
    await pilot.pause()


async def highlight(app: WawpApp, pilot: Pilot, instance_id: str) -> None:
    table = app.fleet_screen.query_one(FleetTable)
    table.move_cursor(row=table.get_row_index(instance_id))
    await pilot.pause()


def table_ids(app: WawpApp) -> list[str]:
    table = app.fleet_screen.query_one(FleetTable)
    return [table.coordinate_to_cell_key((row, 0)).row_key.value for row in range(table.row_count)]


def detail_text(app: WawpApp) -> str:
    return app.fleet_screen.query_one(DetailPane).plain


def events_text(app: WawpApp) -> str:
    return "\n".join(app.fleet_screen.query_one(EventLog).plain_lines)


@dataclass
class Toast:
    message: str
    title: str
    severity: str
    markup: bool


def record_toasts(app: WawpApp) -> list[Toast]:
    """Every notification the app raises from now on (what the operator was told)."""
    seen: list[Toast] = []
    original = app.notify

    def notify(message, *, title="", severity="information", timeout=None, markup=True):
        seen.append(Toast(str(message), title, severity, markup))
        original(message, title=title, severity=severity, timeout=timeout, markup=markup)

    app.notify = notify  # type: ignore[method-assign]
    return seen



def table_on_screen(app: WawpApp) -> list[str]:
    """The fleet table's lines as the compositor draws the screen now (what a terminal
    shows after the next full repaint): from the widgets' render caches, not from our
    own record of the cells."""
    region = app.fleet_screen.query_one(FleetTable).region
    strips = app.screen._compositor.render_strips()[region.y:region.bottom]
    return [strip.crop(region.x, region.right).text for strip in strips]


def row_on_screen(app: WawpApp, instance_id: str) -> str | None:
    """The table line that shows `instance_id`'s row (found by its label, which shows
    whatever the width), if it is on screen."""
    label = f" {app.monitor.state(instance_id).label}  "
    return next((line for line in table_on_screen(app) if label in line), None)


def screen_lines(app: WawpApp) -> list[str]:
    """Every line of the screen as the compositor draws it now (modals included)."""
    return [strip.text for strip in app.screen._compositor.render_strips()]
