"""FleetState: what we know about every instance, fed by the poller and the action runner.

Pure data and bookkeeping, no I/O and no Textual. Times are Unix seconds from an
injected clock, so tests move time instead of sleeping.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from wawp_tui.core import ladder as ladder_rules
from wawp_tui.core.ladder import Ladder
from wawp_tui.models import STARTING, STOPPED, WORKING, InstanceConfig
from wawp_tui.safe_text import clean
from wawp_tui.schedules import Schedule
from wawp_tui.vocab import NETWORK_KINDS, Action, ErrorKind

#: A status change within this many seconds of an action sent from here is its effect,
#: not someone else's action.
OWN_ACTION_WINDOW = 30.0
GONE_AFTER_START = ("instance not found (404) even after a start: deleted or wrong id; "
                    "check the id in your config")
#: Errors of an action that describe the instance, not the action: recorded as a poll too.
_ALSO_A_POLL = frozenset({ErrorKind.NOT_LOADED, ErrorKind.NOT_FOUND, ErrorKind.UNAUTHORIZED})

#: How many history entries each instance keeps (bounded: a wall monitor runs for days).
HISTORY_LIMIT = 50
#: Restarts remembered per instance, for "restarts in the last hour" (the ladder caps
#: them far below this; a flapping engine seen through polls is bounded here).
RESTART_LOG_LIMIT = 64
#: The actions whose times the guards read back from a restored history.
_GUARDED_ACTIONS = frozenset({Action.RESTART, Action.START, Action.STOP, Action.RESET})
#: What a status first seen with no cause known here implies: someone (or the engine)
#: did this, at the latest when the poll showed it.
_FIRST_SEEN_ACTIONS = {STARTING: Action.RESTART, STOPPED: Action.STOP}

Clock = Callable[[], float]


@dataclass(frozen=True)
class HistoryEntry:
    """One line of an instance's history: a status change, an action, or an outcome."""

    at: float
    #: "status" (a new status word was seen), "action" (we sent a command),
    #: "outcome" (the command's reply), "error" (a poll started failing / recovered).
    kind: str
    text: str
    #: For "status": the new status word; for "action"/"outcome": the action name.
    subject: str = ""
    #: True when auto-heal, not a person, did it.
    auto: bool = False
    ok: bool = True


@dataclass
class InstanceState:
    """Everything the runbook and the screen need about one instance."""

    id: str
    label: str
    tags: tuple[str, ...] = ()
    #: When it is meant to be running ([[schedules]]); None: always.
    schedule: Schedule | None = None

    #: Last status word the API gave us (None before the first good poll).
    status: str | None = None
    #: When `status` started (first poll that saw it).
    status_since: float | None = None
    #: False while the status is the one found at start-up: it began before we watched.
    status_since_known: bool = False
    #: When the last poll finished, good or bad.
    last_poll_at: float | None = None
    #: When the last poll that returned a status finished.
    last_ok_at: float | None = None
    #: Consecutive failed polls (0 after any good one).
    failures: int = 0
    #: One short line describing the last failure (None once a poll succeeds).
    last_error: str | None = None
    #: Machine word for the last failure: "unauthorized", "not_found", "rate_limited",
    #: "server_error", "bad_gateway", "timeout", "network", "malformed", "bad_request",
    #: "forbidden" (None once a poll succeeds).
    error_kind: str | None = None
    #: Round-trip time of the last poll in milliseconds.
    latency_ms: float | None = None
    #: Smoothed latency (exponential moving average of the polls).
    latency_avg: float | None = None
    #: The latency the table shows: follows latency_avg only on a real change (hysteresis),
    #: so jitter does not repaint thousands of rows.
    latency_shown: float | None = None
    #: The connected account, as the API reported it.
    me: dict[str, Any] | None = None
    #: The QR value an info reply carried in SCAN_QR_CODE (tells the QR screen to refetch).
    qr_hint: str | None = None
    #: Liveness, where the replies carry it (WAHA): the engine, presence, last activity.
    engine: str | None = None
    presence: str | None = None
    activity_at: float | None = None
    #: When the hub last heard a message event of this instance (a signed webhook): a
    #: sign of activity for idle hibernation, beside the server's `activity_at`.
    heard_at: float | None = None
    #: When the hub's idle hibernation stopped it; None once it is anything but STOPPED.
    hibernated_at: float | None = None
    #: When the current run of failed polls began (None while polls succeed).
    failing_since: float | None = None

    #: Last time each action ("start", "stop", "restart", "logout", "reset") happened:
    #: sent from here, or seen on the server (a STARTING we did not cause is a restart).
    last_action_at: dict[str, float] = field(default_factory=dict)
    #: Last time this process itself sent each action.
    sent_at: dict[str, float] = field(default_factory=dict)
    #: Actions whose latest occurrence was seen on the server, not sent from here.
    seen_actions: set[str] = field(default_factory=set)
    #: When a poll last saw WORKING (None if never seen).
    last_working_at: float | None = None
    #: When a poll (or an action's reply) last saw the status turn STARTING: an action
    #: of ours explains the first boot after it, not a second one.
    starting_seen_at: float | None = None
    #: Restarts sent since the instance was last seen WORKING (for the stuck-STARTING ladder).
    restarts_since_working: int = 0
    #: Action currently in flight (one key press = at most one call per instance).
    in_flight: str | None = None
    #: Who asked for the action in flight, when someone named is known (a hub user,
    #: "schedule:<name>", "auto-heal"): a second person's refusal names the first.
    in_flight_by: str | None = None
    #: Who asked for each action last sent from here, when named (see `in_flight_by`).
    acted_by: dict[str, str] = field(default_factory=dict)
    #: During a full reset: when its start step will be sent (for the visible countdown).
    reset_start_at: float | None = None
    #: Per action in flight: what `last_action_at`, `sent_at`, the restart count and the
    #: ladder were before it was sent, so an action the server refused leaves no guard
    #: behind (and explains no later status change: someone else's restart then counts).
    before_action: dict[str, tuple[float | None, float | None, int, Ladder]] = field(
        default_factory=dict)
    #: The runbook's ladder (restart, one more restart, full reset, then a person).
    ladder: Ladder = field(default_factory=Ladder)
    #: Recent restarts: (when, seen on the server rather than sent from here).
    restart_log: deque[tuple[float, bool]] = field(
        default_factory=lambda: deque(maxlen=RESTART_LOG_LIMIT))
    #: The session's latest boot as the server last reported it (WAHA's `statuses[]`),
    #: unclipped: every poll repeats it, and each one is judged once, at the first poll
    #: that carries it (a late or future time would otherwise count again every poll).
    boot_reported: float | None = None

    history: deque[HistoryEntry] = field(default_factory=lambda: deque(maxlen=HISTORY_LIMIT))
    #: The last status word the kept history recorded, and when (from an earlier run):
    #: a first poll that finds the same word continues it instead of starting anew.
    restored_status: tuple[str, float] | None = None

    def record(self, entry: HistoryEntry) -> None:
        """Append to the bounded history."""
        self.history.append(entry)


class FleetState:
    """All instances by id, in config order, with the update rules in one place."""

    def __init__(self, instances: Iterable[InstanceConfig], clock: Clock) -> None:
        self.clock = clock
        instances = list(instances)
        instances_with_problems = [cfg for cfg in instances if cfg.problem]
        # Labels and tags are shown everywhere: cleaned here too, for configs that did
        # not come through the config loader (the demo, tools, tests).
        self.instances: dict[str, InstanceState] = {
            cfg.id: InstanceState(id=cfg.id, label=clean(cfg.label, 100),
                                  tags=tuple(clean(t, 40) for t in cfg.tags), schedule=cfg.schedule)
            for cfg in instances
        }
        #: When the last poll of any instance finished (good or bad).
        self.last_refresh_at: float | None = None
        #: When the last poll that brought a status finished ("refreshed ... ago").
        self.last_success_at: float | None = None
        for cfg in instances_with_problems:
            st = self.instances[cfg.id]
            st.failures, st.error_kind, st.last_error = 1, ErrorKind.CONFIG, clean(cfg.problem)
        #: Called with (instance id, entry) for every history entry (persistence).
        self.on_record: Callable[[str, HistoryEntry], None] | None = None
        #: Polls in a row, across the fleet, that could not reach the API at all (reset by
        #: any reply): a big fleet learns the host is gone in a few polls, not a full round.
        self.network_streak = 0
        self.last_network_error: str | None = None
        #: Bumped whenever a fact outage detection reads changes (a status word, a failure
        #: or its kind and text, the network streak): while it stays, so does the verdict.
        self.failure_revision = 0

    def _record(self, st: InstanceState, entry: HistoryEntry) -> None:
        st.record(entry)
        if self.on_record is not None:
            self.on_record(st.id, entry)

    def restore(self, instance_id: str, entries: Iterable[HistoryEntry]) -> None:
        """Put persisted history back (oldest first), before any new entry: and with it
        the guards and the ladder of the last hour, so a monitor started again (another
        terminal, a cron rollout, a restarted hub) holds what the last one held."""
        st = self.instances.get(instance_id)
        if st is not None:
            for entry in entries:
                st.record(entry)
                if entry.kind == "status" and entry.subject:
                    st.restored_status = (entry.subject, entry.at)
            self._restore_guards(st, self.clock())

    @staticmethod
    def _restore_guards(st: InstanceState, now: float) -> None:
        """The actions of the last hour (ours and seen) and a back-off in force, from the
        restored history. Only what lies between an hour ago and now counts."""
        recent = [e for e in st.history if now - ladder_rules.STEP_WINDOW < e.at <= now]
        steps: list[float] = []
        for entry in recent:
            if entry.kind == "status" and entry.subject == WORKING:
                st.restarts_since_working = 0
            if entry.kind != "action" or entry.subject not in _GUARDED_ACTIONS:
                continue
            action, seen = entry.subject, "seen on the server" in entry.text
            st.last_action_at[action] = entry.at
            if seen:
                st.seen_actions.add(action)
            else:
                st.seen_actions.discard(action)
                st.sent_at[action] = entry.at
            if action == Action.RESTART:
                st.restart_log.append((entry.at, seen))
                st.restarts_since_working += 1
            if action in (Action.RESTART, Action.RESET):
                steps.append(entry.at)
        climb = Ladder(steps=tuple(steps))
        holds = [e for e in st.history if e.kind == "ladder" and e.subject.startswith("hold:")
                 and e.at <= now]
        if holds:
            level = holds[-1].subject.removeprefix("hold:")
            if level.isdigit() and int(level) < 64 \
                    and now < holds[-1].at + ladder_rules.backoff(int(level)):
                climb = Ladder(steps=climb.steps, level=int(level), held_at=holds[-1].at)
        st.ladder = climb

    def __iter__(self) -> Iterator[InstanceState]:
        return iter(self.instances.values())

    def __len__(self) -> int:
        return len(self.instances)

    def get(self, instance_id: str) -> InstanceState:
        """The state of one instance (KeyError for an id not in the fleet)."""
        return self.instances[instance_id]

    @staticmethod
    def _note_latency(st: InstanceState, latency_ms: float | None) -> None:
        st.latency_ms = latency_ms
        if latency_ms is None:
            st.latency_avg = st.latency_shown = None
            return
        # Smoothed, then shown only on a real change: one slow reply on a busy machine is
        # not news, and every changed cell costs a repaint of the table.
        avg = latency_ms if st.latency_avg is None else 0.7 * st.latency_avg + 0.3 * latency_ms
        st.latency_avg = avg
        shown = st.latency_shown
        if shown is None or (abs(avg - shown) > 50.0 and not shown / 2 <= avg <= shown * 2):
            st.latency_shown = avg

    def apply_poll_ok(
        self,
        instance_id: str,
        status: str,
        me: dict[str, Any] | None,
        latency_ms: float | None,
        qr_hint: str | None = None,
        *,
        engine: str | None = None,
        presence: str | None = None,
        activity_at: float | None = None,
        boot_at: float | None = None,
    ) -> bool:
        """Record a good poll; returns True when the status word changed. `boot_at`: when
        the server says the session last began STARTING (WAHA's `statuses[]`), so a
        restart over before any poll saw STARTING still counts."""
        now = self.clock()
        st = self.instances[instance_id]
        st.qr_hint = qr_hint
        self.last_success_at = now
        if st.failures or st.error_kind is not None or self.network_streak or status != st.status:
            self.failure_revision += 1
        # The server's last word was "no such session loaded": whatever it says now began
        # since that poll (our own start, usually), not before we started watching.
        was_unloaded = st.failures > 0 and st.error_kind == ErrorKind.NOT_LOADED
        st.engine, st.presence = engine or st.engine, presence
        st.activity_at = activity_at if activity_at is not None else st.activity_at
        st.failing_since = None
        self.last_refresh_at = now
        self.network_streak = 0
        st.last_poll_at = now
        st.last_ok_at = now
        self._note_latency(st, latency_ms)
        if st.failures:
            self._record(st, HistoryEntry(now, "error", "reachable again", subject=status))
        st.failures = 0
        st.last_error = None
        st.error_kind = None
        if me is not None or status != WORKING:
            st.me = me
        changed = status != st.status
        restored, st.restored_status = st.restored_status, None
        if changed and st.status is None and restored is not None and restored[0] == status \
                and restored[1] <= now:
            # The word the kept history ended with: as far as anyone knows it has held
            # since then (a lower bound: it may have moved and come back unwatched). No
            # new history line: one per restart of the TUI would bury the real changes.
            st.status, st.status_since, st.status_since_known = status, restored[1], False
        elif changed:
            self._new_status(st, status, now, known=st.status is not None or was_unloaded)
        if boot_at is not None and boot_at != st.boot_reported:
            st.boot_reported = boot_at
            self._reported_boot(st, min(boot_at, now), now)
        if status == WORKING:
            st.last_working_at = now
            st.restarts_since_working = 0
        held = st.ladder.held_at
        st.ladder = ladder_rules.settle(st.ladder, self._facts(st), now)
        if held is None and st.ladder.held_at is not None:
            # Kept in the history, so a monitor started again (or a cron rollout) knows
            # the back-off is in force and does not start the ladder over.
            wait = ladder_rules.backoff(st.ladder.level)
            self._record(st, HistoryEntry(st.ladder.held_at, "ladder",
                                          f"needs a person: the ladder ended; no restart or "
                                          f"reset for a back-off of {wait / 60:g}m",
                                          subject=f"hold:{st.ladder.level}", ok=False))
        return changed

    @staticmethod
    def _facts(st: InstanceState) -> ladder_rules.Facts:
        return ladder_rules.Facts(st.status, st.status_since, st.last_working_at)

    def _new_status(self, st: InstanceState, status: str, now: float, *, known: bool) -> None:
        """The status word changed: since when (`known`: since now, not only "at least
        since we started"), the history line, and whoever must have acted."""
        previous = st.status
        st.status, st.status_since, st.status_since_known = status, now, known
        if status != STOPPED:
            st.hibernated_at = None  # started again (its owner, anyone): no longer hibernated
        arrow = f"{previous} -> {status}" if previous else status
        self._record(st, HistoryEntry(now, "status", arrow, subject=status))
        if previous is not None:
            self._infer_action(st, previous, status, now)
        elif status in _FIRST_SEEN_ACTIONS and not self._caused_here(st, status, now, turned=True):
            # Whoever did it, it happened at the latest now: its age is unknown, so it
            # counts as young (a STARTING first seen gets no restart for 15 s).
            self._seen(st, _FIRST_SEEN_ACTIONS[status], now, note=status == STARTING,
                       why="first seen STARTING")
        if status == STARTING:
            st.starting_seen_at = now

    @staticmethod
    def _caused_here(st: InstanceState, status: str, now: float, *, turned: bool = False) -> bool:
        """True when this status is the effect of an action of ours: a restart/start (for
        STARTING) or stop (for STOPPED) sent within OWN_ACTION_WINDOW and not already
        followed by WORKING (after which a new STARTING is someone else's doing). An
        action only claimed, not yet sent (the gate's pre-poll runs then), explains
        nothing. `turned`: the status has just turned STARTING; a boot already seen
        since the action was its effect, and this second one (after a FAILED, say) is
        the engine's or someone else's."""
        wanted = (Action.RESTART, Action.START) if status == STARTING else \
            (Action.STOP,) if status == STOPPED else ()
        for action in wanted:
            sent = st.sent_at.get(action)
            if sent is None or now - sent >= OWN_ACTION_WINDOW:
                continue
            if status == STARTING and st.last_working_at is not None and st.last_working_at > sent:
                continue
            if turned and status == STARTING and st.starting_seen_at is not None \
                    and st.starting_seen_at >= sent:
                continue
            return True
        return False

    def _infer_action(self, st: InstanceState, previous: str, status: str, now: float) -> None:
        """A change this process did not cause counts like an action sent from here:
        another operator's restart, a cron rollout, the engine's own reboot. The guards
        then hold just the same (no double restart whoever acted)."""
        if self._caused_here(st, status, now, turned=True):
            return
        action = None
        if status == STARTING:
            action = Action.START if previous == STOPPED else Action.RESTART
        elif status == STOPPED:
            action = Action.STOP
        if action is not None:
            self._seen(st, action, now)

    def _reported_boot(self, st: InstanceState, boot_at: float, now: float) -> None:
        """The server says the session began STARTING at `boot_at`: a boot newer than any
        we know of, and not ours, is a restart seen on the server (even one over before
        a poll could see STARTING)."""
        known = max((t for a in (Action.RESTART, Action.START)
                     if (t := st.last_action_at.get(a)) is not None), default=None)
        if now - boot_at >= ladder_rules.STEP_WINDOW or (known is not None and boot_at <= known + 1.0):
            return
        if self._caused_here(st, STARTING, now) or st.status == STOPPED:
            return
        self._seen(st, Action.RESTART, boot_at, why="the server's own status times")

    def _seen(self, st: InstanceState, action: str, at: float, *, note: bool = True,
              why: str = "") -> None:
        """An action nobody here sent, at `at`: the guards and the ladder count it."""
        st.last_action_at[action] = at
        st.seen_actions.add(action)
        if action == Action.RESTART:
            st.restarts_since_working += 1
            st.restart_log.append((at, True))
            st.ladder = ladder_rules.step(st.ladder, self._facts(st), at)
        if note:
            suffix = f"; {why}" if why else ""
            self._record(st, HistoryEntry(at, "action", f"{action} seen on the server (not sent "
                                                        f"from here{suffix})", subject=action))

    def heard(self, instance_id: str, at: float) -> None:
        """A message event of this instance reached the hub at `at`: it is active."""
        st = self.instances.get(instance_id)
        if st is not None and (st.heard_at is None or at > st.heard_at):
            st.heard_at = at

    def mark_hibernated(self, instance_id: str, at: float) -> None:
        """The hub's idle hibernation stopped this instance (or did, before a restart):
        while it stays STOPPED it is meant to be off, its owner starts it."""
        st = self.instances.get(instance_id)
        if st is not None and st.status in (STOPPED, None) and st.schedule is None:
            st.hibernated_at = at

    def apply_poll_error(
        self, instance_id: str, kind: str, message: str, latency_ms: float | None
    ) -> bool:
        """Record a failed poll; returns True when the instance just became unreachable."""
        now = self.clock()
        st = self.instances[instance_id]
        self.last_refresh_at = now
        self.failure_revision += 1
        st.last_poll_at = now
        self._note_latency(st, latency_ms)
        st.failures += 1
        if st.failing_since is None:
            st.failing_since = now
        start = st.last_action_at.get(Action.START)
        if kind == ErrorKind.NOT_LOADED and start is not None and start >= st.failing_since:
            # "Session not found" even after a start: the runbook's "deleted or wrong id".
            kind, message = ErrorKind.NOT_FOUND, GONE_AFTER_START
        if kind in NETWORK_KINDS:
            self.network_streak += 1
            self.last_network_error = message
        else:
            self.network_streak = 0  # the server answered, even if with an error
        became = st.failures == 1
        if became or st.last_error != message:
            self._record(st, HistoryEntry(now, "error", message, subject=kind, ok=False))
        st.last_error = message
        st.error_kind = kind
        return became

    def claim(self, instance_id: str, action: str, by: str | None = None) -> None:
        """Mark an action in flight: the runbook refuses a second one until `release`."""
        st = self.instances[instance_id]
        st.in_flight, st.in_flight_by = action, by

    def release(self, instance_id: str) -> None:
        """The action in flight has its answer (or was given up)."""
        st = self.instances[instance_id]
        st.in_flight = st.in_flight_by = None
        st.reset_start_at = None

    def set_reset_start(self, instance_id: str, at: float | None) -> None:
        """During a full reset: when its start step will be sent (the visible countdown)."""
        self.instances[instance_id].reset_start_at = at

    def apply_action_sent(self, instance_id: str, action: str, auto: bool = False,
                          by: str | None = None) -> None:
        """Record that a command left for the API (before its reply); `by`: who asked,
        when named (a hub user, a schedule)."""
        now = self.clock()
        st = self.instances[instance_id]
        st.before_action[action] = (st.last_action_at.get(action), st.sent_at.get(action),
                                    st.restarts_since_working, st.ladder)
        # Counted from the moment it leaves: until the reply says otherwise, the guards
        # must assume it happened (a second key press must not stack a second restart).
        st.last_action_at[action] = now
        st.sent_at[action] = now
        st.seen_actions.discard(action)
        who = "auto-heal" if auto else (by or "you")
        if by is not None or auto:
            st.acted_by[action] = who
        else:
            st.acted_by.pop(action, None)
        if action == Action.RESTART:
            st.restarts_since_working += 1
            st.restart_log.append((now, False))
        if action in (Action.RESTART, Action.RESET):
            st.ladder = ladder_rules.step(st.ladder, self._facts(st), now)
        self._record(st, HistoryEntry(now, "action", f"{action} sent ({who})", subject=action, auto=auto))

    def apply_action_result(
        self,
        instance_id: str,
        action: str,
        ok: bool,
        detail: str,
        status: str | None = None,
        auto: bool = False,
        maybe_done: bool | None = None,
        error_kind: str | None = None,
    ) -> None:
        """Record a command's reply; a reply that carries a status counts as a poll.

        `maybe_done` (default: `ok`) is False when the server answered that it did not do
        it: then the action leaves no countdown and no guard behind, as if never sent.
        A timeout is `maybe_done=True`: the guards stay, because it may have happened.
        """
        now = self.clock()
        st = self.instances[instance_id]
        before = st.before_action.pop(action, None)
        if not (ok if maybe_done is None else maybe_done) and before is not None:
            previous, sent, restarts, climbed = before
            for times, was in ((st.last_action_at, previous), (st.sent_at, sent)):
                if was is None:
                    times.pop(action, None)
                else:
                    times[action] = was
            st.restarts_since_working = restarts
            st.ladder = climbed
            if action == Action.RESTART and st.restart_log and not st.restart_log[-1][1]:
                st.restart_log.pop()
        text = f"{action} {'ok' if ok else 'failed'}" + (f": {detail}" if detail else "")
        if not ok and error_kind in _ALSO_A_POLL:
            # A refusal about the instance itself (404, 401) says as much as a poll would;
            # and a start answered "not found" means the runbook's "deleted or wrong id".
            if action == Action.START and error_kind == ErrorKind.NOT_LOADED:
                error_kind, detail = ErrorKind.NOT_FOUND, GONE_AFTER_START
            self.apply_poll_error(instance_id, error_kind, detail, st.latency_ms)
        self._record(st, HistoryEntry(now, "outcome", text, subject=action, auto=auto, ok=ok))
        if ok and status:
            self.apply_poll_ok(instance_id, status, st.me, st.latency_ms)
