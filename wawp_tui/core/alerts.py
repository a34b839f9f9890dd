"""Alerts the way an alert manager keeps them: grouped, deduplicated, firing -> resolved,
acknowledged by a person.

An alert is a condition that holds now, not a transition: it fires when its condition
starts to hold, stays one alert however many polls see it, and resolves when the
condition clears. One outage is one alert ("API unreachable: 12 instances"), not one per
instance. Pure bookkeeping: `update()` is given the fleet, the outage and the time.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from wawp_tui.core import runbook
from wawp_tui.core.fleet import FleetState, InstanceState
from wawp_tui.core.outage import Outage
from wawp_tui.models import FAILED, SCAN_QR_CODE, STOPPED, UNREACHABLE
from wawp_tui.vocab import ErrorKind

#: Words that are an instance alert while they hold.
ALERT_WORDS = frozenset({FAILED, SCAN_QR_CODE, UNREACHABLE, runbook.STUCK, runbook.CONFIG,
                         runbook.NEEDS_PERSON})
#: Failed polls in a row before an unreachable instance is an alert of its own: one
#: failed poll is not news, and by the second an outage has been recognised (and the
#: instance's failure is folded into it).
UNREACHABLE_AFTER = 2
#: A STOPPED meant to be running is an alert after this long (WhatsApp's buffer: 24-72 h).
STOPPED_TOO_LONG = 86400.0
#: Resolved alerts stay listed this long (what happened while nobody looked).
KEEP_RESOLVED = 900.0
#: At most this many alerts are kept (the oldest resolved go first).
MAX_ALERTS = 500
OUTAGE = "outage"
FIRING = "firing"
RESOLVED = "resolved"


@dataclass
class Alert:
    """One alert: `key` identifies its condition ("outage", "instance:<id>")."""

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

    @property
    def firing(self) -> bool:
        return self.state == FIRING


@dataclass
class Changes:
    """What one update did."""

    fired: list[Alert] = field(default_factory=list)
    resolved: list[Alert] = field(default_factory=list)
    updated: list[Alert] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.fired or self.resolved or self.updated)


def _instance_alert(st: InstanceState, now: float, refresh: float,
                    folded: bool) -> tuple[str, bool] | None:
    """(text, news) for an instance whose condition holds now, else None. `news` is
    False for a condition that already held when we first saw the instance (listed, but
    no bell at start-up); `folded` when its failure belongs to an outage alert."""
    if st.error_kind == ErrorKind.CONFIG:
        return f"{st.label} {runbook.badge(runbook.CONFIG)[1]}: {st.last_error}", False
    if st.failures >= UNREACHABLE_AFTER and not folded:
        # Polls keep failing: an alert however old the last known word (the row keeps
        # showing that word, marked stale).
        return f"{st.label} UNREACHABLE: {st.last_error}", st.last_ok_at is not None
    # The last known word: while polls fail (one miss, or an outage that speaks for
    # them) a FAILED instance stays an alert; nobody has seen it recover.
    word = st.status if st.failures else runbook.shown_word(st, now, refresh)
    if word == STOPPED and st.status_since is not None and now - st.status_since > STOPPED_TOO_LONG:
        # Meant to run (no schedule, or inside its window) and stopped for a day: what
        # WhatsApp buffered for it starts to expire.
        since = runbook.fmt_duration(now - st.status_since)
        return (f"{st.label} STOPPED for {'≥ ' if not st.status_since_known else ''}{since}: "
                "WhatsApp buffers incoming messages only 24-72 h; start it (s) or schedule it",
                st.status_since_known)
    if word is None or word not in ALERT_WORDS or word == UNREACHABLE:
        return None
    return f"{st.label} {runbook.badge(word)[1]}", st.status_since_known


class AlertBook:
    """The alerts, firing and recently resolved, newest first."""

    def __init__(self) -> None:
        self._alerts: dict[str, Alert] = {}
        self._resolved: list[Alert] = []
        #: Instances folded into the outage alert, with the start of their failure run.
        self._covered: dict[str, float | None] = {}
        self._outage_headline = "API unreachable"

    def update(self, fleet: FleetState, now: float, refresh: float,
               outage: Outage | None) -> Changes:
        """Evaluate every condition now; fire, update and resolve alerts accordingly."""
        wanted: dict[str, tuple[str, str, tuple[str, ...], bool]] = {}
        covered = self._outage_cover(fleet, outage)
        if covered:
            noun = "instance" if len(covered) == 1 else "instances"
            headline = outage.headline if outage is not None else \
                f"{self._outage_headline}: {len(covered)} {noun} still failing (recovering)"
            wanted[OUTAGE] = (headline, "bad", tuple(covered), True)
        for st in fleet:
            found = _instance_alert(st, now, refresh, st.id in covered)
            if found is not None:
                severity = "warn" if st.status == SCAN_QR_CODE and not st.failures else "bad"
                wanted[f"instance:{st.id}"] = (found[0], severity, (st.id,), found[1])
        changes = Changes()
        for key, alert in list(self._alerts.items()):
            if key not in wanted:
                alert.state, alert.resolved_at = RESOLVED, now
                del self._alerts[key]
                self._resolved.insert(0, alert)
                changes.resolved.append(alert)
        for key, (text, severity, ids, news) in wanted.items():
            known = self._alerts.get(key)
            if known is None:
                fresh = Alert(key, text, severity, now, ids, news=news)
                self._alerts[key] = fresh
                changes.fired.append(fresh)
            elif known.text != text:
                known.text, known.instance_ids, known.severity = text, ids, severity
                known.updates += 1
                changes.updated.append(known)
        self._resolved = [a for a in self._resolved
                          if a.resolved_at is not None and now - a.resolved_at < KEEP_RESOLVED]
        del self._resolved[max(0, MAX_ALERTS - len(self._alerts)):]
        return changes

    def _outage_cover(self, fleet: FleetState, outage: Outage | None) -> set[str]:
        """The instances the outage alert speaks for. Once an outage is seen, its
        instances stay folded into it until each one recovers: a fleet coming back
        half-way must not fire one alert per instance still on its way back."""
        if outage is not None:
            self._outage_headline = outage.headline.split(":")[0]
            self._covered = {i: fleet.get(i).failing_since for i in outage.instance_ids}
        still = {}
        for instance_id, since in self._covered.items():
            st = fleet.instances.get(instance_id)
            if st is not None and st.failures and st.failing_since == since:
                still[instance_id] = since
        self._covered = still
        return set(still)

    def firing(self) -> list[Alert]:
        """Firing alerts, the outage first, then newest first."""
        return sorted(self._alerts.values(), key=lambda a: (a.key != OUTAGE, -a.started_at))

    def unacknowledged(self) -> list[Alert]:
        """Firing alerts nobody has acknowledged yet (what the alert strip shows)."""
        return [a for a in self.firing() if not a.acknowledged]

    def all(self) -> list[Alert]:
        """Firing, then resolved (newest first): the alert list."""
        return self.firing() + list(self._resolved)

    def acknowledge(self, keys: list[str] | None = None) -> int:
        """Acknowledge the given alerts (default: every firing one); returns how many."""
        count = 0
        for alert in self._alerts.values():
            if (keys is None or alert.key in keys) and not alert.acknowledged:
                alert.acknowledged = True
                count += 1
        return count
