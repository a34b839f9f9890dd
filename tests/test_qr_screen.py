"""The QR screen in the app: scannable, refreshed on rotation, honest when too small."""

import pytest

from tests.conftest import make_config
from tests.drive import highlight, refresh
from tests.test_qr import to_image
from wawp_tui.client.api import WawpClient
from wawp_tui.core.audit import AuditLog
from wawp_tui.simulator import Simulator, build_scenario
from wawp_tui.ui.app import build_app
from wawp_tui.ui.screens.qr_screen import QrScreen

zxingcpp = pytest.importorskip("zxingcpp")


@pytest.fixture
def qr_rig(serve, clock, tmp_path):
    sim_instances = build_scenario("healthy", instances=2, clock=clock)
    sim = Simulator(sim_instances, clock=clock)
    url = serve(sim).url
    target = sim_instances[0].id
    sim.instances[target].logout(clock())
    config = make_config(url, sim_instances)
    app = build_app(config, WawpClient(url, timeout=2), clock=clock,
                    audit=AuditLog(tmp_path / "audit.jsonl"), poll=False)
    return sim, app, target


async def open_qr(app, pilot, target):
    await refresh(app, pilot)
    await highlight(app, pilot, target)
    await pilot.press("enter")
    screen = app.screen
    assert isinstance(screen, QrScreen)
    for _ in range(50):
        await pilot.pause(0.02)
        if screen.current is not None:
            break
    return screen


def drawn_lines(screen):
    return str(screen.query_one("#qr-code").render()).splitlines()


async def test_qr_on_screen_decodes_to_the_simulators_value(qr_rig, clock):
    sim, app, target = qr_rig
    async with app.run_test(size=(120, 50)) as pilot:
        screen = await open_qr(app, pilot, target)
        value = sim.instances[target].qr(clock())["value"]
        decoded = [r.text for r in zxingcpp.read_barcodes(to_image(drawn_lines(screen)))]
        assert decoded == [value]
        assert "expires in" in str(screen.query_one("#qr-info").render())
        # Rotation: the clock passes the expiry; a refetch brings the new code.
        clock.advance(20)
        await pilot.press("f")
        for _ in range(50):
            await pilot.pause(0.02)
            if screen.current.value != value:
                break
        new_value = sim.instances[target].qr(clock())["value"]
        assert new_value != value and screen.current.value == new_value
        decoded = [r.text for r in zxingcpp.read_barcodes(to_image(drawn_lines(screen)))]
        assert decoded == [new_value]


async def test_too_small_terminal_says_what_size_is_needed(qr_rig):
    sim, app, target = qr_rig
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_qr(app, pilot, target)
        text = str(screen.query_one("#qr-code").render())
        assert "needs at least" in text and "█" not in text


async def test_pairing_code_from_a_typed_phone_number(qr_rig):
    sim, app, target = qr_rig
    async with app.run_test(size=(120, 50)) as pilot:
        screen = await open_qr(app, pilot, target)
        await pilot.press("k", *"+201012345678", "enter")
        for _ in range(100):
            await pilot.pause(0.02)
            if "pairing code:" in screen.code_line:
                break
        assert "pairing code: " in screen.code_line and "failed" not in screen.code_line
        assert isinstance(app.screen, QrScreen)


async def test_scanning_the_screen_links_the_instance(qr_rig, clock):
    sim, app, target = qr_rig
    async with app.run_test(size=(120, 50)) as pilot:
        screen = await open_qr(app, pilot, target)
        decoded = [r.text for r in zxingcpp.read_barcodes(to_image(drawn_lines(screen)))]
        assert sim.scan(target, decoded[0])  # the phone scanned what the terminal shows
        clock.advance(10)
        await refresh(app, pilot)
        assert app.monitor.fleet.get(target).status == "WORKING"
        assert screen.linked
