"""Child processes that die with their parent.

`wawp-tui bench` killed hard (SIGKILL, as a CI timeout does) left its simulator children
running for ever: a child does not learn that its parent died. Two guards, for every
process our code starts:

- in the child, before it becomes the program: Linux's PR_SET_PDEATHSIG asks the kernel
  to send it SIGTERM the moment its parent dies, however the parent died (SIGKILL
  included). The kernel ties this to the *thread* that forked, so children are started
  from the main thread. If the parent died before the request was made, the child ends
  at once. Elsewhere than Linux this guard is absent (the next one still holds);
- in the parent: `stop_on_signals` turns SIGTERM and SIGHUP into SystemExit (SIGINT is
  KeyboardInterrupt already), so the `with` blocks that own the children stop them.

No I/O, no Textual.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

#: prctl(2) option: the signal to receive when the parent dies.
PR_SET_PDEATHSIG = 1


def _load_prctl() -> Callable[..., int] | None:
    """libc's prctl, found once in the parent: the forked child only calls it (loading a
    library after a fork, in a process with threads, could deadlock)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        function: Callable[..., int] = libc.prctl
    except (OSError, AttributeError):
        return None
    return function


_PRCTL = _load_prctl()


def die_with(parent: int) -> None:
    """In a forked child: ask for SIGTERM when `parent` dies; end now if it already has."""
    if _PRCTL is not None:
        _PRCTL(PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0)
    if os.getppid() != parent:
        os._exit(128 + int(signal.SIGTERM))  # the parent died before the request was made


def dies_with_this_process() -> Callable[[], None]:
    """A `preexec_fn` for subprocess.Popen: the child dies with this process."""
    parent = os.getpid()

    def preexec() -> None:
        die_with(parent)

    return preexec


class Stopped(SystemExit):
    """Raised in the main thread by SIGTERM or SIGHUP under `stop_on_signals`."""


@contextmanager
def stop_on_signals() -> Iterator[None]:
    """SIGTERM and SIGHUP end the block as an exception (exit code 128 + the signal), so
    the context managers that own child processes stop them; the previous handlers come
    back afterwards."""
    def stop(signum: int, _frame: object) -> None:
        raise Stopped(128 + signum)

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
