"""What the wall shows, as pure functions of the fleet and the time (no widgets): what
it reads (WallSource), the tiles of counts, the header, the alerts, the help page; the
problems and their pages are in wall_problems.py.

Words, symbols, ranks and ages come from the runbook and from formatting.py, the table's
own: a wall and a table open on one fleet never disagree. Time-dependent choices (whether
an alert is still new, whether the data is stale) take `now` from the caller's clock, so
tests move the clock instead of waiting.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable
from typing import Protocol

from rich.console import Group, RenderableType
from rich.padding import Padding
from rich.table import Table
from rich.text import Text

from wawp_tui.core import Event, FleetState, Outage, runbook
from wawp_tui.core.alerts import AlertGroup
from wawp_tui.safe_text import clean
from wawp_tui.ui import formatting as view

#: Seconds an alert reads NEW; then it is ongoing (a wall has no hands to acknowledge it).
NEW_FOR = 60.0
#: The narrowest tile of big digits ("⚑ NEEDS PERSON" and four digits, with a margin).
TILE_WIDTH = 16
#: The largest the digits are drawn (see count_tile.ScaledDigits), and the share of the
#: screen's height the tiles may take.
MAX_SCALE = 4
TILES_SHARE = 1 / 4


class AlertGroups(Protocol):
    """The alerts as the wall reads them: firing groups, the outage first, newest first."""

    def groups(self) -> list[AlertGroup]: ...


class WallSource(Protocol):
    """What the wall reads: a local Monitor, or one a hub feeds. A wall only reads: no
    action, no acknowledgement, nothing written back."""

    @property
    def fleet(self) -> FleetState: ...

    @property
    def clock(self) -> Callable[[], float]: ...

    @property
    def stale_basis(self) -> float: ...

    @property
    def alerts(self) -> AlertGroups: ...

    def outage(self) -> Outage | None: ...

    def tick(self) -> None:
        """Once a second: the alerts brought up to date."""

    def subscribe(self, listener: Callable[[Event], None]) -> None:
        """Every event from now on (the wall redraws the instances polled)."""


# -- counts ----------------------------------------------------------------------------


def tile_words(words: Iterable[str]) -> list[str]:
    """The words to draw as tiles, worst first; words of one rank in a fixed order (a
    tile never swaps places with its neighbour from one minute to the next)."""
    return sorted(words, key=lambda w: (runbook.word_rank(w), runbook.badge(w)[1]))


def tiles_shown(counts: dict[str, int], room: int) -> tuple[list[str], int]:
    """The words that get a tile of their own when at most `room` tiles fit, worst first,
    and the count of the others (0: every word has its tile). The words of the runbook
    keep their tiles; made-up words from a server go first, the rarest first (a thousand
    of them must not push FAILED off the wall)."""
    words = tile_words(counts)
    if len(words) <= room:
        return words, 0
    keep = sorted(words, key=lambda w: (runbook.badge(w) == ("?", w), -counts[w]))[:max(0, room - 1)]
    kept = [w for w in words if w in keep]
    return kept, sum(counts[w] for w in words if w not in keep)


def tile_label(word: str) -> str:
    """ "✗ FAILED", "⚑ NEEDS PERSON": the symbol and the word, as the table's badge."""
    symbol, label = runbook.badge(word)
    return f"{symbol} {clean(label, 20)}"


def tile_classes(word: str) -> str:
    """CSS classes of a tile: its severity, and -alarm for the words the table shows in
    reverse video (they stay loud without colour)."""
    classes = f"-{runbook.severity(word)}"
    return f"{classes} -alarm" if word in view.ALARM_WORDS else classes


def tile_width(scale: int, digits: int) -> int:
    """The narrowest tile for counts of `digits` digits drawn at `scale`."""
    return max(TILE_WIDTH, 3 * scale * digits + 2)


def tile_height(scale: int) -> int:
    """Rows of one tile: the digits (three rows at scale 1, 2 * scale + 1 above), the word."""
    return (3 if scale <= 1 else 2 * scale + 1) + 1


def tile_columns(count: int, width: int, scale: int = 1, digits: int = 1) -> int:
    """Tiles per row: as many as fit, at most all of them."""
    return max(1, min(count, width // tile_width(scale, digits)))


def digit_scale(width: int, height: int, tiles: int, digits: int) -> int:
    """How large the digits can be drawn: the largest scale at which the tiles take at
    most a quarter of the screen's height (1 at 80x24 unless a single row of tiles; 3 or
    4 on a big wall)."""
    for scale in range(MAX_SCALE, 1, -1):
        rows = math.ceil(max(1, tiles) / tile_columns(tiles, width, scale, digits))
        if rows * tile_height(scale) <= height * TILES_SHARE:
            return scale
    return 1


# -- the header ------------------------------------------------------------------------


def clock_text(now: float) -> str:
    """The wall clock, local time ("03:00:12")."""
    return time.strftime("%H:%M:%S", time.localtime(now))


def is_stale(fleet: FleetState, now: float, basis: float) -> bool:
    """The data on the wall is old: no poll has succeeded for two refreshes and more."""
    last = fleet.last_success_at
    return last is not None and now - last > runbook.stale_after(basis)


def freshness(fleet: FleetState, now: float, basis: float, stale_count: int,
              palette: view.Palette, lost: str | None = None) -> Text:
    """ "updated 3s ago", loud (reverse video, STALE) once the data is old, or at once
    when the feed itself is `lost` ("no news from the hub")."""
    last = fleet.last_success_at
    text = Text(no_wrap=True, overflow="ellipsis", end="")
    if lost is not None:
        ago = f", updated {runbook.fmt_ago(now - last)} ago" if last is not None else ""
        text.append(f" STALE: {clean(lost, 60)}{ago} ", style=f"bold reverse {palette.style('bad')}")
    elif last is None:
        text.append("waiting for the first poll" if len(fleet) else "no instances configured",
                    style="bold")
    elif is_stale(fleet, now, basis):
        text.append(f" STALE: updated {runbook.fmt_ago(now - last)} ago ",
                    style=f"bold reverse {palette.style('bad')}")
    else:
        text.append(f"updated {runbook.fmt_ago(now - last)} ago", style="bold")
    if stale_count:
        text.append(f"  ~ {stale_count} stale", style=f"bold italic {palette.style('warn')}")
    return text


def header(fleet: FleetState, now: float, basis: float, stale_count: int, palette: view.Palette,
           width: int, title: str = "", lost: str | None = None) -> Text:
    """One line: which fleet (its size), the clock, the data's age (STALE at once when
    the feed is `lost`)."""
    left = Text(f"{clean(title, 60) + ' · ' if title else ''}{len(fleet)} instances",
                style=palette.style("muted"))
    middle = Text(clock_text(now), style="bold")
    right = freshness(fleet, now, basis, stale_count, palette, lost)
    gap = width - left.cell_len - middle.cell_len - right.cell_len
    line = Text(no_wrap=True, overflow="ellipsis", end="")
    if gap < 2:  # too narrow for all three: the clock and the age
        line.append_text(middle)
        line.append("  ")
        line.append_text(right)
        return line
    line.append_text(left)
    # The clock in the middle of the line where it can be.
    before = max(1, (width - middle.cell_len) // 2 - left.cell_len)
    if left.cell_len + before + middle.cell_len + 1 + right.cell_len > width:
        before = max(1, gap // 2)
    line.append(" " * before)
    line.append_text(middle)
    line.append(" " * max(1, width - line.cell_len - right.cell_len))
    line.append_text(right)
    return line


# -- alerts ----------------------------------------------------------------------------


def is_new(group: AlertGroup, now: float) -> bool:
    """An alert group reads NEW for NEW_FOR seconds after one of its alerts fired while
    we watched (what was already wrong when the wall started is ongoing at once)."""
    return any(a.news and now - a.started_at < NEW_FOR for a in group.alerts)


def alert_lines(groups: list[AlertGroup], now: float, palette: view.Palette, room: int) -> list[Text]:
    """At most `room` lines: each firing group, NEW (loud) for a minute, then ongoing;
    the last line counts those that did not fit."""
    if not groups:
        return [Text("✓ No alert firing", style=palette.style("ok"), no_wrap=True, end="")]
    room = max(1, room)
    shown = groups if len(groups) <= room else groups[:room - 1]
    lines = []
    for group in shown:
        tone = palette.style(group.severity)
        line = Text(no_wrap=True, overflow="ellipsis", end="")
        new = is_new(group, now)
        if new:
            line.append(" NEW ", style=f"bold reverse {tone}")
        else:
            line.append("ongoing", style=palette.style("muted"))
        line.append(" ▲ ", style=f"bold {tone}")
        line.append(clean(group.text, 300), style="bold")
        # New: since its newest alert (a group can be old and have just grown); else how
        # long the group has lasted.
        age = f"{runbook.fmt_ago(now - max(a.started_at for a in group.alerts))} ago" if new \
            else f"for {runbook.fmt_ago(now - group.started_at)}"
        line.append(f"  {age}", style=palette.style("muted"))
        lines.append(line)
    if len(shown) < len(groups):
        more = len(groups) - len(shown)
        lines.append(Text(f"+ {more} more alert{'s' if more != 1 else ''}", style="bold",
                          no_wrap=True, end=""))
    return lines


def alert_room(height: int) -> int:
    """Lines for alerts on a screen `height` rows tall."""
    return 2 if height < 30 else 3 if height < 50 else 5


# -- the help page ---------------------------------------------------------------------


def help_body(keys: Iterable[tuple[str, str]], page_every: float, closes_after: float) -> RenderableType:
    """The wall's keys ((keys, what) as bound now) and how to read it."""
    table = Table.grid(padding=(0, 2))
    table.add_column(width=10, style="bold")
    table.add_column()
    for shown, what in keys:
        table.add_row(shown, what)
    return Group(
        Text("Keys", style="bold underline"), Padding(table, (0, 0, 0, 2)),
        Text("\nHow to read it", style="bold underline"),
        Text(
            "Counts per status word, worst first, as the table's summary counts them: "
            "✗ FAILED, ⚑ NEEDS PERSON, ! UNREACHABLE, ▣ SCAN QR, ◐ STUCK / STARTING, "
            "? unknown, ■ STOPPED, ■ SCHEDULED, ■ HIBERNATED, ✓ WORKING.\n"
            "The clock and how old the data is: STALE in reverse video when no poll has "
            "succeeded for two refreshes, and at once when the hub it is fed by is out of "
            "reach.\n"
            f"Alerts: NEW for {NEW_FOR:.0f} s, then ongoing (nobody acknowledges a "
            "wall); no bell.\n"
            "Problems (FAILED, NEEDS PERSON, unreachable, SCAN QR, STUCK, unknown words) by "
            f"label with their age; pages turn every {page_every:.0f} s when they do "
            "not fit. STARTING, STOPPED, SCHEDULED and HIBERNATED are not problems.\n"
            "Read-only: a wall never acts, whatever the config or the token allows.\n"
            f"This page closes itself after {closes_after:.0f} s."),
    )
