"""Rolling fleet operations: restart / stop / start in waves, resumable. No Textual.

A wave is done when every instance in it reached the target (restart: WORKING and past
the 30 s stabilization; stop: STOPPED; start: WORKING, or SCAN_QR_CODE / a passkey status,
which is reported, not retried). An instance waiting for a person at the phone
(SCAN_QR_CODE, PASSKEY_*: `runbook.needs_person`) is skipped by a restart rollout with
the reason, like one already in the target state; so is one whose runbook ladder is used
up or ended (it needs a person, or 10 min of WORKING, first). An instance that misses its target
within the 60 s loop-guard window, or falls into FAILED / a phone status after a restart,
halts the rollout unless continue_on_error. Progress is saved atomically after every step, so an interrupted
rollout resumes from the first unfinished wave without repeating finished instances.
"""

from __future__ import annotations

import asyncio
import json
import math
import re
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

from wawp_tui.core import runbook
from wawp_tui.core.actions import Report
from wawp_tui.core.fleet import FleetState
from wawp_tui.files import Busy, atomic_write, held_while_running, read_lines
from wawp_tui.models import FAILED, STARTING, STOPPED, WORKING
from wawp_tui.safe_text import clean
from wawp_tui.vocab import Trigger, plural


class Driver(Protocol):
    """What a rollout needs of the Monitor: polls, guarded actions, the fleet (a protocol,
    so the monitor imports rollouts and not the other way round)."""

    @property
    def fleet(self) -> FleetState: ...

    async def refresh(self, ids: Iterable[str] | None = None, *,
                      deadline: float | None = None) -> set[str]: ...

    async def act(self, action: str, ids: Iterable[str], *,
                  trigger: Trigger = Trigger.MANUAL, by: str | None = None) -> Report: ...


ROLLOUT_ACTIONS = ("restart", "stop", "start")
_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
DEFAULT_WAVE = 5
#: How often a wave re-polls its instances while waiting for them.
WAVE_POLL = 2.0
#: A refusal whose guard runs out within this many seconds is waited for, then retried.
GUARD_WAIT_LIMIT = runbook.RESTART_LOOP_GUARD + 5.0
#: Sends per instance in a wave (the first, then after waiting out a guard, twice).
GUARD_ATTEMPTS = 3
#: Rough seconds per wave, for the plan shown before a rollout starts.
WAVE_ESTIMATE = {"restart": 45.0, "stop": 5.0, "start": 20.0}

Progress = Callable[[str], None]
Sleep = Callable[[float], Awaitable[None]]


@dataclass
class RolloutState:
    """A rollout's plan and progress (what the state file holds)."""

    action: str
    waves: list[list[str]]
    #: Instances finished (reached the target, or skipped, or failed with continue_on_error).
    done: list[str] = field(default_factory=list)
    #: Instances whose action was sent (a resumed wave waits for these, never re-sends).
    sent: list[str] = field(default_factory=list)
    #: id -> why it was skipped (already in the target state, not applicable).
    skipped: dict[str, str] = field(default_factory=dict)
    #: id -> what went wrong.
    failed: dict[str, str] = field(default_factory=dict)
    #: Reported but not errors (e.g. started into SCAN_QR_CODE: needs a phone).
    notes: dict[str, str] = field(default_factory=dict)
    status: str = "planned"  # planned, running, interrupted, halted, cancelled, done
    reason: str = ""
    started_at: float | None = None

    @property
    def total(self) -> int:
        return sum(len(w) for w in self.waves)

    def first_unfinished_wave(self) -> int:
        for index, wave in enumerate(self.waves):
            if any(i not in self.done for i in wave):
                return index
        return len(self.waves)

    def summary(self) -> str:
        ok = len([i for i in self.done if i not in self.skipped and i not in self.failed])
        parts = [f"rollout {self.action} {self.status}: {ok} / {self.total} done"]
        if self.skipped:
            parts.append(f"{len(self.skipped)} skipped")
        if self.failed:
            parts.append(f"{len(self.failed)} failed")
        if self.notes:
            parts.append(f"{len(self.notes)} need attention")
        text = ", ".join(parts)
        return f"{text} ({self.reason})" if self.reason else text

    # -- persistence -----------------------------------------------------------------

    def save(self, path: Path | None) -> None:
        """Write atomically (temp + rename, 0600): a crash leaves the previous state whole."""
        if path is None:
            return
        data = asdict(self)
        for key in ("skipped", "failed", "notes"):
            data[key] = {clean(k, 64): clean(v, 300) for k, v in data[key].items()}
        data["reason"] = clean(self.reason, 300)
        atomic_write(path, json.dumps(data))

    @classmethod
    def load(cls, path: Path) -> RolloutState:
        """Read a saved state back; RolloutStateError saying what is wrong when damaged."""
        try:
            lines, too_long = read_lines(path, max_line=16 * 1024 * 1024)
        except OSError as exc:
            raise RolloutStateError(f"cannot read it: {exc.strerror or exc}") from None
        try:
            data = json.loads("\n".join(lines)) if not too_long else None
        except (ValueError, RecursionError):
            data = None
        if not isinstance(data, dict):
            raise RolloutStateError("it is not a rollout state (not a JSON object)")
        return cls(**_checked_fields(data))


class RolloutStateError(ValueError):
    """A saved rollout state that cannot be trusted (damaged, edited, from elsewhere)."""


class RolloutBusy(RuntimeError):
    """Another rollout (another terminal, cron) is running on this machine: guards held in
    one process cannot stop the other's sends, so only one runs at a time."""


def _checked_fields(data: dict[str, Any]) -> dict[str, Any]:
    """The constructor arguments from a loaded state, each of the right shape."""
    def ids(value: Any, what: str) -> list[str]:
        if not isinstance(value, list) or not all(isinstance(i, str) and _ID.match(i) for i in value):
            raise RolloutStateError(f"{what} is not a list of instance ids")
        return list(value)

    def notes(value: Any, what: str) -> dict[str, str]:
        if not isinstance(value, dict) or not all(
                isinstance(k, str) and _ID.match(k) and isinstance(v, str) for k, v in value.items()):
            raise RolloutStateError(f"{what} is not a map of instance id to text")
        return {k: clean(v, 300) for k, v in value.items()}

    action = data.get("action")
    if action not in ROLLOUT_ACTIONS:
        raise RolloutStateError(f"unknown action {clean(action, 20)!r}")
    waves = data.get("waves")
    if not isinstance(waves, list) or not waves:
        raise RolloutStateError("it has no waves")
    status = data.get("status", "planned")
    if status not in ("planned", "running", "interrupted", "halted", "cancelled", "done"):
        raise RolloutStateError(f"unknown status {clean(status, 20)!r}")
    started = data.get("started_at")
    if started is not None and (isinstance(started, bool) or not isinstance(started, (int, float))
                                or not math.isfinite(started)):
        raise RolloutStateError("started_at is not a time")
    unknown = set(data) - {"action", "waves", "done", "sent", "skipped", "failed", "notes",
                           "status", "reason", "started_at"}
    if unknown:
        raise RolloutStateError(f"unknown field {clean(sorted(unknown)[0], 40)!r}")
    return {
        "action": action,
        "waves": [ids(w, "a wave") for w in waves],
        "done": ids(data.get("done", []), "done"),
        "sent": ids(data.get("sent", []), "sent"),
        "skipped": notes(data.get("skipped", {}), "skipped"),
        "failed": notes(data.get("failed", {}), "failed"),
        "notes": notes(data.get("notes", {}), "notes"),
        "status": status,
        "reason": clean(data.get("reason", ""), 300) if isinstance(data.get("reason", ""), str) else "",
        "started_at": float(started) if started is not None else None,
    }


def plan(action: str, ids: Iterable[str], wave_size: int = DEFAULT_WAVE) -> RolloutState:
    """Split the instances into waves of `wave_size`, in the order given."""
    if action not in ROLLOUT_ACTIONS:
        raise ValueError(f"rollout action must be one of {', '.join(ROLLOUT_ACTIONS)}")
    if wave_size < 1:
        raise ValueError("wave size must be at least 1")
    ids = list(dict.fromkeys(ids))
    waves = [ids[n:n + wave_size] for n in range(0, len(ids), wave_size)]
    return RolloutState(action=action, waves=waves)


def estimate_seconds(state: RolloutState) -> float:
    return WAVE_ESTIMATE[state.action] * len(state.waves)


def describe(state: RolloutState) -> str:
    """The plan in one paragraph, for a confirmation."""
    return (f"{state.action} {plural(state.total, 'instance')} in {plural(len(state.waves), 'wave')} "
            f"of up to {max((len(w) for w in state.waves), default=0)}; about "
            f"{runbook.fmt_duration(estimate_seconds(state))}. Each wave waits for its "
            "instances to reach the target before the next starts; a stuck or failed instance "
            "halts the rollout. Every action obeys the runbook's guards, whoever acted last "
            "(30s to stabilize after a restart, 3s between stop and start, no second restart "
            "within 60s unless it reached WORKING): a guarded instance is waited for, never "
            "forced; one restarted since the rollout began is not restarted again.")


class Rollout:
    """Runs a RolloutState to the end (or to a halt), saving progress as it goes."""

    def __init__(
        self,
        state: RolloutState,
        monitor: Driver,
        *,
        clock: Callable[[], float] = time.time,
        sleep: Sleep = asyncio.sleep,
        progress: Progress | None = None,
        continue_on_error: bool = False,
        state_path: Path | None = None,
        trigger: Trigger = Trigger.ROLLOUT,
        by: str | None = None,
    ) -> None:
        self.state = state
        self.monitor = monitor
        self.fleet = monitor.fleet
        self.clock = clock
        self.sleep = sleep
        self.progress = progress or (lambda line: None)
        self.continue_on_error = continue_on_error
        self.state_path = state_path
        #: How and by whom its actions are asked (the audit log's trigger and by).
        self.trigger, self.by = trigger, by
        #: Set by the UI to stop after the current wave.
        self.cancel_requested = False

    def _save(self) -> None:
        self.state.save(self.state_path)

    async def run(self) -> RolloutState:
        """Run to the end or a halt. Cancelled (the program quits, the terminal goes), the
        state is saved "interrupted": `wawp-tui rollout ACTION --resume` continues it."""
        if self.state_path is None:
            return await self._guarded_run()
        try:
            with held_while_running(self.state_path):
                return await self._guarded_run()
        except Busy as exc:
            raise RolloutBusy(f"another rollout is running on this machine ({exc.holder}); nothing "
                              "was sent: wait for it to finish, or stop it first") from None

    async def _guarded_run(self) -> RolloutState:
        try:
            return await self._run()
        except asyncio.CancelledError:
            self.interrupt("the program stopped while it ran")
            raise

    def interrupt(self, why: str) -> None:
        """Mark the rollout interrupted and save it (resumable; nothing is sent twice)."""
        if self.state.status == "running":
            self.state.status, self.state.reason = "interrupted", why
            self._save()

    @property
    def resume_command(self) -> str:
        return f"wawp-tui rollout {self.state.action} --resume"

    async def _run(self) -> RolloutState:
        st = self.state
        st.status = "running"
        st.started_at = st.started_at or self.clock()
        self._save()
        start = st.first_unfinished_wave()
        for index in range(start, len(st.waves)):
            if self.cancel_requested:
                st.status, st.reason = "cancelled", f"cancelled before wave {index + 1}"
                break
            wave = [i for i in st.waves[index] if i not in st.done]
            self.progress(f"wave {index + 1}/{len(st.waves)}: {st.action} {', '.join(wave)}")
            halt = await self._wave(wave)
            self._save()
            if halt:
                st.status, st.reason = "halted", halt
                self.progress(f"halted in wave {index + 1}: {halt}")
                break
        else:
            st.status = "done"
        self._save()
        self.progress(st.summary())
        return st

    async def _wave(self, wave: list[str]) -> str | None:
        """Run one wave; returns why the rollout must halt, or None."""
        st = self.state
        await self.monitor.refresh(wave)
        targets = []
        already_sent = [i for i in wave if i in st.sent]
        for instance_id in wave:
            if instance_id in st.sent:
                continue
            why = self._skip_reason(instance_id)
            if why:
                st.skipped[instance_id] = why
                st.done.append(instance_id)
                self.progress(f"  {instance_id}: skipped ({why})")
            else:
                targets.append(instance_id)
        sent = list(already_sent)
        if already_sent:
            self.progress(f"  resumed: waiting for {', '.join(already_sent)} (their {st.action} "
                          "was already sent; not sending it twice)")
        meanwhile = [i for i in targets if self._done_meanwhile(i)]
        for instance_id in meanwhile:
            targets.remove(instance_id)
            sent.append(instance_id)
            self.progress(f"  {instance_id}: {self._done_how(instance_id)}; waiting for it, not "
                          "sending it twice")
        if targets:
            sent.extend(await self._send(targets))
        if not sent and not targets:
            return None
        problems = await self._wait(sent)
        for instance_id, why in problems.items():
            st.failed[instance_id] = why
            self.progress(f"  {instance_id}: {why}")
        for instance_id in wave:
            if instance_id not in st.done and (instance_id not in st.failed or self.continue_on_error):
                st.done.append(instance_id)
        bad = [i for i in wave if i in st.failed]
        if bad and not self.continue_on_error:
            first = bad[0]
            return f"{first}: {st.failed[first]}"
        return None

    def _done_meanwhile(self, instance_id: str) -> bool:
        """The rollout's action happened to this instance after the rollout began, or in
        the 30 s before (a manual restart, another operator's, one seen on the server,
        a STARTING first seen by this rollout): doing it again would stack a second one
        on it, purging its queue twice for nothing."""
        when = self.fleet.get(instance_id).last_action_at.get(self.state.action)
        began = self.state.started_at
        return when is not None and began is not None \
            and when >= began - runbook.STABILIZE_AFTER_RESTART

    def _done_how(self, instance_id: str) -> str:
        """ "restart already done 2s ago (seen on the server: not sent from here)"."""
        st = self.fleet.get(instance_id)
        action = self.state.action
        when = st.last_action_at.get(action)
        ago = f"{runbook.fmt_ago(self.clock() - when)} ago" if when is not None else "recently"
        who = "seen on the server: not sent from here" if action in st.seen_actions \
            else "sent from here"
        return f"{action} already done {ago} ({who})"

    async def _send(self, targets: list[str]) -> list[str]:
        """Send the action; a refusal by a guard that soon runs out is waited for and
        retried (the same guards as a key press; never forced). Returns the ids sent."""
        st = self.state
        sent: list[str] = []
        pending = list(targets)
        for attempt in range(GUARD_ATTEMPTS):
            if not pending:
                break
            # Intent first: if we die mid-send, a resume waits instead of sending twice.
            st.sent.extend(pending)
            self._save()
            report = await self.monitor.act(st.action, pending, trigger=self.trigger, by=self.by)
            waits: list[tuple[float, str]] = []
            for outcome in report.outcomes:
                if outcome.ok:
                    sent.append(outcome.instance_id)
                    continue
                st.sent.remove(outcome.instance_id)
                if outcome.refused and outcome.retry_in is not None and attempt + 1 < GUARD_ATTEMPTS \
                        and outcome.retry_in <= GUARD_WAIT_LIMIT and not self.cancel_requested:
                    waits.append((outcome.retry_in, outcome.instance_id))
                    self.progress(f"  {outcome.instance_id}: waiting "
                                  f"{runbook.fmt_duration(outcome.retry_in)} for the runbook "
                                  f"({outcome.message})")
                else:
                    st.failed[outcome.instance_id] = outcome.message
                    self.progress(f"  {outcome.instance_id}: {st.action} not done: {outcome.message}")
            self._save()
            if not waits:
                break
            await self.sleep(max(seconds for seconds, _ in waits) + 0.5)
            pending = [i for _, i in waits]
            await self.monitor.refresh(pending)
            for instance_id in list(pending):
                why = self._skip_reason(instance_id)
                if why:  # e.g. its ladder ended while we waited: a person's now, not ours
                    pending.remove(instance_id)
                    st.skipped[instance_id] = why
                    st.done.append(instance_id)
                    self.progress(f"  {instance_id}: skipped ({why})")
            for instance_id in [i for i in pending if self._done_meanwhile(i)]:
                pending.remove(instance_id)
                sent.append(instance_id)
        return sent

    def _skip_reason(self, instance_id: str) -> str | None:
        st = self.fleet.get(instance_id)
        status = st.status
        action = self.state.action
        if st.failures or status is None:
            # No fresh status (404 "not loaded", unreachable...): never "done" by default;
            # the runbook decides, and a refusal is reported as not done.
            return None
        if action == "stop" and status == STOPPED:
            return "already STOPPED"
        if action == "start" and status in (WORKING, STARTING):
            return f"already {status}"
        if action == "start" and status not in (STOPPED, FAILED):
            return f"{status}: start only applies to STOPPED or FAILED"
        if action == "restart" and runbook.needs_person(status):
            return f"{status}: needs a person at the phone, not a restart"
        if action in ("restart", "start"):
            person = runbook.needs_a_person(st, self.clock())
            if person is not None:
                # Where the runbook's ladder ended, a rollout stops too, and says so.
                return person
        if action == "restart":
            verdict = runbook.check_action(st, action, self.clock())
            if verdict.guard in ("ladder_end", "ladder_rate"):
                # The ladder is used up: its countdown ends in "needs a person" or in
                # 10 min of WORKING, never in a restart a rollout should wait for.
                return verdict.reason
        if action == "restart" and status == STOPPED:
            return "STOPPED: not restarted (use a start rollout)"
        return None

    async def _wait(self, ids: list[str]) -> dict[str, str]:
        """Poll until every instance reaches the target; returns the ones that did not."""
        action = self.state.action
        pending = set(ids)
        problems: dict[str, str] = {}
        started = self.clock()
        deadline = started + runbook.RESTART_LOOP_GUARD
        if action == "restart":
            deadline += runbook.STABILIZE_AFTER_RESTART
        while pending:
            await self.sleep(WAVE_POLL)
            await self.monitor.refresh(sorted(pending))
            now = self.clock()
            for instance_id in sorted(pending):
                reached, problem = self._reached(instance_id, now, started)
                if problem:
                    problems[instance_id] = problem
                    pending.discard(instance_id)
                elif reached:
                    pending.discard(instance_id)
            if now >= deadline:
                for instance_id in pending:
                    word = self.fleet.get(instance_id).status
                    problems[instance_id] = (f"did not reach {self._target()} within "
                                             f"{runbook.fmt_duration(deadline - started)} (still {word})")
                break
        return problems

    def _target(self) -> str:
        return STOPPED if self.state.action == "stop" else WORKING

    def _reached(self, instance_id: str, now: float, started: float) -> tuple[bool, str | None]:
        st = self.fleet.get(instance_id)
        action = self.state.action
        if st.failures:
            return False, None  # a failed poll is not a verdict; the deadline is
        if action == "stop":
            return st.status == STOPPED, None
        if st.status == FAILED:
            return False, f"fell into FAILED after the {action}"
        person = runbook.needs_person(st.status)
        if person is not None:
            if action == "start":
                self.state.notes[instance_id] = f"started into {st.status}: {person}"
                self.progress(f"  {instance_id}: {st.status}: needs a person at the phone: {person}")
                return True, None
            return False, f"fell into {st.status}: {person}"
        if st.status != WORKING:
            return False, None
        if action == "restart":
            restarted = st.last_action_at.get("restart", started)
            return now - restarted >= runbook.STABILIZE_AFTER_RESTART, None
        return True, None
