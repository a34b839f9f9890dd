"""Replies from a misbehaving server, read as the client reads every poll: what we do not
use is read tolerantly (a name that is not UTF-8, a 5,000-digit number elsewhere); what
is ambiguous says so (a status given twice); an invisible character in a status word is
shown; oversized headers and slow replies are named for what they are."""

from __future__ import annotations

import re
import threading
import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.test_transport import RawServer, read_request, reply
from wawp_tui.client.api import WawpClient, parse_session
from wawp_tui.client.errors import MalformedResponse, NetworkError, Timeout
from wawp_tui.models import InstanceConfig, Secret
from wawp_tui.safe_text import clean_word
from wawp_tui.simulator import SIM_TOKEN


@pytest.fixture
def server():
    started = []

    def start(handler):
        s = RawServer(handler)
        started.append(s)
        return s

    yield start
    for s in started:
        s.close()


def answering(body: bytes, *headers: bytes):
    def handle(conn):
        while read_request(conn):
            conn.sendall(reply(body, *headers))
    return handle


def inst() -> InstanceConfig:
    return InstanceConfig(id="AAAAAAAAAAA1", label="one", token=Secret(SIM_TOKEN))


async def info(url: str, **kwargs):
    async with WawpClient(url.rstrip("/"), **kwargs) as wawp:
        return await wawp.info(inst())


async def test_a_name_that_is_not_utf8_leaves_a_working_instance_working(server):
    s = server(answering(b'{"status": "WORKING", "name": "Caf\xe9 \xff desk", "me": {"pushName": "A\xc3"}}'))
    got = await info(s.url)
    assert got.status == "WORKING"
    assert got.name == "Caf\ufffd \ufffd desk"


async def test_a_huge_number_in_a_field_we_do_not_use_is_ignored(server):
    s = server(answering(b'{"status": "WORKING", "name": "ok", "stats": {"sent": ' + b"9" * 5000
                        + b'}, "timestamps": {"activity": -' + b"1" * 5000 + b"}}"))
    got = await info(s.url)
    assert got.status == "WORKING" and got.name == "ok" and got.activity_at is None


@pytest.mark.parametrize("body", [
    b'{"status": "WORKING", "status": "FAILED"}',
    b'{"status": "FAILED", "name": "x", "st\\u0061tus": "WORKING"}',
])
async def test_a_status_given_twice_is_ambiguous_not_picked(server, body):
    s = server(answering(body))
    with pytest.raises(MalformedResponse, match=r"ambiguous reply: 'status' is given 2 times "
                                                r"\((WORKING, FAILED|FAILED, WORKING)\)"):
        await info(s.url)


async def test_a_status_repeated_inside_an_object_we_do_not_read_is_not_ours_to_judge(server):
    s = server(answering(b'{"status": "WORKING", "engine": {"status": "a", "status": "b"}}'))
    assert (await info(s.url)).status == "WORKING"


@pytest.mark.parametrize("word", ["WORK\u200dING", "WORK\u200bING", "W\u041eRKING", "WORKING\u0301",
                                  "\u2066WORKING\u2069"])
def test_a_status_word_never_passes_for_a_known_one_on_screen(word):
    """Zero-width joiners, look-alike letters, combining marks, bidi isolates: the word
    is shown with the code point in it, and is no known status."""
    info = parse_session({"status": word})
    assert info.status != "WORKING"
    assert re.search(r"⟨[0-9A-F]{4}⟩", info.status), info.status
    assert clean_word("WORK\u200dING") == "WORK⟨200D⟩ING"


@given(st.text(max_size=60))
def test_a_status_word_is_ascii_shown_and_cleaning_it_again_changes_nothing(text):
    word = clean_word(text)
    assert all(" " <= ch <= "~" or ch in "⟨⟩…" or "\u2400" <= ch <= "\u2421" for ch in word)
    assert clean_word(word) == word


@pytest.mark.parametrize("head", [
    b"HTTP/1.1 200 OK\r\nX-Big: " + b"a" * 100_000 + b"\r\n",
    b"HTTP/1.1 200 OK\r\n" + b"".join(b"X-H%d: v\r\n" % i for i in range(2000)),
])
async def test_headers_too_large_are_named(server, head):
    def handle(conn):
        if read_request(conn):
            try:
                conn.sendall(head + b"Content-Length: 21\r\n\r\n" + b'{"status": "WORKING"}')
            except OSError:
                pass  # the client gave up reading: that is the point

    s = server(handle)
    with pytest.raises(NetworkError, match=r"^network: reply headers too large"):
        await info(s.url)


async def test_a_timeout_quotes_the_time_that_really_passed(server):
    """A server that drips one byte of headers every 0.2 s: no read waits long enough to
    time out, the whole call's deadline (timeout + connect_timeout = 1 s) ends it, and
    the message says ~1 s, not the 0.5 s of the setting."""
    release = threading.Event()

    def drip(conn):
        if read_request(conn):
            for byte in b"HTTP/1.1 200 OK\r\nX-Slow: " + b"a" * 100:
                if release.wait(0.2):
                    return
                try:
                    conn.sendall(bytes([byte]))
                except OSError:
                    return

    s = server(drip)
    started = time.monotonic()
    try:
        with pytest.raises(Timeout) as caught:
            await info(s.url, timeout=0.5, connect_timeout=0.5)
    finally:
        release.set()
    took = time.monotonic() - started
    quoted = float(re.fullmatch(r"no reply within ([\d.]+)s \(timeout\)", str(caught.value)).group(1))
    assert quoted >= 0.95, caught.value  # the deadline was 1 s: "0.5s" would be a lie
    assert quoted <= took + 0.1
