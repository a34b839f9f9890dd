"""Helpers for the tests of the wall page in a real browser: Debian's chromium driven
headless through its chromedriver (Selenium; no browser download), tesseract for the
words, and a reader of the wall's big digits from a screenshot's pixels.

The big digits are Textual's 3x3 box-drawing digits (scaled on a big screen), drawn by
xterm.js in the page: OCR reads them badly (they are seven-segment shapes), so they are
read here by their strokes. Every digit is one connected stroke whose box runs from the
middle of its first cell to the middle of its third, and from the middle of its first
row to the middle of its third, at any scale; where its strokes pass, sampled at twelve
points of that box (the halves of the three bars, the halves of the three columns), says
which digit it is. Nothing here sleeps for a fixed time.
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import time
from collections.abc import Callable

import pytest

from wawp_tui.devtools.browser import CHROMEDRIVER, CHROMIUM, Browser

__all__ = ["Browser", "PrefixProxy", "needs_browser", "ocr_words", "read_counts", "wait_for"]

TESSERACT = shutil.which("tesseract")
HOW = ("apt-get install chromium chromium-driver tesseract-ocr (.ci/run installs them when "
       "missing), and pip install -e '.[test]' for selenium")


def _have_browser() -> bool:
    try:
        import selenium  # noqa: F401
    except ImportError:
        return False
    return os.access(CHROMIUM, os.X_OK) and os.access(CHROMEDRIVER, os.X_OK) and TESSERACT is not None


needs_browser = pytest.mark.skipif(not _have_browser(), reason=f"no headless browser here: {HOW}")

#: Where each of the twelve sample points lies in a digit's box (x, y in 0..1): the two
#: halves of the top, middle and bottom bars; the upper and lower halves of the left,
#: centre and right columns.
_POINTS = ((0.25, 0.0), (0.75, 0.0), (0.25, 0.5), (0.75, 0.5), (0.25, 1.0), (0.75, 1.0),
           (0.0, 0.25), (0.0, 0.75), (0.5, 0.25), (0.5, 0.75), (1.0, 0.25), (1.0, 0.75))


def _signature(rows: list[str]) -> tuple[bool, ...]:
    """The twelve points of a digit of Textual's 3x3 font: which carry a stroke."""
    from wawp_tui.ui.widgets.count_tile import _REACH

    def reach(y: int, x: int) -> tuple[bool, bool, bool, bool]:
        return _REACH.get(rows[y][x] if x < len(rows[y]) else " ", (False, False, False, False))

    # A bar's half between columns a and a+1 is drawn when cell a reaches right; a
    # column's half between rows b and b+1 when cell b reaches down.
    return (reach(0, 0)[3], reach(0, 1)[3], reach(1, 0)[3], reach(1, 1)[3], reach(2, 0)[3], reach(2, 1)[3],
            reach(0, 0)[1], reach(1, 0)[1], reach(0, 1)[1], reach(1, 1)[1], reach(0, 2)[1], reach(1, 2)[1])


def _signatures() -> dict[tuple[bool, ...], int]:
    from textual.renderables.digits import DIGITS, DIGITS3X3_BOLD

    found = {}
    for digit in range(10):
        at = DIGITS.index(str(digit))
        found[_signature(DIGITS3X3_BOLD[at * 3:at * 3 + 3])] = digit
    assert len(found) == 10, "two digits of the font look alike to the reader"
    return found


def read_counts(png: bytes, *, least_height: int = 24) -> list[int]:
    """The numbers drawn in big digits on a screenshot of the wall, in reading order
    (row by row, left to right); digits of one number are one cell apart."""
    from PIL import Image

    image = Image.open(io.BytesIO(png)).convert("L")
    width, height = image.size
    lit = [v > 70 for v in image.tobytes()]
    seen = bytearray(width * height)
    boxes = []
    for start in range(width * height):
        if not lit[start] or seen[start]:
            continue
        seen[start] = 1
        stack, x0, y0, x1, y1, count = [start], width, height, 0, 0, 0
        while stack:
            at = stack.pop()
            y, x = divmod(at, width)
            count += 1
            x0, y0, x1, y1 = min(x0, x), min(y0, y), max(x1, x), max(y1, y)
            for near in (at - 1 if x else -1, at + 1 if x + 1 < width else -1,
                         at - width, at + width):
                if 0 <= near < width * height and lit[near] and not seen[near]:
                    seen[near] = 1
                    stack.append(near)
        w, h = x1 - x0 + 1, y1 - y0 + 1
        # A digit: tall (two rows and more), about half as wide as tall, thin strokes.
        if h >= least_height and 0.3 <= w / h <= 0.8 and count < 0.5 * w * h:
            boxes.append((x0, y0, x1, y1))
    signatures = _signatures()
    digits = []
    for x0, y0, x1, y1 in boxes:
        marks = tuple(_stroke_near(lit, width, x0 + px * (x1 - x0), y0 + py * (y1 - y0),
                                   max(2, (y1 - y0) // 12)) for px, py in _POINTS)
        digit = signatures.get(marks)
        if digit is None:  # the nearest shape (a pixel lost to anti-aliasing)
            digit = min(signatures.items(), key=lambda kv: sum(a != b for a, b in zip(kv[0], marks)))[1]
        digits.append((y0, x0, x1, digit))
    # Numbers: digits on one line whose gap is about one cell (half a digit's width).
    digits.sort(key=lambda d: (round(d[0] / 8), d[1]))
    numbers: list[list[tuple[int, int, int, int]]] = []
    for d in digits:
        last = numbers[-1][-1] if numbers else None
        if last is not None and abs(last[0] - d[0]) < 4 and d[1] - last[2] < 0.8 * (d[2] - d[1]):
            numbers[-1].append(d)
        else:
            numbers.append([d])
    return [int("".join(str(d[3]) for d in number)) for number in numbers]


def _stroke_near(lit: list[bool], width: int, x: float, y: float, reach: int) -> bool:
    """A lit pixel within `reach` of (x, y) along the stroke's cross-section."""
    cx, cy = round(x), round(y)
    return any(lit[(cy + dy) * width + cx + dx] for dy in range(-reach, reach + 1) for dx in range(-reach, reach + 1)
               if 0 <= cx + dx < width and 0 <= (cy + dy) * width + cx + dx < len(lit))


def ocr_words(png: bytes) -> list[str]:
    """The words tesseract reads on a screenshot (the labels, the header, the problems)."""
    assert TESSERACT is not None
    done = subprocess.run([TESSERACT, "stdin", "stdout", "--psm", "11"], input=png,
                          capture_output=True, timeout=60, check=True)
    return done.stdout.decode("utf-8", "replace").split()


def wait_for(condition: Callable[[], object], limit: float, what: str) -> object:
    """`condition()` once it is true (checked every 0.1 s), or fail after `limit` s."""
    deadline = time.monotonic() + limit
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {limit}s: {what}")
        time.sleep(0.1)


class PrefixProxy:
    """A reverse proxy on loopback that serves `upstream` under `prefix` (as nginx's
    `location /wall/ { proxy_pass http://upstream/; }` does): requests and websockets
    passed on with the prefix stripped and the browser's Host kept. On its own loop in a
    thread; `close()` stops it."""

    def __init__(self, upstream: str, prefix: str = "/wall/") -> None:
        import asyncio
        import threading

        self.upstream, self.prefix = upstream.rstrip("/"), prefix
        self.loop = asyncio.new_event_loop()
        self.url = ""
        ready = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(ready,), daemon=True)
        self._thread.start()
        assert ready.wait(15), "the proxy did not start"

    def _run(self, ready) -> None:
        import asyncio

        from aiohttp import web

        async def start() -> None:
            app = web.Application()
            app.router.add_route("*", "/{tail:.*}", self._handle)
            self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
            await self._runner.setup()
            site = web.TCPSite(self._runner, "127.0.0.1", 0)
            await site.start()
            port = self._runner.addresses[0][1]
            self.url = f"http://127.0.0.1:{port}"
            ready.set()

        asyncio.set_event_loop(self.loop)
        self.loop.run_until_complete(start())
        self.loop.run_forever()

    async def _handle(self, request):
        import asyncio

        import aiohttp
        from aiohttp import web

        path = request.path
        if path == self.prefix.rstrip("/"):
            raise web.HTTPMovedPermanently(self.prefix)
        if not path.startswith(self.prefix):
            return web.Response(status=404, text="not under the prefix\n")
        target = f"{self.upstream}/{path[len(self.prefix):]}" + (f"?{request.query_string}" if request.query_string else "")
        headers = {k: v for k, v in request.headers.items()
                   if k.lower() not in ("content-length", "transfer-encoding", "connection", "upgrade",
                                        "sec-websocket-key", "sec-websocket-version", "sec-websocket-extensions")}
        async with aiohttp.ClientSession(auto_decompress=False) as session:
            if request.headers.get("upgrade", "").lower() == "websocket":
                try:
                    upstream = await session.ws_connect(target.replace("http", "ws", 1), headers=headers)
                except aiohttp.WSServerHandshakeError as exc:
                    return web.Response(status=exc.status)
                browser = web.WebSocketResponse()
                await browser.prepare(request)

                async def pipe(source, sink) -> None:
                    async for message in source:
                        if message.type == aiohttp.WSMsgType.TEXT:
                            await sink.send_str(message.data)
                        elif message.type == aiohttp.WSMsgType.BINARY:
                            await sink.send_bytes(message.data)
                    await sink.close()

                await asyncio.gather(pipe(upstream, browser), pipe(browser, upstream), return_exceptions=True)
                return browser
            async with session.request(request.method, target, headers=headers, data=await request.read(),
                                       allow_redirects=False) as reply:
                body = await reply.read()
                kept = {k: v for k, v in reply.headers.items()
                        if k.lower() not in ("content-length", "transfer-encoding", "connection", "content-encoding")}
                return web.Response(status=reply.status, body=body, headers=kept)

    def close(self) -> None:
        import asyncio

        asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self.loop).result(15)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(15)
