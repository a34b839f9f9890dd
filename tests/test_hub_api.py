"""The hub's HTTP API on a real loopback socket, the simulator behind it: every refusal
(401, 403, 413, 429, 409), one gate for two operators, the doorbell, resumable events."""

from __future__ import annotations

import asyncio
import json
import ssl

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.hub_kit import (
    TOKENS,
    WAWP_TOKEN,
    WEBHOOK_SECRET,
    bearer,
    config_for,
    hub_in_loop,
    hub_settings,
    until,
)
from wawp_tui.commands.serve import check_exposure
from wawp_tui.hub import api
from wawp_tui.hub.limits import Buckets
from wawp_tui.hub.webhooks import sign
from wawp_tui.launch import UsageError
from wawp_tui.simulator import SimInstance, Simulator


def _sims(n: int = 3) -> list[SimInstance]:
    return [SimInstance(id=f"HUB{k:09d}", label=f"Desk {k}", token=WAWP_TOKEN, tags=("eu",),
                        started_at=0.0) for k in range(n)]


def _event(instance_id: str, event_id: str, status: str = "FAILED", at: float | None = None) -> bytes:
    import time

    return json.dumps({"id": event_id, "timestamp": int((at or time.time()) * 1000),
                       "event": "session.status", "session": instance_id,
                       "payload": {"status": status}}).encode()


def _signed(body: bytes, algorithm: str = "sha512") -> dict[str, str]:
    return {"x-webhook-hmac": sign(WEBHOOK_SECRET.encode(), body, algorithm),
            "x-webhook-hmac-algorithm": algorithm, "content-type": "application/json"}


@pytest.fixture
def fleet(serve):
    sims = _sims()
    sim = Simulator(sims)
    return sim, serve(sim).url, sims


async def _polled(hub, sims) -> None:
    await until(lambda: all(hub.monitor.state(i.id).status for i in sims), what="first polls")


async def test_refusals_each_with_its_code(fleet):
    sim, url, sims = fleet
    target = sims[0].id
    async with hub_in_loop(config_for(url, sims)) as (hub, base), httpx.AsyncClient(base_url=base) as http:
        await _polled(hub, sims)
        # No token, a wrong one, a malformed header: 401, the scheme named, nothing else.
        for headers in ({}, {"authorization": "Bearer not-a-user-token-at-all"},
                        {"authorization": TOKENS["alice"]}):
            reply = await http.get("/api/v1/fleet", headers=headers)
            assert reply.status_code == 401, reply.text
            assert reply.headers["www-authenticate"].startswith("Bearer")
            assert TOKENS["alice"] not in reply.text
        assert (await http.post(f"/api/v1/instances/{target}/restart")).status_code == 401
        # A viewer reads but never acts.
        assert (await http.get("/api/v1/fleet", headers=bearer("val"))).status_code == 200
        reply = await http.post(f"/api/v1/instances/{target}/restart", headers=bearer("val"))
        assert reply.status_code == 403 and "viewer" in reply.json()["error"]
        assert (await http.get(f"/api/v1/instances/{target}/qr", headers=bearer("val"))).status_code == 403
        # A body too big: 413, unread (an action's, and a webhook's of 1 MB).
        reply = await http.post(f"/api/v1/instances/{target}/restart", headers=bearer("alice"),
                                content=b"{" + b" " * 10_000 + b"}")
        assert reply.status_code == 413
        big = b'{"event": "session.status", "pad": "' + b"x" * (1024 * 1024) + b'"}'
        reply = await http.post("/webhooks/wawp", content=big, headers=_signed(big))
        assert reply.status_code == 413
        # Unknown action, unknown instance: 404.
        assert (await http.post(f"/api/v1/instances/{target}/explode", headers=bearer("alice"))).status_code == 404
        assert (await http.post("/api/v1/instances/NOPE/stop", headers=bearer("alice"))).status_code == 404
        # Too many actions for one user: 429 with Retry-After; the others are not held.
        hub.api.actions = Buckets(rate=0.01, burst=1)
        first = await http.post(f"/api/v1/instances/{sims[1].id}/stop", headers=bearer("bob"))
        assert first.status_code == 202, first.text
        second = await http.post(f"/api/v1/instances/{sims[2].id}/stop", headers=bearer("bob"))
        assert second.status_code == 429 and int(second.headers["retry-after"]) >= 1
        assert len(sim.calls_to("stop", sims[2].id)) == 0
        # /healthz is open; nothing the hub says holds the fleet's token.
        assert (await http.get("/healthz")).text == "ok\n"
        fleet_doc = (await http.get("/api/v1/fleet", headers=bearer("val"))).text
        assert WAWP_TOKEN not in fleet_doc and TOKENS["val"] not in fleet_doc


async def test_two_operators_at_once_one_restart_and_the_second_names_the_first(fleet):
    sim, url, sims = fleet
    sims[0].boot_seconds = 30.0
    target = sims[0].id
    async with hub_in_loop(config_for(url, sims)) as (hub, base), httpx.AsyncClient(base_url=base, timeout=30) as http:
        await _polled(hub, sims)
        replies = await asyncio.gather(
            http.post(f"/api/v1/instances/{target}/restart", headers=bearer("alice"),
                      json={"reason": "customer says no messages"}),
            http.post(f"/api/v1/instances/{target}/restart", headers=bearer("bob")))
        codes = sorted(r.status_code for r in replies)
        assert codes == [202, 409], [r.text for r in replies]
        sent = next(r for r in replies if r.status_code == 202).json()
        refused = next(r for r in replies if r.status_code == 409).json()
        first = sent["by"]
        assert sent["sent"] is True and sent["status"] == "STARTING"
        assert refused["sent"] is False and f"(by {first})" in refused["reason"]
        # When to ask again, even while the first one is in flight.
        assert isinstance(refused["retry_after"], float) and refused["retry_after"] > 0, refused
        assert len(sim.calls_to("restart", target)) == 1
        # A third press later: refused by the guard, with the first one's name and time left.
        late = await http.post(f"/api/v1/instances/{target}/restart", headers=bearer("bob"))
        assert late.status_code == 409 and f"(by {first})" in late.json()["reason"]
        assert late.json()["retry_after"] > 0
        assert len(sim.calls_to("restart", target)) == 1
        # The journal names who asked.
        hub.monitor.audit.close()


async def test_the_journal_names_the_caller_and_a_caller_cannot_pass_for_the_schedule(fleet, tmp_path):
    sim, url, sims = fleet
    journal = tmp_path / "audit.jsonl"
    target = sims[1].id
    async with hub_in_loop(config_for(url, sims), audit_path=journal) as (hub, base), \
            httpx.AsyncClient(base_url=base, timeout=30) as http:
        await _polled(hub, sims)
        reply = await http.post(f"/api/v1/instances/{target}/restart", headers=bearer("alice"),
                                json={"trigger": "schedule", "reason": "night shift"})
        assert reply.status_code == 202, reply.text
        hub.monitor.audit.close()
    records = [json.loads(line) for line in journal.read_text().splitlines()]
    actions = [r for r in records if r.get("event") == "action" and r.get("instance_id") == target]
    assert actions and all(r["by"] == "alice" and r["trigger"] == "manual" for r in actions), actions
    assert not any(str(r.get("by", "")).startswith("schedule:") for r in records)
    assert len(sim.calls_to("restart", target)) == 1


async def test_webhooks_are_a_doorbell_never_the_truth(fleet):
    sim, url, sims = fleet
    a, b = sims[0].id, sims[1].id
    async with hub_in_loop(config_for(url, sims)) as (hub, base), httpx.AsyncClient(base_url=base) as http:
        await _polled(hub, sims)
        infos = {i.id: len(sim.calls_to("info", i.id)) for i in sims}
        # A forged event (bad HMAC), and one with none: 401, and no poll.
        forged = _event(a, "evt-forged")
        assert (await http.post("/webhooks/wawp", content=forged,
                                headers={"x-webhook-hmac": "00" * 64})).status_code == 401
        assert (await http.post("/webhooks/wawp", content=forged)).status_code == 401
        # A signed event for b (sha256 this time): a poll of b within a second...
        sims[1].raw_status = "FAILED"
        body = _event(b, "evt-1")
        reply = await http.post("/webhooks/wawp", content=body, headers=_signed(body, "sha256"))
        assert reply.status_code == 200 and reply.json()["outcome"] == "poll"
        await until(lambda: hub.monitor.state(b).status == "FAILED", 5, "b polled after its event")
        # ... and by then a's forged event would have made its poll too: it made none.
        assert len(sim.calls_to("info", a)) == infos[a]
        # The same event again is ignored; an old one too; neither polls.
        polls_b = len(sim.calls_to("info", b))
        again = await http.post("/webhooks/wawp", content=body, headers=_signed(body))
        assert again.json()["outcome"] == "duplicate"
        old = _event(b, "evt-old", at=1_000_000_000)
        assert (await http.post("/webhooks/wawp", content=old, headers=_signed(old))).json()["outcome"] == "stale"
        # The event says WORKING for a that is WORKING: a poll, and the status is the poll's.
        lie = _event(a, "evt-lie", status="FAILED")
        assert (await http.post("/webhooks/wawp", content=lie, headers=_signed(lie))).json()["outcome"] == "poll"
        await until(lambda: len(sim.calls_to("info", a)) == infos[a] + 1, 5, "a polled once")
        assert hub.monitor.state(a).status == "WORKING"
        assert len(sim.calls_to("info", b)) == polls_b
        # Events for one instance in a burst: at most one poll a second.
        burst = [_event(b, f"evt-burst-{k}") for k in range(5)]
        outcomes = [(await http.post("/webhooks/wawp", content=e, headers=_signed(e))).json()["outcome"]
                    for e in burst]
        assert outcomes.count("poll") <= 1 and "later" in outcomes
        assert hub.api.doorbell.outcomes.get("poll", 0) <= 4


async def test_events_resume_from_the_last_id_and_a_stranger_id_resets(fleet):
    sim, url, sims = fleet
    async with hub_in_loop(config_for(url, sims)) as (hub, base), \
            httpx.AsyncClient(base_url=base, timeout=10) as http:
        await _polled(hub, sims)
        snapshot = (await http.get("/api/v1/fleet", headers=bearer("val"))).json()
        mark = snapshot["event_id"]
        await http.post(f"/api/v1/instances/{sims[2].id}/stop", headers=bearer("alice"))
        await until(lambda: hub.broadcaster.last_id != mark)

        async def first_events(last_id: str, count: int) -> list[tuple[str, str]]:
            seen: list[tuple[str, str]] = []
            headers = {**bearer("val"), "last-event-id": last_id}
            async with http.stream("GET", "/api/v1/events", headers=headers) as reply:
                assert reply.status_code == 200
                assert reply.headers["content-type"].startswith("text/event-stream")
                event = ""
                async for line in reply.aiter_lines():
                    if line.startswith("event: "):
                        event = line[7:]
                    elif line.startswith("data: "):
                        seen.append((event, line[6:]))
                        if len(seen) >= count:
                            return seen
            return seen

        caught_up = await first_events(mark, 2)
        assert caught_up[0][0] in ("instances", "note")
        assert any(sims[2].id in data for _, data in caught_up)
        reset = await first_events("another-boot.17", 1)
        assert reset[0][0] == "reset"
        # Streams per user are bounded: one more than the limit is 429.
        async with contextlib_streams(http, api.STREAMS_PER_USER) as opened:
            assert all(r.status_code == 200 for r in opened)
            reply = await http.get("/api/v1/events", headers=bearer("val"))
            assert reply.status_code == 429


class contextlib_streams:
    """`count` event streams of val held open."""

    def __init__(self, http: httpx.AsyncClient, count: int) -> None:
        self.http, self.count, self.cms, self.replies = http, count, [], []

    async def __aenter__(self):
        for _ in range(self.count):
            cm = self.http.stream("GET", "/api/v1/events", headers=bearer("val"))
            self.cms.append(cm)
            self.replies.append(await cm.__aenter__())
        return self.replies

    async def __aexit__(self, *exc):
        for cm in self.cms:
            await cm.__aexit__(None, None, None)


async def test_a_hub_without_users_reads_on_loopback_and_never_acts(fleet):
    sim, url, sims = fleet
    config = config_for(url, sims, hub=hub_settings(users=False, secret=False))
    with pytest.raises(UsageError, match="loopback"):
        check_exposure(config, "0.0.0.0", None)
    assert check_exposure(config, "127.0.0.1", None) == []
    async with hub_in_loop(config) as (hub, base), httpx.AsyncClient(base_url=base) as http:
        await _polled(hub, sims)
        doc = (await http.get("/api/v1/fleet")).json()
        assert doc["you"] == {"name": "local", "role": "viewer", "can_act": False}
        reply = await http.post(f"/api/v1/instances/{sims[0].id}/restart")
        assert reply.status_code == 403 and "no actions" in reply.json()["error"]
        assert sim.calls_to("restart") == []


async def test_metrics_behind_a_token_when_asked(fleet):
    sim, url, sims = fleet
    async with hub_in_loop(config_for(url, sims, hub=hub_settings(metrics_auth=True))) as (hub, base), \
            httpx.AsyncClient(base_url=base) as http:
        assert (await http.get("/metrics")).status_code == 401
        assert (await http.get("/metrics", headers=bearer("val"))).status_code == 200
        assert (await http.get("/healthz")).status_code in (200, 503)


def test_a_short_token_or_an_unset_secret_refuses_the_start(tmp_path):
    from dataclasses import replace

    from wawp_tui.config import Config, HubUser
    from wawp_tui.models import Secret

    weak = Config(hub=replace(hub_settings(), users=(HubUser("eve", "operator", "T", Secret("short")),)))
    with pytest.raises(UsageError, match="shorter than 16"):
        check_exposure(weak, "127.0.0.1", None)
    unset = Config(hub=replace(hub_settings(), webhook_secret=Secret("")))
    with pytest.raises(UsageError, match="not set"):
        check_exposure(unset, "127.0.0.1", None)
    clear = check_exposure(Config(hub=hub_settings()), "0.0.0.0", None)
    assert any("in clear" in w for w in clear)


def test_the_hub_table_of_the_config_file(tmp_path):
    from wawp_tui.config import ConfigError, load_config

    base = '[[instances]]\nid = "A1"\nlabel = "a"\ntoken = "tok-0123456789"\n'
    path = tmp_path / "c.toml"
    path.write_text(base + '\n[hub]\nlisten = "0.0.0.0:9000"\nwebhook_secret_env = "WH"\n'
                    '[[hub.users]]\nname = "alice"\ntoken_env = "TA"\nrole = "operator"\n'
                    '[[hub.users]]\nname = "wall"\ntoken_env = "TW"\n')
    path.chmod(0o600)
    config = load_config(path, env={"TA": "alice-token-0123456789", "WH": "secret-value"})
    hub = config.hub
    assert hub.listen == "0.0.0.0:9000" and hub.webhook_secret.reveal() == "secret-value"
    assert [(u.name, u.role, bool(u.token)) for u in hub.users] == [("alice", "operator", True),
                                                                   ("wall", "viewer", False)]
    assert "alice-token" not in repr(config)
    for bad, words in ((('role = "operator"', 'role = "admin"'), "line"),
                       (('name = "wall"', 'name = "alice"'), "are named .alice"),
                       (('token_env = "TW"', 'token = "x"'), "not allowed")):
        path.write_text(path.read_text().replace(*bad))
        with pytest.raises(ConfigError, match=words):
            load_config(path, env={})
        path.write_text(path.read_text().replace(bad[1], bad[0]))


async def test_https_and_a_job_on_the_hubs_monitor(fleet, tmp_path):
    """TLS with --tls-cert/--tls-key; a periodic job runs on the hub's monitor, and one that
    fails is said in every screen's event log (a note on the stream) and goes on."""
    import trustme

    from wawp_tui.hub.jobs import Job

    sim, url, sims = fleet
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1")
    cert_file, key_file, ca_file = tmp_path / "hub.pem", tmp_path / "hub.key", tmp_path / "ca.pem"
    cert.cert_chain_pems[0].write_to_path(str(cert_file))
    cert.private_key_pem.write_to_path(str(key_file))
    ca.cert_pem.write_to_path(str(ca_file))
    runs: list[float] = []

    async def count(monitor) -> None:
        runs.append(monitor.clock())
        if len(runs) == 2:
            raise RuntimeError("a job's bad day")

    async with hub_in_loop(config_for(url, sims), tls=(str(cert_file), str(key_file)),
                           jobs=[Job("counter", 0.05, count)]) as (hub, base):
        assert base.startswith("https://")
        async with httpx.AsyncClient(base_url=base, verify=ssl.create_default_context(cafile=str(ca_file))) as http:
            assert (await http.get("/healthz")).status_code in (200, 503)
            assert (await http.get("/api/v1/fleet", headers=bearer("val"))).status_code == 200
        await until(lambda: len(runs) >= 4, 10, "the job ran on")
        await until(lambda: any(b"hub job counter failed" in f for f in
                                hub.broadcaster.backlog(f"{hub.broadcaster.boot}.0") or []),
                    10, "the failed run said on the stream")


@settings(max_examples=200, deadline=None)
@given(st.one_of(st.binary(max_size=300),
                 st.builds(lambda d: json.dumps(d).encode(),
                           st.dictionaries(st.sampled_from(["event", "session", "instance_id", "id",
                                                            "timestamp", "payload"]),
                                           st.one_of(st.none(), st.integers(), st.text(max_size=30),
                                                     st.just("session.status")), max_size=6))),
       st.text(max_size=140), st.sampled_from([None, "sha512", "sha256", "md5", "SHA512 "]))
def test_whatever_a_webhook_carries_is_an_answer_never_a_crash(body, signature, algorithm):
    from wawp_tui.core import Monitor, client_for
    from wawp_tui.hub.webhooks import Doorbell, signature_ok

    assert signature_ok(WEBHOOK_SECRET.encode(), body, signature, algorithm) is False or \
        signature == sign(WEBHOOK_SECRET.encode(), body, (algorithm or "sha512").strip().lower())
    config = config_for("http://127.0.0.1:9", [])
    bell = Doorbell(Monitor(config, client_for(config)))
    outcome, instance_id = bell.ring(body)
    assert outcome in ("malformed", "ignored", "unknown") and instance_id is None
