"""The real program in a pseudo-terminal, watched from outside as a user's terminal sees it.

`TtyProcess` forks the program on a pty of a fixed size, reads everything it writes (a
terminal that stops reading would block the app), and reads the child's CPU time and
resident memory from /proc. First paint is the time from just before the fork until the
terminal has received a frame that shows a status word.
"""

from __future__ import annotations

import fcntl
import os
import pty
import signal
import struct
import termios
import threading
import time

from wawp_tui.children import die_with


def _ticks() -> int:
    return os.sysconf("SC_CLK_TCK")


class TtyProcess:
    """`argv` on a pty of `cols` x `rows`; stopped (SIGTERM, then SIGKILL) on exit."""

    def __init__(self, argv: list[str], env: dict[str, str], cols: int = 160, rows: int = 48,
                 watch: bytes | None = None) -> None:
        self._watch = watch
        self._rearmed = False
        self._seen = threading.Event()
        self.seen_at: float | None = None
        self.bytes_read = 0
        self.started = time.perf_counter()
        parent = os.getpid()
        pid, fd = pty.fork()
        if pid == 0:  # the child: size the terminal, then become the program
            try:
                die_with(parent)
                fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
                os.execve(argv[0], argv, {**env, "TERM": "xterm-256color"})
            finally:
                os._exit(127)
        self.pid, self.fd = pid, fd
        self._reader = threading.Thread(target=self._drain, daemon=True)
        self._reader.start()

    def rearm(self) -> None:
        """Watch for `watch` again, from the next bytes on (one trial after another)."""
        self.seen_at = None
        self._rearmed = True
        self._seen.clear()

    def _drain(self) -> None:
        tail = b""
        while True:
            try:
                chunk = os.read(self.fd, 65536)
            except OSError:
                return
            if not chunk:
                return
            self.bytes_read += len(chunk)
            if self._rearmed:
                self._rearmed, tail = False, b""
            if self._watch and self.seen_at is None:
                window = tail + chunk
                if self._watch in window:
                    self.seen_at = time.perf_counter()
                    self._seen.set()
                tail = window[-len(self._watch):]

    def wait_seen(self, timeout: float) -> float:
        """Seconds from the fork until `watch` reached the terminal."""
        if not self._seen.wait(timeout) or self.seen_at is None:
            raise RuntimeError(f"nothing matching {self._watch!r} within {timeout:g} s")
        return self.seen_at - self.started

    def cpu_s(self) -> float:
        """User + system CPU of the child so far (all its threads)."""
        with open(f"/proc/{self.pid}/stat", encoding="ascii") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / _ticks()

    def rss_mb(self) -> float:
        with open(f"/proc/{self.pid}/status", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
        return 0.0

    def _reaped(self, grace: float = 0.0) -> bool:
        """True once the child has exited (and is reaped), waiting up to `grace` s."""
        deadline = time.monotonic() + grace
        while True:
            try:
                if os.waitpid(self.pid, os.WNOHANG) != (0, 0):
                    return True
            except ChildProcessError:
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.02)

    def alive(self) -> bool:
        return not self._reaped()

    def stop(self) -> None:
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.kill(self.pid, sig)
            except ProcessLookupError:
                break
            if self._reaped(5.0):
                break
        try:
            os.close(self.fd)
        except OSError:
            pass
        self._reader.join(timeout=2)

    def __enter__(self) -> TtyProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
