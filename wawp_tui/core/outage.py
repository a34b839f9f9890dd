"""Outage detection: when much of the fleet fails at once, say which kind of failure it is.

"The API is unreachable from here" (check this machine's side) reads differently from
"instances failing at once" (a platform outage); both mean restarts will not help, so
auto-heal holds. Pure: a function of the fleet state.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from wawp_tui.core.fleet import FleetState
from wawp_tui.models import FAILED
from wawp_tui.vocab import NETWORK_KINDS, SERVER_SIDE_KINDS

_OUTAGE_KINDS = NETWORK_KINDS | SERVER_SIDE_KINDS

#: Polls in a row that must fail on the network before the fleet counts as cut off (fewer
#: for a smaller fleet: all of them).
NETWORK_STREAK = 10


@dataclass(frozen=True)
class Outage:
    """A fleet-wide failure: `network` (cannot reach the API) or `platform`."""

    kind: Literal["network", "platform"]
    text: str


def detect(fleet: FleetState) -> Outage | None:
    """The outage under way, if a large share of the fleet fails at once."""
    total = len(fleet)
    if total and fleet.network_streak >= min(NETWORK_STREAK, total):
        return Outage("network", (
            f"⚠ The Wawp API is unreachable from here: the last {fleet.network_streak} polls "
            f"all failed ({fleet.last_network_error}). Check this machine's network, VPN, "
            "proxy or base_url; the instances themselves may be fine. Restarts cannot help."))
    # Only what an outage looks like counts: 5xx, timeouts, refused connections, FAILED.
    # A 404 or a 401 is about one instance's id or token, not about the platform.
    failing = [st for st in fleet
               if (st.failures and st.error_kind in _OUTAGE_KINDS) or (not st.failures and st.status == FAILED)]
    if len(failing) < 3 or len(failing) / total < 0.5:
        return None
    network = sum(1 for st in failing if st.failures and st.error_kind in NETWORK_KINDS)
    if network >= 0.8 * len(failing):
        return Outage("network", (
            f"⚠ The Wawp API is unreachable from here: {network}/{total} polls fail with "
            "network errors. Check this machine's network, VPN, proxy or base_url; the "
            "instances themselves may be fine. Restarts cannot help."))
    return Outage("platform", (
        f"⚠ {len(failing)}/{total} instances failing at once: likely a Wawp platform "
        "outage, not the instances. Restarts will not fix it (auto-heal holds)."))
