"""How many terminal cells a text takes, for the plain-text tables (`status`).

`len` counts characters; a terminal draws a CJK ideograph or most emoji in two cells and
a combining accent or a zero-width joiner in none, so columns measured with `len` drift
apart. The rules are those of wcwidth and of rich's `cell_len` (the screen's), from the
Unicode database the interpreter carries: East Asian Wide and Fullwidth take two cells;
combining marks, format characters and the Hangul medial and final jamo take none.
A few symbols that later Unicode versions made wider than the interpreter's database
knows stay one cell wide here (terminals disagree on them too).
No Textual, no Rich: the commands print without them.
"""

from __future__ import annotations

import functools
import unicodedata

#: Characters drawn in no cell that the categories below do not catch: zero-width
#: spaces and joiners, the Hangul fillers, the emoji skin-tone modifiers (drawn into the
#: emoji before them).
_ZERO_WIDTH = frozenset("\u200b\u200c\u200d\u2060\ufeff\u3164\uffa0\u302e\u302f"
                        "\U0001f3fb\U0001f3fc\U0001f3fd\U0001f3fe\U0001f3ff")
#: Format characters that are drawn: the soft hyphen, the Arabic number signs.
_DRAWN_FORMAT = frozenset("\u00ad\u0600\u0601\u0602\u0603\u0604\u0605\u06dd\u070f\u0890"
                          "\u0891\u08e2\U000110bd\U000110cd")


@functools.lru_cache(maxsize=4096)
def char_width(ch: str) -> int:
    """Cells one character takes: 0, 1 or 2."""
    code = ord(ch)
    if 0x20 <= code < 0x7F:
        return 1
    if code < 0x20 or 0x7F <= code < 0xA0:
        return 0  # (controls never reach here through clean(); they draw nothing)
    if ch in _ZERO_WIDTH or 0x1160 <= code <= 0x11FF or 0xD7B0 <= code <= 0xD7FF \
            or 0xFE00 <= code <= 0xFE0F or 0x16FF0 <= code <= 0x16FF1:
        return 0
    if ch in _DRAWN_FORMAT:
        return 1
    # Combining marks, spacing ones included (as rich and recent wcwidth count them:
    # they join the letter before them in one cell), and format characters.
    if unicodedata.category(ch) in ("Mn", "Me", "Mc", "Cf"):
        return 0
    return 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1


def cell_width(text: str) -> int:
    """Cells a one-line text takes on a terminal."""
    if text.isascii():
        return len(text)
    return sum(char_width(ch) for ch in text)


def cut(text: str, cells: int, marker: str = "") -> str:
    """The longest head of `text` that fits `cells` (with `marker` after it when cut);
    never half of a wide character, nor a base character without its combining marks."""
    if cell_width(text) <= cells:
        return text
    room = max(0, cells - cell_width(marker))
    used = 0
    end = 0
    for index, ch in enumerate(text):
        width = char_width(ch)
        if used + width > room:
            break
        used += width
        end = index + 1
    return text[:end] + (marker if cells >= cell_width(marker) else "")


def fit(text: str, cells: int) -> str:
    """`text` cut (with "…") or padded with spaces to exactly `cells` cells."""
    shown = cut(text, cells, "…")
    return shown + " " * max(0, cells - cell_width(shown))


def pad_left(text: str, cells: int) -> str:
    """`text` right-aligned in `cells` cells (never cut)."""
    return " " * max(0, cells - cell_width(text)) + text
