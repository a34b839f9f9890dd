"""Draw a pairing QR code with Unicode half blocks, two modules per character cell.

segno does the encoding; this module only maps modules to characters. The caller paints
the lines black on white whatever the theme: phones need dark modules on a light ground.
"""

from __future__ import annotations

from dataclasses import dataclass

import segno

#: Modules of light margin around the code (the standard asks for 4; phones read 2 well
#: on a screen, and it saves 4 precious columns and 2 rows).
QUIET_ZONE = 2

# (top dark, bottom dark) -> character, with dark = foreground (black).
_CELLS = {(True, True): "█", (True, False): "▀", (False, True): "▄", (False, False): " "}


@dataclass(frozen=True)
class QrDrawing:
    """The drawn code: `lines` of equal width, and the terminal size it needs."""

    lines: tuple[str, ...]

    @property
    def width(self) -> int:
        return len(self.lines[0]) if self.lines else 0

    @property
    def height(self) -> int:
        return len(self.lines)


class QrTooLong(ValueError):
    """No QR code can hold this value (the largest holds 2,953 bytes)."""


def draw(value: str, quiet_zone: int = QUIET_ZONE) -> QrDrawing:
    """Encode `value` and draw it: one text column per module, one line per two rows.

    QrTooLong (a readable message) when the value cannot be a QR code at all.
    """
    try:
        code = segno.make(value, error="l", micro=False)
    except segno.DataOverflowError:
        raise QrTooLong(f"the server's QR value is {len(value):,} characters; no QR code can "
                        "hold that much (at most 2,953 bytes), so it cannot be scanned. "
                        "Press k to link with a pairing code instead.") from None
    except ValueError:  # e.g. a lone surrogate: text that has no bytes to encode
        raise QrTooLong("the server's QR value holds characters no QR code can carry, so it "
                        "cannot be scanned. Press k to link with a pairing code instead.") from None
    rows = [[bool(m) for m in row] for row in code.matrix_iter(scale=1, border=quiet_zone)]
    if len(rows) % 2:
        rows.append([False] * len(rows[0]))
    lines = tuple(
        "".join(_CELLS[(top, bottom)] for top, bottom in zip(rows[i], rows[i + 1]))
        for i in range(0, len(rows), 2)
    )
    return QrDrawing(lines)


def fits(drawing: QrDrawing, width: int, height: int) -> bool:
    """True when the whole code, quiet zone included, fits in width x height cells."""
    return drawing.width <= width and drawing.height <= height
