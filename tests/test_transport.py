"""The aiohttp-backed httpx transport over real loopback sockets: each failure raises the
httpx exception httpx's own transport raises, bodies reach httpx raw and streamed, and
connections are reused."""

from __future__ import annotations

import errno
import gzip
import socket
import struct
import threading
import time

import aiohttp
import httpx
import pytest

from wawp_tui.client.api import WawpClient
from wawp_tui.client.errors import NetworkError, Timeout
from wawp_tui.client.transport import AiohttpTransport, as_httpx_error, make_transport
from wawp_tui.models import InstanceConfig, Secret
from wawp_tui.simulator import SIM_TOKEN, SimInstance, Simulator


def transport(connect_timeout: float = 2.0) -> httpx.AsyncBaseTransport:
    made = make_transport(max_connections=8, keepalive=4, connect_timeout=connect_timeout)
    assert isinstance(made, AiohttpTransport)
    return made


def client(**timeouts) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=transport(),
                             timeout=httpx.Timeout(timeouts.pop("read", 2.0), **timeouts))


class RawServer:
    """A loopback TCP server; `handler(conn)` runs in a thread for each connection."""

    def __init__(self, handler) -> None:
        self.handler = handler
        self.connections = 0
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}/"
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._accept = threading.Thread(target=self._loop, daemon=True)
        self._accept.start()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            thread = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            self._threads.append(thread)
            thread.start()

    def _serve(self, conn: socket.socket) -> None:
        with conn:
            try:
                self.handler(conn)
            except OSError:
                pass

    def close(self) -> None:
        self._stop.set()
        self.sock.close()
        for thread in self._threads:
            thread.join(timeout=5)


@pytest.fixture
def raw_server():
    servers: list[RawServer] = []

    def start(handler) -> RawServer:
        server = RawServer(handler)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.close()


def read_request(conn: socket.socket) -> bool:
    """Read one request (head + Content-Length body); False when the client closed."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return False
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = next((int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
                   if line.lower().startswith(b"content-length:")), 0)
    while len(body) < length:
        body += conn.recv(65536)
    return True


def reply(body: bytes, *headers: bytes) -> bytes:
    extra = b"".join(h + b"\r\n" for h in headers)
    return (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n%s\r\n%s"
            % (len(body), extra, body))


def reset(conn: socket.socket) -> None:
    """Close with a TCP RST instead of a FIN."""
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


def causes(exc: BaseException) -> list[BaseException]:
    found = []
    while exc is not None and len(found) < 10:
        found.append(exc)
        exc = exc.__cause__ or exc.__context__
    return found


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# -- connect failures ------------------------------------------------------------------


async def test_refused_is_a_connect_error_with_the_os_error_kept():
    async with client() as http:
        with pytest.raises(httpx.ConnectError) as caught:
            await http.post(f"http://127.0.0.1:{closed_port()}/", json={})
    assert any(isinstance(e, ConnectionRefusedError) or getattr(e, "errno", None) == errno.ECONNREFUSED
               for e in causes(caught.value))


async def test_dns_failure_is_a_connect_error_with_the_gaierror_kept():
    async with client() as http:
        with pytest.raises(httpx.ConnectError) as caught:
            await http.post("http://nonexistent.invalid/", json={})
    assert any(isinstance(e, socket.gaierror) for e in causes(caught.value))


async def test_tls_handshake_failure_is_a_connect_error(raw_server):
    def not_tls(conn):
        conn.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
        time.sleep(0.5)

    server = raw_server(not_tls)
    async with client() as http:
        with pytest.raises(httpx.ConnectError) as caught:
            await http.get(f"https://127.0.0.1:{server.port}/")
    assert "ssl" in " ".join(str(e).lower() for e in causes(caught.value))


async def test_connect_timeout_when_the_backlog_is_full():
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    fillers = []
    try:
        for _ in range(4):  # never accepted: the kernel drops further SYNs
            filler = socket.socket()
            filler.setblocking(False)
            filler.connect_ex(listener.getsockname())
            fillers.append(filler)
        url = "http://127.0.0.1:%d/" % listener.getsockname()[1]
        async with client(connect=0.3) as http:
            try:
                await http.get(url)
            except httpx.ConnectTimeout:
                return
            except httpx.TransportError:
                pass
        pytest.skip("this kernel accepted past the backlog; no connect timeout to observe")
    finally:
        for filler in fillers:
            filler.close()
        listener.close()


# -- failures during the reply ---------------------------------------------------------


async def test_dropped_before_the_reply_is_a_remote_protocol_error(raw_server):
    server = raw_server(lambda conn: read_request(conn))
    async with client() as http:
        with pytest.raises(httpx.RemoteProtocolError):
            await http.post(server.url, json={})


@pytest.mark.parametrize("rst", [False, True], ids=["fin", "rst"])
async def test_dropped_mid_reply_is_a_transport_error(raw_server, rst):
    def half_then_close(conn):
        read_request(conn)
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n{\"status\": ")
        time.sleep(0.1)
        if rst:
            reset(conn)

    server = raw_server(half_then_close)
    async with client() as http:
        with pytest.raises(httpx.TransportError) as caught:
            await http.post(server.url, json={})
    # The class httpx's own transport raises for the same thing.
    assert type(caught.value) is (httpx.ReadError if rst else httpx.RemoteProtocolError)


async def test_reset_before_the_reply_is_a_read_error(raw_server):
    def read_then_reset(conn):
        read_request(conn)
        reset(conn)

    server = raw_server(read_then_reset)
    async with client() as http:
        with pytest.raises(httpx.ReadError):
            await http.post(server.url, json={})


async def test_a_reply_that_is_not_http_is_a_remote_protocol_error(raw_server):
    def ssh(conn):
        read_request(conn)
        conn.sendall(b"SSH-2.0-OpenSSH_9.0\r\n\r\n")
        time.sleep(0.2)

    server = raw_server(ssh)
    async with client() as http:
        with pytest.raises(httpx.RemoteProtocolError):
            await http.post(server.url, json={})


@pytest.mark.parametrize("where", ["headers", "body"])
async def test_hang_is_a_timeout_within_the_read_timeout(raw_server, where):
    release = threading.Event()

    def hang(conn):
        read_request(conn)
        if where == "body":
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{")
        release.wait(10)

    server = raw_server(hang)
    try:
        async with client(read=0.5) as http:
            started = time.monotonic()
            with pytest.raises(httpx.TimeoutException) as caught:
                await http.post(server.url, json={})
            waited = time.monotonic() - started
    finally:
        release.set()
    assert isinstance(caught.value, httpx.ReadTimeout)
    assert 0.45 <= waited < 2.5, waited  # the configured 0.5 s, not the server's 10 s


# -- bodies ----------------------------------------------------------------------------


async def test_gzip_reaches_aiter_raw_compressed_and_decodes_in_httpx(raw_server):
    plain = b'{"status": "WORKING"}' * 2000
    packed = gzip.compress(plain)

    def gzipped(conn):
        while read_request(conn):
            conn.sendall(reply(packed, b"Content-Encoding: gzip"))

    server = raw_server(gzipped)
    async with client() as http:
        async with http.stream("POST", server.url, json={}) as response:
            raw = b"".join([chunk async for chunk in response.aiter_raw()])
        assert response.headers["content-encoding"] == "gzip"
        assert raw == packed  # the bytes on the wire, not inflated by the transport
        decoded = await http.post(server.url, json={})
        assert decoded.content == plain


async def test_the_body_is_streamed_not_buffered_whole(raw_server):
    got_first = threading.Event()

    def two_chunks(conn):
        read_request(conn)
        conn.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nfirst\r\n")
        # The second chunk is sent only once the client has the first one in hand.
        if got_first.wait(5):
            conn.sendall(b"6\r\nsecond\r\n0\r\n\r\n")

    server = raw_server(two_chunks)
    async with client() as http, http.stream("POST", server.url, json={}) as response:
        chunks = []
        async for chunk in response.aiter_raw():
            chunks.append(chunk)
            got_first.set()
    assert chunks == [b"first", b"second"]


async def test_keep_alive_reuses_one_connection(raw_server):
    def keep_alive(conn):
        while read_request(conn):
            conn.sendall(reply(b'{"ok": true}'))

    server = raw_server(keep_alive)
    async with client() as http:
        for _ in range(30):
            response = await http.post(server.url, json={"n": 1})
            assert response.json() == {"ok": True}
    assert server.connections == 1


async def test_a_reply_left_unread_does_not_poison_the_next_one(raw_server):
    big = b"x" * 1_000_000

    def serve(conn):
        while read_request(conn):
            conn.sendall(reply(big))

    server = raw_server(serve)
    async with client() as http:
        async with http.stream("POST", server.url, json={}) as response:
            async for _ in response.aiter_raw():
                break  # a bounded reader that gave up early
        again = await http.post(server.url, json={})
        assert again.content == big
    assert server.connections == 2  # the half-read connection was closed, not reused


# -- through WawpClient: the typed errors hold -------------------------------------------


def _inst() -> InstanceConfig:
    return InstanceConfig(id="AAAAAAAAAAA1", label="one", token=Secret(SIM_TOKEN))


async def test_wawp_client_polls_and_maps_failures_through_this_transport(serve, raw_server):
    handle = serve(Simulator([SimInstance(id="AAAAAAAAAAA1", label="one", token=SIM_TOKEN)]))
    async with WawpClient(handle.url, transport=transport()) as wawp:
        assert (await wawp.info(_inst())).status == "WORKING"
    async with WawpClient(f"http://127.0.0.1:{closed_port()}", transport=transport()) as wawp:
        with pytest.raises(NetworkError, match="connection refused") as caught:
            await wawp.info(_inst())
        assert caught.value.maybe_sent is False
    async with WawpClient("http://nonexistent.invalid", transport=transport()) as wawp:
        with pytest.raises(NetworkError, match=r"does not resolve \(DNS\)"):
            await wawp.info(_inst())
    server = raw_server(lambda conn: read_request(conn))
    async with WawpClient(server.url, transport=transport()) as wawp:
        with pytest.raises(NetworkError, match="connection dropped by the server"):
            await wawp.info(_inst())
    release = threading.Event()
    hung = raw_server(lambda conn: (read_request(conn), release.wait(10)))
    try:
        async with WawpClient(hung.url, timeout=0.5, connect_timeout=0.5,
                              transport=transport()) as wawp:
            # (the time that passed: the timeout, or a little more on a loaded machine)
            with pytest.raises(Timeout, match=r"no reply within (0\.[5-9]|1\.\d)s \(timeout\)"):
                await wawp.info(_inst())
    finally:
        release.set()


async def test_closed_transport_refuses_and_close_is_idempotent():
    made = transport()
    await made.aclose()
    await made.aclose()
    async with httpx.AsyncClient(transport=made) as http:
        with pytest.raises(RuntimeError):
            await http.get("http://127.0.0.1:1/")


async def test_no_query_string_in_error_messages(raw_server):
    """aiohttp names the URL in some errors; a token in the query must not follow it."""
    def ssh(conn):
        read_request(conn)
        conn.sendall(b"SSH-2.0-OpenSSH_9.0\r\n\r\n")
        time.sleep(0.2)

    server = raw_server(ssh)
    async with client() as http:
        with pytest.raises(httpx.RemoteProtocolError) as caught:
            await http.post(server.url + "v2/session/info?access_token=secret-not-real&x=1")
    assert "secret-not-real" not in str(caught.value)
    timeout = aiohttp.ConnectionTimeoutError(
        "Connection timeout to host https://api.example.test/v2/session/info?access_token=s3cr3t")
    mapped = as_httpx_error(timeout)
    assert isinstance(mapped, httpx.ConnectTimeout) and "s3cr3t" not in str(mapped)
    assert "https://api.example.test/v2/session/info?***" in str(mapped)


@pytest.fixture
def self_signed(tmp_path):
    """A certificate for 127.0.0.1 that no trust store holds (made by openssl)."""
    import shutil
    import subprocess

    if shutil.which("openssl") is None:
        pytest.skip("needs the openssl command (Debian: apt-get install openssl)")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    return cert, key


async def test_https_verifies_the_certificate_with_httpx_trust_rules(raw_server, self_signed,
                                                                    monkeypatch):
    """The trust store is loaded on the first https request, by httpx's rules: a
    certificate nobody vouches for fails the connect; SSL_CERT_FILE vouching for it works."""
    import ssl

    cert, key = self_signed
    server_side = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_side.load_cert_chain(cert, key)

    def tls(conn):
        try:
            with server_side.wrap_socket(conn, server_side=True) as wrapped:
                if read_request(wrapped):
                    wrapped.sendall(reply(b'{"ok": true}', b"Content-Type: application/json"))
        except (ssl.SSLError, OSError):
            pass  # the client refused the certificate

    server = raw_server(tls)
    async with client() as http:
        with pytest.raises(httpx.ConnectError) as caught:
            await http.get(f"https://127.0.0.1:{server.port}/")
    assert "certificate" in " ".join(str(e).lower() for e in causes(caught.value))
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))
    async with client() as http:
        answer = await http.get(f"https://127.0.0.1:{server.port}/")
    assert answer.status_code == 200 and answer.json() == {"ok": True}
