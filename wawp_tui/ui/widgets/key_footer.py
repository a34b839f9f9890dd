"""KeyFooter: Textual's Footer, with the key hints in the very first frame."""

from __future__ import annotations

from textual.widgets import Footer


class KeyFooter(Footer):
    """Textual's Footer composes nothing until the screen first says its bindings
    changed, a few frames after start: on a loaded machine the bottom line then stays
    blank long enough to look lost. The screen's bindings are there from the start, so
    this one draws them at once (and follows every change as Footer does)."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.set_reactive(Footer._bindings_ready, True)
