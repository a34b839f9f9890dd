"""What the hub's keepers remember across restarts (the state folder's hub-keeper.json).

Per schedule, the last change the hub carried out (its instant and which way), so a
restart neither does a change twice (a day of 23 or 25 hours included) nor forgets one
it missed while it was down; and the instances idle hibernation stopped, so a restarted
hub still reads them as hibernated (meant to be off), not as broken.

Written atomically (temp file and rename, 0600) under the file's lock, merged with what
is on disk (two hubs of one user with different schedules keep each other's entries).
Read back as untrusted: a damaged file, or a damaged entry, is said and left out, and
the keepers then act only from the next change (nothing is done on a guess).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from wawp_tui.files import atomic_write, locked, read_small
from wawp_tui.safe_text import clean

FILE_NAME = "hub-keeper.json"
#: The file is small (a line per schedule, one per hibernated instance): a bigger one is
#: not ours.
MAX_BYTES = 4 * 1024 * 1024
_MAX_NAME = 200
_MAX_ID = 64


@dataclass(frozen=True)
class Carried:
    """A schedule's change the hub carried out: the change's instant, which way (True:
    start), and when it was done."""

    at: float
    running: bool
    done_at: float


class Book:
    """The keepers' memory (see the module docstring); `path` None keeps it in memory."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        #: Why the file could not be read or written (said once by the keeper), or None.
        self.error: str | None = None
        self._schedules: dict[str, Carried] = {}
        self._hibernated: dict[str, float] = {}
        self._forgotten: set[str] = set()
        self._loaded = False

    def load(self) -> None:
        """Read the file (once); a problem is kept in `error`, never raised."""
        if self._loaded:
            return
        self._loaded = True
        if self.path is None:
            return
        schedules, hibernated, self.error = self._read()
        self._schedules.update(schedules)
        self._hibernated.update(hibernated)

    def carried(self, name: str) -> Carried | None:
        return self._schedules.get(name)

    def carry(self, name: str, at: float, running: bool, done_at: float) -> None:
        """Remember a change carried out (saved at once)."""
        self._schedules[name] = Carried(at, running, done_at)
        self.save()

    @property
    def hibernated(self) -> dict[str, float]:
        """Instance id -> when idle hibernation stopped it (read it; change it here)."""
        return dict(self._hibernated)

    def hibernate_many(self, stopped: dict[str, float]) -> None:
        """These were hibernated (id -> when), saved at once."""
        self._hibernated.update(stopped)
        self._forgotten -= set(stopped)
        self.save()

    def forget(self, ids: set[str]) -> None:
        """These are no longer hibernated (started since, by their owner or anyone)."""
        ids = ids & set(self._hibernated)
        if not ids:
            return
        for instance_id in ids:
            del self._hibernated[instance_id]
        self._forgotten |= ids
        self.save()

    # -- the file --------------------------------------------------------------------

    def save(self) -> None:
        if self.path is None:
            return
        try:
            with locked(self.path):
                schedules, hibernated, _ = self._read()
                for name, carried in self._schedules.items():
                    known = schedules.get(name)
                    if known is None or known.at <= carried.at:
                        schedules[name] = carried
                hibernated.update(self._hibernated)
                for instance_id in self._forgotten:
                    hibernated.pop(instance_id, None)
                atomic_write(self.path, json.dumps({
                    "version": 1,
                    "schedules": {n: {"at": c.at, "running": c.running, "done_at": c.done_at}
                                  for n, c in sorted(schedules.items())},
                    "hibernated": dict(sorted(hibernated.items())),
                }, indent=1, ensure_ascii=False))
            self._forgotten.clear()
            self.error = None
        except OSError as exc:
            self.error = f"cannot keep {self.path}: {clean(exc.strerror or exc, 200)}"

    def _read(self) -> tuple[dict[str, Carried], dict[str, float], str | None]:
        assert self.path is not None
        try:
            raw = read_small(self.path, MAX_BYTES)
        except FileNotFoundError:
            return {}, {}, None
        except OSError as exc:
            return {}, {}, f"cannot read {self.path}: {clean(exc.strerror or exc, 200)}"
        try:
            data = json.loads(raw)
        except (ValueError, RecursionError):
            data = None
        if not isinstance(data, dict):
            return {}, {}, f"{self.path} is damaged (not a JSON object): it is written again"
        return _schedules(data.get("schedules")), _hibernated(data.get("hibernated")), None


def _time(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) and 0 <= value < 1e11 else None


def _schedules(value: Any) -> dict[str, Carried]:
    found: dict[str, Carried] = {}
    if not isinstance(value, dict):
        return found
    for name, entry in value.items():
        if not isinstance(name, str) or len(name) > _MAX_NAME or not isinstance(entry, dict):
            continue
        at, done_at, running = _time(entry.get("at")), _time(entry.get("done_at")), entry.get("running")
        if at is not None and done_at is not None and isinstance(running, bool):
            found[name] = Carried(at, running, done_at)
    return found


def _hibernated(value: Any) -> dict[str, float]:
    found: dict[str, float] = {}
    if not isinstance(value, dict):
        return found
    for instance_id, at in value.items():
        when = _time(at)
        if isinstance(instance_id, str) and 0 < len(instance_id) <= _MAX_ID and when is not None:
            found[instance_id] = when
    return found
