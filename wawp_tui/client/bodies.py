"""Turn any error body (JSON, XML, plain text, HTML) into one short readable line.

Servers and proxies in front of Wawp answer errors in every format the documentation
shows; the user must see "502 Bad Gateway", never a page of markup.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from xml.etree import ElementTree

from wawp_tui.client.reply_body import BadBody, loads_bounded
from wawp_tui.safe_text import clean

#: Longest message we show for a server's error text.
MAX_MESSAGE = 200
#: How much of an error body is looked at: the message is always near the top.
MAX_SCANNED = 64 * 1024

_JSON_KEYS = ("message", "error", "detail", "msg", "error_description", "title", "reason",
              "exception")
_XML_TAGS = ("message", "error", "detail", "msg", "description", "reason", "title")
_TAG = re.compile(r"<[^<>]*>")


def shorten(text: str, limit: int = MAX_MESSAGE) -> str:
    """One safe line (tokens redacted, controls made visible), cut with an ellipsis."""
    return clean(text, limit)


def message_from_body(body: bytes | str, content_type: str = "") -> str:
    """The most useful short line in an error body, or "" when there is none."""
    body = body[:MAX_SCANNED]
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    text = text.strip()
    if not text:
        return ""
    ctype = content_type.lower()
    head = text[:200].lower()
    if "json" in ctype or text[:1] in "{[":
        found = _from_json(text)
        if found is not None:
            return shorten(found)
    if "html" in ctype or "<html" in head or "<!doctype html" in head:
        return shorten(_from_html(text))
    if "xml" in ctype or text.startswith("<"):
        return shorten(_from_xml(text))
    first = next((ln for ln in text.splitlines() if ln.strip()), "")
    return shorten(first)


def _from_json(text: str) -> str | None:
    try:
        data = loads_bounded(text)
    except BadBody:
        return None
    return _json_message(data)


def _json_message(data: object) -> str | None:
    """The message of every error shape the real service and its engine use:
    NestJS {statusCode, message, error} (message a string or a list), WAHA's 422
    {error, status, expected}, {code, message}, WAHA's 500 {exception: {message}}."""
    if isinstance(data, str):
        return data
    if isinstance(data, list):
        messages = [m for m in (_json_message(item) for item in data[:5]) if m]
        return "; ".join(messages) or None
    if not isinstance(data, dict):
        return None
    if isinstance(data.get("error"), str) and "status" in data and "expected" in data:
        # WAHA's 422: `status` and `expected` are status words, but any JSON may come.
        return f"{data['error']} (it is {_words(data['status'])}, expected {_words(data['expected'])})"
    for key in _JSON_KEYS:
        if key in data:
            found = _json_message(data[key])
            if found:
                code = data.get("code")
                if isinstance(code, str) and code and key == "message" and code not in found:
                    return f"{found} ({code})"
                return found
    errors = data.get("errors")
    if isinstance(errors, list) and errors:
        return _json_message(errors[0])
    return None


def _words(value: object) -> str:
    """A status word, or a list of them, as one short line; other shapes as "?"."""
    items = value[:5] if isinstance(value, list) else [value]
    words = [clean(v, 40) for v in items if isinstance(v, (str, int, float)) and not isinstance(v, bool)]
    return ", ".join(w for w in words if w) or "?"


def _from_xml(text: str) -> str:
    try:
        root = ElementTree.fromstring(text)
    except ElementTree.ParseError:
        return _TAG.sub(" ", text).replace("<", " ")
    for tag in _XML_TAGS:
        for element in root.iter():
            text = (element.text or "").strip()
            if element.tag.split("}")[-1].lower() == tag and text:
                return text
    return " ".join(t.strip() for t in root.itertext() if t.strip())


class _HeadingFinder(HTMLParser):
    """Collects the <title>, the first <h1>/<h2> and the first <pre> text of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.title = ""
        self.heading = ""
        self.pre = ""
        self._in: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("title", "h1", "h2", "pre"):
            self._in = tag

    def handle_endtag(self, tag: str) -> None:
        if tag == self._in:
            self._in = None

    def handle_data(self, data: str) -> None:
        if self._in == "title" and not self.title:
            self.title += data.strip()
        elif self._in in ("h1", "h2") and not self.heading:
            self.heading += data.strip()
        elif self._in == "pre" and not self.pre:
            self.pre += data.strip()


def _from_html(text: str) -> str:
    finder = _HeadingFinder()
    try:
        finder.feed(text)
    except Exception:  # noqa: BLE001 - a broken page must still give us a line, never a crash
        pass
    if finder.pre and finder.title.lower() in ("", "error"):
        return finder.pre  # Express: <title>Error</title> ... <pre>Cannot POST /v2/...</pre>
    if finder.title or finder.heading:
        return finder.title or finder.heading
    return "HTML error page"
