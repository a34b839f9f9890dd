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


# -- a QR whose content holds the token ----------------------------------------------------

TOKEN = "fake-token-QRIMAGE-0123456789abcdef"


def _png_of(value: str) -> bytes:
    buffer = io.BytesIO()
    segno.make(value, error="m").save(buffer, kind="png", scale=6)
    return buffer.getvalue()


@pytest.mark.parametrize("reply", [
    ("image/png", _png_of(f"2@leak,{TOKEN},x")),
    ("application/json", __import__("json").dumps(
        {"mimetype": "image/png", "data": base64.b64encode(_png_of(f"2@{TOKEN.upper()},x")).decode()}).encode()),
    ("application/json", __import__("json").dumps({"value": "2@leak,%66ake-token-QRIMAGE-0123456789abcdef,x"}).encode()),
])
async def test_a_qr_that_holds_the_token_is_refused_with_the_reason(serve, reply):
    sim_instances = build_scenario("healthy", seed=4, instances=2)
    for inst in sim_instances:
        inst.token = TOKEN
    sim = Simulator(sim_instances, seed=4)
    server = serve(sim)
    target = sim_instances[0]
    cfg = InstanceConfig(id=target.id, label="x", token=Secret(TOKEN))
    ctype, body = reply
    sim.inject(target.id, "raw", count=1, code=200, headers={"content-type": ctype}, body=body)
    async with WawpClient(server.url, timeout=2, connect_timeout=1) as client:
        with pytest.raises(MalformedResponse, match="QR not drawn: the code the server sent holds an access token"):
            await client.qr(cfg)


async def test_the_qr_screen_says_why_it_draws_no_code(serve, clock, tmp_path):
    from tests.conftest import make_config
    from tests.drive import highlight, refresh
    from wawp_tui.core.audit import AuditLog
    from wawp_tui.ui.app import build_app
    from wawp_tui.ui.screens.qr_screen import QrScreen

    sim_instances = build_scenario("healthy", seed=4, instances=2, clock=clock)
    for inst in sim_instances:
        inst.token = TOKEN
    sim = Simulator(sim_instances, clock=clock, seed=4)
    server = serve(sim)
    target = sim_instances[0].id
    sim.instances[target].logout(clock())
    sim.inject(target, "raw", endpoint="qr", code=200, headers={"content-type": "image/png"},
               body=_png_of(f"2@leak,{TOKEN},x"))
    client = WawpClient(server.url, timeout=2, connect_timeout=1)
    app = build_app(make_config(server.url, sim_instances), client, clock=clock,
                    audit=AuditLog(tmp_path / "audit.jsonl"), poll=False)
    async with app.run_test(size=(120, 50)) as pilot:
        await refresh(app, pilot)
        await highlight(app, pilot, target)
        await pilot.press("enter")
        screen = app.screen
        assert isinstance(screen, QrScreen)
        for _ in range(100):
            await pilot.pause(0.02)
            if screen.error:
                break
        shown = screen.query_one("#qr-code").content.plain
        assert "QR not drawn" in shown and "pairing code (k)" in shown
        assert screen.current is None and "▀" not in shown and "█" not in shown
    await client.aclose()
    assert TOKEN not in (tmp_path / "audit.jsonl").read_text()
