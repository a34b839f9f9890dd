"""A real forward proxy on 127.0.0.1 for the tests, as a corporate jump box has one:
CONNECT tunnels (https) and absolute-form requests (plain http), every request line
logged, optional Basic credentials (407 without them). It only ever connects to
127.0.0.1: a request for any other host is answered 502 and logged."""

from __future__ import annotations

import asyncio
import base64
import threading
import time


class LoggingProxy:
    """Start with `LoggingProxy(credentials=None)`, read `.url` and `.seen`, `.stop()`."""

    def __init__(self, credentials: tuple[str, str] | None = None) -> None:
        self.seen: list[str] = []
        self._auth = None if credentials is None else \
            "Basic " + base64.b64encode(f"{credentials[0]}:{credentials[1]}".encode()).decode()
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name="test-proxy", daemon=True)
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("the test proxy did not start")
        self.url = f"http://127.0.0.1:{self.port}"

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._server = self._loop.run_until_complete(
            asyncio.start_server(self._client, "127.0.0.1", 0))
        self.port = self._server.sockets[0].getsockname()[1]
        self._ready.set()
        self._loop.run_forever()

    def stop(self) -> None:
        def close() -> None:
            self._server.close()
            for task in asyncio.all_tasks(self._loop):
                task.cancel()
            self._loop.call_later(0.05, self._loop.stop)

        self._loop.call_soon_threadsafe(close)
        self._thread.join(10)

    def wait_seen(self, count: int = 1, deadline: float = 30.0) -> list[str]:
        end = time.monotonic() + deadline
        while len(self.seen) < count and time.monotonic() < end:
            time.sleep(0.01)
        return list(self.seen)

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
            writer.close()
            return
        lines = head.decode("latin-1").split("\r\n")
        method, target, version = (lines[0].split(" ") + ["", "", ""])[:3]
        headers = [line for line in lines[1:] if line]
        self.seen.append(f"{method} {target}")
        auth = next((h.split(":", 1)[1].strip() for h in headers
                     if h.lower().startswith("proxy-authorization:")), None)
        if self._auth is not None and auth != self._auth:
            writer.write(b"HTTP/1.1 407 Proxy Authentication Required\r\n"
                         b"Proxy-Authenticate: Basic realm=\"test\"\r\nContent-Length: 0\r\n"
                         b"Connection: close\r\n\r\n")
            await writer.drain()
            writer.close()
            return
        if method == "CONNECT":
            host, _, port = target.rpartition(":")
            upstream = await self._open(host, port, writer)
            if upstream is None:
                return
            writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
            await writer.drain()
            await self._pipe(reader, writer, *upstream)
            return
        # absolute form: GET http://127.0.0.1:8080/path HTTP/1.1
        rest = target.split("://", 1)[-1]
        hostport, _, path = rest.partition("/")
        host, _, port = hostport.rpartition(":")
        upstream = await self._open(host, port or "80", writer)
        if upstream is None:
            return
        up_reader, up_writer = upstream
        kept = [h for h in headers if not h.lower().startswith(("proxy-", "connection:"))]
        up_writer.write(f"{method} /{path} {version}\r\n".encode("latin-1")
                        + "".join(f"{h}\r\n" for h in kept + ["Connection: close"]).encode("latin-1")
                        + b"\r\n")
        await self._pipe(reader, writer, up_reader, up_writer)

    async def _open(self, host: str, port: str, writer: asyncio.StreamWriter):
        if host.strip("[]") not in ("127.0.0.1", "localhost") or not port.isdigit():
            writer.write(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            await writer.drain()
            writer.close()
            return None
        try:
            return await asyncio.open_connection("127.0.0.1", int(port))
        except OSError:
            writer.write(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            await writer.drain()
            writer.close()
            return None

    async def _pipe(self, reader, writer, up_reader, up_writer) -> None:
        async def copy(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
            try:
                while data := await source.read(65536):
                    sink.write(data)
                    await sink.drain()
            except (ConnectionError, asyncio.CancelledError):
                pass
            finally:
                try:
                    sink.close()
                except RuntimeError:
                    pass

        await asyncio.gather(copy(reader, up_writer), copy(up_reader, writer))
