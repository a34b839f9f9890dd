"""`wawp-tui bench --json`: numbers only, the unit in every key's name (no timing here)."""

from __future__ import annotations

import json
import math

import pytest

from wawp_tui.devtools.bench_figures import TARGETS, UNITS, Figures, unit_of


def _figures() -> Figures:
    fig = Figures("test machine", "test transport", {"instances": 20, "latency_ms": 50.0})
    fig.put("status_2000_cpu_per_poll_ms", 0.8123456)
    fig.put("sweep_2000_c16_vs_floor_x", 1.31)
    fig.put("tui_500_rss_mb", 71.25)
    fig.put("detection_500_missed_count", 0)
    return fig


def test_json_holds_numbers_with_units_in_the_key_names() -> None:
    data = json.loads(_figures().as_json())
    assert isinstance(data["machine"], str) and isinstance(data["transport"], str)
    assert all(isinstance(v, (int, float)) for v in data["options"].values())
    figures = {k: v for k, v in data.items() if k not in ("machine", "transport", "options", "targets")}
    assert figures, "no figures"
    for key, value in figures.items():
        assert unit_of(key) in UNITS, key
        assert isinstance(value, (int, float)) and not isinstance(value, bool), key
        assert math.isfinite(value), key
    assert data["status_2000_cpu_per_poll_ms"] == 0.812


def test_targets_say_met_or_missed_by_how_much() -> None:
    data = json.loads(_figures().as_json())
    verdicts = {t["figure"]: t for t in data["targets"]}
    assert verdicts["status_2000_cpu_per_poll_ms"]["met"] is True
    assert verdicts["status_2000_cpu_per_poll_ms"]["margin_pct"] == pytest.approx(18.8)
    missed = verdicts["sweep_2000_c16_vs_floor_x"]
    assert missed["met"] is False and missed["margin_pct"] < 0
    # Targets whose figure was not measured (other sizes) are left out, not guessed.
    assert "first_paint_s" not in verdicts
    assert all(unit_of(t.figure) for t in TARGETS)


def test_a_figure_without_a_unit_or_not_finite_is_refused() -> None:
    fig = _figures()
    with pytest.raises(ValueError):
        fig.put("sweep", 1.0)
    with pytest.raises(ValueError):
        fig.put("sweep_s", float("nan"))


def test_the_table_spells_the_units_out() -> None:
    table = _figures().table()
    assert "0.812 ms" in table and "71.25 MB" in table
    assert "MISSED" in table and "met" in table
