"""Replies of the right shape with the wrong types inside, over real sockets: a `me`
whose fields are numbers or lists, a 422 whose `expected` holds numbers, a timestamp or
a QR expiry of 400 digits, a `qr` field on every poll. One odd instance costs its own
row, never the report, the audit or the rest of a bulk action."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

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


# -- numbers and lists where text was expected ---------------------------------------------

HUGE = int("9" * 400)
#: Values of the wrong type or size, for any field of a reply.
ODD = st.one_of(
    st.sampled_from([HUGE, -HUGE, 10**20, 1e308, -0.0, True, None, [], {}, [1, 2], [HUGE, "x"],
                     [[1]], {"a": [1]}, "", "9" * 400, "STOPPED", ["STOPPED", 2]]),
    st.integers(), st.floats(), st.text(max_size=12),
    st.lists(st.one_of(st.integers(), st.text(max_size=5), st.none()), max_size=4),
)


@st.composite
def odd_replies(draw) -> tuple[str, dict]:
    """(endpoint, reply): a reply shaped like a real one, with odd values inside."""
    shape = draw(st.sampled_from(["error", "session", "envelope", "qr_wawp", "qr_raw", "qr_image",
                                  "code", "me"]))
    code = 200
    if shape == "error":
        code = draw(st.sampled_from([400, 404, 422, 500, 502]))
        body: object = {"error": draw(st.one_of(st.text(max_size=8), ODD)), "status": draw(ODD),
                        "expected": draw(ODD),
                        "message": draw(st.one_of(ODD, st.just(None)))}
        endpoint = draw(st.sampled_from(["info", "restart", "start", "qr"]))
    elif shape == "session":
        body = {"status": draw(st.one_of(ODD, st.sampled_from(["WORKING", "SCAN_QR_CODE"]))),
                "name": draw(ODD), "me": draw(st.one_of(ODD, st.fixed_dictionaries(
                    {"id": ODD, "pushName": ODD}))), "engine": draw(ODD), "presence": draw(ODD),
                "timestamps": draw(st.one_of(ODD, st.fixed_dictionaries({"activity": ODD}))),
                "qr": draw(ODD)}
        endpoint = draw(st.sampled_from(["info", "restart", "stop", "logout"]))
    elif shape == "envelope":
        body = {"code": draw(st.one_of(ODD, st.just("invalid_session"))), "message": draw(ODD),
                "status": draw(st.one_of(ODD, st.just("error"))), "success": draw(ODD)}
        endpoint = draw(st.sampled_from(["info", "restart"]))
    elif shape == "qr_wawp":
        inner = {"value": draw(st.one_of(ODD, st.just("2@abc"))), "expiry": draw(ODD)}
        body = {"mimetype": draw(st.one_of(ODD, st.just("application/json"))),
                "data": base64_of(json.dumps(inner).encode())}
        endpoint = "qr"
    elif shape == "qr_raw":
        body = {"value": draw(st.one_of(ODD, st.just("2@abc"))), "expiry": draw(ODD)}
        endpoint = "qr"
    elif shape == "qr_image":
        body = {"mimetype": "image/png", "data": draw(st.one_of(ODD, st.just("iVBORw0KGgo=")))}
        endpoint = "qr"
    elif shape == "code":
        body = {"code": draw(ODD)}
        endpoint = "request-code"
    else:
        body = {"me": draw(ODD)} if draw(st.booleans()) else draw(ODD)
        endpoint = "me"
    return endpoint, {"code": code, "headers": {"content-type": "application/json"},
                      "body": json.dumps(body).encode()}


@pytest.fixture(scope="module")
def odd_server():
    from wawp_tui.simulator import serve_in_thread

    sim_instances = build_scenario("healthy", seed=12, instances=2)
    for inst in sim_instances:
        inst.token = SECRET
    sim = Simulator(sim_instances, seed=12)
    handle = serve_in_thread(sim)
    yield sim, sim_instances, handle
    handle.stop()


def _reply(endpoint: str, code: int, body: str) -> tuple[str, dict]:
    return endpoint, {"code": code, "headers": {"content-type": "application/json"}, "body": body.encode()}


@settings(max_examples=250, deadline=None, suppress_health_check=list(HealthCheck))
@given(case=odd_replies())
@example(case=_reply("restart", 422, '{"error": "x", "status": "y", "expected": [1, 2]}'))
@example(case=_reply("info", 200, '{"status": "WORKING", "timestamps": {"activity": %s}}' % HUGE))
@example(case=_reply("qr", 200, '{"value": "2@x", "expiry": %s}' % HUGE))
def test_odd_values_in_any_reply_are_the_clients_own_error_or_a_clean_result(odd_server, case):
    """Whatever types a reply holds, the client answers with a result or a WawpError:
    never a TypeError from a join, an OverflowError from a 400-digit number..."""
    import asyncio

    from wawp_tui.client.api import WawpClient
    from wawp_tui.client.errors import WawpError
    from wawp_tui.models import InstanceConfig, Secret

    sim, sim_instances, server = odd_server
    endpoint, reply = case
    target = sim_instances[0]
    sim.clear_faults()
    sim.inject(target.id, "raw", count=1, endpoint=endpoint, **reply)
    cfg = InstanceConfig(id=target.id, label="x", token=Secret(SECRET))
    call = {"info": "info", "restart": "restart", "start": "start", "stop": "stop", "logout": "logout",
            "qr": "qr", "me": "me"}.get(endpoint)

    async def send():
        async with WawpClient(server.url, timeout=2, connect_timeout=1) as client:
            if endpoint == "request-code":
                return await client.request_code(cfg, "+201000000000")
            return await getattr(client, call)(cfg)

    try:
        result = asyncio.run(send())
    except WawpError as exc:
        assert str(exc) and "\n" not in str(exc)
    else:
        assert result is not None


async def test_the_review_replies_read_as_what_they_are(odd_server):
    from wawp_tui.client.api import WawpClient
    from wawp_tui.client.errors import BadRequest
    from wawp_tui.models import InstanceConfig, Secret

    sim, sim_instances, server = odd_server
    target = sim_instances[0]
    sim.clear_faults()
    cfg = InstanceConfig(id=target.id, label="x", token=Secret(SECRET))
    huge = "9" * 400
    async with WawpClient(server.url, timeout=2, connect_timeout=1) as client:
        sim.inject(target.id, "raw", count=1, code=422, headers={"content-type": "application/json"},
                   body=b'{"error": "x", "status": "y", "expected": [1, 2]}')
        with pytest.raises(BadRequest, match=r"refused by the engine \(422\): x \(it is y, expected 1, 2\)"):
            await client.restart(cfg)
        sim.inject(target.id, "raw", count=1, code=200, headers={"content-type": "application/json"},
                   body=('{"status": "WORKING", "timestamps": {"activity": %s}}' % huge).encode())
        info = await client.info(cfg)
        assert info.status == "WORKING" and info.activity_at is None
        sim.inject(target.id, "raw", count=1, code=200, headers={"content-type": "application/json"},
                   body=('{"value": "2@x", "expiry": %s}' % huge).encode())
        code = await client.qr(cfg)
        assert code.value == "2@x" and code.expires_at is None
    sim.clear_faults()


# -- the action runner: an unexpected failure is an unknown outcome, not a lost report ------


@pytest.fixture
async def runner_rig(fleet, clock, tmp_path):
    from tests.conftest import make_config
    from wawp_tui.client.api import WawpClient
    from wawp_tui.core.actions import ActionRunner
    from wawp_tui.core.audit import AuditLog
    from wawp_tui.core.fleet import FleetState
    from wawp_tui.core.poller import Poller

    sim, sim_instances, server = fleet
    config = make_config(server.url, sim_instances, token=SECRET)
    state = FleetState(config.instances, clock)
    audit_path = tmp_path / "audit.jsonl"

    async def no_sleep(seconds):
        clock.advance(seconds)

    async with WawpClient(server.url, timeout=2, connect_timeout=1) as client:
        poller = Poller(client, state, config.instances, clock=clock)
        await poller.sweep()
        runner = ActionRunner(client, state, config.instances, clock=clock,
                              audit=AuditLog(audit_path), sleep=no_sleep, prepoll=poller.poll_one)
        yield sim, [i.id for i in config.instances], state, runner, client, audit_path


def _audit(path: Path) -> list[tuple[str, str]]:
    return [(r["instance_id"], r["outcome"]) for r in map(json.loads, path.read_text().splitlines())]


async def test_a_restart_refused_with_numbers_in_expected_is_an_honest_failure(runner_rig):
    sim, ids, state, runner, client, audit_path = runner_rig
    target = ids[0]
    sim.inject(target, "raw", count=1, endpoint="restart", code=422,
               headers={"content-type": "application/json"},
               body=b'{"error": "x", "status": "FAILED", "expected": [1, 2]}')
    report = await runner.run("restart", [target])
    (outcome,) = report.outcomes
    assert not outcome.ok and not outcome.unknown and "expected 1, 2" in outcome.message
    # The server refused: no restart happened, so no restart-loop guard is left behind.
    assert "restart" not in state.get(target).last_action_at
    assert _audit(audit_path) == [(target, "sent"), (target, "failed")]


async def test_an_unexpected_exception_from_one_send_is_unknown_and_the_rest_are_reported(
        runner_rig, monkeypatch):
    sim, ids, state, runner, client, audit_path = runner_rig
    odd = ids[1]
    real = client.restart

    async def restart(cfg):
        if cfg.id == odd:
            raise RuntimeError("something nobody foresaw")
        return await real(cfg)

    monkeypatch.setattr(client, "restart", restart)
    report = await runner.run("restart", ids[:3])
    by_id = {o.instance_id: o for o in report.outcomes}
    assert list(by_id) == ids[:3]
    assert by_id[ids[0]].ok and by_id[ids[2]].ok
    assert by_id[odd].unknown and not by_id[odd].ok and "outcome unknown" in by_id[odd].message
    assert "RuntimeError" in by_id[odd].message
    # It may have reached the server: the guards stay, as for a timeout.
    assert "restart" in state.get(odd).last_action_at
    assert (odd, "unknown") in _audit(audit_path) and (odd, "ok") not in _audit(audit_path)


def test_a_rollout_against_refusals_with_numbers_ends_with_exit_1_not_70(fleet, tmp_path, capsys,
                                                                         monkeypatch):
    sim, sim_instances, server = fleet
    path = write_config(tmp_path / "config.toml", server.url, sim_instances[:2])
    monkeypatch.setenv("WAWP_ACCESS_TOKEN", SECRET)
    for inst in sim_instances[:2]:
        sim.inject(inst.id, "raw", endpoint="restart", code=422,
                   headers={"content-type": "application/json"},
                   body=b'{"error": "x", "status": "FAILED", "expected": [1, 2]}')
    code = cli.main(["rollout", "restart", "--yes", "--config", str(path)])
    out, err = capsys.readouterr()
    assert code == 1, out + err
    assert "refused by the engine (422)" in out and "internal error" not in out + err


async def test_a_bug_past_the_send_still_reports_every_other_instance(runner_rig, monkeypatch):
    sim, ids, state, runner, client, audit_path = runner_rig
    odd = ids[2]
    real = state.apply_action_sent

    def apply_action_sent(instance_id, *args, **kwargs):
        if instance_id == odd:
            raise KeyError("bookkeeping bug")
        return real(instance_id, *args, **kwargs)

    monkeypatch.setattr(state, "apply_action_sent", apply_action_sent)
    report = await runner.run("restart", ids[:3])
    by_id = {o.instance_id: o for o in report.outcomes}
    assert by_id[ids[0]].ok and by_id[ids[1]].ok
    assert by_id[odd].unknown and "internal error: KeyError" in by_id[odd].message
    assert (odd, "unknown") in _audit(audit_path)
    assert state.get(odd).in_flight is None  # released: the next key press is not refused
