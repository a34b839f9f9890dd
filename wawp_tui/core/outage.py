"""Outage detection: when much of the fleet fails at once, say which kind of failure it is.

"The API is unreachable from here" (check this machine's side) reads differently from
"instances failing at once" (a platform outage), and both from "every instance gets the
same answer" (the endpoint is wrong: a path in base_url, the wrong host). All three mean
restarts will not help, so auto-heal holds. Pure: a function of the fleet state.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Literal

from wawp_tui.core.fleet import FleetState
from wawp_tui.models import FAILED
from wawp_tui.vocab import NETWORK_KINDS, SERVER_SIDE_KINDS, ErrorKind, plural

_OUTAGE_KINDS = NETWORK_KINDS | SERVER_SIDE_KINDS

#: Polls in a row that must fail on the network before the fleet counts as cut off (fewer
#: for a smaller fleet: all of them).
NETWORK_STREAK = 10
#: Answers that say "this request is wrong" rather than "this instance is broken": when
#: every instance gets the same one, the endpoint (base_url) is the suspect.
_ENDPOINT_KINDS = frozenset({
    ErrorKind.NOT_FOUND, ErrorKind.NOT_LOADED, ErrorKind.UNAUTHORIZED, ErrorKind.FORBIDDEN,
    ErrorKind.BAD_REQUEST, ErrorKind.MALFORMED, ErrorKind.TOO_LARGE, ErrorKind.API_ERROR,
    ErrorKind.NO_ROUTE,
})


@dataclass(frozen=True)
class Outage:
    """A fleet-wide failure: `network` (cannot reach the API), `platform` (instances
    failing at once) or `endpoint` (every instance gets the same wrong answer)."""

    kind: Literal["network", "platform", "endpoint"]
    #: The banner: what happened, where, and what to check.
    text: str
    #: One line for the alert list ("API unreachable: 12 instances").
    headline: str
    #: The instances the outage covers (their own alerts are folded into this one).
    instance_ids: tuple[str, ...] = ()
    #: The error kind they share, for an endpoint outage.
    error_kind: str | None = None


def detect(fleet: FleetState, base_url: str = "") -> Outage | None:
    """The outage under way, if a large share of the fleet fails at once."""
    total = len(fleet)
    at = f" at {base_url}" if base_url else ""
    network_ids = tuple(st.id for st in fleet if st.failures and st.error_kind in NETWORK_KINDS)
    if total and fleet.network_streak >= min(NETWORK_STREAK, total):
        return Outage("network", (
            f"⚠ The Wawp API{at} is unreachable from here: the last "
            f"{plural(fleet.network_streak, 'poll')} failed ({fleet.last_network_error}). Check this "
            "machine's network, VPN, proxy or base_url; the instances may be fine. Restarts cannot help."),
            f"API unreachable: {plural(len(network_ids), 'instance')}", network_ids)
    endpoint = _endpoint(fleet, at)
    if endpoint is not None:
        return endpoint
    # Only what an outage looks like counts: 5xx, timeouts, refused connections, FAILED.
    # A 404 or a 401 is about one instance's id or token, not about the platform.
    failing = [st for st in fleet
               if (st.failures and st.error_kind in _OUTAGE_KINDS) or (not st.failures and st.status == FAILED)]
    if len(failing) < 3 or len(failing) / total < 0.5:
        return None
    ids = tuple(st.id for st in failing)
    if len(network_ids) >= 0.8 * len(failing):
        return Outage("network", (
            f"⚠ The Wawp API{at} is unreachable from here: {len(network_ids)}/{total} polls fail "
            "with network errors. Check this machine's network, VPN, proxy or base_url; the "
            "instances themselves may be fine. Restarts cannot help."),
            f"API unreachable: {plural(len(network_ids), 'instance')}", network_ids)
    return Outage("platform", (
        f"⚠ {len(failing)}/{total} instances failing at once{at}: likely a Wawp platform "
        "outage; restarts will not fix it (auto-heal holds)."),
        f"platform outage: {plural(len(failing), 'instance')} failing", ids)


def _endpoint(fleet: FleetState, at: str) -> Outage | None:
    """Every polled instance (two or more) fails with the same request-level error."""
    polled = [st for st in fleet if st.error_kind != ErrorKind.CONFIG
              and (st.failures or st.status is not None)]
    if len(polled) < 2 or not all(st.failures for st in polled):
        return None
    kinds = Counter(st.error_kind for st in polled)
    kind, count = kinds.most_common(1)[0]
    if count != len(polled) or kind not in _ENDPOINT_KINDS:
        return None
    messages = Counter(st.last_error for st in polled)
    sample = messages.most_common(1)[0][0]
    return Outage("endpoint", (
        f"⚠ Every instance gets the same answer{at}: {sample}. The instances are unlikely to "
        "all be wrong at once: check base_url (a path in it, the wrong host or port) and the "
        "token before the ids. Restarts cannot help."),
        f"every instance fails the same way: {kind}", tuple(st.id for st in polled), kind)
