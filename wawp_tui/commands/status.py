"""`wawp-tui status`: one concurrent poll of the fleet, printed as a table or JSON.

An overall deadline bounds the run: a fleet of hanging instances is reported, with the
ones it could not finish marked NOT_POLLED, instead of holding the terminal for minutes.
Every field crosses the text boundary again on its way out.
"""

from __future__ import annotations

import asyncio
import json
import shutil
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TextIO

from wawp_tui.client.api import WawpClient
from wawp_tui.commands.output import symbols_fit
from wawp_tui.config import Config
from wawp_tui.core import FleetMonitor, Monitor, runbook
from wawp_tui.launch import UsageError
from wawp_tui.models import STOPPED, UNREACHABLE, WORKING
from wawp_tui.safe_text import clean, clean_data, clean_word
from wawp_tui.text_cells import cell_width, cut, fit, pad_left
from wawp_tui.vocab import ErrorKind, ExitCode, plural

if TYPE_CHECKING:
    from wawp_tui.hub.link import HubLink

#: The word for an instance whose poll had not finished when the deadline came.
NOT_POLLED = "NOT_POLLED"


def default_deadline(timeout: float, connect_timeout: float) -> float:
    """Seconds a whole `status` run may take by default: long enough for a big, slow
    fleet, short enough that hanging instances cannot hold a terminal for minutes."""
    return max(30.0, 2 * (timeout + connect_timeout))


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
    #: What its schedule means now ("running" or "stopped"), None when it has none.
    meant: str | None = None
    #: "scheduled until Mon 09:00" for a STOPPED as meant (said in the table).
    schedule_note: str | None = None
    #: When the hub's idle hibernation stops it (Unix seconds; only through a hub that
    #: hibernates, `--hub`), None when it does not.
    hibernates_at: float | None = None

    @property
    def well(self) -> bool:
        """WORKING, or STOPPED as its schedule means: nothing to fix."""
        return self.status == WORKING or (self.status == STOPPED and self.meant == "stopped")

    def as_json(self) -> dict[str, Any]:
        return {
            "id": clean(self.id, 64),
            "label": clean(self.label),
            "status": clean_word(self.status),
            "error": clean(self.error) if self.error is not None else None,
            "latency_ms": None if self.latency_ms is None else round(self.latency_ms, 1),
            "me": clean_data(self.me) if self.me is not None else None,
            "tags": [clean(t, 40) for t in self.tags],
            "meant": self.meant,
            "hibernates_at": None if self.hibernates_at is None else round(self.hibernates_at),
        }


async def collect(monitor: FleetMonitor, deadline: float | None = None) -> list[StatusRow]:
    """Poll every instance once (attached to a hub: its fleet as it knows it now), within
    `deadline` seconds; rows come back in config order."""
    unfinished = await monitor.refresh(deadline=deadline)
    limit = f"{deadline:g}s " if deadline is not None else ""
    rows = []
    for st in list(monitor.fleet):
        error: str | None
        if st.error_kind == ErrorKind.CONFIG:
            status, error = NOT_POLLED, f"not polled: {st.last_error}"
        elif st.id in unfinished:
            status = NOT_POLLED
            error = f"not polled: the {limit}deadline passed first (raise it with --deadline)"
        else:
            status = UNREACHABLE if st.failures else (st.status or UNREACHABLE)
            error = st.last_error
        plan = runbook.meant(st, monitor.clock())
        note = runbook.scheduled_text(st, monitor.clock())
        if note is None and runbook.hibernated(st):
            note = runbook.hibernation_line(st, monitor.clock(), monitor.hibernate_after) or "hibernated"
        rows.append(StatusRow(id=st.id, label=st.label, status=status, error=error,
                              latency_ms=None if st.id in unfinished else st.latency_ms,
                              me=st.me, tags=st.tags,
                              meant=None if plan is None else ("running" if plan.running else "stopped"),
                              schedule_note=note,
                              hibernates_at=runbook.hibernates_at(st, monitor.hibernate_after)))
    return rows


def run(config: Config, client: WawpClient, *, as_json: bool, deadline: float | None,
        out: TextIO) -> int:
    """`wawp-tui status`: poll, print, and the exit code (0 only when all are WORKING)."""
    if deadline is None:
        deadline = default_deadline(config.api.timeout, config.api.connect_timeout)

    async def poll() -> list[StatusRow]:
        async with client:
            return await collect(Monitor(config, client), deadline)

    rows = asyncio.run(poll())
    if as_json:
        write_json(rows, out, proxy=config.api.via.shown if config.api.via else None)
    else:
        write_table(rows, out)
    return exit_code(rows)


def run_attached(link: HubLink, config: Config, *, as_json: bool, deadline: float | None,
                 out: TextIO) -> int:
    """`wawp-tui status --hub URL`: the hub's fleet as it knows it now (no poll of Wawp
    from here), printed as `status` prints it; exit 2 when the hub cannot be read."""
    from wawp_tui.hub.attach import AttachedMonitor

    async def read() -> tuple[list[StatusRow], str | None]:
        monitor = AttachedMonitor(link, config)
        try:
            rows = await collect(monitor, deadline or 30.0)
            return rows, monitor.trouble
        finally:
            await monitor.close()

    rows, problem = asyncio.run(read())
    if problem is not None:
        raise UsageError(f"status: {problem}")
    if as_json:
        write_json(rows, out)
    else:
        write_table(rows, out)
    return exit_code(rows)


def exit_code(rows: list[StatusRow]) -> int:
    """0 when every instance is WORKING (or STOPPED as its schedule means), 1 otherwise."""
    well = rows and all(r.well for r in rows)
    return ExitCode.OK if well else ExitCode.NOT_ALL_WELL


def write_json(rows: list[StatusRow], out: TextIO, proxy: str | None = None) -> None:
    """A JSON array, one object per configured instance, in config order: one object a
    line (json's C encoder; with `indent` it falls back to Python, 5x slower). `proxy`:
    the proxy the polls went through (without credentials), in every object, or null."""
    lines = ["  " + json.dumps({**r.as_json(), "proxy": proxy}, ensure_ascii=False) for r in rows]
    out.write("[\n" + ",\n".join(lines) + "\n]\n" if lines else "[]\n")


def _is_tty(out: TextIO) -> bool:
    try:
        return out.isatty()
    except (AttributeError, ValueError):
        return False


#: The table's symbols where the output's encoding cannot carry them (PYTHONIOENCODING=ascii,
#: a C locale), as NO_COLOR falls back for colour: the word beside each stays.
ASCII_SYMBOLS = {"✓": "[OK]", "✗": "[FAIL]", "◐": "[..]", "▣": "[QR]", "■": "[--]", "·": "-"}


def write_table(rows: list[StatusRow], out: TextIO, width: int | None = None) -> None:
    """A plain-text table that reads without colour (symbol + word), worst first.

    Columns are measured in terminal cells (a CJK label takes two per character, a
    combining accent none). Lines are cut to the terminal's width only on a terminal:
    piped into a file or a cron mail, every error is kept whole."""
    if width is None:
        width = shutil.get_terminal_size((100, 24)).columns if _is_tty(out) else 1_000_000
    ascii_only = not symbols_fit(out)
    order = sorted(rows, key=lambda r: runbook.word_rank(r.status))
    labels = {id(r): clean(r.label, 200) for r in rows}
    label_w = min(28, max([5] + [cell_width(label) for label in labels.values()]))
    id_w = max([2] + [cell_width(clean(r.id, 64)) for r in rows])
    badges = {id(r): _badge(r.status, ascii_only) for r in rows}
    badge_w = max([14] + [cell_width(b) for b in badges.values()])
    head = f"{fit('STATUS', badge_w)} {fit('LABEL', label_w)} {fit('ID', id_w)} {'LATENCY':>8}  DETAIL"
    out.write(cut(head, width).rstrip() + "\n")
    for r in order:
        try:
            latency = "-" if r.latency_ms is None else f"{r.latency_ms:.0f}ms"
            detail = clean(r.error or r.schedule_note or _me_line(r.me))
            line = (f"{fit(badges[id(r)], badge_w)} {fit(labels[id(r)], label_w)} "
                    f"{fit(clean(r.id, 64), id_w)} {pad_left(latency, 8)}  {detail}")
        except Exception as exc:  # noqa: BLE001 - one odd instance costs its own row, never the report
            line = f"{fit('? ERROR', badge_w)} {fit(clean(r.label, label_w), label_w)} " \
                   f"{fit(clean(r.id, 64), id_w)} {'-':>8}  this row could not be printed " \
                   f"({type(exc).__name__})"
        out.write(cut(line, width).rstrip() + "\n")
    counts: dict[str, int] = {}
    for r in rows:
        counts[r.status] = counts.get(r.status, 0) + 1
    summary = ", ".join(f"{n} {clean_word(w)}"
                        for w, n in sorted(counts.items(), key=lambda kv: runbook.word_rank(kv[0])))
    out.write(f"\n{plural(len(rows), 'instance')}: {summary}\n")


def _badge(status: str, ascii_only: bool) -> str:
    symbol, word = runbook.badge(clean_word(status))
    if ascii_only:
        symbol = ASCII_SYMBOLS.get(symbol, symbol)
    return f"{symbol} {word}"


def _me_line(me: object) -> str:
    """"Name +number" from the account object, whatever types the server put in it."""
    if not isinstance(me, dict):
        return ""
    name = _scalar(me.get("pushName"))
    number = _scalar(me.get("id")).split("@")[0]
    return " ".join(p for p in (name, f"+{number}" if number else "") if p)


def _scalar(value: object) -> str:
    """A field from outside as one clean line: strings and numbers are shown, anything
    else (a list, an object, null) is left out rather than printed as Python's repr."""
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        return ""
    return clean(value, 80)
