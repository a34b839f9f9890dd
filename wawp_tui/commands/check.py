"""`wawp-tui check`: a Nagios / Icinga plugin for the fleet (or the instances of a tag).

One poll of every instance through the Monitor, bounded by the same deadline as
`status`, then ONE line on stdout and the plugin's exit code:

    WAWP WARNING - 1 of 12 instances need attention (warning at 1, critical at 2): FAILED:
    Support desk EU | 'working'=11;;;0;12 ... 'problems'=1;0;1;0;12     (all on one line)

What counts as a problem (the number the thresholds compare):
FAILED, SCAN_QR_CODE and PASSKEY_* (a person must use the phone), unreachable (the poll
failed: 5xx, 401, 429, timeout, or not polled before the deadline), not found (404:
deleted, wrong id or session not loaded) and a status word this version does not know.
Not problems: WORKING, STARTING (it moves on by itself; a one-shot check cannot know for
how long it has been starting) and STOPPED (stopped on purpose is common; the Prometheus
rules alert on STOPPED for 12 h instead).

States: CRITICAL when problems >= --critical, else WARNING when problems >= --warning,
else OK. UNKNOWN (3) when the check cannot judge: a usage or config error, no instance
after --tag, or the API unreachable for every instance (network errors and timeouts
only: a server that answers 5xx for everyone is a CRITICAL, not an unknown).
"""

from __future__ import annotations

import asyncio
import dataclasses
import math
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, TextIO

from wawp_tui.client.api import WawpClient
from wawp_tui.commands.scope import describe_tags, only_tagged
from wawp_tui.commands.status import NOT_POLLED, StatusRow, collect, default_deadline
from wawp_tui.config import Config
from wawp_tui.core import Monitor

if TYPE_CHECKING:
    from wawp_tui.hub.link import HubLink
from wawp_tui.models import (
    FAILED,
    PASSKEY_CONFIRMATION_REQUIRED,
    PASSKEY_REQUIRED,
    SCAN_QR_CODE,
    STARTING,
    STOPPED,
    UNREACHABLE,
    WORKING,
)
from wawp_tui.safe_text import clean
from wawp_tui.vocab import NETWORK_KINDS, ErrorKind, NagiosState

DEFAULT_WARNING = "1"
DEFAULT_CRITICAL = "10%"
#: The perfdata labels, in the order written; each counts instances.
CATEGORIES: tuple[str, ...] = ("working", "starting", "stopped", "scan_qr", "passkey", "failed",
                               "unreachable", "not_found", "unknown")
#: The categories the thresholds count.
PROBLEMS: frozenset[str] = frozenset({"failed", "scan_qr", "passkey", "unreachable", "not_found",
                                      "unknown"})
#: How each category reads in the status line.
_WORDS = {"working": "WORKING", "starting": "STARTING", "stopped": "STOPPED",
          "scan_qr": "SCAN_QR_CODE", "passkey": "PASSKEY", "failed": "FAILED",
          "unreachable": "unreachable", "not_found": "not found", "unknown": "unknown status"}
_BY_STATUS = {WORKING: "working", STARTING: "starting", STOPPED: "stopped", FAILED: "failed",
              SCAN_QR_CODE: "scan_qr", PASSKEY_REQUIRED: "passkey",
              PASSKEY_CONFIRMATION_REQUIRED: "passkey"}
#: Instances named in the status line before "+N more".
NAMED = 5
_THRESHOLD = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(%?)\s*$")


@dataclass(frozen=True)
class Threshold:
    """--warning / --critical: a count of problem instances, or a percentage of the fleet."""

    value: float
    percent: bool

    def count(self, total: int) -> int:
        """The smallest number of problems that reaches the threshold in a fleet of `total`
        (a percentage rounds up, and is never less than one instance)."""
        if self.percent:
            return max(1, math.ceil(self.value * total / 100.0 - 1e-9))
        return int(self.value)

    def __str__(self) -> str:
        return f"{self.value:g}%" if self.percent else f"{self.value:g}"


def parse_threshold(text: str, option: str) -> Threshold:
    """"3" or "10%"; ValueError with a one-line reason otherwise."""
    m = _THRESHOLD.match(text or "")
    if m is None:
        raise ValueError(f"{option} wants a count (e.g. 2) or a percentage of the fleet "
                         f"(e.g. 10%), got {text!r}")
    value, percent = float(m.group(1)), bool(m.group(2))
    if percent and not 0 < value <= 100:
        raise ValueError(f"{option}: a percentage must be above 0 and at most 100, got {text!r}")
    if not percent and (value < 1 or value != int(value)):
        raise ValueError(f"{option}: a count must be a whole number of at least 1, got {text!r}")
    return Threshold(value, percent)


@dataclass(frozen=True)
class Verdict:
    """The check's answer: state, the status line's text, the perfdata."""

    state: NagiosState
    summary: str
    perfdata: str

    def line(self) -> str:
        text = f"WAWP {self.state.name} - {self.summary}"
        return f"{text} | {self.perfdata}" if self.perfdata else text


def category(row: StatusRow, error_kind: str | None) -> str:
    """Which perfdata count an instance falls in."""
    if row.status == NOT_POLLED:
        return "unreachable"
    if row.status == UNREACHABLE:
        return "not_found" if error_kind in (ErrorKind.NOT_FOUND, ErrorKind.NOT_LOADED) else "unreachable"
    return _BY_STATUS.get(row.status, "unknown")


def judge(rows: Sequence[StatusRow], kinds: dict[str, str | None], warning: Threshold,
          critical: Threshold, scope: str = "") -> Verdict:
    """The verdict for one poll of the fleet (`kinds`: instance id -> error kind)."""
    total = len(rows)
    if not total:
        return Verdict(NagiosState.UNKNOWN, f"no instance to check{scope or ' (the config has none)'}", "")
    cats = {r.id: category(r, kinds.get(r.id)) for r in rows}
    counts = dict.fromkeys(CATEGORIES, 0)
    for cat in cats.values():
        counts[cat] += 1
    problems = [r for r in rows if cats[r.id] in PROBLEMS]
    warn_at, crit_at = warning.count(total), critical.count(total)
    perf = _perfdata(counts, len(problems), warn_at, crit_at, total)
    cut_off = all(r.status == NOT_POLLED or kinds.get(r.id) in NETWORK_KINDS for r in rows)
    if cut_off:
        reason = next((r.error for r in rows if r.error), None) or "no answer"
        return Verdict(NagiosState.UNKNOWN, _safe(
            f"cannot reach the Wawp API: every poll of {total} instance{'s' if total != 1 else ''}"
            f"{scope} failed ({reason})"), perf)
    if len(problems) >= crit_at:
        state = NagiosState.CRITICAL
    elif len(problems) >= warn_at:
        state = NagiosState.WARNING
    else:
        state = NagiosState.OK
    mix = ", ".join(f"{n} {_WORDS[c]}" for c, n in counts.items() if n)
    if state == NagiosState.OK:
        summary = f"{total} instance{'s' if total != 1 else ''}{scope}: {mix}"
    else:
        summary = (f"{len(problems)} of {total} instances{scope} need attention "
                   f"(warning at {warn_at}, critical at {crit_at}): {_names(problems, cats)}")
    return Verdict(state, _safe(summary), perf)


def _names(problems: Sequence[StatusRow], cats: dict[str, str]) -> str:
    """"FAILED: A, B; unreachable: C (bad gateway (502)); +3 more"."""
    groups: dict[str, list[str]] = {}
    for r in problems[:NAMED]:
        name = clean(r.label or r.id, 40)
        if cats[r.id] in ("unreachable", "not_found") and r.error:
            name += f" ({clean(r.error, 60)})"
        groups.setdefault(_WORDS[cats[r.id]], []).append(name)
    text = "; ".join(f"{word}: {', '.join(names)}" for word, names in groups.items())
    if len(problems) > NAMED:
        text += f"; +{len(problems) - NAMED} more"
    return text


def _perfdata(counts: dict[str, int], problems: int, warn_at: int, crit_at: int, total: int) -> str:
    """Nagios perfdata: 'label'=value;warn;crit;min;max per category, then 'problems' with
    the thresholds as plugin-guideline ranges ("N" alerts above N: at-least-3 is "2")."""
    parts = [f"'{c}'={counts[c]};;;0;{total}" for c in CATEGORIES]
    parts.append(f"'problems'={problems};{warn_at - 1};{crit_at - 1};0;{total}")
    return " ".join(parts)


def _safe(text: str) -> str:
    """The status line's text: one clean line, capped, without the perfdata separator."""
    return clean(text, 700).replace("|", "/")


def run(config: Config, client: WawpClient, *, tags: Sequence[str], warning: Threshold,
        critical: Threshold, deadline: float | None, out: TextIO | None = None) -> int:
    """`wawp-tui check`: poll once, print one line, return the Nagios state."""
    config = only_tagged(config, tags)
    config = dataclasses.replace(config, monitor=dataclasses.replace(
        config.monitor, read_only=True, auto_heal=False))
    if deadline is None:
        deadline = default_deadline(config.api.timeout, config.api.connect_timeout)

    async def poll() -> tuple[list[StatusRow], dict[str, str | None]]:
        async with client:
            monitor = Monitor(config, client)
            rows = await collect(monitor, deadline)
            return rows, {r.id: monitor.state(r.id).error_kind for r in rows}

    rows, kinds = asyncio.run(poll()) if config.instances else ([], {})
    verdict = judge(rows, kinds, warning, critical, describe_tags(tags))
    return _print(verdict.line(), out, verdict.state)


def run_attached(link: HubLink, config: Config, *, tags: Sequence[str], warning: Threshold,
                 critical: Threshold, out: TextIO | None = None) -> int:
    """`wawp-tui check --hub URL`: the hub's fleet as it knows it now; UNKNOWN when the
    hub cannot be read."""
    from wawp_tui.hub.attach import AttachedMonitor

    async def read() -> tuple[list[StatusRow], dict[str, str | None], str | None]:
        monitor = AttachedMonitor(link, config)
        try:
            rows = await collect(monitor, 30.0)
            kinds = {r.id: monitor.state(r.id).error_kind for r in rows}
            return rows, kinds, monitor.trouble
        finally:
            await monitor.close()

    rows, kinds, problem = asyncio.run(read())
    if problem is not None:
        return unknown(problem, out)
    if tags:
        rows = [r for r in rows if set(r.tags) & set(tags)]
    scope = describe_tags(tags) or f" (the hub at {link.url} watches none)"
    verdict = judge(rows, kinds, warning, critical, scope)
    return _print(verdict.line(), out, verdict.state)


def unknown(message: str, out: TextIO | None = None) -> int:
    """A usage or config error, told the plugin way: one UNKNOWN line on stdout, exit 3."""
    return _print(f"WAWP UNKNOWN - {_safe(message)}", out, NagiosState.UNKNOWN)


def _print(line: str, out: TextIO | None, state: NagiosState) -> int:
    stream = out or sys.stdout
    stream.write(line + "\n")
    stream.flush()
    return state
