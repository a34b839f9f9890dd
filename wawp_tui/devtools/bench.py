"""`wawp-tui bench`: the performance figures, measured as a user sees them, in one run.

The simulator always runs in a child process on 127.0.0.1 (its CPU is not ours). What a
user runs is measured as a process: `status` (wall from fork to exit, CPU from the
child's rusage), the TUI in a pseudo-terminal (first paint, idle CPU, CPU per poll, RSS
from /proc), detection time in a headless child with default settings. The UI-thread
figures (apply a refresh, key latency) are measured in this process, headless.

With `--baseline DIR` the process figures of another checkout (its own `.venv`) are
measured too, interleaved with ours in the same run, under keys starting `base_`.
"""

from __future__ import annotations

import asyncio
import math
import statistics
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import wawp_tui
from wawp_tui.children import stop_on_signals
from wawp_tui.devtools import bench_config, bench_hub, bench_status, bench_tui, bench_web
from wawp_tui.devtools.bench_figures import Figures
from wawp_tui.devtools.bench_status import Product
from wawp_tui.devtools.bench_tty import TtyProcess
from wawp_tui.devtools.bench_ui import ui_figures
from wawp_tui.devtools.harness import SimulatorProcess, child_env, fleet_file, machine

TRANSPORT = "httpx requests over aiohttp, no httpx.AsyncClient (wawp_tui.client.transport.AiohttpTransport)"


@dataclass
class BenchOptions:
    instances: int = 500          # the small fleet: TUI idle/detection, UI thread figures
    big: int = 5000               # the big fleet: TUI idle/detection, `status` wall
    status_instances: int = 2000  # `status` CPU per poll and sweeps
    latency_ms: float = 50.0
    concurrency: int = 16
    concurrency_high: int = 64
    seconds: float = 60.0         # the idle window (the TUI runs warm-up + this)
    warmup: float = 45.0          # the TUI runs this long before the idle window
    repeats: int = 3              # `status` runs and first paints: the median
    trials: int = 40              # detection: instances turned FAILED
    config_instances: int = 50_000  # the big config file: load time, whole process
    baseline: str | None = None   # another checkout, for before/after
    hub_only: bool = False        # only the hub's figures (and the TUI alone they compare to)
    web_only: bool = False        # only the wall page's figures (serve --web, its tabs)


def this_tree() -> Product:
    return Product(sys.executable, str(Path(wawp_tui.__file__).resolve().parent.parent))


def baseline_tree(folder: str) -> Product:
    root = Path(folder).resolve()
    python = root / ".venv" / "bin" / "python"
    if not python.exists():
        raise RuntimeError(f"{python} not found: --baseline wants a checkout with its own .venv")
    return Product(str(python), str(root), "baseline")


def _products(opts: BenchOptions) -> list[tuple[str, Product]]:
    out = [("", this_tree())]
    if opts.baseline:
        out.append(("base_", baseline_tree(opts.baseline)))
    return out


def first_paint(product: Product, env: dict[str, str]) -> float:
    """Fork of `wawp-tui --demo` in a 160x48 pty until a frame showing a status word
    (WORKING) reached the terminal."""
    argv = product.argv("--demo")
    with TtyProcess(argv, {**env, "PYTHONPATH": product.pythonpath}, watch=b"WORKING") as app:
        return app.wait_seen(60.0)


def _status_figures(fig: Figures, opts: BenchOptions, env: dict[str, str], home: str) -> None:
    n, big = opts.status_instances, opts.big
    with SimulatorProcess(max(n, big), 0.0) as sim:
        configs = sim.configs()
        small = fleet_file(f"{home}/status-{n}.toml", sim.url, configs[:n], opts.concurrency)
        one = fleet_file(f"{home}/status-1.toml", sim.url, configs[:1], opts.concurrency)
        large = fleet_file(f"{home}/status-{big}.toml", sim.url, configs[:big], opts.concurrency)
        for prefix, product in _products(opts):
            run = bench_status.median_run(product, small, env, opts.repeats)
            start = bench_status.median_run(product, one, env, opts.repeats)
            fig.put(f"{prefix}status_{n}_cpu_per_poll_ms", 1000 * run.cpu_s / n)
            fig.put(f"{prefix}status_{n}_marginal_cpu_per_poll_ms",
                    1000 * max(0.0, run.cpu_s - start.cpu_s) / max(1, n - 1))
            fig.put(f"{prefix}status_startup_cpu_s", start.cpu_s)
            fig.put(f"{prefix}status_startup_wall_s", start.wall_s)
            fig.put(f"{prefix}status_{n}_wall_s", run.wall_s)
            fig.put(f"{prefix}status_{n}_rss_mb", run.rss_mb, 1)
            whole = bench_status.median_run(product, large, env, opts.repeats)
            fig.put(f"{prefix}status_{big}_wall_s", whole.wall_s)
            fig.put(f"{prefix}status_{big}_cpu_s", whole.cpu_s)
    latency = opts.latency_ms / 1000.0
    with SimulatorProcess(n, opts.latency_ms) as sim:
        configs = sim.configs()
        for c in (opts.concurrency, opts.concurrency_high):
            path = fleet_file(f"{home}/sweep-{c}.toml", sim.url, configs, c)
            floor = math.ceil(n / c) * latency
            fig.put(f"floor_{n}_c{c}_s", floor)
            for prefix, product in _products(opts):
                sweep = bench_status.median_run(product, path, env, opts.repeats).wall_s
                fig.put(f"{prefix}sweep_{n}_c{c}_s", sweep)
                fig.put(f"{prefix}sweep_{n}_c{c}_vs_floor_x", sweep / floor)
                fig.put(f"{prefix}sweep_{n}_c{c}_requests_per_s", n / sweep, 1)


def _tui_figures(fig: Figures, opts: BenchOptions, n: int, env: dict[str, str], home: str) -> None:
    """Idle (this tree and the baseline) and detection (this tree) at `n` instances; the
    detection child runs beside the idle run, each with its own simulator."""
    with SimulatorProcess(n, 0.0) as sim_idle, SimulatorProcess(n, 0.0) as sim_detect:
        idle_path = fleet_file(f"{home}/tui-{n}.toml", sim_idle.url, sim_idle.configs(), opts.concurrency)
        detect_path = fleet_file(f"{home}/detect-{n}.toml", sim_detect.url, sim_detect.configs(),
                                 opts.concurrency)
        detect = bench_tui.start_detection(this_tree(), detect_path, env, opts.trials, 0.5)
        try:
            for prefix, product in _products(opts):
                figures = bench_tui.idle(product, sim_idle.url, idle_path, env,
                                         warmup=opts.warmup + n / 200, seconds=opts.seconds)
                for key, value in figures.items():
                    fig.put(f"{prefix}tui_{n}_{key}", value)
            if n == opts.instances:
                # The wall left open (`--wall`, this tree only: a baseline may not have it),
                # on its own local monitor: its polls are the table's; the rest is the wall.
                figures = bench_tui.idle(this_tree(), sim_idle.url, idle_path, env,
                                         warmup=opts.warmup + n / 200, seconds=opts.seconds,
                                         options=("--wall",))
                for key, value in figures.items():
                    fig.put(f"wall_{n}_{key}", value)
            found = bench_tui.finish_detection(detect, timeout=1200.0)
        finally:
            if detect.poll() is None:
                detect.kill()
                detect.communicate()
    for key, value in found.items():
        name = key.replace("detection_", f"detection_{n}_") if key.startswith("detection_") \
            else f"detection_{n}_{key}"
        fig.put(name, value)
    fig.put(f"detection_{n}_polls_per_s", n / found["steady_interval_s"], 1)


def _hub_figures(fig: Figures, opts: BenchOptions, env: dict[str, str], home: str) -> None:
    """The hub's figures (bench_hub), beside the TUI alone at the same size: the requests
    it makes are the ratio's denominator, measured in this run over the same window."""
    n, big = opts.instances, opts.big
    key = f"tui_{n}_polls_per_s"
    if key not in fig.values:
        with SimulatorProcess(n, 0.0) as sim:
            path = fleet_file(f"{home}/tui-{n}.toml", sim.url, sim.configs(), opts.concurrency)
            alone = bench_tui.idle(this_tree(), sim.url, path, env, warmup=opts.warmup + n / 200,
                                   seconds=opts.seconds)
        fig.put(key, alone["polls_per_s"])
        fig.put(f"tui_{n}_idle_cpu_pct", alone["idle_cpu_pct"])
    for name, value in bench_hub.small_team(this_tree(), n, env, home, warmup=opts.warmup + n / 200,
                                            seconds=opts.seconds, concurrency=opts.concurrency).items():
        fig.put(name, value)
    fig.put(f"hub_{n}_vs_tui_requests_x", fig.values[f"hub_{n}_polls_per_s"] / max(1e-9, fig.values[key]))
    for name, value in bench_hub.big_team(this_tree(), big, env, home, warmup=opts.warmup + big / 200,
                                          seconds=opts.seconds, concurrency=opts.concurrency).items():
        fig.put(name, value)


def _web_figures(fig: Figures, opts: BenchOptions, env: dict[str, str], home: str) -> None:
    """The wall page's figures (bench_web): its tabs' processes beside the hub alone."""
    n = opts.instances
    for name, value in bench_web.web_figures(this_tree(), n, env, home, warmup=opts.warmup + n / 200,
                                             seconds=opts.seconds, concurrency=opts.concurrency).items():
        fig.put(name, value)
    for name, value in bench_web.polling_figures(this_tree(), n, env, home, warmup=min(opts.warmup, 20.0),
                                                 concurrency=opts.concurrency).items():
        fig.put(name, value)


def run_bench(opts: BenchOptions) -> Figures:
    fig = Figures(machine(), TRANSPORT, {
        "instances": opts.instances, "big": opts.big, "status_instances": opts.status_instances,
        "latency_ms": opts.latency_ms, "concurrency": opts.concurrency,
        "concurrency_high": opts.concurrency_high, "seconds": opts.seconds,
        "warmup": opts.warmup, "repeats": opts.repeats, "trials": opts.trials,
        "config_instances": opts.config_instances})
    with tempfile.TemporaryDirectory(prefix="wawp-bench-") as home:
        env = child_env(home)
        if opts.web_only:
            _web_figures(fig, opts, env, home)
            return fig
        if opts.hub_only:
            _hub_figures(fig, opts, env, home)
            _web_figures(fig, opts, env, home)
            return fig
        for prefix, product in _products(opts):
            paints = [first_paint(product, env) for _ in range(max(5, opts.repeats))]
            fig.put(f"{prefix}first_paint_s", statistics.median(paints))
        # (This tree only: the project before issue 15 read a config in quadratic time,
        # 86 s at 10,000 instances, so its 50,000 would outlast the whole run.)
        for key, value in bench_config.load_figures(this_tree(), home, env, opts.config_instances,
                                                    opts.repeats).items():
            fig.put(key, value, 1 if key.endswith("_mb") else 3)
        _status_figures(fig, opts, env, home)
        for n in dict.fromkeys((opts.instances, opts.big)):
            _tui_figures(fig, opts, n, env, home)
        with SimulatorProcess(opts.instances, 0.0) as sim:
            for key, value in asyncio.run(ui_figures(sim.url, sim.configs(), opts.concurrency)).items():
                fig.put(key, value)
        _hub_figures(fig, opts, env, home)
        _web_figures(fig, opts, env, home)
    return fig


def main(opts: BenchOptions, as_json: bool) -> int:
    # Every child dies with this process (children.py); SIGTERM and SIGHUP stop them as
    # ctrl+c does, through the `with` blocks that own them.
    with stop_on_signals():
        figures = run_bench(opts)
    print(figures.as_json() if as_json else figures.table())
    return 0

