"""The TUI left open on a steady fleet, measured from outside: idle CPU, CPU per poll,
RSS and its slope (the real program in a pseudo-terminal), and detection time (a
headless child, see bench_detect)."""

from __future__ import annotations

import json
import statistics
import subprocess
import time

import httpx

from wawp_tui.children import dies_with_this_process
from wawp_tui.devtools.bench_status import Product
from wawp_tui.devtools.bench_tty import TtyProcess


def _api_calls(url: str) -> int:
    return int(httpx.get(f"{url}/_sim/stats", timeout=30).json()["api_calls"])


def _slope_per_h(samples: list[tuple[float, float]]) -> float:
    """Least-squares slope of (seconds, MB) samples, in MB per hour."""
    if len(samples) < 2:
        return 0.0
    mean_t = statistics.fmean(t for t, _ in samples)
    mean_m = statistics.fmean(m for _, m in samples)
    den = sum((t - mean_t) ** 2 for t, _ in samples)
    num = sum((t - mean_t) * (m - mean_m) for t, m in samples)
    return 3600.0 * num / den if den else 0.0


def idle(product: Product, url: str, config_path: str, env: dict[str, str], *,
         warmup: float, seconds: float, options: tuple[str, ...] = ()) -> dict[str, float]:
    """The app on a fleet where nothing changes: after `warmup` s, CPU and the server's
    request count over `seconds` s; RSS sampled every 5 s from start to end. `options`:
    more of the command line (`--wall`)."""
    argv = product.argv("--config", config_path, *options)
    rss: list[tuple[float, float]] = []
    with TtyProcess(argv, {**env, "PYTHONPATH": product.pythonpath}) as app:
        started = time.monotonic()

        def sleep(span: float) -> None:
            end = time.monotonic() + span
            while time.monotonic() < end:
                if not app.alive():
                    raise RuntimeError(f"the app ({product.name}) exited during the idle run")
                rss.append((time.monotonic() - started, app.rss_mb()))
                time.sleep(min(5.0, max(0.0, end - time.monotonic())))

        sleep(warmup)
        cpu0, calls0, t0 = app.cpu_s(), _api_calls(url), time.monotonic()
        sleep(seconds)
        cpu1, calls1, t1 = app.cpu_s(), _api_calls(url), time.monotonic()
        rss.append((t1 - started, app.rss_mb()))
    polls = calls1 - calls0
    cpu = cpu1 - cpu0
    return {"idle_cpu_pct": 100.0 * cpu / (t1 - t0), "polls_per_s": polls / (t1 - t0),
            "cpu_per_poll_ms": 1000.0 * cpu / polls if polls else 0.0,
            "rss_mb": max(m for _, m in rss), "rss_slope_mb_per_h": _slope_per_h(rss[len(rss) // 3:])}


def start_detection(product: Product, config_path: str, env: dict[str, str], trials: int,
                    spacing: float) -> subprocess.Popen[str]:
    code = ("from wawp_tui.devtools.bench_detect import detect_child\n"
            f"print(detect_child({config_path!r}, {trials}, {spacing}))\n")
    return subprocess.Popen(product.code_argv(code), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, preexec_fn=dies_with_this_process(),
                            env={**env, "PYTHONPATH": product.pythonpath})


def finish_detection(proc: subprocess.Popen[str], timeout: float) -> dict[str, float]:
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        raise RuntimeError(f"the detection run did not finish within {timeout:.0f} s") from None
    if proc.returncode != 0:
        raise RuntimeError("detection child failed: " + (err.strip().splitlines() or ["?"])[-1])
    result = json.loads(out.strip().splitlines()[-1])
    seen = sorted(result["seconds"])
    p95 = seen[min(len(seen) - 1, max(0, round(0.95 * len(seen)) - 1))]
    return {"detection_p50_s": statistics.median(seen), "detection_p95_s": p95,
            "detection_max_s": seen[-1], "detection_missed_count": result["missed"],
            "steady_interval_s": float(result["steady_s"])}
