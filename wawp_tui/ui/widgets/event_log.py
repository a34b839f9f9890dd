"""EventLog: status changes, actions and problems, newest at the bottom, as plain text."""

from __future__ import annotations

import time
from collections import deque

from rich.text import Text
from textual.widgets import RichLog

from wawp_tui.safe_text import clean
from wawp_tui.ui.formatting import Palette

MAX_LINES = 500


class EventLog(RichLog):
    """A bounded log; every line is stamped and crosses the text boundary.

    The lines are also kept here: a hidden log (a narrow terminal) writes nothing until
    it has a size, and the `e` page shows them at any size.
    """

    def __init__(self, **kwargs: object) -> None:
        super().__init__(max_lines=MAX_LINES, markup=False, wrap=True, min_width=20, **kwargs)  # type: ignore[arg-type]
        self.kept: deque[Text] = deque(maxlen=MAX_LINES)

    def add(self, at: float, text: str, ok: bool, palette: Palette) -> None:
        stamp = time.strftime("%H:%M:%S", time.localtime(at))
        line = Text(f"{stamp} ", style=palette.style("muted"))
        line.append(clean(text, 1000), style="" if ok else palette.style("bad"))
        self.kept.append(line)
        self.write(line)

    @property
    def plain_lines(self) -> list[str]:
        """What the log holds, as text (for tests and tools)."""
        return [line.plain for line in self.kept]
