"""CountTile: one status word's count in big digits, the word under it (the wall's)."""

from __future__ import annotations

from rich.segment import Segment
from rich.text import Text
from textual.app import ComposeResult, RenderResult
from textual.containers import Vertical
from textual.geometry import Size
from textual.reactive import reactive
from textual.renderables.digits import Digits as DigitsRenderable
from textual.widgets import Digits, Static

#: The lines each box-drawing character of Textual's digit font reaches out along:
#: (up, down, left, right); its thin and heavy forms alike.
_REACH: dict[str, tuple[bool, bool, bool, bool]] = {}
for _chars, _reach in (
        ("─━═", (False, False, True, True)), ("│┃", (True, True, False, False)),
        ("╭┌┏", (False, True, False, True)), ("╮┐┓", (False, True, True, False)),
        ("╰└┗", (True, False, False, True)), ("╯┘┛", (True, False, True, False)),
        ("├┣", (True, True, False, True)), ("┤┫", (True, True, True, False)),
        ("┴┻", (True, False, True, True)), ("┬┳", (False, True, True, True)),
        ("┼╋", (True, True, True, True)), ("╶╺", (False, False, False, True)),
        ("╴╸", (False, False, True, False)), ("╷╻", (False, True, False, False)),
        ("╵╹", (True, False, False, False))):
    for _char in _chars:
        _REACH[_char] = _reach
_HEAVY = frozenset("━┃┏┓┗┛┣┫┻┳╋╺╸╻╹")


def scale_glyphs(rows: list[str], scale: int) -> list[str]:
    """Three rows of Textual's digit font drawn `scale` times as large: each character
    becomes a scale x scale block, the character in its corner and its lines carried on
    across the block (right and down), so the strokes stay joined. The last block row
    only ever carries lines down into nothing: it is left out (2 * scale + 1 rows)."""
    if scale <= 1:
        return rows
    out: list[str] = []
    for row in rows:
        blocks = [_block(char, scale) for char in row]
        out += ["".join(block[n] for block in blocks) for n in range(scale)]
    return out[:2 * scale + 1]


def _block(char: str, scale: int) -> list[str]:
    _, down, _, right = _REACH.get(char, (False, False, False, False))
    across, along = ("━", "┃") if char in _HEAVY else ("─", "│")
    first = char + (across if right else " ") * (scale - 1)
    rest = (along if down else " ") + " " * (scale - 1)
    return [first] + [rest] * (scale - 1)


class ScaledDigits(Digits):
    """Textual's Digits, `scale` times as large (1: as Textual draws them): a wall seen
    from across a room at 300x80 needs more than three rows of digits."""

    scale: reactive[int] = reactive(1, layout=True)

    def render(self) -> RenderResult:
        if self.scale <= 1:
            return super().render()
        style = self.rich_style
        segments = [s for s in DigitsRenderable(self.value, style).render(style) if isinstance(s, Segment)]
        rows = ["".join(segment.text for segment in line) for line in Segment.split_lines(segments)]
        return Text("\n".join(scale_glyphs(rows[:3], self.scale)), style=style,
                    justify=self.styles.text_align if self.styles.text_align in ("left", "center", "right")
                    else "left", no_wrap=True, end="")

    def get_content_width(self, container: Size, viewport: Size) -> int:
        return DigitsRenderable.get_width(self.value) * max(1, self.scale)

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        return 2 * self.scale + 1 if self.scale > 1 else 3


class CountTile(Vertical):
    """A count in big digits over its symbol and word. The word says what the count is
    without colour; alarming words are in reverse video (see wall.tcss), which survives
    NO_COLOR too."""

    def __init__(self, label: str, count: int, classes: str, scale: int = 1) -> None:
        super().__init__(classes=f"tile {classes}")
        self._label = label
        self._count = count
        self._scale = scale

    def compose(self) -> ComposeResult:
        digits = ScaledDigits(str(self._count), classes="tile-digits")
        digits.scale = self._scale
        yield digits
        # A Text, not a str: an unknown status word from a server is shown, never parsed.
        yield Static(Text(self._label, no_wrap=True, overflow="ellipsis", end=""), classes="tile-word")

    @property
    def count(self) -> int:
        return self._count

    @property
    def label(self) -> str:
        return self._label

    def set_count(self, count: int) -> None:
        """Show `count` (nothing is redrawn when it is the same)."""
        if count == self._count:
            return
        self._count = count
        # Not composed yet: compose() draws the new count.
        for digits in self.query(ScaledDigits):
            digits.update(str(count))

    def set_scale(self, scale: int) -> None:
        """Draw the digits `scale` times as large."""
        if scale == self._scale:
            return
        self._scale = scale
        for digits in self.query(ScaledDigits):
            digits.scale = scale
