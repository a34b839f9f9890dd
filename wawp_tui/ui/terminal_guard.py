"""TerminalGuard: the TUI process ends when its terminal goes away, whatever state it is in.

When an SSH connection drops or `tmux kill-session` closes the terminal, Textual's output
thread dies on its next write, its bounded queue fills, and the event loop then blocks in
`queue.put` for ever (the pattern of Textual issue #6692): the loop never runs again, so
an asyncio signal handler never fires. This guard works beside the loop, not inside it:

- real signal handlers (SIGTERM, SIGHUP, SIGINT): the first asks the app to exit; a
  second one ends the process at once;
- a watchdog thread that notices the terminal hanging up (POLLHUP on the tty) and asks
  the app to exit;
- once an exit was asked for, the process is ended after `grace` seconds if it has not
  ended by itself: the terminal is restored where it still exists, then `os._exit`.

No Textual import: it is handed a thread-safe `request_exit` callable.
"""

from __future__ import annotations

import os
import select
import signal
import termios
import threading
import time
from collections.abc import Callable

#: Seconds between looks at the terminal.
POLL_SECONDS = 0.25
#: Seconds a graceful exit may take before the process is ended.
GRACE_SECONDS = 3.0
#: Exit code when the terminal went away (as if killed by SIGHUP).
EXIT_TERMINAL_GONE = 128 + signal.SIGHUP
#: What a terminal needs to be usable again: main screen, cursor, no mouse, no paste mode.
RESTORE = (b"\x1b[?1049l\x1b[?25h\x1b[?1000l\x1b[?1002l\x1b[?1003l\x1b[?1006l\x1b[?1015l"
           b"\x1b[?2004l\x1b[0m")
_GONE = select.POLLHUP | select.POLLERR | select.POLLNVAL


class TerminalGuard:
    """Install before `App.run`, uninstall after it returns (or use as a context manager)."""

    def __init__(self, request_exit: Callable[[], None], *, grace: float = GRACE_SECONDS,
                 poll: float = POLL_SECONDS, pipes: bool = False) -> None:
        self.request_exit = request_exit
        self.grace = grace
        self.poll = poll
        # With `pipes` (a browser tab's process: its screen goes through pipes to the wall
        # page's server), the pipes are watched as a terminal is: the server gone (even
        # killed), they hang up, and the process leaves instead of living on as an orphan.
        self._fds = [fd for fd in (0, 1, 2) if _isatty(fd) or (pipes and fd < 2 and _is_pipe(fd))]
        self._saved_modes = _termios_modes(self._fds[0]) if self._fds else None
        self._exit_by: float | None = None
        self._exit_code = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="wawp-terminal-guard", daemon=True)
        self._previous: dict[int, object] = {}
        #: Why the process is leaving ("SIGHUP", "terminal closed"), for the caller.
        self.reason: str | None = None

    @property
    def exit_code(self) -> int | None:
        """128 + the signal when a signal or a vanished terminal ended the app (what a shell
        or a supervisor expects of a process that was told to stop), else None."""
        return self._exit_code if self.reason is not None else None

    def __enter__(self) -> TerminalGuard:
        self.install()
        return self

    def __exit__(self, *exc: object) -> None:
        self.uninstall()

    def install(self) -> None:
        for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
            try:
                self._previous[sig] = signal.signal(sig, self._on_signal)
            except (ValueError, OSError):  # not the main thread: nothing to guard here
                pass
        self._thread.start()

    def uninstall(self) -> None:
        self._stop.set()
        for sig, previous in self._previous.items():
            try:
                signal.signal(sig, previous)  # type: ignore[arg-type]
            except (ValueError, OSError, TypeError):
                pass

    # -- the two ways in ------------------------------------------------------------

    def _on_signal(self, signum: int, frame: object) -> None:
        if self._exit_by is not None:
            self._hard_exit(128 + signum)  # asked twice: no more waiting
        self._begin_exit(signal.Signals(signum).name, 128 + signum)

    def _watch(self) -> None:
        poller = select.poll()
        for fd in self._fds:
            poller.register(fd, 0)  # HUP, ERR and NVAL are always reported
        while not self._stop.wait(self.poll):
            if self._exit_by is None and self._fds and _hung_up(poller):
                self._begin_exit("terminal closed", EXIT_TERMINAL_GONE)
            if self._exit_by is not None and time.monotonic() >= self._exit_by:
                self._hard_exit(self._exit_code)

    # -- leaving ----------------------------------------------------------------------

    def _begin_exit(self, reason: str, code: int) -> None:
        self.reason = reason
        self._exit_code = code
        self._exit_by = time.monotonic() + self.grace
        try:
            self.request_exit()
        except Exception:  # noqa: BLE001 - the loop may be closed already; the deadline holds
            pass

    def _hard_exit(self, code: int) -> None:
        """Restore what can be restored, then end the process without waiting for anyone."""
        try:
            fd = os.open("/dev/tty", os.O_WRONLY | os.O_NONBLOCK | os.O_NOCTTY)
        except OSError:
            fd = None  # the terminal is gone: nothing to restore
        if fd is not None:
            try:
                os.write(fd, RESTORE)
                if self._saved_modes is not None:
                    termios.tcsetattr(fd, termios.TCSANOW, self._saved_modes)
            except OSError:
                pass
            finally:
                os.close(fd)
        os._exit(code)


def _isatty(fd: int) -> bool:
    try:
        return os.isatty(fd)
    except OSError:
        return False


def _is_pipe(fd: int) -> bool:
    import stat

    try:
        return stat.S_ISFIFO(os.fstat(fd).st_mode)
    except OSError:
        return False


def _termios_modes(fd: int) -> list | None:
    try:
        return termios.tcgetattr(fd)
    except termios.error:
        return None


def _hung_up(poller: select.poll) -> bool:
    try:
        return any(mask & _GONE for _, mask in poller.poll(0))
    except OSError:
        return True
