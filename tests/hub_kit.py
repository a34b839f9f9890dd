"""Helpers for the hub's tests: a hub in this event loop on a real loopback socket, its
users, and requests to it. Nothing here sleeps for a fixed time."""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import Callable

from wawp_tui.commands.exporter import bind
from wawp_tui.commands.serve import Hub, hub_config
from wawp_tui.config import ApiSettings, Config, HubSettings, HubUser, MonitorSettings
from wawp_tui.core import client_for
from wawp_tui.models import InstanceConfig, Secret

#: The fleet's Wawp token (never in a hub's reply) and the users' tokens.
WAWP_TOKEN = "wawp-SECRET-hub-7c1d2e3f"
TOKENS = {"alice": "alice-TOKEN-0123456789abcdef", "bob": "bob-TOKEN-0123456789abcdef",
          "val": "val-TOKEN-0123456789abcdef"}
ROLES = {"alice": "operator", "bob": "operator", "val": "viewer"}
WEBHOOK_SECRET = "whsec-0123456789abcdef"


def bearer(user: str) -> dict[str, str]:
    return {"authorization": f"Bearer {TOKENS[user]}"}


def hub_settings(*, users: bool = True, secret: bool = True, metrics_auth: bool = False) -> HubSettings:
    return HubSettings(
        webhook_secret_env="WH" if secret else "",
        webhook_secret=Secret(WEBHOOK_SECRET if secret else ""), metrics_auth=metrics_auth,
        users=tuple(HubUser(name, ROLES[name], f"TOK_{name.upper()}", Secret(token))
                    for name, token in TOKENS.items()) if users else ())


def config_for(url: str, sims, *, refresh: float = 60.0, hub: HubSettings | None = None,
               steady_max: float = 120.0, idle_stop_after: float = 0.0) -> Config:
    """A hub's config for simulated instances at `url` (steady polls rare: what a test
    sees moving was made to move)."""
    return Config(api=ApiSettings(base_url=url, timeout=5.0, connect_timeout=3.0),
                  monitor=MonitorSettings(refresh=refresh, steady_max=steady_max,
                                          idle_stop_after=idle_stop_after),
                  instances=tuple(InstanceConfig(id=i.id, label=i.label, token=Secret(WAWP_TOKEN),
                                                 tags=i.tags, schedule=getattr(i, "schedule", None))
                                  for i in sims),
                  hub=hub or hub_settings())


@contextlib.asynccontextmanager
async def hub_in_loop(config: Config, *, port: int = 0, tls: tuple[str, str] | None = None,
                      jobs=(), clock: Callable[[], float] = time.time, audit_path=None):
    """A Hub serving on a loopback port in this event loop (https with `tls`), on `clock`
    (a test's, which it moves), journaling to `audit_path`; stopped on exit."""
    cfg = hub_config(config, (), False)
    hub = Hub(cfg, client_for(cfg), tls=tls, clock=clock, audit_path=audit_path)
    for job in jobs:
        hub.add_job(job)
    sock = bind("127.0.0.1", port)
    stop = asyncio.Event()
    task = asyncio.ensure_future(hub.serve(sock, stop=stop))
    try:
        await asyncio.wait_for(hub.serving.wait(), 10)
        host, bound = hub.address
        yield hub, f"{'https' if tls else 'http'}://{host}:{bound}"
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)
        sock.close()


async def until(condition: Callable[[], bool], limit: float = 15.0, what: str = "") -> None:
    """Wait for `condition` (checked every 20 ms) or fail after `limit` seconds."""
    deadline = time.monotonic() + limit
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {limit}s: {what or condition}")
        await asyncio.sleep(0.02)


class HubThread:
    """A hub on its own event loop in a thread (for commands that run their own loop)."""

    def __init__(self, config: Config) -> None:
        import threading

        self.config = config
        self.url = ""
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread = threading.Thread(target=lambda: asyncio.run(self._main()), daemon=True)
        self._thread.start()
        if not self._ready.wait(15):
            raise RuntimeError("the hub did not start")

    async def _main(self) -> None:
        self._loop, self._stop = asyncio.get_running_loop(), asyncio.Event()
        async with hub_in_loop(self.config) as (hub, url):
            self.hub, self.url = hub, url
            await until(lambda: all(st.status or st.failures for st in hub.monitor.fleet), 15, "polled")
            self._ready.set()
            await self._stop.wait()

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(15)


def pid_alive(pid: int) -> bool:
    """The process runs (a zombie waiting for its parent to read its end does not)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return not os.path.isdir("/proc")  # (no /proc entry where /proc exists: gone)
