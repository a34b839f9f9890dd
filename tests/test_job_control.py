"""ctrl+z suspends the real program in a pseudo-terminal as any terminal program does:
the terminal is given back (main screen, cursor shown) and the process stops; SIGCONT
(what `fg` sends) brings the screen back, redrawn, and the app still works."""

from __future__ import annotations

import os
import select
import shutil
import signal
import subprocess
import sys
import time

import pytest

from tests.test_terminal_exit import LEAVE_ALT_SCREEN, SHOW_CURSOR, read_until, spawn, wait_exit

ENTER_ALT_SCREEN = b"\x1b[?1049h"


def state(pid: int) -> str:
    """The process state letter from /proc (R, S, T for stopped, Z, ...)."""
    with open(f"/proc/{pid}/stat", "rb") as handle:
        return handle.read().rsplit(b")", 1)[1].split()[0].decode()


def wait_state(pid: int, wanted: set[str], limit: float = 30.0) -> str:
    deadline = time.monotonic() + limit
    while True:
        now = state(pid)
        if now in wanted or time.monotonic() > deadline:
            return now
        time.sleep(0.02)


def drain(fd: int) -> bytes:
    """What the program wrote that is still unread (it is stopped: nothing more comes)."""
    got = b""
    while select.select([fd], [], [], 0.2)[0]:
        try:
            chunk = os.read(fd, 65536)
        except OSError:
            break
        if not chunk:
            break
        got += chunk
    return got


def test_ctrl_z_gives_the_terminal_back_and_fg_redraws(tmp_path):
    pid, fd = spawn(str(tmp_path))
    try:
        read_until(fd, b"wawp-demo.invalid")  # the context line: the first frame is out
        drain(fd)
        os.write(fd, b"\x1a")  # ctrl+z
        given_back = read_until(fd, LEAVE_ALT_SCREEN)
        assert wait_state(pid, {"T"}) == "T"  # stopped, as a shell's job
        assert SHOW_CURSOR in given_back + drain(fd)
        os.kill(pid, signal.SIGCONT)  # fg
        assert wait_state(pid, {"R", "S"}) in ("R", "S")
        read_until(fd, ENTER_ALT_SCREEN)
        # the whole screen again, even the lines that did not change (the context line)
        read_until(fd, b"wawp-demo.invalid")
        os.write(fd, b"q")
        status, tail = wait_exit(pid, fd)
    finally:
        os.close(fd)
    assert os.waitstatus_to_exitcode(status) == 0
    assert LEAVE_ALT_SCREEN in tail and b"Traceback" not in tail


def settled(screen_shows, limit: float = 30.0) -> bool:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        shown = screen_shows("alerts", 1.0)
        if "alerts" in shown and "PENDING" not in shown:
            return True
    return False


def test_ctrl_z_then_fg_in_a_real_shell_redraws_the_whole_screen(tmp_path):
    """As a person does it, in tmux: ctrl+z gives the shell back (the job is "Stopped",
    a command typed goes to the shell, not the TUI), `fg` brings the TUI back with every
    line drawn, the unchanging context line included."""
    if shutil.which("tmux") is None:
        pytest.skip("needs tmux (Debian: apt-get install tmux)")
    server = f"wawp-test-{os.getpid()}"
    home = str(tmp_path)

    def tmux(*args: str) -> str:
        return subprocess.run(["tmux", "-L", server, *args], capture_output=True, text=True,
                              timeout=30).stdout

    def screen_shows(text: str, limit: float = 30.0) -> str:
        deadline = time.monotonic() + limit
        while True:
            shown = tmux("capture-pane", "-p")
            if text in shown or time.monotonic() > deadline:
                return shown
            time.sleep(0.1)

    env = {"HOME": home, "XDG_CONFIG_HOME": f"{home}/.config", "XDG_STATE_HOME": f"{home}/.state",
           "TERM": "xterm-256color", "LANG": "C.UTF-8", "PATH": os.environ.get("PATH", "")}
    shell = "env -i " + " ".join(f"{k}={v}" for k, v in env.items()) + " bash --norc --noprofile -i"
    tmux("-f", "/dev/null", "new-session", "-d", "-x", "100", "-y", "30", shell)
    try:
        tmux("send-keys", "PS1='ready$ '", "Enter")
        tmux("send-keys", f"{sys.executable} -m wawp_tui --demo", "Enter")
        assert "wawp-demo.invalid" in screen_shows("wawp-demo.invalid")
        # settled: every instance polled once and the alerts drawn (no layout change left
        # that would redraw the screen by chance after `fg`)
        assert settled(screen_shows)
        tmux("send-keys", "C-z")
        assert "Stopped" in screen_shows("Stopped")
        tmux("send-keys", "echo typed-in-the-shell", "Enter")
        assert "typed-in-the-shell" in screen_shows("ready$ echo typed-in-the-shell")
        tmux("send-keys", "fg", "Enter")
        shown = screen_shows("wawp-demo.invalid")
        assert "wawp-demo.invalid" in shown and "WORKING" in shown, shown
        tmux("send-keys", "q")
        screen_shows("ready$", 20)
    finally:
        tmux("kill-server")
