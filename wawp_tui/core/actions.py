"""ActionRunner: every action on an instance, only as the runbook allows, always audited.

start / stop / restart / logout / the full reset, and also the QR fetch and the pairing
code: each one is checked (read-only mode is enforced here, not only by hiding keys),
claimed in the fleet state so one key press sends at most one call per instance, paced
for bulk use, recorded in the fleet's history and the audit log, and reported as events.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass

from wawp_tui.client.api import WawpClient
from wawp_tui.client.errors import WawpError
from wawp_tui.core import runbook
from wawp_tui.core.audit import AuditLog
from wawp_tui.core.events import Event, Note, StateTouched
from wawp_tui.core.fleet import GONE_AFTER_START, Clock, FleetState
from wawp_tui.models import InstanceConfig, QrCode, SessionInfo
from wawp_tui.vocab import DONE, STATE_ACTIONS, Action, AuditOutcome, ErrorKind, Trigger

Sleep = Callable[[float], Awaitable[None]]
#: Told to poll an instance again soon (after an action whose outcome is unknown).
Repoll = Callable[[str], None]
#: Polls an instance now and records the answer in the fleet state (the gate's pre-poll).
Prepoll = Callable[[str], Awaitable[None]]

#: Who asked, for the audit log ("schedule:support hours", a hub user's name), set for the
#: duration of one `run` (its tasks inherit it): the trigger says how, this says who.
_BY: contextvars.ContextVar[str | None] = contextvars.ContextVar("wawp_actor", default=None)

#: The gate judges an instance by a poll at most this old (seconds): what the server said
#: a moment ago, not at the last steady poll (another operator may have acted since).
FRESH_POLL = 1.0

READ_ONLY = "read-only mode: nothing sent"


class QrUnavailable(Exception):
    """No QR could be fetched; `str()` is one line saying why (shown where the QR goes)."""


@dataclass(frozen=True)
class Outcome:
    """What happened to one instance."""

    instance_id: str
    ok: bool
    message: str
    #: True when nothing was sent (runbook refused, read-only, already in flight).
    refused: bool = False
    #: True when the request may have reached the server but no reply said (timeout).
    unknown: bool = False
    #: For a refusal by a guard that runs out: seconds until it does.
    retry_in: float | None = None


@dataclass(frozen=True)
class Report:
    """The result of one key press (one or many instances)."""

    action: str
    outcomes: tuple[Outcome, ...]

    @property
    def ok(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.ok]

    @property
    def failed(self) -> list[Outcome]:
        return [o for o in self.outcomes if not o.ok and not o.refused]

    @property
    def refused(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.refused]

    def summary(self, labels: dict[str, str] | None = None) -> str:
        """One line: "7 / 10 restarted, 3 failed: A (429 ...), B (...)"."""
        names = labels or {}

        def name(o: Outcome) -> str:
            return names.get(o.instance_id, o.instance_id)

        total = len(self.outcomes)
        if total == 1:
            o = self.outcomes[0]
            return f"{name(o)}: {o.message}"
        parts = [f"{len(self.ok)} / {total} {DONE.get(Action(self.action), self.action)}"]
        for title, group in (("failed", self.failed), ("refused", self.refused)):
            if group:
                shown = ", ".join(f"{name(o)} ({o.message})" for o in group[:3])
                more = f", +{len(group) - 3} more" if len(group) > 3 else ""
                parts.append(f"{len(group)} {title}: {shown}{more}")
        return ", ".join(parts)


class ActionRunner:
    """Sends guarded actions for people, auto-heal and rollouts; never touches a screen."""

    def __init__(
        self,
        client: WawpClient,
        fleet: FleetState,
        instances: Iterable[InstanceConfig],
        *,
        clock: Clock,
        audit: AuditLog,
        read_only: bool = False,
        concurrency: int = 4,
        sleep: Sleep = asyncio.sleep,
        emit: Callable[[Event], None] | None = None,
        repoll: Repoll | None = None,
        prepoll: Prepoll | None = None,
        prepoll_timeout: float = 10.0,
    ) -> None:
        self.client = client
        self.fleet = fleet
        self.configs = {cfg.id: cfg for cfg in instances}
        self.clock = clock
        self.audit = audit
        self.read_only = read_only
        self.sleep = sleep
        self._emit = emit or (lambda event: None)
        self._repoll = repoll or (lambda instance_id: None)
        self._prepoll = prepoll
        self.prepoll_timeout = prepoll_timeout
        self._slots = asyncio.Semaphore(max(1, concurrency))

    # -- checks ----------------------------------------------------------------------

    def check(self, action: str, ids: Iterable[str]) -> tuple[list[str], list[Outcome]]:
        """Split ids into those the runbook allows now and refusals with their reason."""
        allowed, refused = [], []
        now = self.clock()
        for instance_id in ids:
            if self.read_only:
                refused.append(Outcome(instance_id, False, READ_ONLY, True))
                continue
            verdict = runbook.check_action(self.fleet.get(instance_id), action, now)
            if verdict.allowed:
                allowed.append(instance_id)
            else:
                refused.append(Outcome(instance_id, False, verdict.reason, True,
                                       retry_in=verdict.retry_in))
        return allowed, refused

    # -- state-changing actions ------------------------------------------------------

    async def run(self, action: str, ids: Iterable[str], *,
                  trigger: Trigger = Trigger.MANUAL, by: str | None = None) -> Report:
        """Check, then send `action` to every allowed instance (bounded concurrency)."""
        if action not in STATE_ACTIONS:
            raise ValueError(f"unknown action {action!r}")
        ids = list(dict.fromkeys(ids))
        who = _BY.set(by)
        try:
            return await self._run(action, ids, trigger)
        finally:
            _BY.reset(who)

    async def _run(self, action: str, ids: list[str], trigger: Trigger) -> Report:
        allowed, refused = self.check(action, ids)
        for outcome in refused:
            self._audit(action, outcome.instance_id, AuditOutcome.REFUSED, outcome.message, trigger)
        # Claim every instance before the first await: a second key press arriving
        # meanwhile is refused as "in flight" instead of sending a second call.
        for instance_id in allowed:
            self.fleet.claim(instance_id, action, _BY.get())
            self._emit(StateTouched(instance_id))
        # One instance's failure must not cost the others their report (gather would
        # raise the first exception and drop every outcome).
        done = await asyncio.gather(*(self._paced(action, i, trigger) for i in allowed),
                                    return_exceptions=True)
        results = [self._lost(action, i, r, trigger) if isinstance(r, BaseException) else r
                   for i, r in zip(allowed, done)]
        order = {i: n for n, i in enumerate(ids)}
        outcomes = sorted([*results, *refused], key=lambda o: order[o.instance_id])
        return Report(action, tuple(outcomes))

    async def _paced(self, action: str, instance_id: str, trigger: Trigger) -> Outcome:
        async with self._slots:
            try:
                refusal = await self.gate(instance_id, action, trigger)
                if refusal is not None:
                    return refusal
                if action == Action.RESET:
                    return await self._reset(instance_id, trigger)
                return await self._call(instance_id, action, trigger)
            finally:
                self.fleet.release(instance_id)
                self._emit(StateTouched(instance_id))

    # -- the one gate ----------------------------------------------------------------

    def _fresh(self, instance_id: str) -> bool:
        polled = self.fleet.get(instance_id).last_poll_at
        return polled is not None and self.clock() - polled <= FRESH_POLL

    async def gate(self, instance_id: str, action: str, trigger: Trigger) -> Outcome | None:
        """The one gate every actor passes right before a request leaves (keys, bulk, W,
        rollouts, auto-heal, the hub): a poll of the instance of its own, then the
        runbook's answer at that instant. A pre-poll that fails or does not finish
        refuses: nothing is sent on a guess (fail closed). None: send it; else the
        refusal, audited and said once."""
        if self.read_only:
            return self._gate_refused(action, instance_id, READ_ONLY, None, trigger)
        finished = self._prepoll is None
        if self._prepoll is not None:
            # Always a poll of its own, even after one a moment ago: one request per
            # action closes the window in which another actor's change goes unseen.
            try:
                await asyncio.wait_for(self._prepoll(instance_id), self.prepoll_timeout)
                finished = True
            except TimeoutError:
                pass
        if not finished or not self._fresh(instance_id):
            return self._gate_refused(
                action, instance_id, "no fresh status: the poll just before sending did not "
                f"finish within {self.prepoll_timeout:g}s; nothing sent", None, trigger)
        verdict = runbook.check_action(self.fleet.get(instance_id), action, self.clock(), claimed=True)
        if verdict.allowed:
            return None
        return self._gate_refused(action, instance_id, verdict.reason, verdict.retry_in, trigger)

    def _gate_refused(self, action: str, instance_id: str, reason: str, retry_in: float | None,
                      trigger: Trigger) -> Outcome:
        self._audit(action, instance_id, AuditOutcome.REFUSED, reason, trigger)
        self._note(instance_id, f"{action} refused at the moment of sending: {reason}", False)
        return Outcome(instance_id, False, reason, True, retry_in=retry_in)

    async def _call(self, instance_id: str, action: str, trigger: Trigger) -> Outcome:
        """One API call with its bookkeeping: fleet history, audit log, event."""
        cfg = self.configs[instance_id]
        auto = trigger == Trigger.AUTO
        self.fleet.apply_action_sent(instance_id, action, auto=auto, by=_BY.get())
        self._audit(action, instance_id, AuditOutcome.SENT, "", trigger)
        self._emit(StateTouched(instance_id))
        try:
            info: SessionInfo = await getattr(self.client, action)(cfg)
        except Exception as exc:  # noqa: BLE001 - whatever a send raises, its outcome is reported
            # The client raises only its own errors; anything else (a bug, a reply nobody
            # foresaw) says nothing about the server: it may have acted, as on a timeout.
            known = isinstance(exc, WawpError)
            maybe_sent = exc.maybe_sent if isinstance(exc, WawpError) else True
            why = str(exc) if known else f"unexpected {type(exc).__name__}"
            if action == Action.START and isinstance(exc, WawpError) \
                    and exc.kind == ErrorKind.NOT_LOADED:
                why = GONE_AFTER_START  # a start did not bring it back: never "a start will"
            message = why
            if maybe_sent:
                # The request may have reached the server: do not guess, look.
                message = f"outcome unknown ({why}); check its status: re-polling now"
                self._repoll(instance_id)
            kind = exc.kind if isinstance(exc, WawpError) else ErrorKind.INTERNAL
            self.fleet.apply_action_result(instance_id, action, False, message, auto=auto,
                                           maybe_done=maybe_sent, error_kind=kind)
            outcome = AuditOutcome.UNKNOWN if maybe_sent else AuditOutcome.FAILED
            self._audit(action, instance_id, outcome, message, trigger)
            self._note(instance_id, f"{action} failed: {message}", False)
            return Outcome(instance_id, False, message, unknown=maybe_sent)
        message = f"{DONE[Action(action)]}, now {info.status}"
        self.fleet.apply_action_result(instance_id, action, True, "", status=info.status, auto=auto)
        self._audit(action, instance_id, AuditOutcome.OK, message, trigger, status=info.status)
        self._note(instance_id, f"{action} ok: now {info.status}", True)
        return Outcome(instance_id, True, message)

    async def _reset(self, instance_id: str, trigger: Trigger) -> Outcome:
        """Full lifecycle reset: stop, wait 5 s (visible countdown), start.

        Cancelling during the wait leaves the instance STOPPED and says so; once the
        start step is sent it is not cancelled.
        """
        auto = trigger == Trigger.AUTO
        self.fleet.apply_action_sent(instance_id, Action.RESET, auto=auto, by=_BY.get())
        self._audit(Action.RESET, instance_id, AuditOutcome.SENT, "stop, wait 5s, start", trigger)
        stopped = await self._call(instance_id, Action.STOP, trigger)
        if not stopped.ok:
            return self._reset_result(instance_id, False, f"stop step failed: {stopped.message}",
                                      trigger, maybe_done=stopped.unknown)
        self.fleet.set_reset_start(instance_id, self.clock() + runbook.RESET_PAUSE)
        self._note(instance_id, f"reset: stopped; start in {runbook.RESET_PAUSE:g}s", True)
        self._emit(StateTouched(instance_id))
        try:
            await self.sleep(runbook.RESET_PAUSE)
        except asyncio.CancelledError:
            self._reset_result(instance_id, False,
                               "cancelled before start: left STOPPED, press s to start", trigger)
            raise
        self.fleet.set_reset_start(instance_id, None)
        # The start step passes the gate too: someone may have started it meanwhile, and
        # a start is never sent blindly.
        refused = await self.gate(instance_id, Action.START, trigger)
        if refused is not None:
            return self._reset_result(instance_id, False, f"start step not sent: {refused.message}",
                                      trigger)
        started = await self._call(instance_id, Action.START, trigger)
        if not started.ok:
            return self._reset_result(instance_id, False, f"start step failed: {started.message}",
                                      trigger)
        return self._reset_result(instance_id, True, "reset done: stopped, waited 5s, started",
                                  trigger)

    def _reset_result(self, instance_id: str, ok: bool, message: str, trigger: Trigger,
                      maybe_done: bool = True) -> Outcome:
        # Once the stop step went through, the reset did something: its guards stay.
        self.fleet.apply_action_result(instance_id, Action.RESET, ok, message,
                                       auto=trigger == Trigger.AUTO, maybe_done=ok or maybe_done)
        self._audit(Action.RESET, instance_id, AuditOutcome.OK if ok else AuditOutcome.FAILED,
                    message, trigger)
        self._note(instance_id, f"reset: {message}", ok)
        return Outcome(instance_id, ok, message)

    def _lost(self, action: str, instance_id: str, error: BaseException, trigger: Trigger) -> Outcome:
        """The outcome of an instance whose handling raised (a bug past `_call`): unknown,
        audited and said, while the rest of the bulk action is reported as usual."""
        if not isinstance(error, Exception):
            raise error  # cancelled, interrupted: not an outcome
        message = (f"outcome unknown (internal error: {type(error).__name__}); check its "
                   "status: re-polling now")
        self._repoll(instance_id)
        self._audit(action, instance_id, AuditOutcome.UNKNOWN, message, trigger)
        self._note(instance_id, f"{action} failed: {message}", False)
        return Outcome(instance_id, False, message, unknown=True)

    # -- linking a phone -------------------------------------------------------------

    async def fetch_qr(self, instance_id: str, *, by: str | None = None) -> QrCode:
        """The current pairing QR (audited: it is a login credential while it lives).

        QrUnavailable with the reason when there is none.
        """
        who = _BY.set(by)
        try:
            return await self._fetch_qr(instance_id)
        finally:
            _BY.reset(who)

    async def _fetch_qr(self, instance_id: str) -> QrCode:
        try:
            code = await self.client.qr(self.configs[instance_id])
        except WawpError as exc:
            self._audit(Action.QR, instance_id, AuditOutcome.FAILED, str(exc), Trigger.MANUAL)
            raise QrUnavailable(str(exc)) from None
        self._audit(Action.QR, instance_id, AuditOutcome.OK, "", Trigger.MANUAL)
        return code

    async def request_code(self, instance_id: str, phone: str, *, by: str | None = None) -> str:
        """A pairing code for phone-number login; a one-line reason when there is none."""
        who = _BY.set(by)
        try:
            return await self._request_code(instance_id, phone)
        finally:
            _BY.reset(who)

    async def _request_code(self, instance_id: str, phone: str) -> str:
        if self.read_only:
            self._audit(Action.PAIRING_CODE, instance_id, AuditOutcome.REFUSED, READ_ONLY,
                        Trigger.MANUAL)
            return f"{READ_ONLY}: no pairing code requested"
        self._audit(Action.PAIRING_CODE, instance_id, AuditOutcome.SENT, "", Trigger.MANUAL)
        try:
            code = await self.client.request_code(self.configs[instance_id], phone)
        except WawpError as exc:
            text = f"pairing code failed: {exc}"
            self._audit(Action.PAIRING_CODE, instance_id, AuditOutcome.FAILED, text, Trigger.MANUAL)
            return text
        self._audit(Action.PAIRING_CODE, instance_id, AuditOutcome.OK, "", Trigger.MANUAL)
        return (f"pairing code: {code}  (on the phone: Linked devices > Link a device > "
                "Link with phone number instead)")

    # -- plumbing --------------------------------------------------------------------

    def audit_refusal(self, action: str, instance_id: str, reason: str, trigger: Trigger) -> None:
        """Audit one refused request (a key press the runbook or read-only mode refused)."""
        self._audit(action, instance_id, AuditOutcome.REFUSED, reason, trigger)

    def _audit(self, action: str, instance_id: str, outcome: AuditOutcome, detail: str,
               trigger: Trigger, status: str | None = None) -> None:
        st = self.fleet.get(instance_id)
        self.audit.write(self.clock(), "action", action=str(action), instance_id=instance_id,
                         label=st.label, outcome=str(outcome), detail=detail,
                         auto=trigger == Trigger.AUTO, trigger=str(trigger), status=status,
                         **({"by": by} if (by := _BY.get()) is not None else {}))

    def _note(self, instance_id: str, text: str, ok: bool) -> None:
        label = self.fleet.get(instance_id).label
        self._emit(Note(f"{label}: {text}", ok, instance_id))
