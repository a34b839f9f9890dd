"""The wall page's figures (issue 25), measured as a TV would use it: real processes on
127.0.0.1, the simulator pushing signed webhooks, the hub with its page (`wawp-tui serve
--web`), and browser tabs: websocket clients that speak the page's protocol, so each
starts its own `wawp-tui --wall --hub` process on the hub's machine, as a browser's tab
does (a browser itself would measure its own drawing, not ours).

- `web_{n}_no_tabs_polls_per_s` / `web_{n}_{tabs}_tabs_polls_per_s` and
  `web_{n}_tabs_vs_none_requests_x`:
  the API requests a second the simulator serves, the hub alone, then with the tabs open,
  over windows of the same length: a tab asks the hub, never the API;
- `web_tab_{n}_idle_cpu_pct`: a tab's process idle (the median of the tabs; `_max_pct`);
- `web_{n}_webhook_shown_p50_s` / `_p95_s`: WORKING -> FAILED on the simulator until
  each tab's socket has received a frame showing it (the FAILED tile), the doorbell on;
- `web_{n}_polling_shown_p95_s`, `web_{n}_polling_interval_s` and
  `web_{n}_polling_over_interval_max_s`: the same with no webhook (the hub learns it at
  its next steady poll of that instance): how long, the steady interval between two polls
  of the instance on the simulator's call log, and the most a tab took beyond that
  interval (the target: one interval plus 1 s, so at most 1 s).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import statistics
import threading
import time
from collections.abc import Iterator

import aiohttp
import httpx

from wawp_tui.devtools.bench_hub import SECRET, TOKEN, HubProcess, _api_calls, _cpu_s, _flip, _p95, _wait, hub_file
from wawp_tui.devtools.bench_status import Product
from wawp_tui.devtools.harness import SimulatorProcess, free_port
from wawp_tui.hub.web import COOKIE, page_key

#: The wall's own viewer (the TV's token: a made-up one, long enough for the hub).
VIEWER = "bench-wall-viewer-0123456789abcdef"
TABS = 10


def web_file(path: str, sim_url: str, port: int, instances: list[dict], concurrency: int) -> str:
    """The hub's config (bench_hub's: an operator, a webhook secret) plus a viewer for the TV."""
    hub_file(path, sim_url, port, instances, concurrency)
    with open(path, "a", encoding="utf-8") as handle:
        handle.write('\n[[hub.users]]\nname = "tv"\ntoken_env = "WAWP_BENCH_TV_TOKEN"\nrole = "viewer"\n')
    return path


class WebTeam:
    """A simulator pushing webhooks to a hub that serves the wall page, on fixed ports (the
    hub can be stopped and started again on the same ones); `close()` stops both."""

    def __init__(self, product: Product, n: int, env: dict[str, str], home: str, *,
                 concurrency: int = 16, tabs: int = TABS, scenario: str = "healthy",
                 webhooks: bool = True) -> None:
        self.product = product
        self.port, self.web_port = free_port(), free_port()
        self.env = {**env, "WAWP_BENCH_HUB_TOKEN": TOKEN, "WAWP_BENCH_SECRET": SECRET,
                    "WAWP_BENCH_TV_TOKEN": VIEWER}
        self.tabs = tabs
        hooks = ("--webhook", f"http://127.0.0.1:{self.port}/webhooks/wawp", "--webhook-secret-env",
                 "WAWP_BENCH_SECRET") if webhooks else ()
        self.sim = SimulatorProcess(n, 0.0, scenario, extra=hooks, env=self.env)
        self.config = web_file(f"{home}/web-{n}.toml", self.sim.url, self.port, self.sim.state, concurrency)
        self.page_url = f"http://127.0.0.1:{self.web_port}"
        self.hub: HubProcess | None = None
        try:
            self.start_hub()
        except BaseException:
            self.sim.stop()
            raise

    def start_hub(self) -> None:
        self.hub = HubProcess(self.product, self.config, self.port, self.env, extra=(
            "--web", "--web-listen", f"127.0.0.1:{self.web_port}", "--web-tabs", str(self.tabs)))

    def stop_hub(self) -> None:
        if self.hub is not None:
            self.hub.stop()
            self.hub = None

    def fleet(self) -> dict:
        """The hub's /api/v1/fleet, as the TV's user reads it."""
        assert self.hub is not None
        return httpx.get(f"{self.hub.url}/api/v1/fleet", timeout=30,
                         headers={"authorization": f"Bearer {VIEWER}"}).json()

    def tab_pids(self) -> list[int]:
        """The hub's tab processes (`wawp-tui --wall --hub`), from /proc."""
        if self.hub is None:
            return []
        found = []
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open(f"/proc/{entry}/stat", encoding="ascii", errors="replace") as handle:
                    parent = int(handle.read().rsplit(")", 1)[1].split()[1])
                with open(f"/proc/{entry}/cmdline", "rb") as handle:
                    argv = handle.read().split(b"\0")
            except (OSError, ValueError, IndexError):
                continue
            if parent == self.hub.proc.pid and b"--wall" in argv:
                found.append(int(entry))
        return found

    def close(self) -> None:
        try:
            self.stop_hub()
        finally:
            self.sim.stop()


class Tabs:
    """`count` browser tabs as websocket clients of the page (on a loop in a thread):
    each has its own process on the hub's machine. `seen[k]`: when tab k last received a
    frame with `watch` in it since `rearm()`."""

    def __init__(self, page_url: str, count: int, *, size: tuple[int, int] = (160, 48),
                 watch: bytes = b"FAILED") -> None:
        self.url = page_url.replace("http://", "ws://", 1) + f"/ws?width={size[0]}&height={size[1]}"
        self.watch = watch
        self.seen: list[float | None] = [None] * count
        self.drawn = [False] * count
        self.loop = asyncio.new_event_loop()
        self._stop = asyncio.Event()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()
        self._all = asyncio.run_coroutine_threadsafe(self._run(count), self.loop)

    async def _run(self, count: int) -> None:
        tasks = [asyncio.ensure_future(self._tab(k)) for k in range(count)]
        await self._stop.wait()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _tab(self, k: int) -> None:
        async with aiohttp.ClientSession(cookies={COOKIE: page_key(VIEWER)}) as session, \
                session.ws_connect(self.url, max_msg_size=16 * 1024 * 1024) as socket_:
            async for message in socket_:
                if message.type != aiohttp.WSMsgType.BINARY:
                    continue
                if b"instances" in message.data:
                    self.drawn[k] = True
                if self.seen[k] is None and self.watch in message.data:
                    self.seen[k] = time.perf_counter()

    def rearm(self) -> None:
        self.seen = [None] * len(self.seen)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self._stop.set)
        with contextlib.suppress(Exception):
            self._all.result(30)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)
        self.loop.close()


@contextlib.contextmanager
def _tabs(page_url: str, count: int) -> Iterator[Tabs]:
    tabs = Tabs(page_url, count)
    try:
        yield tabs
    finally:
        tabs.close()


def web_figures(product: Product, n: int, env: dict[str, str], home: str, *, warmup: float,
                seconds: float, concurrency: int, tabs: int = TABS, trials: int = 10) -> dict[str, float]:
    """The page's figures at `n` instances (see the module docstring)."""
    out: dict[str, float] = {}
    team = WebTeam(product, n, env, home, concurrency=concurrency, tabs=tabs)
    try:
        assert team.hub is not None
        time.sleep(warmup)
        calls0, t0 = _api_calls(team.sim.url), time.monotonic()
        time.sleep(seconds)
        calls1, t1 = _api_calls(team.sim.url), time.monotonic()
        alone = (calls1 - calls0) / (t1 - t0)
        with _tabs(team.page_url, tabs) as clients:
            if not _wait(lambda: all(clients.drawn), 120):
                raise RuntimeError("the wall page's tabs did not draw")
            pids = team.tab_pids()
            if len(pids) != tabs:
                raise RuntimeError(f"{len(pids)} tab processes, not {tabs}")
            time.sleep(min(warmup, 20.0))
            cpu0, calls0, t0 = [_cpu_s(p) for p in pids], _api_calls(team.sim.url), time.monotonic()
            time.sleep(seconds)
            cpu1, calls1, t1 = [_cpu_s(p) for p in pids], _api_calls(team.sim.url), time.monotonic()
            opened = (calls1 - calls0) / (t1 - t0)
            cpu = [100.0 * (b - a) / (t1 - t0) for a, b in zip(cpu0, cpu1)]
            out[f"web_{n}_no_tabs_polls_per_s"] = alone
            out[f"web_{n}_{tabs}_tabs_polls_per_s"] = opened
            out[f"web_{n}_tabs_vs_none_requests_x"] = opened / max(1e-9, alone)
            out[f"web_tab_{n}_idle_cpu_pct"] = statistics.median(cpu)
            out[f"web_tab_{n}_idle_cpu_max_pct"] = max(cpu)
            delays: list[float] = []
            ids = [i["id"] for i in team.sim.state]
            for k in range(trials):
                target = ids[(k * 37) % len(ids)]
                clients.rearm()
                changed = time.perf_counter()
                _flip(team.sim.url, target, "FAILED")
                _wait(lambda: all(s is not None for s in clients.seen), 60)
                delays += [(s if s is not None else time.perf_counter()) - changed for s in clients.seen]
                _flip(team.sim.url, target, None)
                _wait(lambda t=target: team.hub is not None and team.hub.status(t) == "WORKING", 30)
                time.sleep(3.0)  # the FAILED tile and alert leave every tab first
            out[f"web_{n}_webhook_shown_p50_s"] = statistics.median(delays)
            out[f"web_{n}_webhook_shown_p95_s"] = _p95(delays)
    finally:
        team.close()
    return out


def _info_times(sim_url: str, instance_id: str) -> list[float]:
    """When the simulator served `instance_id`'s session info (its clock, seconds)."""
    calls = httpx.get(f"{sim_url}/_sim/calls", timeout=30).json()
    return sorted(c["at"] for c in calls if c.get("instance_id") == instance_id
                  and str(c.get("endpoint", "")).endswith("/session/info"))


def polling_figures(product: Product, n: int, env: dict[str, str], home: str, *, warmup: float,
                    concurrency: int, tabs: int = 3, trials: int = 5) -> dict[str, float]:
    """A change on the wall page with no webhook: the hub's steady poll finds it."""
    out: dict[str, float] = {}
    team = WebTeam(product, n, env, home, concurrency=concurrency, tabs=tabs, webhooks=False)
    try:
        with _tabs(team.page_url, tabs) as clients:
            if not _wait(lambda: all(clients.drawn), 120):
                raise RuntimeError("the wall page's tabs did not draw")
            time.sleep(warmup)
            delays: list[float] = []
            intervals: list[float] = []
            beyond: list[float] = []
            ids = [i["id"] for i in team.sim.state]
            for k in range(trials):
                target = ids[(k * 53) % len(ids)]
                clients.rearm()
                changed = time.perf_counter()
                wall_changed = time.time()
                _flip(team.sim.url, target, "FAILED")
                _wait(lambda: all(s is not None for s in clients.seen), 180)
                taken = [(s if s is not None else time.perf_counter()) - changed for s in clients.seen]
                delays += taken
                polls = _info_times(team.sim.url, target)
                before = [t for t in polls if t <= wall_changed]
                after = [t for t in polls if t > wall_changed]
                if len(before) >= 2:
                    interval = before[-1] - before[-2]
                elif before and after:
                    interval = after[0] - before[-1]
                else:
                    interval = float("nan")
                intervals.append(interval)
                beyond.append(max(taken) - interval)
                _flip(team.sim.url, target, None)
                _wait(lambda t=target: team.hub is not None and team.hub.status(t) == "WORKING", 180)
                time.sleep(3.0)
            out[f"web_{n}_polling_shown_p50_s"] = statistics.median(delays)
            out[f"web_{n}_polling_shown_p95_s"] = _p95(delays)
            out[f"web_{n}_polling_interval_s"] = statistics.median(intervals)
            out[f"web_{n}_polling_over_interval_max_s"] = max(beyond)
    finally:
        team.close()
    return out
