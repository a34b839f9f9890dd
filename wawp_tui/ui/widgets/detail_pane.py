"""DetailPane: what the highlighted instance's status means and what to do about it."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll

from wawp_tui.ui.widgets.quiet_static import QuietStatic


class DetailPane(VerticalScroll):
    """Scrollable; focus it (enter) to scroll a long history.

    The text is shown in blocks (split after each blank line), each block its own
    QuietStatic: the line that changes every second ("last good poll 12s ago") repaints
    its own block, not the whole pane (which cost half the CPU of an idle screen).
    """

    def compose(self) -> ComposeResult:
        yield QuietStatic(id="detail")

    def show(self, parts: list[Text] | Text) -> None:
        blocks = _blocks([parts] if isinstance(parts, Text) else parts)
        statics = list(self.query(QuietStatic))
        while len(statics) < len(blocks):
            statics.append(QuietStatic(id=f"detail-{len(statics) + 1}"))
            self.mount(statics[-1])
        for static, block in zip(statics, blocks, strict=False):
            static.show(block)
            if not static.display:
                static.display = True
        for static in statics[len(blocks):]:
            static.show([])
            if static.display:
                static.display = False

    @property
    def plain(self) -> str:
        """What the pane shows, as text (for tests and tools)."""
        lines = []
        for static in self.query(QuietStatic):
            if static.display:
                content = static.content
                parts = getattr(content, "renderables", [content])
                lines += [p.plain if isinstance(p, Text) else str(p) for p in parts]
        return "\n".join(lines)


def _blocks(parts: list[Text]) -> list[list[Text]]:
    """`parts` cut after each blank line (the blank line ends its block)."""
    blocks: list[list[Text]] = [[]]
    for part in parts:
        blocks[-1].append(part)
        if not part.plain:
            blocks.append([])
    return [block for block in blocks if block] or [[Text("")]]
