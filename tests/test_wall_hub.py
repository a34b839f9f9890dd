"""`wawp-tui --wall --hub URL`: the wall fed by a hub (a real hub and simulator on
loopback): it counts what the hub's fleet document counts, it never acts even with an
operator's token, the hub gone turns it STALE at once, and it comes back by itself."""

from __future__ import annotations

import contextlib
import time
from collections import Counter

from tests.hub_kit import TOKENS, WAWP_TOKEN, config_for, hub_in_loop
from wawp_tui.cli import main
from wawp_tui.config import Config
from wawp_tui.hub.link import HubLink
from wawp_tui.models import FAILED, SCAN_QR_CODE, STOPPED, Secret
from wawp_tui.simulator import SimInstance, Simulator
from wawp_tui.ui import wall_view as wall
from wawp_tui.ui.wall_app import build_wall_attached
from wawp_tui.ui.widgets.count_tile import CountTile


def _tiles(app) -> dict[str, int]:
    return {t.label: t.count for t in app.wall.query(CountTile)}


def _header(app) -> str:
    return app.wall.query_one("#wall-header").render().plain


async def _until(condition, pilot, limit: float = 30.0, what: str = "") -> None:
    deadline = time.monotonic() + limit
    while not condition():
        assert time.monotonic() < deadline, f"not within {limit}s: {what}"
        await pilot.pause(0.05)


def _sims() -> list[SimInstance]:
    sims = [SimInstance(id=f"WALLHUB{k:05d}", label=f"Desk {k}", token=WAWP_TOKEN, started_at=0.0)
            for k in range(6)]
    sims[0].raw_status = FAILED
    sims[1].raw_status = SCAN_QR_CODE
    sims[2].base_status = STOPPED
    return sims


async def test_the_wall_on_a_hub_counts_its_fleet_never_acts_and_goes_stale_loudly(serve):
    sims = _sims()
    sim = Simulator(sims)
    config = config_for(serve(sim).url, sims)
    hub_stack = contextlib.AsyncExitStack()
    hub, base = await hub_stack.enter_async_context(hub_in_loop(config))
    port = hub.address[1]
    # An operator's token: the wall is a viewer all the same.
    app = build_wall_attached(HubLink(base, Secret(TOKENS["alice"])), Config())
    try:
        async with app.run_test(size=(80, 24)) as pilot:
            def hub_counts() -> dict[str, int]:
                monitor = hub.monitor
                words = Counter(wall.runbook.shown_word(s, monitor.clock(), monitor.stale_basis)
                                for s in monitor.fleet)
                return {wall.tile_label(w): n for w, n in words.items()}

            await _until(lambda: all(s.status for s in hub.monitor.fleet), pilot, what="the hub polled")
            await _until(lambda: _tiles(app) == hub_counts(), pilot, what="the hub's counts on the wall")
            assert _tiles(app)["✗ FAILED"] == 1 and "STALE" not in _header(app)
            assert f"hub 127.0.0.1:{port}" in _header(app)
            assert app.source.read_only  # the token could act; the wall does not
            for key in ("r", "s", "x", "R", "L", "enter", "a", "ctrl+p"):
                await pilot.press(key)
            await pilot.pause(0.3)
            assert sim.calls_to("restart") == [] and sim.calls_to("stop") == []
            assert app.screen is app.wall
            # The hub goes: STALE at once (not after two refreshes), and the banner says why.
            await hub_stack.aclose()
            await _until(lambda: "STALE: no news from the hub" in _header(app), pilot, what="STALE")
            banner = app.wall.query_one("#wall-banner")
            assert banner.display and "No news from the hub" in banner.render().plain
            # Back on the same address: it reconnects by itself.
            async with hub_in_loop(config, port=port):
                await _until(lambda: "STALE" not in _header(app), pilot, what="back")
                assert not app.wall.query_one("#wall-banner").display
    finally:
        await hub_stack.aclose()


def test_the_wall_on_a_hub_refuses_what_does_not_go_with_it(capsys, monkeypatch):
    # (Told it runs in a browser's tab, it gets past the terminal check to the real one.)
    monkeypatch.setenv("TEXTUAL_DRIVER", "textual.drivers.web_driver:WebDriver")
    assert main(["--wall", "--hub", "http://127.0.0.1:9", "--demo"]) == 2
    assert "--hub and --demo do not go together" in capsys.readouterr().err
    assert main(["--wall", "--hub", "http://user:pw@127.0.0.1:9"]) == 2
    assert "no credentials in the URL" in capsys.readouterr().err
    monkeypatch.delenv("TEXTUAL_DRIVER")
    assert main(["--wall", "--hub", "http://127.0.0.1:9"]) == 2  # a pipe, no browser: no screen
    assert "needs a terminal" in capsys.readouterr().err
