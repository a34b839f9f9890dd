"""`wawp-tui simulate`: the simulator as a real HTTP server on loopback."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import tomli_w

from wawp_tui.launch import UsageError
from wawp_tui.simulator import SCENARIOS, SIM_TOKEN, Simulator, build_scenario
from wawp_tui.simulator.server import run_forever
from wawp_tui.simulator.state import SimInstance
from wawp_tui.vocab import ExitCode


def run(args: argparse.Namespace) -> int:
    if args.scenario not in SCENARIOS:
        raise UsageError(f"unknown scenario {args.scenario!r}; choose from: {', '.join(SCENARIOS)}")
    if args.instances is not None and args.instances < 1:
        raise UsageError("--instances must be at least 1")
    instances = build_scenario(args.scenario, seed=args.seed, instances=args.instances)
    if args.print_config is not None:
        if args.port == 0:
            raise UsageError("--print-config needs a --port (0 picks one only when serving)")
        text = fleet_config(instances, f"http://{args.host}:{args.port}", args.scenario, args.seed)
        if args.print_config == "-":
            sys.stdout.write(text)
            return ExitCode.OK
        _write_new(Path(args.print_config), text)
        print(f"config for this fleet written to {args.print_config}; try: "
              f"wawp-tui --config {args.print_config}", flush=True)
    sim = Simulator(instances, seed=args.seed, latency=args.latency_ms / 1000.0)
    if args.webhook:
        if not args.webhook.startswith(("http://", "https://")):
            raise UsageError(f"--webhook wants an http(s) URL, not {args.webhook!r}")
        secret = None
        if args.webhook_secret_env:
            value = os.environ.get(args.webhook_secret_env, "")
            if not value:
                raise UsageError(f"--webhook-secret-env names {args.webhook_secret_env}, which is not set")
            secret = value.encode()
        sim.push_to(args.webhook, secret)
        print(f"webhooks: a {'signed' if secret else 'UNSIGNED'} session.status event to "
              f"{args.webhook} on every transition", flush=True)
    try:
        run_forever(sim, args.host, args.port, scenario=args.scenario)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    except OSError as exc:
        raise UsageError(f"cannot listen on {args.host}:{args.port}: {exc.strerror or exc}") from None
    return ExitCode.OK


def fleet_config(instances: list[SimInstance], base_url: str, scenario: str, seed: int) -> str:
    """A config file for a simulated fleet: its base URL, and every instance with its
    label and tags. The token is the simulator's own public one (never a real secret)."""
    head = (f"# The simulator's fleet: wawp-tui simulate --scenario {scenario} --seed {seed} "
            f"--instances {len(instances)}\n"
            f"# (the token is the simulator's, '{SIM_TOKEN}': no real account)\n")
    data = {"api": {"base_url": base_url},
            "instances": [{"id": i.id, "label": i.label, "token": SIM_TOKEN, "tags": list(i.tags)}
                          for i in instances]}
    return head + tomli_w.dumps(data)


def _write_new(path: Path, text: str) -> None:
    """A new file, 0600 from the start (it holds a token); never over an existing one."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise UsageError(f"{path} already exists; nothing written (pick a new name)") from None
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {exc.strerror or exc}") from None
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
