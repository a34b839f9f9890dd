"""The bench's `status` measurement: a real child process over loopback, small N; the
figures come back as numbers (their size is the bench's business, not the tests')."""

from __future__ import annotations

import httpx
import pytest

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


def test_config_load_is_timed_as_a_whole_process_for_both_shapes(tmp_path) -> None:
    """The big-config figure: a real child reads every entry (both token shapes) and
    exits 0 having planned one instance; the figures come back as numbers."""
    from wawp_tui.devtools import bench_config

    figures = bench_config.load_figures(this_tree(), str(tmp_path), child_env(str(tmp_path)),
                                        instances=30, repeats=1)
    assert set(figures) == {"config_30_load_s", "config_30_rss_mb",
                            "config_30_distinct_tokens_load_s", "config_30_distinct_tokens_rss_mb"}
    assert all(isinstance(v, float) and v > 0 for v in figures.values())
    written = (tmp_path / "config-distinct_tokens_30.toml")
    assert written.stat().st_mode & 0o077 == 0
    assert written.read_text().count("[[instances]]") == 30
    # A config the child refuses is a failed measurement, not a fast one.
    written.write_text("[[instances]]\nid = 7\n")
    with pytest.raises(RuntimeError, match="config load"):
        bench_config.load_once(this_tree(), str(written), child_env(str(tmp_path)))


def test_a_wawp_tui_folder_in_the_current_directory_is_not_what_gets_measured(tmp_path, monkeypatch):
    """Run from another checkout, the measured child must still be the product asked for
    (the bench once ran the current folder's code under the baseline's interpreter)."""
    from wawp_tui.devtools.bench_status import run_child

    decoy = tmp_path / "wawp_tui"
    decoy.mkdir()
    (decoy / "__init__.py").write_text("")
    (decoy / "__main__.py").write_text("print('decoy')\n")
    monkeypatch.chdir(tmp_path)
    run = run_child(this_tree(), ["--help"], child_env(str(tmp_path)))
    assert run.code == 0
    assert b"decoy" not in run.out and b"usage" in run.out.lower()
