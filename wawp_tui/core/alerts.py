"""Alerts the way an alert manager keeps them: grouped, deduplicated, firing -> resolved,
acknowledged by a person.

An alert is a condition that holds now, not a transition: it fires when its condition
starts to hold, stays one alert however many polls see it, and resolves when the
condition clears. One outage is one alert ("API unreachable: 12 instances"), not one per
instance, and it resolves as soon as the API answers again: an instance that then
answers with a fault of its own (a 404, a 502, a 429) gets an alert of its own.

Alerts of one condition form one group, as Alertmanager's `group_by: [condition]` does:
twenty instances logged out at once are "20 instances need a QR scan", one line in the
strip, every instance listed under it in the alert list. A group is told (the event log,
the bell) GROUP_WAIT after its first alert, so what happens together is told together;
alerts that join a group already told are told at most every GROUP_INTERVAL, and an
alert that fires and clears before it was told is never told at all.

Pure bookkeeping: `update()` is given the fleet, the outage and the time.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from wawp_tui.core import runbook
from wawp_tui.core.fleet import FleetState, InstanceState
from wawp_tui.core.outage import Outage
from wawp_tui.models import FAILED, SCAN_QR_CODE, STOPPED, UNREACHABLE
from wawp_tui.vocab import NETWORK_KINDS, SERVER_SIDE_KINDS, ErrorKind, plural

#: Words that are an instance alert while they hold (the last known word while polls fail).
ALERT_WORDS = frozenset({FAILED, SCAN_QR_CODE, UNREACHABLE, runbook.STUCK, runbook.CONFIG,
                         runbook.NEEDS_PERSON})
#: Failed polls in a row before an unreachable instance is an alert of its own: one
#: failed poll is not news, and by the second an outage has been recognised (and the
#: instance's failure is folded into it).
UNREACHABLE_AFTER = 2
#: Seconds a new group waits before it is told, gathering what happens together (one
#: poll round of a small fleet; Alertmanager's group_wait).
GROUP_WAIT = 5.0
#: Seconds between two tellings of one group as alerts join it (group_interval).
GROUP_INTERVAL = 30.0
#: A STOPPED meant to be running is an alert after this long (WhatsApp's buffer: 24-72 h).
STOPPED_TOO_LONG = 86400.0
#: Resolved alerts stay listed this long (what happened while nobody looked).
KEEP_RESOLVED = 900.0
#: At most this many alerts are kept (the oldest resolved go first).
MAX_ALERTS = 500
OUTAGE = "outage"
FIRING = "firing"
RESOLVED = "resolved"


@dataclass(frozen=True)
class Condition:
    """What a group of instance alerts is about, in words for one and for many."""

    key: str
    one: str
    many: str
    severity: str


#: The conditions an instance alert can be about, worst first (the group_by label).
CONDITIONS: dict[str, Condition] = {c.key: c for c in (
    Condition("failed", "{label} FAILED", "{n} instances FAILED", "bad"),
    Condition("unreachable", "{label} not answering: {detail}", "{n} instances not answering", "bad"),
    Condition("config", "{label} NO TOKEN: {detail}", "{n} instances without a token", "bad"),
    Condition("stuck", "{label} STUCK in STARTING", "{n} instances STUCK in STARTING", "bad"),
    Condition("needs_person", "{label} needs a person: the runbook's ladder ended",
              "{n} instances need a person: the runbook's ladder ended", "bad"),
    Condition("stopped_long", "{label} STOPPED for {detail}: WhatsApp buffers incoming messages "
              "only 24-72 h; start it (s) or schedule it",
              "{n} instances STOPPED for over a day: WhatsApp buffers incoming messages only "
              "24-72 h", "warn"),
    Condition("scan_qr", "{label} needs a QR scan", "{n} instances need a QR scan", "warn"),
)}
_WORD_CONDITION = {FAILED: "failed", SCAN_QR_CODE: "scan_qr", runbook.STUCK: "stuck",
                   runbook.NEEDS_PERSON: "needs_person"}


@dataclass
class Alert:
    """One alert: `key` names its condition and instance ("failed:<id>", "outage")."""

    key: str
    text: str
    severity: str
    started_at: float
    instance_ids: tuple[str, ...] = ()
    state: str = FIRING
    resolved_at: float | None = None
    acknowledged: bool = False
    #: Times the text changed while firing (e.g. the outage grew).
    updates: int = 0
    #: The condition began while we watched (rings the bell); False for what was
    #: already wrong at start-up (listed, no bell).
    news: bool = True
    #: The condition it is about (its group): a key of CONDITIONS, or OUTAGE.
    group: str = ""
    #: Its group has told it (the event log, the bell).
    told: bool = False

    @property
    def firing(self) -> bool:
        return self.state == FIRING


@dataclass(frozen=True)
class AlertGroup:
    """The alerts of one condition, as the strip and the alert list show them."""

    key: str
    #: Newest first.
    alerts: tuple[Alert, ...]

    @property
    def text(self) -> str:
        """ "Sales bot US FAILED" for one, "20 instances need a QR scan" for many."""
        return group_text(self.key, self.alerts)

    @property
    def started_at(self) -> float:
        return min(a.started_at for a in self.alerts)

    @property
    def acknowledged(self) -> bool:
        return all(a.acknowledged for a in self.alerts)

    @property
    def severity(self) -> str:
        return "bad" if any(a.severity == "bad" for a in self.alerts) else self.alerts[0].severity

    @property
    def instance_ids(self) -> tuple[str, ...]:
        return tuple(i for a in self.alerts for i in a.instance_ids)


def group_text(group: str, alerts: Iterable[Alert]) -> str:
    """The words for alerts of one group: the alert's own for one, a count for many."""
    alerts = list(alerts)
    condition = CONDITIONS.get(group)
    if len(alerts) == 1 or condition is None:
        return alerts[0].text if len(alerts) == 1 else f"{len(alerts)} alerts"
    return condition.many.format(n=len(alerts))


@dataclass(frozen=True)
class Notice:
    """One line an alert manager would send: a group fired, grew or resolved."""

    text: str
    #: A new condition while we watched: worth the bell.
    news: bool = False
    resolved: bool = False


@dataclass
class Changes:
    """What one update did."""

    fired: list[Alert] = field(default_factory=list)
    resolved: list[Alert] = field(default_factory=list)
    updated: list[Alert] = field(default_factory=list)
    #: What to tell now, group by group (after GROUP_WAIT / GROUP_INTERVAL).
    notices: list[Notice] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.fired or self.resolved or self.updated or self.notices)


def _instance_alert(st: InstanceState, now: float, refresh: float,
                    folded: bool) -> tuple[str, str, bool] | None:
    """(condition, text, news) for an instance whose condition holds now, else None.
    `news` is False for a condition that already held when we first saw the instance
    (listed, but no bell at start-up); `folded` when its failure belongs to an outage
    alert."""
    if st.error_kind == ErrorKind.CONFIG:
        return "config", CONDITIONS["config"].one.format(label=st.label, detail=st.last_error), False
    if st.failures >= UNREACHABLE_AFTER and not folded:
        # Polls keep failing: an alert however old the last known word (the row keeps
        # showing that word, marked with its age).
        known = f" (last known {runbook.badge(st.status)[1]})" if st.status is not None else ""
        text = CONDITIONS["unreachable"].one.format(label=st.label, detail=f"{st.last_error}{known}")
        return "unreachable", text, st.last_ok_at is not None
    # The last known word: while polls fail (one miss, or an outage that speaks for
    # them) a FAILED instance stays an alert; nobody has seen it recover.
    word = runbook.shown_word(st, now, refresh)
    if word == STOPPED and st.status_since is not None and now - st.status_since > STOPPED_TOO_LONG:
        # Meant to run (no schedule, or inside its window) and stopped for a day: what
        # WhatsApp buffered for it starts to expire.
        since = ("≥ " if not st.status_since_known else "") + runbook.fmt_duration(now - st.status_since)
        return ("stopped_long", CONDITIONS["stopped_long"].one.format(label=st.label, detail=since),
                st.status_since_known)
    condition = _WORD_CONDITION.get(word)
    if condition is None:
        return None
    return condition, CONDITIONS[condition].one.format(label=st.label), st.status_since_known


class AlertBook:
    """The alerts, firing and recently resolved, newest first."""

    def __init__(self) -> None:
        self._alerts: dict[str, Alert] = {}
        self._resolved: list[Alert] = []
        #: Instances folded into the outage alert, with the start of their failure run.
        self._covered: dict[str, float | None] = {}
        #: The error kinds the outage is made of (an instance failing otherwise is not it).
        self._outage_kinds: frozenset[str] = NETWORK_KINDS
        self._outage_headline = "API unreachable"
        #: When the outage last stopped holding (None while it holds, or none seen).
        self._outage_over_at: float | None = None
        #: When each group was last told.
        self._told_at: dict[str, float] = {}

    def update(self, fleet: FleetState, now: float, refresh: float,
               outage: Outage | None) -> Changes:
        """Evaluate every condition now; fire, update and resolve alerts accordingly."""
        wanted: dict[str, tuple[str, str, str, tuple[str, ...], bool]] = {}
        covered = self._outage_cover(fleet, outage, now)
        if covered:
            headline = outage.headline if outage is not None else \
                f"{self._outage_headline}: recovering, {plural(len(covered), 'instance')} not polled yet"
            wanted[OUTAGE] = (OUTAGE, headline, "bad", tuple(covered), True)
        for st in fleet:
            found = _instance_alert(st, now, refresh, st.id in covered)
            if found is not None:
                condition, text, news = found
                severity = CONDITIONS[condition].severity
                wanted[f"{condition}:{st.id}"] = (condition, text, severity, (st.id,), news)
        changes = Changes()
        for key, alert in list(self._alerts.items()):
            if key not in wanted:
                alert.state, alert.resolved_at = RESOLVED, now
                del self._alerts[key]
                self._resolved.insert(0, alert)
                changes.resolved.append(alert)
        for key, (group, text, severity, ids, news) in wanted.items():
            known = self._alerts.get(key)
            if known is None:
                fresh = Alert(key, text, severity, now, ids, news=news, group=group)
                self._alerts[key] = fresh
                changes.fired.append(fresh)
            elif known.text != text:
                known.text, known.instance_ids, known.severity = text, ids, severity
                known.updates += 1
                changes.updated.append(known)
        changes.notices = self._tell(changes.resolved, now)
        self._resolved = [a for a in self._resolved
                          if a.resolved_at is not None and now - a.resolved_at < KEEP_RESOLVED]
        del self._resolved[max(0, MAX_ALERTS - len(self._alerts)):]
        return changes

    def _outage_cover(self, fleet: FleetState, outage: Outage | None, now: float) -> set[str]:
        """The instances the outage alert speaks for. While the outage holds, those it
        names. Once it is over (the API answers again), only those not polled since:
        they are on their way back, and every one of them is polled again at once (see
        Poller._host_is_back); one polled since that still fails, or that fails in
        another way (a 404, a 429: a fault of its own), is no longer the outage's."""
        if outage is not None:
            self._outage_headline = outage.headline.split(":")[0]
            self._outage_kinds = NETWORK_KINDS if outage.kind == "network" else \
                NETWORK_KINDS | SERVER_SIDE_KINDS | {outage.error_kind or ""}
            self._covered = {i: fleet.get(i).failing_since for i in outage.instance_ids}
            self._outage_over_at = None
        elif self._covered and self._outage_over_at is None:
            self._outage_over_at = now
        over = self._outage_over_at
        still = {}
        for instance_id, since in self._covered.items():
            st = fleet.instances.get(instance_id)
            if st is None or not st.failures or st.failing_since != since \
                    or st.error_kind not in self._outage_kinds:
                continue
            if over is not None and st.last_poll_at is not None and st.last_poll_at >= over:
                continue
            still[instance_id] = since
        self._covered = still
        return set(still)

    def _tell(self, resolved: list[Alert], now: float) -> list[Notice]:
        """The notices due now: a group's news once GROUP_WAIT has gathered it (then at
        most every GROUP_INTERVAL), and what resolved among alerts already told."""
        notices = []
        for group in self.groups():
            untold = [a for a in group.alerts if not a.told]
            if not untold:
                continue
            told_at = self._told_at.get(group.key)
            again = told_at is not None and len(untold) < len(group.alerts)
            due = max(min(a.started_at for a in untold) + GROUP_WAIT,
                      told_at + GROUP_INTERVAL if again and told_at is not None else 0.0)
            if now < due:
                continue
            for alert in untold:
                alert.told = True
            self._told_at[group.key] = now
            text = group.text if not again else f"+{len(untold)}: {group.text}"
            notices.append(Notice(text, news=any(a.news for a in untold)))
        by_group: dict[str, list[Alert]] = {}
        for alert in resolved:
            if alert.told:
                by_group.setdefault(alert.group, []).append(alert)
        for key, gone in by_group.items():
            left = [a for a in self._alerts.values() if a.group == key]
            lasted = runbook.fmt_duration(now - min(a.started_at for a in gone))
            if not left:
                self._told_at.pop(key, None)
                notices.append(Notice(f"resolved after {lasted}: {group_text(key, gone)}", resolved=True))
            else:
                names = ", ".join(a.text for a in gone[:3]) + (", …" if len(gone) > 3 else "")
                notices.append(Notice(f"resolved: {names} (still firing: {group_text(key, left)})",
                                      resolved=True))
        return notices

    def firing(self) -> list[Alert]:
        """Firing alerts, the outage first, then newest first."""
        return sorted(self._alerts.values(), key=lambda a: (a.key != OUTAGE, -a.started_at))

    def groups(self) -> list[AlertGroup]:
        """Firing alerts by condition: the outage first, then the newest group first."""
        by_key: dict[str, list[Alert]] = {}
        for alert in self.firing():
            by_key.setdefault(alert.group, []).append(alert)
        found = [AlertGroup(key, tuple(alerts)) for key, alerts in by_key.items()]
        return sorted(found, key=lambda g: (g.key != OUTAGE, -max(a.started_at for a in g.alerts)))

    def unacknowledged(self) -> list[AlertGroup]:
        """Groups with a firing alert nobody has acknowledged yet (what the strip shows)."""
        return [g for g in self.groups() if not g.acknowledged]

    def resolved(self) -> list[Alert]:
        """Alerts resolved in the last KEEP_RESOLVED seconds, newest first."""
        return list(self._resolved)

    def all(self) -> list[Alert]:
        """Firing, then resolved (newest first)."""
        return self.firing() + list(self._resolved)

    def acknowledge(self, keys: Iterable[str] | None = None) -> int:
        """Acknowledge the given alerts, or the alerts of the given groups (default: every
        firing one); returns how many were acknowledged now."""
        wanted = None if keys is None else set(keys)
        count = 0
        for alert in self._alerts.values():
            if (wanted is None or alert.key in wanted or alert.group in wanted) and not alert.acknowledged:
                alert.acknowledged = True
                count += 1
        return count
