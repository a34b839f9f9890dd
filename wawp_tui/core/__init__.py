"""The monitor core: everything about a fleet except how it is drawn.

The public API, for front ends (the TUI, `status`, `rollout`, the exporter) and for the
tools (bench, soak, screenshots): these names, and the pure rules in `core.runbook`.
"""

from __future__ import annotations

import httpx

from wawp_tui.client.api import WawpClient
from wawp_tui.config import Config
from wawp_tui.core.actions import Outcome, QrUnavailable, Report
from wawp_tui.core.alerts import Alert, AlertBook
from wawp_tui.core.audit import AuditLog
from wawp_tui.core.consequences import CONSEQUENCES
from wawp_tui.core.events import AlertsChanged, Event, Note, Polled, StateTouched, StatusChanged
from wawp_tui.core.fleet import FleetState, HistoryEntry, InstanceState
from wawp_tui.core.front import FleetMonitor
from wawp_tui.core.history_store import HistoryStore
from wawp_tui.core.monitor import ActionCheck, Monitor
from wawp_tui.core.outage import Outage
from wawp_tui.core.rollout import (
    DEFAULT_WAVE,
    Rollout,
    RolloutBusy,
    RolloutState,
    RolloutStateError,
    describe,
    plan,
)
from wawp_tui.core.waking import woken_within


def client_for(config: Config, transport: httpx.AsyncBaseTransport | None = None) -> WawpClient:
    """The API client for a config (`transport`: an in-process server, for the demo)."""
    return WawpClient(
        config.api.base_url,
        timeout=config.api.timeout,
        connect_timeout=config.api.connect_timeout,
        credentials_in=config.api.credentials_in,
        max_concurrency=config.api.max_concurrency,
        transport=transport,
        proxy=config.api.via,
        trust=config.api.trust,
    )


__all__ = ["CONSEQUENCES", "DEFAULT_WAVE", "ActionCheck", "Alert", "AlertBook",
           "AlertsChanged", "AuditLog", "Event", "FleetMonitor", "FleetState", "HistoryEntry", "HistoryStore",
           "InstanceState", "Monitor", "Note", "Outage", "Outcome", "Polled", "QrUnavailable",
           "Report", "Rollout", "RolloutBusy", "RolloutState", "RolloutStateError", "StateTouched",
           "StatusChanged", "client_for", "describe", "plan", "woken_within"]
