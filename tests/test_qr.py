"""The QR drawn with half blocks is scannable: render it back to pixels and decode it."""

import pytest

from wawp_tui.ui.qr_drawing import QUIET_ZONE, draw, fits

zxingcpp = pytest.importorskip("zxingcpp")
Image = pytest.importorskip("PIL.Image")

# What a WhatsApp pairing value looks like (ref, public key, identity key, adv secret).
VALUE = ("2@Xk3v9QeLrT0bX1yPq8fN4sWmZcVb6nHj2tRy7uIo5pAs,"
         "Zx8cVb7nM6qW5eR4tY3uI2oP1aSdFgHjKlQwErTyUiO=,"
         "b2FrZS1pZGVudGl0eS1rZXktZm9yLXRlc3RzLW9ubHk=,"
         "c2ltdWxhdGVkLWFkdi1zZWNyZXQ=")


def to_image(lines, px=4):
    """Paint the drawn text as a terminal would: each cell px wide, 2*px tall."""
    width, height = len(lines[0]), len(lines) * 2
    img = Image.new("L", (width * px, height * px), 255)
    for row, line in enumerate(lines):
        for col, ch in enumerate(line):
            top = ch in "█▀"
            bottom = ch in "█▄"
            for half, dark in ((0, top), (1, bottom)):
                if dark:
                    y0 = (row * 2 + half) * px
                    for y in range(y0, y0 + px):
                        for x in range(col * px, col * px + px):
                            img.putpixel((x, y), 0)
    return img


def test_drawn_qr_decodes_to_the_value():
    drawing = draw(VALUE)
    assert all(len(line) == drawing.width for line in drawing.lines)
    results = zxingcpp.read_barcodes(to_image(drawing.lines))
    assert [r.text for r in results] == [VALUE]


def test_quiet_zone_is_light():
    drawing = draw(VALUE)
    assert set(drawing.lines[0]) == {" "}
    assert all(line[:QUIET_ZONE] == " " * QUIET_ZONE for line in drawing.lines)


def test_fits_reports_the_size_needed():
    drawing = draw(VALUE)
    assert fits(drawing, drawing.width, drawing.height)
    assert not fits(drawing, 80, 20)


def test_a_value_no_qr_can_carry_says_why_not_how_long():
    from wawp_tui.ui.qr_drawing import QrTooLong, draw

    with pytest.raises(QrTooLong, match="holds characters no QR code can carry"):
        draw("\ud800")  # a lone surrogate: once "is 1 characters; no QR code can hold that much"
    with pytest.raises(QrTooLong, match="is 5,000 characters"):
        draw("x" * 5000)
