"""The API as it really answers (issue 13), over real sockets, against the simulator's
`waha` flavour: 404 until started, errors inside 200, NestJS and WAHA error bodies, the
passkey statuses, a QR sent as a PNG, six QR codes then FAILED, 422 on a redundant start,
and the liveness fields."""

from __future__ import annotations

import json

import pytest

from tests.conftest import make_config
from tests.drive import detail_text, highlight, record_toasts, refresh, tick
from tests.test_qr import to_image
from wawp_tui import cli
from wawp_tui.client.api import WawpClient
from wawp_tui.core import AuditLog, Monitor, plan
from wawp_tui.simulator import Simulator, build_scenario
from wawp_tui.ui.app import build_app
from wawp_tui.ui.screens.confirm import ConfirmScreen
from wawp_tui.ui.screens.qr_screen import QrScreen

zxingcpp = pytest.importorskip("zxingcpp")


@pytest.fixture
def waha(serve, clock):
    sim_instances = build_scenario("waha", seed=5, clock=clock)
    sim = Simulator(sim_instances, clock=clock, seed=5)
    server = serve(sim)
    by_label = {i.label: i.id for i in sim_instances}
    return sim, sim_instances, server, by_label


def app_for(server, sim_instances, clock, tmp_path, **monitor):
    config = make_config(server.url, sim_instances, **monitor)
    client = WawpClient(server.url, timeout=2, connect_timeout=1)
    return build_app(config, client, clock=clock, audit=AuditLog(tmp_path / "audit.jsonl"), poll=False)


def write_config(path, url, sim_instances):
    lines = [f'[api]\nbase_url = "{url}"\ntimeout = 2\n']
    lines += [f'[[instances]]\nid = "{i.id}"\nlabel = "{i.label}"\n' for i in sim_instances]
    path.write_text("\n".join(lines))
    return path


def test_status_json_reads_every_shape(waha, tmp_path, capsys, monkeypatch):
    sim, sim_instances, server, by_label = waha
    monkeypatch.setenv("WAWP_ACCESS_TOKEN", "demo-token")
    path = write_config(tmp_path / "config.toml", server.url, sim_instances)
    assert cli.main(["status", "--json", "--config", str(path)]) == 1
    rows = {r["label"]: r for r in json.loads(capsys.readouterr().out)}
    assert rows["waha unloaded"]["error"].startswith("session not loaded (404)")
    assert rows["waha gone"]["error"].startswith("instance not found (404): deleted or wrong id")
    # An error inside a 200 reply: no 404 was sent, so none is claimed.
    assert rows["waha fault invalid_session"]["error"].startswith("session not loaded: ")
    assert rows["waha fault status_error"]["error"].startswith("instance not found")  # "Instance ID Invalidated"
    assert rows["waha fault success_false"]["error"] == "the API reported an error: Session is not ready"
    assert rows["waha raw_status PASSKEY_REQUIRED"]["status"] == "PASSKEY_REQUIRED"
    assert rows["waha raw_status PASSKEY_CONFIRMATION_REQUIRED"]["status"] == "PASSKEY_CONFIRMATION_REQUIRED"
    for row in rows.values():  # never a raw JSON dump
        assert row["error"] is None or "{" not in row["error"]


async def test_a_session_not_loaded_is_started_not_written_off(waha, tmp_path, clock):
    sim, sim_instances, server, by_label = waha
    app = app_for(server, sim_instances, clock, tmp_path)
    unloaded, gone = by_label["waha unloaded"], by_label["waha gone"]
    async with app.run_test(size=(160, 48)) as pilot:
        await refresh(app, pilot)
        await highlight(app, pilot, unloaded)
        assert "press s to start it" in detail_text(app)
        await pilot.press("r")  # a restart is refused with the reason
        assert not isinstance(app.screen, ConfirmScreen)
        await pilot.press("s")
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("y")
        await app.workers.wait_for_complete()
        # What the server says after our start began then, not "before we started watching".
        assert app.monitor.state(unloaded).status_since_known
        assert "since before start" not in detail_text(app)
        clock.advance(10)
        await refresh(app, pilot)
        assert app.monitor.state(unloaded).status == "WORKING"
        # A 404 that names a missing instance is "gone": nothing is offered.
        await highlight(app, pilot, gone)
        assert "deleted" in detail_text(app)
        await pilot.press("s")
        assert not isinstance(app.screen, ConfirmScreen)
    assert len(sim.calls_to("start", gone)) == 0


async def test_a_404_that_persists_after_a_start_means_gone(waha, tmp_path, clock):
    sim, sim_instances, server, by_label = waha
    unloaded = by_label["waha unloaded"]
    sim.inject(unloaded, "not_loaded", endpoint="start")  # the start gets "not found" too
    async with WawpClient(server.url, timeout=2) as client:
        monitor = Monitor(make_config(server.url, sim_instances), client, clock=clock)
        await monitor.refresh([unloaded])
        assert monitor.state(unloaded).error_kind == "not_loaded"
        report = await monitor.act("start", [unloaded])
    assert report.failed
    st = monitor.state(unloaded)
    assert st.error_kind == "not_found" and "even after a start" in st.last_error
    assert not monitor.check("start", [unloaded]).allowed
    # The outcome (toast, audit, rollout line) says what the fleet state says: the start
    # did not bring it back, so it never repeats "a start brings it back".
    message = report.outcomes[0].message
    assert "even after a start" in message and "a start brings it back" not in message


async def test_a_wrong_path_is_not_a_session_to_start(waha, tmp_path, clock):
    """A base_url with a path the server does not have: every poll gets the server's own
    404 ("no route ..."). That is the endpoint, not the sessions: no start is offered,
    auto-heal starts nothing, and the outage banner points at base_url."""
    sim, sim_instances, server, by_label = waha
    url = server.url + "/proxy"
    async with WawpClient(url, timeout=2) as client:
        monitor = Monitor(make_config(url, sim_instances, auto_heal=True), client, clock=clock)
        await monitor.refresh()
        for _ in range(3):
            monitor.tick()
            await monitor.idle()
            clock.advance(15)
        ids = [i.id for i in sim_instances]
        for instance_id in ids:
            st = monitor.state(instance_id)
            assert st.error_kind == "no_route", (st.error_kind, st.last_error)
            assert "not loaded" not in st.last_error and "check base_url" in st.last_error
        verdict = monitor.check("start", ids[:1])
        assert not verdict.allowed and "base_url" in verdict.refused[0].message
        outage = monitor.outage()
    assert not [c for c in sim.calls if not c["endpoint"].endswith("/info")]
    assert outage is not None and outage.kind == "endpoint" and "base_url" in outage.text


async def test_auto_heal_starts_a_session_not_loaded_once(waha, tmp_path, clock):
    sim, sim_instances, server, by_label = waha
    unloaded = by_label["waha unloaded"]
    sim.inject(unloaded, "not_loaded", endpoint="start")
    async with WawpClient(server.url, timeout=2) as client:
        monitor = Monitor(make_config(server.url, sim_instances, auto_heal=True), client, clock=clock)
        await monitor.refresh()
        for _ in range(5):
            monitor.tick()
            await monitor.idle()
            clock.advance(15)
    assert len(sim.calls_to("start", unloaded)) == 1
    assert monitor.state(unloaded).error_kind == "not_found"


async def test_rollouts_report_instances_the_server_does_not_know(waha, clock):
    sim, sim_instances, server, by_label = waha
    unloaded, gone = by_label["waha unloaded"], by_label["waha gone"]

    async def no_wait(seconds):
        clock.advance(seconds)

    async with WawpClient(server.url, timeout=2) as client:
        monitor = Monitor(make_config(server.url, sim_instances), client, clock=clock)
        started = await monitor.rollout(plan("start", [unloaded], 5), state_path=None,
                                        sleep=no_wait).run()
        assert started.status == "done" and unloaded not in started.skipped
        assert len(sim.calls_to("start", unloaded)) == 1
        restarted = await monitor.rollout(plan("restart", [gone], 5), state_path=None,
                                          sleep=no_wait, continue_on_error=True).run()
    assert gone in restarted.failed and "deleted or wrong id" in restarted.failed[gone]
    assert gone not in restarted.skipped and not sim.calls_to("restart", gone)


async def test_an_action_answered_with_an_error_envelope_failed(waha, tmp_path, clock):
    sim, sim_instances, server, by_label = waha
    target = sim_instances[-1].id  # a plain WORKING WAHA session
    sim.inject(target, "error_envelope", shape="success_false", endpoint="restart")
    audit = tmp_path / "audit.jsonl"
    async with WawpClient(server.url, timeout=2) as client:
        monitor = Monitor(make_config(server.url, sim_instances), client, clock=clock,
                          audit=AuditLog(audit))
        await monitor.refresh([target])
        report = await monitor.act("restart", [target])
    assert report.failed and "Session is not ready" in report.failed[0].message
    assert "restart" not in monitor.state(target).last_action_at  # no countdown for it
    outcomes = [json.loads(line)["outcome"] for line in audit.read_text().splitlines()]
    assert outcomes == ["sent", "failed"]


async def test_start_on_failed_answered_422_already_started(waha, tmp_path, clock):
    sim, sim_instances, server, by_label = waha
    failed = by_label["waha status FAILED"]
    app = app_for(server, sim_instances, clock, tmp_path)
    toasts = record_toasts(app)
    async with app.run_test(size=(160, 48)) as pilot:
        await refresh(app, pilot)
        await highlight(app, pilot, failed)
        await pilot.press("s", "y")
        await app.workers.wait_for_complete()
        await pilot.pause()
    assert any("already started (422)" in t.message and "restart it (r)" in t.message for t in toasts)


async def test_passkey_statuses_are_known_and_need_the_phone(waha, tmp_path, clock):
    sim, sim_instances, server, by_label = waha
    app = app_for(server, sim_instances, clock, tmp_path)
    passkey = by_label["waha raw_status PASSKEY_REQUIRED"]
    toasts = record_toasts(app)
    async with app.run_test(size=(160, 48)) as pilot:
        await refresh(app, pilot)
        await highlight(app, pilot, passkey)
        assert "approve the passkey on the phone" in detail_text(app)
        await pilot.press("r")
        await pilot.pause()
        assert not isinstance(app.screen, ConfirmScreen)
    assert any("passkey" in t.message for t in toasts)
    assert not sim.calls_to("restart", passkey)


def drawn(screen: QrScreen) -> list[str]:
    content = screen.query_one("#qr-code").content
    return content.plain.split("\n")


async def test_a_png_qr_is_redrawn_scannable_with_its_rhythm(waha, tmp_path, clock):
    sim, sim_instances, server, by_label = waha
    target = by_label["waha scan image"]
    app = app_for(server, sim_instances, clock, tmp_path)
    async with app.run_test(size=(120, 60)) as pilot:
        clock.advance(30)  # the first code lives 60 s
        await refresh(app, pilot)
        st = app.monitor.state(target)
        # The info's data URL is a hint (a digest: never decoded on a poll) that the code
        # changed; the screen fetches and reads the image itself.
        assert st.qr_hint and st.qr_hint.startswith("image:")
        await highlight(app, pilot, target)
        await pilot.press("enter")
        screen = app.screen
        assert isinstance(screen, QrScreen)
        for _ in range(100):
            await pilot.pause(0.02)
            if screen.current is not None:
                break
        assert screen.current.form == "image"
        decoded = [r.text for r in zxingcpp.read_barcodes(to_image(drawn(screen)))]
        assert decoded == [sim.instances[target].qr(clock())["value"]]


async def test_a_png_qr_that_rotates_is_fetched_again_when_a_poll_shows_a_new_one(waha, tmp_path, clock):
    """The info reply's image is not decoded; its digest changing is enough to fetch the
    new code at once (not at the 15 s refetch of a code with no expiry)."""
    sim, sim_instances, server, by_label = waha
    target = by_label["waha scan image"]
    app = app_for(server, sim_instances, clock, tmp_path)
    async with app.run_test(size=(120, 60)) as pilot:
        await refresh(app, pilot)
        await highlight(app, pilot, target)
        await pilot.press("enter")
        screen = app.screen
        for _ in range(100):
            await pilot.pause(0.02)
            if screen.current is not None:
                break
        first = screen.current.value
        clock.advance(61)  # the first code lives 60 s
        await refresh(app, pilot, [target])
        for _ in range(100):
            await pilot.pause(0.02)
            if screen.current.value != first:
                break
        assert screen.current.value == sim.instances[target].qr(clock())["value"] != first


async def test_six_codes_then_failed_with_the_reason(waha, tmp_path, clock):
    sim, sim_instances, server, by_label = waha
    target = sim_instances[-1].id  # a WORKING WAHA session, logged out under our eyes
    app = app_for(server, sim_instances, clock, tmp_path)
    async with app.run_test(size=(160, 48)) as pilot:
        await refresh(app, pilot)
        await app.monitor.act("logout", [target])  # SCAN_QR_CODE seen from its first second
        from wawp_tui.core import runbook
        numbers = []
        for step in (10, 60, 20, 20, 20, 20):
            clock.advance(step)
            await refresh(app, pilot, [target])
            numbers.append(runbook.qr_code_number(app.monitor.state(target), clock()))
        assert numbers == [1, 2, 3, 4, 5, 6]
        clock.advance(20)
        await refresh(app, pilot, [target])
        assert app.monitor.state(target).status == "FAILED"
        await highlight(app, pilot, target)
        assert "QR codes ran out" in detail_text(app) and "restart brings new codes" in detail_text(app)


async def test_liveness_is_shown_and_a_quiet_working_instance_is_flagged(waha, tmp_path, clock):
    sim, sim_instances, server, by_label = waha
    quiet = by_label["waha quiet"]
    app = app_for(server, sim_instances, clock, tmp_path)
    async with app.run_test(size=(160, 48)) as pilot:
        await refresh(app, pilot)
        await tick(app, pilot)
        await highlight(app, pilot, quiet)
        text = detail_text(app)
        assert "engine NOWEB" in text and "online" in text and "last activity 2h00m ago" in text
        assert "no activity for 2h00m" in text and "press r to restart" in text
        table_cell = app.fleet_screen.query_one("#fleet").get_cell(quiet, "error").plain
        assert table_cell == "no activity for 2h00m"
        active = sim_instances[-1].id
        await highlight(app, pilot, active)
        assert "last activity just now" in detail_text(app)


async def test_the_quiet_warning_is_configurable(waha, tmp_path, clock):
    sim, sim_instances, server, by_label = waha
    app = app_for(server, sim_instances, clock, tmp_path, quiet_after=0.0)
    async with app.run_test(size=(160, 48)) as pilot:
        await refresh(app, pilot)
        await highlight(app, pilot, by_label["waha quiet"])
        assert "no activity for" not in detail_text(app)


def test_the_demo_shows_the_real_engines_ways(capsys):
    assert cli.main(["status", "--demo", "--json"]) == 1
    rows = json.loads(capsys.readouterr().out)
    errors = " ".join(r["error"] or "" for r in rows)
    assert "session not loaded (404)" in errors
    assert any(r["status"] == "PASSKEY_REQUIRED" for r in rows)


async def test_the_qr_screen_counts_codes_only_in_wahas_rhythm_and_names_no_refused_key(waha, tmp_path, clock):
    sim, sim_instances, server, by_label = waha
    target = sim_instances[-1].id  # a WORKING WAHA session, logged out under our eyes
    app = app_for(server, sim_instances, clock, tmp_path)
    sim.instances[target].qr_form = "raw"  # WAHA's own reply: {"value": ...}, no expiry
    async with app.run_test(size=(120, 60)) as pilot:
        await refresh(app, pilot)
        await app.monitor.act("logout", [target])
        await refresh(app, pilot, [target])
        await highlight(app, pilot, target)
        await pilot.press("enter")
        screen = app.screen
        assert isinstance(screen, QrScreen)

        async def info() -> str:
            for _ in range(100):
                await pilot.pause(0.02)
                if screen.current is not None:
                    break
            return str(screen.query_one("#qr-info").render())

        assert "code 1 of 6" in await info()
        for _ in range(5):  # 60 s, then 20 s each: the sixth code
            clock.advance(20 if "code 1 of" not in await info() else 60)
            await pilot.press("f")
        text = await info()
        assert "code 6 of 6, the last" in text and "restart then brings new codes" in text
        assert app.monitor.check("restart", [target]).allowed == []
        assert "r on the fleet screen" not in text and "press r" not in text


async def test_a_server_that_states_each_codes_expiry_gets_no_code_count(serve, clock, tmp_path):
    from wawp_tui.simulator import Simulator, build_scenario

    sim_instances = build_scenario("healthy", instances=2, clock=clock)
    sim = Simulator(sim_instances, clock=clock)
    server = serve(sim)
    target = sim_instances[0].id
    app = app_for(server, sim_instances, clock, tmp_path)
    async with app.run_test(size=(120, 60)) as pilot:
        await refresh(app, pilot)
        await app.monitor.act("logout", [target])
        await refresh(app, pilot, [target])
        await highlight(app, pilot, target)
        await pilot.press("enter")
        screen = app.screen
        for _ in range(100):
            await pilot.pause(0.02)
            if screen.current is not None:
                break
        clock.advance(100)  # past WAHA's second code; this server has its own rhythm
        await pilot.press("f")
        await pilot.pause(0.1)
        text = str(screen.query_one("#qr-info").render())
        assert "expires in" in text and " of 6" not in text and "run out" not in text
