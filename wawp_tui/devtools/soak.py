"""`wawp-tui bench --soak MINUTES`: the app left running against a hostile server.

The simulator runs in a child process on 127.0.0.1; the real app runs here, headless,
polling every instance, while a chaos loop keeps injecting faults (every kind the
simulator knows), changing statuses behind the app's back, and once takes the whole
server down and brings it back. At the end the faults are cleared and the app must
agree with the simulator on every instance. Reported: memory at start and end, the
faults tried, crashes, token leaks, detection and recovery times, final mismatches.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from wawp_tui.children import stop_on_signals
from wawp_tui.core import client_for, runbook
from wawp_tui.devtools.harness import SimulatorProcess, bench_config, machine
from wawp_tui.simulator import SIM_TOKEN
from wawp_tui.ui.widgets.event_log import EventLog

#: Faults the chaos loop injects, with their parameters (count is chosen per event).
CHAOS_FAULTS: tuple[tuple[str, dict[str, Any]], ...] = (
    ("html_502", {}), ("html_500", {}), ("xml_400", {}), ("text_500", {}),
    ("malformed_json", {}), ("empty_200", {}), ("rate_limit", {"retry_after": 5}),
    ("slow", {"delay": 2.0}), ("drop", {}), ("hang", {}), ("unknown_status", {}),
    ("unauthorized", {}), ("forbidden", {}), ("not_found", {}),
)
#: Seconds the server stays down in the middle of the soak.
OUTAGE_SECONDS = 20.0
#: Seconds allowed, beyond the longest poll interval, for the app to agree with the
#: simulator once the chaos stops (a change made behind its back shows at the next poll).
SETTLE_MARGIN = 30.0


@dataclass
class SoakReport:
    minutes: float
    instances: int
    events: Counter = field(default_factory=Counter)
    values: dict[str, Any] = field(default_factory=dict)
    mismatches: list[str] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return (not self.mismatches and self.values.get("crashes") == 0
                and self.values.get("token_leaks") == 0)

    def table(self) -> str:
        lines = [f"wawp-tui soak on {machine()}",
                 f"{self.instances} instances, {self.minutes:g} min", ""]
        width = max(len(k) for k in self.values)
        lines += [f"{k:<{width}}  {v}" for k, v in self.values.items()]
        lines.append(f"{'faults_tried':<{width}}  "
                     + ", ".join(f"{k} {v}" for k, v in sorted(self.events.items())))
        lines.append(f"{'result':<{width}}  " + ("CLEAN" if self.clean else "NOT CLEAN"))
        lines += [f"  mismatch: {m}" for m in self.mismatches[:20]]
        return "\n".join(lines)


def _rss_mb() -> float:
    """Resident memory now (not the peak), from /proc."""
    with open("/proc/self/statm", encoding="utf-8") as handle:
        pages = int(handle.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def run_soak(minutes: float, instances: int, seed: int = 0) -> SoakReport:
    report = SoakReport(minutes, instances)
    sim = SimulatorProcess(instances, latency_ms=20.0)
    try:
        asyncio.run(_soak(sim, report, minutes * 60.0, random.Random(seed)))
    finally:
        sim.stop()
    return report


async def _soak(sim: SimulatorProcess, report: SoakReport, seconds: float, rng: random.Random) -> None:
    from wawp_tui.core import AuditLog
    from wawp_tui.ui.app import build_app

    folder = Path(tempfile.mkdtemp(prefix="wawp-soak-"))
    # Auto-heal on: it is an entry point of the fault matrix, and it must not turn the
    # chaos into a restart storm.
    config = bench_config(sim.url, sim.configs(), 16, timeout=5.0, auto_heal=True)
    client = client_for(config)
    audit_path = folder / "audit.jsonl"
    app = build_app(config, client, audit=AuditLog(audit_path), poll=True)
    v = report.values
    crashed: list[str] = []
    try:
        async with app.run_test(size=(160, 48)):
            await _until(lambda: all(st.status or st.failures for st in app.monitor.fleet), 120)
            v["rss_start_mb"] = round(_rss_mb(), 1)
            v["detect_hang_s"] = await _detect_hang(app, sim, rng)
            chaos_for = max(0.0, seconds - OUTAGE_SECONDS - 60.0)
            samples = [v["rss_start_mb"]]
            async with httpx.AsyncClient(base_url=sim.url, timeout=10) as control:
                await _chaos(control, app, report, rng, chaos_for / 2, samples)
                down, back = await _outage(sim, app)
                v["outage_banner_after_s"] = down
                v["recovered_after_server_back_s"] = back
                await _chaos(control, app, report, rng, chaos_for / 2, samples)
                await control.post("/_sim/clear", json={})
                settled = await _settle(app, control, report)
            v["settled_after_clear_s"] = settled
            v["rss_end_mb"] = round(_rss_mb(), 1)
            v["rss_max_mb"] = round(max(samples + [v["rss_end_mb"]]), 1)
            # One sample a minute: a plateau is warm-up, a steady climb is a leak.
            v["rss_by_minute_mb"] = " ".join(f"{m:.0f}" for m in samples)
            v["rss_drift_mb"] = round(v["rss_end_mb"] - v["rss_start_mb"], 1)
            v["history_max_entries"] = max(len(st.history) for st in app.monitor.fleet)
            screen = app.export_screenshot()
            log_text = "\n".join(app.fleet_screen.query_one(EventLog).plain_lines)
    except Exception as exc:  # noqa: BLE001 - the figure we report, not a traceback
        import traceback

        where = traceback.extract_tb(exc.__traceback__)[-1]
        crashed.append(f"{type(exc).__name__}: {exc} (at {where.filename}:{where.lineno})")
        screen = log_text = ""
    await client.aclose()
    _account(report, crashed, audit_path, screen, log_text)


def _account(report: SoakReport, crashed: list[str], audit_path: Path, screen: str, log_text: str) -> None:
    """Crashes, token leaks anywhere the user could see or keep one, auto-heal's actions."""
    v = report.values
    v["crashes"] = len(crashed)
    if crashed:
        report.mismatches.append(f"app crashed: {crashed[0]}")
    audit_text = audit_path.read_text("utf-8") if audit_path.exists() else ""
    v["token_leaks"] = sum(SIM_TOKEN in text for text in (screen, log_text, audit_text))
    auto = Counter(r.get("outcome") for r in map(json.loads, audit_text.splitlines()) if r.get("auto"))
    v["auto_heal_actions"] = ", ".join(f"{k} {n}" for k, n in sorted(auto.items())) or "none"


async def _until(predicate, limit: float) -> float:
    """Seconds until `predicate()` holds (checked twice a second), or raise after `limit`."""
    started = time.monotonic()
    while not predicate():
        if time.monotonic() - started > limit:
            raise TimeoutError(f"condition not met within {limit:g} s")
        await asyncio.sleep(0.5)
    return round(time.monotonic() - started, 1)


async def _detect_hang(app, sim: SimulatorProcess, rng: random.Random) -> float:
    """A healthy instance stops answering: seconds until the app shows it is not fine."""
    target = rng.choice([st.id for st in app.monitor.fleet if st.status == "WORKING" and not st.failures])
    async with httpx.AsyncClient(base_url=sim.url, timeout=10) as control:
        await control.post("/_sim/fault", json={"instance_id": target, "kind": "hang"})
        try:
            # Not fine: its polls fail (the row keeps WORKING, marked with its age), or
            # it shows another word.
            return await _until(lambda: app.monitor.fleet.get(target).failures > 0 or runbook.display_status(
                app.monitor.fleet.get(target), time.time(), app.monitor.stale_basis) != "WORKING", 180)
        finally:
            await control.post("/_sim/clear", json={"instance_id": target})


async def _chaos(control: httpx.AsyncClient, app, report: SoakReport, rng: random.Random,
                 seconds: float, samples: list[float]) -> None:
    ids = list(app.monitor.fleet.instances)
    deadline = time.monotonic() + seconds
    next_sample = time.monotonic() + 60
    while time.monotonic() < deadline:
        target = rng.choice(ids)
        roll = rng.random()
        if roll < 0.7:
            kind, params = rng.choice(CHAOS_FAULTS)
            await control.post("/_sim/fault", json={"instance_id": target, "kind": kind,
                                                    "count": rng.randint(1, 3), **params})
            report.events[kind] += 1
        else:
            # Someone acting from the dashboard, behind the app's back.
            action = rng.choice(("stop", "start", "restart"))
            try:
                await control.post(f"/v2/session/{action}",
                                   json={"instance_id": target, "access_token": SIM_TOKEN})
            except httpx.HTTPError:
                # The faults injected for that instance hit this "dashboard" call too.
                report.events["external_action_lost"] += 1
            report.events[f"external_{action}"] += 1
        if time.monotonic() >= next_sample:
            samples.append(_rss_mb())
            next_sample += 60
        await asyncio.sleep(0.5)


async def _outage(sim: SimulatorProcess, app) -> tuple[float, float]:
    """Take the server down, then back up on the same port: detection and recovery."""
    sim.kill()
    banner = await _until(lambda: app.fleet_screen.query_one("#banner").display, 180)
    await asyncio.sleep(max(0.0, OUTAGE_SECONDS - banner))
    await asyncio.to_thread(sim.restart)
    back = await _until(lambda: sum(1 for st in app.monitor.fleet if st.error_kind == "network"
                                    and st.failures) == 0, 180)
    return banner, back


async def _settle(app, control: httpx.AsyncClient, report: SoakReport) -> float | str:
    """After the faults are cleared: seconds until every row matches the simulator."""
    started = time.monotonic()
    # Jitter stretches an interval by 10 % at most; failing rows back off up to the cap.
    limit = 1.1 * max(app.monitor.stale_basis, runbook.BACKOFF_CAP) + SETTLE_MARGIN
    truth: dict[str, str] = {}
    while time.monotonic() - started < limit:
        truth = {row["id"]: row["status"] for row in (await control.get("/_sim/state")).json()}
        if all(_agrees(app.monitor.fleet.get(i), truth[i]) for i in truth):
            return round(time.monotonic() - started, 1)
        await asyncio.sleep(1.0)
    for instance_id, status in truth.items():
        st = app.monitor.fleet.get(instance_id)
        if not _agrees(st, status):
            report.mismatches.append(f"{instance_id}: app {st.status} ({st.last_error}), "
                                     f"server {status}")
    return f"not within {limit:.0f} s"


def _agrees(state, server_status: str) -> bool:
    return state.failures == 0 and state.status == server_status


def main(minutes: float, instances: int, as_json: bool) -> int:
    with stop_on_signals():
        report = run_soak(minutes, instances)
    if as_json:
        print(json.dumps({"machine": machine(), "instances": instances, "minutes": minutes,
                          **report.values, "faults_tried": dict(report.events),
                          "mismatches": report.mismatches, "clean": report.clean}, indent=2))
    else:
        print(report.table())
    return 0 if report.clean else 1
