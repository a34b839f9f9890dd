"""`wawp-tui schedule show` / `schedule apply`: the [[schedules]] and keeping to them."""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import UTC, datetime
from typing import TextIO

from wawp_tui.client.api import WawpClient
from wawp_tui.commands.rollout import _line, _say
from wawp_tui.config import Config, audit_log_path, history_path, state_dir
from wawp_tui.core import AuditLog, HistoryStore, Monitor, RolloutBusy
from wawp_tui.core.desired import SCHEDULE_ROLLOUT, Plan, all_done, carry_out
from wawp_tui.core.desired import plan as desired_plan
from wawp_tui.launch import UsageError
from wawp_tui.safe_text import clean
from wawp_tui.schedules import DAY_NAMES, Schedule, meant, transitions
from wawp_tui.vocab import ExitCode, plural

#: How many coming changes `schedule show` lists per schedule.
SHOWN_CHANGES = 4


def _when(instant: float, schedule: Schedule) -> str:
    local = datetime.fromtimestamp(instant, schedule.zone)
    utc = datetime.fromtimestamp(instant, UTC)
    zone = f" {local.tzname()}" if local.tzname() else ""
    return f"{DAY_NAMES[local.weekday()]} {local:%Y-%m-%d %H:%M}{zone} = {utc:%Y-%m-%d %H:%M} UTC"


def show(config: Config, now: float, out: TextIO = sys.stdout) -> int:
    """Each schedule: what it covers, what it means now, and its next changes."""
    if not config.schedules:
        out.write(f"no [[schedules]] in {config.path or 'the configuration'}: every instance is "
                  "meant to be running\n")
        return ExitCode.OK
    for schedule in config.schedules:
        members = [i for i in config.instances if i.schedule is schedule]
        zone_name = schedule.zone_name or "this machine's time zone"
        out.write(f"{clean(schedule.name)}: running {clean(schedule.text)} ({zone_name}); "
                  f"{plural(len(members), 'instance')}\n")
        state = meant(schedule, now)
        out.write(f"  now: meant {'running' if state.running else 'STOPPED'} ({_when(now, schedule)})\n")
        for at, running in transitions(schedule, now, SHOWN_CHANGES):
            out.write(f"  {'start' if running else 'stop '} {_when(at, schedule)}\n")
        if not members:
            out.write("  (no configured instance has its tags or ids)\n")
    return ExitCode.OK


def apply(args: argparse.Namespace, config: Config, client: WawpClient) -> int:
    """Make the fleet match its schedules now: stops and starts in waves, through the
    runbook's gate, audited as schedule:<name>. For cron (the hub does it by itself)."""
    if not config.schedules:
        _line("no [[schedules]] configured: nothing to apply")
        return ExitCode.OK
    scheduled = [i.id for i in config.instances if i.schedule is not None]
    if not args.dry_run and config.monitor.read_only:
        raise UsageError("read-only mode: applying the schedules would send actions; nothing sent")
    return asyncio.run(_apply(args, config, client, scheduled))


async def _apply(args: argparse.Namespace, config: Config, client: WawpClient,
                 scheduled: list[str]) -> int:
    audit = AuditLog(audit_log_path() if not args.dry_run else None)
    async with client:
        monitor = Monitor(config, client, audit=audit,
                          history=HistoryStore(history_path() if not args.dry_run else None))
        await monitor.refresh(scheduled, deadline=max(30.0, 2 * config.api.timeout))
        todo = desired_plan(monitor.fleet, monitor.clock())
        _describe(todo, monitor)
        if args.dry_run or todo.empty:
            _line("dry run: nothing sent" if args.dry_run else "the fleet matches its schedules")
            return ExitCode.OK
        if not args.yes and not _confirmed():
            _line("cancelled: nothing sent")
            return ExitCode.OK
        if audit.error:
            raise UsageError(f"{audit.error}; nothing was sent")
        try:
            finals = await carry_out(monitor, todo, wave=args.wave,
                                     state_path=state_dir() / SCHEDULE_ROLLOUT,
                                     progress=lambda name, line: _line(line))
        except RolloutBusy as exc:
            _say(f"wawp-tui: {exc}")
            return ExitCode.NOT_ALL_WELL
        return ExitCode.OK if all_done(finals) else ExitCode.NOT_ALL_WELL


def _confirmed() -> bool:
    """Asked on a terminal; refused unattended (cron must say --yes)."""
    if not sys.stdin.isatty():
        raise UsageError("refusing to apply the schedules unattended without --yes")
    return input("Apply the schedules now? [y/N] ").strip().lower() in ("y", "yes")


def _describe(todo: Plan, monitor: Monitor) -> None:
    for (name, action), ids in sorted(todo.actions.items()):
        labels = ", ".join(monitor.state(i).label for i in ids[:8]) + (", ..." if len(ids) > 8 else "")
        _line(f"schedule {name}: {action} {plural(len(ids), 'instance')}: {labels}")
    for instance_id, why in todo.skipped.items():
        _line(f"  {monitor.state(instance_id).label} ({instance_id}): left alone: {why}")
