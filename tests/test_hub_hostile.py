"""The hub and its clients against hostile peers, over real loopback sockets: what a bad
request or a bad hub sends gets a refusal or one line, never a 500 or a traceback; the
webhook shapes and signatures Wawp sends besides WAHA's are doorbells too."""

from __future__ import annotations

import hashlib
import hmac
import json
import time

import httpx
import pytest

from tests.hub_kit import TOKENS, WAWP_TOKEN, WEBHOOK_SECRET, bearer, config_for, hub_in_loop, until
from wawp_tui.cli import main
from wawp_tui.simulator import SimInstance, Simulator


def _sims(n: int = 2) -> list[SimInstance]:
    return [SimInstance(id=f"HOS{k:09d}", label=f"Desk {k}", token=WAWP_TOKEN, started_at=0.0)
            for k in range(n)]


def _hmac(body: bytes, algorithm: str) -> str:
    return hmac.new(WEBHOOK_SECRET.encode(), body, getattr(hashlib, algorithm)).hexdigest()


async def _first_event(http: httpx.AsyncClient, last_id: str) -> str:
    headers = {**bearer("val"), "last-event-id": last_id}
    async with http.stream("GET", "/api/v1/events", headers=headers) as reply:
        assert reply.status_code == 200
        async for line in reply.aiter_lines():
            if line.startswith("event: "):
                return line[7:]
    return ""


async def test_hostile_requests_are_refused_never_a_500(serve):
    sims = _sims()
    sim = Simulator(sims)
    async with hub_in_loop(config_for(serve(sim).url, sims)) as (hub, base), \
            httpx.AsyncClient(base_url=base, timeout=10) as http:
        await until(lambda: all(hub.monitor.state(i.id).status for i in sims), what="first polls")
        # The index is an endpoint like the others: a user's token first.
        assert (await http.get("/")).status_code == 401
        assert (await http.get("/", headers=bearer("val"))).status_code == 200
        # JSON nested past the parser's limit: an action's body, a signed webhook.
        deep = b"[" * 4000
        reply = await http.post(f"/api/v1/instances/{sims[0].id}/stop", content=deep, headers=bearer("alice"))
        assert reply.status_code == 400, reply.text
        deep = b"[" * 60_000
        reply = await http.post("/webhooks/wawp", content=deep,
                                headers={"x-webhook-hmac": _hmac(deep, "sha512")})
        assert reply.status_code == 200 and reply.json()["outcome"] == "malformed"
        # A Last-Event-ID of this hub's run with thousands of digits: a reset, not a 500.
        assert await _first_event(http, f"{hub.broadcaster.boot}." + "9" * 5000) == "reset"
        assert sim.calls_to("stop") == []


async def test_wawps_own_webhook_shapes_and_signatures_ring_the_doorbell(serve):
    """Wawp's older page sends `{instance_id, status, qr, ts}` (no `event`), and its docs
    name no algorithm header (its SDK checks HMAC-SHA256): each is a doorbell, one poll."""
    sims = _sims()
    sim = Simulator(sims)
    async with hub_in_loop(config_for(serve(sim).url, sims)) as (hub, base), \
            httpx.AsyncClient(base_url=base, timeout=10) as http:
        await until(lambda: all(hub.monitor.state(i.id).status for i in sims), what="first polls")
        for instance, signature in ((sims[0], lambda b: _hmac(b, "sha256")),
                                    (sims[1], lambda b: "sha256=" + _hmac(b, "sha256"))):
            polls = len(sim.calls_to("info", instance.id))
            body = json.dumps({"instance_id": instance.id, "status": "FAILED", "qr": None,
                               "ts": int(time.time())}).encode()
            reply = await http.post("/webhooks/wawp", content=body, headers={"x-webhook-hmac": signature(body)})
            assert reply.status_code == 200 and reply.json()["outcome"] == "poll", reply.text
            await until(lambda i=instance.id, n=polls: len(sim.calls_to("info", i)) > n, 5, "polled after its event")
        # An old one of that shape is a replay: no poll.
        old = json.dumps({"instance_id": sims[0].id, "status": "FAILED", "ts": 1_000_000_000}).encode()
        reply = await http.post("/webhooks/wawp", content=old, headers={"x-webhook-hmac": _hmac(old, "sha256")})
        assert reply.json()["outcome"] == "stale"


async def test_a_doorbell_right_after_a_steady_poll_waits_its_second(serve):
    """At most one poll a second per instance, counted on the server: a steady poll that
    has just answered counts too."""
    sims = _sims(1)
    sim = Simulator(sims)
    target = sims[0].id
    async with hub_in_loop(config_for(serve(sim).url, sims)) as (hub, base), \
            httpx.AsyncClient(base_url=base, timeout=10) as http:
        await until(lambda: hub.monitor.state(target).status, what="first poll")
        before = len(sim.calls_to("info", target))
        hub.monitor.poke(target)  # what the poller's own schedule does
        await until(lambda: len(sim.calls_to("info", target)) == before + 1 and
                    not hub.monitor.poller.polling(target), what="the steady poll")
        body = json.dumps({"id": "evt-after-steady", "timestamp": int(time.time() * 1000),
                           "event": "session.status", "session": target,
                           "payload": {"status": "FAILED"}}).encode()
        reply = await http.post("/webhooks/wawp", content=body, headers={
            "x-webhook-hmac": _hmac(body, "sha512"), "x-webhook-hmac-algorithm": "sha512"})
        assert reply.json()["outcome"] == "poll"
        await until(lambda: len(sim.calls_to("info", target)) == before + 2, 5, "the event's poll")
        calls = sim.calls_to("info", target)
        assert calls[-1]["at"] - calls[-2]["at"] >= 0.99, [c["at"] for c in calls]


class _DeepHub:
    """A 'hub' whose every answer is JSON nested past the parser's limit."""

    def release_hangs(self) -> None:  # (served like the simulator, which has hung requests)
        pass

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": b'{"schema": 1, "x": ' + b"[" * 50_000})


@pytest.mark.parametrize("command, code, stream", [(["status"], 2, "err"), (["check"], 3, "out")])
def test_a_hub_that_sends_deep_json_is_one_line(serve, monkeypatch, capsys, command, code, stream):
    monkeypatch.setenv("WAWP_HUB_TOKEN", TOKENS["val"])
    assert main([*command, "--hub", serve(_DeepHub()).url]) == code
    said = getattr(capsys.readouterr(), stream)
    assert "cannot read the hub" in said and "internal error" not in said, said


async def test_a_hub_whose_certificate_is_not_trusted_is_said_so(serve, tmp_path, monkeypatch, capsys):
    """https with a private CA: not trusted, it says so (not "connection refused"); with
    SSL_CERT_FILE naming the CA, it reads."""
    import asyncio

    import trustme

    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1")
    cert_file, key_file, ca_file = tmp_path / "hub.pem", tmp_path / "hub.key", tmp_path / "ca.pem"
    cert.cert_chain_pems[0].write_to_path(str(cert_file))
    cert.private_key_pem.write_to_path(str(key_file))
    ca.cert_pem.write_to_path(str(ca_file))
    sims = _sims(1)
    monkeypatch.setenv("WAWP_HUB_TOKEN", TOKENS["val"])
    for name in ("SSL_CERT_FILE", "SSL_CERT_DIR", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        monkeypatch.delenv(name, raising=False)
    async with hub_in_loop(config_for(serve(Simulator(sims)).url, sims),
                           tls=(str(cert_file), str(key_file))) as (hub, base):
        await until(lambda: hub.monitor.state(sims[0].id).status, what="first poll")
        assert await asyncio.to_thread(main, ["status", "--hub", base]) == 2
        said = capsys.readouterr().err
        assert "certificate" in said and "refused" not in said, said
        monkeypatch.setenv("SSL_CERT_FILE", str(ca_file))
        assert await asyncio.to_thread(main, ["status", "--hub", base]) == 0, capsys.readouterr()


async def test_the_ring_of_frames_is_bounded_in_bytes(serve):
    """A big fleet's frames are big: the ring kept for reconnecting readers holds at most
    its bytes' worth, and a reader behind that gets a reset (then a snapshot)."""
    sims = _sims(1)
    async with hub_in_loop(config_for(serve(Simulator(sims)).url, sims)) as (hub, base), \
            httpx.AsyncClient(base_url=base, timeout=10) as http:
        broadcaster = hub.broadcaster
        broadcaster.ring_bytes = 8 * 1024

        def seq() -> int:
            return int(broadcaster.last_id.split(".")[1])

        first, start = broadcaster.last_id, seq()
        for k in range(20):
            hub.monitor.note(f"note {k} " + "x" * 1000)
        await until(lambda: seq() >= start + 20, what="twenty notes out")
        held = broadcaster.backlog(f"{broadcaster.boot}.{seq() - 3}")
        assert held is not None and len(held) == 3
        assert broadcaster.backlog(first) is None
        assert await _first_event(http, first) == "reset"


class _DrippingHub:
    """A 'hub' whose event stream comes a few bytes at a time (CRLF line ends, a comment),
    then a line that never ends."""

    def release_hangs(self) -> None:
        pass

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"text/event-stream")]})
        stream = (b": hello\r\nid: b.1\r\nevent: note\r\ndata: {\"text\":\r\ndata: \"two lines\"}\r\n\r\n"
                  b"event: beat\ndata: {}\n\n")
        for k in range(0, len(stream), 3):
            await send({"type": "http.response.body", "body": stream[k:k + 3], "more_body": True})
        for _ in range(40):
            await send({"type": "http.response.body", "body": b"x" * 65536, "more_body": True})
        await send({"type": "http.response.body", "body": b""})


async def test_events_read_in_pieces_and_a_line_without_end_is_cut(serve, monkeypatch):
    from wawp_tui.hub import link as hub_link
    from wawp_tui.hub.link import HubError, HubLink
    from wawp_tui.models import Secret

    monkeypatch.setattr(hub_link, "MAX_EVENT", 1024 * 1024)
    got = []
    stream = HubLink(serve(_DrippingHub()).url, Secret(TOKENS["val"])).events(None)
    with pytest.raises(HubError, match="over 1 MB"):
        async for event, event_id, data, _ in stream:
            got.append((event, event_id, data))
    assert got == [("note", "b.1", b'{"text":\n"two lines"}'), ("beat", None, b"{}")]


async def test_fleet_documents_being_written_are_bounded(serve, monkeypatch):
    """Each fleet document is the whole fleet, held until read: only so many at once
    (429 beyond); one written out frees its place."""
    from wawp_tui.hub import api

    sims = _sims(1)
    monkeypatch.setattr(api, "FLEETS_PER_USER", 2)
    async with hub_in_loop(config_for(serve(Simulator(sims)).url, sims)) as (hub, base), \
            httpx.AsyncClient(base_url=base, timeout=10) as http:
        for _ in range(5):  # one after the other: each frees its place
            assert (await http.get("/api/v1/fleet", headers=bearer("val"))).status_code == 200
        monkeypatch.setattr(api, "FLEETS_PER_USER", 0)
        reply = await http.get("/api/v1/fleet", headers=bearer("val"))
        assert reply.status_code == 429 and reply.headers["retry-after"] == "1"


def test_tls_files_that_do_not_load_are_one_line(tmp_path):
    """A certificate and key swapped, or a key that does not match: one line, exit 2,
    before anything is served (it was an internal error after the hub said it served)."""
    import trustme

    from wawp_tui.commands.serve import tls_files
    from wawp_tui.launch import UsageError

    ca = trustme.CA()
    cert, other = ca.issue_cert("127.0.0.1"), ca.issue_cert("127.0.0.1")
    cert_file, key_file, other_key = tmp_path / "hub.pem", tmp_path / "hub.key", tmp_path / "other.key"
    cert.cert_chain_pems[0].write_to_path(str(cert_file))
    cert.private_key_pem.write_to_path(str(key_file))
    other.private_key_pem.write_to_path(str(other_key))
    assert tls_files(str(cert_file), str(key_file)) == (str(cert_file), str(key_file))
    for pair in ((key_file, cert_file), (cert_file, other_key)):
        with pytest.raises(UsageError, match="cannot use"):
            tls_files(str(pair[0]), str(pair[1]))


async def test_a_doorbell_never_polls_through_a_retry_after(serve):
    """Wawp said 429 with Retry-After: events for that instance wait for the poller's own
    poll after it, however many ring (they made a poll a second)."""
    sims = _sims(1)
    sim = Simulator(sims)
    target = sims[0].id
    async with hub_in_loop(config_for(serve(sim).url, sims)) as (hub, base), \
            httpx.AsyncClient(base_url=base, timeout=10) as http:
        await until(lambda: hub.monitor.state(target).status, what="first poll")
        sim.inject(target, "rate_limit", retry_after=300)
        hub.monitor.poke(target)
        await until(lambda: hub.monitor.state(target).error_kind == "rate_limited", what="the 429")
        await until(lambda: not hub.monitor.poller.polling(target), what="the poll over")
        polls = len(sim.calls_to("info", target))
        for k in range(3):
            body = json.dumps({"id": f"evt-limited-{k}", "timestamp": int(time.time() * 1000),
                               "event": "session.status", "session": target,
                               "payload": {"status": "FAILED"}}).encode()
            reply = await http.post("/webhooks/wawp", content=body, headers={
                "x-webhook-hmac": _hmac(body, "sha512"), "x-webhook-hmac-algorithm": "sha512"})
            assert reply.json()["outcome"] == "later", reply.text
        assert len(sim.calls_to("info", target)) == polls
