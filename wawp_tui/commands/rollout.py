"""`wawp-tui rollout`: a fleet operation in waves, for people and for cron."""

from __future__ import annotations

import asyncio
import sys
import time
from datetime import datetime, timezone

from wawp_tui.core.actions import ActionRunner
from wawp_tui.core.audit import AuditLog
from wawp_tui.config import audit_log_path, state_dir
from wawp_tui.core.fleet import FleetState
from wawp_tui.core.poller import Poller
from wawp_tui.safe_text import clean
from wawp_tui.core.rollout import Rollout, RolloutState, RolloutStateError, describe, plan

EXIT_OK, EXIT_HALTED, EXIT_USAGE = 0, 1, 2


def _line(text: str) -> None:
    """A progress line a log collector can read: UTC timestamp, then the message."""
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    print(f"{stamp} {clean(text, 2000, strip=False)}", flush=True)


def _select(args, config) -> list[str]:
    chosen = list(config.instances)
    if args.ids:
        wanted = [i.strip() for i in args.ids.split(",") if i.strip()]
        known = {i.id for i in chosen}
        unknown = [i for i in wanted if i not in known]
        if unknown:
            raise ValueError(f"--ids names instances not in the config: {', '.join(unknown)}")
        chosen = [i for i in chosen if i.id in wanted]
    if args.tag:
        chosen = [i for i in chosen if set(i.tags) & set(args.tag)]
    return [i.id for i in chosen]


def run_rollout(args, config, client) -> int:
    path = state_dir() / "rollout.json"
    if args.resume:
        if not path.exists():
            print("wawp-tui: nothing to resume (no interrupted rollout)", file=sys.stderr)
            return EXIT_USAGE
        try:
            state = RolloutState.load(path)
        except RolloutStateError as exc:
            print(f"wawp-tui: the saved rollout {path} is damaged ({exc}); nothing was sent. "
                  f"To start fresh: rm {path}, then run the rollout again without --resume",
                  file=sys.stderr)
            return EXIT_USAGE
        if state.status == "done":
            print("wawp-tui: the last rollout finished; nothing to resume", file=sys.stderr)
            return EXIT_USAGE
        if state.action != args.action:
            print(f"wawp-tui: the interrupted rollout is a {state.action}, not a {args.action}",
                  file=sys.stderr)
            return EXIT_USAGE
        known = {i.id for i in config.instances}
        missing = [i for w in state.waves for i in w if i not in known]
        if missing:
            print(f"wawp-tui: the saved rollout names instances no longer configured: "
                  f"{', '.join(missing[:5])}", file=sys.stderr)
            return EXIT_USAGE
    else:
        try:
            ids = _select(args, config)
            state = plan(args.action, ids, args.wave)
        except ValueError as exc:
            print(f"wawp-tui: {exc}", file=sys.stderr)
            return EXIT_USAGE
        if not ids:
            print("wawp-tui: no instance matches the selection", file=sys.stderr)
            return EXIT_USAGE
    _line(f"plan: {describe(state)}")
    for n, wave in enumerate(state.waves, 1):
        mark = " (done)" if all(i in state.done for i in wave) else ""
        _line(f"  wave {n}: {', '.join(wave)}{mark}")
    if args.dry_run:
        _line("dry run: nothing sent")
        return EXIT_OK
    if config.monitor.read_only:
        print("wawp-tui: read-only mode: a rollout would send actions; nothing sent", file=sys.stderr)
        return EXIT_USAGE
    if not args.yes:
        if not sys.stdin.isatty():
            print("wawp-tui: refusing to run a rollout unattended without --yes", file=sys.stderr)
            return EXIT_USAGE
        answer = input(f"Proceed with the {state.action} rollout? [y/N] ").strip().lower()
        if answer not in ("y", "yes"):
            _line("cancelled: nothing sent")
            return EXIT_OK
    try:
        final = asyncio.run(_run(state, config, client, args.continue_on_error, path))
    except KeyboardInterrupt:
        _line("interrupted: progress is saved; resume with: wawp-tui rollout "
              f"{state.action} --resume")
        return EXIT_HALTED
    return EXIT_OK if final.status == "done" and not final.failed else EXIT_HALTED


async def _run(state, config, client, continue_on_error, path):
    fleet = FleetState(config.instances, time.time)
    async with client:
        poller = Poller(client, fleet, config.instances, concurrency=config.api.max_concurrency)
        runner = ActionRunner(client, fleet, config.instances, clock=time.time,
                              audit=AuditLog(audit_log_path()))
        rollout = Rollout(state, runner, poller, fleet, progress=_line,
                          continue_on_error=continue_on_error, state_path=path)
        return await rollout.run()
