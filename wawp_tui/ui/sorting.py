"""Sorting the fleet table by a column: the order chosen, and each row's sort key. Pure.

The default is the contract's: worst first. Any other column sorts in the direction an
on-call engineer looks first (slowest poll, newest change, A to Z), empty values last,
and ties fall back to worst first so equal rows keep a stable, readable order. A key
never depends on the clock alone (SINCE sorts by when the status changed, GUARD by when
the countdown ends), so a sorted table does not re-sort on every tick.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from rich.text import Text

from wawp_tui.core import InstanceState, runbook
from wawp_tui.ui.formatting import COLUMNS, sort_key

#: The sorted column's header arrow: the values grow down the table (▲), or shrink (▼:
#: the worst status, the slowest poll on top).
ASCENDING, DESCENDING = "▲", "▼"


@dataclass(frozen=True)
class SortColumn:
    """How one column sorts: its name for people, and whether its natural order puts
    the big values first (worst status, slowest poll)."""

    name: str
    descending: bool
    key: Callable[[InstanceState, float], tuple[object, ...]]


def _since(state: InstanceState, now: float) -> tuple[object, ...]:
    known = state.status_since is not None and state.status_since_known
    return (0, -(state.status_since or 0.0)) if known else (1, 0.0)


def _guard(state: InstanceState, now: float) -> tuple[object, ...]:
    ends = [c.ends_at for c in runbook.countdowns(state, now)]
    if state.reset_start_at is not None and state.reset_start_at > now:
        ends.append(state.reset_start_at)
    return (0, min(ends)) if ends else (1, 0.0)


def _latency(state: InstanceState, now: float) -> tuple[object, ...]:
    ms = state.latency_shown
    return (0, -ms) if ms is not None else (1, 0.0)


def _text(value: str) -> tuple[object, ...]:
    return (0, value.lower()) if value else (1, "")


#: Every sortable column by its key in COLUMNS (the selection mark is not sortable).
#: Status contributes nothing of its own: the worst-first tie-breaker is its order.
SORT_COLUMNS: dict[str, SortColumn] = {
    "status": SortColumn("status", True, lambda st, now: ()),
    "label": SortColumn("label", False, lambda st, now: _text(st.label)),
    "guard": SortColumn("guard", False, _guard),
    "error": SortColumn("last error", False, lambda st, now: _text(st.last_error or "")),
    "since": SortColumn("since", False, _since),
    "latency": SortColumn("latency", True, _latency),
    "id": SortColumn("id", False, lambda st, now: _text(st.id)),
    "tags": SortColumn("tags", False, lambda st, now: _text(",".join(st.tags))),
}
#: The column the table sorts by until someone chooses another.
DEFAULT_COLUMN = "status"
_CYCLE = [key for key, _, _ in COLUMNS if key in SORT_COLUMNS]


@dataclass(frozen=True)
class SortOrder:
    """The order the fleet table is in: a column, in its natural direction or reversed."""

    column: str = DEFAULT_COLUMN
    reverse: bool = False

    @property
    def is_default(self) -> bool:
        return self.column == DEFAULT_COLUMN and not self.reverse

    @property
    def arrow(self) -> str:
        """▼ when the big values (worst status, slowest poll) are on top, else ▲."""
        descending = SORT_COLUMNS[self.column].descending != self.reverse
        return DESCENDING if descending else ASCENDING

    def describe(self) -> str:
        """ "label ▲": for the summary line."""
        return f"{SORT_COLUMNS[self.column].name} {self.arrow}"

    def next_column(self) -> SortOrder:
        """The next sortable column to the right (after the last: the first), in its
        natural direction."""
        index = _CYCLE.index(self.column) if self.column in _CYCLE else -1
        return SortOrder(_CYCLE[(index + 1) % len(_CYCLE)])

    def flipped(self) -> SortOrder:
        return SortOrder(self.column, not self.reverse)

    def clicked(self, column: str) -> SortOrder:
        """A click on a column's header: sort by it, or reverse it if it is the sort
        already; a column that cannot sort leaves the order as it is."""
        if column == self.column:
            return self.flipped()
        return SortOrder(column) if column in SORT_COLUMNS else self


def row_sort_key(column: str, state: InstanceState, now: float, refresh: float) -> tuple[object, ...]:
    """The sort key of one row when the table is sorted by `column` (natural direction;
    the table reverses the whole order for a reversed sort)."""
    return SORT_COLUMNS[column].key(state, now) + sort_key(state, now, refresh)


def header_label(title: str, width: int, arrow: str | None) -> str:
    """A column's header, with the arrow if it is the sorted one ("STATUS ▼"); the arrow
    loses its space rather than being cut off in a narrow column ("SINCE▲")."""
    if arrow is None:
        return title
    return f"{title} {arrow}" if len(title) + 2 <= width else f"{title}{arrow}"


def summary_note(order: SortOrder) -> Text:
    """ "sort: label ▲" for the summary; nothing for the default order."""
    return Text() if order.is_default else Text(f"sort: {order.describe()}")
