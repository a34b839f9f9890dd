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

from wawp_tui.safe_text import json_depth

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


def loads_bounded(data: bytes | str, max_depth: int = MAX_DEPTH) -> Any:
    """json.loads with a depth limit; BadBody for invalid or too deeply nested JSON."""
    try:
        value = json.loads(data)
    except RecursionError:
        raise BadBody(f"JSON nested deeper than {max_depth} levels") from None
    except ValueError:
        raise BadBody("not valid JSON") from None
    if json_depth(value, max_depth) > max_depth:
        raise BadBody(f"JSON nested deeper than {max_depth} levels")
    return value


def human_size(limit: int) -> str:
    """1048576 -> "1 MiB"."""
    if limit % (1 << 20) == 0:
        return f"{limit >> 20} MiB"
    return f"{limit >> 10} KiB"
