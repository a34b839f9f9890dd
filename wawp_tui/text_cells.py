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
from collections.abc import Iterator

#: Characters drawn in no cell that the categories below do not catch: zero-width
#: spaces and joiners, the Hangul fillers, the emoji skin-tone modifiers (drawn into the
#: emoji before them).
_ZERO_WIDTH = frozenset("\u200b\u200c\u200d\u2060\ufeff\u3164\uffa0\u302e\u302f"
                        "\U0001f3fb\U0001f3fc\U0001f3fd\U0001f3fe\U0001f3ff")
#: Format characters that are drawn: the soft hyphen, the Arabic number signs.
_DRAWN_FORMAT = frozenset("\u00ad\u0600\u0601\u0602\u0603\u0604\u0605\u06dd\u070f\u0890"
                          "\u0891\u08e2\U000110bd\U000110cd")


#: Characters that variation selector 16 (U+FE0F) turns into a two-cell emoji ("❤️"):
#: Unicode's emoji-data.txt, Emoji=Yes and Emoji_Presentation=No (the set rich uses).
_NARROW_TO_WIDE_RANGES: tuple[int | tuple[int, int], ...] = (
    0x23, 0x2A, (0x30, 0x39), 0xA9, 0xAE, 0x203C, 0x2049, 0x2122, 0x2139, (0x2194, 0x2199),
    (0x21A9, 0x21AA), 0x2328, 0x23CF, (0x23ED, 0x23EF), (0x23F1, 0x23F2), (0x23F8, 0x23FA),
    0x24C2, (0x25AA, 0x25AB), 0x25B6, 0x25C0, (0x25FB, 0x25FC), (0x2600, 0x2604), 0x260E,
    0x2611, 0x2618, 0x261D, 0x2620, (0x2622, 0x2623), 0x2626, 0x262A, (0x262E, 0x262F),
    (0x2638, 0x263A), 0x2640, 0x2642, (0x265F, 0x2660), 0x2663, (0x2665, 0x2666), 0x2668,
    0x267B, 0x267E, 0x2692, (0x2694, 0x2697), 0x2699, (0x269B, 0x269C), 0x26A0, 0x26A7,
    (0x26B0, 0x26B1), 0x26C8, 0x26CF, 0x26D1, 0x26D3, 0x26E9, (0x26F0, 0x26F1), 0x26F4,
    (0x26F7, 0x26F9), 0x2702, (0x2708, 0x2709), (0x270C, 0x270D), 0x270F, 0x2712, 0x2714,
    0x2716, 0x271D, 0x2721, (0x2733, 0x2734), 0x2744, 0x2747, (0x2763, 0x2764), 0x27A1,
    (0x2934, 0x2935), (0x2B05, 0x2B07), (0x1F170, 0x1F171), (0x1F17E, 0x1F17F), 0x1F321,
    (0x1F324, 0x1F32C), 0x1F336, 0x1F37D, (0x1F396, 0x1F397), (0x1F399, 0x1F39B),
    (0x1F39E, 0x1F39F), (0x1F3CB, 0x1F3CE), (0x1F3D4, 0x1F3DF), 0x1F3F3, 0x1F3F5, 0x1F3F7,
    0x1F43F, 0x1F441, 0x1F4FD, (0x1F549, 0x1F54A), (0x1F56F, 0x1F570), (0x1F573, 0x1F579),
    0x1F587, (0x1F58A, 0x1F58D), 0x1F590, 0x1F5A5, 0x1F5A8, (0x1F5B1, 0x1F5B2), 0x1F5BC,
    (0x1F5C2, 0x1F5C4), (0x1F5D1, 0x1F5D3), (0x1F5DC, 0x1F5DE), 0x1F5E1, 0x1F5E3, 0x1F5E8,
    0x1F5EF, 0x1F5F3, 0x1F5FA, 0x1F6CB, (0x1F6CD, 0x1F6CF), (0x1F6E0, 0x1F6E5), 0x1F6E9,
    0x1F6F0, 0x1F6F3,
)
_NARROW_TO_WIDE = frozenset(
    chr(c) for item in _NARROW_TO_WIDE_RANGES
    for c in (range(item[0], item[1] + 1) if isinstance(item, tuple) else (item,)))
_ZWJ = "\u200d"
_VS16 = "\ufe0f"


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


def _advances(text: str) -> Iterator[int]:
    """The cells each character of `text` adds, as a terminal draws them: a zero-width
    joiner folds the character after it into the one before (👨\u200d👩 is one emoji),
    and U+FE0F widens the emoji-capable character before it to two cells."""
    last = ""
    joined = False
    for ch in text:
        if joined:
            joined = False
            yield 0
        elif ch == _ZWJ:
            joined = True
            yield 0
        elif ch == _VS16:
            yield 1 if last in _NARROW_TO_WIDE else 0
            last = ""
        else:
            width = char_width(ch)
            if width:
                last = ch
            yield width


def cell_width(text: str) -> int:
    """Cells a one-line text takes on a terminal."""
    if text.isascii():
        return len(text)
    return sum(_advances(text))


def cut(text: str, cells: int, marker: str = "") -> str:
    """The longest head of `text` that fits `cells` (with `marker` after it when cut);
    never half of a wide character, nor a character without the marks and joined
    characters that follow it."""
    # A joiner at the end joins nothing here, but would swallow what is printed after it.
    text = text.rstrip(_ZWJ)
    if cell_width(text) <= cells:
        return text
    room = max(0, cells - cell_width(marker))
    used = 0
    end = 0
    for index, width in enumerate(_advances(text)):
        if used + width > room:
            break
        used += width
        end = index + 1
    return text[:end].rstrip(_ZWJ) + (marker if cells >= cell_width(marker) else "")


def fit(text: str, cells: int) -> str:
    """`text` cut (with "…") or padded with spaces to exactly `cells` cells."""
    shown = cut(text, cells, "…")
    return shown + " " * max(0, cells - cell_width(shown))


def pad_left(text: str, cells: int) -> str:
    """`text` right-aligned in `cells` cells (never cut)."""
    return " " * max(0, cells - cell_width(text)) + text
