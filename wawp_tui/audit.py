"""The audit log: one JSON object per line for every action and its outcome.

Flushed per line so a crash or a killed SSH session loses nothing already done. The
token is never given to this module, so it cannot be written.
"""

from __future__ import annotations

import json
import os
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, TextIO


class AuditLog:
    """Appends JSON lines to a file (created 0600); degrades to a warning if it cannot."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.error: str | None = None
        self._file: TextIO | None = None

    def _open(self) -> TextIO | None:
        if self._file is None and self.path is not None and self.error is None:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
                fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
                self._file = os.fdopen(fd, "a", encoding="utf-8")
            except OSError as exc:
                self.error = f"audit log disabled: cannot write {self.path}: {exc.strerror or exc}"
                print(f"wawp-tui: {self.error}", file=sys.stderr)
        return self._file

    def write(self, at: float, event: str, **fields: Any) -> None:
        """Append one record; `at` is Unix seconds."""
        record = {
            "ts": datetime.fromtimestamp(at, timezone.utc).isoformat(timespec="milliseconds"),
            "event": event,
            **fields,
        }
        handle = self._open()
        if handle is None:
            return
        try:
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
            handle.flush()
        except OSError as exc:
            self.error = f"audit log write failed: {exc.strerror or exc}"

    def close(self) -> None:
        """Close the file (it is reopened on the next write)."""
        if self._file is not None:
            self._file.close()
            self._file = None
