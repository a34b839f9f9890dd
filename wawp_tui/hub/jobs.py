"""Periodic work on the hub's monitor: keeping the [[schedules]] (issue 26), idle
hibernation, anything that must happen on the one watcher and nowhere else.

A job is a coroutine function of the Monitor, run every `every` seconds on the hub's
event loop: never two runs of one job at once (the next waits for the last to end), a
run that raises is logged and said in the hub's notes and the job goes on, and stopping
the hub cancels them all. A job acts through `monitor.act(..., trigger=..., by=...)`
or `monitor.rollout(...)`, so the one gate decides and the journal names it:

    hub.add_job(Job("schedules", 1.0, keep_schedules))   # before hub.serve()

`monitor.clock()` is the hub's clock: a job asks it, never time.time() (tests move it).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from wawp_tui.core import Monitor
from wawp_tui.safe_text import clean

_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Job:
    """`run(monitor)` every `every` seconds (the first run after `every`, or at once when
    `at_start`)."""

    name: str
    every: float
    run: Callable[[Monitor], Awaitable[None]]
    at_start: bool = False


async def keep(job: Job, monitor: Monitor,
               sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> None:
    """Run `job` forever (cancel to stop)."""
    if not job.at_start:
        await sleep(job.every)
    while True:
        try:
            await job.run(monitor)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - one failed run must not end the job
            _log.exception("hub job %s failed", job.name)
            monitor.note(f"hub job {job.name} failed: {clean(type(exc).__name__)}: {clean(exc)}", ok=False)
        await sleep(job.every)
