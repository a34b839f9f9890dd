"""Reading a reply body with bounds: size after decompression, and JSON depth.

A hostile or broken server (or a proxy in front of it) can send a gzip bomb (1 MB on the
wire, 1 GB inflated), a 200 MB document, or JSON nested 100,000 deep. The body is read
chunk by chunk, decompressed here with an output limit per step, and abandoned as soon
as it passes `MAX_BODY`, so memory stays bounded whatever the server sends.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import AsyncIterator
from typing import Any

from wawp_tui.safe_text import clean, json_depth

#: Largest decoded reply we accept. Session replies are a few hundred bytes; a PNG QR
#: a few tens of kilobytes.
MAX_BODY = 1 << 20
#: Deepest JSON nesting we accept (real replies nest 3 or 4 levels).
MAX_DEPTH = 32
#: What we tell servers we can decode (and all we decode).
ACCEPT_ENCODING = "gzip, deflate"


class BodyTooLarge(Exception):
    """The decoded body passed the limit."""


class BadBody(Exception):
    """The body cannot be decoded (unknown content-encoding, corrupt gzip, bad JSON)."""


class BoundedDecoder:
    """Decodes a content-encoding incrementally, never holding more than `limit` bytes."""

    def __init__(self, content_encoding: str, limit: int = MAX_BODY) -> None:
        encodings = [e.strip().lower() for e in content_encoding.split(",") if e.strip()]
        encodings = [e for e in encodings if e != "identity"]
        if len(encodings) > 1:
            raise BadBody(f"unsupported content-encoding {content_encoding!r}")
        self.encoding = encodings[0] if encodings else ""
        if self.encoding not in ("", "gzip", "x-gzip", "deflate"):
            raise BadBody(f"unsupported content-encoding {self.encoding!r}")
        self.limit = limit
        self._out = bytearray()
        self._inflater = self._new_inflater()
        self._deflate_probe = self.encoding == "deflate"

    def _new_inflater(self) -> Any:
        if self.encoding in ("gzip", "x-gzip"):
            return zlib.decompressobj(16 + zlib.MAX_WBITS)
        if self.encoding == "deflate":
            return zlib.decompressobj(zlib.MAX_WBITS)
        return None

    def _keep(self, data: bytes) -> None:
        if len(self._out) + len(data) > self.limit:
            raise BodyTooLarge(self.limit)
        self._out += data

    def feed(self, data: bytes) -> None:
        """Take the next raw chunk from the wire."""
        if self._inflater is None:
            self._keep(data)
            return
        while data:
            room = self.limit - len(self._out)
            try:
                out = self._inflater.decompress(data, room + 1)
            except zlib.error:
                if self._deflate_probe and not self._out:
                    # "deflate" is raw deflate on some servers, zlib-wrapped on others.
                    self._deflate_probe = False
                    self._inflater = zlib.decompressobj(-zlib.MAX_WBITS)
                    continue
                raise BadBody(f"corrupt {self.encoding} body") from None
            self._deflate_probe = False
            self._keep(out)
            data = self._inflater.unconsumed_tail
            if self._inflater.eof:
                rest = self._inflater.unused_data
                if rest and self.encoding != "deflate":
                    self._inflater = self._new_inflater()  # a multi-member gzip stream
                    data = rest
                else:
                    return

    def finish(self) -> bytes:
        """The whole decoded body."""
        if self._inflater is not None and not self._inflater.eof:
            try:
                self._keep(self._inflater.flush())
            except zlib.error:
                raise BadBody(f"corrupt {self.encoding} body") from None
        return bytes(self._out)


async def read_bounded(chunks: AsyncIterator[bytes], content_encoding: str,
                       content_length: str | None, limit: int = MAX_BODY) -> bytes:
    """The decoded body from raw chunks, or BodyTooLarge / BadBody."""
    if content_length and content_length.strip().isdigit() and not content_encoding.strip() \
            and int(content_length) > limit:
        raise BodyTooLarge(limit)  # no need to read a body we would throw away
    decoder = BoundedDecoder(content_encoding, limit)
    async for chunk in chunks:
        decoder.feed(chunk)
    return decoder.finish()


#: Top-level keys the client reads: given twice, the reply is ambiguous (JSON parsers
#: disagree on which one wins, so a proxy and we could read different statuses).
READ_KEYS = frozenset({"status", "name", "me", "engine", "qr", "code", "error", "success",
                       "message", "timestamps", "presence"})
#: Longest integer kept as an integer (Python refuses past 4,300 digits; no field we read
#: holds more than 20).
MAX_INT_DIGITS = 64


def loads_bounded(data: bytes | str, max_depth: int = MAX_DEPTH) -> Any:
    """json.loads with a depth limit, reading tolerantly what does not concern us: a
    string that is not valid UTF-8 keeps U+FFFD where its bad bytes were, an integer of
    thousands of digits reads as a float (infinite). BadBody for what is not JSON, is
    nested too deeply, or repeats a key we read (see READ_KEYS)."""
    try:
        value = _strict(data) if not _may_repeat_a_key(data) else _checked(data)
    except RecursionError:
        raise BadBody(f"JSON nested deeper than {max_depth} levels") from None
    except BadBody:
        raise
    except ValueError:
        value = _tolerant(data)
    if json_depth(value, max_depth) > max_depth:
        raise BadBody(f"JSON nested deeper than {max_depth} levels")
    return value


def _strict(data: bytes | str) -> Any:
    return json.loads(data)


def _tolerant(data: bytes | str) -> Any:
    """The second reading, for what the strict one refused: bad UTF-8 bytes replaced,
    huge integers read as floats. Still BadBody for what is not JSON at all."""
    text = data.decode("utf-8", "replace") if isinstance(data, bytes) else data
    try:
        return _checked(text, tolerant=True)
    except RecursionError:
        raise BadBody(f"JSON nested deeper than {MAX_DEPTH} levels") from None
    except BadBody:
        raise
    except ValueError:
        raise BadBody("not valid JSON") from None


def _may_repeat_a_key(data: bytes | str) -> bool:
    """Cheap look for a reply that might give one of our keys twice: the common reply
    skips the slower, checking parse."""
    raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data
    return b"\\u" in raw or raw.count(b'"status"') > 1 or raw.count(b'"name"') > 1 \
        or raw.count(b'"me"') > 1 or raw.count(b'"qr"') > 1 or raw.count(b'"code"') > 1 \
        or raw.count(b'"error"') > 1 or raw.count(b'"success"') > 1


def _checked(data: bytes | str, tolerant: bool = False) -> Any:
    """json.loads that notices a key we read given twice in the top-level object."""
    doubled: dict[int, list[tuple[str, Any]]] = {}

    def pairs_hook(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        obj = dict(pairs)
        if len(obj) != len(pairs):
            seen: dict[str, list[Any]] = {}
            for key, item in pairs:
                seen.setdefault(key, []).append(item)
            doubled[id(obj)] = [(k, v) for k, v in seen.items() if len(v) > 1 and k in READ_KEYS]
        return obj

    value = json.loads(data, object_pairs_hook=pairs_hook,
                       parse_int=_bounded_int if tolerant else None)
    repeated = doubled.get(id(value)) if isinstance(value, dict) else None
    if repeated:
        key, values = repeated[0]
        shown = ", ".join(_short(v) for v in values[:3])
        raise BadBody(f"ambiguous reply: {key!r} is given {len(values)} times ({shown})")
    return value


def _bounded_int(text: str) -> int | float:
    return int(text) if len(text) <= MAX_INT_DIGITS else float(text)


def _short(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value)[:20]
    return clean(text, 30)


def human_size(limit: int) -> str:
    """1048576 -> "1 MiB"."""
    if limit % (1 << 20) == 0:
        return f"{limit >> 20} MiB"
    return f"{limit >> 10} KiB"
