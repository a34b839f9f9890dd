"""A QR image from a server is opened as a PNG and nothing else: PostScript (which Pillow
hands to Ghostscript), and every other format Pillow knows, are refused before any
decoder runs; a PNG whose header claims too many pixels is refused before it is
inflated."""

from __future__ import annotations

import base64
import io
import struct
import zlib

import pytest
import segno
from PIL import EpsImagePlugin, Image

from wawp_tui.client.api import WawpClient
from wawp_tui.client.errors import MalformedResponse
from wawp_tui.client.qr_forms import decode_image
from wawp_tui.models import InstanceConfig, Secret
from wawp_tui.simulator import Simulator, build_scenario

EPS = (b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 100 100\n%%EndComments\n"
       b"newpath 0 0 moveto 100 100 lineto stroke\nshowpage\n%%EOF\n")


def _qr_image(value: str, fmt: str) -> bytes:
    png = io.BytesIO()
    segno.make(value, error="m").save(png, kind="png", scale=6)
    buffer = io.BytesIO()
    Image.open(io.BytesIO(png.getvalue())).convert("L").save(buffer, fmt)
    return buffer.getvalue()


@pytest.fixture
def ghostscript(monkeypatch):
    """Ghostscript "installed": every call to it is recorded instead of run."""
    calls = []

    def fake(*args, **kwargs):
        calls.append(args)
        raise OSError("ghostscript called")

    monkeypatch.setattr(EpsImagePlugin, "has_ghostscript", lambda: True)
    monkeypatch.setattr(EpsImagePlugin, "Ghostscript", fake)
    return calls


def test_postscript_never_reaches_ghostscript(ghostscript):
    with pytest.raises(MalformedResponse, match="not a PNG"):
        decode_image(EPS)
    assert ghostscript == []


@pytest.mark.parametrize("fmt", ["GIF", "BMP", "JPEG", "TIFF"])
def test_only_png_is_opened(fmt):
    with pytest.raises(MalformedResponse, match="not a PNG"):
        decode_image(_qr_image(f"2@only-png-{fmt}", fmt))


def test_a_png_qr_is_read():
    assert decode_image(_qr_image("2@abc,def,ghi", "PNG")) == "2@abc,def,ghi"


def _png_header_only(width: int, height: int) -> bytes:
    """A small PNG whose header claims width x height (1-bit pixels, all zero)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    row = b"\x00" + bytes((width + 7) // 8)
    packer = zlib.compressobj(9)
    body = b"".join(packer.compress(row) for _ in range(height)) + packer.flush()
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0))
            + chunk(b"IDAT", body) + chunk(b"IEND", b""))


def test_a_png_claiming_too_many_pixels_is_refused_before_it_is_inflated(monkeypatch):
    data = _png_header_only(20_000, 20_000)
    assert len(data) < 512 * 1024
    loaded = []
    monkeypatch.setattr(Image.Image, "load", lambda self: loaded.append(self) or None)
    with pytest.raises(MalformedResponse, match="20000x20000 pixels: too large"):
        decode_image(data)
    assert loaded == []


async def test_postscript_sent_as_the_qr_image_is_refused_over_the_wire(serve, ghostscript):
    sim_instances = build_scenario("healthy", seed=4, instances=2)
    sim = Simulator(sim_instances, seed=4)
    server = serve(sim)
    target = sim_instances[0]
    cfg = InstanceConfig(id=target.id, label="x", token=Secret(target.token))
    async with WawpClient(server.url, timeout=2, connect_timeout=1) as client:
        sim.inject(target.id, "raw", count=1, code=200, headers={"content-type": "image/png"}, body=EPS)
        with pytest.raises(MalformedResponse):
            await client.qr(cfg)
        body = {"mimetype": "image/png", "data": base64.b64encode(EPS).decode()}
        sim.inject(target.id, "raw", count=1, code=200, headers={"content-type": "application/json"},
                   body=__import__("json").dumps(body).encode())
        with pytest.raises(MalformedResponse):
            await client.qr(cfg)
    assert ghostscript == []
