"""One browser tab of the wall page: its own `wawp-tui --wall --hub URL` process, bridged
to the tab's websocket with textual-serve's wire format.

The process runs Textual's web driver (TEXTUAL_DRIVER): it writes `__GANGLION__` once,
then packets of a type byte (`D` screen data, `M` JSON meta, `P` packed), a 4-byte
big-endian length and the payload; it reads `D` (keys) and `M` (resize, focus, blur,
quit) packets on stdin. The browser's side is textual-serve's own page script, which
sends JSON arrays (`["stdin", text]`, `["resize", {...}]`, `["ping", t]`, ...) and takes
screen data as binary frames.

Why not textual-serve's AppService: it starts the command through a shell with the whole
environment of the server (every Wawp and hub token the hub holds), and copies the
process's stderr to our stdout. Here the process is exec'd without a shell, with a short
list of variables and one credential (a viewer token of its own, in WAWP_HUB_TOKEN, never
on a command line); its stderr goes to the hub's log, cleaned and capped; every size from
either side is bounded; a tab that stops reading is dropped; and the process is always
ended and waited for.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import sys
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass

from wawp_tui.hub.link import TOKEN_ENV
from wawp_tui.models import Secret
from wawp_tui.safe_text import clean

_log = logging.getLogger(__name__)

#: Textual's driver for an app shown in a browser (what textual-serve sets too).
WEB_DRIVER = "textual.drivers.web_driver:WebDriver"
#: The line the web driver writes first, once its app runs.
PRELUDE = b"__GANGLION__\n"
#: Lines read before the prelude (a Python warning or two), and the time it may take.
PRELUDE_LINES, START_WITHIN = 20, 60.0
#: Largest packet taken from the process (a full 300x80 frame in truecolor is ~1 MB).
MAX_PACKET = 8 * 1024 * 1024
#: Seconds a screen update may take to reach the browser before the tab is dropped.
SEND_WITHIN = 10.0
#: Seconds the process has to quit when asked, then to die when terminated.
QUIT_GRACE, KILL_GRACE = 3.0, 2.0
#: Stderr kept from a process (its last words, for the log).
STDERR_TAIL = 4096
#: Terminal sizes a tab may ask for.
WIDTH, HEIGHT = (20, 500), (8, 200)
#: The variables a tab's process keeps from the hub's environment (locale, home, time
#: zone, where Python and its packages are, TLS trust): no token of any kind.
KEPT_VARIABLES = ("PATH", "HOME", "LANG", "LANGUAGE", "LC_ALL", "LC_CTYPE", "TZ", "USER", "LOGNAME",
                  "XDG_CONFIG_HOME", "XDG_STATE_HOME", "XDG_CACHE_HOME", "XDG_DATA_HOME",
                  "XDG_RUNTIME_DIR", "PYTHONPATH", "VIRTUAL_ENV", "SSL_CERT_FILE", "SSL_CERT_DIR",
                  "TMPDIR")


def clamp(value: object, bounds: tuple[int, int], default: int) -> int:
    """An integer from outside, within bounds (a non-number: the default)."""
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        return default
    text = str(value).strip() if isinstance(value, str) else None
    if text is not None and not (text.isascii() and text.lstrip("-").isdigit() and len(text) <= 6):
        return default
    return max(bounds[0], min(bounds[1], int(value)))


def tab_environment(base: Mapping[str, str], token: Secret, width: int, height: int,
                    cafile: str | None = None) -> dict[str, str]:
    """The environment of a tab's process: the kept variables, the web driver, the size,
    and the tab's viewer token (the only credential it gets)."""
    env = {name: base[name] for name in KEPT_VARIABLES if name in base}
    env.update({"TEXTUAL_DRIVER": WEB_DRIVER, "TEXTUAL_COLOR_SYSTEM": "truecolor",
                "TERM": "xterm-256color", "COLUMNS": str(width), "ROWS": str(height),
                TOKEN_ENV: token.reveal(), "PYTHONUNBUFFERED": "1"})
    if cafile:  # a hub with its own certificate: the tab trusts it to reach the hub
        env["SSL_CERT_FILE"] = cafile
    return env


def wall_command(hub_url: str) -> list[str]:
    """The tab's process: this Python, this wawp-tui, the wall attached to the hub (-P: a
    `wawp_tui` folder in the hub's working directory is not the one run)."""
    return [sys.executable, "-P", "-m", "wawp_tui", "--wall", "--hub", hub_url]


def packet(kind: bytes, payload: bytes) -> bytes:
    """A packet of the web driver's stdin (`D` keys, `M` meta)."""
    return kind + len(payload).to_bytes(4, "big") + payload


def meta(data: Mapping[str, object]) -> bytes:
    return packet(b"M", json.dumps(data).encode())


@dataclass
class TabIO:
    """What a tab does with its websocket (handed in: no aiohttp here)."""

    send_bytes: Callable[[bytes], Awaitable[None]]
    send_text: Callable[[str], Awaitable[None]]


class Tab:
    """A tab's process and the bridge to its websocket (see the module docstring)."""

    def __init__(self, command: Sequence[str], env: Mapping[str, str], io: TabIO) -> None:
        self.command, self.env, self.io = list(command), dict(env), io
        self.process: asyncio.subprocess.Process | None = None
        self._stderr = bytearray()
        self._stdin_lock = asyncio.Lock()
        #: Why the tab ended, for the log (None while it runs or after a clean exit).
        self.trouble: str | None = None

    async def start(self) -> None:
        self.process = await asyncio.create_subprocess_exec(
            *self.command, env=self.env, stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            start_new_session=True)  # (a ctrl-c on the hub's terminal is the hub's to handle)

    async def pump(self) -> None:
        """The process's screen to the browser until the process ends (or stops writing
        packets we can read)."""
        process = self.process
        assert process is not None and process.stdout is not None and process.stderr is not None
        errors = asyncio.ensure_future(self._drain_stderr(process.stderr))
        try:
            await asyncio.wait_for(self._prelude(process.stdout), START_WITHIN)
            while True:
                head = await process.stdout.readexactly(5)
                size = int.from_bytes(head[1:], "big")
                if size > MAX_PACKET:
                    self.trouble = f"a packet of {size} bytes from the wall process: dropped"
                    return
                payload = await process.stdout.readexactly(size)
                if head[:1] == b"D":
                    await asyncio.wait_for(self.io.send_bytes(payload), SEND_WITHIN)
                elif head[:1] == b"M" and _meta_type(payload) == "exit":
                    return
                # (Other meta: opening a URL, delivering a file: a wall does neither.)
        except asyncio.IncompleteReadError:
            return  # the process ended
        except TimeoutError:
            self.trouble = self.trouble or "the browser stopped reading (or the wall never started)"
        finally:
            errors.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await errors

    async def _prelude(self, stdout: asyncio.StreamReader) -> None:
        for _ in range(PRELUDE_LINES):
            line = await stdout.readline()
            if not line:
                raise asyncio.IncompleteReadError(b"", None)
            if line == PRELUDE:
                return
        self.trouble = "the wall process did not start its screen"
        raise asyncio.IncompleteReadError(b"", None)

    async def _drain_stderr(self, stderr: asyncio.StreamReader) -> None:
        while chunk := await stderr.read(4096):
            self._stderr += chunk
            del self._stderr[:-STDERR_TAIL]

    async def from_browser(self, text: str) -> None:
        """One message of the page's script: keys, a new size, focus, a ping."""
        answer = translate(text)
        if isinstance(answer, bytes):
            await self._write(answer)
        elif isinstance(answer, str):
            await asyncio.wait_for(self.io.send_text(answer), SEND_WITHIN)

    async def _write(self, data: bytes) -> None:
        process = self.process
        if process is None or process.stdin is None or process.returncode is not None:
            return
        async with self._stdin_lock:
            try:
                process.stdin.write(data)
                await asyncio.wait_for(process.stdin.drain(), SEND_WITHIN)
            except (ConnectionError, TimeoutError, RuntimeError):
                pass  # the process is going: pump() sees it end

    async def stop(self) -> int | None:
        """Ask the process to quit, then end it; always waited for. Its exit code."""
        process = self.process
        if process is None:
            return None
        if process.returncode is None:
            await self._write(meta({"type": "quit"}))
            for grace, end in ((QUIT_GRACE, process.terminate), (KILL_GRACE, process.kill)):
                try:
                    await asyncio.wait_for(asyncio.shield(process.wait()), grace)
                    break
                except TimeoutError:
                    with contextlib.suppress(ProcessLookupError):
                        end()
        code = await process.wait()
        if code not in (0, None) or self.trouble:
            said = clean(bytes(self._stderr).decode("utf-8", "replace"), 600).strip()
            _log.warning("wall tab: process %s ended with %s%s%s", process.pid, code,
                         f"; {self.trouble}" if self.trouble else "", f"; it said: {said}" if said else "")
        return code


def translate(text: str) -> bytes | str | None:
    """A message of the page's script (data from outside) as what it asks for: a packet
    for the tab's process (bytes: keys, a size within bounds, focus or blur), an answer to
    the browser (str: the pong of a ping), or nothing (anything else, malformed or not)."""
    try:
        envelope = json.loads(text)
    except (ValueError, RecursionError):
        return None
    if not isinstance(envelope, list) or not envelope or not isinstance(envelope[0], str):
        return None
    kind, data = envelope[0], envelope[1] if len(envelope) > 1 else None
    if kind == "stdin" and isinstance(data, str):
        return packet(b"D", data.encode("utf-8", "replace"))
    if kind == "resize" and isinstance(data, dict):
        return meta({"type": "resize", "width": clamp(data.get("width"), WIDTH, 80),
                     "height": clamp(data.get("height"), HEIGHT, 24)})
    if kind in ("focus", "blur"):
        return meta({"type": kind})
    if kind == "ping" and isinstance(data, str):
        return json.dumps(["pong", data[:64]])
    return None


def _meta_type(payload: bytes) -> str | None:
    try:
        data = json.loads(payload)
    except ValueError:
        return None
    kind = data.get("type") if isinstance(data, dict) else None
    return kind if isinstance(kind, str) else None

