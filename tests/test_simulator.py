"""The simulator over real loopback sockets: auth order, state machine, faults, control."""

import base64
import json

import httpx
import pytest

from wawp_tui.simulator import FAULT_KINDS, SIM_TOKEN, SimInstance, Simulator, build_scenario


@pytest.fixture
def server(serve, clock):
    app = Simulator([SimInstance(id="SIM000000001", label="one", token=SIM_TOKEN),
                     SimInstance(id="SIM000000002", label="two", token="other-token-not-real")],
                    clock=clock)
    handle = serve(app)
    with httpx.Client(base_url=handle.url, timeout=2) as http:
        yield app, http


def call(http, endpoint, instance_id="SIM000000001", token=SIM_TOKEN, **extra):
    return http.post(endpoint, json={"instance_id": instance_id, "access_token": token, **extra})


def test_auth_before_existence(server):
    app, http = server
    assert call(http, "/v2/session/info", "UNKNOWN00000", token="bad").status_code == 401
    assert call(http, "/v2/session/info", "UNKNOWN00000").status_code == 404
    # A valid token of another account does not open this instance.
    assert call(http, "/v2/session/info", token="other-token-not-real").status_code == 401
    assert http.post("/v2/session/info", json={"instance_id": "SIM000000001"}).status_code == 400


def test_query_credentials_accepted(server):
    app, http = server
    r = http.get("/v2/session/info", params={"instance_id": "SIM000000001", "access_token": SIM_TOKEN})
    assert r.json()["status"] == "WORKING"
    assert app.calls[-1]["credentials_in"] == "query"
    assert all(SIM_TOKEN not in json.dumps(c) for c in app.calls)


def test_state_machine_with_a_moving_clock(server, clock):
    app, http = server
    assert call(http, "/v2/session/start").json()["status"] == "WORKING"  # 200, unchanged
    assert call(http, "/v2/session/restart").json()["status"] == "STARTING"
    clock.advance(app.instances["SIM000000001"].boot_seconds + 0.1)
    body = call(http, "/v2/session/info").json()
    assert body["status"] == "WORKING" and body["me"]["id"].endswith("@c.us")
    assert call(http, "/v2/session/stop").json()["status"] == "STOPPED"
    assert call(http, "/v2/session/start").json()["status"] == "STARTING"
    clock.advance(10)
    assert call(http, "/v2/session/logout").json()["status"] == "SCAN_QR_CODE"
    assert call(http, "/v2/session/me").status_code == 400
    app.instances["SIM000000001"].stuck_starting = True
    call(http, "/v2/session/restart")
    clock.advance(300)
    assert call(http, "/v2/session/info").json()["status"] == "STARTING"


def test_qr_only_in_scan_qr_code_and_rotates(server, clock):
    app, http = server
    assert call(http, "/v2/auth/qr?format=raw").status_code == 400
    call(http, "/v2/session/logout")
    first = json.loads(base64.b64decode(call(http, "/v2/auth/qr?format=raw").json()["data"]))
    assert first["value"].startswith("2@") and first["expiry"] > clock() * 1000
    clock.advance(20)
    second = json.loads(base64.b64decode(call(http, "/v2/auth/qr?format=raw").json()["data"]))
    assert second["value"] != first["value"]
    assert call(http, "/v2/auth/request-code", phone_number="+201012345678").json()["code"]
    assert call(http, "/v2/auth/request-code", phone_number="call me").status_code == 400


@pytest.mark.parametrize("kind, status, ctype", [
    ("html_502", 502, "text/html"), ("html_500", 500, "text/html"), ("xml_400", 400, "application/xml"),
    ("text_500", 500, "text/plain"), ("malformed_json", 200, "application/json"),
    ("empty_200", 200, "application/json"), ("rate_limit", 429, "application/json"),
    ("unauthorized", 401, "application/json"), ("forbidden", 403, "application/json"),
    ("not_found", 404, "application/json"), ("unknown_status", 200, "application/json"),
])
def test_fault_kinds(server, kind, status, ctype):
    app, http = server
    app.inject("SIM000000001", kind, count=1)
    r = call(http, "/v2/session/info")
    assert r.status_code == status and r.headers["content-type"].startswith(ctype)
    if kind == "rate_limit":
        assert r.headers["retry-after"] == "7"
    assert call(http, "/v2/session/info").json()["status"] == "WORKING"


def test_drop_and_hang(server):
    app, http = server
    app.inject("SIM000000001", "drop", count=1)
    with pytest.raises(httpx.RemoteProtocolError):
        call(http, "/v2/session/info")
    app.inject("SIM000000001", "hang", count=1)
    with pytest.raises(httpx.ReadTimeout):
        http.post("/v2/session/info", json={"instance_id": "SIM000000001", "access_token": SIM_TOKEN},
                  timeout=0.3)


def test_control_endpoints(server):
    app, http = server
    assert http.post("/_sim/fault", json={"instance_id": "SIM000000001", "kind": "html_502"}).status_code == 200
    assert call(http, "/v2/session/info").status_code == 502
    assert http.post("/_sim/fault", json={"instance_id": "SIM000000001", "kind": "nope"}).status_code == 400
    http.post("/_sim/clear", json={})
    assert call(http, "/v2/session/info").status_code == 200
    assert {s["id"] for s in http.get("/_sim/state").json()} == {"SIM000000001", "SIM000000002"}
    assert http.get("/_sim/calls").json()[-1]["endpoint"] == "/v2/session/info"
    assert set(FAULT_KINDS) >= {"html_502", "hang", "drop", "rate_limit"}


def test_demo_scenario_is_deterministic_with_every_status(clock):
    a = build_scenario("demo", seed=7, clock=clock)
    b = build_scenario("demo", seed=7, clock=clock)
    assert [(i.id, i.label, i.status_at(clock())) for i in a] == [(i.id, i.label, i.status_at(clock())) for i in b]
    statuses = {i.status_at(clock()) for i in a}
    assert {"WORKING", "STARTING", "SCAN_QR_CODE", "STOPPED", "FAILED", "PASSKEY_REQUIRED"} <= statuses
    assert any(i.faults for i in a) and any(i.stuck_starting for i in a)
    assert 20 <= len(a) <= 30
    assert len(build_scenario("fleet", instances=500, clock=clock)) == 500


def test_simulate_help_lists_the_scenarios():
    import subprocess
    import sys

    from wawp_tui.simulator import SCENARIOS

    out = subprocess.run([sys.executable, "-m", "wawp_tui", "simulate", "--help"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0
    for name, what in SCENARIOS.items():
        assert f"  {name}" in out.stdout and what.split(":")[0][:30] in out.stdout
    assert "--print-config" in out.stdout


def test_print_config_gives_a_config_for_the_fleet_served(tmp_path, capsys):
    import os
    import socket
    import subprocess
    import sys
    import time

    import httpx

    from wawp_tui.cli import main
    from wawp_tui.config import load_config

    assert main(["simulate", "--scenario", "healthy", "--instances", "4", "--seed", "3",
                 "--port", "18000", "--print-config"]) == 0
    printed = tmp_path / "printed.toml"
    printed.write_text(capsys.readouterr().out)
    os.chmod(printed, 0o600)
    config = load_config(printed, env={})
    assert config.api.base_url == "http://127.0.0.1:18000"
    assert [i.id for i in config.instances] == [i.id for i in build_scenario("healthy", seed=3, instances=4)]
    # With a path: written (0600, never over a file), then served: the same fleet.
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    path = tmp_path / "fleet.toml"
    proc = subprocess.Popen([sys.executable, "-m", "wawp_tui", "simulate", "--scenario", "healthy",
                             "--instances", "4", "--seed", "3", "--port", str(port),
                             "--print-config", str(path)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        served = None
        while served is None:
            assert time.monotonic() < deadline and proc.poll() is None
            try:
                served = httpx.get(f"http://127.0.0.1:{port}/_sim/state", timeout=2).json()
            except httpx.TransportError:
                time.sleep(0.1)
        assert path.stat().st_mode & 0o777 == 0o600
        assert [i.id for i in load_config(path, env={}).instances] == [row["id"] for row in served]
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    assert main(["simulate", "--port", "18000", "--print-config", str(path)]) == 2
    assert "already exists" in capsys.readouterr().err
