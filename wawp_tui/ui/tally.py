"""Tally: the fleet's counts per shown word, kept current one instance at a time.

Left alone, a fleet costs what changes, not what it holds: each instance waits in a heap
for the time its share of the counts (or its row) can next read differently
(formatting.time_changes_at), so a once-a-second beat looks only at those due, and a
poll recounts only its own instance. The fleet screen's summary line and the wall's big
digits both count through one of these, so the two never disagree.
"""

from __future__ import annotations

import heapq
from typing import Protocol

from wawp_tui.core import FleetState, runbook
from wawp_tui.ui import formatting as view


class TallySource(Protocol):
    """What a tally reads: the fleet and the freshness basis of the runbook's answers."""

    @property
    def fleet(self) -> FleetState: ...

    @property
    def stale_basis(self) -> float: ...


class Tally:
    """Each instance's share of the counts (`parts`), their sums (`counts`), and the
    heap of when each share may next change with time alone."""

    def __init__(self, source: TallySource, quiet_after: float = runbook.QUIET_AFTER, *,
                 rows: bool = True) -> None:
        self.source = source
        #: Passed on to time_changes_at: a table row shows "no activity", the counts do not.
        self.quiet_after = quiet_after
        #: Whether the heap also wakes an instance when its row's time-dependent cells
        #: (SINCE, the quiet age) move, for a caller that draws rows; else only when its
        #: share of the counts can change.
        self.rows = rows
        self.parts: dict[str, view.SummaryPart] = {}
        self.counts = view.SummaryCounts({})
        #: Moves whenever a share changed (what is drawn from the parts can be kept until then).
        self.revision = 0
        #: (when, id): an entry whose time is not _due_at[id] is an old one, skipped.
        self._due: list[tuple[float, str]] = []
        self._due_at: dict[str, float] = {}

    @property
    def complete(self) -> bool:
        """Every instance of the fleet has its share (else `recount`)."""
        return len(self.parts) == len(self.source.fleet)

    def account(self, instance_id: str, now: float, *, schedule: bool = True) -> None:
        """Bring the instance's share up to date (and its place in the heap)."""
        part = view.summary_part(self.source.fleet.get(instance_id), now, self.source.stale_basis)
        old = self.parts.get(instance_id)
        if old != part:
            if old is not None:
                self.counts.add(old, -1)
            self.counts.add(part)
            self.parts[instance_id] = part
            self.revision += 1
        if schedule:
            self.schedule(instance_id, now)

    def recount(self, now: float) -> None:
        """Every instance's share and its place in the heap, afresh."""
        self.parts, self.counts = {}, view.SummaryCounts({})
        self._due, self._due_at = [], {}
        self.revision += 1
        for instance_id in self.source.fleet.instances:
            self.account(instance_id, now)

    def schedule(self, instance_id: str, now: float) -> None:
        """Put the instance in the heap at the time its time-dependent parts can change
        (at the next beat at the earliest)."""
        at = max(view.time_changes_at(self.source.fleet.get(instance_id), now,
                                      self.source.stale_basis, self.quiet_after, row=self.rows),
                 now + 1e-3)
        if self._due_at.get(instance_id) == at:
            return
        self._due_at[instance_id] = at
        heapq.heappush(self._due, (at, instance_id))
        if len(self._due) > 2 * len(self._due_at) + 64:  # drop the old entries
            self._due = [(t, i) for i, t in self._due_at.items()]
            heapq.heapify(self._due)

    def due(self, now: float) -> list[str]:
        """The instances whose time has come: their shares brought up to date and their
        next times scheduled; returned so a caller can look at their rows too."""
        due, due_at = self._due, self._due_at
        looked: list[str] = []
        while due and due[0][0] <= now:
            at, instance_id = heapq.heappop(due)
            if due_at.get(instance_id) != at:
                continue  # rescheduled since
            del due_at[instance_id]
            looked.append(instance_id)
            self.account(instance_id, now, schedule=False)
        for instance_id in looked:
            self.schedule(instance_id, now)
        return looked
