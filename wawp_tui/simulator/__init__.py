"""A fake Wawp v2 server (ASGI) with a realistic state machine and fault injection."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from wawp_tui.simulator.app import Simulator
from wawp_tui.simulator.faults import FAULT_KINDS
from wawp_tui.simulator.hostile import HOSTILE_KINDS
from wawp_tui.simulator.scenarios import SCENARIOS, SIM_TOKEN, build_scenario
from wawp_tui.simulator.state import SimInstance

if TYPE_CHECKING:
    from wawp_tui.simulator.server import ServerHandle, serve_in_thread


def __getattr__(name: str) -> Any:
    # The HTTP server (uvicorn) is imported only by what serves: the demo, which runs
    # the simulator in-process, starts 25 ms sooner without it.
    if name in ("ServerHandle", "serve_in_thread"):
        from wawp_tui.simulator import server

        return getattr(server, name)
    raise AttributeError(name)


__all__ = ["FAULT_KINDS", "HOSTILE_KINDS", "SCENARIOS", "SIM_TOKEN", "ServerHandle", "SimInstance", "Simulator",
           "build_scenario", "serve_in_thread"]
