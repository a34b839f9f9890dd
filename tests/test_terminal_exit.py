"""The real program in a pseudo-terminal: every way out restores the terminal and leaves
no process behind (q, ctrl+c, SIGTERM, and the SSH connection dropping, i.e. SIGHUP when
the terminal goes away)."""

import fcntl
import os
import pty
import select
import signal
import struct
import sys
import termios
import time

import pytest

LEAVE_ALT_SCREEN = b"\x1b[?1049l"
SHOW_CURSOR = b"\x1b[?25h"


def spawn(env_home):
    pid, fd = pty.fork()
    if pid == 0:  # the child: the app, as a user would start it
        env = {"PATH": os.environ.get("PATH", ""), "HOME": env_home, "TERM": "xterm-256color",
               "XDG_CONFIG_HOME": f"{env_home}/.config", "XDG_STATE_HOME": f"{env_home}/.state",
               "XDG_DATA_HOME": f"{env_home}/.data", "LANG": "C.UTF-8"}
        os.execve(sys.executable, [sys.executable, "-m", "wawp_tui", "--demo"], env)
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    return pid, fd


def read_until(fd, needle: bytes, limit: float = 30.0) -> bytes:
    """Read what the app draws until `needle` shows up (select waits for output)."""
    seen = b""
    deadline = time.monotonic() + limit
    while needle not in seen:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError(f"{needle!r} never appeared; last output {seen[-300:]!r}")
        ready, _, _ = select.select([fd], [], [], left)
        if ready:
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                break
            if not chunk:
                break
            seen += chunk
    return seen


def wait_exit(pid, fd, limit: float = 20.0) -> tuple[int, bytes]:
    """Drain output until the child exits; its exit status and the last output."""
    tail = b""
    deadline = time.monotonic() + limit
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            raise AssertionError("the app did not exit")
        if fd is not None:
            ready, _, _ = select.select([fd], [], [], 0.2)
            if ready:
                try:
                    tail += os.read(fd, 65536)
                except OSError:
                    fd = None
        else:
            select.select([], [], [], 0.05)
    if fd is not None:
        try:
            while True:
                ready, _, _ = select.select([fd], [], [], 0.1)
                if not ready:
                    break
                chunk = os.read(fd, 65536)
                if not chunk:
                    break
                tail += chunk
        except OSError:
            pass
    return status, tail


def session_members(sid: int) -> list[int]:
    """Processes still in the app's session (pty.fork made it a session leader)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat", "rb") as handle:
                    fields = handle.read().rsplit(b")", 1)[1].split()
            except OSError:
                continue
            if int(fields[3]) == sid and fields[0] != b"Z":
                found.append(int(entry))
    return found


@pytest.mark.parametrize("how", ["q", "ctrl+c", "SIGTERM", "SIGHUP"])
def test_every_way_out_restores_the_terminal(tmp_path, how):
    pid, fd = spawn(str(tmp_path))
    try:
        read_until(fd, b"WORKING")
        if how == "q":
            os.write(fd, b"q")
        elif how == "ctrl+c":
            os.write(fd, b"\x03")
        elif how == "SIGTERM":
            os.kill(pid, signal.SIGTERM)
        else:
            os.kill(pid, signal.SIGHUP)
        status, tail = wait_exit(pid, fd)
    finally:
        os.close(fd)
    assert os.waitstatus_to_exitcode(status) == 0
    assert LEAVE_ALT_SCREEN in tail and SHOW_CURSOR in tail
    assert b"Traceback" not in tail
    assert session_members(pid) == []


def test_terminal_closing_under_the_app(tmp_path):
    """The SSH connection drops: the terminal is gone, the kernel sends SIGHUP."""
    pid, fd = spawn(str(tmp_path))
    read_until(fd, b"WORKING")
    os.close(fd)
    status, _ = wait_exit(pid, None)
    assert os.WIFEXITED(status) or os.WIFSIGNALED(status)
    assert session_members(pid) == []
