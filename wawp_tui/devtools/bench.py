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
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from typing import Any

import httpx

from wawp_tui.core import Monitor, client_for
from wawp_tui.devtools.harness import SimulatorProcess, bench_config, machine
from wawp_tui.models import InstanceConfig, Secret
from wawp_tui.simulator import SIM_TOKEN

#: Seconds the app runs before idle CPU is measured: past the start-up sweep, steady
#: instances poll at their steady pace with random phases (see Poller.next_interval).
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


# -- sweep -----------------------------------------------------------------------------


async def _sweep(url: str, configs, concurrency: int) -> float:
    config = bench_config(url, configs, concurrency)
    async with client_for(config) as client:
        monitor = Monitor(config, client)
        await monitor.refresh([c.id for c in configs[: min(len(configs), concurrency)]])  # warm
        started = time.perf_counter()
        await monitor.refresh()
        elapsed = time.perf_counter() - started
    bad = [st.id for st in monitor.fleet if st.failures]
    if bad:
        raise RuntimeError(f"{len(bad)} polls failed during the sweep: {monitor.state(bad[0]).last_error}")
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


def _set_status(url: str, ids: list[str], word: str | None) -> None:
    """What the server says these instances' status is (None: their own again)."""
    httpx.post(f"{url}/_sim/set", json={"instance_ids": ids, "raw_status": word}, timeout=60)


async def _apply(app, url: str, ids: list[str], word: str | None) -> float:
    """Time the UI takes to draw one refresh in which `ids` changed (their polls excluded)."""
    _set_status(url, ids, word)
    await app.fleet_screen.refresh_now(ids)
    return app.fleet_screen.painter.last_draw_seconds


async def _ui_figures(url: str, configs, concurrency: int, seconds: float) -> dict[str, Any]:
    from wawp_tui.ui.app import build_app
    from wawp_tui.ui.widgets.fleet_table import FleetTable

    config = bench_config(url, configs, concurrency)
    app = build_app(config, client_for(config), poll=False)
    out: dict[str, Any] = {}
    async with app.run_test(size=(160, 48)) as pilot:
        await app.fleet_screen.refresh_now()
        await pilot.pause()
        ids = list(app.monitor.fleet.instances)
        tenth = ids[: max(1, len(ids) // 10)]
        out["ui_apply_10pct"] = f"{await _apply(app, url, tenth, 'STARTING') * 1000:.1f} ms"
        out["ui_apply_all"] = f"{await _apply(app, url, ids, 'STOPPED') * 1000:.1f} ms"
        await _apply(app, url, ids, None)
        await pilot.pause()
        # Key latency while refreshes flow: a background 10 % change every 250 ms.
        stop = asyncio.Event()

        async def churn() -> None:
            n = 0
            while not stop.is_set():
                chunk = ids[(n * len(ids) // 10) % len(ids):][: max(1, len(ids) // 10)]
                await asyncio.to_thread(_set_status, url, chunk, "STARTING" if n % 2 else None)
                await app.monitor.refresh(chunk)
                n += 1
                await asyncio.sleep(0.25)

        task = asyncio.create_task(churn())
        table = app.fleet_screen.query_one(FleetTable)
        table.focus()
        await pilot.pause()
        latencies = await _key_latencies(app, table, 40)
        stop.set()
        await task
        latencies.sort()
        out["key_latency_p95"] = f"{latencies[int(len(latencies) * 0.95) - 1] * 1000:.1f} ms"
        out["key_latency_p50"] = f"{statistics.median(latencies) * 1000:.1f} ms"
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
    config = bench_config(url, configs, 16)
    app = build_app(config, client_for(config), poll=True)

    async def run() -> str:
        async with app.run_test(size=(160, 48)):
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
    from wawp_tui.demo import demo_config, demo_transport
    from wawp_tui.ui.app import build_app
    from wawp_tui.ui.widgets.fleet_table import FleetTable

    config = demo_config()
    app = build_app(config, client_for(config, demo_transport()), demo=True)

    async def run() -> str:
        async with app.run_test(size=(120, 40)) as pilot:
            table = app.fleet_screen.query_one(FleetTable)
            while not any("WORKING" in str(table.get_row_at(r)[1]) for r in range(table.row_count)):  # noqa: ASYNC110
                await asyncio.sleep(0.005)  # (polling the screen is what is measured)
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
