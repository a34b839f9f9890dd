"""Replies of the right shape with the wrong types inside, over real sockets: a `me`
whose fields are numbers or lists, a 422 whose `expected` holds numbers, a timestamp or
a QR expiry of 400 digits, a `qr` field on every poll. One odd instance costs its own
row, never the report, the audit or the rest of a bulk action."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.test_hostile import SECRET, write_config
from wawp_tui import cli
from wawp_tui.simulator import Simulator, build_scenario


@pytest.fixture
def fleet(serve, clock):
    """Six healthy instances whose token is SECRET, served on loopback."""
    sim_instances = build_scenario("healthy", seed=7, instances=6, clock=clock)
    for inst in sim_instances:
        inst.token = SECRET
    sim = Simulator(sim_instances, clock=clock, seed=7)
    return sim, sim_instances, serve(sim)


def _working(me) -> bytes:
    return json.dumps({"name": "x", "status": "WORKING", "me": me}).encode()


ODD_ME = [
    {"id": "201012345678@c.us", "pushName": 42},
    {"id": "201012345678@c.us", "pushName": ["a", "b"]},
    {"id": 201012345678, "pushName": {"first": "Eve"}},
    {"id": ["1@c.us"], "pushName": None},
    {"id": "1@c.us", "pushName": 1e308},
]


def test_status_table_prints_every_row_when_me_fields_are_not_strings(fleet, tmp_path, capsys,
                                                                      monkeypatch):
    sim, sim_instances, server = fleet
    path = write_config(tmp_path / "config.toml", server.url, sim_instances)
    monkeypatch.setenv("WAWP_ACCESS_TOKEN", SECRET)
    for inst, me in zip(sim_instances, ODD_ME):
        sim.inject(inst.id, "raw", code=200, headers={"content-type": "application/json"},
                   body=_working(me))
    for argv in (["status"], ["status", "--json"]):
        assert cli.main([*argv, "--config", str(path)]) == 0
        out, err = capsys.readouterr()
        assert err == "" and "internal error" not in out
    table_rows = [line for line in cli_table(path, capsys) if line.startswith("✓ WORKING")]
    assert len(table_rows) == len(sim_instances)
    assert any("42 +201012345678" in line for line in table_rows)


def cli_table(path: Path, capsys) -> list[str]:
    cli.main(["status", "--config", str(path)])
    return capsys.readouterr().out.splitlines()


# -- a QR image on every poll ------------------------------------------------------------


def _big_png(tag: int) -> bytes:
    """A 2048x2048 PNG of noise (about 25 KB), different for every `tag`."""
    import io
    import random

    from PIL import Image, ImageDraw

    rnd = random.Random(tag)
    image = Image.new("L", (2048, 2048), 255)
    draw = ImageDraw.Draw(image)
    for _ in range(3000):
        x, y = rnd.randrange(2040), rnd.randrange(2040)
        draw.rectangle([x, y, x + 6, y + 6], fill=0)
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def _tagged(png: bytes, n: int) -> bytes:
    """The same image with a text chunk naming `n`: new bytes for every instance, and
    still a valid PNG (a cache of decoded images cannot help)."""
    import struct
    import zlib

    data = b"n\x00" + str(n).encode()
    chunk = struct.pack(">I", len(data)) + b"tEXt" + data
    chunk += struct.pack(">I", zlib.crc32(b"tEXt" + data))
    return png[:-12] + chunk + png[-12:]


def test_a_flood_of_qr_images_in_info_replies_never_holds_the_status_deadline(serve, tmp_path, capsys,
                                                                            monkeypatch):
    """200 instances answer WORKING with a big, different PNG in `qr` on every poll: none
    is decoded (the field means nothing outside SCAN_QR_CODE, and the QR screen fetches
    its own), so the whole fleet is polled well inside the deadline."""
    import base64

    sim_instances = build_scenario("healthy", seed=8, instances=200)
    for inst in sim_instances:
        inst.token = SECRET
    sim = Simulator(sim_instances, seed=8)
    server = serve(sim)
    base = _big_png(0)
    for n, inst in enumerate(sim_instances):
        png = _tagged(base, n)
        url = "data:image/png;base64," + base64.b64encode(png).decode()
        sim.inject(inst.id, "raw", code=200, headers={"content-type": "application/json"},
                   body=json.dumps({"name": inst.id, "status": "WORKING", "qr": url}).encode())
    path = write_config(tmp_path / "config.toml", server.url, sim_instances,
                        extra_api="max_concurrency = 32")
    monkeypatch.setenv("WAWP_ACCESS_TOKEN", SECRET)
    assert cli.main(["status", "--json", "--deadline", "8", "--config", str(path)]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["status"] for r in rows] == ["WORKING"] * 200


def test_the_qr_hint_is_a_digest_never_a_decoding():
    from wawp_tui.client import qr_forms
    from wawp_tui.client.api import parse_session

    url = "data:image/png;base64," + base64_of(_big_png(1))
    calls = []
    monkeypatch_decode = qr_forms.decode_image
    try:
        qr_forms.decode_image = lambda data: calls.append(data) or "decoded"
        working = parse_session({"status": "WORKING", "qr": url})
        scanning = parse_session({"status": "SCAN_QR_CODE", "qr": url})
        other = parse_session({"status": "SCAN_QR_CODE", "qr": url[:-8] + "AAAAAAAA"})
        valued = parse_session({"status": "SCAN_QR_CODE", "qr": {"value": "2@abc,def"}})
    finally:
        qr_forms.decode_image = monkeypatch_decode
    assert calls == []
    assert working.qr_hint is None  # outside SCAN_QR_CODE the field is ignored
    assert scanning.qr_hint and other.qr_hint and scanning.qr_hint != other.qr_hint
    assert valued.qr_hint == "2@abc,def"


def base64_of(data: bytes) -> str:
    import base64

    return base64.b64encode(data).decode()


async def test_a_qr_image_is_decoded_in_a_thread(serve, clock, monkeypatch):
    import threading

    from tests.conftest import make_config
    from wawp_tui.client import qr_forms
    from wawp_tui.client.api import WawpClient

    sim_instances = build_scenario("waha", seed=5, clock=clock)
    sim = Simulator(sim_instances, clock=clock, seed=5)
    server = serve(sim)
    target = next(i for i in sim_instances if i.label == "waha scan image")
    config = make_config(server.url, sim_instances)
    cfg = next(c for c in config.instances if c.id == target.id)
    seen = []
    real = qr_forms._decode_image

    def spy(data):
        seen.append(threading.current_thread() is threading.main_thread())
        return real.__wrapped__(data)

    monkeypatch.setattr(qr_forms, "_decode_image", spy)
    async with WawpClient(server.url, timeout=2, connect_timeout=1) as client:
        code = await client.qr(cfg)
    assert code.form == "image" and code.value == sim.instances[target.id].qr(clock())["value"]
    assert seen == [False]
