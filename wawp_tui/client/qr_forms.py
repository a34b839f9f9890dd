"""Every form a QR reply takes, turned into the one value a phone scans.

- Wawp's documented form: {"mimetype": "application/json", "data": base64 of
  {"value": ..., "expiry": ms}};
- WAHA's raw form: {"value": ...} with no expiry;
- an image: {"mimetype": "image/png", "data": base64 PNG}, or the PNG bytes themselves;
- the `qr` field of an info reply or a webhook: "data:image/png;base64,...".

An image is decoded (zxing-cpp reads the code, Pillow opens the PNG) so the terminal can
redraw it at module resolution; the image is bounded in bytes and pixels first, and it
must be a PNG: Pillow would otherwise open whatever format the bytes claim, EPS included,
which it hands to Ghostscript (PostScript from the network run on the operator's machine).
"""

from __future__ import annotations

import base64
import binascii
import functools
import io
import math
import struct
from typing import Any

from wawp_tui.client.errors import MalformedResponse
from wawp_tui.client.reply_body import BadBody, loads_bounded
from wawp_tui.models import QrCode
from wawp_tui.safe_text import redact

#: Longest QR value accepted: the largest QR code holds 2,953 bytes; the QR screen says
#: so for values in between.
MAX_QR_VALUE = 8192
#: Largest QR image decoded (a QR PNG is a few hundred pixels a side).
MAX_IMAGE_PIXELS = 2048 * 2048
MAX_IMAGE_BYTES = 512 * 1024
#: Expiry times outside 2000-2100 are nonsense, not a countdown to show.
_PLAUSIBLE_TIME = (946_684_800.0, 4_102_444_800.0)
_DATA_URL = "data:image/"
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def parse_qr(payload: Any) -> QrCode:
    """A QrCode from a decoded JSON QR reply, whichever of the forms above it is."""
    if not isinstance(payload, dict):
        raise MalformedResponse("malformed QR reply: expected a JSON object")
    inner: Any = payload
    data = payload.get("data")
    mimetype = str(payload.get("mimetype") or "").lower()
    if isinstance(data, str) and mimetype.startswith("image/"):
        return QrCode(value=_checked(decode_image(_unbase64(data))), expires_at=None, form="image")
    if isinstance(data, str):
        try:
            decoded = _unbase64(data).decode("utf-8")
        except UnicodeDecodeError:
            raise MalformedResponse("malformed QR reply: data is not base64 text") from None
        try:
            inner = loads_bounded(decoded)
        except BadBody:
            inner = {"value": decoded}
    elif isinstance(data, dict):
        inner = data
    value = inner.get("value") if isinstance(inner, dict) else None
    if isinstance(value, str) and value.startswith(_DATA_URL):
        return QrCode(value=_checked(value_from_data_url(value)), expires_at=None, form="image")
    if not isinstance(value, str):
        raise MalformedResponse("malformed QR reply: no QR value")
    return QrCode(value=_checked(value), expires_at=plausible_time(inner.get("expiry")),
                  form="raw" if payload is inner else "wawp")


def qr_from_image(data: bytes) -> QrCode:
    """A QrCode from the bytes of a QR image (WAHA's image reply)."""
    return QrCode(value=_checked(decode_image(data)), expires_at=None, form="image")


def value_from_data_url(url: str) -> str:
    """The QR value inside a "data:image/png;base64,..." URL (the info reply's `qr`)."""
    head, _, body = url.partition(",")
    if not head.startswith(_DATA_URL) or ";base64" not in head:
        raise MalformedResponse("malformed QR: not a base64 image data URL")
    return decode_image(_unbase64(body))


def decode_image(data: bytes) -> str:
    """The value of the QR code in a PNG image (CPU work: callers run it in a thread)."""
    if len(data) > MAX_IMAGE_BYTES:
        raise MalformedResponse(f"QR image of {len(data)} bytes: too large to decode")
    # The PNG header is checked here, before Pillow sees a byte: the signature (no other
    # format reaches a decoder) and the size from IHDR (no pixel is inflated for a
    # 20000x20000 claim in a 50 KB file).
    if not data.startswith(_PNG_SIGNATURE) or data[12:16] != b"IHDR" or len(data) < 24:
        raise MalformedResponse("malformed QR reply: the image is not a PNG")
    width, height = struct.unpack(">II", data[16:24])
    if width * height > MAX_IMAGE_PIXELS:
        raise MalformedResponse(f"QR image of {width}x{height} pixels: too large to decode")
    return _decode_image(data)


@functools.lru_cache(maxsize=32)
def _decode_image(data: bytes) -> str:
    # Imported here: most fleets never see an image QR, and the import costs start-up.
    import zxingcpp
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data), formats=["PNG"]) as image:
            width, height = image.size
            if width * height > MAX_IMAGE_PIXELS:
                raise MalformedResponse(f"QR image of {width}x{height} pixels: too large to decode")
            image.load()
            found = zxingcpp.read_barcodes(image.convert("L"))
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError):
        raise MalformedResponse("malformed QR reply: the image cannot be read") from None
    codes = [r.text for r in found if r.text]
    if not codes:
        raise MalformedResponse("malformed QR reply: no QR code in the image")
    return codes[0]


def _unbase64(text: str) -> bytes:
    try:
        return base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise MalformedResponse("malformed QR reply: data is not base64") from None


def _checked(value: str) -> str:
    if len(value) > MAX_QR_VALUE:
        raise MalformedResponse(f"QR value of {len(value)} characters: too long for any QR code")
    # The value is data for the phone (never shown as text), and a QR on screen is a
    # screenshot away: a code that holds a token (in any shape the text boundary finds)
    # is not drawn at all; redacting inside it would only draw a different, useless code.
    if redact(value) != value:
        raise MalformedResponse("QR not drawn: the code the server sent holds an access token "
                                "(a server echo); link with a pairing code (k) instead")
    return value


def plausible_time(value: Any) -> float | None:
    """Unix time in seconds from a server's number (milliseconds, or seconds from servers
    that send them), or None for anything that is not a time between 2000 and 2100: a
    string, a bool, NaN, or a 400-digit integer (which float() cannot even hold)."""
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return None
    if isinstance(value, int) and not -(10**16) < value < 10**16:
        return None  # checked as an int: float(10**400) raises OverflowError
    seconds = float(value)
    if not math.isfinite(seconds):
        return None
    when = seconds / 1000.0 if seconds > 1e11 else seconds
    return when if _PLAUSIBLE_TIME[0] < when < _PLAUSIBLE_TIME[1] else None
