"""Waiting for a wake-up or a timeout, without losing a cancellation.

On Python 3.11, `asyncio.wait_for(event.wait(), timeout)` returns normally when the task
is cancelled in the same turn of the loop as the event is set: the cancellation is lost,
and a loop built on it (the poller, the QR screen's refresh) runs on after it was told to
stop, so whoever awaits its end waits for ever. `asyncio.timeout` counts the
cancellations it made itself and lets every other one through.
"""

from __future__ import annotations

import asyncio


async def woken_within(event: asyncio.Event, seconds: float | None) -> bool:
    """Wait until `event` is set (True) or `seconds` pass (False; None: no limit).
    A cancellation of the waiting task always propagates."""
    try:
        async with asyncio.timeout(seconds):
            await event.wait()
    except TimeoutError:
        return False
    return True
