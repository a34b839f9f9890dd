"""The wall's problems: which instances, in the table's order, and the page of them up
now, as pure functions of the fleet and the time (no widgets).

A problem is an instance whose shown word (the runbook's) is in the problem band, or
whose polls fail. Pages turn every PAGE_EVERY seconds of the caller's clock, so tests
move the clock instead of waiting.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from rich.text import Text

from wawp_tui.core import FleetState, InstanceState, Outage, runbook
from wawp_tui.models import UNREACHABLE
from wawp_tui.safe_text import clean
from wawp_tui.ui import formatting as view

#: Seconds each page of problems stays up when they do not fit.
PAGE_EVERY = 10.0
#: The narrowest column of problems; a wide wall gets as many as fit.
PROBLEM_COLUMN = 56
#: The worst rank that is a problem: STUCK's band (FAILED, NEEDS PERSON, unreachable, NO
#: TOKEN, SCAN QR, PASSKEY, STUCK, an unknown word). STARTING, STOPPED, SCHEDULED,
#: HIBERNATED and WORKING are not.
PROBLEM_RANK = runbook.word_rank(runbook.STUCK)



def is_problem(part: view.SummaryPart) -> bool:
    """An instance's share of the counts says it is a problem: a word in the problem
    band, or polls failing (it is unreachable, whatever its last known word)."""
    word, _, failing = part
    return failing or runbook.word_rank(word) <= PROBLEM_RANK


def problems(fleet: FleetState, parts: dict[str, view.SummaryPart], now: float, basis: float,
             outage: Outage | None) -> tuple[list[str], int]:
    """The problem instances worst first (the table's order), and how many more are only
    unreachable in the outage under way: those are one line, not a page each (their
    last known word was fine; the banner says what happened)."""
    covered = set(outage.instance_ids) if outage is not None else set()
    listed, folded = [], 0
    for instance_id, part in parts.items():
        if not is_problem(part):
            continue
        word = part[0]
        if instance_id in covered and runbook.word_rank(word) > PROBLEM_RANK:
            folded += 1
            continue
        listed.append(instance_id)
    listed.sort(key=lambda i: view.sort_key(fleet.get(i), now, basis))
    return listed, folded


def problem_cells(st: InstanceState, now: float, basis: float, palette: view.Palette) -> tuple[Text, str, str]:
    """(badge, label, age) of one problem. An instance that stopped answering while its
    last word was fine reads UNREACHABLE for as long as it has failed; one whose last word
    is itself a problem keeps it, marked with the age of the data ("✗ FAILED ~40s"), as
    in the table."""
    word = runbook.shown_word(st, now, basis)
    if st.failures and (word == UNREACHABLE or runbook.word_rank(word) > PROBLEM_RANK):
        since = st.failing_since
        age = runbook.fmt_ago(now - since) if since is not None else ""
        return view.badge_text(UNREACHABLE, palette), st.label, age
    stale = runbook.stale_age(st, now, basis)
    # (Words are cleaned where they come in; an unknown one is shown as itself, so once
    # more here: the wall is left alone for days.)
    return view.badge_text(clean(word, 40), palette, stale), st.label, view.since_text(st, now)


def problem_line(st: InstanceState, now: float, basis: float, palette: view.Palette,
                 width: int) -> Text:
    """One problem in `width` cells: badge, label, age on the right."""
    badge, label, age = problem_cells(st, now, basis, palette)
    badge_room = view.STATUS_WIDTH
    age_room = 7
    label_room = max(4, width - badge_room - age_room - 2)
    line = Text(no_wrap=True, overflow="ellipsis", end="")
    if badge.cell_len > badge_room:  # (a made-up word of wide characters: cut by cells)
        badge = badge.copy()
        badge.truncate(badge_room, overflow="ellipsis")
    line.append_text(badge)
    line.append(" " * max(1, badge_room - badge.cell_len + 1))
    shown = Text(view.clip(clean(label, 200), label_room), style="bold")
    shown.truncate(label_room, overflow="ellipsis")
    line.append_text(shown)
    line.append(" " * max(1, label_room - shown.cell_len + 1))
    line.append(age.rjust(age_room - 1), style=palette.style("muted"))
    return line


@dataclass(frozen=True)
class Page:
    """Which slice of the problems is up: `number` of `count` (1-based)."""

    start: int
    stop: int
    number: int
    count: int


def page(total: int, capacity: int, now: float) -> Page:
    """The page up at `now`: pages turn every PAGE_EVERY seconds of the clock, so every
    wall on one fleet shows the same page at the same time, and tests move the clock."""
    capacity = max(1, capacity)
    count = max(1, math.ceil(total / capacity))
    index = int(now // PAGE_EVERY) % count
    return Page(index * capacity, min(total, (index + 1) * capacity), index + 1, count)


def columns_for(width: int) -> int:
    """How many columns of problems fit side by side."""
    return max(1, width // PROBLEM_COLUMN)


def problem_block(fleet: FleetState, ids: list[str], folded: int, now: float, basis: float,
                  palette: view.Palette, width: int, height: int) -> list[Text]:
    """The problems' title and the page up now, laid out in columns, in `height` lines."""
    cols = columns_for(width)
    rows = max(1, height - 1)
    up = page(len(ids), rows * cols, now)
    title = Text(no_wrap=True, overflow="ellipsis", end="")
    if ids:
        title.append(f"PROBLEMS {len(ids)}", style=f"bold {palette.style('bad')}")
    elif folded:
        title.append("PROBLEMS", style=f"bold {palette.style('bad')}")
    else:
        title.append("✓ No problems: nothing FAILED, STUCK, waiting for a QR scan, unreachable "
                     "or needing a person", style=f"bold {palette.style('ok')}")
    if up.count > 1:
        title.append(f"   page {up.number}/{up.count} (every {PAGE_EVERY:.0f}s)", style="bold")
    if folded:
        title.append(f"   + {folded} more not answering: the outage above", style="bold")
    shown = ids[up.start:up.stop]
    col_width = (width - (cols - 1) * 2) // cols
    lines = [Text(no_wrap=True, overflow="ellipsis", end="") for _ in range(min(rows, len(shown)))]
    for index, instance_id in enumerate(shown):
        line = lines[index % rows]
        if line.plain:
            line.append(" " * max(2, (index // rows) * (col_width + 2) - line.cell_len))
        line.append_text(problem_line(fleet.get(instance_id), now, basis, palette, col_width))
    return [title, *lines]
