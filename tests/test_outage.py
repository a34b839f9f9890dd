"""Outage detection: network trouble on our side versus instances failing, and how fast."""

from wawp_tui.core.fleet import FleetState
from wawp_tui.core.outage import detect
from wawp_tui.models import InstanceConfig, Secret


def outage_banner(fleet, now, refresh):
    found = detect(fleet)
    return None if found is None else found.text

T0 = 1_800_000_000.0


def fleet_of(n):
    fleet = FleetState([InstanceConfig(f"I{k}", f"inst {k}", Secret("x")) for k in range(n)], lambda: T0)
    for k in range(n):
        fleet.apply_poll_ok(f"I{k}", "WORKING", None, 3)
    return fleet


def test_a_big_fleet_learns_the_host_is_gone_in_ten_polls():
    fleet = fleet_of(1000)
    for k in range(9):
        fleet.apply_poll_error(f"I{k}", "network", "network: connection refused", 1)
    assert outage_banner(fleet, T0, 30) is None
    fleet.apply_poll_error("I9", "network", "network: connection refused", 1)
    banner = outage_banner(fleet, T0, 30)
    assert "unreachable from here" in banner and "connection refused" in banner
    # Any reply at all, even an error reply, means the host answers.
    fleet.apply_poll_error("I10", "bad_gateway", "bad gateway (502)", 1)
    assert outage_banner(fleet, T0, 30) is None


def test_one_hung_instance_among_healthy_ones_is_not_an_outage():
    fleet = fleet_of(20)
    for _ in range(30):
        fleet.apply_poll_error("I0", "timeout", "no reply within 10s (timeout)", 1)
        fleet.apply_poll_ok("I1", "WORKING", None, 3)
    assert outage_banner(fleet, T0, 30) is None


def test_platform_outage_versus_our_network():
    fleet = fleet_of(10)
    for k in range(6):
        fleet.apply_poll_error(f"I{k}", "bad_gateway", "bad gateway (502)", 1)
    assert "platform outage" in outage_banner(fleet, T0, 30)
    single = fleet_of(1)
    single.apply_poll_error("I0", "network", "network: host name does not resolve (DNS)", 1)
    assert "DNS" in outage_banner(single, T0, 30)
