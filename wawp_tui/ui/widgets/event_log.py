"""EventLog: status changes, actions and problems, newest at the bottom, as plain text."""

from __future__ import annotations

import time

from rich.text import Text
from textual.widgets import RichLog

from wawp_tui.safe_text import clean
from wawp_tui.ui.formatting import Palette


class EventLog(RichLog):
    """A bounded log; every line is stamped and crosses the text boundary."""


    def __init__(self, **kwargs: object) -> None:
        super().__init__(max_lines=500, markup=False, wrap=True, min_width=20, **kwargs)  # type: ignore[arg-type]

    def add(self, at: float, text: str, ok: bool, palette: Palette) -> None:
        stamp = time.strftime("%H:%M:%S", time.localtime(at))
        line = Text(f"{stamp} ", style=palette.style("muted"))
        line.append(clean(text, 1000), style="" if ok else palette.style("bad"))
        self.write(line)

    @property
    def plain_lines(self) -> list[str]:
        """What the log shows, as text (for tests and tools)."""
        return [strip.text for strip in self.lines]
