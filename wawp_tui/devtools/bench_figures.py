"""The bench's figures as numbers, the issue's targets, and the two ways to print them.

Every figure is a number whose unit is the end of its key (`_s`, `_ms`, `_pct`, `_mb`,
`_x`, ...), so a machine reads `--json` without parsing text; the human table spells the
unit out from the same key.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

#: Key endings and how the table spells them. A figure's key ends in one of these.
UNITS = {
    "_s": "s", "_ms": "ms", "_pct": "% of one core", "_mb": "MB", "_mb_per_h": "MB/h",
    "_x": "x", "_per_s": "/s", "_count": "", "_n": "",
}


def unit_of(key: str) -> str | None:
    """The unit suffix `key` ends in (the longest that fits), or None."""
    fits = [u for u in UNITS if key.endswith(u)]
    return max(fits, key=len) if fits else None


@dataclass(frozen=True)
class Target:
    """One target of issue 15: `figure` at most (or at least) `limit`."""

    figure: str
    limit: float
    what: str
    at_most: bool = True

    def verdict(self, value: float) -> dict[str, Any]:
        met = value <= self.limit if self.at_most else value >= self.limit
        # How far from the limit, as a share of it: positive = headroom, negative = missed.
        margin = (self.limit - value) if self.at_most else (value - self.limit)
        return {"figure": self.figure, "value": value, "limit": self.limit, "met": met,
                "margin_pct": round(100.0 * margin / self.limit, 1)}


TARGETS = (
    Target("status_2000_cpu_per_poll_ms", 1.0, "CPU per poll in `status` at 2,000 (whole process / N)"),
    Target("status_5000_wall_s", 10.0, "`status` on 5,000 at 0 ms, wall incl. start-up"),
    Target("sweep_2000_c16_vs_floor_x", 1.2, "`status` sweep as a process, 2,000, 50 ms, concurrency 16"),
    Target("sweep_2000_c64_vs_floor_x", 1.3, "`status` sweep as a process, 2,000, 50 ms, concurrency 64"),
    Target("tui_500_idle_cpu_pct", 1.5, "idle CPU at 500, refresh 5 s"),
    Target("tui_5000_idle_cpu_pct", 4.0, "idle CPU at 5,000, refresh 5 s"),
    Target("first_paint_s", 0.5, "first paint of the demo"),
    Target("tui_5000_rss_mb", 120.0, "RSS at 5,000 (peak over the run)"),
    Target("detection_500_p95_s", 30.0, "WORKING -> FAILED on screen at 500, p95, defaults"),
    Target("config_50000_load_s", 2.0, "a 50,000-instance config loads (whole process), one token_env"),
    Target("config_50000_distinct_tokens_load_s", 2.0,
           "a 50,000-instance config loads (whole process), a distinct token each"),
    Target("hub_500_vs_tui_requests_x", 1.05, "API requests/s, the hub and 20 attached TUIs vs one TUI, 500"),
    Target("hub_500_shown_20_p95_s", 1.0, "a change the hub saw, shown in all 20 attached screens, p95"),
    Target("hub_5000_webhook_shown_p95_s", 2.0, "WORKING -> FAILED shown, 5,000, webhooks on, p95"),
    Target("hub_5000_idle_cpu_pct", 5.0, "hub CPU, 5,000, 20 attached clients, idle fleet"),
    Target("attached_tui_500_idle_cpu_pct", 1.0, "an attached TUI's idle CPU, 500"),
    Target("hub_5000_fleet_ms", 50.0, "GET /api/v1/fleet at 5,000 (whole body)"),
    Target("web_tab_500_idle_cpu_pct", 1.0, "a wall page tab's process (--wall --hub) idle CPU, 500"),
    Target("web_500_tabs_vs_none_requests_x", 1.05, "API requests/s, the hub with 10 wall page tabs vs none, 500"),
    Target("web_500_webhook_shown_p95_s", 2.0, "WORKING -> FAILED on the wall page's tabs, 500, webhooks on, p95"),
    Target("web_500_polling_over_interval_max_s", 1.0,
           "WORKING -> FAILED on the wall page's tabs, 500, no webhook: beyond one steady poll interval"),
)


@dataclass
class Figures:
    """Every figure of one run, printed as a table or JSON."""

    machine: str
    transport: str
    options: dict[str, float | int]
    values: dict[str, float | int] = field(default_factory=dict)

    def put(self, key: str, value: float | int, digits: int = 3) -> None:
        if unit_of(key) is None:
            raise ValueError(f"figure {key!r} has no unit suffix")
        if isinstance(value, float):
            if not math.isfinite(value):
                raise ValueError(f"figure {key!r} is not finite: {value}")
            value = round(value, digits)
        self.values[key] = value

    def verdicts(self) -> list[dict[str, Any]]:
        return [t.verdict(self.values[t.figure]) for t in TARGETS if t.figure in self.values]

    def as_json(self) -> str:
        return json.dumps({"machine": self.machine, "transport": self.transport,
                           "options": self.options, **self.values,
                           "targets": self.verdicts()}, indent=2)

    def table(self) -> str:
        width = max((len(k) for k in self.values), default=10)
        lines = [f"wawp-tui bench on {self.machine}", f"transport: {self.transport}",
                 "options: " + ", ".join(f"{k}={v}" for k, v in self.options.items()), ""]
        for key, value in self.values.items():
            unit = UNITS[unit_of(key) or "_n"]
            lines.append(f"{key:<{width}}  {value:g} {unit}".rstrip())
        verdicts = self.verdicts()
        if verdicts:
            lines += ["", "targets:"]
            whats = {t.figure: t.what for t in TARGETS}
            for v in verdicts:
                word = "met" if v["met"] else "MISSED"
                lines.append(f"  {word:<6} {v['value']:g} vs {v['limit']:g} "
                             f"({v['margin_pct']:+g} %)  {whats[v['figure']]}")
        return "\n".join(lines)
