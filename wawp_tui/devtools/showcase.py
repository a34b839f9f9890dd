"""The demo frozen in time, for screenshots and snapshot tests.

`python -m wawp_tui.devtools.showcase [FOLDER]` regenerates the SVGs in screenshots/ from the
seeded simulator with a fixed clock and fixed latencies, so the same code gives the same
pictures on every machine.

`python -m wawp_tui.devtools.showcase --browser [FOLDER]` takes wall-browser.png: the wall
page (`serve --web`) in Debian's headless chromium, live (real processes, the real clock:
not frozen, so not part of the snapshot tests).
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx
from textual.pilot import Pilot

from wawp_tui.core import Monitor, client_for
from wawp_tui.demo import DEMO_SEED, demo_config_for
from wawp_tui.simulator import Simulator, build_scenario
from wawp_tui.ui.app import WawpApp, build_app
from wawp_tui.ui.wall_app import WallApp, build_wall_app

#: 2026-11-24 03:00:00 UTC: the on-call hour.
FROZEN_AT = 1_795_489_200.0


class FrozenClock:
    """A clock that moves only when told to."""

    def __init__(self, now: float = FROZEN_AT) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class StepTimer:
    """A latency timer that reads 23 ms for every poll."""

    def __init__(self) -> None:
        self._t = 0.0

    def __call__(self) -> float:
        self._t += 0.0115
        return self._t


def use_utc() -> None:
    """Times on screen are local; pictures must not depend on the machine's zone."""
    os.environ["TZ"] = "UTC"
    time.tzset()


def frozen_demo_app(theme: str = "wawp-dark") -> tuple[WawpApp, FrozenClock, Simulator]:
    """The demo fleet at FROZEN_AT, polled on demand only (no background loop)."""
    clock = FrozenClock()
    sim = Simulator(build_scenario("demo", seed=DEMO_SEED, clock=clock), clock=clock, seed=DEMO_SEED)
    for inst in sim.instances.values():
        # A real delay would only make pictures slower, not different.
        inst.faults = [f for f in inst.faults if f.kind != "slow"]
    config = demo_config_for(sim, theme=theme)
    client = client_for(config, httpx.ASGITransport(app=sim, raise_app_exceptions=False))
    app = build_app(config, client, clock=clock, poll=False, demo=True, timer=StepTimer())
    return app, clock, sim


def frozen_wall_app(theme: str | None = None) -> tuple[WallApp, FrozenClock, Simulator]:
    """The demo fleet's wall at FROZEN_AT, polled on demand only (see `settle_wall`)."""
    clock = FrozenClock()
    sim = Simulator(build_scenario("demo", seed=DEMO_SEED, clock=clock), clock=clock, seed=DEMO_SEED)
    for inst in sim.instances.values():
        inst.faults = [f for f in inst.faults if f.kind != "slow"]
    config = demo_config_for(sim)
    client = client_for(config, httpx.ASGITransport(app=sim, raise_app_exceptions=False))
    app = build_wall_app(config, client, theme=theme, clock=clock, poll=False, title="demo",
                         timer=StepTimer())
    return app, clock, sim


async def settle_wall(app: WallApp, pilot: Pilot[int]) -> None:
    """One poll of every instance and one beat, drawn."""
    for _ in range(200):
        if app.wall.is_mounted:
            break
        await pilot.pause(0.01)
    await wall_poll(app, pilot)


async def wall_poll(app: WallApp, pilot: Pilot[int], clock: FrozenClock | None = None,
                    seconds: float = 0.0) -> None:
    """The clock moved on `seconds`, every instance polled, a beat, all drawn."""
    if clock is not None:
        clock.advance(seconds)
    monitor = app.source
    assert isinstance(monitor, Monitor)
    await monitor.refresh()
    app.wall.beat()
    await pilot.pause()
    app.wall.draw()  # (after the layout: the problems fill their room)
    await pilot.pause()


def wall_story(sim: Simulator, clock: FrozenClock) -> Callable[[WallApp, Pilot[int]], Awaitable[None]]:
    """Two minutes on the wall, then an instance fails: its alert reads NEW."""

    async def steps(app: WallApp, pilot: Pilot[int]) -> None:
        for _ in range(4):
            await wall_poll(app, pilot, clock, 30)
        working = next(i for i in sim.instances.values() if i.status_at(clock.now) == "WORKING")
        working.fail_at = clock.now
        for _ in range(7):  # past the alert's group wait
            await wall_poll(app, pilot, clock, 1)

    return steps


async def settle(app: WawpApp, pilot: Pilot[int]) -> None:
    """One poll of every instance, drawn, and one tick of the clock's cells."""
    for _ in range(200):  # the screen mounts after the pilot starts (snapshot runner)
        if app.fleet_screen.ready:
            break
        await pilot.pause(0.01)
    await app.fleet_screen.refresh_now()
    app.fleet_screen.tick()
    await pilot.pause()


def first_with_status(app: WawpApp, status: str) -> str:
    return next(st.id for st in app.monitor.fleet if st.status == status)


async def highlight(app: WawpApp, pilot, instance_id: str) -> None:
    from wawp_tui.ui.widgets.fleet_table import FleetTable

    table = app.query_one(FleetTable)
    table.move_cursor(row=table.get_row_index(instance_id))
    await pilot.pause()


async def show_qr(app: WawpApp, pilot) -> None:
    await highlight(app, pilot, first_with_status(app, "SCAN_QR_CODE"))
    await pilot.press("enter")
    for _ in range(100):
        await pilot.pause(0.01)
        screen = app.screen
        if getattr(screen, "current", None) is not None:
            break
    await pilot.pause()


async def confirm_restart(app: WawpApp, pilot: Pilot[int]) -> None:
    await highlight(app, pilot, first_with_status(app, "FAILED"))
    await pilot.press("r")
    await pilot.pause()


def outage(sim: Simulator, clock: FrozenClock) -> Callable[[WawpApp, Pilot[int]], Awaitable[None]]:
    """The API stops answering (connections dropped) for 40 s: rows keep their last
    known word, marked stale; one alert and the banner say what happened."""

    async def steps(app: WawpApp, pilot: Pilot[int]) -> None:
        for instance_id in sim.instances:
            sim.inject(instance_id, "drop")
        for _ in range(8):
            clock.advance(5)
            await app.fleet_screen.refresh_now()
            app.fleet_screen.tick()
            await pilot.pause()

    return steps


#: name -> (theme, size, steps after the first poll)
SHOTS: dict[str, tuple[str, tuple[int, int], Callable[[WawpApp, Pilot[int]], Awaitable[None]] | None]] = {
    "fleet": ("wawp-dark", (160, 48), None),
    "fleet-80x24": ("wawp-dark", (80, 24), None),
    "scan-qr": ("wawp-dark", (110, 45), show_qr),
    "confirm-restart": ("wawp-dark", (120, 40), confirm_restart),
    "help": ("wawp-dark", (120, 40), lambda app, pilot: pilot.press("question_mark")),

    "high-contrast": ("wawp-high-contrast", (120, 40), None),
    "light": ("wawp-light", (120, 40), None),
}


#: Shots whose steps need the simulator and the clock: name -> (theme, size, factory).
INCIDENT_SHOTS = {"outage-80x24": ("wawp-dark", (80, 24), outage)}
#: The wall (`--wall`, its own high-contrast theme): name -> size.
WALL_SHOTS = {"wall": (160, 48), "wall-80x24": (80, 24)}


async def take_wall(name: str, folder: Path) -> Path:
    """Render one screenshot of the wall to folder/NAME.svg."""
    app, clock, sim = frozen_wall_app()
    async with app.run_test(size=WALL_SHOTS[name]) as pilot:
        await settle_wall(app, pilot)
        await wall_story(sim, clock)(app, pilot)
        path = folder / f"{name}.svg"
        app.save_screenshot(filename=path.name, path=str(folder))
    return path


async def take(name: str, folder: Path) -> Path:
    """Render one screenshot to folder/NAME.svg."""
    app, clock, sim = frozen_demo_app((SHOTS.get(name) or INCIDENT_SHOTS[name])[0])
    if name in INCIDENT_SHOTS:
        _, size, factory = INCIDENT_SHOTS[name]
        steps: Callable[[WawpApp, Pilot[int]], Awaitable[None]] | None = factory(sim, clock)
    else:
        _, size, steps = SHOTS[name]
    async with app.run_test(size=size) as pilot:
        await settle(app, pilot)
        if steps is not None:
            await steps(app, pilot)
            await pilot.pause()
        path = folder / f"{name}.svg"
        app.save_screenshot(filename=path.name, path=str(folder))
    return path


def take_browser(folder: Path, size: tuple[int, int] = (1280, 800)) -> Path:
    """The wall page in headless chromium: the demo scenario's 40 instances behind a hub
    with its page, a tab open with a viewer's token, once every instance is polled."""
    import tempfile

    from wawp_tui.devtools.bench import this_tree
    from wawp_tui.devtools.bench_web import VIEWER, WebTeam
    from wawp_tui.devtools.browser import Browser
    from wawp_tui.devtools.harness import child_env

    with tempfile.TemporaryDirectory(prefix="wawp-showcase-") as home:
        team = WebTeam(this_tree(), 40, {**child_env(home), "TZ": "UTC"}, home, tabs=1, scenario="demo")
        browser = Browser(*size)
        try:
            browser.open(f"{team.page_url}/?token={VIEWER}")
            deadline = time.monotonic() + 60
            while not (all(i["status"] or i["failures"] for i in team.fleet()["instances"])
                       and "-first-byte" in browser.body_classes()):
                if time.monotonic() > deadline:
                    raise RuntimeError("the wall page did not draw")
                time.sleep(0.2)
            time.sleep(2.0)  # (the tab draws what the hub sent: a beat later)
            path = folder / "wall-browser.png"
            path.write_bytes(browser.screenshot())
        finally:
            browser.quit()
            team.close()
    return path


def main(argv: list[str] | None = None) -> int:
    args = list(argv if argv is not None else sys.argv[1:])
    browser = "--browser" in args
    args = [a for a in args if a != "--browser"]
    folder = Path((args or ["screenshots"])[0])
    folder.mkdir(parents=True, exist_ok=True)
    if browser:
        print(take_browser(folder))
        return 0
    use_utc()
    for name in [*SHOTS, *INCIDENT_SHOTS]:
        print(asyncio.run(take(name, folder)))
    for name in WALL_SHOTS:
        print(asyncio.run(take_wall(name, folder)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
