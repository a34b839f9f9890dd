"""TextScreen: a scrollable page of text (help, the fleet timeline), and what goes on them."""

from __future__ import annotations

import time
from collections.abc import Iterable

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from wawp_tui.core import Alert, FleetState
from wawp_tui.core.runbook import fmt_duration
from wawp_tui.ui.formatting import Palette

#: How keys are spelled on the help page.
_KEY_NAMES = {"question_mark": "?", "slash": "/", "colon": ":", "space": "space"}


class TextScreen(ModalScreen[None]):
    """A scrollable page of text (help, history); any of escape / q / ? closes it."""

    BINDINGS = [Binding("escape,q,question_mark,h", "close", "Close", id="page.close")]

    DEFAULT_CSS = """
    TextScreen { align: center middle; }
    TextScreen > VerticalScroll {
        width: 96; max-width: 98%; height: 90%;
        border: thick $primary; background: $surface; padding: 0 1;
    }
    TextScreen #page-title { text-style: bold; color: $primary; }
    """

    def __init__(self, title: str, body: Text) -> None:
        super().__init__()
        self._title = title
        self._body = body

    def compose(self) -> ComposeResult:
        with VerticalScroll():
            yield Static(self._title + "   (escape closes)", id="page-title", markup=False)
            yield Static(self._body, id="page-body")

    def action_close(self) -> None:
        self.dismiss(None)


def help_page(bindings: Iterable[Binding]) -> Text:
    """Every key and what it does, from the bindings themselves (remapped keys show)."""
    body = Text()
    for binding in bindings:
        if binding.system:
            continue
        key = ",".join(_KEY_NAMES.get(k, k) for k in binding.key.split(","))
        body.append(f"{key:<15}", style="bold")
        body.append(f"{binding.tooltip or binding.description}\n")
    body.append("\nConfirmations: y / enter = yes, n / escape = no. q or ctrl+c quits.\n")
    body.append("Statuses, worst first: ✗ FAILED, ! UNREACHABLE, ▣ SCAN QR, ◐ STUCK / STARTING, "
                "? unknown, ■ STOPPED, ✓ WORKING.\n")
    body.append("The runbook refuses what the API forbids: 3 s between stop and start, no "
                "second restart within 60 s unless it reached WORKING, no restart for "
                "SCAN_QR_CODE (scan the QR).\n")
    return body


def alerts_page(alerts: list[Alert], now: float, palette: Palette) -> Text:
    """The alerts: firing first (acknowledged marked), then those resolved lately."""
    body = Text()
    if not alerts:
        return Text("No alerts: nothing is firing, and nothing resolved in the last 15 minutes.")
    for alert in alerts:
        started = time.strftime("%H:%M:%S", time.localtime(alert.started_at))
        if alert.firing:
            state = "FIRING (acknowledged)" if alert.acknowledged else "FIRING"
            style = palette.style(alert.severity)
            age = f"for {fmt_duration(now - alert.started_at)}"
        else:
            state, style = "resolved", palette.style("ok")
            age = f"lasted {fmt_duration((alert.resolved_at or now) - alert.started_at)}"
        body.append(f"{state:<22}", style=f"bold {style}")
        body.append(f"{started} {age:<14} ", style=palette.style("muted"))
        body.append(alert.text + "\n")
    body.append("\nA on the fleet screen acknowledges every firing alert; an alert resolves "
                "by itself when its condition clears.\n")
    return body


def timeline_page(fleet: FleetState, palette: Palette, limit: int = 300) -> Text:
    """The fleet's history, newest first."""
    entries = sorted(((e, st) for st in fleet for e in st.history), key=lambda pair: pair[0].at,
                     reverse=True)
    body = Text()
    for entry, st in entries[:limit]:
        when = time.strftime("%H:%M:%S", time.localtime(entry.at))
        body.append(f"{when} ", style=palette.style("muted"))
        body.append(f"{st.label} ({st.id}) ", style="bold")
        body.append(("[auto] " if entry.auto else "") + entry.text + "\n",
                    style="" if entry.ok else palette.style("bad"))
    if not entries:
        body.append("Nothing has happened yet.")
    return body
