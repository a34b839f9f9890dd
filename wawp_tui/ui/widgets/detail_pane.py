"""DetailPane: what the highlighted instance's status means and what to do about it."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll

from wawp_tui.ui.widgets.quiet_static import QuietStatic


class DetailPane(VerticalScroll):
    """Scrollable; focus it (enter) to scroll a long history."""


    def compose(self) -> ComposeResult:
        yield QuietStatic(id="detail")

    def show(self, parts: list[Text] | Text) -> None:
        self.query_one(QuietStatic).show(parts)

    @property
    def plain(self) -> str:
        """What the pane shows, as text (for tests and tools)."""
        content = self.query_one(QuietStatic).content
        parts = getattr(content, "renderables", [content])
        return "\n".join(p.plain if isinstance(p, Text) else str(p) for p in parts)
