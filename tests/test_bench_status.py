"""The bench's `status` measurement: a real child process over loopback, small N; the
figures come back as numbers (their size is the bench's business, not the tests')."""

from __future__ import annotations

import httpx

from wawp_tui.devtools.bench import this_tree
from wawp_tui.devtools.bench_status import run_status
from wawp_tui.devtools.harness import SimulatorProcess, child_env, fleet_file


def test_status_as_a_process_reports_wall_cpu_and_rows(tmp_path) -> None:
    with SimulatorProcess(6, 0.0) as sim:
        assert sim.url.startswith("http://127.0.0.1:")
        path = fleet_file(str(tmp_path / "fleet.toml"), sim.url, sim.configs(), 4)
        run = run_status(this_tree(), path, child_env(str(tmp_path)))
        calls = httpx.get(f"{sim.url}/_sim/stats", timeout=10).json()["api_calls"]
    assert run.rows == 6
    assert calls >= 6
    for value in (run.wall_s, run.cpu_s, run.rss_mb):
        assert isinstance(value, float) and value > 0
    assert (tmp_path / "fleet.toml").stat().st_mode & 0o077 == 0
