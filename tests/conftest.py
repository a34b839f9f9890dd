"""Shared fixtures: a simulator served by uvicorn on 127.0.0.1, a fake clock, configs.

Tests never see the developer's own config, log or theme folders: platformdirs is
pointed at a temporary HOME for the whole session.
"""

from __future__ import annotations

import dataclasses
import os

import pytest
from hypothesis import HealthCheck, settings

from wawp_tui.models import InstanceConfig, Secret

# In CI the property tests draw the same examples every run (a failure there is the code's,
# never the dice's) and a starved 2-core machine does not trip the too-slow check; on a
# developer's machine they keep exploring.
settings.register_profile("ci", derandomize=True, database=None, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
if os.environ.get("CI"):
    settings.load_profile("ci")

TEST_TOKEN = "test-token-not-real"
PROXY_VARIABLES = ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy",
                   "ALL_PROXY", "no_proxy", "NO_PROXY")


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path_factory, monkeypatch):
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("XDG_STATE_HOME", str(home / ".local/state"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / ".cache"))
    for var in ("WAWP_BASE_URL", "WAWP_ACCESS_TOKEN", "WAWP_INSTANCE_ID"):
        monkeypatch.delenv(var, raising=False)
    # The machine's proxy settings must not route the tests' loopback traffic (the proxy
    # tests set their own).
    for var in PROXY_VARIABLES:
        monkeypatch.delenv(var, raising=False)
    yield


@pytest.fixture(autouse=True)
def _secrets_registered_by_a_test_stay_in_it():
    """Every Secret registers its value with the text boundary for the life of the
    process (as it must: a config's tokens are redacted everywhere). In a test run that
    life spans every test: a token a property test draws (any text at all) would go on
    redacting the words of later tests: a demo label in a snapshot read "*** APAC" in
    one run in ten. Each test gets the registry it started with back, and the caches
    keyed by its generation are told it changed."""
    from wawp_tui import safe_text

    with safe_text._lock:
        saved = (set(safe_text._known), {k: set(v) for k, v in safe_text._runs.items()},
                 {k: set(v) for k, v in safe_text._probes.items()},
                 {k: (list(v) if isinstance(v, list) else v) for k, v in safe_text._form_probes.items()},
                 safe_text._windows)
    yield
    with safe_text._lock:
        if saved[0] != safe_text._known:
            (safe_text._known, safe_text._runs, safe_text._probes, safe_text._form_probes,
             safe_text._windows) = saved
            safe_text._generation += 1


class FakeClock:
    """A clock tests move by hand: no sleeping."""

    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def serve():
    """Start simulators on free loopback ports; every one is stopped at teardown."""
    from wawp_tui.simulator import serve_in_thread

    handles = []

    def start(app, port=0, tls=None):
        handle = serve_in_thread(app, port=port, tls=tls)
        handles.append(handle)
        return handle

    yield start
    for handle in handles:
        handle.stop()


def make_config(url: str, sim_instances, *, token: str | None = None, **monitor):
    """A Config for the given simulated instances at `url`."""
    from wawp_tui.config import ApiSettings, Config, MonitorSettings

    instances = tuple(
        InstanceConfig(id=i.id, label=i.label, token=Secret(token or i.token), tags=tuple(i.tags))
        for i in sim_instances
    )
    return Config(
        api=dataclasses.replace(ApiSettings(), base_url=url, timeout=2.0, connect_timeout=1.0),
        monitor=dataclasses.replace(MonitorSettings(), **monitor),
        instances=instances,
        path=None,
        warnings=(),
    )


@pytest.fixture
def rig(serve, clock, tmp_path):
    """start(scenario, read_only, n, timer) -> (simulator, app): an app on a simulator
    over real sockets, with the test's clock, polling only when told."""
    from wawp_tui.client.api import WawpClient
    from wawp_tui.core.audit import AuditLog
    from wawp_tui.simulator import Simulator, build_scenario
    from wawp_tui.ui.app import build_app

    def start(scenario="demo", read_only=False, n=None, timer=None):
        sim_instances = build_scenario(scenario, seed=7, instances=n, clock=clock)
        sim = Simulator(sim_instances, clock=clock, seed=7)
        url = serve(sim).url
        config = make_config(url, sim_instances, read_only=read_only)
        client = WawpClient(url, timeout=2, connect_timeout=1)
        extra = {"timer": timer} if timer else {}
        app = build_app(config, client, clock=clock, audit=AuditLog(tmp_path / "audit.jsonl"),
                        poll=False, **extra)
        return sim, app
    return start
