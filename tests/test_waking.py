"""The wake-or-timeout wait under the poller and the QR screen: a cancellation that
arrives in the same turn as the wake-up is never lost (asyncio.wait_for on 3.11 lost it)."""

from __future__ import annotations

import asyncio

import pytest

from wawp_tui.core import woken_within


async def test_woken_or_timed_out() -> None:
    event = asyncio.Event()
    assert await woken_within(event, 0) is False
    event.set()
    assert await woken_within(event, 0) is True
    assert await woken_within(event, None) is True


async def test_a_cancel_that_comes_with_the_wake_up_is_not_lost() -> None:
    event = asyncio.Event()
    waiting = asyncio.create_task(woken_within(event, 60))
    await asyncio.sleep(0)  # (turns of the loop, not time: the task is now waiting)
    await asyncio.sleep(0)
    event.set()
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(waiting, 10)
    assert waiting.cancelled()
