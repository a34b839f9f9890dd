"""The wall page in a real browser: Debian's chromium, headless, against real processes on
127.0.0.1 (the simulator pushing webhooks, `wawp-tui serve --web`, the tabs' own
`wawp-tui --wall --hub`). No token, no page; with one, the terminal draws and its big
digits, read from the screenshot's pixels, are the hub's counts; a change on the simulator
is on the page within 5 s; the hub restarted, the page comes back by itself within 10 s.

One simulator, hub and browser for the module (the tests run in order): lean enough for CI.
"""

from __future__ import annotations

import time
from collections import Counter

import httpx
import pytest

from tests.browser_kit import Browser, PrefixProxy, needs_browser, ocr_words, read_counts, wait_for
from wawp_tui.devtools.bench import this_tree
from wawp_tui.devtools.bench_hub import _flip
from wawp_tui.devtools.bench_web import VIEWER, WebTeam
from wawp_tui.devtools.harness import child_env
from wawp_tui.models import FAILED, SCAN_QR_CODE
from wawp_tui.ui import wall_view

pytestmark = needs_browser


@pytest.fixture(scope="module")
def team(tmp_path_factory):
    home = str(tmp_path_factory.mktemp("web-home"))
    team = WebTeam(this_tree(), 12, child_env(home), home, tabs=3)
    try:
        ids = [i["id"] for i in team.sim.state]
        _flip(team.sim.url, ids[0], FAILED)
        _flip(team.sim.url, ids[1], SCAN_QR_CODE)
        yield team
    finally:
        team.close()


@pytest.fixture(scope="module")
def browser():
    browser = Browser(1280, 800)
    try:
        yield browser
    finally:
        browser.quit()


def expected_counts(team: WebTeam) -> list[int]:
    """The tiles' counts, worst first, as the hub's /api/v1/fleet has them."""
    words = Counter(i["view"]["word"] for i in team.fleet()["instances"])
    return [words[w] for w in wall_view.tile_words(words)]


def drawn(browser: Browser) -> bool:
    classes = browser.body_classes()
    return "-first-byte" in classes and "-lost" not in classes


def test_no_token_no_page_and_with_one_the_terminal_draws(team, browser):
    assert httpx.get(f"{team.page_url}/", timeout=10).status_code == 401
    browser.open(f"{team.page_url}/")
    assert "needs a hub user's token" in browser.text()
    browser.open(f"{team.page_url}/?token={VIEWER}")
    wait_for(lambda: drawn(browser), 30, "the terminal drawn (body.-first-byte)")
    assert VIEWER not in (browser.script("return location.href") or "")  # the token left the address
    refused = [line for line in browser.console() if "Content Security Policy" in line]
    assert not refused, refused  # (the page loads nothing but its own files)


def test_the_page_shows_the_hubs_counts(team, browser):
    wait_for(lambda: drawn(browser), 30, "the wall drawn")
    wait_for(lambda: all(i["status"] for i in team.fleet()["instances"]), 30, "the hub polled")
    expected = expected_counts(team)
    assert sum(expected) == 12 and expected[0] == 1  # FAILED, the worst, first
    shot = wait_for(lambda: (lambda png: png if read_counts(png) == expected else None)(browser.screenshot()),
                    15, f"the counts {expected} on the page")
    words = " ".join(ocr_words(shot))  # (FAILED is in reverse video: OCR reads the plain words)
    for word in ("WORKING", "SCAN QR", "12 instances", "PROBLEMS 2", "read-only"):
        assert word in words, words


def test_a_change_on_the_simulator_is_on_the_page_within_5s(team, browser):
    wait_for(lambda: drawn(browser), 30, "the wall drawn")
    before = Counter(i["view"]["word"] for i in team.fleet()["instances"])
    target = next(i["id"] for i in team.fleet()["instances"] if i["view"]["word"] == "WORKING")
    after = before.copy()
    after["WORKING"] -= 1
    after[FAILED] += 1
    expected = [after[w] for w in wall_view.tile_words(+after)]
    changed = time.monotonic()
    _flip(team.sim.url, target, FAILED)
    wait_for(lambda: read_counts(browser.screenshot()) == expected, 5.0, f"{expected} within 5 s")
    assert time.monotonic() - changed < 5.0


def test_the_hub_restarted_the_page_comes_back_by_itself_within_10s(team, browser):
    wait_for(lambda: drawn(browser), 30, "the wall drawn")
    team.stop_hub()
    wait_for(lambda: "-lost" in browser.body_classes(), 15, "the loss said on the page")
    assert "reconnecting by itself" in browser.text()
    team.start_hub()  # (it returns once the hub answers /healthz)
    back = time.monotonic()
    wait_for(lambda: drawn(browser), 10.0, "the page back by itself")
    assert time.monotonic() - back < 10.0
    wait_for(lambda: all(i["status"] for i in team.fleet()["instances"]), 30, "the hub polled")
    expected = expected_counts(team)
    wait_for(lambda: read_counts(browser.screenshot()) == expected, 15, f"the counts {expected} again")


def test_behind_a_reverse_proxy_with_a_path_prefix_it_works_as_it_is(team, browser):
    """Every URL of the page is relative: under /wall/ (the proxy strips it, as nginx's
    `proxy_pass http://127.0.0.1:9878/` does) the token page, the cookie, the scripts, the
    websocket and the wall work with nothing configured on the hub."""
    proxy = PrefixProxy(team.page_url, "/wall/")
    try:
        browser.open(f"{proxy.url}/wall")  # (no trailing slash: the proxy's redirect adds it)
        browser.driver.delete_all_cookies()  # (the direct page's, for this host: start afresh)
        browser.open(f"{proxy.url}/wall")
        assert "needs a hub user's token" in browser.text()
        browser.open(f"{proxy.url}/wall/?token={VIEWER}")
        wait_for(lambda: drawn(browser), 30, "the wall drawn through the proxy")
        assert (browser.script("return location.pathname") or "") == "/wall/"
        wait_for(lambda: all(i["status"] for i in team.fleet()["instances"]), 30, "the hub polled")
        expected = expected_counts(team)
        wait_for(lambda: read_counts(browser.screenshot()) == expected, 15, f"{expected} through the proxy")
    finally:
        proxy.close()
