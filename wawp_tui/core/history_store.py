"""History that survives a restart of the app: JSON lines under the state folder.

Bounded: when the file passes `max_bytes` it is rotated to `.1` (one old generation),
so a wall monitor running for months never fills the disk. Read back bounded too: only
the last `max_bytes` of each generation are read, and a file found larger than that (an
older version's, a copied one: 2 GB delayed the first status by 6 s) is cut down to
them at start. Read back as untrusted input: a damaged line (bad JSON, wrong shape,
absurd values) is skipped and counted, and every text crosses the text boundary again.
"""

from __future__ import annotations

import json
import math
import os
from collections import defaultdict, deque
from dataclasses import asdict
from pathlib import Path
from typing import Any

from wawp_tui.core.fleet import HISTORY_LIMIT, HistoryEntry
from wawp_tui.files import append_private, atomic_write, read_lines, read_tail
from wawp_tui.safe_text import clean

DEFAULT_MAX_BYTES = 2_000_000
#: How far ahead of our clock a saved entry may be dated (clock skew between runs).
FUTURE_SKEW = 300.0
_KINDS = {"status", "action", "outcome", "error", "ladder"}


class HistoryStore:
    """Appends history entries per instance; loads the newest ones back at start."""

    def __init__(self, path: Path | None, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self.path = path
        self.max_bytes = max_bytes
        #: Why history is not being saved (shown in the event log), or None.
        self.error: str | None = None
        #: What loading found wrong ("skipped 3 damaged lines in ..."), or None.
        self.warning: str | None = None

    def append(self, instance_id: str, entry: HistoryEntry) -> None:
        """Write one entry (flushed); a write failure disables the store, never the app."""
        if self.path is None or self.error:
            return
        record = {"id": clean(instance_id, 64), **asdict(entry)}
        record["text"] = clean(entry.text, 300)
        record["subject"] = clean(entry.subject, 40)
        line = json.dumps(record, ensure_ascii=False) + "\n"
        try:
            if self.path.exists() and self.path.stat().st_size + len(line) > self.max_bytes:
                os.replace(self.path, self.path.with_name(self.path.name + ".1"))
            with append_private(self.path) as handle:
                handle.write(line)
        except OSError as exc:
            self.error = f"history not saved: {exc.strerror or exc}"

    def load(self, ids: set[str], per_instance: int = HISTORY_LIMIT,
             now: float | None = None) -> dict[str, list[HistoryEntry]]:
        """The newest entries of each known instance, oldest first; bad lines are skipped,
        and so are entries dated after `now` (plus a little skew): a clock that ran ahead
        must not leave actions "in the last hour" for ever, holding auto-heal back."""
        latest = now + FUTURE_SKEW if now is not None else math.inf
        found: dict[str, deque[HistoryEntry]] = defaultdict(lambda: deque(maxlen=per_instance))
        if self.path is None:
            return {}
        damaged = future = 0
        for path in (self.path.with_name(self.path.name + ".1"), self.path):
            try:
                lines, too_long = read_lines(path, tail=self.max_bytes)
            except FileNotFoundError:
                continue
            except OSError as exc:
                self.warning = f"history not loaded from {path}: {exc.strerror or exc}"
                continue
            damaged += too_long
            for line in lines:
                if not line.strip():
                    continue
                parsed = _entry(line)
                if parsed is None:
                    damaged += 1
                elif parsed[1].at > latest:
                    future += 1
                elif parsed[0] in ids:
                    found[parsed[0]].append(parsed[1])
        skipped = [f"{damaged} damaged line(s)"] if damaged else []
        skipped += [f"{future} dated in the future (clock skew)"] if future else []
        if skipped:
            self.warning = (f"history: skipped {' and '.join(skipped)} in {self.path} "
                            "(the rest is loaded)")
        self._cut_down()
        return {k: list(v) for k, v in found.items()}

    def _cut_down(self) -> None:
        """A generation larger than `max_bytes` keeps only its newest `max_bytes` (what was
        just loaded): the current file is rotated, the old generation rewritten."""
        if self.path is None:
            return
        old = self.path.with_name(self.path.name + ".1")
        try:
            if self.path.stat().st_size > self.max_bytes:
                os.replace(self.path, old)
        except FileNotFoundError:
            pass
        except OSError as exc:
            self.warning = f"history not cut down: {exc.strerror or exc}"
            return
        try:
            if old.stat().st_size > self.max_bytes:
                atomic_write(old, read_tail(old, self.max_bytes).decode("utf-8", "replace"))
        except FileNotFoundError:
            pass
        except OSError as exc:
            self.warning = f"history not cut down: {exc.strerror or exc}"


def _entry(line: str) -> tuple[str, HistoryEntry] | None:
    """One line back into (instance id, entry), or None when it is not one of ours."""
    try:
        data: Any = json.loads(line)
    except (ValueError, RecursionError):
        return None
    if not isinstance(data, dict):
        return None
    instance_id, at, kind = data.get("id"), data.get("at"), data.get("kind")
    text, subject = data.get("text", ""), data.get("subject", "")
    auto, ok = data.get("auto", False), data.get("ok", True)
    if not (isinstance(instance_id, str) and isinstance(kind, str) and kind in _KINDS
            and isinstance(text, str) and isinstance(subject, str)
            and isinstance(auto, bool) and isinstance(ok, bool)):
        return None
    if isinstance(at, bool) or not isinstance(at, (int, float)) or not math.isfinite(at) \
            or not 0 <= at < 4_102_444_800:
        return None
    return instance_id, HistoryEntry(at=float(at), kind=kind, text=clean(text, 300),
                                     subject=clean(subject, 40), auto=auto, ok=ok)
