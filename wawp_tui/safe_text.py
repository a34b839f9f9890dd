"""The one boundary for text from outside: servers, config files, our own state files.

Everything that reaches a screen, a terminal, a file or a log passes through `clean`
(one line) or `clean_data` (a JSON-like value such as `me`). The result:

- holds no access token: every token this process knows (registered by `Secret`) is
  redacted in whatever shape a server echoes it (see "Finding a token" below), and so is
  any value written after an `access_token=` / `"access_token": ` / `Authorization:
  Bearer` key, known or not, and the `user:password@` of any URL;
- holds no control character or escape sequence: they are made visible as Unicode
  control pictures (ESC reads as "␛"), so `\\x1b]0;title\\x07` can neither retitle a
  window nor write the clipboard, yet an operator can still see that it was sent;
- is capped in length (and, for data, in depth and item count);
- is plain text: callers show it as rich `Text`, never as markup.

The function is idempotent, so a value cleaned at ingestion can be cleaned again at
output at no risk. No I/O, no Textual.

Finding a token: the text is searched through a *view* of it in which percent-escapes
(to any depth, %25 by %25), JSON `\\uXXXX` escapes and HTML character references are
decoded, white space, format characters (zero-width joiners and spaces, bidi marks),
control pictures and replacement characters are dropped, and case is folded. Every view
character remembers the span of the original text it came from, so a hit replaces that
span of the *original* text: decoding is only ever used to look, never shown (a decoded
`%1b` would be a live ESC). A hit is any run of 12 characters of a token (so a token cut
short, "all but the last 4", is still hidden), the whole of a shorter token, or the
token's base64 (standard or URL-safe, with or without padding, at any byte alignment, so
`base64(id:token)` too). Tokens are kept as a set of those runs: registering one costs
its own length, and a lookup costs the length of the text, however many tokens there are.
"""

from __future__ import annotations

import base64
import codecs
import math
import re
import threading
import unicodedata
from collections.abc import Iterable
from typing import Any

#: Default cap for one line of text from outside (error messages, labels, names).
MAX_LINE = 200
#: Cap for a status word: longer is not a status, and it must fit a table cell.
MAX_WORD = 40
#: What a redacted secret reads as.
REDACTED = "***"
#: Secrets shorter than this are not redacted by value (too many false hits); the
#: keyed patterns still catch them.
MIN_SECRET = 6
#: Any run of this many characters of a token is redacted (a token cut short still
#: gives the attacker all but a few characters to guess).
RUN = 12

_lock = threading.Lock()
#: Bumped by register_secret (see secrets_generation).
_generation = 0
#: clean() of short texts, remembered: a report cleans a label twice, a screen the same
#: words again and again, and cleaning was a fifth of a `status` run's CPU. Keyed by
#: (text, limit, strip); made for one generation of tokens, forgotten whole when full.
_cleaned: dict[tuple[str, int, bool], str] = {}
_cleaned_generation = 0
_CLEANED_MAX = 8192
_CLEANED_LONGEST = 256
#: Tokens registered so far (raw), so a fleet sharing one token registers it once.
_known: set[str] = set()
#: window width -> the folded pieces of that width taken from tokens (RUN characters, or
#: the whole folded token when it is shorter): a text window equal to one is redacted.
_runs: dict[int, set[str]] = {}
#: window width -> the shorter probes (see `_probe`) taken from the same tokens.
_probes: dict[int, set[str]] = {}
#: RUN-width probe -> the folded base64 or hex forms of tokens that hold it within their
#: first stride: one form, or a list of them when tokens share it (a "live_..." prefix).
#: One string per probe, not a (form, offset) record: registering 50,000 distinct tokens
#: cost a third less.
_form_probes: dict[str, str | list[str]] = {}
#: The window widths to scan, replaced (never mutated) so readers need no lock.
_windows: tuple[int, ...] = ()


def _probe(width: int) -> tuple[int, int]:
    """(probe length, stride) for windows of `width`.

    Looking up every window of a text costs a set lookup per character. Instead, probes
    of `length` characters are looked up every `stride` characters: any window of
    `width` holds one whole probe that starts on the stride (stride = width - length +
    1), so no hit is missed, and only the few windows around a probe that matched are
    then looked up in full.
    """
    length = max(4, width - 4)
    return length, width - length + 1


#: A value after a key that names a credential, in URL, JSON, header or prose form.
_KEYED = re.compile(
    r"""(?ix)
    (access[_-]?token|api[_-]?key|authorization|password|passwd|secret|token)
    (\\?["']?\s*[:=]\s*\\?["']?\s*)          # = or : with optional (escaped) quotes
    (bearer\s+|basic\s+)?
    ([^\s"'&,;<>(){}\[\]\\]{3,})
    """
)
#: The `user:password@` of a URL, whatever the scheme (ftp://admin:pw@host/): a password
#: that a message quotes lands in a terminal, a log, a monitoring system's stored output.
_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.\-]*://)[^\s/?#]*@")
#: Characters to make visible: C0 and C1 controls and DEL.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_SPACE = re.compile(r" *[\t\n\r\v\f\u2028\u2029\u0085][ \t\n\r\v\f\u2028\u2029\u0085]*")
_HEX = frozenset("0123456789abcdefABCDEF")
#: Characters that can end an escape (the only ones after which the view decodes).
_CLOSERS = _HEX | frozenset(";\\/\"'")
#: Characters that start an escape the view decodes.
_ESCAPE_STARTS = ("%", "\\", "&")
#: Named HTML references a token's characters can hide behind.
_ENTITIES = {"amp": "&", "quot": '"', "apos": "'", "lt": "<", "gt": ">", "sol": "/",
             "plus": "+", "equals": "=", "percnt": "%", "nbsp": "\u00a0"}
#: Longest HTML reference looked for ("&#x10ffff;").
_MAX_ENTITY = 10


def register_secret(value: str) -> None:
    """Remember a token so every later `clean` redacts it (Secret calls this).

    Costs the token's own length, whatever was registered before (a fleet of 1,000
    accounts loads as fast as one).
    """
    global _windows
    value = value.strip()
    if len(value) < MIN_SECRET or value in _known:
        return  # (a fleet of 50,000 instances shares a few tokens: the common case)
    folded = _view(value)[0]
    if len(folded) < MIN_SECRET:
        return  # mostly white space or format characters: nothing to look for
    width = min(RUN, len(folded))
    length = _probe(width)[0]
    runs = {folded[i:i + width] for i in range(len(folded) - width + 1)}
    probes = {folded[i:i + length] for i in range(len(folded) - length + 1)}
    raw = value.encode("utf-8", "surrogatepass")
    # The token as a server might re-encode it: base64 (at each alignment) and hex.
    forms = [form for form in (*_base64_forms(raw), raw.hex()) if len(form) >= RUN]
    with _lock:
        _known.add(value)
        _runs.setdefault(width, set()).update(runs)
        _probes.setdefault(width, set()).update(probes)
        run_length, run_stride = _probe(RUN)
        for form in forms:
            for offset in range(run_stride):
                probe = form[offset:offset + run_length]
                held = _form_probes.get(probe)
                if held is None:
                    _form_probes[probe] = form
                elif isinstance(held, str):
                    if held != form:  # (a form holding one probe twice is kept once)
                        _form_probes[probe] = [held, form]
                elif held[-1] != form:
                    held.append(form)  # tokens sharing a prefix: appended, never searched
        widths = {*_windows, width, *((RUN,) if forms else ())}
        for each in widths:
            _runs.setdefault(each, set())
            _probes.setdefault(each, set())
        _windows = tuple(sorted(widths))  # published last: readers index the tables by it
        global _generation
        _generation += 1  # after the tables: what was cleaned before may hold this token


def secrets_generation() -> int:
    """A number that grows each time a token is registered (once the tables that find it
    are in place): whatever was cleaned before is stale when it changed."""
    return _generation


def _base64_forms(raw: bytes) -> set[str]:
    """The folded base64 characters that depend only on `raw`, at each of the three
    byte alignments it can have inside a longer value ("id:token"), standard and
    URL-safe (padding and the characters shared with unknown neighbours left out)."""
    forms = set()
    for offset, skip in ((0, 0), (1, 2), (2, 3)):
        total = offset + len(raw)
        known = 4 * (total // 3) + total % 3
        encoded = base64.b64encode(bytes(offset) + raw).decode("ascii")[skip:known]
        forms.add(encoded.casefold())
        forms.add(encoded.replace("+", "-").replace("/", "_").casefold())
    return forms


def holds_secret(text: str) -> bool:
    """True when `text` holds a registered token in any shape `redact` finds."""
    return bool(_windows) and bool(_hits(text))


def redact(text: str) -> str:
    """`text` with every known token and every credential-looking value replaced.

    Repeated until nothing more is found, so redact(redact(x)) == redact(x): a redaction
    never leaves a token's shape that a later pass would find.
    """
    for _ in range(len(text) + 1):  # each pass that changes anything shortens the text
        done = _redact_tokens(text)
        if _might_hold_key(done):
            done = _KEYED.sub(_keep_key, done)
        if "://" in done:
            done = _USERINFO.sub(r"\1***@", done)
        if done == text:
            return text
        text = done
    return text


def _redact_tokens(text: str) -> str:
    hits = _hits(text) if _windows else []
    if not hits:
        return text
    out, at = [], 0
    for start, end in hits:
        out.append(text[at:start])
        out.append(REDACTED)
        at = end
    out.append(text[at:])
    return "".join(out)


def _hits(text: str) -> list[tuple[int, int]]:
    """Spans of `text` that hold a token in some shape, sorted and merged."""
    windows = _windows
    if not windows or len(text) < windows[0]:
        return []
    plain = _plain_view(text)
    view, starts, ends = (plain, None, None) if plain is not None else _view(text)
    found: list[tuple[int, int]] = []
    for width in windows:
        runs, probes = _runs[width], _probes[width]
        length, stride = _probe(width)
        last = len(view) - width  # the last window's start
        checked = -1  # windows up to here were looked up already
        for at in range(0, len(view) - length + 1, stride):
            probe = view[at:at + length]
            if width == RUN and probe in _form_probes:
                held = _form_probes[probe]
                for form in (held,) if isinstance(held, str) else held:
                    # Where the probe sits in the form: somewhere in its first stride.
                    offset = form.find(probe, 0, stride + length - 1)
                    while offset >= 0:
                        if at >= offset and view.startswith(form, at - offset):
                            found.append((at - offset, at - offset + len(form)))
                        offset = form.find(probe, offset + 1, stride + length - 1)
            if probe in probes:
                for i in range(max(checked + 1, at - stride + 1, 0), min(at, last) + 1):
                    if view[i:i + width] in runs:
                        found.append((i, i + width))
                checked = min(at, last)
    if not found:
        return []
    if plain is not None and len(plain) != len(text):
        _, starts, ends = _view(text)  # where the view's characters came from, now needed
    spans = sorted((starts[i] if starts else i, ends[j - 1] if ends else j) for i, j in found)
    merged = [spans[0]]
    for start, end in spans[1:]:
        if start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def _plain_view(text: str) -> str | None:
    """The view of plain printable ASCII with no escape (most text), without the positions
    `_view` works out: they are needed only for a hit, and most texts have none."""
    if text.isascii() and text.isprintable() and not any(c in text for c in _ESCAPE_STARTS):
        return text.replace(" ", "").lower()
    return None


def _view(text: str) -> tuple[str, list[int] | None, list[int] | None]:
    """The text as a token is looked for in it (see the module docstring), with, for each
    view character, the start and end of the original span it stands for (None: the
    same positions, for plain printable ASCII with no space and no escape)."""
    if text.isascii() and text.isprintable() and not any(c in text for c in _ESCAPE_STARTS):
        if " " not in text:
            return text.lower(), None, None
        kept = [i for i, c in enumerate(text) if c != " "]
        return text.replace(" ", "").lower(), kept, [i + 1 for i in kept]
    chars: list[str] = []
    starts: list[int] = []
    ends: list[int] = []
    escapes = any(c in text for c in _ESCAPE_STARTS)
    for pos, ch in enumerate(text):
        chars.append(ch)
        starts.append(pos)
        ends.append(pos + 1)
        if escapes and ch in _CLOSERS:
            while _decode_tail(chars, starts, ends):
                pass
    view: list[str] = []
    view_starts: list[int] = []
    view_ends: list[int] = []
    for ch, start, end in zip(chars, starts, ends):
        if _dropped(ch):
            continue
        for folded in ch.casefold():
            view.append(folded)
            view_starts.append(start)
            view_ends.append(end)
    return "".join(view), view_starts, view_ends


def _dropped(ch: str) -> bool:
    """Characters that may sit inside a token without hiding it from a reader."""
    if ch.isascii():
        return ch <= " " or ch == "\x7f"
    if ch.isspace() or ch == "\ufffd" or "\u2400" <= ch <= "\u2426":
        return True
    return unicodedata.category(ch)[0] == "C"  # format, control, surrogate, private, unassigned


def _decode_tail(chars: list[str], starts: list[int], ends: list[int]) -> bool:
    """Decode the escape that ends the view so far, if one does (True when it did).

    Called after every character, so an escape whose decoding completes another one
    (%2541 -> %41 -> A) is decoded in the same pass: any depth costs one pass.
    """
    last = chars[-1]
    n = len(chars)
    if last in _HEX and n >= 3 and chars[-3] == "%" and chars[-2] in _HEX:
        byte = int(chars[-2] + last, 16)
        _replace(chars, starts, ends, 3, chr(byte) if byte < 0x80 else chr(0xDC00 + byte))
        if byte >= 0x80:
            _join_utf8(chars, starts, ends)
        return True
    if last in _HEX and n >= 6 and chars[-6] == "\\" and chars[-5] in "uU" \
            and all(c in _HEX for c in chars[-4:-1]):
        _replace(chars, starts, ends, 6, chr(int("".join(chars[-4:]), 16)))
        return True
    if n >= 2 and chars[-2] == "\\" and last in "\\/\"'":
        _replace(chars, starts, ends, 2, last)
        return True
    if last == ";" and "&" in chars[-_MAX_ENTITY:]:
        at = n - 1 - chars[-_MAX_ENTITY:][::-1].index("&")
        name = "".join(chars[at + 1:-1])
        decoded = _ENTITIES.get(name.lower())
        if decoded is None and name[:1] == "#":
            digits = name[2:] if name[1:2] in ("x", "X") else name[1:]
            base = 16 if name[1:2] in ("x", "X") else 10
            try:
                code = int(digits, base) if digits.isascii() and digits.isalnum() else -1
            except ValueError:
                code = -1
            decoded = chr(code) if 0 <= code < 0x110000 else None
        if decoded is not None:
            _replace(chars, starts, ends, n - at, decoded)
            return True
    return False


def _replace(chars: list[str], starts: list[int], ends: list[int], count: int, ch: str) -> None:
    start, end = starts[-count], ends[-1]
    del chars[-count:], starts[-count:], ends[-count:]
    chars.append(ch)
    starts.append(start)
    ends.append(end)


def _join_utf8(chars: list[str], starts: list[int], ends: list[int]) -> None:
    """Percent-escaped bytes >= 0x80 are held as U+DC80..U+DCFF; once they spell one
    UTF-8 character (%E2%80%8B: a zero-width space), they become it."""
    tail = 0
    while tail < min(4, len(chars)) and "\udc80" <= chars[-1 - tail] <= "\udcff":
        tail += 1
    for size in range(min(tail, 4), 1, -1):
        raw = bytes(ord(c) - 0xDC00 for c in chars[-size:])
        try:
            decoded = codecs.decode(raw, "utf-8")
        except UnicodeDecodeError:
            continue
        if len(decoded) == 1:
            _replace(chars, starts, ends, size, decoded)
            return


_KEY_WORDS = re.compile("token|key|auth|pass|secret")


def _might_hold_key(text: str) -> bool:
    return _KEY_WORDS.search(text.lower()) is not None


def _keep_key(match: re.Match[str]) -> str:
    return f"{match.group(1)}{match.group(2)}{match.group(3) or ''}{REDACTED}"


def _visible(match: re.Match[str]) -> str:
    code = ord(match.group())
    if code < 0x20:
        return chr(0x2400 + code)  # ␀ ... ␟ (ESC reads as ␛)
    if code == 0x7F:
        return "\u2421"  # ␡
    return "\ufffd"  # C1 controls (0x80-0x9f): 8-bit CSI and friends


def _printable(text: str) -> str:
    """Make every non-printable character harmless and visible."""
    if text.isprintable():
        return text
    text = _SPACE.sub(" ", text)
    text = _CONTROL.sub(_visible, text)
    if text.isprintable():
        return text
    out = []
    for ch in text:
        if ch.isprintable() or ch == " ":
            out.append(ch)
        elif ch in "\u200c\u200d":
            out.append(ch)  # joiners: needed inside emoji and some scripts, harmless
        else:
            category = unicodedata.category(ch)
            # Bidi overrides, zero-width tricks, lone surrogates (unencodable), unassigned.
            out.append("" if ch == "\ufeff" else "\ufffd" if category in ("Cf", "Cs", "Co", "Cn")
                       else " ")
    return "".join(out)


def clean(value: object, limit: int = MAX_LINE, *, strip: bool = True) -> str:
    """One safe line of plain text from any value (see the module docstring).

    Line breaks and tabs become single spaces; other spaces are kept (a CLI line keeps
    its alignment). `strip` trims the ends.
    """
    global _cleaned_generation
    if value is None:
        return ""
    text = value if isinstance(value, str) else str(value)
    if len(text) > _CLEANED_LONGEST:
        return _clean(text, limit, strip)
    generation, key = _generation, (text, limit, strip)
    if _cleaned_generation != generation:
        _cleaned.clear()
        _cleaned_generation = generation
    done = _cleaned.get(key)
    if done is None:
        done = _clean(text, limit, strip)
        if len(_cleaned) >= _CLEANED_MAX:
            _cleaned.clear()
        if _generation == generation:  # no token came meanwhile (another thread)
            _cleaned[key] = done
    return done


def _clean(text: str, limit: int, strip: bool) -> str:
    if len(text) > limit * 8 + 4096:
        # Redaction must see the whole head of the text, but a megabyte of it is never
        # shown: cut far beyond the limit first so the work stays bounded.
        text = text[: limit * 8 + 4096]
    # Controls first, so that a second pass sees exactly what the first one redacted.
    text = redact(_printable(text))
    if strip:
        text = text.strip(" ")
    if len(text) > limit:
        text = text[: max(0, limit - 1)].rstrip() + "…"
        # The cut may have split a token's URL-encoded form: redact what is left again
        # (the marker may be longer than what it hides: cut once more, nothing to redact).
        text = redact(text)
        if len(text) > limit:
            text = text[: max(0, limit - 1)] + "…"
    return text


def clean_word(value: object) -> str:
    """A status word from a server: one short clean token, upper-cased.

    Status words are ASCII machine words: any other character is shown by its code point
    (`WORK\u200dING` reads WORK⟨200D⟩ING), so an invisible joiner or a look-alike letter
    can never pass for WORKING on screen."""
    word = clean(value, MAX_WORD).upper()
    if not (word.isascii() and word.isprintable()) and not all(ch in _WORD_CHARS for ch in word):
        raw = value if isinstance(value, str) else str(value)
        # Shown from the original (the cleaned text lost which invisible character it
        # was), unless it holds a token: then from the redacted text.
        source = word if holds_secret(raw) else raw[: MAX_WORD * 2]
        word = clean("".join(ch if ch in _WORD_CHARS or ch in _C0 else f"⟨{ord(ch):04X}⟩"
                             for ch in source), MAX_WORD).upper()
    # Upper-casing may lengthen ("ß" -> "SS"): the cap holds after it.
    return word if len(word) <= MAX_WORD else word[: MAX_WORD - 1] + "…"


#: What a status word may show as it is: printable ASCII, the control pictures `clean`
#: shows controls as (␛), and the marks of a shown code point and of a cut (so cleaning
#: a word twice changes nothing).
_WORD_CHARS = (frozenset(chr(c) for c in range(0x20, 0x7F)) | {"⟨", "⟩", "…"}
               | frozenset(chr(c) for c in range(0x2400, 0x2422)))
#: Controls, which `clean` itself makes visible (as ␛, ␇, ...).
_C0 = frozenset(chr(c) for c in range(0x20)) | {"\x7f"}


#: Bounds for structured data from outside (the `me` object, saved state).
MAX_DEPTH = 4
MAX_ITEMS = 32


def clean_data(value: Any, *, depth: int = MAX_DEPTH, limit: int = MAX_LINE) -> Any:
    """A JSON-like value made safe: strings cleaned, keys cleaned, depth and size capped.

    Credential keys (access_token, token, ...) keep their key and lose their value, so
    an echoed request reads as `{"access_token": "***"}`.
    """
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None  # NaN and Infinity are not JSON
    if isinstance(value, str):
        return clean(value, limit)
    if depth <= 0:
        return "…"
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for n, (key, item) in enumerate(value.items()):
            if n >= MAX_ITEMS:
                out["…"] = f"{len(value) - MAX_ITEMS} more"
                break
            name = clean(key, 64)
            if _KEYED.fullmatch(f"{name}=xxxx"):
                out[name] = REDACTED
            else:
                out[name] = clean_data(item, depth=depth - 1, limit=limit)
        return out
    if isinstance(value, (list, tuple)):
        items = [clean_data(v, depth=depth - 1, limit=limit) for v in list(value)[:MAX_ITEMS]]
        if len(value) > MAX_ITEMS:
            items.append(f"… {len(value) - MAX_ITEMS} more")
        return items
    return clean(value, limit)


def json_depth(value: Any, limit: int) -> int:
    """How deeply `value` nests, counting at most to `limit + 1` (iterative: a
    hostile document cannot exhaust the stack)."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, level = stack.pop()
        children: Iterable[Any]
        if isinstance(item, dict):
            children = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        deepest = max(deepest, level)
        if deepest > limit:
            return deepest
        stack.extend((child, level + 1) for child in children)
    return deepest
