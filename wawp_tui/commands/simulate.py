"""`wawp-tui simulate`: the simulator as a real HTTP server on loopback."""

from __future__ import annotations

import argparse

from wawp_tui.launch import UsageError
from wawp_tui.simulator import SCENARIOS, Simulator, build_scenario
from wawp_tui.simulator.server import run_forever
from wawp_tui.vocab import ExitCode


def run(args: argparse.Namespace) -> int:
    if args.scenario not in SCENARIOS:
        raise UsageError(f"unknown scenario {args.scenario!r}; choose from: {', '.join(SCENARIOS)}")
    if args.instances is not None and args.instances < 1:
        raise UsageError("--instances must be at least 1")
    instances = build_scenario(args.scenario, seed=args.seed, instances=args.instances)
    try:
        run_forever(Simulator(instances, seed=args.seed, latency=args.latency_ms / 1000.0),
                    args.host, args.port, scenario=args.scenario)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    except OSError as exc:
        raise UsageError(f"cannot listen on {args.host}:{args.port}: {exc.strerror or exc}") from None
    return ExitCode.OK
