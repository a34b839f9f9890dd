"""The UI thread under load, in this process (headless, 160x48): time to apply a refresh
in which 10 % or all rows changed, and key press to repaint while refreshes flow."""

from __future__ import annotations

import asyncio
import statistics
import time

import httpx

from wawp_tui.core import client_for
from wawp_tui.devtools.harness import bench_config


def _set_status(url: str, ids: list[str], word: str | None) -> None:
    """What the server says these instances' status is (None: their own again)."""
    httpx.post(f"{url}/_sim/set", json={"instance_ids": ids, "raw_status": word}, timeout=60)


async def _apply(app, url: str, ids: list[str], word: str | None) -> float:
    """Time the UI takes to draw one refresh in which `ids` changed (their polls excluded)."""
    _set_status(url, ids, word)
    await app.fleet_screen.refresh_now(ids)
    return app.fleet_screen.painter.last_draw_seconds


async def ui_figures(url: str, configs, concurrency: int) -> dict[str, float]:
    from wawp_tui.ui.app import build_app
    from wawp_tui.ui.widgets.fleet_table import FleetTable

    config = bench_config(url, configs, concurrency)
    app = build_app(config, client_for(config), poll=False)
    out: dict[str, float] = {}
    async with app.run_test(size=(160, 48)) as pilot:
        await app.fleet_screen.refresh_now()
        await pilot.pause()
        ids = list(app.monitor.fleet.instances)
        tenth = ids[: max(1, len(ids) // 10)]
        out["ui_apply_10pct_ms"] = await _apply(app, url, tenth, "STARTING") * 1000
        out["ui_apply_all_ms"] = await _apply(app, url, ids, "STOPPED") * 1000
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
        out["key_p95_ms"] = latencies[int(len(latencies) * 0.95) - 1] * 1000
        out["key_p50_ms"] = statistics.median(latencies) * 1000
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
