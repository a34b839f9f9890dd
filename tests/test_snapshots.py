"""Snapshot tests of the main screens: fixed clock, seeded simulator, fixed sizes."""

import time

import pytest

from wawp_tui.devtools import showcase


@pytest.fixture(autouse=True)
def _utc(monkeypatch):
    """Times on screen are local: these pictures are taken in UTC, and the zone is given
    back afterwards (the tests that follow keep the machine's)."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def _shot(theme, steps=None):
    app, _, _ = showcase.frozen_demo_app(theme)

    async def run_before(pilot):
        await showcase.settle(app, pilot)
        if steps is not None:
            await steps(app, pilot)
            await pilot.pause()

    return app, run_before


@pytest.mark.parametrize("theme", ["wawp-dark", "wawp-light", "wawp-high-contrast"])
@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
def test_fleet(snap_compare, theme, size):
    app, run_before = _shot(theme)
    assert snap_compare(app, terminal_size=size, run_before=run_before)


def test_scan_qr_screen(snap_compare):
    app, run_before = _shot("wawp-dark", showcase.show_qr)
    assert snap_compare(app, terminal_size=(110, 45), run_before=run_before)


def test_confirmation(snap_compare):
    app, run_before = _shot("wawp-dark", showcase.confirm_restart)
    assert snap_compare(app, terminal_size=(120, 40), run_before=run_before)


def test_outage_at_80x24(snap_compare):
    """The API gone for 40 s: last known words marked stale, one grouped alert, the
    banner naming the base URL, "refreshed 40s ago"."""
    app, clock, sim = showcase.frozen_demo_app("wawp-dark")
    steps = showcase.outage(sim, clock)

    async def run_before(pilot):
        await showcase.settle(app, pilot)
        await steps(app, pilot)
        await pilot.pause()

    assert snap_compare(app, terminal_size=(80, 24), run_before=run_before)


def test_help(snap_compare):
    async def press_help(app, pilot):
        await pilot.press("question_mark")

    app, run_before = _shot("wawp-dark", press_help)
    assert snap_compare(app, terminal_size=(80, 24), run_before=run_before)


@pytest.mark.parametrize("size", [(80, 24), (200, 60)])
def test_wall(snap_compare, size):
    """`--wall`: two minutes of the demo, then an instance fails (its alert reads NEW)."""
    app, clock, sim = showcase.frozen_wall_app()
    steps = showcase.wall_story(sim, clock)

    async def run_before(pilot):
        await showcase.settle_wall(app, pilot)
        await steps(app, pilot)

    assert snap_compare(app, terminal_size=size, run_before=run_before)
