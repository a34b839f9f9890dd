"""AttachedMonitor: a FleetMonitor whose fleet is a hub's (`wawp-tui --hub URL`).

It keeps a FleetState of its own, a mirror of the hub's, filled from the hub's snapshot
(`/api/v1/fleet`) and kept up to date by its events (`/api/v1/events`): the same facts, so
the same pure runbook gives the same words, guards, countdowns and advice as on the hub,
and the same FleetScreen draws them. Nothing here polls Wawp or holds a Wawp token.

- Actions are asked of the hub (POST /api/v1/instances/ID/ACTION) and decided by the hub's
  one gate at that instant; the screen shows the hub's answer: sent, or refused with the
  runbook's reason (which names who acted first: "restarted 0s ago (by alice)").
- Times are the hub's: `clock()` is this machine's clock corrected by the offset measured
  against the hub's (the snapshot's round trip, then the lowest delay seen on the stream).
- The hub gone: every row keeps its last known status, marked stale with its age (it
  counts as a failed poll, "hub unreachable"); actions are refused, nothing is sent; the
  banner says so. It reconnects by itself (0.5 s, doubling to 5 s) and catches up from
  the last event id (or, when the hub restarted, from a new snapshot).
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import random
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from wawp_tui.config import Config, MonitorSettings, load_config
from wawp_tui.core import (
    CONSEQUENCES,
    ActionCheck,
    AlertBook,
    AlertsChanged,
    AuditLog,
    Event,
    FleetState,
    InstanceState,
    Note,
    Outage,
    Outcome,
    Polled,
    QrUnavailable,
    Report,
    Rollout,
    RolloutState,
    StateTouched,
    StatusChanged,
    runbook,
    wire,
)
from wawp_tui.core.actions import Sleep
from wawp_tui.core.outage import detect
from wawp_tui.core.rollout import Progress
from wawp_tui.hub.link import TOKEN_ENV, HubError, HubLink
from wawp_tui.launch import UsageError
from wawp_tui.models import UNREACHABLE, InstanceConfig, QrCode, Secret
from wawp_tui.safe_text import clean
from wawp_tui.vocab import ErrorKind, Trigger

_log = logging.getLogger(__name__)

#: Reconnection: the first wait, and the longest (a hub back is seen within this).
RECONNECT_FIRST, RECONNECT_MOST = 0.5, 5.0
#: Actions sent to the hub at once (a bulk action of many instances).
ACTIONS_AT_ONCE = 4
#: Offset samples kept from the stream (the lowest delay wins).
OFFSET_SAMPLES = 64
#: A told note in a snapshot's news is told here when it is at most this old (a hub that
#: came back said what it caught up on before this screen was back).
NEWS_FRESH = 600.0
HUB_GONE = "hub unreachable"


def make_link(url: str, env: Mapping[str, str]) -> HubLink:
    """The link to the hub of --hub / WAWP_HUB_URL, with the token of WAWP_HUB_TOKEN."""
    token = env.get(TOKEN_ENV, "").strip()
    try:
        return HubLink(url, Secret(token) if token else None)
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def attach_config(path: Path | None, *, read_only: bool, theme: str | None) -> Config:
    """The local settings of an attached screen: theme, bell and read-only from the config
    file when one is named (its instances and tokens are not used), else the defaults."""
    if path is not None:
        loaded = load_config(path, read_only_override=read_only, theme_override=theme)
        return Config(monitor=loaded.monitor, path=loaded.path)
    monitor = MonitorSettings(read_only=read_only)
    return Config(monitor=dataclasses.replace(monitor, theme=theme) if theme else monitor)


class AttachedMonitor:
    """A hub's fleet as a FleetMonitor (see the module docstring)."""

    def __init__(self, link: HubLink, config: Config, *, wall: Callable[[], float] = time.time) -> None:
        self.link = link
        self.config = config
        self._wall = wall
        self._offset = 0.0
        self._offsets: deque[float] = deque(maxlen=OFFSET_SAMPLES)
        self._snapshot_offset: float | None = None
        self.clock: Callable[[], float] = lambda: self._wall() - self._offset
        self.fleet = FleetState((), clock=self.clock)
        self.alerts = AlertBook()
        #: Actions are journaled on the hub (with this user's name), not here.
        self.audit = AuditLog(None)
        self.auto_heal = False
        self._known = wire.Schedules()
        #: Told notes already said here: (text, hub time).
        self._told: set[tuple[str, object]] = set()
        self._listeners: list[Callable[[Event], None]] = []
        self._seen: set[str] = set()
        self._hub: dict[str, Any] = {}
        self._you: dict[str, Any] = {}
        self._paused = False
        self._last_id: str | None = None
        #: None while connected; else why not (and since when, hub time).
        self._lost: tuple[str, float] | None = ("not connected yet", self.clock())
        #: Per instance, what a loss of the hub covered up (put back when it resumes).
        self._before_loss: dict[str, tuple[int, str | None, str | None, float | None]] = {}
        self._slots = asyncio.Semaphore(ACTIONS_AT_ONCE)
        self._tasks: set[asyncio.Task[set[str]]] = set()
        self._outage: Outage | None = None
        self._outage_key: tuple[int, str] | None = None

    # -- facts -----------------------------------------------------------------------

    @property
    def connected(self) -> bool:
        return self._lost is None

    @property
    def trouble(self) -> str | None:
        """Why the hub cannot be read now, in one line naming it (None while connected)."""
        return None if self._lost is None else f"cannot read the hub at {self.link.url}: {self._lost[0]}"

    @property
    def user(self) -> str:
        return clean(self._you.get("name"), 40) or "?"

    @property
    def role(self) -> str:
        return clean(self._you.get("role"), 20) or "?"

    @property
    def read_only(self) -> bool:
        """Nothing is asked of the hub: --read-only here, a viewer's token, or a hub that
        takes no actions (no users, or read-only itself)."""
        return self.config.monitor.read_only or self._you.get("can_act") is not True

    @property
    def paused(self) -> bool:
        return self._paused

    @property
    def stale_basis(self) -> float:
        value = self._hub.get("stale_basis")
        return float(value) if isinstance(value, (int, float)) and 0 < value < 86400 else 5.0

    @property
    def quiet_after(self) -> float:
        value = self._hub.get("quiet_after")
        return float(value) if isinstance(value, (int, float)) and 0 <= value < 10**9 else runbook.QUIET_AFTER

    @property
    def hibernate_after(self) -> float:
        value = self._hub.get("hibernate_after")
        return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) \
            and 0 <= value < 10**9 else 0.0

    @property
    def labels(self) -> dict[str, str]:
        return {st.id: st.label for st in self.fleet}

    @property
    def where(self) -> str:
        return f"hub {self.link.url}"

    @property
    def origin(self) -> str | None:
        return f"{self.user} ({self.role})" if self._you else "attaching"

    def state(self, instance_id: str) -> InstanceState:
        return self.fleet.get(instance_id)

    def outage(self) -> Outage | None:
        if self._lost is not None:
            why, since = self._lost
            ago = runbook.fmt_ago(self.clock() - since)
            return Outage("network", (
                f"⚠ No news from the hub at {self.link.url} for {ago}: {why}. Rows show their last known "
                "status, marked ~ with its age; actions are refused until it is back; reconnecting "
                "by itself."), f"{HUB_GONE}: {len(self.fleet)} instances", tuple(self.fleet.instances))
        api = self._hub.get("api")
        where = clean(api, 200) if isinstance(api, str) else ""
        key = (self.fleet.failure_revision, where)
        if self._outage_key != key:  # worked out again only when a fact it reads moved
            self._outage, self._outage_key = detect(self.fleet, where), key
        return self._outage

    def last_reply(self, instance_id: str) -> str | None:
        return ("The raw replies of the Wawp API stay on the hub, which holds the tokens: read "
                f"them there (wawp-tui on the hub's machine, or GET {self.link.url}/api/v1/"
                f"instances/{instance_id} for the facts).")

    def problems(self) -> list[str]:
        return []

    # -- events ----------------------------------------------------------------------

    def subscribe(self, listener: Callable[[Event], None]) -> None:
        self._listeners.append(listener)

    def _emit(self, event: Event) -> None:
        for listener in list(self._listeners):
            listener(event)

    # -- the link --------------------------------------------------------------------

    async def run(self) -> None:
        """Stay attached forever (cancel to stop): snapshot, then events; when the hub
        goes, mark the rows stale and try again."""
        wait = RECONNECT_FIRST
        while True:
            try:
                await self._session()
                why = "the event stream ended"
            except HubError as exc:
                why = exc.reason
            except (ValueError, KeyError, TypeError) as exc:  # a hub that sends nonsense
                why = f"unreadable reply ({type(exc).__name__})"
            if self._lost is None:
                wait = RECONNECT_FIRST
            self._lose(why)
            await asyncio.sleep(wait * random.uniform(0.8, 1.2))
            wait = min(wait * 2, RECONNECT_MOST)

    async def _session(self) -> None:
        if self._last_id is None or self._paused:
            await self.refresh()
        async for event, event_id, data, arrived in self.link.events(self._last_id):
            if event == "reset":
                await self.refresh()
                continue
            if self._lost is not None:
                self._resume()
            try:
                payload = json.loads(data) if data else {}
            except (ValueError, RecursionError):  # one unreadable event: skipped, not fatal
                continue
            if not isinstance(payload, dict):
                continue
            self._sample_offset(payload.get("now"), arrived)
            if event_id:
                self._last_id = event_id
            if event == "instances" and not self._paused:
                self._apply(payload.get("instances"), payload.get("fleet"))
            elif event == "note":
                self._note(payload)

    async def refresh(self, ids: Iterable[str] | None = None, *,
                      deadline: float | None = None) -> set[str]:
        """The hub's whole fleet now (its snapshot); returns the ids not refreshed (all
        of `ids` when the hub could not be reached)."""
        try:
            doc, at = await asyncio.wait_for(self.link.fleet(), deadline)
        except (HubError, TimeoutError) as exc:
            self._lose(exc.reason if isinstance(exc, HubError) else "no snapshot in time")
            return set(ids) if ids is not None else set(self.fleet.instances)
        now = doc.get("now")
        if isinstance(now, (int, float)):
            self._snapshot_offset = at - float(now)
            self._offsets.clear()
            self._set_offset()
        hub, you = doc.get("hub"), doc.get("you")
        self._hub = hub if isinstance(hub, dict) else {}
        self._you = you if isinstance(you, dict) else {}
        self.auto_heal = self._hub.get("auto_heal") is True
        event_id = doc.get("event_id")
        self._last_id = event_id if isinstance(event_id, str) else None
        self._lost = None
        self._before_loss.clear()
        self._apply(doc.get("instances"), doc.get("fleet"), whole=True)
        news = self._hub.get("news")
        for item in news[-20:] if isinstance(news, list) else []:
            if isinstance(item, Mapping) and isinstance(item.get("at"), (int, float)) \
                    and 0 <= self.clock() - item["at"] <= NEWS_FRESH:
                self._note(item)
        return set()

    def _sample_offset(self, hub_now: object, arrived: float) -> None:
        if isinstance(hub_now, (int, float)) and not isinstance(hub_now, bool):
            self._offsets.append(arrived - float(hub_now))
            self._set_offset()

    def _set_offset(self) -> None:
        # Every sample is the offset plus a delay (never less): the lowest is the closest.
        samples = [*self._offsets, *([self._snapshot_offset] if self._snapshot_offset is not None else [])]
        if samples:
            self._offset = min(samples)

    def _apply(self, docs: object, fleet_doc: object, *, whole: bool = False) -> None:
        if not isinstance(docs, list):
            return
        wire.decode_fleet(fleet_doc, self.fleet)
        present = set()
        for data in docs:
            identity = wire.instance_identity(data)
            if identity is None:
                continue
            instance_id, label, tags = identity
            present.add(instance_id)
            st = self.fleet.instances.get(instance_id)
            if st is None:
                st = self.fleet.instances[instance_id] = InstanceState(id=instance_id, label=label, tags=tags)
            st.tags = tags
            before, seen_before = self._word(st), wire.visible_key(st)
            wire.decode_instance(data, st, self._known)
            word = self._word(st)
            first = instance_id not in self._seen
            self._seen.add(instance_id)
            if not first and not whole and word == before and wire.visible_key(st) == seen_before:
                continue  # a steady poll: only its freshness moved (time tells the rest)
            self.fleet.failure_revision += 1  # (outage detection reads it: look again)
            self._emit(Polled(instance_id, word != before))
            if word != before and not first:
                # The hub batched it already: drawn now, not with the screen's next batch.
                self._emit(StateTouched(instance_id))
            if word != before and not first:
                self._emit(StatusChanged(instance_id, word))
        if whole:
            for st in self.fleet:
                if st.id not in present and not st.failures:
                    st.failures, st.error_kind = 1, ErrorKind.NOT_FOUND
                    st.last_error = "no longer on the hub (removed from its config?)"
                    self._emit(Polled(st.id, True))

    def _word(self, st: InstanceState) -> str:
        return UNREACHABLE if st.failures else runbook.display_status(st, self.clock(), self.stale_basis)

    def _note(self, payload: Mapping[str, Any]) -> None:
        text = clean(payload.get("text"), 500)
        if payload.get("told") is True:
            key = (text, payload.get("at") if isinstance(payload.get("at"), (int, float)) else None)
            if key in self._told:
                return  # heard already (on the stream, or in an earlier snapshot)
            if len(self._told) > 256:
                self._told.clear()
            self._told.add(key)
        if text:
            instance_id = payload.get("instance_id")
            self._emit(Note(f"[hub] {text}", payload.get("ok") is not False,
                            instance_id if isinstance(instance_id, str) else None,
                            told=payload.get("told") is True))

    def _lose(self, why: str) -> None:
        """The hub went: every row stays, marked as not confirmed since its last poll."""
        if self._lost is not None:
            self._lost = (clean(why, 200), self._lost[1])
            return
        self._lost = (clean(why, 200), self.clock())
        self._emit(Note(f"{HUB_GONE} ({self.link.url}): {clean(why, 200)}; rows keep their last "
                        "known status, marked stale", ok=False))
        for st in self.fleet:
            self._before_loss[st.id] = (st.failures, st.error_kind, st.last_error, st.failing_since)
            if not st.failures:
                st.failures, st.error_kind = 1, ErrorKind.HUB
                st.failing_since = self.clock()
                st.last_error = f"{HUB_GONE}: {clean(why, 120)}"
            self._emit(Polled(st.id, False))
        self.fleet.failure_revision += 1

    def _resume(self) -> None:
        """Back on the same hub run: the rows as they were, then the events missed."""
        self._lost = None
        for st in self.fleet:
            kept = self._before_loss.get(st.id)
            if kept is not None:
                st.failures, st.error_kind, st.last_error, st.failing_since = kept
            self._emit(Polled(st.id, False))
        self._before_loss.clear()
        self.fleet.failure_revision += 1
        self._emit(Note(f"hub back ({self.link.url}): catching up from the last event"))

    # -- what a screen does ------------------------------------------------------------

    def pause(self, paused: bool) -> None:
        """Paused, the rows stop moving (they go stale); resumed, a fresh snapshot."""
        was, self._paused = self._paused, paused
        if was and not paused:
            self._last_id = None  # the next session starts with a snapshot
            task = asyncio.ensure_future(self.refresh())
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    def explain_auto_heal(self) -> str:
        return self.auto_heal_refusal()

    def auto_heal_refusal(self) -> str:
        state = "ON" if self.auto_heal else "off"
        return (f"auto-heal is the hub's (it is {state} there: `wawp-tui serve --auto-heal`); a "
                "screen attached to it does not switch it")

    def next_poll(self, instance_id: str) -> float | None:
        return None

    def poke(self, instance_id: str, delay: float = 0.0) -> None:
        """(The hub polls; an attached screen never does.)"""

    def tick(self) -> None:
        """Once a second: the alerts, from the mirrored facts (as the hub has them)."""
        changes = self.alerts.update(self.fleet, self.clock(), self.stale_basis, self.outage())
        if changes:
            self._emit(AlertsChanged(tuple(changes.fired), tuple(changes.resolved),
                                     tuple(changes.updated), tuple(changes.notices)))

    def record_refusals(self, action: str, refused: Iterable[Outcome], *,
                        trigger: Trigger = Trigger.MANUAL) -> None:
        """(Refused here, before the hub was asked: nothing to journal there.)"""

    def _refusal(self) -> str | None:
        if self._lost is not None:
            return f"{HUB_GONE} ({self.link.url}: {self._lost[0]}): nothing sent"
        if self.config.monitor.read_only:
            return runbook.READ_ONLY
        if self._you.get("can_act") is not True:
            if self._hub.get("takes_actions") is not True:
                return "this hub takes no actions over HTTP (no users, or read-only): nothing sent"
            return f"{self.user} is a {self.role} of the hub: viewers read, operators act"
        return None

    def check(self, action: str, ids: Iterable[str]) -> ActionCheck:
        """What the hub's gate would say now, by the same runbook on the mirrored facts
        (the hub decides again when asked)."""
        allowed, refused, warnings = [], [], []
        now, blocked = self.clock(), self._refusal()
        for instance_id in ids:
            if blocked is not None:
                refused.append(Outcome(instance_id, False, blocked, True))
                continue
            verdict = runbook.check_action(self.fleet.get(instance_id), action, now)
            if verdict.allowed:
                allowed.append(instance_id)
                if verdict.warning and verdict.warning not in warnings:
                    warnings.append(verdict.warning)
            else:
                refused.append(Outcome(instance_id, False, verdict.reason, True, retry_in=verdict.retry_in))
        return ActionCheck(action, allowed, refused, warnings, CONSEQUENCES.get(action, ""))

    async def act(self, action: str, ids: Iterable[str], *,
                  trigger: Trigger = Trigger.MANUAL, by: str | None = None) -> Report:
        """Ask the hub, instance by instance (a few at once); its gate decides each."""
        ids = list(dict.fromkeys(ids))
        blocked = self._refusal()
        if blocked is not None:
            return Report(action, tuple(Outcome(i, False, blocked, True) for i in ids))
        outcomes = await asyncio.gather(*(self._ask(action, i, trigger) for i in ids))
        return Report(action, tuple(outcomes))

    async def _ask(self, action: str, instance_id: str, trigger: Trigger) -> Outcome:
        async with self._slots:
            try:
                reply = await self.link.act(instance_id, action, {"trigger": str(trigger)})
            except HubError as exc:
                if exc.sent:
                    return Outcome(instance_id, False, f"outcome unknown ({exc}); its row shows "
                                                       "what the hub sees", unknown=True)
                return Outcome(instance_id, False, f"{exc}: nothing sent", True)
        body = reply.body
        if reply.status == 202:
            message = clean(body.get("message"), 300) or "sent"
            return Outcome(instance_id, body.get("ok") is True, f"{message} (through the hub)",
                           unknown=body.get("unknown") is True)
        why = clean(body.get("reason") or body.get("error"), 400) or f"the hub answered {reply.status}"
        retry = body.get("retry_after")
        retry_in = float(retry) if isinstance(retry, (int, float)) and not isinstance(retry, bool) \
            and 0 <= retry < 86400 else None
        return Outcome(instance_id, False, f"{why} (the hub's gate)" if reply.status == 409 else why,
                       True, retry_in=retry_in)

    async def fetch_qr(self, instance_id: str, *, by: str | None = None) -> QrCode:
        try:
            reply = await self.link.qr(instance_id)
        except HubError as exc:
            raise QrUnavailable(str(exc)) from None
        value, expires = reply.body.get("value"), reply.body.get("expires_at")
        if reply.status != 200 or not isinstance(value, str):
            raise QrUnavailable(clean(reply.body.get("error"), 300) or f"the hub answered {reply.status}")
        return QrCode(value=value[:4096], expires_at=float(expires) if isinstance(expires, (int, float))
                      and not isinstance(expires, bool) else None,
                      form=clean(reply.body.get("form"), 20) or "wawp")

    async def request_code(self, instance_id: str, phone: str, *, by: str | None = None) -> str:
        try:
            reply = await self.link.pairing_code(instance_id, phone)
        except HubError as exc:
            return f"pairing code not requested: {exc}"
        text = reply.body.get("text") if reply.status == 200 else reply.body.get("error")
        return clean(text, 300) or f"the hub answered {reply.status}"

    def rollout(self, state: RolloutState, *, state_path: Path | None,
                progress: Progress | None = None, continue_on_error: bool = False,
                sleep: Sleep = asyncio.sleep, trigger: Trigger = Trigger.ROLLOUT,
                by: str | None = None) -> Rollout:
        """A rollout whose every action passes the hub's gate (and is journaled there with
        this user's name)."""
        return Rollout(state, self, clock=self.clock, progress=progress,
                       continue_on_error=continue_on_error, state_path=state_path, sleep=sleep,
                       trigger=trigger, by=by)

    async def aclose(self) -> None:
        """(Nothing runs on its own here.)"""

    async def close(self) -> None:
        await self.link.aclose()


def configs_of(monitor: AttachedMonitor) -> list[InstanceConfig]:
    """The hub's instances as configs (ids, labels, tags; no token), in its order."""
    return [InstanceConfig(id=st.id, label=st.label, token=Secret(""), tags=st.tags,
                           schedule=st.schedule) for st in monitor.fleet]
