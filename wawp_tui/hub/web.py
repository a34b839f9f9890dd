"""The wall as a web page: `wawp-tui serve --web`, for a TV that has a browser and no
terminal.

The hub serves (on `--web-listen`, default 127.0.0.1:9878, beside its API) textual-serve's
browser terminal; each tab runs its own `wawp-tui --wall --hub <this hub>` process
(web_tab.py), a viewer attached to the hub's events: a tab costs no API poll.

    GET  ./            the page (a user's token in the cookie), or 401 saying how to give one
    GET  ./?token=T    checks T, sets the cookie, then opens the page (T leaves the address)
    POST ./login       the same from the 401 page's form (token=T, at most 4 KB: else 413)
    GET  ./ws          the tab's websocket: its process (503 when --web-tabs are running)
    GET  ./ping        204 while the page can connect, 401 / 503 otherwise (the page's
                       reconnection asks it before reloading)
    GET  ./static/...  textual-serve's script, xterm's stylesheet, the font, ours

- Who: any configured [[hub.users]] token (a viewer's is enough). The cookie (HttpOnly,
  SameSite=Strict, Secure under TLS, scoped to the page's path) holds an HMAC of the token,
  not the token: it opens this page and nothing else (not the API), and it outlives a
  restart of the hub. Checked in constant time against every user, never logged (no
  access log: a ?token= is in a request line). Failed tokens are rate-limited per address
  (429).
- The tabs' own credential: a viewer token made at start, in memory only, handed to each
  tab's process in its environment (never on a command line, in a URL or on screen); the
  hub knows it as the viewer `web-page`.
- Nothing from the internet: no Google font (the font is served from here), a
  Content-Security-Policy of 'self'; every URL relative (the websocket's too, in
  static/wall.js), so it works through an SSH tunnel and behind a reverse proxy with a
  path prefix alike. Cross-origin requests that could act for the browser (the websocket,
  the login form) are refused (403) when their Origin is not this host.
- A TV has nobody to press "Restart": static/wall.js reconnects by itself.
- Bounded: N tabs (processes) at once; idle connections closed after 10 s; a websocket
  message at most 64 KB; a tab that stops reading is dropped.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import html
import logging
import os
import re
import secrets
import socket
import ssl
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

from aiohttp import WSMsgType, web
from aiohttp.typedefs import Handler

from wawp_tui.config import HubUser
from wawp_tui.hub.limits import Buckets
from wawp_tui.hub.users import VIEWER, Users
from wawp_tui.hub.web_tab import HEIGHT, WIDTH, Tab, TabIO, clamp, tab_environment, wall_command
from wawp_tui.models import Secret

_log = logging.getLogger(__name__)

DEFAULT_WEB_LISTEN = "127.0.0.1:9878"
DEFAULT_TABS = 10
#: Each tab holds one event stream of the tabs' user, and the hub allows a user 32.
MOST_TABS = 32
#: The hub's name for the tabs' own viewer.
WEB_USER = "web-page"
COOKIE = "wawp_wall"
COOKIE_SECONDS = 400 * 86400  # (the longest a browser keeps one)
#: What the cookie is an HMAC of (keyed by the user's token).
_PAGE_SALT = b"wawp-tui wall page 1"
MAX_LOGIN_BODY = 4096
MAX_WS_MESSAGE = 64 * 1024
#: Seconds a connection may stay idle (or take to send its request).
IDLE = 10.0
#: Failed tokens per address: a burst, then this many a second.
LOGIN_BURST, LOGIN_RATE = 10, 0.2
FONT_SIZE = (8, 96)

# The one inline script: a page opened without its trailing slash (a reverse proxy's
# /wall) would resolve its relative URLs one folder too high.
_SLASH = ('if(!location.pathname.endsWith("/"))'
          'location.replace(location.pathname+"/"+location.search+location.hash);')
_SLASH_HASH = "sha256-" + base64.b64encode(hashlib.sha256(_SLASH.encode()).digest()).decode()
CSP = ("default-src 'none'; script-src 'self' '" + _SLASH_HASH + "'; style-src 'self' 'unsafe-inline'; "
       "font-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; "
       "form-action 'self'; frame-ancestors 'none'")

_STYLE = ("body{background:#000;color:#f0f0f0;font:1.4em/1.5 monospace;margin:2em auto;"
          "max-width:46em;padding:0 1em}code{background:#222;padding:0 .2em}"
          "input{font:inherit;width:22em;max-width:90%}button{font:inherit}")

_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>wawp-tui wall</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<script>{slash}</script>
<link rel="preload" href="static/RobotoMono.ttf" as="font" type="font/ttf" crossorigin>
<link rel="stylesheet" href="static/xterm.css">
<link rel="stylesheet" href="static/wall.css">
<script src="static/wall.js"></script>
<script src="static/textual.js"></script>
</head><body>
<div id="wall-status" role="status">Connecting to the wall&hellip;</div>
<div id="terminal" class="textual-terminal" data-session-websocket-url="ws" data-font-size="{font}"></div>
</body></html>
"""

_NOTE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>wawp-tui wall: {title}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">{refresh}
<style>{style}</style></head><body>
<h1>wawp-tui wall</h1>
{body}
</body></html>
"""

_ASK = """<p>{why}</p>
<p>This page shows the hub's wall to its users: open it once with a hub user's token
(a viewer's is enough) as <code>./?token=YOUR_TOKEN</code>, or give it here. The browser
keeps it in a cookie; the address bar does not.</p>
<form method="post" action="login"><input type="password" name="token" autocomplete="off"
placeholder="hub user token" required> <button type="submit">Open the wall</button></form>
<p>Tokens are in the hub's config ([[hub.users]], see docs/wall.md).</p>"""


def page_key(token: str) -> str:
    """What the cookie holds for a user's token: an HMAC of it, not the token."""
    return hmac.new(token.encode("utf-8", "surrogatepass"), _PAGE_SALT, hashlib.sha256).hexdigest()


class PageKeys:
    """The cookies that open the page: one per configured user with a token, compared
    in constant time, every one of them, a match or not."""

    def __init__(self, users: Iterable[HubUser]) -> None:
        self._keys = [(page_key(u.token.reveal()).encode(), u.name) for u in users if u.token]

    def who(self, cookie: str | None) -> str | None:
        if not cookie or len(cookie) > 128:
            return None
        given = cookie.encode("ascii", "replace").ljust(64)[:64]
        found = None
        for key, name in self._keys:
            if hmac.compare_digest(key, given) and found is None:
                found = name
        return found


@dataclass(frozen=True)
class WebOptions:
    """`serve --web`: where the page listens and how many tabs may run."""

    listen: str = DEFAULT_WEB_LISTEN
    tabs: int = DEFAULT_TABS


def tabs_user() -> tuple[HubUser, Secret]:
    """The tabs' own viewer and its token, new at every start (in memory only)."""
    token = Secret(secrets.token_urlsafe(32))
    return HubUser(WEB_USER, VIEWER, "", token), token


def hub_url_for(host: str, port: int, tls: bool) -> str:
    """The address a tab's process reaches the hub at: its own listening address (the
    loopback one when it listens on every address)."""
    host = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(host, host)
    shown = f"[{host}]" if ":" in host else host
    return f"{'https' if tls else 'http'}://{shown}:{port}"


def _static_files() -> dict[str, tuple[bytes, str]]:
    """The files the page loads, read once: textual-serve's browser terminal (its script,
    xterm's stylesheet without its comments, its font) and ours. Nothing else is served."""
    import textual_serve

    theirs = Path(textual_serve.__file__).parent / "static"
    ours = Path(__file__).parent / "web_static"
    files = {
        "textual.js": (theirs / "js" / "textual.js", "text/javascript; charset=utf-8"),
        "xterm.css": (theirs / "css" / "xterm.css", "text/css; charset=utf-8"),
        "RobotoMono.ttf": (theirs / "fonts" / "RobotoMono-VariableFont_wght.ttf", "font/ttf"),
        "RobotoMono-Italic.ttf": (theirs / "fonts" / "RobotoMono-Italic-VariableFont_wght.ttf", "font/ttf"),
        "wall.js": (ours / "wall.js", "text/javascript; charset=utf-8"),
        "wall.css": (ours / "wall.css", "text/css; charset=utf-8"),
    }
    loaded = {}
    for name, (path, kind) in files.items():
        data = path.read_bytes()
        if name == "xterm.css":  # (its licence comment names web addresses; nothing loads them)
            data = re.sub(rb"/\*.*?\*/", b"", data, flags=re.S)
        loaded[name] = (data, kind)
    return loaded


def _same_host(origin: str | None, host: str | None) -> bool:
    """A browser's Origin names this page's own host (a request with no Origin is not a
    browser acting across sites)."""
    if origin is None:
        return True
    parts = urlsplit(origin)
    if parts.scheme not in ("http", "https") or not parts.netloc or not host:
        return False
    default = {"http": ":80", "https": ":443"}[parts.scheme]
    return parts.netloc.lower().removesuffix(default) == host.lower().removesuffix(default)


class WebWall:
    """The page's HTTP server (see the module docstring)."""

    def __init__(self, users: Sequence[HubUser], *, hub_url: str, tabs_token: Secret,
                 tabs: int = DEFAULT_TABS, tls: tuple[str, str] | None = None,
                 command: Sequence[str] | None = None, env: Mapping[str, str] | None = None,
                 idle: float = IDLE, clock: Callable[[], float] = time.monotonic) -> None:
        self.users = Users(users)
        self.keys = PageKeys(users)
        self.hub_url = hub_url
        self.tabs_token = tabs_token
        self.most = tabs
        self.tls = tls
        self.command = list(command) if command is not None else wall_command(hub_url)
        self.env = dict(os.environ if env is None else env)
        self.idle = idle
        self.failures = Buckets(LOGIN_RATE, LOGIN_BURST, clock)
        self.files = _static_files()
        self._etags = {name: '"' + hashlib.sha256(data).hexdigest()[:32] + '"'
                       for name, (data, _) in self.files.items()}
        #: Tabs running now (their processes), and the websockets in use.
        self.tabs: set[Tab] = set()
        self._reserved = 0
        self._sockets: set[web.WebSocketResponse] = set()
        self._runner: web.AppRunner | None = None
        #: (host, port) once listening.
        self.address: tuple[str, int] | None = None

    @property
    def running(self) -> int:
        """Tabs running or starting."""
        return self._reserved

    # -- the app -------------------------------------------------------------------

    def app(self) -> web.Application:
        app = web.Application(middlewares=[self._headers], client_max_size=MAX_LOGIN_BODY)
        app.add_routes([
            web.get("/", self.index, allow_head=True),
            web.post("/login", self.login),
            web.get("/ping", self.ping, allow_head=True),
            web.get("/ws", self.websocket),
            web.get("/static/{name}", self.static, allow_head=True),
            web.get("/favicon.ico", self.nothing, allow_head=True),
        ])
        return app

    @web.middleware
    async def _headers(self, request: web.Request,
                       handler: Handler) -> web.StreamResponse:
        try:
            response = await handler(request)
        except web.HTTPException as exc:  # aiohttp's own 404 / 405 / 413
            response = web.Response(status=exc.status, text=f"{exc.status} {exc.reason}\n",
                                    headers={"cache-control": "no-store"})
        if not response.prepared:
            headers = response.headers
            headers.setdefault("content-security-policy", CSP)
            headers.setdefault("x-content-type-options", "nosniff")
            headers.setdefault("referrer-policy", "no-referrer")
            headers.setdefault("x-frame-options", "DENY")
            headers.setdefault("cache-control", "no-store")
            headers["server"] = "wawp-tui"  # (not aiohttp's name and version)
        return response

    # -- who is asking ---------------------------------------------------------------

    def _viewer(self, request: web.Request) -> str | None:
        return self.keys.who(request.cookies.get(COOKIE))

    def _note(self, status: int, title: str, body: str, *, refresh: str | None = None,
              headers: Mapping[str, str] | None = None) -> web.Response:
        """A short page; `refresh` ("10", "0;url=./") reloads or moves it by itself."""
        meta = f'\n<meta http-equiv="refresh" content="{refresh}">' if refresh is not None else ""
        text = _NOTE.format(title=html.escape(title), refresh=meta, style=_STYLE, body=body)
        return web.Response(status=status, text=text, content_type="text/html", charset="utf-8",
                            headers=dict(headers or {}))

    def _ask(self, why: str, status: int = 401) -> web.Response:
        return self._note(status, "a token is needed", _ASK.format(why=html.escape(why, quote=False)),
                          headers={"www-authenticate": 'Bearer realm="wawp-tui wall"'} if status == 401 else None)

    def _full(self) -> str:
        return (f"All {self.most} wall tabs are in use (wawp-tui serve --web-tabs {self.most}): "
                "close one, or start the hub with more.")

    def _check_token(self, request: web.Request, token: str) -> web.Response | None:
        """None when `token` is a user's; else the refusal (401, or 429 once the address
        used up its failed tries: then not even a right token is looked at)."""
        peer = request.remote or "?"
        wait = self.failures.waiting(peer)
        if wait is not None:
            seconds = max(1, round(wait + 0.5))
            return self._note(429, "too many tries", f"<p>Too many wrong tokens from this address: "
                              f"try again in {seconds} s.</p>", headers={"retry-after": str(seconds)})
        if token and len(token) <= 1024 and self.users.who(f"Bearer {token}") is not None:
            return None
        self.failures.take(peer)
        return self._ask("That token is not one of the hub's users.")

    def _cookie(self, response: web.StreamResponse, token: str) -> None:
        # No Path: the browser scopes the cookie to the page's own folder, which behind a
        # reverse proxy is its prefix (/wall), not the whole site (an empty value is left out).
        response.set_cookie(COOKIE, page_key(token), max_age=COOKIE_SECONDS, httponly=True,
                            samesite="Strict", secure=self.tls is not None, path="")

    # -- pages ---------------------------------------------------------------------

    async def index(self, request: web.Request) -> web.StreamResponse:
        token = request.query.get("token")
        if token is not None:
            refused = self._check_token(request, token)
            if refused is not None:
                return refused
            # A page of our own opens the wall (a same-site navigation: the SameSite=Strict
            # cookie goes with it, even when the ?token= link came from another site).
            kept = urlencode([(k, v) for k, v in request.query.items() if k != "token"])
            target = html.escape("./" + (f"?{kept}" if kept else ""), quote=True)
            response = self._note(200, "opening", f'<p>Opening <a href="{target}">the wall</a>&hellip;</p>',
                                  refresh=f"0;url={target}")
            self._cookie(response, token)
            return response
        if self._viewer(request) is None:
            return self._ask("This wall needs a hub user's token.")
        if self._reserved >= self.most:
            return self._note(503, "all tabs in use", f"<p>{html.escape(self._full())}</p>"
                              "<p>This page tries again every 10 s.</p>", refresh="10",
                              headers={"retry-after": "10"})
        font = clamp(request.query.get("fontsize", "16"), FONT_SIZE, 16)
        return web.Response(text=_PAGE.format(slash=_SLASH, font=font), content_type="text/html",
                            charset="utf-8")

    async def login(self, request: web.Request) -> web.StreamResponse:
        if not _same_host(request.headers.get("origin"), request.host):
            return self._note(403, "refused", "<p>A form from another site: refused.</p>")
        body = await read_capped(request, MAX_LOGIN_BODY)
        if body is None:
            return self._note(413, "too big", f"<p>The form is over {MAX_LOGIN_BODY} bytes.</p>")
        values = parse_qs(body.decode("utf-8", "replace"), max_num_fields=4)
        token = (values.get("token") or [""])[0].strip()
        refused = self._check_token(request, token)
        if refused is not None:
            return refused
        response = web.Response(status=303, headers={"location": "./"})
        self._cookie(response, token)
        return response

    async def ping(self, request: web.Request) -> web.StreamResponse:
        if self._viewer(request) is None:
            return web.Response(status=401, text="a hub user's token is needed: reload the page\n")
        if self._reserved >= self.most:
            return web.Response(status=503, text=self._full() + "\n", headers={"retry-after": "10"})
        return web.Response(status=204)

    async def nothing(self, request: web.Request) -> web.StreamResponse:
        return web.Response(status=204, headers={"cache-control": "max-age=86400"})

    async def static(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        found = self.files.get(name)
        if found is None:
            return web.Response(status=404, text="not found\n")
        data, kind = found
        etag = self._etags[name]
        headers = {"etag": etag, "cache-control": "no-cache"}
        if request.headers.get("if-none-match") == etag:
            return web.Response(status=304, headers=headers)
        return web.Response(body=data, headers={**headers, "content-type": kind})

    # -- a tab -----------------------------------------------------------------------

    async def websocket(self, request: web.Request) -> web.StreamResponse:
        if self._viewer(request) is None:
            return web.Response(status=401, text="a hub user's token is needed: reload the page\n")
        if not _same_host(request.headers.get("origin"), request.host):
            return web.Response(status=403, text="a websocket from another site: refused\n")
        if self._reserved >= self.most:
            return web.Response(status=503, text=self._full() + "\n", headers={"retry-after": "10"})
        self._reserved += 1
        try:
            return await self._run_tab(request)
        finally:
            self._reserved -= 1

    async def _run_tab(self, request: web.Request) -> web.StreamResponse:
        socket_ = web.WebSocketResponse(heartbeat=15.0, max_msg_size=MAX_WS_MESSAGE, compress=False)
        await socket_.prepare(request)
        self._sockets.add(socket_)
        width = clamp(request.query.get("width", "80"), WIDTH, 80)
        height = clamp(request.query.get("height", "24"), HEIGHT, 24)
        env = tab_environment(self.env, self.tabs_token, width, height,
                              self.tls[0] if self.tls else None)
        tab = Tab(self.command, env, TabIO(socket_.send_bytes, socket_.send_str))
        self.tabs.add(tab)
        pump: asyncio.Future[None] | None = None
        try:
            await tab.start()
            pump = asyncio.ensure_future(tab.pump())
            reader = asyncio.ensure_future(self._read(socket_, tab))
            await asyncio.wait({pump, reader}, return_when=asyncio.FIRST_COMPLETED)
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader
        except OSError as exc:
            _log.error("wall tab: cannot start %s: %s", self.command[0], exc)
        finally:
            if pump is not None:
                pump.cancel()
            await tab.stop()
            self.tabs.discard(tab)
            self._sockets.discard(socket_)
            await socket_.close()
        return socket_

    async def _read(self, socket_: web.WebSocketResponse, tab: Tab) -> None:
        async for message in socket_:
            if message.type == WSMsgType.TEXT:
                await tab.from_browser(message.data)
            elif message.type == WSMsgType.ERROR:
                return

    # -- running ---------------------------------------------------------------------

    def describe(self, sock: socket.socket) -> str:
        """The line `serve` prints: where the page is and how to open it (no token)."""
        host, port = sock.getsockname()[:2]
        where = hub_url_for(host, port, self.tls is not None)
        return (f"wawp-tui wall page: {where}/ (a browser tab each runs `wawp-tui --wall --hub "
                f"{self.hub_url}`, at most {self.most}; the page asks for a hub user's token "
                "once; docs/wall.md)")

    async def serve(self, sock: socket.socket) -> None:
        """Serve on `sock` until cancelled; then every tab's process is ended."""
        runner = web.AppRunner(self.app(), access_log=None, keepalive_timeout=self.idle,
                               shutdown_timeout=2.0, handle_signals=False)
        await runner.setup()
        self._runner = runner
        context = None
        if self.tls is not None:
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(*self.tls)
        site = web.SockSite(runner, sock, ssl_context=context)
        await site.start()
        self.address = sock.getsockname()[:2]
        try:
            await asyncio.Event().wait()
        finally:
            await asyncio.shield(self.close())

    async def close(self) -> None:
        """End every tab (its process waited for), then the server."""
        for socket_ in list(self._sockets):
            with contextlib.suppress(Exception):
                await socket_.close(code=1001, message=b"the hub is stopping")
        await asyncio.gather(*(tab.stop() for tab in list(self.tabs)), return_exceptions=True)
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()


async def read_capped(request: web.Request, cap: int) -> bytes | None:
    """The request body, or None once it is over `cap` bytes (the rest is never read)."""
    if request.content_length is not None and request.content_length > cap:
        return None
    data = bytearray()
    while chunk := await request.content.read(4096):
        data += chunk
        if len(data) > cap:
            return None
    return bytes(data)

