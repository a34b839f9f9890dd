"""`wawp-tui status`: one concurrent poll of the fleet, printed as a table or JSON."""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import dataclass
from typing import Any, TextIO

from wawp_tui import runbook
from wawp_tui.api import WawpClient
from wawp_tui.fleet import FleetState
from wawp_tui.models import UNREACHABLE, WORKING, InstanceConfig
from wawp_tui.poller import Poller


@dataclass(frozen=True)
class StatusRow:
    """One instance's line of the report (the keys of `status --json`)."""

    id: str
    label: str
    status: str
    error: str | None
    latency_ms: float | None
    me: dict[str, Any] | None
    tags: tuple[str, ...]

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "label": self.label,
            "status": self.status,
            "error": self.error,
            "latency_ms": None if self.latency_ms is None else round(self.latency_ms, 1),
            "me": self.me,
            "tags": list(self.tags),
        }


async def collect(
    client: WawpClient, instances: tuple[InstanceConfig, ...], concurrency: int = 32
) -> list[StatusRow]:
    """Poll every instance once; rows come back in config order."""
    fleet = FleetState(instances, clock=time.time)
    poller = Poller(client, fleet, instances, concurrency=concurrency)
    await poller.sweep()
    rows = []
    for cfg in instances:
        st = fleet.get(cfg.id)
        status = UNREACHABLE if st.failures else (st.status or UNREACHABLE)
        rows.append(
            StatusRow(
                id=cfg.id,
                label=cfg.label,
                status=status,
                error=st.last_error,
                latency_ms=st.latency_ms,
                me=st.me,
                tags=tuple(cfg.tags),
            )
        )
    return rows


def exit_code(rows: list[StatusRow]) -> int:
    """0 when every instance is WORKING, 1 otherwise."""
    return 0 if rows and all(r.status == WORKING for r in rows) else 1


def write_json(rows: list[StatusRow], out: TextIO) -> None:
    """A JSON array, one object per configured instance, in config order."""
    json.dump([r.as_json() for r in rows], out, indent=2, ensure_ascii=False)
    out.write("\n")


def write_table(rows: list[StatusRow], out: TextIO, width: int | None = None) -> None:
    """A plain-text table that reads without colour (symbol + word), worst first."""
    width = width or shutil.get_terminal_size((100, 24)).columns
    order = sorted(rows, key=lambda r: runbook.word_rank(r.status))
    label_w = max([5] + [len(r.label) for r in rows])
    label_w = min(label_w, 28)
    id_w = max([2] + [len(r.id) for r in rows])
    badge_w = max([14] + [len(" ".join(runbook.badge(r.status))) for r in rows])
    head = f"{'STATUS':<{badge_w}} {'LABEL':<{label_w}} {'ID':<{id_w}} {'LATENCY':>8}  DETAIL"
    out.write(head[:width].rstrip() + "\n")
    for r in order:
        symbol, word = runbook.badge(r.status)
        badge = f"{symbol} {word}"
        latency = "-" if r.latency_ms is None else f"{r.latency_ms:.0f}ms"
        detail = r.error or _me_line(r.me)
        label = r.label if len(r.label) <= label_w else r.label[: label_w - 1] + "…"
        line = f"{badge:<{badge_w}} {label:<{label_w}} {r.id:<{id_w}} {latency:>8}  {detail}"
        out.write(line[:width].rstrip() + "\n")
    counts: dict[str, int] = {}
    for r in rows:
        counts[r.status] = counts.get(r.status, 0) + 1
    summary = ", ".join(f"{n} {w}" for w, n in sorted(counts.items(), key=lambda kv: runbook.word_rank(kv[0])))
    out.write(f"\n{len(rows)} instances: {summary}\n")


def _me_line(me: dict[str, Any] | None) -> str:
    if not me:
        return ""
    name = me.get("pushName") or ""
    number = str(me.get("id", "")).split("@")[0]
    return " ".join(p for p in (name, f"+{number}" if number else "") if p)
