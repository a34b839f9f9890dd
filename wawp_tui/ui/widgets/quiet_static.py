"""QuietStatic: a Static that repaints only when what it shows changed.

A wall monitor left idle for days must cost nothing: the summary, the banner and the
detail pane are handed their text every second, and most seconds it is the same.
"""

from __future__ import annotations

from rich.console import Group
from rich.text import Text
from textual.widgets import Static

from wawp_tui.ui.formatting import line_shape, signature


class QuietStatic(Static):
    """`show(text)` instead of `update`: skipped when unchanged; a layout pass only when
    the number of lines may have changed (a layout costs far more than a repaint)."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self._signature: tuple[object, ...] | None = None
        self._shape: tuple[int, ...] | None = None

    def show(self, content: Text | list[Text]) -> None:
        sig = signature(content)
        if sig == self._signature:
            return
        self._signature = sig
        shape = line_shape(content, self.content_size.width)
        layout = shape != self._shape
        self._shape = shape
        self.update(Group(*content) if isinstance(content, list) else content, layout=layout)

    def show_lines(self, lines: list[Text]) -> None:
        """Lines already fitted to the width (no wrapping): the widget is exactly that
        tall. The height is set, not left to `height: auto`, so a line that comes or goes
        is always laid out (the summary must never lose a line it needs)."""
        if self.styles.height is None or self.styles.height.value != len(lines) \
                or not self.styles.height.is_cells:
            self.styles.height = max(1, len(lines))
        self.show(Text("\n", no_wrap=True, overflow="ellipsis", end="").join(lines))

    def forget(self) -> None:
        """Repaint on the next `show` whatever it holds (after a theme change)."""
        self._signature = None
