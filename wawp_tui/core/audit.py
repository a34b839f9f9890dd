"""The audit log: one JSON object per line for every action and its outcome.

Flushed per line so a crash or a killed SSH session loses nothing already done. The
token is never given to this module, and every text field crosses the text boundary
before it is written, so a server that echoes a token cannot put it here either.
When the log cannot be written, `error` says why (the TUI shows it in the header and the
event log, the CLI on stderr): actions are never silently unaudited.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from wawp_tui.files import append_private
from wawp_tui.safe_text import clean, clean_data


class AuditLog:
    """Appends JSON lines to a file (created 0600); records why when it cannot."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        #: Why the audit log is off ("audit log off: cannot write ...: Permission denied").
        self.error: str | None = None
        self._file: IO[str] | None = None
        self._probe()

    def _probe(self) -> None:
        """Find out at start whether the log can be written, without creating it: the
        operator must learn that actions go unrecorded before the first action, not after."""
        if self.path is None:
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        except OSError as exc:
            self.error = f"audit log off: cannot write {self.path}: {exc.strerror or exc}"
            return
        target = self.path if self.path.exists() else self.path.parent
        if not os.access(target, os.W_OK) or self.path.is_dir():
            self.error = f"audit log off: cannot write {self.path}: permission denied"

    def _open(self) -> IO[str] | None:
        if self._file is None and self.path is not None and self.error is None:
            try:
                self._file = append_private(self.path)
            except OSError as exc:
                self.error = f"audit log off: cannot write {self.path}: {exc.strerror or exc}"
        return self._file

    def write(self, at: float, event: str, **fields: Any) -> None:
        """Append one record; `at` is Unix seconds."""
        record = {
            "ts": datetime.fromtimestamp(at, UTC).isoformat(timespec="milliseconds"),
            "event": clean(event, 40),
            **{clean(k, 40): clean_data(v, limit=500) for k, v in fields.items()},
        }
        handle = self._open()
        if handle is None:
            return
        try:
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
            handle.flush()
        except OSError as exc:
            self.error = f"audit log off: write failed: {exc.strerror or exc}"
            self.close()

    def close(self) -> None:
        """Close the file (it is reopened on the next write unless it failed)."""
        if self._file is not None:
            try:
                self._file.close()
            except OSError:
                pass
            self._file = None
