"""A TUI of ours in a real terminal: tmux on a private socket, driven with send-keys and
read with capture-pane, as a person would see it. Every server it starts, it kills."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path

import pytest

HAVE_TMUX = shutil.which("tmux") is not None
needs_tmux = pytest.mark.skipif(not HAVE_TMUX, reason="tmux not found: install Debian's tmux "
                                "(apt-get install tmux) or run .ci/run, which installs it")


class Terminal:
    """One tmux server (a private socket) with one window running `argv`."""

    def __init__(self, name: str, argv: list[str], env: Mapping[str, str], *, cwd: Path,
                 size: tuple[int, int] = (80, 24)) -> None:
        self.socket = f"wawp-test-{os.getpid()}-{name}"
        self.env = {"PATH": os.environ.get("PATH", ""), "TERM": "xterm-256color", "LANG": "C.UTF-8",
                    **env}
        command = " ".join(shlex.quote(a) for a in argv)
        assigns = " ".join(f"{k}={shlex.quote(v)}" for k, v in self.env.items())
        # `remain-on-exit`: a crash stays on screen for the assertion that follows.
        self._tmux("new-session", "-d", "-x", str(size[0]), "-y", str(size[1]),
                   f"env -i {assigns} {command}", cwd=cwd)
        self._tmux("set-option", "-g", "remain-on-exit", "on")

    @staticmethod
    def wawp(*args: str) -> list[str]:
        """The command line of this checkout's wawp-tui."""
        return [sys.executable, "-m", "wawp_tui", *args]

    def _tmux(self, *args: str, cwd: Path | None = None) -> str:
        done = subprocess.run(["tmux", "-L", self.socket, *args], capture_output=True, text=True,
                              cwd=cwd, timeout=30, check=False)
        return done.stdout

    def keys(self, *keys: str) -> None:
        """Press keys (tmux names: "Enter", "Escape", "C-c", or plain characters)."""
        for key in keys:
            self._tmux("send-keys", "-t", "0", key)

    def screen(self) -> str:
        return self._tmux("capture-pane", "-p", "-t", "0")

    def styled_screen(self) -> str:
        """The screen with its colours and attributes, as SGR escape sequences."""
        return self._tmux("capture-pane", "-p", "-e", "-t", "0")

    def wait_for(self, text: str, limit: float = 60.0) -> str:
        """The screen once `text` is on it (AssertionError with the screen after `limit`)."""
        deadline = time.monotonic() + limit
        screen = ""
        while time.monotonic() < deadline:
            screen = self.screen()
            if text in screen:
                return screen
            time.sleep(0.2)
        raise AssertionError(f"{text!r} never showed; the screen:\n{screen}")

    def close(self) -> None:
        self._tmux("kill-server")
