"""How the simulator answers: JSON, NestJS-style errors, HTML error pages."""

from __future__ import annotations

import json
from typing import Any

Reply = tuple[int, list[tuple[str, str]], bytes]


#: The reason phrase NestJS puts in "error".
_REASONS = {400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
            429: "Too Many Requests", 500: "Internal Server Error"}


def error_reply(status: int, message: str) -> Reply:
    """An error reply in NestJS's shape: {statusCode, message, error}."""
    return json_reply(status, {"error": _REASONS.get(status, "Error"), "message": message, "statusCode": status})


def json_reply(status: int, payload: Any) -> Reply:
    return status, [("content-type", "application/json")], json.dumps(payload).encode()


def html_reply(status: int, title: str) -> Reply:
    page = (f"<!DOCTYPE html><html><head><title>{title}</title><style>body{{font-family:sans-serif}}"
            f"</style></head><body><center><h1>{title}</h1></center><hr><center>nginx</center>"
            "</body></html>")
    return status, [("content-type", "text/html; charset=utf-8")], page.encode()
