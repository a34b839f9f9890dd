"""Serve the simulator with uvicorn: in a thread for tests, in the foreground for the CLI."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import threading
import time

import uvicorn

from wawp_tui.simulator.app import Simulator


def is_loopback(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 and localhost."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _config(app: Simulator, host: str, port: int,
            tls: tuple[str, str] | None = None) -> uvicorn.Config:
    # log_level critical: an injected "drop" must not print a traceback in the terminal.
    certfile, keyfile = tls or (None, None)
    return uvicorn.Config(app, host=host, port=port, log_level="critical", access_log=False,
                          lifespan="on", timeout_graceful_shutdown=1,
                          ssl_certfile=certfile, ssl_keyfile=keyfile)


class ServerHandle:
    """A running simulator server: `.url`, `.app`, `.stop()`; also a context manager.
    `tls` (certificate file, key file) serves https (tests of proxies and private CAs)."""

    def __init__(self, app: Simulator, host: str = "127.0.0.1", port: int = 0,
                 tls: tuple[str, str] | None = None) -> None:
        if not is_loopback(host):
            raise ValueError(f"refusing to serve the simulator on {host}: loopback only")
        self.app = app
        self.server = uvicorn.Server(_config(app, host, port, tls))
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread = threading.Thread(target=self._run, name="wawp-simulator", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("simulator server did not start")
            time.sleep(0.01)
        sock = self.server.servers[0].sockets[0]
        bound_host, bound_port = sock.getsockname()[:2]
        self.url = f"{'https' if tls else 'http'}://{bound_host}:{bound_port}"

    def _run(self) -> None:
        self._loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self._loop)
        self._loop.run_until_complete(self.server.serve())

    def stop(self) -> None:
        """Release hung requests, shut down, and join the thread."""
        if self._loop is not None and self._loop.is_running():
            self._loop.call_soon_threadsafe(self.app.release_hangs)
        self.server.should_exit = True
        self._thread.join(timeout=10)
        if self._thread.is_alive():
            # Said now, not later as a mysterious "address in use" on the next start.
            raise RuntimeError("simulator server did not stop within 10 s")

    def __enter__(self) -> ServerHandle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def serve_in_thread(app: Simulator, host: str = "127.0.0.1", port: int = 0,
                    tls: tuple[str, str] | None = None) -> ServerHandle:
    """Start `app` on a free loopback port in a daemon thread (https with `tls`)."""
    return ServerHandle(app, host, port, tls)


def run_forever(app: Simulator, host: str, port: int, *, scenario: str = "demo",
                allow_public: bool = False) -> None:
    """`wawp-tui simulate`: serve until Ctrl-C (loopback only unless allow_public).

    The socket is bound before anything is printed, so a busy port is an error and
    nothing else, and `--port 0` announces the port it got."""
    if not allow_public and not is_loopback(host):
        raise ValueError(f"refusing to serve on {host}: the simulator is for loopback (127.0.0.1)")
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.create_server((host, port), family=family, backlog=1024)
    with sock:
        bound = sock.getsockname()[1]
        where = f"[{host}]:{bound}" if ":" in host else f"{host}:{bound}"
        print(f"Wawp simulator on http://{where} ({len(app.instances)} instances, "
              f"scenario {scenario}, access token 'demo-token'). Ctrl-C stops it.", flush=True)
        for inst in list(app.instances.values())[:5]:
            print(f"  {inst.id}  {inst.label}", flush=True)
        if len(app.instances) > 5:
            print(f"  ... and {len(app.instances) - 5} more (GET /_sim/state lists them)", flush=True)
        server = uvicorn.Server(_config(app, host, bound))
        try:
            server.run(sockets=[sock])
        except KeyboardInterrupt:
            pass
