"""The metric contract of ``wawp-tui exporter`` (issue 16): names, types, labels, help.

One place for every metric name the exporter serves, so that the exporter, the alert
rules in ``contrib/prometheus/`` and the Grafana dashboard in ``contrib/grafana/`` cannot
drift apart: the tests check that every PromQL expression shipped in ``contrib/`` only
names metrics listed here.

No prometheus_client here (and no I/O): the exporter builds its collectors from
:data:`METRICS`; anything else can import this module for free.
"""

from __future__ import annotations

from typing import NamedTuple

#: Labels every per-instance metric carries (``tags``: sorted, joined with ",", "" if none;
#: a "," or "%" inside a tag is percent-encoded as "%2C" / "%25").
INSTANCE_LABELS: tuple[str, ...] = ("id", "label", "tags")

#: Values of the ``status`` label of ``wawp_instance_status`` (UNKNOWN: any other word).
INSTANCE_STATUSES: tuple[str, ...] = (
    "WORKING",
    "STARTING",
    "SCAN_QR_CODE",
    "STOPPED",
    "FAILED",
    "PASSKEY_REQUIRED",
    "PASSKEY_CONFIRMATION_REQUIRED",
    "UNKNOWN",
)

#: Values of the ``status`` label of ``wawp_instances_by_status``.
FLEET_STATUSES: tuple[str, ...] = INSTANCE_STATUSES + ("UNREACHABLE",)

#: Values of the ``guard`` label of ``wawp_instance_guard``.
GUARDS: tuple[str, ...] = ("stabilizing", "loop_guard", "stuck", "needs_person")

#: Values of the ``state`` label of ``wawp_instance_desired``.
DESIRED_STATES: tuple[str, ...] = ("running", "stopped")

#: Values of the ``kind`` label of ``wawp_poll_errors_total``.
POLL_ERROR_KINDS: tuple[str, ...] = (
    "unauthorized",
    "not_found",
    "not_loaded",
    "no_route",
    "rate_limited",
    "server_error",
    "bad_gateway",
    "timeout",
    "network",
    "malformed",
    "bad_request",
    "forbidden",
    "too_large",
    "config",
    # an error inside a 2xx reply ({"status": "error"}, {"success": false}); a 422
    # "already started"; a reply this version could not read (a bug: see the log)
    "api_error",
    "already_started",
    "internal",
)

#: Values of the ``kind`` label of ``wawp_outage``.
OUTAGE_KINDS: tuple[str, ...] = ("network", "platform")

#: Buckets of ``wawp_poll_duration_seconds`` (seconds).
POLL_DURATION_BUCKETS: tuple[float, ...] = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)


class Metric(NamedTuple):
    """One metric of the contract."""

    name: str
    #: "gauge", "counter" or "histogram"
    type: str
    #: labels besides :data:`INSTANCE_LABELS` (per-instance metrics carry those too)
    labels: tuple[str, ...]
    #: True when the metric carries :data:`INSTANCE_LABELS`
    per_instance: bool
    #: the HELP line
    help: str


def _i(name: str, type_: str, labels: tuple[str, ...], help_: str) -> Metric:
    return Metric(name, type_, labels, True, help_)


def _f(name: str, type_: str, labels: tuple[str, ...], help_: str) -> Metric:
    return Metric(name, type_, labels, False, help_)


METRICS: tuple[Metric, ...] = (
    # per instance
    _i("wawp_instance_status", "gauge", ("status",),
       "1 for the current (last known) status of the instance, 0 for every other status."),
    _i("wawp_instance_up", "gauge", (),
       "1 when the last poll of the instance succeeded, 0 when it failed."),
    _i("wawp_instance_stale", "gauge", (),
       "1 when the status shown is old (last poll failed or none finished in two intervals)."),
    _i("wawp_instance_status_duration_seconds", "gauge", (),
       "Seconds in the current status (since seen changing, or since start-up)."),
    _i("wawp_instance_last_success_timestamp_seconds", "gauge", (),
       "Unix time of the last successful poll of the instance."),
    _i("wawp_instance_guard", "gauge", ("guard",),
       "1 while the runbook guard is active (stabilizing, loop_guard, stuck, needs_person)."),
    _i("wawp_instance_restarts_total", "counter", (),
       "Restarts seen for the instance: sent by this process or seen from the server."),
    _i("wawp_instance_stuck_starting", "gauge", (),
       "1 when the instance is STARTING for longer than the runbook allows."),
    _i("wawp_instance_desired", "gauge", ("state",),
       "1 for what the instance is meant to be now ([[schedules]]; running when it has none)."),
    # fleet / process
    _f("wawp_instances", "gauge", (),
       "Instances watched by this exporter (after --tag)."),
    _f("wawp_instances_by_status", "gauge", ("status",),
       "Instances per status (UNREACHABLE: never polled successfully)."),
    _f("wawp_poll_duration_seconds", "histogram", (),
       "Poll round-trip time, all instances."),
    _f("wawp_polls_total", "counter", ("outcome",),
       "Polls finished, by outcome (ok, error)."),
    _f("wawp_poll_errors_total", "counter", ("kind",),
       "Failed polls by error kind."),
    _f("wawp_actions_total", "counter", ("action", "outcome", "trigger"),
       "Actions sent or refused, by action, outcome and trigger."),
    _f("wawp_api_unreachable", "gauge", (),
       "1 while the Wawp API cannot be reached from this exporter."),
    _f("wawp_outage", "gauge", ("kind",),
       "1 while an outage (network, platform) is detected, by kind."),
    _f("wawp_auto_heal_enabled", "gauge", (),
       "1 when the exporter runs with --auto-heal."),
    _f("wawp_read_only", "gauge", (),
       "1 in read-only mode (the default)."),
    _f("wawp_exporter_build_info", "gauge", ("version", "python"),
       "Build information of the exporter; always 1."),
    _f("wawp_last_refresh_timestamp_seconds", "gauge", (),
       "Unix time any poll last finished."),
)

#: The metric names of the contract, in the order above.
NAMES: tuple[str, ...] = tuple(m.name for m in METRICS)

_BY_NAME = {m.name: m for m in METRICS}


def metric(name: str) -> Metric:
    """The contract entry for ``name`` (KeyError when it is not in the contract)."""
    return _BY_NAME[name]


def sample_names() -> frozenset[str]:
    """Every series name PromQL may select: the names, plus a histogram's
    ``_bucket``, ``_sum`` and ``_count`` series (``_created`` series are not part of
    the contract: queries must not depend on them)."""
    names = set(NAMES)
    for m in METRICS:
        if m.type == "histogram":
            names.update(m.name + suffix for suffix in ("_bucket", "_sum", "_count"))
    return frozenset(names)
