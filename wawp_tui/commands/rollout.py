"""`wawp-tui rollout`: a fleet operation in waves, for people and for cron."""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import UTC, datetime
from pathlib import Path

from wawp_tui.client.api import WawpClient
from wawp_tui.config import Config, audit_log_path, state_dir
from wawp_tui.core import (
    CONSEQUENCES,
    AuditLog,
    Monitor,
    RolloutBusy,
    RolloutState,
    RolloutStateError,
    describe,
    plan,
)
from wawp_tui.launch import UsageError, rerun_options, resume_command
from wawp_tui.safe_text import clean
from wawp_tui.vocab import ExitCode


def _line(text: str) -> None:
    """A progress line a log collector can read: UTC timestamp, then the message."""
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    print(f"{stamp} {clean(text, 2000, strip=False)}", flush=True)


def _say(text: str) -> None:
    """One line on stderr."""
    print(clean(text, 2000, strip=False), file=sys.stderr)


def _select(args: argparse.Namespace, config: Config) -> list[str]:
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


def run_rollout(args: argparse.Namespace, config: Config, client: WawpClient) -> int:
    """`wawp-tui rollout ...`: plan (or resume), confirm, run; the exit code."""
    path = state_dir() / "rollout.json"
    state = _resumed(args, config, path) if args.resume else _planned(args, config)
    _line(f"plan: {describe(state)}")
    _line(f"each instance: {CONSEQUENCES[state.action]}")
    for n, wave in enumerate(state.waves, 1):
        mark = " (done)" if all(i in state.done for i in wave) else ""
        _line(f"  wave {n}: {', '.join(wave)}{mark}")
    if args.dry_run:
        _line("dry run: nothing sent")
        return ExitCode.OK
    if config.monitor.read_only:
        raise UsageError("read-only mode: a rollout would send actions; nothing sent")
    if not args.yes and not _confirmed(state):
        _line("cancelled: nothing sent")
        return ExitCode.OK
    try:
        final = asyncio.run(_run(state, config, client, args.continue_on_error, path))
    except RolloutBusy as exc:
        _say(f"wawp-tui: {exc}")
        return ExitCode.NOT_ALL_WELL
    except KeyboardInterrupt:
        _line("interrupted: progress is saved; resume with: "
              f"{resume_command(state.action, rerun_options(args, config))}")
        return ExitCode.NOT_ALL_WELL
    return ExitCode.OK if final.status == "done" and not final.failed else ExitCode.NOT_ALL_WELL


def _resumed(args: argparse.Namespace, config: Config, path: Path) -> RolloutState:
    """The interrupted rollout, checked against this command line and config."""
    if not path.exists():
        raise UsageError("nothing to resume (no interrupted rollout)")
    try:
        state = RolloutState.load(path)
    except RolloutStateError as exc:
        raise UsageError(f"the saved rollout {path} is damaged ({exc}); nothing was sent. "
                         f"To start fresh: rm {path}, then run the rollout again without "
                         "--resume") from None
    if state.status == "done":
        raise UsageError("the last rollout finished; nothing to resume")
    if state.action != args.action:
        raise UsageError(f"the interrupted rollout is a {state.action}, not a {args.action}")
    known = {i.id for i in config.instances}
    missing = [i for w in state.waves for i in w if i not in known]
    if missing:
        raise UsageError("the saved rollout names instances no longer configured: "
                         f"{', '.join(missing[:5])}")
    # Why it stopped ("quit from the TUI") is history now: the resumed run's summary
    # must not end with it.
    state.reason = ""
    return state


def _planned(args: argparse.Namespace, config: Config) -> RolloutState:
    """A new rollout of the instances the command line selects."""
    try:
        ids = _select(args, config)
        state = plan(args.action, ids, args.wave)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    if not ids:
        raise UsageError("no instance matches the selection")
    return state


def _confirmed(state: RolloutState) -> bool:
    """Asked on a terminal; refused unattended (cron must say --yes)."""
    if not sys.stdin.isatty():
        raise UsageError("refusing to run a rollout unattended without --yes")
    answer = input(f"Proceed with the {state.action} rollout? [y/N] ").strip().lower()
    return answer in ("y", "yes")


async def _run(state: RolloutState, config: Config, client: WawpClient,
               continue_on_error: bool, path: Path) -> RolloutState:
    audit = AuditLog(audit_log_path())
    if audit.error:
        _say(f"wawp-tui: warning: {audit.error}; the rollout's actions will not be recorded")
    async with client:
        monitor = Monitor(config, client, audit=audit)
        rollout = monitor.rollout(state, state_path=path, progress=_line,
                                  continue_on_error=continue_on_error)
        return await rollout.run()
