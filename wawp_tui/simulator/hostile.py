"""Replies a hostile or broken server sends, for the attack tests and `simulate`.

Each builder returns (status, headers, payload) where payload is bytes or an iterator of
byte chunks (streamed, so a 200 MB body never sits in the simulator's memory).
"""

from __future__ import annotations

import base64
import functools
import html
import json
import zlib
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

HOSTILE_KINDS = (
    "echo_500",      # WAHA's 500 filter: the request echoed back, token included
    "hostile_error",  # an error whose message is `text` (markup, escapes, a click link...)
    "gzip_bomb",      # ~1 MB on the wire, `inflated_mb` (default 1024) once decompressed
    "huge_body",      # a `mb` (default 200) megabyte JSON document, streamed
    "deep_json",      # JSON nested `depth` (default 100,000) levels deep
    "raw",            # exactly `code`, `headers` and `body` (bytes, or `body_b64`)
)

Reply = tuple[int, list[tuple[str, str]], "bytes | Iterator[bytes]"]
_JSON = ("content-type", "application/json")


def echo_500(path: str, query: dict[str, str], body: dict[str, Any], fmt: str) -> Reply:
    """What a 500 looks like when the server's error handler echoes the request, token
    and all. `fmt`: "json" (WAHA's exception filter: url with its query, body, and the
    exception with its stack), "json_bare" (only the request), "text" (Express's
    "Cannot POST ..."), "html" (an error page whose heading quotes the request)."""
    url = f"{path}?{urlencode(query)}" if query else path
    if fmt == "text":
        shown = url if query else f"{path} {json.dumps(body)}"
        return 500, [("content-type", "text/plain")], f"Cannot POST {shown}".encode()
    if fmt == "html":
        page = (f"<!DOCTYPE html><html><body><h1>POST {html.escape(url)} failed: "
                f"{html.escape(json.dumps(body))}</h1><hr>nginx</body></html>")
        return 500, [("content-type", "text/html")], page.encode()
    if fmt == "json_bare":
        bare = {"statusCode": 500, "request": {"body": body, "query": query}}
        return 500, [_JSON], json.dumps(bare, separators=(",", ":")).encode()
    payload = {"statusCode": 500, "timestamp": "2026-11-26T03:00:00.000Z",
               "exception": {"name": "Error", "message": "engine crashed",
                             "stack": f"Error: engine crashed\n    at {url}\n    at handler"},
               "request": {"path": url, "method": "POST", "body": body, "query": query},
               "version": "2026.7.1"}
    return 500, [_JSON], json.dumps(payload, separators=(",", ":")).encode()  # as Node writes it


def hostile_error(params: dict[str, Any]) -> Reply:
    """An error of status `code` (default 500) whose message is `text`."""
    code = int(params.get("code", 500))
    text = str(params.get("text", ""))
    if params.get("content_type") == "text":
        return code, [("content-type", "text/plain")], text.encode("utf-8", "surrogatepass")
    payload = {"statusCode": code, "message": text, "error": "Error"}
    return code, [_JSON], json.dumps(payload).encode()


@functools.cache
def gzip_bomb_bytes(inflated_mb: int) -> bytes:
    packer = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    zeros = b"0" * (1 << 20)  # "0" digits: a JSON number that never ends
    chunks = [packer.compress(zeros) for _ in range(inflated_mb)]
    chunks.append(packer.flush())
    return b"".join(chunks)


def gzip_bomb(params: dict[str, Any]) -> Reply:
    """A 200 whose gzip body inflates to `inflated_mb` MB (default 1024)."""
    data = gzip_bomb_bytes(int(params.get("inflated_mb", 1024)))
    return 200, [_JSON, ("content-encoding", "gzip"), ("content-length", str(len(data)))], data


def huge_body(params: dict[str, Any]) -> Reply:
    """A 200 JSON document of `mb` megabytes (default 200), sent in 64 KB chunks."""
    size = int(params.get("mb", 200)) << 20

    def chunks() -> Iterator[bytes]:
        yield b'{"status": "WORKING", "pad": "'
        block = b"x" * 65536
        for _ in range(size // len(block)):
            yield block
        yield b'"}'

    return 200, [_JSON], chunks()


def deep_json(params: dict[str, Any]) -> Reply:
    """A 200 whose JSON nests `depth` arrays (default 100,000)."""
    depth = int(params.get("depth", 100_000))
    return 200, [_JSON], b"[" * depth + b"]" * depth


def raw(params: dict[str, Any]) -> Reply:
    """Exactly what the test asks for (bytes in process, base64 over the control API)."""
    body = params.get("body", b"")
    if "body_b64" in params:
        body = base64.b64decode(params["body_b64"])
    if isinstance(body, str):
        body = body.encode("utf-8", "surrogatepass")
    headers = [(str(k), str(v)) for k, v in dict(params.get("headers", {})).items()]
    return int(params.get("code", 200)), headers, body
