"""TextScreen: a scrollable page of text (help, the fleet timeline), and what goes on them."""

from __future__ import annotations

from collections.abc import Iterable

from rich.console import Group, RenderableType
from rich.padding import Padding
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import ScrollableContainer, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from wawp_tui.core import FleetState
from wawp_tui.ui.formatting import Palette, stamp
from wawp_tui.ui.keys import BoundKeys
from wawp_tui.ui.screens.scrolling import SCROLL_BINDINGS, Scrolling


class TextScreen(Scrolling, ModalScreen[None]):
    """A scrollable page of text (help, history); any of escape / q / ? closes it; j/k,
    ctrl+d/ctrl+u, g/G and the page keys scroll it."""

    BINDINGS = [Binding("escape,q,question_mark,h", "close", "Close", id="page.close"),
                *SCROLL_BINDINGS]

    DEFAULT_CSS = """
    TextScreen { align: center middle; }
    TextScreen > VerticalScroll {
        width: 96; max-width: 98%; height: 90%;
        border: thick $primary; background: $surface; padding: 0 1;
    }
    TextScreen #page-title { text-style: bold; color: $primary; }
    """

    def __init__(self, title: str, body: RenderableType) -> None:
        super().__init__()
        self._title = title
        self._body = body

    @property
    def body(self) -> RenderableType:
        """What the page shows under its title."""
        return self._body

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="page"):
            yield Static(self._title + "   (escape closes; j/k, ctrl+d/ctrl+u, g/G scroll)",
                         id="page-title", markup=False)
            yield Static(self._body, id="page-body")

    def scroller(self) -> ScrollableContainer:
        return self.query_one("#page", VerticalScroll)

    def action_close(self) -> None:
        self.dismiss(None)


#: Width of the keys column on the help page ("Home, g, ctrl+Home" fits; more wraps).
HELP_KEYS_WIDTH = 18


def help_page(entries: Iterable[BoundKeys]) -> Group:
    """Every key and what it does, by section, from the bindings themselves (see
    keys.bound_keys: remapped keys show as remapped)."""
    parts: list[RenderableType] = []
    table: Table | None = None
    section = None
    for entry in entries:
        if entry.section != section or table is None:
            section = entry.section
            parts.append(Text(("\n" if parts else "") + section, style="bold underline"))
            # A grid, not padded text: a long line wraps under its own column at 80 columns.
            table = Table.grid(padding=(0, 2))
            table.add_column(width=HELP_KEYS_WIDTH, style="bold")
            table.add_column()
            parts.append(Padding(table, (0, 0, 0, 2)))
        table.add_row(entry.shown_keys, entry.what)
    parts.append(Text(
        "\nConfirmations: y = yes (enter too, when it acts on one instance), n / escape = no.\n"
        "Statuses, worst first: ✗ FAILED, ! UNREACHABLE, ▣ SCAN QR, ◐ STUCK / STARTING, "
        "? unknown, ■ STOPPED, ✓ WORKING.\n"
        "The runbook refuses what the API forbids: 3 s between stop and start, no second "
        "restart within 60 s unless it reached WORKING, no restart for SCAN_QR_CODE (scan the QR)."))
    return Group(*parts)


def events_page(lines: Iterable[Text]) -> Text:
    """The event log, newest first (its lines are already clean and stamped)."""
    kept = list(lines)
    return Text("\n").join(reversed(kept)) if kept else Text("Nothing logged yet.")


def timeline_page(fleet: FleetState, palette: Palette, limit: int = 300) -> Text:
    """The fleet's history, newest first."""
    entries = sorted(((e, st) for st in fleet for e in st.history), key=lambda pair: pair[0].at,
                     reverse=True)
    body = Text()
    now = fleet.clock()
    for entry, st in entries[:limit]:
        when = stamp(entry.at, now)
        body.append(f"{when} ", style=palette.style("muted"))
        body.append(f"{st.label} ({st.id}) ", style="bold")
        body.append(("[auto] " if entry.auto else "") + entry.text + "\n",
                    style="" if entry.ok else palette.style("bad"))
    if not entries:
        body.append("Nothing has happened yet.")
    return body
