"""Standard output as the commands use it: a closed reader, a full disk, a closed
descriptor or a narrow encoding is one clear outcome, never a traceback.

The rules (README, "Exit codes"):

- the reader left (`status | head -1`: EPIPE): nothing more is printed and the command
  ends as it would have, with its own exit code: the reader leaving is not a fleet
  problem (as `yes | head` ends quietly);
- any other failure (`> /dev/full`, `>&-`, an I/O error): `OutputFailed`, which the
  command line turns into one line on stderr and exit 74 (EX_IOERR; `check`: 3, UNKNOWN);
- an encoding that cannot carry a character (PYTHONIOENCODING=ascii, a C locale) prints
  a replacement instead of failing, and `symbols_fit` tells the table to use its ASCII
  symbols.
"""

from __future__ import annotations

import errno
import io
import os
import sys
from typing import Any, TextIO


class OutputFailed(Exception):
    """Standard output could not take what a command printed (not a closed reader)."""

    def __init__(self, reason: str, done: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        #: What the command had already done when its output failed ("the instance was
        #: added to ..."), for the message: an edit that was written must say so.
        self.done = done

    def message(self) -> str:
        text = f"cannot write to standard output: {self.reason}"
        return f"{text}; {self.done}" if self.done else text


def describe(exc: BaseException) -> str:
    """The reason of an output failure, in a few words."""
    if isinstance(exc, OSError) and exc.errno == errno.EBADF:
        return "it is closed"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    if isinstance(exc, ValueError):
        return "it is closed"
    return type(exc).__name__


class GuardedOutput(io.TextIOBase):
    """sys.stdout for the commands: every write either lands, is dropped because the
    reader left, or raises OutputFailed; never an OSError or an AttributeError."""

    def __init__(self, stream: TextIO | None) -> None:
        super().__init__()
        self._stream = stream
        #: The reader went away (EPIPE): everything after is dropped.
        self.reader_left = False

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return getattr(self._stream, "encoding", None) or "utf-8"

    @property
    def errors(self) -> str | None:  # type: ignore[override]
        return getattr(self._stream, "errors", None)

    def isatty(self) -> bool:
        try:
            return self._stream is not None and self._stream.isatty()
        except (OSError, ValueError):
            return False

    def fileno(self) -> int:
        if self._stream is None:
            raise OSError(errno.EBADF, "standard output is closed")
        return self._stream.fileno()

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        self._do("write", text)
        return len(text)

    def flush(self) -> None:
        self._do("flush")

    def _do(self, what: str, *args: Any) -> None:
        if self.reader_left:
            return
        if self._stream is None:
            raise OutputFailed("it is closed")
        try:
            getattr(self._stream, what)(*args)
        except BrokenPipeError:
            self.reader_left = True
            _silence(self._stream)
        except (OSError, ValueError) as exc:
            _silence(self._stream)
            raise OutputFailed(describe(exc)) from None


def _silence(stream: TextIO) -> None:
    """Point the descriptor at /dev/null, so what is still buffered (flushed again at
    exit by the interpreter) goes nowhere instead of failing a second time."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, stream.fileno())
        finally:
            os.close(devnull)
    except (OSError, ValueError):
        pass


def symbols_fit(stream: object) -> bool:
    """True when the stream's encoding can carry the table's symbols (✓ ✗ ◐ ▣ ■ ·)."""
    encoding = getattr(stream, "encoding", None) or "utf-8"
    try:
        "✓✗◐▣■·…".encode(encoding)
    except (UnicodeEncodeError, LookupError):
        return False
    return True


def guard_stdout() -> GuardedOutput:
    """Install the guard as sys.stdout (once); an encoding too narrow for a character
    gets a replacement character instead of an error."""
    if isinstance(sys.stdout, GuardedOutput):
        return sys.stdout
    stream = sys.stdout
    for each in (stream, sys.stderr):
        if each is not None and not symbols_fit(each) and isinstance(each, io.TextIOWrapper):
            try:
                each.reconfigure(errors="replace")
            except (OSError, ValueError):
                pass
    guarded = GuardedOutput(stream)
    sys.stdout = guarded
    return guarded


def release_stdout() -> None:
    """Give the interpreter's own sys.stdout back (tests that call main() twice)."""
    if isinstance(sys.stdout, GuardedOutput):
        sys.stdout = sys.stdout._stream
