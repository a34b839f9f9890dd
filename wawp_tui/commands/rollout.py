"""`wawp-tui rollout`: a fleet operation in waves, for people and for cron.

Before anything is sent, the two things a rollout leaves behind are checked: its progress
(the state folder must take a file: a rollout that cannot be resumed must not start) and
its record (the audit log takes a first "rollout" record, flushed: on a full disk or an
unwritable log the rollout refuses, unless --no-audit says to go without one). A record
that fails during the run stops it after the wave it belongs to (resumable). Output that cannot be
written (a closed pipe, a full disk) does not stop a rollout: it is said once on stderr,
the audit log keeps the record, and the exit code says it (74) when nothing else failed.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import os
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from wawp_tui.client.api import WawpClient
from wawp_tui.commands.output import OutputFailed
from wawp_tui.config import Config, audit_log_path, history_path, state_dir
from wawp_tui.core import (
    CONSEQUENCES,
    AuditLog,
    FleetMonitor,
    HistoryStore,
    Monitor,
    RolloutBusy,
    RolloutState,
    RolloutStateError,
    describe,
    plan,
)
from wawp_tui.launch import UsageError, rerun_options, resume_command, say
from wawp_tui.safe_text import clean
from wawp_tui.vocab import ExitCode

if TYPE_CHECKING:
    from wawp_tui.hub.link import HubLink


class _Output:
    """Where progress lines go; what became of them."""

    failed: str | None = None


def _line(text: str) -> None:
    """A progress line a log collector can read: UTC timestamp, then the message. Output
    that fails is said once on stderr and stops being written: the rollout goes on."""
    if _Output.failed is not None:
        return
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    try:
        print(f"{stamp} {clean(text, 2000, strip=False)}", flush=True)
    except OutputFailed as exc:
        _Output.failed = exc.reason
        _say(f"wawp-tui: rollout: cannot write to standard output: {exc.reason}; the rollout "
             "goes on, its record is in the audit log")


def _say(text: str) -> None:
    """One line on stderr."""
    say(clean(text, 2000, strip=False))


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


def run_rollout_attached(args: argparse.Namespace, config: Config,
                         new_link: Callable[[], HubLink]) -> int:
    """`wawp-tui rollout ... --hub URL`: the same waves over the hub's fleet, every action
    asked of the hub and passing its one gate (journaled there with this user's name)."""
    from wawp_tui.hub.attach import AttachedMonitor, configs_of

    async def fleet() -> Config:
        monitor = AttachedMonitor(new_link(), config)
        try:
            await monitor.refresh()
            if monitor.trouble is not None:
                raise UsageError(f"rollout: {monitor.trouble}; nothing was sent")
            if monitor.read_only and not args.dry_run:
                raise UsageError(f"rollout: {monitor.check('restart', ['-']).refused[0].message}")
            return dataclasses.replace(config, instances=tuple(configs_of(monitor)))
        finally:
            await monitor.close()

    hub_fleet = asyncio.run(fleet())
    return run_rollout(args, hub_fleet, None, attach=lambda audit: AttachedMonitor(new_link(), config),
                       path=state_dir() / "hub-rollout.json")


def run_rollout(args: argparse.Namespace, config: Config, client: WawpClient | None, *,
                attach: Callable[[AuditLog], FleetMonitor] | None = None,
                path: Path | None = None) -> int:
    """`wawp-tui rollout ...`: plan (or resume), confirm, run; the exit code. `attach`:
    the monitor of a hub's fleet instead of one polling with `client`."""
    _Output.failed = None
    path = path or state_dir() / "rollout.json"
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
    _check_state_folder(path)
    audit = _audit_for(args, state)
    try:
        final, audit_failed = asyncio.run(_run(state, config, client, args.continue_on_error,
                                               path, audit, attach))
    except RolloutBusy as exc:
        _say(f"wawp-tui: {exc}")
        return ExitCode.NOT_ALL_WELL
    except KeyboardInterrupt:
        _line("interrupted: progress is saved; resume with: "
              f"{resume_command(state.action, rerun_options(args, config))}")
        return ExitCode.NOT_ALL_WELL
    except OSError as exc:
        # Progress could not be saved mid-run (a disk that filled up): what was sent stays
        # sent, and the rollout stops rather than go on with no way to resume it.
        _say(f"wawp-tui: rollout stopped: cannot save its progress in {path.parent}: "
             f"{exc.strerror or exc}; what was sent stays sent (see the audit log)")
        return ExitCode.NOT_ALL_WELL
    finally:
        audit.close()
    if audit_failed:
        return ExitCode.NOT_ALL_WELL
    if final.status != "done" or final.failed:
        return ExitCode.NOT_ALL_WELL
    return ExitCode.IO_ERROR if _Output.failed is not None else ExitCode.OK


def _check_state_folder(path: Path) -> None:
    """The folder that keeps the rollout's progress takes a file, or UsageError saying
    which folder and why (nothing was sent)."""
    folder = path.parent
    try:
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd, probe = tempfile.mkstemp(prefix=".probe.", dir=folder)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise UsageError(f"rollout: cannot save its progress in {folder}: "
                         f"{exc.strerror or exc}; nothing was sent. A rollout that could not be "
                         "resumed does not start: make the folder writable (or set "
                         "XDG_STATE_HOME to one that is)") from None


class _RolloutAudit(AuditLog):
    """The audit log of a rollout: the moment a record cannot be written, `on_failure`
    is called (the rollout then stops after the wave in which it happened)."""

    on_failure: Callable[[], None] | None = None

    def write(self, at: float, event: str, **fields: Any) -> None:
        super().write(at, event, **fields)
        if self.error is not None and self.on_failure is not None:
            failure, self.on_failure = self.on_failure, None
            failure()


def _audit_for(args: argparse.Namespace, state: RolloutState) -> AuditLog:
    """The audit log, with the rollout's first record written and flushed; UsageError
    when it cannot be (nothing was sent). --no-audit: no log, said on stdout."""
    if args.no_audit:
        _line("audit: off (--no-audit): this rollout's actions are not recorded")
        return AuditLog(None)
    audit = _RolloutAudit(audit_log_path())
    if audit.error is None:
        audit.write(time.time(), "rollout", action=state.action, instances=state.total,
                    waves=len(state.waves), resumed=bool(args.resume), pid=os.getpid())
    if audit.error is not None:
        audit.close()
        raise UsageError(f"rollout: {audit.error}; nothing was sent. A rollout's actions must "
                         "be recorded: fix the audit log, or run with --no-audit to go without "
                         "a record")
    return audit


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


async def _run(state: RolloutState, config: Config, client: WawpClient | None,
               continue_on_error: bool, path: Path, audit: AuditLog,
               attach: Callable[[AuditLog], FleetMonitor] | None = None) -> tuple[RolloutState, bool]:
    """Run the rollout; (its final state, whether the audit log failed meanwhile: then it
    stopped after the wave it was in)."""
    failed = False

    def audit_failed() -> None:
        nonlocal failed
        failed = True
        rollout.cancel_requested = True
        _say(f"wawp-tui: rollout stopping after this wave: {audit.error}; resume once the "
             f"audit log is fixed with: wawp-tui rollout {state.action} --resume")

    # The shared history: the guards and the runbook's ladder of the last hour (a back-off
    # in force) hold for a cron rollout as they do for the TUI. Through a hub, the hub's.
    monitor: FleetMonitor = attach(audit) if attach is not None else \
        Monitor(config, client, audit=audit,  # type: ignore[arg-type]
                history=HistoryStore(history_path()))
    try:
        rollout = monitor.rollout(state, state_path=path, progress=_line,
                                  continue_on_error=continue_on_error)
        if isinstance(audit, _RolloutAudit):
            audit.on_failure = audit_failed
        return await rollout.run(), failed
    finally:
        await monitor.close()
