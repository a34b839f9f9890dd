"""Error bodies in every format become one short readable line."""

import httpx
import pytest

from wawp_tui.client import envelopes
from wawp_tui.client.api import error_for_response, parse_retry_after, parse_session
from wawp_tui.client.bodies import MAX_MESSAGE, message_from_body
from wawp_tui.client.errors import (
    AlreadyStarted,
    ApiError,
    BadGateway,
    BadRequest,
    Forbidden,
    MalformedResponse,
    NoRoute,
    NotFound,
    NotLoaded,
    RateLimited,
    ServerError,
    Unauthorized,
)
from wawp_tui.client.qr_forms import parse_qr


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


@pytest.mark.parametrize("body, cls, words", [
    ('{"statusCode": 404, "message": "Session not found", "error": "Not Found"}', NotLoaded,
     "session not loaded (404): a start brings it back"),
    ('{"statusCode": 404, "message": "We didn\'t find a session with name \'default\'.\\nPlease start '
     'it first by using POST /api/sessions/default/start request", "error": "Not Found"}', NotLoaded,
     "start it first"),
    ('{"code": "invalid_session", "message": "Session expired"}', NotLoaded, "session not loaded"),
    ('{"statusCode": 404, "message": "Instance not found"}', NotFound, "deleted or wrong id"),
    ('{"message": "the instance_id is incorrect"}', NotFound, "deleted or wrong id"),
    ('{"message": "Invalid instance_id"}', NotFound, "deleted or wrong id"),
    ('{"message": "No such instance"}', NotFound, "deleted or wrong id"),
    # A 404 that says nothing of its own: the API documents it as a wrong id or deleted.
    ("", NotFound, "deleted or wrong id"),
    ('{"message": "Not Found"}', NotFound, "deleted or wrong id"),
    ('{"message": "Invalid token"}', NotFound, "Invalid token"),
])
def test_a_404_is_not_loaded_only_when_its_body_says_so(body, cls, words):
    err = error_for_response(_response(404, body))
    assert type(err) is cls and words in str(err)
    if cls is not NotLoaded:
        assert "not loaded" not in str(err) and "a start brings it back" not in str(err)


_EXPRESS_404 = ('<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n<title>Error'
                '</title>\n</head>\n<body>\n<pre>Cannot POST /v2/session/info</pre>\n</body>\n</html>\n')
_NGINX_404 = ("<html>\r\n<head><title>404 Not Found</title></head>\r\n<body>\r\n<center><h1>404 "
              "Not Found</h1></center>\r\n<hr><center>nginx/1.25.3</center>\r\n</body>\r\n</html>\r\n")
_APACHE_404 = ('<!DOCTYPE HTML PUBLIC "-//IETF//DTD HTML 2.0//EN"><html><head><title>404 Not Found'
               '</title></head><body><h1>Not Found</h1><p>The requested URL was not found on this '
               "server.</p></body></html>")


@pytest.mark.parametrize("body, ctype, shown", [
    (_EXPRESS_404, "text/html; charset=utf-8", "Cannot POST /v2/session/info"),
    ("Cannot POST /v2/session/info", "text/plain", "Cannot POST /v2/session/info"),
    (_NGINX_404, "text/html", "404 Not Found"),
    (_APACHE_404, "text/html", "404 Not Found"),
    ("The requested URL was not found on this server.", "text/plain", "requested URL"),
])
def test_a_web_servers_own_404_is_a_wrong_path_not_a_session_to_start(body, ctype, shown):
    """Express's "Cannot POST /...", an nginx or Apache page: the path does not exist on
    that server (wrong base_url, a proxy), so no start is offered and nothing says the
    session is not loaded."""
    err = error_for_response(_response(404, body, ctype))
    assert isinstance(err, NoRoute), err
    assert err.kind == "no_route" and shown in str(err) and "check base_url" in str(err)
    assert "not loaded" not in str(err) and "start" not in str(err)


def test_an_invalid_session_inside_a_200_does_not_claim_a_404():
    err = envelopes.in_reply({"code": "invalid_session", "message": "Session expired"})
    assert isinstance(err, NotLoaded) and "(404)" not in str(err)


@pytest.mark.parametrize("body, words", [
    ('{"statusCode": 400, "message": ["phone_number must be a string", "instance_id should not be '
     'empty"], "error": "Bad Request"}', "phone_number must be a string; instance_id should not be empty"),
    ('{"error": "Session status is not as expected. Try again later or restart the session", '
     '"session": "default", "status": "FAILED", "expected": ["SCAN_QR_CODE"]}',
     "not as expected. Try again later or restart the session (it is FAILED, expected SCAN_QR_CODE)"),
    ('{"code": "quota_reached", "message": "Instance quota reached"}', "Instance quota reached (quota_reached)"),
    ('{"statusCode": 500, "exception": {"name": "Error", "message": "engine crashed"}, "request": {}}',
     "engine crashed"),
])
def test_every_error_shape_yields_one_readable_line(body, words):
    err = error_for_response(_response(422 if "expected" in body else 400, body))
    assert words in str(err) and "{" not in str(err)


def test_a_redundant_start_is_already_started():
    body = '{"statusCode": 422, "message": "Session \'default\' is already started.", "error": "Unprocessable Entity"}'
    err = error_for_response(_response(422, body))
    assert isinstance(err, AlreadyStarted) and "already started (422)" in str(err)


@pytest.mark.parametrize("payload, cls, words", [
    ({"status": "error", "message": "Instance ID Invalidated"}, NotFound, "deleted or wrong id"),
    ({"status": "error", "message": "engine busy"}, ApiError, "the API reported an error: engine busy"),
    ({"code": "invalid_session", "message": "Session expired"}, NotLoaded, "session not loaded"),
    ({"success": False, "error": "Session is not ready"}, ApiError, "Session is not ready"),
])
def test_an_error_inside_a_200_is_an_error(payload, cls, words):
    err = envelopes.in_reply(payload)
    assert type(err) is cls and words in str(err)
    assert envelopes.in_reply({"status": "WORKING", "name": "x"}) is None
    assert envelopes.in_reply({"code": "ABCD-1234"}) is None  # a pairing code, not an error


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
    info = parse_session({"status": "MAINTENANCE", "name": "x"})
    assert info.status == "MAINTENANCE" and not info.known
    assert parse_session({"status": "PASSKEY_REQUIRED"}).known


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
