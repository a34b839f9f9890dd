"""History that survives a restart of the app: JSON lines under the state folder.

Bounded: when the file passes `max_bytes` it is rotated to `.1` (one old generation),
so a wall monitor running for months never fills the disk.
"""

from __future__ import annotations

import json
import os
from collections import defaultdict, deque
from dataclasses import asdict
from pathlib import Path

from wawp_tui.fleet import HISTORY_LIMIT, HistoryEntry

DEFAULT_MAX_BYTES = 2_000_000


class HistoryStore:
    """Appends history entries per instance; loads the newest ones back at start."""

    def __init__(self, path: Path | None, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self.path = path
        self.max_bytes = max_bytes
        self.error: str | None = None

    def append(self, instance_id: str, entry: HistoryEntry) -> None:
        """Write one entry (flushed); a write failure disables the store, never the app."""
        if self.path is None or self.error:
            return
        line = json.dumps({"id": instance_id, **asdict(entry)}, ensure_ascii=False) + "\n"
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            if self.path.exists() and self.path.stat().st_size + len(line) > self.max_bytes:
                os.replace(self.path, self.path.with_name(self.path.name + ".1"))
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            with os.fdopen(fd, "a", encoding="utf-8") as handle:
                handle.write(line)
        except OSError as exc:
            self.error = f"history not saved: {exc.strerror or exc}"

    def load(self, ids: set[str], per_instance: int = HISTORY_LIMIT) -> dict[str, list[HistoryEntry]]:
        """The newest entries of each known instance, oldest first; bad lines are skipped."""
        found: dict[str, deque] = defaultdict(lambda: deque(maxlen=per_instance))
        if self.path is None:
            return {}
        for path in (self.path.with_name(self.path.name + ".1"), self.path):
            try:
                lines = path.read_text("utf-8", errors="replace").splitlines()
            except OSError:
                continue
            for line in lines:
                try:
                    data = json.loads(line)
                    instance_id = data.pop("id")
                    entry = HistoryEntry(**data)
                except (ValueError, TypeError, KeyError):
                    continue
                if instance_id in ids:
                    found[instance_id].append(entry)
        return {k: list(v) for k, v in found.items()}
