"""End to end: a real Prometheus scrapes a real `wawp-tui exporter` process that polls the
simulator, and its HTTP API answers the status of every instance; the shipped alert rules,
loaded into that Prometheus, go pending for the instances they are about.

Needs Debian's `prometheus` binary (the package also provides promtool); skipped with a
message otherwise.
"""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from tests.exporter_kit import EXPECTED, ExporterProcess, fleet, write_config
from wawp_tui.simulator import Simulator

ROOT = Path(__file__).resolve().parent.parent
ALERTS = ROOT / "contrib" / "prometheus" / "alerts.yml"
PROMETHEUS = shutil.which("prometheus")
MISSING = ("prometheus not found: install Debian's prometheus package "
           "(apt-get install prometheus) or run .ci/run, which installs it")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(check, timeout: float, what: str):
    """Call `check` until it returns something truthy; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = check()
        except httpx.HTTPError as exc:
            last = exc
        else:
            if last:
                return last
        time.sleep(0.2)
    raise AssertionError(f"{what}: not within {timeout}s (last: {last!r})")


@pytest.mark.skipif(PROMETHEUS is None, reason=MISSING)
def test_a_real_prometheus_scrapes_every_instance_status(serve, tmp_path):
    started = time.monotonic()
    sims = fleet()
    url = serve(Simulator(sims)).url
    exporter = ExporterProcess(write_config(tmp_path / "config.toml", url, sims))
    port = free_port()
    config = tmp_path / "prometheus.yml"
    config.write_text(
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
        f"rule_files:\n  - {ALERTS}\n"
        "scrape_configs:\n  - job_name: wawp\n    static_configs:\n"
        f"      - targets: ['{exporter.url.removeprefix('http://')}']\n")
    prom = subprocess.Popen(
        [PROMETHEUS, f"--config.file={config}", f"--storage.tsdb.path={tmp_path / 'data'}",
         f"--web.listen-address=127.0.0.1:{port}", "--log.level=warn"],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    api = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: httpx.get(f"{api}/-/ready", timeout=2).status_code == 200, 15,
                 "prometheus ready")
        expected = {i: s for i, s in EXPECTED.items() if s is not None}

        def statuses():
            reply = httpx.get(f"{api}/api/v1/query", params={"query": "wawp_instance_status == 1"},
                              timeout=2).json()
            got = {r["metric"]["id"]: r["metric"]["status"] for r in reply["data"]["result"]}
            return got if got == expected else None

        seen = wait_for(statuses, 15, "every instance's status in Prometheus")
        assert seen == expected
        up = httpx.get(f"{api}/api/v1/query", params={"query": 'up{job="wawp"}'}).json()
        assert [r["value"][1] for r in up["data"]["result"]] == ["1"]

        def pending():
            alerts = httpx.get(f"{api}/api/v1/alerts", timeout=2).json()["data"]["alerts"]
            found = {(a["labels"]["alertname"], a["labels"].get("id")) for a in alerts}
            wanted = {("WawpInstanceFailed", "EXP000000002"),
                      ("WawpInstanceNeedsPhone", "EXP000000003"),
                      ("WawpInstanceNeedsPhone", "EXP000000005")}
            return found if wanted <= found else None

        alerts = wait_for(pending, 10, "the shipped rules pending on the live series")
        # FAILED is never mistaken for a phone problem, and the API is reachable
        assert ("WawpInstanceNeedsPhone", "EXP000000002") not in alerts
        assert not {a for a in alerts if a[0] in ("WawpApiUnreachable", "WawpExporterDown")}
    finally:
        prom.send_signal(signal.SIGTERM)
        try:
            prom.wait(timeout=10)
        except subprocess.TimeoutExpired:
            prom.kill()
            prom.wait(timeout=10)
        prom.stderr.close()
        code, _ = exporter.stop()
    assert code == 0
    assert time.monotonic() - started < 30
