"""The keys that scroll a page or a dialog, the same everywhere: j/k, ctrl+d/ctrl+u,
g/G, the arrows and the page keys (what less, vim and k9s have taught the hands)."""

from __future__ import annotations

from textual.binding import Binding
from textual.containers import ScrollableContainer

#: Bindings for a screen whose `scroller()` holds its long text.
SCROLL_BINDINGS = [
    Binding("j,down", "scroll_by(1)", "Down", id="scroll.down", show=False, tooltip="Scroll down a line"),
    Binding("k,up", "scroll_by(-1)", "Up", id="scroll.up", show=False, tooltip="Scroll up a line"),
    Binding("ctrl+d", "scroll_page(0.5)", "Half page down", id="scroll.half-down", show=False,
            tooltip="Half a page down"),
    Binding("ctrl+u", "scroll_page(-0.5)", "Half page up", id="scroll.half-up", show=False,
            tooltip="Half a page up"),
    Binding("pagedown,ctrl+f,space", "scroll_page(1)", "Page down", id="scroll.page-down", show=False,
            tooltip="A page down"),
    Binding("pageup,ctrl+b", "scroll_page(-1)", "Page up", id="scroll.page-up", show=False,
            tooltip="A page up"),
    Binding("g,home", "scroll_edge(False)", "Top", id="scroll.top", show=False, tooltip="The top"),
    Binding("G,end", "scroll_edge(True)", "Bottom", id="scroll.bottom", show=False, tooltip="The bottom"),
]


class Scrolling:
    """The scroll actions, for a screen that says which container scrolls."""

    def scroller(self) -> ScrollableContainer:
        raise NotImplementedError

    def action_scroll_by(self, lines: int) -> None:
        self.scroller().scroll_relative(y=lines, animate=False)

    def action_scroll_page(self, pages: float) -> None:
        box = self.scroller()
        self.scroller().scroll_relative(y=max(1, int(box.scrollable_content_region.height * abs(pages)))
                                        * (1 if pages > 0 else -1), animate=False)

    def action_scroll_edge(self, end: bool) -> None:
        box = self.scroller()
        if end:
            box.scroll_end(animate=False)
        else:
            box.scroll_home(animate=False)
