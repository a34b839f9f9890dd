"""The demo: the seeded simulator in this process, reached through httpx's ASGI transport.

No account, no network, no config file: `wawp-tui --demo` and `wawp-tui status --demo`.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any

import httpx

from wawp_tui.config import ApiSettings, Config, MonitorSettings
from wawp_tui.models import InstanceConfig, Secret
from wawp_tui.simulator import Simulator, build_scenario

DEMO_SEED = 7
DEMO_TOKEN = "demo-token"
#: A base URL that cannot resolve anywhere: the transport answers in-process.
DEMO_BASE_URL = "http://wawp-demo.invalid"


@functools.cache
def demo_simulator() -> Simulator:
    """The one simulated fleet of this process (the same for the TUI and the client)."""
    return Simulator(build_scenario("demo", seed=DEMO_SEED), seed=DEMO_SEED)


def demo_transport() -> httpx.AsyncBaseTransport:
    """Requests go straight into the simulator; an app error reads as a 500, not a crash."""
    return httpx.ASGITransport(app=demo_simulator(), raise_app_exceptions=False)


def demo_config(
    refresh: float | None = None,
    read_only: bool = False,
    theme: str | None = None,
) -> Config:
    """A Config describing the simulated fleet."""
    return demo_config_for(demo_simulator(), refresh=refresh, read_only=read_only, theme=theme)


def demo_config_for(sim: Simulator, refresh: float | None = None, read_only: bool = False,
                    theme: str | None = None) -> Config:
    """A Config describing the fleet of `sim`."""
    instances = tuple(
        InstanceConfig(id=i.id, label=i.label, token=Secret(DEMO_TOKEN), tags=tuple(i.tags),
                       token_source="demo")
        for i in sim.instances.values()
    )
    monitor = MonitorSettings()
    overrides: dict[str, Any] = {"read_only": read_only or monitor.read_only}
    if refresh is not None:
        overrides["refresh"] = refresh
    if theme:
        overrides["theme"] = theme
    return Config(
        api=dataclasses.replace(ApiSettings(), base_url=DEMO_BASE_URL, timeout=3.0),
        monitor=dataclasses.replace(monitor, **overrides),
        instances=instances,
        path=None,
        warnings=(),
    )
