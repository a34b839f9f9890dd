"""WawpClient against the simulator served by uvicorn on 127.0.0.1: real sockets."""

from __future__ import annotations

import asyncio
import logging
import time

import pytest

from wawp_tui.client.api import WawpClient
from wawp_tui.client.errors import (
    BadGateway,
    BadRequest,
    Forbidden,
    MalformedResponse,
    NetworkError,
    NotFound,
    RateLimited,
    ServerError,
    Timeout,
    Unauthorized,
    WawpError,
)
from wawp_tui.models import InstanceConfig, Secret
from wawp_tui.simulator import SIM_TOKEN, SimInstance, Simulator


def _fleet(clock):
    return [
        SimInstance(id="AAAAAAAAAAA1", label="one", token=SIM_TOKEN),
        SimInstance(id="AAAAAAAAAAA2", label="two", token=SIM_TOKEN, logged_in=False,
                    base_status="SCAN_QR_CODE"),
        SimInstance(id="AAAAAAAAAAA3", label="three", token=SIM_TOKEN, base_status="STOPPED"),
    ]


@pytest.fixture
def sim(serve, clock):
    app = Simulator(_fleet(clock), clock=clock)
    handle = serve(app)
    return app, handle.url


def inst(instance_id="AAAAAAAAAAA1", token=SIM_TOKEN) -> InstanceConfig:
    return InstanceConfig(id=instance_id, label=instance_id, token=Secret(token))


async def test_every_endpoint(sim, clock):
    app, url = sim
    async with WawpClient(url, timeout=2) as client:
        info = await client.info(inst())
        assert info.status == "WORKING" and info.me["pushName"]
        assert (await client.me(inst()))["id"].endswith("@c.us")
        assert (await client.restart(inst())).status == "STARTING"
        clock.advance(10)
        assert (await client.info(inst())).status == "WORKING"
        assert (await client.stop(inst())).status == "STOPPED"
        assert (await client.start(inst())).status == "STARTING"
        clock.advance(10)
        assert (await client.logout(inst())).status == "SCAN_QR_CODE"
        qr = await client.qr(inst())
        assert qr.value.startswith("2@") and qr.expires_at > clock()
        code = await client.request_code(inst(), "+201012345678")
        assert len(code) == 9 and code[4] == "-"
    # Every call carried its credentials in the body, never in the URL.
    assert {c["credentials_in"] for c in app.calls} == {"body"}


async def test_query_credentials_mode(sim):
    app, url = sim
    async with WawpClient(url, credentials_in="query") as client:
        assert (await client.info(inst())).status == "WORKING"
    assert app.calls[-1]["credentials_in"] == "query"


async def test_documented_errors(sim):
    app, url = sim
    async with WawpClient(url, timeout=2) as client:
        with pytest.raises(Unauthorized, match="access token rejected"):
            await client.info(inst(token="wrong-token"))
        with pytest.raises(Unauthorized):  # auth before existence
            await client.info(inst("NOSUCHINSTAN", token="wrong-token"))
        with pytest.raises(NotFound, match="deleted or wrong id"):
            await client.info(inst("NOSUCHINSTAN"))
        with pytest.raises(BadRequest, match="QR is only available"):
            await client.qr(inst())
        with pytest.raises(BadRequest, match="not logged in"):
            await client.me(inst("AAAAAAAAAAA2"))


@pytest.mark.parametrize(
    "kind, params, error, words",
    [
        ("html_502", {}, BadGateway, "bad gateway (502)"),
        ("html_500", {}, ServerError, "server error (500)"),
        ("xml_400", {}, BadRequest, "Missing parameter instance_id"),
        ("text_500", {}, ServerError, "engine crashed"),
        ("malformed_json", {}, MalformedResponse, "not valid JSON"),
        ("empty_200", {}, MalformedResponse, "empty body"),
        ("rate_limit", {"retry_after": 9}, RateLimited, "retry in 9s"),
        ("forbidden", {}, Forbidden, "quota"),
        ("not_found", {}, NotFound, "deleted or wrong id"),
        ("unauthorized", {}, Unauthorized, "token"),
        ("drop", {}, NetworkError, "connection dropped"),
    ],
)
async def test_fault_kinds_become_one_line_typed_errors(sim, kind, params, error, words):
    app, url = sim
    app.inject("AAAAAAAAAAA1", kind, count=1, **params)
    async with WawpClient(url, timeout=2) as client:
        with pytest.raises(error) as caught:
            await client.info(inst())
        message = str(caught.value)
        assert words in message
        assert "\n" not in message and "<" not in message and len(message) <= 120
        # The fault was for one request only: the next one is fine.
        assert (await client.info(inst())).status == "WORKING"
    if kind == "rate_limit":
        assert caught.value.retry_after == 9


async def test_unknown_status_is_kept(sim):
    app, url = sim
    app.inject("AAAAAAAAAAA1", "unknown_status", count=1, status="MAINTENANCE")
    async with WawpClient(url) as client:
        info = await client.info(inst())
    assert info.status == "MAINTENANCE" and not info.known


async def test_hung_instance_times_out_without_holding_the_others(sim):
    app, url = sim
    app.inject("AAAAAAAAAAA1", "hang")
    async with WawpClient(url, timeout=0.5, connect_timeout=0.5) as client:
        started = time.monotonic()
        results = await asyncio.gather(
            client.info(inst("AAAAAAAAAAA1")), client.info(inst("AAAAAAAAAAA3")),
            return_exceptions=True)
        assert isinstance(results[0], Timeout) and "timeout" in str(results[0])
        assert results[1].status == "STOPPED"
        # The deadline ended it: a hang is held by the simulator for as long as the test.
        assert time.monotonic() - started < 5


async def test_refused_connection_is_a_network_error(sim):
    async with WawpClient("http://127.0.0.1:9", timeout=1, connect_timeout=0.5) as client:
        with pytest.raises(NetworkError, match="connection refused"):
            await client.info(inst())


async def test_token_never_in_messages_reprs_or_logs(sim, caplog):
    app, url = sim
    secret = "secret-token-value-never-shown"
    caplog.set_level(logging.DEBUG)
    messages = []
    for mode in ("body", "query"):
        async with WawpClient(url, timeout=0.5, connect_timeout=0.5, credentials_in=mode) as client:
            for kind in ("html_502", "xml_400", "drop", "rate_limit", "malformed_json"):
                app.inject("AAAAAAAAAAA1", kind, count=1)
                try:
                    await client.info(inst(token=SIM_TOKEN))
                except WawpError as exc:
                    messages += [str(exc), repr(exc)]
            try:
                await client.info(inst(token=secret))
            except WawpError as exc:
                messages += [str(exc), repr(exc)]
            messages.append(repr(client))
    async with WawpClient("http://127.0.0.1:9", connect_timeout=0.5, credentials_in="query") as client:
        try:
            await client.info(inst(token=secret))
        except WawpError as exc:
            messages += [str(exc), repr(exc)]
    messages.append(repr(inst(token=secret)))
    blob = "\n".join(messages) + caplog.text
    assert len(messages) > 10
    assert secret not in blob and SIM_TOKEN not in blob


async def test_a_repeated_info_reply_reads_as_before_until_it_changes_or_a_token_comes(sim):
    """Steady polls answer the same bytes, and the client reuses their reading; a reply
    that differs in one byte is read afresh, and so is the same reply once a token it
    holds has been registered (what was clean before is stale then)."""
    import secrets

    app, url = sim
    later_token = "tok_" + secrets.token_hex(12)  # registered only after the first polls
    body = ('{"status": "WORKING", "me": {"id": "1@c.us", "pushName": "Nadia %s"}}'
            % later_token).encode()

    def reply(content: bytes) -> None:
        app.inject("AAAAAAAAAAA1", "raw", count=1, endpoint="info", code=200,
                   headers={"content-type": "application/json"}, body=content)

    async with WawpClient(url, timeout=2, connect_timeout=1) as client:
        reply(body)
        first = await client.info(inst())
        reply(body)
        again = await client.info(inst())
        assert again is first and later_token in first.me["pushName"]
        Secret(later_token)  # a token is registered: `add`, a reloaded config
        reply(body)
        after = await client.info(inst())
        assert later_token not in after.me["pushName"] and "Nadia" in after.me["pushName"]
        reply(body.replace(b"WORKING", b"FAILED"))
        assert (await client.info(inst())).status == "FAILED"
        assert (await client.info(inst())).status == "WORKING"  # the simulator's own reply
