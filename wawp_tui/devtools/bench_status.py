"""`wawp-tui status` as a user runs it: a child process, timed from outside.

Wall time is from just before the fork until the child has exited (start-up, config
load, the sweep and the printing all included); CPU is the child's own user + system
time from its rusage (os.wait4), so the simulator's CPU and ours are not counted.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import tempfile
import time
from dataclasses import dataclass

from wawp_tui.children import dies_with_this_process


@dataclass(frozen=True)
class Product:
    """Which code is measured: an interpreter and the folder its `wawp_tui` comes from."""

    python: str
    pythonpath: str
    name: str = "this tree"

    def argv(self, *args: str) -> list[str]:
        """`python -m wawp_tui ARGS` of this product. -P: a `wawp_tui` folder in the current
        directory must not win over PYTHONPATH (run from one checkout, the bench measured
        that checkout twice, or crashed in the other's interpreter)."""
        return [self.python, "-P", "-m", "wawp_tui", *args]

    def code_argv(self, code: str) -> list[str]:
        """`python -c CODE` of this product, under the same rule."""
        return [self.python, "-P", "-c", code]


@dataclass(frozen=True)
class StatusRun:
    wall_s: float
    cpu_s: float
    rss_mb: float
    rows: int


@dataclass(frozen=True)
class ChildRun:
    """One `wawp-tui` child: exit code, output, wall from fork to exit, its own CPU and RSS."""

    code: int
    out: bytes
    err: bytes
    wall_s: float
    cpu_s: float
    rss_mb: float


def run_child(product: Product, args: list[str], env: dict[str, str]) -> ChildRun:
    """`python -m wawp_tui ARGS` of `product`, timed from outside."""
    argv = product.argv(*args)
    with tempfile.TemporaryFile() as out_file, tempfile.TemporaryFile() as err_file:
        started = time.perf_counter()
        proc = subprocess.Popen(argv, stdout=out_file, stderr=err_file, stdin=subprocess.DEVNULL,
                                preexec_fn=dies_with_this_process(),
                                env={**env, "PYTHONPATH": product.pythonpath})
        # wait4, not proc.wait(): it also returns the rusage of exactly this child.
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        out_file.seek(0)
        err_file.seek(0)
        out, err = out_file.read(), err_file.read()
    return ChildRun(proc.returncode, out, err, wall, usage.ru_utime + usage.ru_stime,
                    usage.ru_maxrss / 1024)


def run_status(product: Product, config_path: str, env: dict[str, str]) -> StatusRun:
    """One `status --json` over the fleet in `config_path`; every row must be WORKING."""
    run = run_child(product, ["status", "--json", "--config", config_path], env)
    rows = json.loads(run.out) if run.out.strip() else []
    bad = [r for r in rows if r.get("status") != "WORKING"]
    if run.code not in (0, 1) or bad or not rows:
        detail = bad[0].get("error") if bad else run.err.decode(errors="replace").strip()[-300:]
        raise RuntimeError(f"status ({product.name}) failed (exit {run.code}): {detail}")
    return StatusRun(run.wall_s, run.cpu_s, run.rss_mb, len(rows))


def median_run(product: Product, config_path: str, env: dict[str, str], repeats: int) -> StatusRun:
    """The median of `repeats` runs, figure by figure (a busy machine spoils some runs)."""
    runs = [run_status(product, config_path, env) for _ in range(repeats)]
    return StatusRun(statistics.median(r.wall_s for r in runs),
                     statistics.median(r.cpu_s for r in runs),
                     statistics.median(r.rss_mb for r in runs), runs[0].rows)
