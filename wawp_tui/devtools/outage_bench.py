"""`wawp-tui bench --outage`: how fast the screen tells an outage, and its end.

The simulator runs in a child process on 127.0.0.1; the real app runs here, headless,
polling at the product's defaults. Each trial kills the server (a crash, no goodbye),
holds the outage for a while, then starts it again on the same port, and times what a
person at the screen sees: the banner appearing, then, after the server is back, the
banner gone, the outage alert resolved, and every row showing a fresh status again.
Short and long outages differ: after a long one every instance is deep in its backoff
(a minute between polls), and only the probe (core/poller.py) sees the API come back.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import time
from collections.abc import Callable
from typing import Any

from wawp_tui.core import client_for
from wawp_tui.core.alerts import OUTAGE
from wawp_tui.devtools.harness import SimulatorProcess, bench_config, machine

#: Outages held, in seconds: one within the first retries, one deep in the backoff.
OUTAGES = (20.0, 120.0)


async def _until(predicate: Callable[[], bool], limit: float, step: float = 0.1) -> float:
    """Seconds until `predicate()` holds (checked every `step`), or raise after `limit`."""
    started = time.monotonic()
    while not predicate():
        if time.monotonic() - started > limit:
            raise TimeoutError(f"condition not met within {limit:g} s")
        await asyncio.sleep(step)
    return time.monotonic() - started


async def _trials(sim: SimulatorProcess, instances: int, outages: tuple[float, ...],
                  trials: int) -> dict[str, list[float]]:
    from wawp_tui.ui.app import build_app

    config = bench_config(sim.url, sim.configs(), 16, timeout=10.0)
    app = build_app(config, client_for(config), poll=True)
    found: dict[str, list[float]] = {}
    async with app.run_test(size=(160, 48)):
        fleet = app.monitor.fleet
        screen = app.fleet_screen

        def banner() -> bool:
            return bool(screen.query_one("#banner").display)

        def alert() -> bool:
            return any(a.key == OUTAGE for a in app.monitor.alerts.firing())

        await _until(lambda: all(st.status for st in fleet), 120)
        for held in outages:
            for _ in range(trials):
                sim.kill()
                found.setdefault("banner_up_s", []).append(await _until(banner, 120))
                await asyncio.sleep(held)
                await asyncio.to_thread(sim.restart)
                back = time.monotonic()
                await _until(lambda: not banner(), 300)
                found.setdefault(f"outage_{held:.0f}s_banner_clear_s", []).append(time.monotonic() - back)
                await _until(lambda: not alert(), 300)
                found.setdefault(f"outage_{held:.0f}s_alert_resolved_s", []).append(time.monotonic() - back)
                await _until(lambda: not any(st.failures for st in fleet), 300)
                found.setdefault(f"outage_{held:.0f}s_rows_fresh_s", []).append(time.monotonic() - back)
                await asyncio.sleep(10)  # a calm fleet before the next outage
    return found


def run(instances: int = 60, outages: tuple[float, ...] = OUTAGES, trials: int = 3) -> dict[str, Any]:
    """The figures: the median and the worst of each, in seconds."""
    sim = SimulatorProcess(instances, latency_ms=20.0, scenario="healthy")
    try:
        found = asyncio.run(_trials(sim, instances, outages, trials))
    finally:
        sim.stop()
    figures: dict[str, Any] = {"machine": machine(), "instances": instances, "trials": trials}
    for name, values in found.items():
        figures[f"{name[:-2]}_p50_s"] = round(statistics.median(values), 2)
        figures[f"{name[:-2]}_max_s"] = round(max(values), 2)
    return figures


def main(instances: int, trials: int, as_json: bool) -> int:
    figures = run(instances, trials=trials)
    if as_json:
        print(json.dumps(figures, indent=2))
    else:
        for key, value in figures.items():
            print(f"{key:<40} {value}")
    return 0
