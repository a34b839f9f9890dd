"""Helpers for the exporter's tests: a known fleet, an exporter in this event loop or as
a real process, and scrapes parsed back with prometheus-client's own parser.

Nothing here sleeps for a fixed time: waits poll a condition until a deadline.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import selectors
import signal
import socket
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from wawp_tui.commands.exporter import Exporter, bind, exporter_config
from wawp_tui.core import client_for
from wawp_tui.models import FAILED, SCAN_QR_CODE, STARTING, STOPPED
from wawp_tui.simulator import SimInstance
from wawp_tui.simulator.state import Fault

#: The fleet's token: it must never appear in a scrape.
SECRET = "tok-SECRET-4f9a8b7c6d5e"
#: A label that tries to break the exposition and the terminal.
EVIL_LABEL = 'Evil "desk" \x1b[2J\x1b]0;pwned\x07 {id="x"}\nnext line ' + "x" * 80


def fleet(now: float | None = None) -> list[SimInstance]:
    """Eight instances, one per case the metrics must tell apart (order matters)."""
    now = time.time() if now is None else now

    def inst(n: int, label: str, tags: tuple[str, ...], **state) -> SimInstance:
        state.setdefault("started_at", now - 3600)
        return SimInstance(id=f"EXP{n:09d}", label=label, token=SECRET, tags=tags, **state)

    return [
        inst(0, "Working EU", ("eu", "prod")),
        inst(1, "Stopped EU", ("eu",), base_status=STOPPED),
        inst(2, "Failed US", ("us", "prod"), fail_at=now - 120),
        inst(3, "Scan QR US", ("us",), base_status=SCAN_QR_CODE, logged_in=False),
        inst(4, "Starting EU", ("eu",), base_status=STARTING, stuck_starting=True, started_at=now),
        inst(5, "Passkey US", ("us",), raw_status="PASSKEY_REQUIRED"),
        inst(6, "New word EU", ("eu",), raw_status="BRAND_NEW_WORD"),
        inst(7, EVIL_LABEL, ("us", "zz top")),
        # WAHA's 500 handler: the request echoed back, token included
        inst(8, "Echo 500 EU", ("eu",), faults=[Fault("echo_500", None, {"format": "text"})]),
    ]


#: What each instance of `fleet()` reads as (None: never a good poll, when broken).
EXPECTED = {
    "EXP000000000": "WORKING", "EXP000000001": "STOPPED", "EXP000000002": FAILED,
    "EXP000000003": "SCAN_QR_CODE", "EXP000000004": "STARTING",
    "EXP000000005": "PASSKEY_REQUIRED", "EXP000000006": "UNKNOWN", "EXP000000007": "WORKING",
    "EXP000000008": None,
}


def samples(text: str) -> list[tuple[str, dict[str, str], float]]:
    """Every sample of an exposition: (name, labels, value)."""
    return [(s.name, dict(s.labels), s.value)
            for fam in text_string_to_metric_families(text) for s in fam.samples]


def family_names(text: str) -> set[str]:
    return {fam.name for fam in text_string_to_metric_families(text)}


def value(found: list[tuple[str, dict[str, str], float]], name: str, **labels: str) -> float | None:
    """The value of the one sample `name` with these labels (None when absent)."""
    hits = [v for n, lab, v in found if n == name and all(lab.get(k) == x for k, x in labels.items())]
    assert len(hits) <= 1, f"{name} {labels}: {len(hits)} samples"
    return hits[0] if hits else None


def current_status(found) -> dict[str, str]:
    """Instance id -> the status whose wawp_instance_status series is 1."""
    out: dict[str, list[str]] = defaultdict(list)
    for name, labels, v in found:
        if name == "wawp_instance_status" and v == 1:
            out[labels["id"]].append(labels["status"])
    assert all(len(words) == 1 for words in out.values()), out
    return {i: words[0] for i, words in out.items()}


async def scrape(url: str) -> str:
    async with httpx.AsyncClient(timeout=5) as http:
        reply = await http.get(url + "/metrics")
        reply.raise_for_status()
        return reply.text


async def scrape_until(url: str, ready: Callable[[list], bool], timeout: float = 15.0) -> str:
    """Scrape until `ready(samples)` holds; fail with the last scrape after `timeout`."""
    deadline = time.monotonic() + timeout
    text = ""
    async with httpx.AsyncClient(timeout=5) as http:
        while time.monotonic() < deadline:
            text = (await http.get(url + "/metrics")).text
            if ready(samples(text)):
                return text
            await asyncio.sleep(0.05)
    raise AssertionError(f"condition not met in {timeout}s; last scrape:\n{text[:3000]}")


def polled_all(ids) -> Callable[[list], bool]:
    """Ready when every instance in `ids` has had a poll (good or bad)."""
    wanted = set(ids)

    def ready(found) -> bool:
        seen = {lab["id"] for n, lab, v in found if n == "wawp_instance_up" and v == 1}
        seen |= {lab["id"] for n, lab, v in found if n == "wawp_instance_stale" and v == 1}
        return wanted <= seen

    return ready


def settled(found) -> bool:
    """Ready when every instance of `fleet()` reads as EXPECTED: its status, up for the
    good ones, stale for the broken one (a poll that timed out on a loaded machine is
    retried at the normal pace, so waiting for this is waiting for the truth)."""
    wanted = {i: s for i, s in EXPECTED.items() if s is not None}
    if current_status(found) != wanted:
        return False
    ups = {lab["id"]: v for n, lab, v in found if n == "wawp_instance_up"}
    stale = {lab["id"]: v for n, lab, v in found if n == "wawp_instance_stale"}
    return all(ups.get(i) == (0 if s is None else 1) and stale.get(i) == (1 if s is None else 0)
               for i, s in EXPECTED.items())


@contextlib.asynccontextmanager
async def exporter_in_loop(config, tags=(), auto_heal=False):
    """An Exporter serving on a free loopback port in this event loop; stopped on exit."""
    cfg = exporter_config(config, tags, auto_heal)
    exporter = Exporter(cfg, client_for(cfg))
    sock = bind("127.0.0.1", 0)
    stop = asyncio.Event()
    task = asyncio.ensure_future(exporter.serve(sock, tags=tags, stop=stop))
    try:
        await asyncio.wait_for(exporter.serving.wait(), 10)
        host, port = exporter.address
        yield exporter, f"http://{host}:{port}"
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)
        sock.close()


def write_config(path: Path, url: str, sims, *, refresh: float = 1.0) -> Path:
    """A config file for `sims` at `url` (token from env WAWP_ACCESS_TOKEN)."""
    lines = [f'[api]\nbase_url = "{url}"\ntimeout = 5\nconnect_timeout = 3\n',
             f"[monitor]\nrefresh = {refresh}\n"]
    for inst in sims:
        label = inst.label.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") \
            .replace("\x1b", "\\u001b").replace("\x07", "\\u0007")
        tags = ", ".join(f'"{t}"' for t in inst.tags)
        lines.append(f'[[instances]]\nid = "{inst.id}"\nlabel = "{label}"\ntags = [{tags}]\n')
    path.write_text("\n".join(lines))
    return path


class ExporterProcess:
    """`python -m wawp_tui exporter` as a real process on a free port; `.url`, `.stop()`."""

    def __init__(self, config: Path, *args: str, env: dict[str, str] | None = None,
                 timeout: float = 15.0) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "wawp_tui", "exporter", "--config", str(config),
             "--listen", "127.0.0.1:0", *args],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            text=True, env={**os.environ, "WAWP_ACCESS_TOKEN": SECRET, **(env or {})})
        self.lines: list[str] = []
        self.url = ""
        deadline = time.monotonic() + timeout
        with selectors.DefaultSelector() as sel:
            sel.register(self.proc.stderr, selectors.EVENT_READ)
            while not self.url and time.monotonic() < deadline:
                if not sel.select(timeout=max(0.0, deadline - time.monotonic())):
                    break
                line = self.proc.stderr.readline()
                if not line:
                    break
                self.lines.append(line)
                m = re.search(r"http://(127\.0\.0\.1:\d+)/metrics", line)
                if m:
                    self.url = f"http://{m.group(1)}"
        if not self.url:
            self.kill()
            raise AssertionError(f"exporter did not start: {self.lines}")

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 10.0) -> tuple[int, float]:
        """Send `sig`, wait for the exit; (exit code, seconds it took)."""
        started = time.monotonic()
        self.proc.send_signal(sig)
        try:
            code = self.proc.wait(timeout=timeout)
        finally:
            self.kill()
        return code, time.monotonic() - started

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
        if self.proc.stderr is not None:
            rest = self.proc.stderr.read()
            self.proc.stderr.close()
            if rest:
                self.lines.append(rest)


def port_is_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True
