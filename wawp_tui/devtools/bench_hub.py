"""The hub's figures (issue 24), measured as a team would run it: real processes on
127.0.0.1, the simulator pushing signed webhooks, the hub (`wawp-tui serve`), and screens
attached to it (`wawp-tui --hub`) in pseudo-terminals.

- `hub_500_polls_per_s` and `hub_500_vs_tui_requests_x`: the API requests a second the
  simulator serves with the hub and 20 attached TUIs, over the same window length as the
  TUI alone (`tui_500_polls_per_s`, measured in the same run), and their ratio;
- `attached_tui_500_idle_cpu_pct`: an attached TUI's idle CPU (the median of the 20);
- `hub_500_shown_20_p50_s` / `_p95_s`: a change the hub has seen, until each of the 20
  screens' terminals has received a frame showing it (FAILED, the row sorted to the top);
- `hub_5000_webhook_shown_p50_s` / `_p95_s`: WORKING -> FAILED on the simulator until an
  attached screen shows it, 5,000 instances, the doorbell on (the hub's steady polls are
  two minutes apart there);
- `hub_5000_idle_cpu_pct`: the hub's CPU with 20 attached clients (headless: the attach
  code without a screen, so 20 screens' drawing does not starve the machine the hub is
  measured on), nothing changing;
- `hub_5000_fleet_ms`: GET /api/v1/fleet at 5,000, the median of 20, whole body read.
"""

from __future__ import annotations

import contextlib
import statistics
import subprocess
import time
from collections.abc import Iterator

import httpx

from wawp_tui.children import dies_with_this_process
from wawp_tui.devtools.bench_status import Product
from wawp_tui.devtools.bench_tty import TtyProcess
from wawp_tui.devtools.harness import SimulatorProcess, free_port

#: The bench's own hub user (a made-up token, long enough for the hub to take it).
TOKEN = "bench-hub-token-0123456789abcdef"
SECRET = "bench-webhook-secret-0123456789"
SCREENS = 20


def _p95(values: list[float]) -> float:
    seen = sorted(values)
    return seen[min(len(seen) - 1, max(0, round(0.95 * len(seen)) - 1))]


def _api_calls(url: str) -> int:
    return int(httpx.get(f"{url}/_sim/stats", timeout=30).json()["api_calls"])


def _cpu_s(pid: int) -> float:
    import os

    with open(f"/proc/{pid}/stat", encoding="ascii") as handle:
        fields = handle.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def hub_file(path: str, sim_url: str, port: int, instances: list[dict], concurrency: int) -> str:
    """A hub's config for the simulated fleet: one operator, a webhook secret."""
    lines = ["[api]", f'base_url = "{sim_url}"', f"max_concurrency = {concurrency}", "",
             "[hub]", f'listen = "127.0.0.1:{port}"', 'webhook_secret_env = "WAWP_BENCH_SECRET"', "",
             "[[hub.users]]", 'name = "bench"', 'token_env = "WAWP_BENCH_HUB_TOKEN"',
             'role = "operator"', ""]
    for inst in instances:
        lines += ["[[instances]]", f'id = "{inst["id"]}"', f'label = "{inst["label"]}"',
                  'token = "demo-token"', ""]
    with open(path, "w", encoding="utf-8") as handle:
        handle.write("\n".join(lines))
    import os

    os.chmod(path, 0o600)
    return path


class HubProcess:
    """`wawp-tui serve` as a child process; stopped on exit."""

    def __init__(self, product: Product, config: str, port: int, env: dict[str, str],
                 extra: tuple[str, ...] = ()) -> None:
        self.url = f"http://127.0.0.1:{port}"
        self.proc = subprocess.Popen(product.argv("serve", "--config", config, *extra),
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                     stdin=subprocess.DEVNULL, preexec_fn=dies_with_this_process(),
                                     env={**env, "PYTHONPATH": product.pythonpath})
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{self.url}/healthz", timeout=5).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or self.proc.poll() is not None:
                self.stop()
                raise RuntimeError("the hub did not start")
            time.sleep(0.1)

    def status(self, instance_id: str) -> str | None:
        reply = httpx.get(f"{self.url}/api/v1/instances/{instance_id}", timeout=30,
                          headers={"authorization": f"Bearer {TOKEN}"})
        return reply.json().get("status")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def _env(env: dict[str, str]) -> dict[str, str]:
    return {**env, "WAWP_BENCH_HUB_TOKEN": TOKEN, "WAWP_BENCH_SECRET": SECRET, "WAWP_HUB_TOKEN": TOKEN}


@contextlib.contextmanager
def _team(product: Product, n: int, env: dict[str, str], home: str,
          concurrency: int) -> Iterator[tuple[SimulatorProcess, HubProcess]]:
    port = free_port()
    with SimulatorProcess(n, 0.0, extra=("--webhook", f"http://127.0.0.1:{port}/webhooks/wawp",
                                         "--webhook-secret-env", "WAWP_BENCH_SECRET"),
                          env={**env, "WAWP_BENCH_SECRET": SECRET}) as sim:
        config = hub_file(f"{home}/hub-{n}.toml", sim.url, port, sim.state, concurrency)
        hub = HubProcess(product, config, port, env)
        try:
            yield sim, hub
        finally:
            hub.stop()


def _flip(sim_url: str, instance_id: str, status: str | None) -> None:
    httpx.post(f"{sim_url}/_sim/set", json={"instance_ids": [instance_id], "raw_status": status},
               timeout=30).raise_for_status()


def _wait(condition, limit: float) -> bool:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return False


def small_team(product: Product, n: int, env: dict[str, str], home: str, *, warmup: float,
               seconds: float, concurrency: int, trials: int = 10) -> dict[str, float]:
    """The hub and 20 attached TUIs at `n`: requests a second, their CPU, change shown."""
    env = _env(env)
    out: dict[str, float] = {}
    with _team(product, n, env, home, concurrency) as (sim, hub):
        screens = [TtyProcess(product.argv("--hub", hub.url), {**env, "PYTHONPATH": product.pythonpath},
                              watch=b"FAILED") for _ in range(SCREENS)]
        try:
            time.sleep(warmup)
            cpu0 = [s.cpu_s() for s in screens]
            calls0, t0 = _api_calls(sim.url), time.monotonic()
            time.sleep(seconds)
            cpu1 = [s.cpu_s() for s in screens]
            calls1, t1 = _api_calls(sim.url), time.monotonic()
            out[f"hub_{n}_polls_per_s"] = (calls1 - calls0) / (t1 - t0)
            out[f"attached_tui_{n}_idle_cpu_pct"] = statistics.median(
                100.0 * (b - a) / (t1 - t0) for a, b in zip(cpu0, cpu1))
            delays: list[float] = []
            ids = [i["id"] for i in sim.state]
            for k in range(trials):
                target = ids[(k * 37) % len(ids)]
                for screen in screens:
                    screen.rearm()
                _flip(sim.url, target, "FAILED")
                if not _wait(lambda t=target: hub.status(t) == "FAILED", 30):
                    raise RuntimeError("the hub never saw the change")
                seen_by_hub = time.perf_counter()
                _wait(lambda: all(s.seen_at is not None for s in screens), 30)
                delays += [max(0.0, (s.seen_at if s.seen_at is not None else time.perf_counter())
                               - seen_by_hub) for s in screens]
                _flip(sim.url, target, None)
                _wait(lambda t=target: hub.status(t) == "WORKING", 30)
                time.sleep(2.5)  # the screens' alerts resolve (a line naming FAILED) first
            out[f"hub_{n}_shown_{SCREENS}_p50_s"] = statistics.median(delays)
            out[f"hub_{n}_shown_{SCREENS}_p95_s"] = _p95(delays)
        finally:
            for screen in screens:
                screen.stop()
    return out


_CLIENTS = """
import asyncio, sys
from wawp_tui.config import Config
from wawp_tui.hub.attach import AttachedMonitor
from wawp_tui.hub.link import HubLink
from wawp_tui.models import Secret

async def main():
    screens = [AttachedMonitor(HubLink(sys.argv[1], Secret(sys.argv[2])), Config()) for _ in range(int(sys.argv[3]))]
    await asyncio.gather(*(s.run() for s in screens))

asyncio.run(main())
"""


def big_team(product: Product, n: int, env: dict[str, str], home: str, *, warmup: float,
             seconds: float, concurrency: int, trials: int = 20) -> dict[str, float]:
    """The hub at `n` with 20 headless clients: its idle CPU, /api/v1/fleet; and one
    attached TUI: WORKING -> FAILED shown with the doorbell on."""
    env = _env(env)
    out: dict[str, float] = {}
    with _team(product, n, env, home, concurrency) as (sim, hub):
        clients = subprocess.Popen([*product.code_argv(_CLIENTS), hub.url, TOKEN, str(SCREENS)],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                   preexec_fn=dies_with_this_process(),
                                   env={**env, "PYTHONPATH": product.pythonpath})
        screen = TtyProcess(product.argv("--hub", hub.url), {**env, "PYTHONPATH": product.pythonpath},
                            watch=b"FAILED")
        try:
            time.sleep(warmup)
            cpu0, t0 = _cpu_s(hub.proc.pid), time.monotonic()
            time.sleep(seconds)
            cpu1, t1 = _cpu_s(hub.proc.pid), time.monotonic()
            out[f"hub_{n}_idle_cpu_pct"] = 100.0 * (cpu1 - cpu0) / (t1 - t0)
            took = []
            with httpx.Client(timeout=60, headers={"authorization": f"Bearer {TOKEN}"}) as http:
                for _ in range(20):
                    started = time.perf_counter()
                    reply = http.get(f"{hub.url}/api/v1/fleet")
                    reply.read()
                    took.append(time.perf_counter() - started)
            out[f"hub_{n}_fleet_ms"] = 1000.0 * statistics.median(took)
            out[f"hub_{n}_fleet_mb"] = len(reply.content) / 1e6
            delays = []
            ids = [i["id"] for i in sim.state]
            for k in range(trials):
                target = ids[(k * 211) % len(ids)]
                screen.rearm()
                changed = time.perf_counter()
                _flip(sim.url, target, "FAILED")
                _wait(lambda: screen.seen_at is not None, 150)
                delays.append((screen.seen_at or time.perf_counter()) - changed)
                _flip(sim.url, target, None)
                _wait(lambda t=target: hub.status(t) == "WORKING", 30)
                time.sleep(2.5)  # the screen's alert resolves (a line naming FAILED) first
            out[f"hub_{n}_webhook_shown_p50_s"] = statistics.median(delays)
            out[f"hub_{n}_webhook_shown_p95_s"] = _p95(delays)
        finally:
            screen.stop()
            clients.terminate()
            clients.wait(timeout=20)
    return out
