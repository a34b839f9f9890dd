"""The text boundary against a token in any shape and escapes in any encoding.

A server may percent-encode an escape sequence once, twice or three times, beside the
token encoded the same way, in upper- or lower-case, cut by a zero-width character or a
line break, or in base64. Whatever it sends, `clean`:

- is idempotent (a value cleaned at ingestion reads the same after every later clean);
- never emits a C0 or C1 control, ESC or DEL (decoding is only ever used to *look* for
  the token: the text shown is the text received, with the token spans replaced);
- hides the token in every shape, and any run of 12 or more of its characters;

and registering many distinct tokens costs time in proportion to their number.
"""

from __future__ import annotations

import base64
import html
import json
import re
import time
import unicodedata
from urllib.parse import quote, unquote

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wawp_tui import cli
from wawp_tui.models import Secret
from wawp_tui.safe_text import clean, clean_word, holds_secret, register_secret
from wawp_tui.simulator import Simulator, build_scenario

TOKEN = "Zq8mR2vT5wX1yB4nC7kL0pD3sF6gH9jA"
Secret(TOKEN)
#: A hex token: upper-casing its lower-case echo gives back the token itself.
HEX_TOKEN = "9F2C4E6A8B0D1F3E5A7C9B1D3F5E7A9C"
Secret(HEX_TOKEN)
RUN = 12


def pct(text: str, levels: int = 1, *, lower: bool = False, first_only: bool = False) -> str:
    """`text` percent-encoded `levels` times (every character, or only the first)."""
    fmt = "%{:02x}" if lower else "%{:02X}"
    out = fmt.format(ord(text[0])) + text[1:] if first_only else "".join(fmt.format(ord(c)) for c in text)
    for _ in range(levels - 1):
        out = out.replace("%", "%25")
    return out


def b64_forms(raw: bytes) -> list[str]:
    std = base64.b64encode(raw).decode()
    return [std, std.rstrip("="), base64.urlsafe_b64encode(raw).decode().rstrip("=")]


#: The token as servers have been seen (or could be) to echo it.
SHAPES = st.sampled_from([
    TOKEN, TOKEN.lower(), TOKEN.upper(), pct(TOKEN), pct(TOKEN, lower=True), pct(TOKEN, 2),
    pct(TOKEN, 3, lower=True), pct(TOKEN, 1, first_only=True), pct(TOKEN, 3, first_only=True),
    TOKEN[:4] + "\u200d" + TOKEN[4:], TOKEN[:4] + "\u200b" + TOKEN[4:], TOKEN[:9] + "\u2060" + TOKEN[9:],
    TOKEN[:16] + "\n" + TOKEN[16:], TOKEN[:16] + "\u00a0" + TOKEN[16:], TOKEN[:16] + " " + TOKEN[16:],
    TOKEN[:-4] + "...", "..." + TOKEN[4:], *b64_forms(TOKEN.encode()),
    *b64_forms(b"ABCDEF123456:" + TOKEN.encode()), *b64_forms(b"A:" + TOKEN.encode()),
    "".join(f"\\u{ord(c):04x}" for c in TOKEN), "".join(f"&#{ord(c)};" for c in TOKEN),
    "bad_" + TOKEN.lower(), pct(TOKEN[:4] + "\u200b" + TOKEN[4:]), HEX_TOKEN.lower(),
    TOKEN.encode().hex(), TOKEN.encode().hex().upper(),
])
#: Escape sequences and line breaks, raw or percent-encoded to some depth.
ESCAPES = st.builds(
    lambda seq, levels, lower: seq if levels == 0 else pct(seq, levels, lower=lower),
    st.sampled_from(["\x1b]52;c;cHduZWQ=\x1b\\", "\x1b]0;PWNED\x07", "\x1b[2J", "\n", "\r\n",
                     "\x9b31m", "\x7f", "\x00", "\u009d0;x\u009c", "\u202e"]),
    st.integers(0, 3), st.booleans())
MIXED = st.lists(st.one_of(SHAPES, ESCAPES, st.text(max_size=20),
                           st.sampled_from(["%", "%2", "%25", "%%", "\\", "\\u00", "&#", "&#x1b;",
                                            "&#27;", "%e2%80%8b", "%c2%9b", "\\u001b", "=", "+"])),
                 max_size=8).map("".join)


def _oracle(text: str) -> str:
    """Every decoding a reader could apply to `text`, done the plain way: to check that
    no shape of the token survived (independent of the code under test)."""
    seen = {text}
    for _ in range(4):
        text = unquote(text)
        text = re.sub(r"\\u([0-9a-fA-F]{4})", lambda m: chr(int(m.group(1), 16)), text)
        text = html.unescape(text)
        seen.add(text)
    kept = []
    for variant in seen:
        kept.append("".join(c for c in variant if not (c.isspace() or unicodedata.category(c)[0] == "C"
                                                       or c in "\ufffd\u2400\u241b\u2424")).casefold())
    return "\n".join(kept)


def _visible_token_runs(text: str, token: str) -> list[str]:
    folded = _oracle(text)
    runs = [token[i:i + RUN].casefold() for i in range(len(token) - RUN + 1)]
    found = [r for r in runs if r in folded]
    for form in b64_forms(token.encode()):
        if form.rstrip("=").casefold() in folded:
            found.append(form)
    return found


def _controls(text: str) -> list[str]:
    return [repr(c) for c in text if ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F]


@settings(max_examples=400, deadline=None)
@given(text=MIXED, limit=st.integers(20, 300))
def test_clean_is_idempotent_emits_no_control_and_hides_every_shape(text, limit):
    once = clean(text, limit)
    assert clean(once, limit) == once
    assert _controls(once) == []
    assert _visible_token_runs(once, TOKEN) == []
    assert _visible_token_runs(once, HEX_TOKEN) == []
    word = clean_word(text)
    assert clean_word(word) == word and _controls(word) == []
    assert _visible_token_runs(word, TOKEN) == [] and HEX_TOKEN not in word


def test_decoding_is_only_for_looking_the_text_shown_is_the_text_received():
    escape = pct("\x1b]52;c;cHduZWQ=\x1b\\", 2)
    for token in (pct(TOKEN, 1, first_only=True), pct(TOKEN, 2, first_only=True), pct(TOKEN, 3)):
        text = clean(f"E {escape} {token} %0a tail")
        assert text == f"E {escape} *** %0a tail"
        assert clean(text) == text


def test_the_review_cases_depth_two_and_three():
    for depth in (1, 2, 3):
        escape = pct("\x1b]52;c;cHduZWQ=\x1b\\\x1b]0;PWNED\x1b\\", depth)
        parts = " ".join(pct(TOKEN, k, first_only=True) for k in range(1, depth + 1))
        text = f"E {escape} {parts}"
        out = text
        for _ in range(4):  # cleaned at ingestion, in the table, in a toast, in the event log
            out = clean(out, 1000)
            assert "\x1b" not in out and "\n" not in out
        assert out == f"E {escape} " + " ".join(["***"] * depth)


def test_token_shapes_from_the_review_are_hidden():
    for shape in ("Zq8m\u200dR2vT5wX1yB4nC7kL0pD3sF6gH9jA", "Zq8mR2vT5wX1yB4n\nC7kL0pD3sF6gH9jA",
                  "Zq8mR2vT5wX1yB4n\u00a0C7kL0pD3sF6gH9jA", f"invalid access token {TOKEN[:-4]}...",
                  base64.b64encode(TOKEN.encode()).decode(),
                  base64.b64encode(f"ABCDEF123456:{TOKEN}".encode()).decode(), pct(pct(TOKEN)),
                  "echo " + "".join(f"\\u{ord(c):04x}" for c in TOKEN), "bad_" + TOKEN.lower()):
        shown = clean(f"error: {shape} (x)")
        assert "***" in shown and _visible_token_runs(shown, TOKEN) == [], shape
    # A status word that is the hex token in lower case: upper-casing it must not bring
    # the token back (redaction is case-insensitive, and runs before the upper-casing).
    assert clean_word(HEX_TOKEN.lower()) == "***"
    # Ordinary text nearby is left alone.
    assert clean("the token you sent is wrong; see /v2/session/info") == \
        "the token you sent is wrong; see /v2/session/info"


def test_holds_secret_sees_a_token_in_a_qr_value():
    assert holds_secret(f"2@leak,{TOKEN},x")
    assert holds_secret(f"2@leak,{quote(TOKEN)},x")
    assert not holds_secret("2@abc,def,ghi")


def test_many_distinct_tokens_register_in_linear_time():
    """1,000 instances with a token each used to take a minute to load (the redaction
    pattern was rebuilt for every new token); now each registration costs the same."""
    def tokens(n: int, salt: str) -> list[str]:
        return [f"{salt}{k:06d}x{(k * 7919) % 1000003:07d}Q" for k in range(n)]

    def register(n: int, salt: str) -> float:
        started = time.process_time()  # CPU, not wall: a stalled machine must not fail it
        for token in tokens(n, salt):
            register_secret(token)
        return time.process_time() - started

    small = register(300, "warm")
    big = register(3000, "bulk")
    assert big < 3.0, f"3,000 tokens took {big:.2f}s to register"
    assert big < max(0.05, small) * 30, (small, big)  # linear: ~10x; quadratic: ~100x
    # ... and looking for them costs no more with 3,300 tokens than with one.
    text = "server error (500): engine crashed while handling the request " * 3
    started = time.process_time()
    for _ in range(200):
        clean(text)
    assert time.process_time() - started < 1.0
    assert clean(f"x {tokens(3000, 'bulk')[2042]} y") == "x *** y"


@settings(max_examples=300, deadline=None)
@given(token=st.one_of(st.text("~^", min_size=16, max_size=40),  # repeats: a probe twice in a form
                       st.text(st.characters(codec="utf-8"), min_size=16, max_size=40)),
       before=st.binary(max_size=5), after=st.binary(max_size=5),
       urlsafe=st.booleans(), siblings=st.integers(0, 3), pad=st.text("xyz .", max_size=7))
def test_a_token_inside_any_base64_value_is_hidden(token, before, after, urlsafe, siblings, pad):
    """base64 of (anything + token + anything), at every byte alignment, in either alphabet,
    beside other tokens sharing its first characters, is redacted wherever it sits."""
    token = token.strip()
    if sum(c.isprintable() and not c.isspace() for c in token) < RUN or len(set(token)) < 2:
        return  # (a token of mostly blanks or unassigned characters is not looked for by value)
    for k in range(siblings):  # tokens sharing a prefix share the probes of their forms
        register_secret(token[:RUN] + f"-sibling-{k}-" + token[RUN:])
    register_secret(token)
    raw = before + token.encode("utf-8", "surrogatepass") + after
    encoded = (base64.urlsafe_b64encode if urlsafe else base64.b64encode)(raw).decode()
    shown = clean(f"{pad}auth {encoded} failed", limit=400)
    # The characters only the token's bytes decide (not those shared with its unknown
    # neighbours) must not show; a redaction may take a few neighbours with them.
    first = -(-len(before) * 4 // 3) + 1
    last = (len(raw) - len(after)) * 4 // 3 - 1
    middle = encoded[first:last]
    assert len(middle) < RUN or middle.casefold() not in shown.casefold(), (encoded, shown)
    assert "***" in shown


# -- over the wire: the shapes the review's server sent, through `status` ------------------

def _leak_replies() -> dict[str, tuple[int, str, str]]:
    """mode -> (HTTP code, content type, body), as a hostile server echoes the token."""
    tok = TOKEN
    b64 = base64.b64encode(tok.encode()).decode()
    creds = base64.b64encode(f"ABCDEF123456:{tok}".encode()).decode()
    half = len(tok) // 2
    return {
        "zwj": (500, "application/json", json.dumps({"message": f"echo: {tok[:4]}\u200d{tok[4:]}"})),
        "zwsp": (500, "application/json", json.dumps({"message": f"echo: {tok[:4]}\u200b{tok[4:]}"})),
        "split": (500, "application/json", json.dumps({"message": f"echo: {tok[:half]}\n{tok[half:]}"})),
        "nbsp": (500, "application/json", json.dumps({"message": f"echo: {tok[:half]}\u00a0{tok[half:]}"})),
        "upper": (200, "application/json", json.dumps({"name": "x", "status": tok.lower()})),
        "hex_upper": (200, "application/json", json.dumps({"name": "x", "status": HEX_TOKEN.lower()})),
        "partial": (401, "application/json", json.dumps({"message": f"invalid access token {tok[:-4]}..."})),
        "b64": (500, "application/json", json.dumps({"message": f"request id {b64} failed"})),
        "b64_creds": (500, "application/json", json.dumps({"message": f"auth {creds}"})),
        "pct_double": (500, "text/plain", f"Cannot POST /v2/session/info?x={pct(tok, 2)}"),
        "json_escaped": (500, "application/json",
                         '{"message": "echo ' + "".join(f"\\u{ord(c):04x}" for c in tok) + '"'),
        "code": (200, "application/json", json.dumps({"code": "bad_" + tok.lower(), "message": "nope"})),
        "esc_depth3": (500, "text/plain", f"E {pct(chr(27) + ']52;c;cHduZWQ=' + chr(27) + chr(92), 3)} "
                                          f"{pct(tok, 3, first_only=True)}"),
    }


@pytest.mark.parametrize("mode", list(_leak_replies()))
def test_no_shape_of_the_token_leaves_through_status(serve, tmp_path, capsys, monkeypatch, mode):
    from tests.test_hostile import write_config

    sim_instances = build_scenario("healthy", seed=9, instances=2)
    for inst in sim_instances:
        inst.token = TOKEN
    sim = Simulator(sim_instances, seed=9)
    server = serve(sim)
    code, ctype, body = _leak_replies()[mode]
    for inst in sim_instances:
        sim.inject(inst.id, "raw", code=code, headers={"content-type": ctype}, body=body.encode())
    path = write_config(tmp_path / "config.toml", server.url, sim_instances)
    monkeypatch.setenv("WAWP_ACCESS_TOKEN", TOKEN)
    seen = []
    for argv in (["status"], ["status", "--json"]):
        assert cli.main([*argv, "--config", str(path)]) == 1
        out, err = capsys.readouterr()
        seen.append(out + err)
    shown = "\n".join(seen)
    assert "***" in shown
    assert _visible_token_runs(shown, TOKEN) == [] and HEX_TOKEN not in shown.upper()
    assert _controls(shown.replace("\n", "")) == []


def test_a_token_echoed_in_hex_is_hidden():
    for shape in (TOKEN.encode().hex(), TOKEN.encode().hex().upper()):
        shown = clean(f"error: body was {shape} (x)")
        assert shown == "error: body was *** (x)", shape
