"""The monitor core: everything about a fleet except how it is drawn.

The public API, for front ends (the TUI, `status`, `rollout`, the exporter) and for the
tools (bench, soak, screenshots): nothing else of the core is to be imported by them.
"""

from __future__ import annotations

import httpx

from wawp_tui.client.api import WawpClient
from wawp_tui.config import Config
from wawp_tui.core.actions import Outcome, QrUnavailable, Report
from wawp_tui.core.events import Event, Note, Polled, StateTouched, StatusChanged
from wawp_tui.core.monitor import ActionCheck, Monitor
from wawp_tui.core.outage import Outage
from wawp_tui.core.rollout import Rollout, RolloutState


def client_for(config: Config, transport: httpx.AsyncBaseTransport | None = None) -> WawpClient:
    """The API client for a config (`transport`: an in-process server, for the demo)."""
    return WawpClient(
        config.api.base_url,
        timeout=config.api.timeout,
        connect_timeout=config.api.connect_timeout,
        credentials_in=config.api.credentials_in,
        max_concurrency=config.api.max_concurrency,
        transport=transport,
    )


__all__ = ["ActionCheck", "Event", "Monitor", "Note", "Outage", "Outcome", "Polled",
           "QrUnavailable", "Report", "Rollout", "RolloutState", "StateTouched",
           "StatusChanged", "client_for"]
