"""`wawp-tui exporter` against the simulator on loopback: scraped over HTTP, parsed back
with prometheus-client's parser; sharding; restarts and actions counted; a real process
stopped with SIGTERM."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import time

import httpx
import pytest

from tests.conftest import FakeClock, make_config
from tests.exporter_kit import (
    EVIL_LABEL,
    EXPECTED,
    SECRET,
    ExporterProcess,
    current_status,
    exporter_in_loop,
    family_names,
    fleet,
    polled_all,
    port_is_free,
    samples,
    scrape,
    scrape_until,
    settled,
    value,
    write_config,
)
from wawp_tui import metrics_names
from wawp_tui.commands import exporter as exporter_cmd
from wawp_tui.commands.metrics import SERIES_PER_INSTANCE, guards, instance_labels
from wawp_tui.core import FleetState, runbook
from wawp_tui.launch import UsageError
from wawp_tui.models import STARTING, WORKING, InstanceConfig, Secret
from wawp_tui.safe_text import clean
from wawp_tui.simulator import SimInstance, Simulator


@pytest.fixture
def sim_fleet(serve):
    sims = fleet()
    sim = Simulator(sims)
    return sim, serve(sim).url, sims


def config_for(url, sims, **monitor):
    return make_config(url, sims, token=SECRET, refresh=monitor.pop("refresh", 0.5), **monitor)


async def test_every_instance_reads_its_status_and_nothing_leaks(sim_fleet):
    sim, url, sims = sim_fleet
    async with exporter_in_loop(config_for(url, sims)) as (_, base):
        started = time.perf_counter()
        text = await scrape_until(base, settled)
        found = samples(text)
        async with httpx.AsyncClient() as http:
            health = await http.get(base + "/healthz")
            missing = await http.get(base + "/nope")
            posted = await http.post(base + "/metrics")
            om = await http.get(base + "/metrics",
                                headers={"Accept": "application/openmetrics-text; version=1.0.0"})
        assert time.perf_counter() - started < 15

    # one series at 1 per instance that had a good poll, for its status; none for the other
    assert current_status(found) == {i: s for i, s in EXPECTED.items() if s is not None}
    for instance_id, status in EXPECTED.items():
        assert value(found, "wawp_instance_up", id=instance_id) == (0 if status is None else 1)
        assert value(found, "wawp_instance_stale", id=instance_id) == (1 if status is None else 0)
    broken = "EXP000000008"
    assert value(found, "wawp_instance_last_success_timestamp_seconds", id=broken) is None
    assert value(found, "wawp_instance_status_duration_seconds", id=broken) is None
    assert value(found, "wawp_instance_status_duration_seconds", id="EXP000000000") >= 0
    # fleet gauges
    assert value(found, "wawp_instances") == len(EXPECTED)
    by_status = {lab["status"]: v for n, lab, v in found if n == "wawp_instances_by_status"}
    assert set(by_status) == set(metrics_names.FLEET_STATUSES)
    assert sum(by_status.values()) == len(EXPECTED)
    assert by_status["UNREACHABLE"] == 1 and by_status["WORKING"] == 2 and by_status["UNKNOWN"] == 1
    assert value(found, "wawp_read_only") == 1 and value(found, "wawp_auto_heal_enabled") == 0
    assert value(found, "wawp_api_unreachable") == 0
    assert value(found, "wawp_outage", kind="platform") == 0
    assert value(found, "wawp_exporter_build_info", version="0.1.0") == 1
    assert value(found, "wawp_last_refresh_timestamp_seconds") > time.time() - 60
    # counters: present from the start, at 0 until something happens
    assert value(found, "wawp_polls_total", outcome="ok") >= len(EXPECTED) - 1
    assert value(found, "wawp_poll_errors_total", kind="server_error") >= 1
    assert value(found, "wawp_poll_errors_total", kind="unauthorized") == 0
    actions = [v for n, lab, v in found if n == "wawp_actions_total"]
    assert len(actions) == 5 * 4 * 5 and not any(actions)  # actions x outcomes x triggers
    assert all(value(found, "wawp_instance_restarts_total", id=i) == 0 for i in EXPECTED)
    assert value(found, "wawp_poll_duration_seconds_count") >= len(EXPECTED)
    assert value(found, "wawp_poll_duration_seconds_bucket", le="+Inf") == \
        value(found, "wawp_poll_duration_seconds_count")
    # exactly the contract (plus prometheus-client's process_* metrics), no _created series
    wawp = {n for n in family_names(text) if n.startswith("wawp_")}
    assert wawp == {m.name.removesuffix("_total") for m in metrics_names.METRICS}
    assert not [n for n, _, _ in found if n.endswith("_created")]
    assert {n for n, _, _ in found if n.startswith("wawp_")} <= metrics_names.sample_names()
    # cardinality as documented: per instance, exactly SERIES_PER_INSTANCE once polled OK
    per_id: dict[str, int] = {}
    for _n, lab, _ in found:
        if "id" in lab:
            per_id[lab["id"]] = per_id.get(lab["id"], 0) + 1
    assert per_id == {i: SERIES_PER_INSTANCE - (2 if s is None else 0) for i, s in EXPECTED.items()}
    # labels: the instance's, cleaned; never a token, even though instance 8's server
    # error echoes it back
    assert sim.calls_to("info", broken)
    assert SECRET not in text and SECRET not in om.text
    evil = {lab["label"] for n, lab, _ in found if lab.get("id") == "EXP000000007"}
    assert evil == {clean(clean(EVIL_LABEL, 100), 64)}
    assert not any(c in next(iter(evil)) for c in "\x1b\x07\n")
    assert {lab["tags"] for n, lab, _ in found if lab.get("id") == "EXP000000007"} == {"us,zz top"}
    # the other endpoints
    assert health.status_code == 200 and health.text == "ok\n"
    assert missing.status_code == 404 and posted.status_code == 405
    assert om.headers["content-type"].startswith("application/openmetrics-text")
    assert om.headers["content-encoding"] == "gzip"  # httpx accepts it, as Prometheus does
    assert om.text.rstrip().endswith("# EOF") and "_created" not in om.text


async def test_tags_shard_the_fleet_between_exporters(sim_fleet):
    sim, url, sims = sim_fleet
    config = config_for(url, sims)
    eu = {s.id for s in sims if "eu" in s.tags}
    us = {s.id for s in sims if "us" in s.tags}
    assert eu and us and not eu & us
    async with exporter_in_loop(config, tags=["eu"]) as (_, eu_url), \
            exporter_in_loop(config, tags=["us"]) as (_, us_url):
        eu_text = await scrape_until(eu_url, polled_all(eu))
        us_text = await scrape_until(us_url, polled_all(us))
    seen_eu = {lab["id"] for _, lab, _ in samples(eu_text) if "id" in lab}
    seen_us = {lab["id"] for _, lab, _ in samples(us_text) if "id" in lab}
    assert seen_eu == eu and seen_us == us
    assert value(samples(eu_text), "wawp_instances") == len(eu)
    # nothing outside the shards was polled; every good status came from the server
    answered = {lab["id"] for text in (eu_text, us_text) for n, lab, v in samples(text)
                if n == "wawp_instance_up" and v == 1}
    polled = {c["instance_id"] for c in sim.calls_to("info")}
    assert answered and answered <= polled <= eu | us


async def test_an_empty_shard_serves_zero_instances(sim_fleet):
    sim, url, sims = sim_fleet
    async with exporter_in_loop(config_for(url, sims), tags=["nowhere"]) as (exp, base):
        found = samples(await scrape(base))
        async with httpx.AsyncClient() as http:
            assert (await http.get(base + "/healthz")).status_code == 200
    assert value(found, "wawp_instances") == 0
    assert not [lab for _, lab, _ in found if "id" in lab]


async def test_restarts_seen_from_the_server_are_counted_once(serve):
    sims = [SimInstance(id="RST000000001", label="Restarted elsewhere", token=SECRET,
                        boot_seconds=60.0)]
    sim = Simulator(sims)
    url = serve(sim).url
    async with exporter_in_loop(config_for(url, sims, refresh=0.3)) as (_, base):
        await scrape_until(base, lambda f: current_status(f) == {"RST000000001": WORKING})
        sims[0].restart(time.time())  # someone else restarts it (the console, a colleague)
        text = await scrape_until(
            base, lambda f: current_status(f) == {"RST000000001": STARTING}
            and value(f, "wawp_instance_restarts_total", id="RST000000001") == 1)
        # later polls of the same STARTING are not new restarts
        polls = value(samples(text), "wawp_polls_total", outcome="ok")
        text = await scrape_until(base, lambda f: value(f, "wawp_polls_total", outcome="ok") >= polls + 2)
    assert value(samples(text), "wawp_instance_restarts_total", id="RST000000001") == 1


async def test_auto_heal_restarts_a_failed_instance_and_counts_it(serve):
    now = time.time()
    sims = [SimInstance(id="HEAL00000001", label="Failed", token=SECRET, fail_at=now - 120,
                        boot_seconds=1.0, started_at=now - 3600),
            SimInstance(id="HEAL00000002", label="Fine", token=SECRET, started_at=now - 3600)]
    sim = Simulator(sims)
    url = serve(sim).url
    async with exporter_in_loop(config_for(url, sims, refresh=0.3), auto_heal=True) as (_, base):
        text = await scrape_until(
            base, lambda f: value(f, "wawp_actions_total", action="restart", outcome="ok",
                                  trigger="auto") == 1
            and current_status(f).get("HEAL00000001") == WORKING)
    found = samples(text)
    assert len(sim.calls_to("restart", "HEAL00000001")) == 1
    assert not sim.calls_to("restart", "HEAL00000002")
    # sent by us: counted once, not again when the poll sees the STARTING it caused
    assert value(found, "wawp_instance_restarts_total", id="HEAL00000001") == 1
    assert value(found, "wawp_instance_restarts_total", id="HEAL00000002") == 0
    assert value(found, "wawp_read_only") == 0 and value(found, "wawp_auto_heal_enabled") == 1
    others = [v for n, lab, v in found if n == "wawp_actions_total"
              and (lab["action"], lab["outcome"], lab["trigger"]) != ("restart", "ok", "auto")]
    assert not any(others)


async def test_read_only_by_default_sends_nothing(serve):
    now = time.time()
    sims = [SimInstance(id="RO0000000001", label="Failed", token=SECRET, fail_at=now - 120)]
    sim = Simulator(sims)
    url = serve(sim).url
    config = config_for(url, sims, refresh=0.3, auto_heal=True)  # the config's own switch
    async with exporter_in_loop(config) as (exp, base):
        await scrape_until(base, lambda f: value(f, "wawp_polls_total", outcome="ok") >= 3)
        assert exp.monitor.read_only and not exp.monitor.auto_heal
    assert not [c for c in sim.calls if c["endpoint"] != "/v2/session/info"]


def test_guards_are_the_runbooks(clock: FakeClock):
    cfg = InstanceConfig(id="G00000000001", label="g", token=Secret("x"))
    fleet_state = FleetState([cfg], clock=clock)
    st = fleet_state.get(cfg.id)
    fleet_state.apply_poll_ok(cfg.id, WORKING, None, 10.0)

    def shown():  # what the GUARD column's countdowns say
        return {c.label.split(" ")[0] for c in runbook.countdowns(st, clock())}

    assert guards(st, clock()) == {"stabilizing": False, "loop_guard": False, "stuck": False, "needs_person": False}
    fleet_state.apply_action_sent(cfg.id, "restart")
    fleet_state.apply_action_result(cfg.id, "restart", True, "", status=STARTING)
    clock.advance(5)  # STARTING 5 s after a restart: no restart before the 15 s mark
    assert guards(st, clock()) == {"stabilizing": False, "loop_guard": True, "stuck": False, "needs_person": False}
    assert shown() == {"still"}
    clock.advance(11)
    fleet_state.apply_poll_ok(cfg.id, STARTING, None, 10.0)
    # Stuck: the one more restart the runbook allows is open; no guard holds it back.
    assert guards(st, clock()) == {"stabilizing": False, "loop_guard": False, "stuck": True, "needs_person": False}
    assert shown() == set()
    fleet_state.apply_poll_ok(cfg.id, WORKING, None, 10.0)
    assert guards(st, clock()) == {"stabilizing": True, "loop_guard": False, "stuck": False, "needs_person": False}
    assert shown() == {"stabilizing"}
    clock.advance(14)
    assert not any(guards(st, clock()).values()) and not runbook.countdowns(st, clock())


def test_instance_labels_are_clean_sorted_and_capped():
    cfg = InstanceConfig(id="L00000000001", label="x" * 300 + "\x1b[31m", token=Secret("x"),
                         tags=("zeta", "alpha", "mid\x07dle", "alpha"))
    st = FleetState([cfg], clock=time.time).get(cfg.id)
    ident, label, tags = instance_labels(st)
    assert ident == "L00000000001" and len(label) <= 64 and "\x1b" not in label
    assert tags == "alpha,mid␇dle,zeta"


@pytest.mark.parametrize("text, expected", [
    ("127.0.0.1:9877", ("127.0.0.1", 9877)),
    ("0.0.0.0:0", ("0.0.0.0", 0)),
    ("[::1]:9100", ("::1", 9100)),
    ("localhost:80", ("localhost", 80)),
])
def test_listen_addresses(text, expected):
    assert exporter_cmd.parse_listen(text) == expected


@pytest.mark.parametrize("text", ["9877", ":9877", "127.0.0.1:", "127.0.0.1:http", "1.2.3.4:70000",
                                  "::1:9877", "[nothost]:1", "a b:1", "host/x:1"])
def test_bad_listen_addresses_say_why(text):
    with pytest.raises(ValueError, match="--listen"):
        exporter_cmd.parse_listen(text)


def test_auto_heal_cannot_run_read_only():
    config = make_config("http://127.0.0.1:1", [], read_only=True)
    with pytest.raises(UsageError, match="--auto-heal"):
        exporter_cmd.exporter_config(config, [], auto_heal=True)


def run_cli(*args, env=None, timeout=30):
    import os

    return subprocess.run([sys.executable, "-m", "wawp_tui", *args], capture_output=True, text=True,
                          env={**os.environ, "WAWP_ACCESS_TOKEN": SECRET, **(env or {})},
                          timeout=timeout)


def test_a_busy_port_is_one_line_and_exit_2(tmp_path, sim_fleet):
    sim, url, sims = sim_fleet
    config = write_config(tmp_path / "config.toml", url, sims)
    import socket

    with socket.create_server(("127.0.0.1", 0)) as busy:
        port = busy.getsockname()[1]
        done = run_cli("exporter", "--config", str(config), "--listen", f"127.0.0.1:{port}")
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and f"cannot listen on 127.0.0.1:{port}" in done.stderr
    assert "Traceback" not in done.stderr
    bad = run_cli("exporter", "--config", str(config), "--listen", "nonsense")
    assert bad.returncode == 2 and "--listen wants HOST:PORT" in bad.stderr
    clash = run_cli("exporter", "--config", str(config), "--auto-heal", "--read-only")
    assert clash.returncode == 2 and "--auto-heal" in clash.stderr


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_real_process_stops_cleanly_on_a_signal(tmp_path, sim_fleet, sig):
    sim, url, sims = sim_fleet
    config = write_config(tmp_path / "config.toml", url, sims)
    proc = ExporterProcess(config)
    try:
        text = asyncio.run(scrape_until(proc.url, settled))
        assert current_status(samples(text))["EXP000000002"] == "FAILED"
        assert httpx.get(proc.url + "/healthz").text == "ok\n"
        assert "9 instances, read-only" in proc.lines[-1]
    finally:
        code, took = proc.stop(sig)
    assert code == 0, proc.lines
    assert took < 3, f"shutdown took {took:.2f}s"
    assert port_is_free(proc.port)
    assert not [line for line in proc.lines if "Traceback" in line or "rror" in line]
