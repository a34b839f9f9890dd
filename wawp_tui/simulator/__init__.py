"""A fake Wawp v2 server (ASGI) with a realistic state machine and fault injection."""

from wawp_tui.simulator.app import Simulator
from wawp_tui.simulator.faults import FAULT_KINDS
from wawp_tui.simulator.hostile import HOSTILE_KINDS
from wawp_tui.simulator.scenarios import SCENARIOS, SIM_TOKEN, build_scenario
from wawp_tui.simulator.server import ServerHandle, serve_in_thread
from wawp_tui.simulator.state import SimInstance

__all__ = ["FAULT_KINDS", "HOSTILE_KINDS", "SCENARIOS", "SIM_TOKEN", "ServerHandle", "SimInstance", "Simulator",
           "build_scenario", "serve_in_thread"]
