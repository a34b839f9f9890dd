"""The team's shape as real processes on 127.0.0.1: the simulator pushing signed webhooks,
the hub (`wawp-tui serve`), and two operators' screens attached to it in tmux.

Both press r on the same instance at once: one restart reaches the simulator, and the
other screen shows the hub's refusal naming the first operator. A change on the
simulator reaches both screens through the doorbell (the hub's steady polls are a minute
apart). The hub is killed: both screens keep their rows, marked stale, and refuse actions;
it starts again on the same address: they come back by themselves."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time

import httpx

from tests.tmux import Terminal, needs_tmux

TOKENS = {"alice": "alice-e2e-TOKEN-0123456789", "bob": "bob-e2e-TOKEN-0123456789ab"}
SECRET = "whsec-e2e-0123456789abcdef"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _until(condition, limit: float = 60.0, what: str = ""):
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(0.2)
    raise AssertionError(f"not within {limit}s: {what}")


def _toasts(screen: str) -> str:
    """What the screen told: the notifications (right of their ▌ border) and the event log
    (right of the ▏ border), each joined across its wrapped lines."""
    told = [line.split("▌", 1)[1].strip() for line in screen.splitlines() if "▌" in line]
    logged = [line.rsplit("▏", 1)[1].strip() for line in screen.splitlines() if "▏" in line]
    return " ".join(told) + " | " + " ".join(logged)


class _Hub:
    def __init__(self, config, port, env):
        self.argv = [sys.executable, "-m", "wawp_tui", "serve", "--config", str(config),
                     "--listen", f"127.0.0.1:{port}"]
        self.env, self.url = env, f"http://127.0.0.1:{port}"
        self.start()

    def start(self):
        self.proc = subprocess.Popen(self.argv, env=self.env, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
        _until(lambda: self._healthy(), 30, "the hub answers")

    def _healthy(self):
        try:
            return httpx.get(f"{self.url}/healthz", timeout=2).status_code == 200
        except httpx.HTTPError:
            return self.proc.poll() is not None and (_ for _ in ()).throw(AssertionError("hub exited"))

    def kill(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=20)


@needs_tmux
def test_two_screens_one_gate_a_doorbell_and_a_hub_that_goes_and_comes_back(tmp_path):
    sim_port, hub_port = _free_port(), _free_port()
    home = tmp_path / "home"
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("WAWP_")},
           "HOME": str(home), "XDG_STATE_HOME": str(home / "state"),
           "XDG_CONFIG_HOME": str(home / "config"), "PYTHONPATH": os.getcwd(),
           "WH_SECRET": SECRET, "TOK_ALICE": TOKENS["alice"], "TOK_BOB": TOKENS["bob"]}
    config = tmp_path / "hub.toml"
    printed = subprocess.run([sys.executable, "-m", "wawp_tui", "simulate", "--scenario", "healthy",
                              "--instances", "3", "--port", str(sim_port), "--print-config"],
                             env=env, capture_output=True, text=True, check=True).stdout
    config.write_text(printed.replace("[api]", "[monitor]\nrefresh = 60.0\n\n[api]") + (
        '\n[hub]\nwebhook_secret_env = "WH_SECRET"\n'
        '[[hub.users]]\nname = "alice"\ntoken_env = "TOK_ALICE"\nrole = "operator"\n'
        '[[hub.users]]\nname = "bob"\ntoken_env = "TOK_BOB"\nrole = "operator"\n'))
    config.chmod(0o600)
    ids = re.findall(r'^id = "(\w+)"', printed, re.M)
    sim = subprocess.Popen([sys.executable, "-m", "wawp_tui", "simulate", "--scenario", "healthy",
                            "--instances", "3", "--port", str(sim_port),
                            "--webhook", f"http://127.0.0.1:{hub_port}/webhooks/wawp",
                            "--webhook-secret-env", "WH_SECRET"],
                           env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    sim_url = f"http://127.0.0.1:{sim_port}"
    hub = screens = None
    try:
        _until(lambda: _answers(sim_url), 30, "the simulator answers")
        hub = _Hub(config, hub_port, env)
        screens = {user: Terminal(f"hub-{user}", Terminal.wawp("--hub", hub.url),
                                  {**env, "WAWP_HUB_TOKEN": TOKENS[user],
                                   "XDG_STATE_HOME": str(home / user)}, cwd=tmp_path, size=(120, 30))
                   for user in TOKENS}
        for user, term in screens.items():
            term.wait_for(f"{user} (operator)")
            term.wait_for("3 WORKING")
        # Both press r on the highlighted row (the same instance: same order), then y together.
        for term in screens.values():
            term.keys("r")
        for term in screens.values():
            # (A key pressed the instant the first rows show was lost in about one run in
            # five on a loaded machine, before any of this test's business: pressed again.)
            for attempt in range(3):
                try:
                    _until(lambda t=term: re.search(r"Restart [\w ]+\?", t.screen()), 10, "the confirmation")
                    break
                except AssertionError:
                    if attempt == 2:
                        raise AssertionError(term.screen()) from None
                    term.keys("r")
        for term in screens.values():
            term.keys("y")
        calls = lambda: [c for c in httpx.get(f"{sim_url}/_sim/calls", timeout=5).json()  # noqa: E731
                         if c["endpoint"].endswith("/restart")]
        _until(lambda: calls(), 30, "a restart on the simulator")
        try:
            # The screen that names the *other* operator (its own name is in its detail
            # pane once its restart went out: "Booting after a restart (by alice)").
            other = {"alice": "bob", "bob": "alice"}
            refused = _until(lambda: next(((u, s) for u, t in screens.items()
                                           if f"(by {other[u]})" in _toasts(s := t.screen())), None), 30,
                             "one screen shows the hub's refusal")
        except AssertionError:
            raise AssertionError("\n\n".join(t.screen() for t in screens.values())) from None
        user, screen = refused
        first = "alice" if user == "bob" else "bob"
        assert f"(by {first})" in _toasts(screen), screen
        assert len(calls()) == 1, calls()
        # The doorbell: FAILED on the simulator is on both screens long before a steady poll.
        httpx.post(f"{sim_url}/_sim/set", json={"instance_id": ids[2], "raw_status": "FAILED"}, timeout=5)
        for term in screens.values():
            term.wait_for("FAILED", limit=20)
        # The hub dies: rows stay, stale; an action is refused, nothing sent.
        hub.kill()
        for term in screens.values():
            term.wait_for("No news from the hub", limit=30)
            _until(lambda t=term: "WORKING ~" in t.screen(), 10, "rows marked stale")
        term = screens["alice"]
        term.keys("x")
        try:
            _until(lambda: "hub unreachable" in _toasts(term.screen()) and "nothing sent" in _toasts(term.screen()),
                   20, "the stop refused: hub unreachable")
        except AssertionError:
            raise AssertionError(term.screen()) from None
        assert not [c for c in httpx.get(f"{sim_url}/_sim/calls", timeout=5).json()
                    if c["endpoint"].endswith("/stop")]
        # Back on the same address: the screens recover by themselves.
        hub.start()
        for term in screens.values():
            _until(lambda t=term: "No news from the hub" not in (s := t.screen()) and "stale" not in s.splitlines()[0],
                   40, "the screen recovered")
    finally:
        for term in (screens or {}).values():
            term.keys("q")
            term.close()
        if hub is not None:
            hub.stop()
        sim.terminate()
        sim.wait(timeout=20)


def _answers(url: str) -> bool:
    try:
        return httpx.get(f"{url}/_sim/state", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def _cwd_is_the_checkout(monkeypatch):
    monkeypatch.chdir(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
