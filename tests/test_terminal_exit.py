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


def spawn(env_home, term="xterm-256color"):
    pid, fd = pty.fork()
    if pid == 0:  # the child: the app, as a user would start it
        env = {"PATH": os.environ.get("PATH", ""), "HOME": env_home, "TERM": term,
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
    # Quitting is 0; told to stop by a signal, the clean exit still says which (128 + N).
    expected = {"SIGTERM": 128 + signal.SIGTERM, "SIGHUP": 128 + signal.SIGHUP}.get(how, 0)
    assert os.waitstatus_to_exitcode(status) == expected
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


def spawn_without_sighup(env_home):
    """As `spawn`, but SIGHUP is blocked in the child: when the terminal goes, only the
    app's own watch on the terminal can notice (as when it is not the session leader and
    no shell forwards the hangup)."""
    pid, fd = pty.fork()
    if pid == 0:
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGHUP})
        env = {"PATH": os.environ.get("PATH", ""), "HOME": env_home, "TERM": "xterm-256color",
               "XDG_CONFIG_HOME": f"{env_home}/.config", "XDG_STATE_HOME": f"{env_home}/.state",
               "XDG_DATA_HOME": f"{env_home}/.data", "LANG": "C.UTF-8"}
        os.execve(sys.executable, [sys.executable, "-m", "wawp_tui", "--demo"], env)
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    return pid, fd


def seconds_to_exit(pid, limit: float = 15.0) -> tuple[float, int]:
    """How long the child takes to end (it is killed after `limit`), and its status."""
    started = time.monotonic()
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return time.monotonic() - started, status
        if time.monotonic() - started > limit:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            return float("inf"), -1
        time.sleep(0.02)


def test_terminal_vanishing_ten_times_in_a_row(tmp_path):
    """An SSH drop or `tmux kill-session`, ten times: each time the process is gone
    within 5 s and leaves nothing behind in its session."""
    times = []
    for n in range(10):
        pid, fd = spawn(str(tmp_path / f"home{n}"))
        read_until(fd, b"WORKING")
        os.close(fd)
        elapsed, _ = seconds_to_exit(pid)
        times.append(elapsed)
        assert session_members(pid) == []
    assert max(times) <= 5.0, times


def test_terminal_vanishing_without_a_hangup_signal(tmp_path):
    """No SIGHUP arrives: the app notices the dead terminal itself and ends within 5 s."""
    pid, fd = spawn_without_sighup(str(tmp_path))
    read_until(fd, b"WORKING")
    os.close(fd)
    elapsed, status = seconds_to_exit(pid)
    assert elapsed <= 5.0
    assert os.WIFEXITED(status)
    assert session_members(pid) == []


GUARDED_SLEEPER = """
import sys, time
from wawp_tui.ui.terminal_guard import TerminalGuard
# A stuck app: asking it to exit does nothing, as when its event loop is blocked (it only
# says it was asked, so the test knows the first signal was handled before the second).
guard = TerminalGuard(lambda: print("asked", flush=True), grace=float(sys.argv[1]))
guard.install()
print("ready", flush=True)
time.sleep(120)
"""


@pytest.mark.parametrize("grace, signals, most", [(60.0, 2, 3.0), (1.0, 1, 4.0)])
def test_a_stuck_app_still_ends(grace, signals, most):
    """A second SIGTERM ends a stuck process at once; a single one after the grace."""
    import subprocess

    proc = subprocess.Popen([sys.executable, "-c", GUARDED_SLEEPER, str(grace)],
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "ready"
        started = time.monotonic()
        for n in range(signals):
            proc.send_signal(signal.SIGTERM)
            if n + 1 < signals:  # two signals sent at once may arrive as one
                assert proc.stdout.readline().strip() == "asked"
        code = proc.wait(timeout=10)
        assert time.monotonic() - started <= most
        assert code == 128 + signal.SIGTERM
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_the_demo_leaves_the_real_audit_log_and_history_alone(tmp_path):
    """A restart confirmed in the demo reaches the demo's own simulator only: nothing is
    written to the user's audit log, history or rollout state."""
    pid, fd = spawn(str(tmp_path))
    try:
        read_until(fd, b"FAILED")  # the demo's top row is FAILED: r restarts it
        os.write(fd, b"r")
        read_until(fd, b"y / enter")
        os.write(fd, b"y")
        read_until(fd, b"restarted, now")  # the toast: the demo's server answered
        os.write(fd, b"q")
        status, _ = wait_exit(pid, fd)
    finally:
        os.close(fd)
    assert os.waitstatus_to_exitcode(status) == 0
    written = [p.name for p in tmp_path.rglob("*") if p.is_file()]
    assert not [n for n in written if "audit" in n or "history" in n or "rollout" in n], written


def test_a_dumb_terminal_gets_one_line_not_a_screenful_of_escapes(tmp_path):
    pid, fd = spawn(str(tmp_path), term="dumb")
    try:
        status, tail = wait_exit(pid, fd)
    finally:
        os.close(fd)
    assert os.waitstatus_to_exitcode(status) == 2
    text = tail.decode("utf-8", "replace").strip()
    assert text.splitlines() == [
        "wawp-tui: this terminal (TERM=dumb) cannot draw the TUI; set TERM (e.g. "
        "xterm-256color) or use: wawp-tui status"]
    assert b"\x1b" not in tail
