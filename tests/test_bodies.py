"""Error bodies in every format become one short readable line."""

import httpx
import pytest

from wawp_tui.client.api import error_for_response, parse_qr, parse_retry_after, parse_session
from wawp_tui.client.bodies import MAX_MESSAGE, message_from_body
from wawp_tui.client.errors import (
    BadGateway,
    BadRequest,
    Forbidden,
    MalformedResponse,
    NotFound,
    RateLimited,
    ServerError,
    Unauthorized,
)


@pytest.mark.parametrize(
    "body, ctype, expected",
    [
        ('{"error": "Unauthorized", "message": "Invalid access token"}', "application/json",
         "Invalid access token"),
        ('{"error": {"message": "quota reached"}}', "application/json", "quota reached"),
        ('{"errors": [{"detail": "bad id"}]}', "application/json", "bad id"),
        ('<?xml version="1.0"?><error><code>400</code><message>Missing parameter instance_id'
         '</message></error>', "application/xml", "Missing parameter instance_id"),
        ("Internal Server Error: engine crashed\n\nstack...", "text/plain",
         "Internal Server Error: engine crashed"),
        ("<html><head><title>502 Bad Gateway</title><style>body{}</style></head>"
         "<body><h1>Bad Gateway</h1><p>nginx</p></body></html>", "text/html", "502 Bad Gateway"),
        ("<!DOCTYPE html><html><body><h1>Service down</h1><script>x()</script></body></html>",
         "", "Service down"),
        ("<html><body><p>no heading</p></body></html>", "text/html", "HTML error page"),
        ("<not xml at all", "application/xml", "not xml at all"),
        ("", "text/plain", ""),
    ],
)
def test_message_from_every_format(body, ctype, expected):
    assert message_from_body(body.encode(), ctype) == expected


def test_long_messages_are_cut_to_one_line():
    text = message_from_body(("word " * 200).encode(), "text/plain")
    assert len(text) <= MAX_MESSAGE and text.endswith("…") and "\n" not in text


def _response(code, body="", ctype="application/json", headers=None):
    h = {"content-type": ctype, **(headers or {})}
    return httpx.Response(code, content=body.encode(), headers=h)


@pytest.mark.parametrize(
    "code, cls, words",
    [
        (400, BadRequest, "bad request"),
        (401, Unauthorized, "access token rejected"),
        (403, Forbidden, "quota"),
        (404, NotFound, "deleted or wrong id"),
        (500, ServerError, "server error"),
        (502, BadGateway, "bad gateway"),
        (503, ServerError, "unavailable"),
    ],
)
def test_status_codes_map_to_typed_errors(code, cls, words):
    err = error_for_response(_response(code, '{"message": "detail here"}'))
    assert isinstance(err, cls)
    assert words in str(err) and "detail here" in str(err)
    assert err.status_code == code


def test_html_502_reads_as_one_line_without_markup():
    page = "<html><head><title>502 Bad Gateway</title></head><body><h1>502</h1></body></html>"
    err = error_for_response(_response(502, page, "text/html"))
    assert str(err) == "bad gateway (502)"
    assert "<" not in str(err)


def test_rate_limit_carries_retry_after():
    err = error_for_response(_response(429, "slow down", "text/plain", {"Retry-After": "7"}))
    assert isinstance(err, RateLimited) and err.retry_after == 7.0
    assert "retry in 7s" in str(err)


def test_retry_after_as_http_date():
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:10 GMT", now=1445412480.0) == pytest.approx(10.0)
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None


def test_unknown_status_is_kept_not_raised():
    info = parse_session({"status": "PASSKEY_REQUIRED", "name": "x"})
    assert info.status == "PASSKEY_REQUIRED" and not info.known


@pytest.mark.parametrize("payload", [[], "WORKING", {"name": "x"}, {"status": 3}, {"status": ""}])
def test_replies_without_status_are_malformed(payload):
    with pytest.raises(MalformedResponse):
        parse_session(payload)


def test_qr_payload_decodes_value_and_expiry():
    import base64
    import json

    data = base64.b64encode(json.dumps({"value": "2@abc", "expiry": 1_700_000_020_000}).encode()).decode()
    qr = parse_qr({"mimetype": "application/json", "data": data})
    assert qr.value == "2@abc" and qr.expires_at == 1_700_000_020.0
    with pytest.raises(MalformedResponse):
        parse_qr({"data": "%%% not base64"})
