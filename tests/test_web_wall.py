"""`wawp-tui serve --web`, the wall page's server, over real sockets (a real hub and
simulator on loopback, real tab processes): a token once, then a cookie that is not the
token; nothing from the internet; every refusal (401, 403, 413, 429, 503); each tab a
viewer process with no secret but its own; idle connections closed; every process ended.
(The page in a real browser: tests/test_web_browser.py.)"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import socket
import time

import aiohttp
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.hub_kit import TOKENS, WAWP_TOKEN, config_for, hub_in_loop, pid_alive, until
from wawp_tui.cli import main
from wawp_tui.commands.exporter import bind
from wawp_tui.hub.web import COOKIE, WEB_USER, PageKeys, WebWall, page_key, tabs_user
from wawp_tui.hub.web_tab import KEPT_VARIABLES, tab_environment, translate
from wawp_tui.models import Secret
from wawp_tui.simulator import SimInstance, Simulator

VIEWER, OPERATOR = TOKENS["val"], TOKENS["alice"]


@contextlib.asynccontextmanager
async def page(serve, *, tabs: int = 2, idle: float = 10.0):
    """A hub (with the tabs' viewer) and its wall page on loopback: (hub, page, page URL)."""
    sims = [SimInstance(id=f"WEBPAGE{k:05d}", label=f"Desk {k}", token=WAWP_TOKEN, started_at=0.0)
            for k in range(3)]
    config = config_for(serve(Simulator(sims)).url, sims)
    user, token = tabs_user()
    config = config.__class__(**{**config.__dict__, "hub": config.hub.__class__(
        **{**config.hub.__dict__, "users": (*config.hub.users, user)})})
    async with hub_in_loop(config) as (hub, base):
        wall = WebWall([u for u in config.hub.users if u.name != WEB_USER], hub_url=base,
                       tabs_token=token, tabs=tabs, idle=idle)
        sock = bind("127.0.0.1", 0)
        task = asyncio.ensure_future(wall.serve(sock))
        await until(lambda: wall.address is not None, what="the page listens")
        try:
            yield hub, wall, f"http://127.0.0.1:{wall.address[1]}"
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            sock.close()


def _session(cookie: str | None = None) -> aiohttp.ClientSession:
    jar = aiohttp.CookieJar(unsafe=True)  # (an IP address's cookies, as a browser keeps them)
    session = aiohttp.ClientSession(cookie_jar=jar)
    if cookie is not None:
        session.cookie_jar.update_cookies({COOKIE: cookie})
    return session


async def test_the_page_asks_for_a_token_once_and_keeps_a_cookie_that_is_not_the_token(serve):
    async with page(serve) as (hub, wall, url), _session() as http:
        async with http.get(f"{url}/") as reply:
            body = await reply.text()
            assert reply.status == 401 and "Bearer" in reply.headers["www-authenticate"]
            assert 'action="login"' in body and "./?token=" in body
        async with http.get(f"{url}/?token=not-a-token-of-this-hub") as reply:
            assert reply.status == 401 and "not one of the hub's users" in await reply.text()
        async with http.get(f"{url}/?token={VIEWER}&fontsize=24") as reply:
            body = await reply.text()
            assert reply.status == 200 and 'content="0;url=./?fontsize=24"' in body
            cookie = reply.headers["set-cookie"]
            assert VIEWER not in cookie and VIEWER not in body
            assert re.search(r"HttpOnly", cookie, re.I) and re.search(r"SameSite=Strict", cookie, re.I)
            assert "path=" not in cookie.lower()  # (the page's own folder, behind a prefix too)
            assert f"{COOKIE}={page_key(VIEWER)}" in cookie
        async with http.get(f"{url}/?fontsize=24") as reply:
            body = await reply.text()
            assert reply.status == 200 and 'data-session-websocket-url="ws"' in body
            assert 'data-font-size="24"' in body
            assert "default-src 'none'" in reply.headers["content-security-policy"]
            assert reply.headers["x-frame-options"] == "DENY"
            # Every URL the page loads is relative (an SSH tunnel, a proxy's path prefix).
            for ref in re.findall(r'(?:src|href)="([^"]*)"', body):
                assert not re.match(r"^([a-z]+:|/)", ref), ref
    # The form, with an operator's token: it opens the page too (the page only reads).
    async with page(serve) as (hub, wall, url), _session() as http:
        async with http.post(f"{url}/login", data={"token": OPERATOR}, allow_redirects=False) as reply:
            assert reply.status == 303 and reply.headers["location"] == "./"
            assert f"{COOKIE}={page_key(OPERATOR)}" in reply.headers["set-cookie"]
        async with http.get(f"{url}/") as reply:
            assert reply.status == 200


async def test_nothing_the_page_loads_comes_from_the_internet(serve):
    async with page(serve) as (hub, wall, url), _session(page_key(VIEWER)) as http:
        async with http.get(f"{url}/") as reply:
            body = await reply.text()
        loaded = re.findall(r'(?:src|href)="([^"]*)"', body)
        assert {"static/textual.js", "static/wall.js", "static/xterm.css", "static/wall.css"} <= set(loaded)
        texts = {"/": body}
        for name in ("textual.js", "wall.js", "xterm.css", "wall.css"):
            async with http.get(f"{url}/static/{name}") as reply:
                assert reply.status == 200
                texts[name] = await reply.text()
        async with http.get(f"{url}/static/RobotoMono.ttf") as reply:
            assert reply.status == 200 and reply.headers["content-type"] == "font/ttf"
        for name, text in texts.items():
            assert not re.search(r"https?://", text), f"{name} names a web address"
        assert "fonts.googleapis" not in "".join(texts.values())
        # Only the listed files: no folder, no way out of it.
        for name in ("..%2Fweb.py", "js", "index.html", "images%2Fbackground.png"):
            async with http.get(f"{url}/static/{name}") as reply:
                assert reply.status == 404, name


async def test_every_refusal(serve):
    async with page(serve, tabs=1) as (hub, wall, url):
        async with _session() as http:
            # 401: no cookie, for the tab's socket and the reconnection's ping.
            async with http.get(f"{url}/ping") as reply:
                assert reply.status == 401
            with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
                await http.ws_connect(f"{url}/ws")
            assert refused.value.status == 401
            # 413: a form over 4 KB.
            async with http.post(f"{url}/login", data={"token": "x" * 5000}) as reply:
                assert reply.status == 413
        async with _session(page_key(VIEWER)) as http:
            # 403: a socket or a form from another site.
            with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
                await http.ws_connect(f"{url}/ws", origin="https://evil.example")
            assert refused.value.status == 403
            async with http.post(f"{url}/login", data={"token": VIEWER},
                                 headers={"origin": "https://evil.example"}) as reply:
                assert reply.status == 403
        async with _session() as http:
            # 429: ten wrong tokens from one address, then even a right one waits.
            statuses = []
            for k in range(11):
                async with http.get(f"{url}/?token=wrong-{k}") as reply:
                    statuses.append(reply.status)
            assert statuses[:10] == [401] * 10 and statuses[10] == 429
            async with http.get(f"{url}/?token={VIEWER}") as reply:
                assert reply.status == 429 and int(reply.headers["retry-after"]) >= 1


async def test_each_tab_is_a_viewer_process_with_no_secret_but_its_own_and_the_last_is_refused(serve, monkeypatch):
    monkeypatch.setenv("WAWP_ACCESS_TOKEN", "wawp-SECRET-of-the-hub-host")
    monkeypatch.setenv("TOK_ALICE", OPERATOR)
    async with page(serve, tabs=1) as (hub, wall, url), _session(page_key(VIEWER)) as http:
        wall.env = {**wall.env, "WAWP_ACCESS_TOKEN": "wawp-SECRET-of-the-hub-host", "TOK_ALICE": OPERATOR}
        socket_ = await http.ws_connect(f"{url}/ws?width=100&height=30")
        screen = bytearray()

        async def read_screen() -> None:
            while b"read-only" not in screen:
                message = await socket_.receive()
                assert message.type == aiohttp.WSMsgType.BINARY, message
                screen.extend(message.data)

        await asyncio.wait_for(read_screen(), 60)
        assert b"instances" in screen  # the wall's header, drawn by the tab's own process
        (tab,) = wall.tabs
        pid = tab.process.pid
        with open(f"/proc/{pid}/environ", "rb") as handle:
            environ = dict(item.split(b"=", 1) for item in handle.read().split(b"\0") if b"=" in item)
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            cmdline = handle.read().split(b"\0")
        assert environ[b"WAWP_HUB_TOKEN"] == wall.tabs_token.reveal().encode()
        assert b"WAWP_ACCESS_TOKEN" not in environ and b"TOK_ALICE" not in environ
        assert not any(OPERATOR.encode() in v or b"SECRET" in v for v in environ.values())
        assert b"--wall" in cmdline and not any(wall.tabs_token.reveal().encode() in a for a in cmdline)
        # The hub knows it as its viewer: one stream, no action possible.
        await until(lambda: hub.broadcaster.readers(WEB_USER) == 1, 30, "the tab's event stream")
        # 503: the next tab is refused, and the page says so (and tries again by itself).
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await http.ws_connect(f"{url}/ws")
        assert refused.value.status == 503
        async with http.get(f"{url}/ping") as reply:
            assert reply.status == 503 and "All 1 wall tabs are in use" in await reply.text()
        async with http.get(f"{url}/") as reply:
            assert reply.status == 503 and 'http-equiv="refresh" content="10"' in await reply.text()
        # The tab closed: its process ends, and a tab may open again.
        await socket_.close()
        await until(lambda: not pid_alive(pid) and wall.running == 0, 15, "the tab's process ended")
        async with http.get(f"{url}/ping") as reply:
            assert reply.status == 204
        again = await http.ws_connect(f"{url}/ws")
        await until(lambda: len(wall.tabs) == 1 and next(iter(wall.tabs)).process, 15, "a new tab")
        (tab,) = wall.tabs
        pid = tab.process.pid
    # The page stopped with a tab open: its process is ended too.
    await until(lambda: not pid_alive(pid), 15, "the last tab's process ended with the page")
    await again.close()


async def test_idle_and_slow_connections_are_closed(serve):
    async with page(serve, idle=1.0) as (hub, wall, url):
        port = wall.address[1]

        def closed_within(limit: float, drip: bytes = b"") -> float:
            with socket.create_connection(("127.0.0.1", port), timeout=limit + 5) as conn:
                started = time.monotonic()
                conn.settimeout(0.25)
                while time.monotonic() - started < limit + 5:
                    if drip:
                        with contextlib.suppress(OSError):
                            conn.sendall(drip[:1])
                        drip = drip[1:] or b"X"
                    try:
                        if conn.recv(1024) == b"":
                            return time.monotonic() - started
                    except TimeoutError:
                        continue
                    except OSError:
                        return time.monotonic() - started
                raise AssertionError("the connection was kept")

        assert await asyncio.to_thread(closed_within, 1.0) < 5
        assert await asyncio.to_thread(closed_within, 1.0, b"GET / HTTP/1.1\r\nX-Slow: ") < 5


def test_a_tab_keeps_no_variable_but_its_own_few():
    base = {"PATH": "/usr/bin", "HOME": "/home/tv", "WAWP_ACCESS_TOKEN": "x", "WAWP_HUB_TOKEN_ALICE": "y",
            "AWS_SECRET_ACCESS_KEY": "z", "HTTPS_PROXY": "http://proxy:3128", "LANG": "C.UTF-8"}
    env = tab_environment(base, Secret("tabs-token-0123456789"), 120, 40)
    assert env["WAWP_HUB_TOKEN"] == "tabs-token-0123456789"
    assert env["TEXTUAL_DRIVER"] == "textual.drivers.web_driver:WebDriver"
    assert (env["COLUMNS"], env["ROWS"]) == ("120", "40")
    assert set(env) - set(KEPT_VARIABLES) == {"WAWP_HUB_TOKEN", "TEXTUAL_DRIVER", "TEXTUAL_COLOR_SYSTEM",
                                              "TERM", "COLUMNS", "ROWS", "PYTHONUNBUFFERED"}
    assert "HTTPS_PROXY" not in env  # (the tab reaches its hub on loopback, never through a proxy)


@pytest.mark.parametrize(("args", "said"), [
    (["serve", "--web"], "no [[hub.users]] with a token are configured"),
    (["serve", "--web-tabs", "3"], "--web-listen and --web-tabs go with --web"),
    (["serve", "--web", "--web-tabs", "0"], "--web-tabs must be from 1 to 32"),
    (["serve", "--web", "--web-listen", "nowhere"], "--web-listen wants HOST:PORT"),
])
def test_serve_web_refuses_what_cannot_work(tmp_path, monkeypatch, capsys, args, said):
    config = tmp_path / "config.toml"
    users = "" if args == ["serve", "--web"] else (
        '[[hub.users]]\nname = "tv"\ntoken_env = "TV_TOKEN"\nrole = "viewer"\n')
    config.write_text('[api]\nbase_url = "http://127.0.0.1:9"\n\n[[instances]]\nid = "ABC123"\nlabel = "Desk"\n'
                      'token_env = "TV_TOKEN"\n\n[hub]\nlisten = "127.0.0.1:0"\n' + users)
    config.chmod(0o600)
    monkeypatch.setenv("TV_TOKEN", VIEWER)
    assert main(["--config", str(config), *args]) == 2
    assert said in capsys.readouterr().err


async def test_a_tab_process_ends_by_itself_when_the_hub_is_killed(tmp_path):
    """SIGKILL leaves the hub no time to end its tabs: their pipes hang up and each tab's
    process leaves on its own (no orphan wall left running on the hub's machine)."""
    from wawp_tui.devtools.bench import this_tree
    from wawp_tui.devtools.bench_web import VIEWER, WebTeam
    from wawp_tui.devtools.harness import child_env

    team = await asyncio.to_thread(WebTeam, this_tree(), 3, child_env(str(tmp_path)), str(tmp_path), tabs=2)
    try:
        async with _session(page_key(VIEWER)) as http:
            socket_ = await http.ws_connect(f"{team.page_url}/ws")
            message = await asyncio.wait_for(socket_.receive(), 60)
            assert message.type == aiohttp.WSMsgType.BINARY
            (pid,) = team.tab_pids()
            team.hub.proc.kill()
            team.hub.proc.wait(10)
            await until(lambda: not pid_alive(pid), 15, "the orphaned tab's process ended")
            await socket_.close()
    finally:
        team.hub = None
        team.close()


_FROM_OUTSIDE = st.one_of(
    st.text(max_size=200),
    st.sampled_from(["\x1b]0;pwned\x07", "[/]", "[bold red]x", VIEWER, '["resize", {"width": 1e308}]',
                     '["resize", {"width": "9" * 50, "height": -5}]', '["ping", "' + "x" * 500 + '"]',
                     "[" * 5000 + "]" * 5000, '["stdin", "\\u0000\\udc80q"]', '["quit"]', '["open_url", "x"]']),
    st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
                 lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
                 max_leaves=12).map(json.dumps),
    st.tuples(st.sampled_from(["stdin", "resize", "ping", "focus", "blur"]),
              st.one_of(st.text(max_size=50), st.dictionaries(st.sampled_from(["width", "height"]),
                                                              st.one_of(st.integers(), st.text(max_size=8),
                                                                        st.floats())))).map(lambda t: json.dumps(list(t))))


@settings(max_examples=300, deadline=None)
@given(text=_FROM_OUTSIDE)
def test_whatever_the_browser_sends_is_a_bounded_packet_or_nothing(text):
    answer = translate(text)
    if isinstance(answer, bytes):
        kind, size, payload = answer[:1], int.from_bytes(answer[1:5], "big"), answer[5:]
        assert kind in (b"D", b"M") and size == len(payload)
        if kind == b"M":
            data = json.loads(payload)
            assert data["type"] in ("resize", "focus", "blur")  # never quit, exit or a file
            if data["type"] == "resize":
                assert 20 <= data["width"] <= 500 and 8 <= data["height"] <= 200
    elif isinstance(answer, str):
        pong = json.loads(answer)
        assert pong[0] == "pong" and len(pong[1]) <= 64
    else:
        assert answer is None


@settings(max_examples=200, deadline=None)
@given(cookie=st.one_of(st.none(), st.text(max_size=300), st.sampled_from([VIEWER, OPERATOR, page_key(VIEWER)[:-1]])))
def test_no_cookie_but_a_users_page_key_opens_the_page(cookie):
    from wawp_tui.config import HubUser

    keys = PageKeys([HubUser("val", "viewer", "TOK_VAL", Secret(VIEWER))])
    assert keys.who(cookie) is None  # (the token itself is not the cookie)
    assert keys.who(page_key(VIEWER)) == "val"
