"""Processes our commands start die with them: `wawp-tui bench` killed hard (SIGKILL, as
a CI timeout does) leaves no simulator or TUI child behind, and SIGTERM, SIGHUP and
SIGINT stop the children of the tools that start them."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest


def stat_of(pid: int) -> tuple[str, int] | None:
    """(state letter, parent pid) of a process, or None when it is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            fields = handle.read().rsplit(b")", 1)[1].split()
    except OSError:
        return None
    return fields[0].decode(), int(fields[1])


def alive(pid: int) -> bool:
    found = stat_of(pid)
    return found is not None and found[0] != "Z"  # a zombie has ended (its parent reaps it)


def descendants(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            found = stat_of(int(entry))
            if found is not None:
                children.setdefault(found[1], []).append(int(entry))
    out, todo = [], [root]
    while todo:
        for child in children.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


def cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            return handle.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def wait_for(condition, limit: float):
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(0.05)
    return condition()


def still_alive_after(pids: list[int], limit: float = 30.0) -> list[int]:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        left = [p for p in pids if alive(p)]
        if not left:
            return []
        time.sleep(0.05)
    return [p for p in pids if alive(p)]


def test_bench_killed_hard_leaves_no_child_behind(tmp_path):
    bench = subprocess.Popen(
        [sys.executable, "-m", "wawp_tui", "bench", "--instances", "10", "--big", "10",
         "--status-instances", "10", "--repeats", "1", "--trials", "1",
         "--config-instances", "10", "--seconds", "1", "--warmup", "0", "--json"],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True, env={**os.environ, "HOME": str(tmp_path)})
    kids: list[int] = []
    try:
        def simulating():
            kids = descendants(bench.pid)
            return kids if any(" simulate " in cmdline(k) for k in kids) else None

        kids = wait_for(simulating, 240) or []
        assert kids, "the bench never started its simulator"
        assert bench.poll() is None
        bench.kill()  # SIGKILL: no handler, no cleanup of its own
        bench.wait(timeout=30)
        left = still_alive_after(kids)
        assert not left, [cmdline(p) for p in left]
    finally:
        if bench.poll() is None:
            bench.kill()
            bench.wait()
        for pid in kids:  # (orphans are nobody's descendants any more)
            if alive(pid):
                os.kill(pid, signal.SIGKILL)


TOOL = """
import sys, time
from wawp_tui.children import stop_on_signals
from wawp_tui.devtools.harness import SimulatorProcess
with stop_on_signals():
    with SimulatorProcess(2, 0.0) as sim:
        print(sim.proc.pid, flush=True)
        while True:
            time.sleep(1)
"""


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM, signal.SIGHUP, signal.SIGINT])
def test_a_tool_stopped_by_any_signal_takes_its_children_with_it(tmp_path, sig):
    # SIGINT as a terminal delivers it: a suite run as a background job (no job control)
    # starts its children with SIGINT ignored, and Python then keeps ignoring it.
    tool = subprocess.Popen([sys.executable, "-c", TOOL], stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                            env={**os.environ, "HOME": str(tmp_path)},
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    child = 0
    try:
        child = int(tool.stdout.readline())
        assert alive(child) and " simulate " in cmdline(child)
        tool.send_signal(sig)
        tool.wait(timeout=30)
        assert still_alive_after([child]) == []
    finally:
        if tool.poll() is None:
            tool.kill()
            tool.wait()
        if child and alive(child):
            os.kill(child, signal.SIGKILL)
