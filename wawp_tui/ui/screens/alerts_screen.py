"""AlertsScreen (`!`): the alerts by group, with a cursor: A acknowledges the alert (or the
whole group) under it, ctrl+a every firing one, enter opens or closes a group."""

from __future__ import annotations

import time

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from wawp_tui.core import FleetMonitor
from wawp_tui.core.alerts import AlertGroup, group_text
from wawp_tui.core.runbook import fmt_duration
from wawp_tui.ui.formatting import Palette

#: A group this small is shown open; a bigger one opens with enter.
OPEN_UP_TO = 5


class AlertsScreen(ModalScreen[None]):
    """Firing groups (the outage first), their alerts under them, then what resolved in
    the last 15 minutes. Redrawn every second while open."""

    BINDINGS = [
        Binding("escape,q,exclamation_mark", "close", "Close", id="alerts.close"),
        Binding("A", "acknowledge", "Ack", id="alerts.ack",
                tooltip="Acknowledge the alert under the cursor (on a group: all of it)"),
        Binding("ctrl+a", "acknowledge_all", "Ack all", id="alerts.ack-all",
                tooltip="Acknowledge every firing alert"),
        Binding("enter", "open_group", "Open/close", id="alerts.toggle",
                tooltip="Show or hide the instances of a group"),
        Binding("j", "cursor('down')", "Down", id="alerts.down", show=False),
        Binding("k", "cursor('up')", "Up", id="alerts.up", show=False),
        Binding("g", "cursor('first')", "Top", id="alerts.top", show=False),
        Binding("G", "cursor('last')", "Bottom", id="alerts.bottom", show=False),
        Binding("ctrl+d", "cursor('page_down')", "Half page down", id="alerts.half-down", show=False),
        Binding("ctrl+u", "cursor('page_up')", "Half page up", id="alerts.half-up", show=False),
    ]

    DEFAULT_CSS = """
    AlertsScreen { align: center middle; }
    AlertsScreen > Vertical {
        width: 110; max-width: 98%; height: 90%;
        border: thick $error; background: $surface; padding: 0 1;
    }
    AlertsScreen #alerts-title { text-style: bold; color: $error; }
    AlertsScreen OptionList, AlertsScreen OptionList:focus { height: 1fr; border: none; padding: 0; }
    AlertsScreen #alerts-keys { color: $text-muted; }
    """

    def __init__(self, monitor: FleetMonitor, palette: Palette) -> None:
        super().__init__()
        self.monitor = monitor
        self.palette = palette
        #: Groups opened (or closed) by hand with enter: key -> open.
        self._opened: dict[str, bool] = {}
        self._shown: tuple[tuple[str, str], ...] = ()

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static("Alerts", id="alerts-title", markup=False)
            yield OptionList(id="alert-list")
            yield Static("A: acknowledge the one under the cursor (a group: all of it)   ctrl+a: all   "
                         "enter: open/close a group   j/k, g/G: move   escape: close", id="alerts-keys",
                         markup=False)

    def on_mount(self) -> None:
        self.redraw()
        self.query_one(OptionList).focus()
        self.set_interval(1.0, self.redraw)

    # -- drawing ---------------------------------------------------------------------

    def _is_open(self, group: AlertGroup) -> bool:
        return self._opened.get(group.key, len(group.alerts) <= OPEN_UP_TO)

    def lines(self) -> list[tuple[str, Text]]:
        """(option id, line) for what the list shows now: "g:" groups, "a:" their alerts,
        "r:" resolved alerts."""
        book, now = self.monitor.alerts, self.monitor.clock()
        found: list[tuple[str, Text]] = []
        style = self.palette.style
        for group in book.groups():
            state = "ACKED" if group.acknowledged else "FIRING"
            line = Text()
            line.append(f"{state:<9}", style=f"bold {style(group.severity)}")
            line.append(f"{_clock(group.started_at)} {fmt_duration(now - group.started_at):>6}  ",
                        style=style("muted"))
            line.append(group.text, style="bold")
            many = len(group.alerts) > 1
            if many:
                line.append("  (enter: " + ("close" if self._is_open(group) else "open") + ")",
                            style=style("muted"))
            found.append((f"g:{group.key}", line))
            if many and self._is_open(group):
                for alert in group.alerts:
                    member = Text("    └ ", style=style("muted"))
                    member.append(("(acked) " if alert.acknowledged else "") + alert.text)
                    member.append(f"  {fmt_duration(now - alert.started_at)}", style=style("muted"))
                    found.append((f"a:{alert.key}", member))
        resolved = book.resolved()
        if resolved:
            found.append(("h:resolved", Text("\nresolved in the last 15 minutes", style="bold")))
            for alert in resolved:
                line = Text(f"{'resolved':<9}", style=f"bold {style('ok')}")
                lasted = fmt_duration((alert.resolved_at or now) - alert.started_at)
                line.append(f"{_clock(alert.started_at)} {lasted:>6}  ", style=style("muted"))
                line.append(alert.text)
                found.append((f"r:{alert.key}", line))
        if not found:
            found.append(("h:none", Text("No alerts: nothing is firing, and nothing resolved in "
                                         "the last 15 minutes.")))
        return found

    def redraw(self) -> None:
        """The list again, if it reads differently; the cursor stays on its alert."""
        lines = self.lines()
        shown = tuple((key, line.plain) for key, line in lines)
        if shown == self._shown:
            return
        self._shown = shown
        box = self.query_one(OptionList)
        current = self._current()
        box.clear_options()
        box.add_options([Option(line, id=key, disabled=key.startswith("h:")) for key, line in lines])
        keys = [key for key, _ in lines]
        if current in keys:
            box.highlighted = keys.index(current)
        elif lines:
            box.highlighted = next((n for n, k in enumerate(keys) if not k.startswith("h:")), None)

    def _current(self) -> str | None:
        box = self.query_one(OptionList)
        if box.highlighted is None:
            return None
        return box.get_option_at_index(box.highlighted).id

    @property
    def plain(self) -> str:
        """What the list shows, as text (tests and tools)."""
        return "\n".join(line for _, line in self._shown)

    # -- keys ------------------------------------------------------------------------

    def action_acknowledge(self) -> None:
        current = self._current() or ""
        kind, _, key = current.partition(":")
        if kind not in ("g", "a"):
            self.app.bell()
            return
        firing = self.monitor.alerts.firing()
        what = group_text(key, [a for a in firing if a.group == key]) if kind == "g" else \
            next((a.text for a in firing if a.key == key), key)
        count = self.monitor.alerts.acknowledge([key])
        self.notify(f"acknowledged {count}: {what}" if count else "already acknowledged",
                    timeout=4, markup=False)
        self.redraw()

    def action_acknowledge_all(self) -> None:
        count = self.monitor.alerts.acknowledge()
        self.notify(f"acknowledged {count} alert{'s' if count != 1 else ''}" if count
                    else "no firing alert to acknowledge", timeout=4, markup=False)
        self.redraw()

    def action_open_group(self) -> None:
        current = self._current() or ""
        if current.startswith("a:"):
            group = next((a.group for a in self.monitor.alerts.firing() if a.key == current[2:]), "")
        elif current.startswith("g:"):
            group = current[2:]
        else:
            return
        match = next((g for g in self.monitor.alerts.groups() if g.key == group), None)
        if match is not None:
            self._opened[group] = not self._is_open(match)
            self.redraw()
            box = self.query_one(OptionList)
            keys = [key for key, _ in self._shown]
            box.highlighted = keys.index(f"g:{group}")

    @on(OptionList.OptionSelected)
    def _selected(self) -> None:
        # The list takes enter itself (select): for a group, it opens or closes it.
        self.action_open_group()

    def action_cursor(self, where: str) -> None:
        box = self.query_one(OptionList)
        {"down": box.action_cursor_down, "up": box.action_cursor_up, "first": box.action_first,
         "last": box.action_last, "page_down": box.action_page_down,
         "page_up": box.action_page_up}[where]()

    def action_close(self) -> None:
        self.dismiss(None)


def _clock(at: float) -> str:
    return time.strftime("%H:%M:%S", time.localtime(at))
