"""The one boundary for text from outside: servers, config files, our own state files.

Everything that reaches a screen, a terminal, a file or a log passes through `clean`
(one line) or `clean_data` (a JSON-like value such as `me`). The result:

- holds no access token: every token this process knows (registered by `Secret`) is
  redacted raw, URL-encoded and JSON-escaped, and so is any value written after an
  `access_token=` / `"access_token": ` / `Authorization: Bearer` key, known or not;
- holds no control character or escape sequence: they are made visible as Unicode
  control pictures (ESC reads as "␛"), so `\\x1b]0;title\\x07` can neither retitle a
  window nor write the clipboard, yet an operator can still see that it was sent;
- is capped in length (and, for data, in depth and item count);
- is plain text: callers show it as rich `Text`, never as markup.

The function is idempotent, so a value cleaned at ingestion can be cleaned again at
output at no risk. No I/O, no Textual.
"""

from __future__ import annotations

import json
import math
import re
import threading
import unicodedata
from collections.abc import Iterable
from typing import Any
from urllib.parse import quote, quote_plus, unquote_plus

#: Default cap for one line of text from outside (error messages, labels, names).
MAX_LINE = 200
#: Cap for a status word: longer is not a status, and it must fit a table cell.
MAX_WORD = 40
#: What a redacted secret reads as.
REDACTED = "***"
#: Secrets shorter than this are not redacted by value (too many false hits); the
#: keyed patterns still catch them.
MIN_SECRET = 6

_lock = threading.Lock()
_secrets: set[str] = set()
_secret_pattern: re.Pattern[str] | None = None
_shortest = 1 << 30

#: A value after a key that names a credential, in URL, JSON, header or prose form.
_KEYED = re.compile(
    r"""(?ix)
    (access[_-]?token|api[_-]?key|authorization|password|passwd|secret|token)
    (\\?["']?\s*[:=]\s*\\?["']?\s*)          # = or : with optional (escaped) quotes
    (bearer\s+|basic\s+)?
    ([^\s"'&,;<>(){}\[\]\\]{3,})
    """
)
#: Characters to make visible: C0 and C1 controls and DEL.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_SPACE = re.compile(r" *[\t\n\r\v\f\u2028\u2029\u0085][ \t\n\r\v\f\u2028\u2029\u0085]*")


def register_secret(value: str) -> None:
    """Remember a token so every later `clean` redacts it (Secret calls this)."""
    global _secret_pattern, _shortest
    value = value.strip()
    if len(value) < MIN_SECRET or value in _secrets:
        return  # (a fleet of 50,000 instances shares a few tokens: the common case)
    forms = {value, quote(value, safe=""), quote_plus(value), json.dumps(value)[1:-1]}
    with _lock:
        if forms <= _secrets:
            return
        _secrets.update(forms)
        _shortest = min(len(f) for f in _secrets)
        # Longest first, so a token that contains another is redacted whole.
        alternatives = sorted(_secrets, key=len, reverse=True)
        _secret_pattern = re.compile("|".join(re.escape(f) for f in alternatives))


def redact(text: str) -> str:
    """`text` with every known token and every credential-looking value replaced."""
    pattern = _secret_pattern
    if pattern is not None and len(text) >= _shortest:
        text = pattern.sub(REDACTED, text)
        if "%" in text or "+" in text:
            # Percent-encoded in some other way (%2D for "-", lower-case hex): look at
            # the decoded text, and show that one if it held a token.
            decoded = unquote_plus(text)
            if decoded != text and pattern.search(decoded):
                text = pattern.sub(REDACTED, decoded)
    if _might_hold_key(text):
        text = _KEYED.sub(_keep_key, text)
    return text


def _might_hold_key(text: str) -> bool:
    lower = text.lower()
    return any(k in lower for k in ("token", "key", "auth", "pass", "secret"))


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
    if value is None:
        return ""
    text = value if isinstance(value, str) else str(value)
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
    """A status word from a server: one short clean token, upper-cased."""
    word = clean(value, MAX_WORD).upper()
    # Upper-casing may lengthen ("ß" -> "SS"): the cap holds after it.
    return word if len(word) <= MAX_WORD else word[: MAX_WORD - 1] + "…"


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
