"""What the developer tools share: the simulator as a child process, the machine's name,
and configs for a simulated fleet."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

import httpx

from wawp_tui.children import dies_with_this_process
from wawp_tui.config import ApiSettings, Config, MonitorSettings
from wawp_tui.models import InstanceConfig, Secret
from wawp_tui.simulator import SIM_TOKEN


def machine() -> str:
    cpu = "unknown CPU"
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            for line in info:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} cores, Python {sys.version.split()[0]}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class SimulatorProcess:
    """`wawp-tui simulate` as a child process; stopped on exit."""

    def __init__(self, instances: int, latency_ms: float, scenario: str = "healthy",
                 extra: tuple[str, ...] = (), env: dict[str, str] | None = None) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.argv = [sys.executable, "-m", "wawp_tui", "simulate", "--port", str(self.port),
                     "--instances", str(instances), "--scenario", scenario,
                     "--latency-ms", str(latency_ms), *extra]
        self.env = env
        self._launch()

    def _launch(self) -> None:
        self.proc = subprocess.Popen(self.argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                     preexec_fn=dies_with_this_process(), env=self.env)
        deadline = time.monotonic() + 30
        while True:
            try:
                self.state = httpx.get(f"{self.url}/_sim/state", timeout=5).json()
                break
            except httpx.TransportError:
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    self.stop()
                    raise RuntimeError("the simulator did not start") from None
                time.sleep(0.1)

    def configs(self) -> tuple[InstanceConfig, ...]:
        return tuple(InstanceConfig(id=i["id"], label=i["label"], token=Secret(SIM_TOKEN))
                     for i in self.state)

    def kill(self) -> None:
        """The server dies at once (a crash, a pulled cable): no graceful shutdown."""
        self.proc.kill()
        self.proc.wait(timeout=10)

    def restart(self) -> None:
        """Back up on the same address, with the scenario's initial state."""
        self._launch()

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()

    def __enter__(self) -> SimulatorProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def bench_config(url: str, instances: tuple[InstanceConfig, ...], concurrency: int,
                 refresh: float = 5.0, timeout: float = 30.0, auto_heal: bool = False) -> Config:
    """A config for a simulated fleet at `url` (the tools' own, not the user's)."""
    return Config(api=ApiSettings(base_url=url, timeout=timeout, max_concurrency=concurrency),
                  monitor=MonitorSettings(refresh=refresh, auto_heal=auto_heal), instances=instances)


def fleet_file(path: str, url: str, instances: tuple[InstanceConfig, ...], concurrency: int) -> str:
    """A config file for a simulated fleet, as a user would keep it: only base_url, the
    concurrency and the instances; every other setting is the product's default."""
    lines = ["[api]", f'base_url = "{url}"', f"max_concurrency = {concurrency}", ""]
    for cfg in instances:
        lines += ["[[instances]]", f'id = "{cfg.id}"', f'label = "{cfg.label}"',
                  f'token = "{SIM_TOKEN}"', ""]
    with open(path, "w", encoding="utf-8") as handle:
        handle.write("\n".join(lines))
    os.chmod(path, 0o600)  # it holds a token: anything looser draws a warning
    return path


_PROXY_VARIABLES = {"http_proxy", "https_proxy", "all_proxy", "no_proxy"}


def child_env(home: str, pythonpath: str | None = None) -> dict[str, str]:
    """The environment of a measured child: its state, logs and config folders under
    `home` (the user's own stay untouched), no WAWP_* variables from the caller, and no
    proxy settings (the simulator is on loopback: a proxy would measure itself)."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("WAWP_") and k.lower() not in _PROXY_VARIABLES}
    env.update(HOME=home, XDG_CONFIG_HOME=f"{home}/config", XDG_STATE_HOME=f"{home}/state",
               XDG_DATA_HOME=f"{home}/data", XDG_CACHE_HOME=f"{home}/cache")
    if pythonpath is not None:
        env["PYTHONPATH"] = pythonpath
    return env
