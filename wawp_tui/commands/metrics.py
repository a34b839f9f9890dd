"""The exporter's metrics: counters fed by the Monitor's events, and a prometheus-client
Collector that reads the Monitor's state at scrape time.

Names, types, labels and help come from the contract (``wawp_tui.metrics_names``); this
module only fills in values. Gauges are computed when Prometheus scrapes, from the same
fleet state and runbook the TUI shows, so a scrape always sees one consistent moment.
Counters cannot be computed from the state, so :class:`FleetCounters` keeps them, fed
by the Monitor's events (polls) and by its audit log (actions, as audited). Every
counter and every per-instance series exists from the start (at 0), and no ``_created``
series is exposed: a custom collector decides exactly which samples exist.

Label values are the state's already-cleaned text (``safe_text.clean``: no control
character, every token redacted), capped at 64 characters; no error text, no token and
no server-supplied string other than the status word (mapped onto a fixed set) ever
becomes a label.
"""

from __future__ import annotations

import bisect
import platform
from collections.abc import Iterable, Iterator
from itertools import product
from pathlib import Path
from typing import Any

from prometheus_client.metrics_core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.utils import floatToGoString

from wawp_tui import __version__, metrics_names
from wawp_tui.core import AuditLog, Event, InstanceState, Monitor, Polled, runbook
from wawp_tui.metrics_names import (
    DESIRED_STATES,
    GUARDS,
    INSTANCE_STATUSES,
    OUTAGE_KINDS,
    POLL_DURATION_BUCKETS,
    POLL_ERROR_KINDS,
)
from wawp_tui.models import UNREACHABLE, is_known_status
from wawp_tui.safe_text import clean
from wawp_tui.vocab import STATE_ACTIONS, Action, AuditOutcome, Trigger

#: Longest label value (id, label, tags) in a series.
LABEL_LIMIT = 64
#: Values of wawp_actions_total's labels (a pre-created series per combination).
ACTIONS: tuple[str, ...] = tuple(str(a) for a in STATE_ACTIONS)
ACTION_OUTCOMES: tuple[str, ...] = ("ok", "failed", "refused", "unknown")
TRIGGERS: tuple[str, ...] = tuple(str(t) for t in Trigger)
#: Series per instance once it has had a good poll: 8 status + up + stale + duration +
#: last success + 4 guards + restarts + stuck + 2 desired states. Before the first good
#: poll the duration and last-success series are absent (no status and no success yet).
SERIES_PER_INSTANCE = len(INSTANCE_STATUSES) + 4 + len(GUARDS) + 2 + len(DESIRED_STATES)


def instance_labels(state: InstanceState) -> tuple[str, str, str]:
    """(id, label, tags) of an instance's series: cleaned, capped, tags sorted and joined
    with "," (a "," or "%" inside a tag percent-encoded, so the list splits back exactly
    and `tags=~"(.*,)?prod(,.*)?"` matches the tag prod, never a tag "eu,prod")."""
    tags = ",".join(sorted({tag_label(clean(t, 40)) for t in state.tags if clean(t, 40)}))
    return (clean(state.id, LABEL_LIMIT), clean(state.label, LABEL_LIMIT), clean(tags, LABEL_LIMIT))


def tag_label(tag: str) -> str:
    """One tag as it stands in the `tags` label: "%" -> "%25", "," -> "%2C"."""
    return tag.replace("%", "%25").replace(",", "%2C")


def status_label(word: str | None) -> str | None:
    """The `status` label for a status word: itself when documented, else UNKNOWN."""
    if word is None:
        return None
    return word if is_known_status(word) else "UNKNOWN"


def guards(state: InstanceState, now: float) -> dict[str, bool]:
    """Which runbook guards hold a restart back now: the runbook's own verdict (the one
    the GUARD column, the refusals and auto-heal use), and `runbook.is_stuck`."""
    verdict = runbook.check_action(state, Action.RESTART, now)
    guard = "" if verdict.allowed else verdict.guard
    return {
        "stabilizing": guard in ("settle_restart", "settle_start"),
        "loop_guard": guard in ("loop", "ladder", "booting", "ladder_end", "ladder_rate"),
        "stuck": runbook.is_stuck(state, now),
        "needs_person": runbook.needs_person_now(state, now),
    }


class _Buckets:
    """A histogram's running counts (cumulative at read time), without prometheus-client's
    own Histogram (which would add a `_created` series)."""

    def __init__(self, bounds: Iterable[float]) -> None:
        self.bounds = sorted(bounds)
        self.counts = [0] * (len(self.bounds) + 1)
        self.sum = 0.0

    def observe(self, value: float) -> None:
        self.counts[bisect.bisect_left(self.bounds, value)] += 1
        self.sum += value

    def cumulative(self) -> list[tuple[str, float]]:
        out, total = [], 0
        for bound, count in zip([*self.bounds, float("inf")], self.counts):
            total += count
            out.append((floatToGoString(bound), float(total)))
        return out


class FleetCounters:
    """The exporter's counters, fed by the Monitor (subscribe `on_event`) and by the audit
    log (`on_audit`, see :class:`CountingAudit`)."""

    def __init__(self, monitor: Monitor) -> None:
        self.monitor = monitor
        self.polls = {"ok": 0, "error": 0}
        self.poll_errors = dict.fromkeys(POLL_ERROR_KINDS, 0)
        self.actions = dict.fromkeys(product(ACTIONS, ACTION_OUTCOMES, TRIGGERS), 0)
        self.restarts = dict.fromkeys((cfg.id for cfg in monitor.config.instances), 0)
        self.latency = _Buckets(POLL_DURATION_BUCKETS)
        #: When the last seen restart of each instance was counted (each counts once).
        self._counted_seen: dict[str, float] = {}

    def on_event(self, event: Event) -> None:
        """Subscribed to the Monitor: count every finished poll."""
        if not isinstance(event, Polled):
            return
        st = self.monitor.state(event.instance_id)
        if st.latency_ms is not None:
            self.latency.observe(st.latency_ms / 1000.0)
        if st.failures:
            self.polls["error"] += 1
            kind = st.error_kind if st.error_kind in self.poll_errors else "internal"
            self.poll_errors[kind] += 1
            return
        self.polls["ok"] += 1
        self._seen_restart(st)

    def _seen_restart(self, st: InstanceState) -> None:
        """A restart the fleet state saw on the server (a STARTING no action of ours
        explains: another operator, a cron rollout, the engine itself), counted once."""
        if Action.RESTART not in st.seen_actions:
            return
        at = st.last_action_at.get(Action.RESTART)
        if st.id not in self._counted_seen and not st.status_since_known:
            # A STARTING already under way at the first poll guards like a restart (its
            # age is unknown), but it is no restart this exporter saw happen: not counted.
            self._counted_seen[st.id] = at if at is not None else -1.0
            return
        if at is not None and self._counted_seen.get(st.id) != at:
            self._counted_seen[st.id] = at
            self.restarts[st.id] = self.restarts.get(st.id, 0) + 1

    def on_audit(self, fields: dict[str, Any]) -> None:
        """An action record of the audit log: count outcomes, and restarts when sent."""
        action, outcome = str(fields.get("action")), str(fields.get("outcome"))
        trigger, instance_id = str(fields.get("trigger")), str(fields.get("instance_id"))
        if action == Action.RESTART and outcome == AuditOutcome.SENT and instance_id in self.restarts:
            self.restarts[instance_id] += 1
        key = (action, outcome, trigger)
        if key in self.actions:
            self.actions[key] += 1


class CountingAudit(AuditLog):
    """The audit log, which also tells the counters about every action record."""

    def __init__(self, path: Path | None, counters: FleetCounters | None = None) -> None:
        super().__init__(path)
        self.counters = counters

    def write(self, at: float, event: str, **fields: Any) -> None:
        super().write(at, event, **fields)
        if event == "action" and self.counters is not None:
            self.counters.on_audit(fields)


#: A family being filled (gauge, counter or histogram: their add_metric differ).
Family = Any


def _family(name: str) -> Family:
    """An empty family of the contract's metric `name`."""
    m = metrics_names.metric(name)
    names = [*metrics_names.INSTANCE_LABELS, *m.labels] if m.per_instance else list(m.labels)
    if m.type == "counter":
        return CounterMetricFamily(m.name, m.help, labels=names)
    if m.type == "histogram":
        return HistogramMetricFamily(m.name, m.help, labels=names)
    return GaugeMetricFamily(m.name, m.help, labels=names)


class FleetCollector:
    """prometheus-client Collector: every metric of the contract, read at scrape time."""

    def __init__(self, monitor: Monitor, counters: FleetCounters) -> None:
        self.monitor = monitor
        self.counters = counters
        # Ids, labels and tags do not change while the exporter runs: cleaned once.
        self._labels = {cfg.id: instance_labels(monitor.state(cfg.id))
                        for cfg in monitor.config.instances}

    def collect(self) -> Iterator[Metric]:
        m = self.monitor
        now = m.clock()
        basis = m.stale_basis
        fam: dict[str, Family] = {name: _family(name) for name in metrics_names.NAMES}
        by_status = dict.fromkeys(metrics_names.FLEET_STATUSES, 0)
        last_poll: float | None = None
        for instance_id, labels in self._labels.items():
            st = m.state(instance_id)
            current = status_label(st.status)
            by_status[current or UNREACHABLE] += 1
            for word in INSTANCE_STATUSES:
                fam["wawp_instance_status"].add_metric([*labels, word], 1.0 if word == current else 0.0)
            fam["wawp_instance_up"].add_metric(
                labels, 1.0 if st.last_poll_at is not None and not st.failures else 0.0)
            shown = runbook.display_status(st, now, basis)
            stale = shown == UNREACHABLE or runbook.stale_age(st, now, basis) is not None
            fam["wawp_instance_stale"].add_metric(labels, 1.0 if stale else 0.0)
            if current is not None and st.status_since is not None:
                fam["wawp_instance_status_duration_seconds"].add_metric(
                    labels, max(0.0, now - st.status_since))
            if st.last_ok_at is not None:
                fam["wawp_instance_last_success_timestamp_seconds"].add_metric(labels, st.last_ok_at)
            held = guards(st, now)
            for guard in GUARDS:
                fam["wawp_instance_guard"].add_metric([*labels, guard], 1.0 if held[guard] else 0.0)
            fam["wawp_instance_restarts_total"].add_metric(
                labels, float(self.counters.restarts.get(instance_id, 0)))
            fam["wawp_instance_stuck_starting"].add_metric(labels, 1.0 if held["stuck"] else 0.0)
            plan = runbook.meant(st, now)
            desired = "running" if plan is None or plan.running else "stopped"
            for state in metrics_names.DESIRED_STATES:
                fam["wawp_instance_desired"].add_metric([*labels, state], 1.0 if state == desired else 0.0)
            if st.last_poll_at is not None and (last_poll is None or st.last_poll_at > last_poll):
                last_poll = st.last_poll_at
        self._fleet(fam, by_status, last_poll)
        yield from fam.values()

    def _fleet(self, fam: dict[str, Family], by_status: dict[str, int], last_poll: float | None) -> None:
        m, c = self.monitor, self.counters
        fam["wawp_instances"].add_metric([], float(len(self._labels)))
        for word, count in by_status.items():
            fam["wawp_instances_by_status"].add_metric([word], float(count))
        fam["wawp_poll_duration_seconds"].add_metric([], c.latency.cumulative(), c.latency.sum)
        for outcome, count in c.polls.items():
            fam["wawp_polls_total"].add_metric([outcome], float(count))
        for kind, count in c.poll_errors.items():
            fam["wawp_poll_errors_total"].add_metric([kind], float(count))
        for (action, outcome, trigger), count in c.actions.items():
            fam["wawp_actions_total"].add_metric([action, outcome, trigger], float(count))
        outage = m.outage()
        current = outage.kind if outage is not None else None
        fam["wawp_api_unreachable"].add_metric([], 1.0 if current == "network" else 0.0)
        for kind in OUTAGE_KINDS:
            fam["wawp_outage"].add_metric([kind], 1.0 if current == kind else 0.0)
        fam["wawp_auto_heal_enabled"].add_metric([], 1.0 if m.auto_heal else 0.0)
        fam["wawp_read_only"].add_metric([], 1.0 if m.read_only else 0.0)
        fam["wawp_exporter_build_info"].add_metric([__version__, platform.python_version()], 1.0)
        if last_poll is not None:
            fam["wawp_last_refresh_timestamp_seconds"].add_metric([], last_poll)


__all__ = ["ACTIONS", "ACTION_OUTCOMES", "SERIES_PER_INSTANCE", "TRIGGERS", "CountingAudit",
           "FleetCollector", "FleetCounters", "guards", "instance_labels", "status_label"]
