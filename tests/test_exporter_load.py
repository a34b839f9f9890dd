"""The exporter under load from local clients: idle sockets, a slowloris, a client that
drips its headers and 300 concurrent scrapes must not hold /healthz or /metrics at 503;
idle and slow connections are closed after the header deadline. Also: the warning for
a listener beyond loopback, and tags that hold a comma."""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys
import time

import httpx
import pytest

from tests.conftest import make_config
from tests.exporter_kit import SECRET, samples
from wawp_tui.commands.exporter import Exporter, bind, exporter_config
from wawp_tui.commands.metrics import instance_labels
from wawp_tui.commands.served import exposure_warning
from wawp_tui.core import FleetState, client_for
from wawp_tui.models import InstanceConfig, Secret
from wawp_tui.simulator import SimInstance, Simulator

#: The deadline for a request head in these tests (10 s in the product).
HEADER_TIMEOUT = 1.0


def fleet() -> list[SimInstance]:
    return [SimInstance(id=f"LOAD{n:08d}", label=f"Load {n}", token=SECRET,
                        tags=("eu,prod", "100%") if n == 0 else ("us",)) for n in range(4)]


async def start_exporter(serve):
    sims = fleet()
    url = serve(Simulator(sims)).url
    config = exporter_config(make_config(url, sims), (), False)
    exporter = Exporter(config, client_for(config), header_timeout=HEADER_TIMEOUT)
    sock = bind("127.0.0.1", 0)
    stop = asyncio.Event()
    task = asyncio.ensure_future(exporter.serve(sock, stop=stop))
    await asyncio.wait_for(exporter.serving.wait(), 10)
    host, port = exporter.address
    return exporter, f"http://{host}:{port}", (stop, task, sock)


async def stop_exporter(handle) -> None:
    stop, task, sock = handle
    stop.set()
    await asyncio.wait_for(task, 15)
    sock.close()


async def closed_by_server(reader: asyncio.StreamReader, deadline: float) -> bool:
    """True once the server closed the connection (EOF or reset) before `deadline`."""
    try:
        while True:
            data = await asyncio.wait_for(reader.read(65536), max(0.01, deadline - time.monotonic()))
            if not data:
                return True
    except (ConnectionError, OSError):
        return True
    except TimeoutError:
        return False


async def test_idle_sockets_and_a_slowloris_cannot_hold_the_exporter_down(serve):
    exporter, url, handle = await start_exporter(serve)
    host, port = exporter.address
    opened: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
    try:
        for n in range(63 + 200):
            reader, writer = await asyncio.open_connection(host, port)
            if n >= 63:  # the slowloris: a request head begun, never finished
                writer.write(b"GET /metrics HTTP/1.1\r\nHost: x\r\nX-Slow: ")
                await writer.drain()
            opened.append((reader, writer))
        async with httpx.AsyncClient(timeout=10) as http:
            health = await http.get(url + "/healthz")
            metrics = await http.get(url + "/metrics")
        assert (health.status_code, health.text) == (200, "ok\n")
        assert metrics.status_code == 200 and samples(metrics.text)
        # and every one of them is closed by the server after the header deadline
        deadline = time.monotonic() + 30
        closed = await asyncio.gather(*(closed_by_server(r, deadline) for r, _ in opened))
        assert all(closed), f"{closed.count(False)} of {len(closed)} connections still open"
    finally:
        for _, writer in opened:
            writer.close()
        await stop_exporter(handle)


async def test_a_client_dripping_its_headers_is_closed_at_the_deadline(serve):
    """A byte every 0.1 s resets no timer: the head must be whole within the deadline."""
    exporter, url, handle = await start_exporter(serve)
    reader, writer = await asyncio.open_connection(*exporter.address)
    head = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Drip: " + b"a" * 400 + b"\r\n\r\n"
    sent = 0

    async def drip() -> None:
        nonlocal sent
        try:
            for byte in head:
                writer.write(bytes([byte]))
                await writer.drain()
                sent += 1
                await asyncio.sleep(0.1)
        except (ConnectionError, OSError):
            pass

    dripping = asyncio.ensure_future(drip())
    try:
        assert await closed_by_server(reader, time.monotonic() + 30)
        assert sent < len(head)  # closed while it was still dripping, not after
    finally:
        dripping.cancel()
        writer.close()
        await stop_exporter(handle)


async def test_300_concurrent_scrapes_all_get_their_metrics(serve):
    exporter, url, handle = await start_exporter(serve)
    try:
        limits = httpx.Limits(max_connections=400, max_keepalive_connections=0)
        async with httpx.AsyncClient(timeout=60, limits=limits) as http:
            scrapes = [http.get(url + "/metrics") for _ in range(300)]
            healths = [http.get(url + "/healthz") for _ in range(20)]
            replies = await asyncio.gather(*scrapes, *healths)
        codes = [r.status_code for r in replies]
        assert codes == [200] * 320, {c: codes.count(c) for c in set(codes)}
        assert all("wawp_instance_up" in r.text for r in replies[:300])
    finally:
        await stop_exporter(handle)


def test_tags_holding_a_comma_stay_apart():
    cfg = InstanceConfig(id="T00000000001", label="t", token=Secret("x"),
                         tags=("eu,prod", "100%", "prod"))
    st = FleetState([cfg], clock=time.time).get(cfg.id)
    tags = instance_labels(st)[2]
    assert tags == "100%25,eu%2Cprod,prod"
    split = [t.replace("%2C", ",").replace("%25", "%") for t in tags.split(",")]
    assert split == ["100%", "eu,prod", "prod"]
    # the documented matcher finds the tag prod, never inside "eu,prod"
    one = re.compile(r"(.*,)?prod(,.*)?")
    assert one.fullmatch(tags)
    only_joined = instance_labels(FleetState([InstanceConfig(
        id="T00000000002", label="t", token=Secret("x"), tags=("eu,prod",))], clock=time.time)
        .get("T00000000002"))[2]
    assert not one.fullmatch(only_joined)


@pytest.mark.parametrize(("host", "warned"), [
    ("0.0.0.0", True), ("::", True), ("192.0.2.7", True), ("metrics.example", True),
    ("127.0.0.1", False), ("127.1.2.3", False), ("::1", False), ("localhost", False),
])
def test_a_listener_beyond_loopback_is_warned_about(host, warned):
    warning = exposure_warning(host, 9877, "exporter")
    assert (warning is not None) == warned
    if warning:
        assert "no authentication" in warning and "reachable from other machines" in warning


def test_the_command_warns_before_it_listens(tmp_path):
    """As a user runs it: a non-loopback --listen prints the warning first (192.0.2.1 is a
    documentation address no machine has, so nothing is ever exposed by this test)."""
    config = tmp_path / "config.toml"
    config.write_text('[api]\nbase_url = "http://127.0.0.1:9"\n\n[[instances]]\nid = "A1"\n'
                      'label = "One"\ntoken = "not-a-real-token-2"\n')
    config.chmod(0o600)
    proc = subprocess.run([sys.executable, "-m", "wawp_tui", "exporter", "--config", str(config),
                           "--listen", "192.0.2.1:0"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert "no authentication" in lines[0] and "192.0.2.1:0" in lines[0]
    assert "cannot listen on 192.0.2.1:0" in lines[-1]
