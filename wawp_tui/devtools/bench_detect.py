"""Detection time: a server-side WORKING -> FAILED until the fleet table's row shows it.

Runs in a child process (`detect_child`): the real app, headless, with the settings a
config file without a [monitor] table gets (the defaults), polling the simulator over
real sockets. After a warm-up of one steady interval (every instance is past its first,
randomly phased steady poll), `trials` instances are turned FAILED on the server one
after another; each is timed from just before the change was sent until its row's
status cell reads FAILED (checked every 20 ms; the frame that draws it follows within
one screen refresh).
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import time
from pathlib import Path

import httpx

from wawp_tui.config import load_config
from wawp_tui.core import client_for

#: How often the row is looked at, seconds.
LOOK_EVERY = 0.02


def _set_failed(url: str, instance_id: str) -> None:
    httpx.post(f"{url}/_sim/set", json={"instance_ids": [instance_id], "raw_status": "FAILED"},
               timeout=30).raise_for_status()


def _shows_failed(table, instance_id: str) -> bool:
    return any("FAILED" in str(cell) for cell in table.get_row(instance_id)[:2])


def detect_child(config_path: str, trials: int, spacing: float) -> str:
    """JSON: {"steady_s": interval, "seconds": [per trial], "missed": never shown}."""
    from wawp_tui.ui.app import build_app
    from wawp_tui.ui.widgets.fleet_table import FleetTable

    config = load_config(Path(config_path), env=os.environ)
    url = config.api.base_url
    app = build_app(config, client_for(config), poll=True)
    chosen = random.Random(15).sample([c.id for c in config.instances], trials)

    async def run() -> dict:
        async with app.run_test(size=(160, 48)):
            steady = app.monitor.stale_basis
            await asyncio.sleep(steady + 5.0)  # one whole steady round first
            table = app.fleet_screen.query_one(FleetTable)
            changed: dict[str, float] = {}
            shown: dict[str, float] = {}

            async def change() -> None:
                for instance_id in chosen:
                    at = time.perf_counter()
                    await asyncio.to_thread(_set_failed, url, instance_id)
                    changed[instance_id] = at
                    await asyncio.sleep(spacing)

            task = asyncio.create_task(change())
            limit = time.perf_counter() + trials * spacing + 1.3 * steady + 15.0
            while len(shown) < trials and time.perf_counter() < limit:
                now = time.perf_counter()
                for instance_id, at in list(changed.items()):
                    if instance_id not in shown and _shows_failed(table, instance_id):
                        shown[instance_id] = now - at
                await asyncio.sleep(LOOK_EVERY)
            await task
            # Never shown within the limit: counted at the time waited (a lower bound).
            end = time.perf_counter()
            missed = [i for i in chosen if i not in shown]
            shown.update({i: end - changed.get(i, end) for i in missed})
        return {"steady_s": steady, "seconds": [shown[i] for i in chosen], "missed": len(missed)}

    return json.dumps(asyncio.run(run()))
