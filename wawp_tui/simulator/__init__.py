"""A fake Wawp v2 server (ASGI) with a realistic state machine and fault injection."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from wawp_tui.simulator.app import Simulator
    from wawp_tui.simulator.faults import FAULT_KINDS
    from wawp_tui.simulator.hostile import HOSTILE_KINDS
    from wawp_tui.simulator.scenarios import SCENARIOS, SIM_TOKEN, build_scenario
    from wawp_tui.simulator.server import ServerHandle, serve_in_thread
    from wawp_tui.simulator.state import SimInstance

#: Where each name lives, imported on first use: the HTTP server (uvicorn) only for what
#: serves (the demo, which runs the simulator in-process, starts 25 ms sooner without
#: it), and nothing at all for the command line, which only names the scenarios
#: (simulator/scenario_names.py).
_LAZY = {"ServerHandle": "server", "serve_in_thread": "server", "Simulator": "app",
         "FAULT_KINDS": "faults", "HOSTILE_KINDS": "hostile", "SCENARIOS": "scenarios",
         "SIM_TOKEN": "scenarios", "build_scenario": "scenarios", "SimInstance": "state"}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(name)
    from importlib import import_module

    return getattr(import_module(f"wawp_tui.simulator.{module}"), name)


__all__ = ["FAULT_KINDS", "HOSTILE_KINDS", "SCENARIOS", "SIM_TOKEN", "ServerHandle", "SimInstance", "Simulator",
           "build_scenario", "serve_in_thread"]
