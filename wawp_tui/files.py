"""The user's files and ours: atomic writes through symlinks, locks, private modes.

- `atomic_write`: temp file in the target's folder, fsync, rename over the target. A
  symlinked path is written through to the file it points to (a config kept in a
  dotfiles repository stays a link). The file keeps its mode; a new one is 0600.
- `locked`: an exclusive lock around a read-modify-write, so two `wawp-tui add` at the
  same moment both keep their entry.
- `append_private`: open for appending, created 0600 (audit, history, logs, crash report).
- `read_lines`: a state file read back line by line, each line capped, so one damaged
  or enormous line costs a warning, not the whole file; optionally only its tail, so a
  file that grew to gigabytes costs what a normal one does.
- `read_small`: a user's file (config, import, theme) read whole, but only a regular
  file and only up to a cap: a FIFO, /dev/zero or a folder is refused before any read
  (a read would hang or never end).
No Textual; errors are OSError for the caller to word.
"""

from __future__ import annotations

import errno
import fcntl
import os
import stat
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

#: Seconds to wait for another wawp-tui to finish editing the same file.
LOCK_WAIT = 10.0
#: Longest line read back from a state file; longer ones are skipped as damaged.
MAX_STATE_LINE = 64 * 1024


class LockTimeout(OSError):
    """Another process held the lock for longer than LOCK_WAIT."""


class NotAFile(OSError):
    """The path names something that is not a regular file; `str()` says what it is."""


class FileTooLarge(OSError):
    """The file is larger than the cap its reader accepts; `str()` says how large."""


#: What a path that is not a regular file is, in words.
_KINDS = ((stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a named pipe (FIFO)"),
          (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
          (stat.S_ISSOCK, "a socket"))


def read_small(path: Path, limit: int) -> bytes:
    """The bytes of a regular file of at most `limit` bytes.

    Opened without blocking (a FIFO with no writer would block the open) and checked
    with fstat on the open file, so a FIFO, a device or a folder is refused before any
    read (NotAFile), and a file growing past `limit` is never held whole (FileTooLarge).
    Other OSErrors (missing, permission) are the caller's to word.
    """
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY)
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            kind = next((name for test, name in _KINDS if test(mode)), "not a regular file")
            raise NotAFile(errno.EINVAL, kind)
        os.set_blocking(fd, True)
        chunks: list[bytes] = []
        size = 0
        while size <= limit:
            chunk = os.read(fd, min(1 << 20, limit + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        if size > limit:
            raise FileTooLarge(errno.EFBIG, f"larger than {limit // (1 << 20)} MiB")
        return b"".join(chunks)
    finally:
        os.close(fd)


def real_path(path: Path) -> Path:
    """The file a path names once its symlinks are followed (the path itself if none)."""
    return Path(os.path.realpath(path))


def atomic_write(path: Path, text: str, *, new_mode: int = 0o600) -> None:
    """Replace the file's content in one step; the old content survives any failure."""
    target = real_path(path)
    target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        mode = stat.S_IMODE(target.stat().st_mode)
    except FileNotFoundError:
        mode = new_mode
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    _fsync_dir(target.parent)


def _fsync_dir(folder: Path) -> None:
    """Make the rename itself durable (best effort: not every filesystem allows it)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@contextmanager
def locked(path: Path, wait: float = LOCK_WAIT) -> Iterator[None]:
    """Hold an exclusive lock for `path` (on `<file>.lock` beside its real target).

    The file itself cannot carry the lock: an atomic write replaces its inode.
    """
    target = real_path(path)
    target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    lock_path = target.with_name(f".{target.name}.lock")
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        deadline = time.monotonic() + wait
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError as exc:
                if exc.errno not in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                    raise
                if time.monotonic() >= deadline:
                    raise LockTimeout(errno.EAGAIN, "another wawp-tui is changing it") from None
                time.sleep(0.02)
        yield
    finally:
        os.close(fd)  # closing releases the lock


class Busy(OSError):
    """Another process holds the run lock of a file (see `held_while_running`)."""

    def __init__(self, holder: str) -> None:
        super().__init__(errno.EAGAIN, f"held by {holder}")
        self.holder = holder


@contextmanager
def held_while_running(path: Path) -> Iterator[None]:
    """Hold `path`'s run lock (`.<name>.running` beside its real target) for as long as a
    long job runs, or raise Busy at once naming the process that holds it. Unlike
    `locked`, it never waits: a second rollout must not queue behind the first."""
    target = real_path(path)
    target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    run_path = target.with_name(f".{target.name}.running")
    fd = os.open(run_path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno not in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                raise
            raise Busy(_holder_of(fd)) from None
        # One fixed-width write, never a truncate first: a reader sees the whole pid, a
        # blank, or (only after a crash) a pid that is no longer running.
        os.pwrite(fd, f"{os.getpid():<{_PID_WIDTH}}\n".encode(), 0)
        try:
            yield
        finally:
            os.pwrite(fd, b" " * _PID_WIDTH + b"\n", 0)
    finally:
        os.close(fd)  # closing releases the lock


_PID_WIDTH = 20
#: How long a blank run lock file is read again: the holder writes its pid microseconds
#: after taking the lock. Short, because the caller may be the TUI's event loop.
HOLDER_WAIT = 0.2


def _holder_of(fd: int) -> str:
    """Who holds a run lock, as "process N", or "another process" when its file names no
    running process (a crash left a pid behind, the holder lives in another pid
    namespace, or the file was written by something else)."""
    deadline = time.monotonic() + HOLDER_WAIT
    while True:
        pid = os.pread(fd, _PID_WIDTH + 1, 0).decode("ascii", "replace").strip()
        if pid:
            return f"process {pid}" if pid.isdigit() and _running(int(pid)) else "another process"
        if time.monotonic() >= deadline:
            return "another process"
        time.sleep(0.01)  # blank: the holder has the lock and is about to write its pid


def _running(pid: int) -> bool:
    if not 0 < pid < 2**31:
        return False  # (os.kill would take 0 for our own group, or overflow)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # exists, but belongs to someone else
    return True


def append_private(path: Path) -> IO[str]:
    """Open `path` for appending text, creating it (and its folder) private to the user."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    return os.fdopen(fd, "a", encoding="utf-8", errors="replace")


def read_lines(path: Path, max_line: int = MAX_STATE_LINE,
               tail: int | None = None) -> tuple[list[str], int]:
    """The lines of a state file (decoded leniently) and how many were too long to keep.

    `tail`: read only the last `tail` bytes (from the first whole line in them), so a
    state file that grew to gigabytes costs what a normal one does. FileNotFoundError and
    other OSErrors are the caller's to handle.
    """
    lines: list[str] = []
    too_long = 0
    with open(path, "rb") as handle:
        if tail is not None:
            size = os.fstat(handle.fileno()).st_size
            if size > tail:
                handle.seek(size - tail - 1)
                if handle.read(1) != b"\n":
                    # The line cut in two is not ours to read: skip to the end of it.
                    while (rest := handle.readline(max_line + 1)) and not rest.endswith(b"\n"):
                        pass
        while True:
            raw = handle.readline(max_line + 1)
            if not raw:
                break
            if len(raw) > max_line and not raw.endswith(b"\n"):
                too_long += 1
                # Skip the rest of the runaway line without holding it in memory.
                while raw and not raw.endswith(b"\n"):
                    raw = handle.readline(max_line + 1)
                continue
            lines.append(raw.decode("utf-8", "replace").rstrip("\r\n"))
    return lines, too_long


def read_tail(path: Path, size: int) -> bytes:
    """The last `size` bytes of a file, from the first whole line in them."""
    with open(path, "rb") as handle:
        total = os.fstat(handle.fileno()).st_size
        if total <= size:
            return handle.read()
        handle.seek(total - size - 1)
        data = handle.read(size + 1)
    if data.startswith(b"\n"):
        return data[1:]
    cut = data.find(b"\n")
    return data[cut + 1:] if cut >= 0 else b""
