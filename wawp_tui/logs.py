"""Logging that can never leak a token or write escape sequences.

Nothing is logged to the terminal (it belongs to the TUI or to the report); warnings and
worker errors go to a private file under the state folder, through the same boundary as
every other output.
"""

from __future__ import annotations

import logging
import logging.handlers
import os
from pathlib import Path

from wawp_tui.safe_text import clean

#: Longest log message kept (a traceback fits).
MAX_RECORD = 20_000


class RedactingFilter(logging.Filter):
    """Rewrites every record through the boundary: tokens redacted, controls visible.

    Lines are cleaned one by one, so a traceback keeps its shape.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            text = record.getMessage()
        except Exception:  # noqa: BLE001 - a broken format string must not lose the record
            text = str(record.msg)
        record.msg = "\n".join(clean(line, MAX_RECORD) for line in text.splitlines()) or ""
        record.args = None
        if record.exc_info:
            import traceback

            trace = "".join(traceback.format_exception(*record.exc_info))
            record.msg += "\n" + "\n".join(clean(line, 500) for line in trace.splitlines())
            record.exc_info = None
            record.exc_text = None
        return True


class _PrivateFileHandler(logging.handlers.RotatingFileHandler):
    """A rotating log file created 0600 (it is ours; nobody else needs to read it)."""

    def _open(self):
        fd = os.open(self.baseFilename, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        return os.fdopen(fd, "a", encoding="utf-8", errors="replace")

    def handleError(self, record: logging.LogRecord) -> None:
        # logging's default prints a traceback on stderr: into a report, or onto the
        # screen the TUI draws. A log that cannot be written is dropped instead.
        pass


def log_to_file(path: Path, level: int = logging.WARNING, *, create: bool = True) -> str | None:
    """Send every log record to `path` (rotated at 1 MB); returns a problem or None.

    With a handler on the root logger, Python's last-resort handler no longer prints
    warnings into the terminal the TUI draws on. `create=False`: no folder is made (a
    read-only command): records are dropped when the folder does not exist, and the
    file itself is opened only when a record comes.
    """
    root = logging.getLogger()
    for existing in root.handlers:
        if isinstance(existing, _PrivateFileHandler) and existing.baseFilename == str(path.absolute()):
            return None  # already set up (main() called again in one process)
    try:
        if create:
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        if create or path.parent.is_dir():
            handler: logging.Handler = _PrivateFileHandler(path, maxBytes=1_000_000, backupCount=1,
                                                           delay=not create)
        else:
            handler = logging.NullHandler()
        problem = None
    except OSError as exc:
        handler = logging.NullHandler()
        problem = f"log file off: cannot write {path}: {exc.strerror or exc}"
    handler.addFilter(RedactingFilter())
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root.addHandler(handler)
    root.setLevel(min(root.level or level, level))
    return problem
