"""Named, seeded fleets for the simulator: same seed, same fleet."""

from __future__ import annotations

import random
import time
from collections.abc import Callable

from wawp_tui.models import FAILED, SCAN_QR_CODE, STARTING, STOPPED, WORKING
from wawp_tui.simulator.scenario_names import SCENARIOS
from wawp_tui.simulator.state import Fault, SimInstance

#: The one (fake) access token of every simulated fleet.
SIM_TOKEN = "demo-token"

_PLACES = ["EU", "US", "APAC", "UK", "MENA", "LATAM"]
_ROLES = [
    ("Support desk", "support"), ("Sales bot", "sales"), ("Clinic reminders", "health"),
    ("Order updates", "shop"), ("Delivery alerts", "logistics"), ("OTP sender", "auth"),
    ("Billing notices", "billing"), ("Booking assistant", "bookings"), ("HR announcements", "hr"),
    ("Marketing", "marketing"), ("Bank alerts", "bank"), ("School notices", "edu"),
]
_NAMES = ["Amira", "Jonas", "Priya", "Mateo", "Chen", "Lea", "Omar", "Sofia", "Ken", "Nadia"]


def _make_id(rng: random.Random) -> str:
    return "".join(rng.choice("ABCDEFGHJKLMNPQRSTUVWXYZ23456789") for _ in range(12))


def _instance(rng: random.Random, n: int, seed: int, now: float) -> SimInstance:
    role, tag = _ROLES[n % len(_ROLES)]
    place = _PLACES[(n // len(_ROLES) + n) % len(_PLACES)]
    env = "prod" if rng.random() < 0.8 else "staging"
    suffix = f" {n // (len(_ROLES) * len(_PLACES)) + 1}" if n >= len(_ROLES) * len(_PLACES) else ""
    return SimInstance(
        id=_make_id(rng),
        label=f"{role} {place}{suffix}",
        token=SIM_TOKEN,
        tags=(tag, place.lower(), env),
        push_name=f"{rng.choice(_NAMES)} ({role})",
        phone=f"20{rng.randrange(10**9, 10**10)}",
        boot_seconds=rng.uniform(2.0, 6.0),
        started_at=now - 3600,
        seed=seed,
    )


def _set(inst: SimInstance, status: str, now: float) -> None:
    if status == STARTING:
        inst.base_status, inst.started_at = STARTING, now
    elif status == SCAN_QR_CODE:
        inst.base_status, inst.logged_in = SCAN_QR_CODE, False
    elif status == FAILED:
        inst.fail_at, inst.recover_at = now - 120, None
    else:
        inst.base_status = status


def build_scenario(
    name: str, *, seed: int = 0, instances: int | None = None,
    clock: Callable[[], float] = time.time,
) -> list[SimInstance]:
    """The fleet of scenario `name` (KeyError for an unknown name)."""
    if name not in SCENARIOS:
        raise KeyError(name)
    rng = random.Random(seed)
    now = clock()
    count = instances or {"demo": 25, "healthy": 10, "fleet": 1000, "outage": 20, "hostile": 16,
                          "waha": 14}[name]
    fleet = [_instance(rng, n, seed, now) for n in range(count)]
    if name == "demo":
        _demo_mix(fleet, rng, now)
    elif name == "fleet":
        for inst in fleet:
            roll = rng.random()
            if roll < 0.01:
                _set(inst, FAILED, now)
            elif roll < 0.02:
                _set(inst, SCAN_QR_CODE, now)
            elif roll < 0.035:
                _set(inst, STOPPED, now)
            elif roll < 0.05:
                _set(inst, STARTING, now)
    elif name == "hostile":
        _hostile_mix(fleet)
    elif name == "waha":
        _waha_mix(fleet, now)
    elif name == "outage":
        for inst in fleet[: max(1, int(count * 0.8))]:
            inst.faults.append(Fault("html_502"))
    return fleet


def _demo_mix(fleet: list[SimInstance], rng: random.Random, now: float) -> None:
    """Every status and a few faults, in fixed places, so the demo tells a story."""
    plan = {
        0: (FAILED, None), 1: (FAILED, None),
        2: (SCAN_QR_CODE, None), 3: (SCAN_QR_CODE, None),
        4: (STOPPED, None), 5: (STOPPED, None),
        6: (STARTING, None), 7: (STARTING, "stuck"),
        8: (WORKING, "unknown"), 9: (WORKING, "html_502"),
        10: (WORKING, "slow"), 11: (WORKING, "rate_limit"),
        12: (WORKING, "flaky"),
    }
    order = list(range(len(fleet)))
    rng.shuffle(order)
    for slot, (status, extra) in plan.items():
        if slot >= len(order):
            break
        inst = fleet[order[slot]]
        _set(inst, status, now)
        if extra == "stuck":
            inst.stuck_starting = True
            inst.started_at = now - 20
        elif extra == "unknown":
            inst.raw_status = "PASSKEY_REQUIRED"
        elif extra == "html_502":
            inst.faults.append(Fault("html_502"))
        elif extra == "slow":
            inst.faults.append(Fault("slow", None, {"delay": 1.2}))
        elif extra == "rate_limit":
            inst.faults.append(Fault("rate_limit", None, {"retry_after": 15}))
        elif extra == "flaky":
            inst.fail_at, inst.recover_at = now + 40, now + 100
    # A few of the real engine's ways (issue 13): a session the server has unloaded (404
    # until started), a WORKING instance with no activity for two hours, a QR sent as a PNG.
    for slot, how in ((13, "unloaded"), (14, "quiet"), (3, "png_qr")):
        if slot < len(order):
            _waha_way(fleet[order[slot]], how, now)


#: One attack per instance, in order; instances past the list stay healthy neighbours.
HOSTILE_PLAN: tuple[tuple[str, str, dict], ...] = (
    ("fault", "echo_500", {"format": "json"}),
    ("fault", "echo_500", {"format": "text"}),
    ("fault", "echo_500", {"format": "html"}),
    ("fault", "hostile_error", {"text": "field [phone] is required [/]"}),
    ("fault", "hostile_error", {"text": "[@click=app.quit]press here[/]"}),
    ("fault", "hostile_error", {"text": "\x1b]0;pwned\x07\x1b[2J\x1b]52;c;cHduZWQ=\x07 boom"}),
    ("set", "raw_status", {"value": "WORKING\x1b[2J\x1b]0;owned\x07"}),
    ("set", "push_name", {"value": "Eve \x1b]52;c;ZXZpbA==\x07[b]bold[/b]"}),
    ("qr", "qr_value", {"value": "2@" + "A" * 4998}),
    ("fault", "gzip_bomb", {}),
    ("fault", "huge_body", {}),
    ("fault", "deep_json", {}),
)


def _hostile_mix(fleet: list[SimInstance]) -> None:
    for inst, (how, what, params) in zip(fleet, HOSTILE_PLAN):
        inst.label = f"{what} {params.get('format', '')}".strip()
        if how == "fault":
            inst.faults.append(Fault(what, None, dict(params)))
        elif how == "set":
            setattr(inst, what, params["value"])
        elif how == "qr":
            inst.base_status, inst.logged_in = SCAN_QR_CODE, False
            inst.qr_value = params["value"]


def _waha_way(inst: SimInstance, how: str, now: float) -> None:
    """Make one instance answer in one of the real engine's ways."""
    inst.flavour = "waha"
    if how == "unloaded":
        inst.loaded = False
    elif how == "quiet":
        inst.quiet_since = now - 2 * 3600
    elif how == "png_qr":
        inst.qr_form = "image"


#: The waha scenario, one way per instance; instances past the list are plain WAHA sessions.
WAHA_PLAN: tuple[tuple[str, object], ...] = (
    ("unloaded", None),
    ("raw_status", "PASSKEY_REQUIRED"),
    ("raw_status", "PASSKEY_CONFIRMATION_REQUIRED"),
    ("scan", "image"),
    ("scan_late", "raw"),
    ("status", FAILED),
    ("quiet", None),
    ("fault", "invalid_session"),
    ("fault", "status_error"),
    ("fault", "success_false"),
    ("gone", None),
)


def _waha_mix(fleet: list[SimInstance], now: float) -> None:
    for inst in fleet:
        inst.flavour = "waha"
    for inst, (how, what) in zip(fleet, WAHA_PLAN):
        inst.label = f"waha {how} {what or ''}".strip()
        if how == "unloaded":
            inst.loaded = False
        elif how == "raw_status":
            inst.raw_status = str(what)
        elif how in ("scan", "scan_late"):
            inst.base_status, inst.logged_in, inst.qr_form = SCAN_QR_CODE, False, str(what)
            # scan_late: five codes have gone by; the last one is live for 10 more seconds.
            inst.scan_since = now if how == "scan" else now - 150
        elif how == "status":
            _set(inst, str(what), now)
        elif how == "quiet":
            inst.quiet_since = now - 2 * 3600
        elif how == "fault":
            inst.faults.append(Fault("error_envelope", None, {"shape": str(what)}))
        elif how == "gone":
            inst.faults.append(Fault("gone"))
