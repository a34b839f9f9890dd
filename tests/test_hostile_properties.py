"""Property-based attacks: random replies over a real socket, through the client and the
TUI. Whatever the server sends (bytes, JSON with markup, escapes, the token, huge or deep
values), nothing crashes, no token shows, no control character reaches an output, and
memory stays bounded."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import zlib

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rich.text import Text

from tests.conftest import make_config
from tests.drive import events_text, record_toasts
from wawp_tui.client.api import WawpClient
from wawp_tui.client.errors import WawpError
from wawp_tui.core.audit import AuditLog
from wawp_tui.models import InstanceConfig, Secret
from wawp_tui.safe_text import MAX_LINE, clean, clean_data
from wawp_tui.simulator import Simulator, build_scenario, serve_in_thread
from wawp_tui.ui.app import build_app
from wawp_tui.ui.widgets.fleet_table import FleetTable

SECRET = "fake-token-PROPERTY-0123456789abcdef"
Secret(SECRET)  # registered with the boundary, as a configured token is

#: What an attacker puts in text: markup, links, escape sequences, controls, the token.
NASTY = st.sampled_from([
    "[/]", "[b]", "[@click=app.quit]x[/]", "[link=file:///etc/passwd]y[/link]",
    "\x1b]0;pwned\x07", "\x1b[2J", "\x1b]52;c;cHduZWQ=\x07", "\x9b31m", "\x00", "\x07",
    "\r\n", "\u202e", "\ud800", "\ufeff", SECRET, f"access_token={SECRET}",
    f'"access_token": "{SECRET}"', "%66ake-token-PROPERTY-0123456789abcdef", "🙂", "é",
])
TEXT = st.lists(st.one_of(NASTY, st.text(max_size=30)), max_size=8).map("".join)
SCALAR = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), TEXT)
JSON = st.recursive(SCALAR, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(TEXT, inner, max_size=4)), max_leaves=20)


@st.composite
def replies(draw) -> dict:
    """One reply: status code, headers and body, built to hurt."""
    kind = draw(st.sampled_from(["json", "session", "bytes", "deep", "huge", "gzip"]))
    code = draw(st.sampled_from([200, 200, 200, 400, 401, 404, 422, 429, 500, 502, 503, 302]))
    headers = {"content-type": draw(st.sampled_from(
        ["application/json", "text/html", "text/plain", "application/xml", "x/\x1b[2J"]))}
    if draw(st.booleans()):
        headers["retry-after"] = draw(st.sampled_from(["7", "inf", "1e308", "nan", "-1", "soon"]))
    if kind == "json":
        body = json.dumps(draw(JSON)).encode()
    elif kind == "session":
        payload = {"status": draw(st.one_of(TEXT, st.sampled_from(["WORKING", "FAILED"]))),
                   "name": draw(TEXT), "me": {"id": draw(TEXT), "pushName": draw(TEXT)},
                   "message": draw(TEXT), "error": draw(TEXT), "qr": draw(JSON)}
        body = json.dumps(payload).encode()
    elif kind == "bytes":
        body = draw(st.binary(max_size=600))
    elif kind == "deep":
        depth = draw(st.integers(30, 50_000))
        body = b'{"status": ' * depth + b"1" + b"}" * depth
    elif kind == "huge":
        body = b'{"status": "' + b"W" * (2 << 20) + b'"}'
    else:
        body = zlib.compress(b"[" * (3 << 20), 9)
        headers["content-encoding"] = draw(st.sampled_from(["gzip", "deflate", "br", "gzip, gzip"]))
        if headers["content-encoding"] == "gzip":
            packer = zlib.compressobj(9, zlib.DEFLATED, 31)
            body = packer.compress(b"0" * (8 << 20)) + packer.flush()
    return {"code": code, "headers": headers, "body_b64": base64.b64encode(body).decode()}


def assert_clean(text: str, where: str) -> None:
    assert SECRET not in text and SECRET[:16] not in text, where
    bad = [c for c in text if (ord(c) < 0x20 and c not in "\n\t") or 0x7F <= ord(c) <= 0x9F]
    assert not bad, (where, bad[:5])


@pytest.fixture(scope="module")
def hostile_server():
    sim_instances = build_scenario("healthy", seed=11, instances=8)
    for inst in sim_instances:
        inst.token = SECRET
    sim = Simulator(sim_instances, seed=11)
    handle = serve_in_thread(sim)
    yield sim, sim_instances, handle
    handle.stop()


def _rss_mb() -> float:
    with open("/proc/self/statm", encoding="utf-8") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


@settings(max_examples=120, deadline=None, suppress_health_check=list(HealthCheck))
@given(reply=replies())
def test_any_reply_through_the_client_is_safe(hostile_server, reply):
    sim, sim_instances, server = hostile_server
    target = sim_instances[0]
    sim.clear_faults()
    sim.inject(target.id, "raw", count=1, **reply)
    cfg = InstanceConfig(id=target.id, label=target.label, token=Secret(SECRET))
    before = _rss_mb()

    async def poll():
        async with WawpClient(server.url, timeout=2, connect_timeout=1) as client:
            return await client.info(cfg)

    try:
        info = asyncio.run(poll())
    except WawpError as exc:
        message = str(exc)
        assert message and len(message) <= MAX_LINE
        assert_clean(message, "error")
        retry = getattr(exc, "retry_after", None)
        assert retry is None or 0 <= retry <= 3600
    else:
        assert 0 < len(info.status) <= 40
        assert_clean(info.status, "status")
        assert_clean(info.name or "", "name")
        assert_clean(json.dumps(info.me, ensure_ascii=False), "me")
    assert _rss_mb() - before < 64


@settings(max_examples=200, deadline=None)
@given(value=st.one_of(TEXT, JSON), limit=st.integers(1, 300))
def test_the_boundary_is_idempotent_capped_and_clean(value, limit):
    once = clean(value, limit)
    assert clean(once, limit) == once
    assert len(once) <= limit
    assert_clean(once, "clean")
    data = clean_data(value)
    assert_clean(json.dumps(data, ensure_ascii=False, allow_nan=False), "clean_data")


@settings(max_examples=6, deadline=None, suppress_health_check=list(HealthCheck))
@given(batch=st.lists(replies(), min_size=6, max_size=6), labels=st.lists(TEXT, min_size=6, max_size=6))
def test_any_replies_and_labels_through_the_tui_are_safe(hostile_server, batch, labels):
    """Six instances answer six random replies, under six random labels: the app keeps
    running, and no screen, event line or notification shows a token or a control byte."""
    sim, sim_instances, server = hostile_server
    sim.clear_faults()
    for inst, reply in zip(sim_instances, batch):
        sim.inject(inst.id, "raw", count=2, **reply)
    config = make_config(server.url, sim_instances[:6], token=SECRET)
    config = type(config)(api=config.api, monitor=config.monitor, path=None, warnings=(),
                          instances=tuple(type(i)(id=i.id, label=clean(lab, 100) or "x",
                                                  token=i.token, tags=("a[/]", "\x1b[2J"))
                                          for i, lab in zip(config.instances, labels)))

    async def session() -> tuple[list[str], list[str]]:
        client = WawpClient(server.url, timeout=2, connect_timeout=1)
        app = build_app(config, client, audit=AuditLog(None), poll=False)
        toasts = record_toasts(app)
        shots: list[str] = []
        async with app.run_test(size=(120, 40), notifications=True) as pilot:
            for _ in range(2):
                await app.fleet_screen.refresh_now()
                await pilot.pause()
            table = app.query_one(FleetTable)
            for row in range(table.row_count):
                table.move_cursor(row=row)
                await pilot.pause()
                shots.append(app.export_screenshot())
            for key in ("r", "escape", "h", "escape", "question_mark", "escape"):
                await pilot.press(key)
            await app.workers.wait_for_complete()
            await pilot.pause()
            shots.append(app.export_screenshot())
            assert app.is_running
            cells = [c.plain if isinstance(c, Text) else str(c)
                     for i in table.ids() for c in table.get_row(i)]
            texts = cells + [t.message for t in toasts] + events_text(app).splitlines()
        await client.aclose()
        return shots, texts

    shots, texts = asyncio.run(session())
    for text in texts:
        assert_clean(text, "widget text")
    for shot in shots:
        assert SECRET not in shot and SECRET[:16] not in shot
        assert not [c for c in shot if ord(c) < 0x20 and c not in "\n\t\r"]
