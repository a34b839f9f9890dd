"""`wawp-tui bench`: performance figures, measured, side by side in one run.

The simulator runs in a child process (so its CPU is not counted as ours) on 127.0.0.1
with an injected latency; the client and the app run here, the app headless.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import resource
import socket
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from typing import Any

import httpx

from wawp_tui.client.api import WawpClient
from wawp_tui.config import ApiSettings, Config, MonitorSettings
from wawp_tui.core.fleet import FleetState
from wawp_tui.models import InstanceConfig, Secret
from wawp_tui.core.poller import Poller
from wawp_tui.simulator import SIM_TOKEN, build_scenario


#: Seconds the app runs before idle CPU is measured: past the start-up sweep, steady
#: instances poll at their steady pace with random phases (see Poller._spread).
IDLE_WARMUP = 45.0


@dataclass
class BenchOptions:
    instances: int = 500
    latency_ms: float = 50.0
    concurrency: int = 16
    seconds: float = 20.0
    sample: int = 40


@dataclass
class Figures:
    """Every figure of one run, printed as a table or JSON."""

    machine: str
    options: dict[str, Any]
    values: dict[str, Any] = field(default_factory=dict)

    def table(self) -> str:
        width = max(len(k) for k in self.values) if self.values else 10
        lines = [f"wawp-tui bench on {self.machine}",
                 "options: " + ", ".join(f"{k}={v}" for k, v in self.options.items()), ""]
        lines += [f"{k:<{width}}  {v}" for k, v in self.values.items()]
        return "\n".join(lines)


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in open("/proc/cpuinfo", encoding="utf-8"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} cores, Python {sys.version.split()[0]}"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class SimulatorProcess:
    """`wawp-tui simulate` as a child process; stopped on exit."""

    def __init__(self, instances: int, latency_ms: float, scenario: str = "healthy") -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.argv = [sys.executable, "-m", "wawp_tui", "simulate", "--port", str(self.port),
                     "--instances", str(instances), "--scenario", scenario,
                     "--latency-ms", str(latency_ms)]
        self._launch()

    def _launch(self) -> None:
        self.proc = subprocess.Popen(self.argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while True:
            try:
                self.state = httpx.get(f"{self.url}/_sim/state", timeout=5).json()
                break
            except httpx.TransportError:
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    self.stop()
                    raise RuntimeError("the simulator did not start")
                time.sleep(0.1)

    def configs(self) -> tuple[InstanceConfig, ...]:
        return tuple(InstanceConfig(id=i["id"], label=i["label"], token=Secret(SIM_TOKEN))
                     for i in self.state)

    def kill(self) -> None:
        """The server dies at once (a crash, a pulled cable): no graceful shutdown."""
        self.proc.kill()
        self.proc.wait(timeout=10)

    def restart(self) -> None:
        """Back up on the same address, with the scenario's initial state."""
        self._launch()

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()

    def __enter__(self) -> "SimulatorProcess":
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _config(url: str, instances, concurrency: int, refresh: float = 5.0, timeout: float = 30.0,
            auto_heal: bool = False) -> Config:
    return Config(api=ApiSettings(base_url=url, timeout=timeout, max_concurrency=concurrency),
                  monitor=MonitorSettings(refresh=refresh, auto_heal=auto_heal), instances=instances)


# -- sweep -----------------------------------------------------------------------------


async def _sweep(url: str, configs, concurrency: int) -> float:
    fleet = FleetState(configs, time.time)
    async with WawpClient(url, timeout=30, max_concurrency=concurrency) as client:
        poller = Poller(client, fleet, configs, concurrency=concurrency)
        await poller.sweep(ids=[c.id for c in configs[: min(len(configs), concurrency)]])  # warm
        started = time.perf_counter()
        await poller.sweep()
        elapsed = time.perf_counter() - started
    bad = [st.id for st in fleet if st.failures]
    if bad:
        raise RuntimeError(f"{len(bad)} polls failed during the sweep: {fleet.get(bad[0]).last_error}")
    return elapsed


def _sequential(url: str, configs, sample: int) -> float:
    """Per-instance time the way a script without this tool does it: one request at a time."""
    chosen = configs[:sample]
    started = time.perf_counter()
    for cfg in chosen:
        httpx.post(f"{url}/v2/session/info", json={"instance_id": cfg.id, "access_token": SIM_TOKEN},
                   timeout=30)
    return (time.perf_counter() - started) / len(chosen)


# -- the app, headless -------------------------------------------------------------------


async def _ui_figures(url: str, configs, concurrency: int, seconds: float) -> dict[str, Any]:
    from wawp_tui.ui.app import build_app
    from wawp_tui.ui.widgets.fleet_table import FleetTable

    config = _config(url, configs, concurrency)
    client = WawpClient(url, timeout=30, max_concurrency=concurrency)
    app = build_app(config, client, poll=False)
    out: dict[str, Any] = {}
    async with app.run_test(size=(160, 48)) as pilot:
        await app.poller.sweep()
        app._flush_polls()
        await pilot.pause()
        ids = list(app.fleet.instances)
        out["ui_apply_10pct"] = f"{_apply(app, ids[: max(1, len(ids) // 10)], 'STARTING') * 1000:.1f} ms"
        out["ui_apply_all"] = f"{_apply(app, ids, 'STOPPED') * 1000:.1f} ms"
        _apply(app, ids, "WORKING")
        await pilot.pause()
        # Key latency while refreshes flow: a background 10 % change every 250 ms.
        stop = asyncio.Event()

        async def churn() -> None:
            n = 0
            while not stop.is_set():
                chunk = ids[(n * len(ids) // 10) % len(ids):][: max(1, len(ids) // 10)]
                word = "STARTING" if n % 2 else "WORKING"
                for i in chunk:
                    app.fleet.apply_poll_ok(i, word, None, 10.0)
                    app._mark_dirty(i)
                n += 1
                await asyncio.sleep(0.25)

        task = asyncio.create_task(churn())
        table = app.query_one(FleetTable)
        table.focus()
        await pilot.pause()
        latencies = await _key_latencies(app, table, 40)
        stop.set()
        await task
        latencies.sort()
        out["key_latency_p95"] = f"{latencies[int(len(latencies) * 0.95) - 1] * 1000:.1f} ms"
        out["key_latency_p50"] = f"{statistics.median(latencies) * 1000:.1f} ms"
    await client.aclose()
    return out


async def _key_latencies(app, table, presses: int) -> list[float]:
    """Key press to repaint: post a key, wait until the cursor moved and the screen was
    drawn after it (Pilot.press adds fixed waits of its own, so it is not used here)."""
    from textual import events

    screen = app.screen
    painted: list[float] = []
    original = screen._compositor_refresh

    def recording() -> None:
        original()
        painted.append(time.perf_counter())

    screen._compositor_refresh = recording
    latencies = []
    try:
        for n in range(presses):
            key = "down" if n % 2 == 0 else "up"
            before = table.cursor_row
            started = time.perf_counter()
            app.post_message(events.Key(key, None))
            deadline = started + 5
            while time.perf_counter() < deadline:
                await asyncio.sleep(0.0005)
                if table.cursor_row != before and painted and painted[-1] > started:
                    break
            latencies.append(time.perf_counter() - started)
            await asyncio.sleep(0.03)
    finally:
        screen._compositor_refresh = original
    return latencies


def _apply(app, ids, word: str) -> float:
    """Time to apply one refresh in which `ids` changed, on the UI thread."""
    for i in ids:
        app.fleet.apply_poll_ok(i, word, None, 10.0)
    started = time.perf_counter()
    app._render_rows(set(ids))
    return time.perf_counter() - started


def _idle_cpu(url: str, n: int, seconds: float) -> tuple[float, float]:
    """CPU share of one core and RSS of the real app left alone (a child process)."""
    code = (
        "import asyncio,sys,time,resource\n"
        "from wawp_tui.devtools.bench import idle_child\n"
        f"print(idle_child({url!r}, {n}, {seconds}))\n")
    # Start-up and the first sweep grow with N; the warm-up and the measure are fixed.
    limit = IDLE_WARMUP + seconds + 120 + n / 20
    try:
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             timeout=limit)
    except subprocess.TimeoutExpired:
        raise RuntimeError(f"the idle measurement did not finish within {limit:.0f} s") from None
    if out.returncode != 0:
        raise RuntimeError(out.stderr.strip().splitlines()[-1] if out.stderr else "idle child failed")
    cpu, rss = out.stdout.strip().splitlines()[-1].split()
    return float(cpu), float(rss)


def idle_child(url: str, n: int, seconds: float) -> str:
    """Run in a child: the app polling N steady instances at refresh 5 s, headless."""
    from wawp_tui.ui.app import build_app

    state = httpx.get(f"{url}/_sim/state", timeout=30).json()[:n]
    configs = tuple(InstanceConfig(id=i["id"], label=i["label"], token=Secret(SIM_TOKEN)) for i in state)
    app = build_app(_config(url, configs, 16), WawpClient(url, timeout=30), poll=True)

    async def run() -> str:
        async with app.run_test(size=(160, 48)) as pilot:
            # Left running for a while: steady instances have slowed to their ceiling.
            await asyncio.sleep(IDLE_WARMUP)
            cpu0, wall0 = time.process_time(), time.perf_counter()
            await asyncio.sleep(seconds)
            cpu = (time.process_time() - cpu0) / (time.perf_counter() - wall0)
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        return f"{cpu * 100:.2f} {rss:.1f}"

    return asyncio.run(run())


def _first_paint() -> float:
    """Process start to the first painted table with statuses, for the demo."""
    code = (
        "import time\n"
        "from wawp_tui.devtools.bench import first_paint_child\n"
        "print(first_paint_child())\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    if out.returncode != 0:
        raise RuntimeError(out.stderr.strip().splitlines()[-1])
    return float(out.stdout.strip().splitlines()[-1])


def _process_age() -> float:
    """Seconds since this process started (Linux: /proc)."""
    with open("/proc/self/stat", encoding="utf-8") as handle:
        start_ticks = int(handle.read().rsplit(")", 1)[1].split()[19])
    with open("/proc/uptime", encoding="utf-8") as handle:
        uptime = float(handle.read().split()[0])
    return uptime - start_ticks / os.sysconf("SC_CLK_TCK")


def first_paint_child() -> str:
    from wawp_tui.cli import make_client
    from wawp_tui.demo import demo_config
    from wawp_tui.ui.app import build_app
    from wawp_tui.ui.widgets.fleet_table import FleetTable

    config = demo_config()
    app = build_app(config, make_client(config, demo=True), demo=True)

    async def run() -> str:
        async with app.run_test(size=(120, 40)) as pilot:
            table = app.query_one(FleetTable)
            while not any(st.status for st in app.fleet) or table.row_count == 0:
                await asyncio.sleep(0.005)
            app._flush_polls()
            await pilot.pause()
            return f"{_process_age():.3f}"

    return asyncio.run(run())


# -- the run -----------------------------------------------------------------------------


def run_bench(opts: BenchOptions) -> Figures:
    figures = Figures(machine(), {"instances": opts.instances, "latency_ms": opts.latency_ms,
                                  "concurrency": opts.concurrency, "seconds": opts.seconds})
    v = figures.values
    n, c, latency = opts.instances, opts.concurrency, opts.latency_ms / 1000.0
    with SimulatorProcess(n, opts.latency_ms) as sim:
        configs = sim.configs()
        sweep = asyncio.run(_sweep(sim.url, configs, c))
        floor = math.ceil(n / c) * latency
        v["sweep"] = f"{sweep:.2f} s for {n} instances"
        v["sweep_floor"] = f"{floor:.2f} s (ceil({n}/{c}) x {opts.latency_ms:g} ms)"
        v["sweep_vs_floor"] = f"{sweep / floor:.2f}x" if floor else "n/a"
        v["requests_per_s"] = f"{n / sweep:.0f}"
        per = _sequential(sim.url, configs, min(opts.sample, n))
        v["sequential"] = f"{per * n:.1f} s (extrapolated from {min(opts.sample, n)} requests)"
        v["speedup"] = f"{per * n / sweep:.1f}x"
    with SimulatorProcess(n, 0.0) as sim:
        v.update(asyncio.run(_ui_figures(sim.url, sim.configs(), c, opts.seconds)))
        cpu, rss = _idle_cpu(sim.url, n, opts.seconds)
        v["idle_cpu"] = (f"{cpu:.2f} % of one core ({n} instances, refresh 5 s, measured "
                         f"{opts.seconds:g} s after {IDLE_WARMUP:g} s running)")
        v["rss_mb"] = f"{rss:.0f} MB at {n} instances"
    v["first_paint"] = f"{_first_paint():.2f} s (demo)"
    return figures


def main(opts: BenchOptions, as_json: bool) -> int:
    figures = run_bench(opts)
    if as_json:
        print(json.dumps({"machine": figures.machine, "options": figures.options, **figures.values},
                         indent=2))
    else:
        print(figures.table())
    return 0
