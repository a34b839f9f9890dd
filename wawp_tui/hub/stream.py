"""What changed, numbered, for every screen at once: the hub's side of `/api/v1/events`.

The Broadcaster listens to the hub's Monitor. Polls and actions mark instances dirty; at
most every FLUSH seconds the dirty instances are encoded once (core/wire.py) into one
Server-Sent Events frame (`event: instances`), numbered `<boot>.<n>`, kept in a bounded
ring, and put in the queue of every connected stream. Notes (an action's outcome, a
refusal at the gate) travel the same way (`event: note`).

A stream is a reader's own business: its queue is bounded, and a reader that falls
QUEUE frames behind is dropped (it reconnects and catches up from its last id, or from a
snapshot); a write that does not finish within WRITE_TIMEOUT aborts the connection. No
reader ever waits on another, and the hub never waits on a reader.

Resuming: a stream opened with `Last-Event-ID` gets the frames after it from the ring; an
id the ring no longer holds (too old, or from before the hub restarted: another boot)
gets `event: reset`, and the reader fetches `/api/v1/fleet` again.

The snapshot (`/api/v1/fleet`) is built from each instance's last encoding, kept until it
changes: a fleet of 5,000 costs the few instances that changed since, plus a join.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
from collections import deque
from collections.abc import Callable, Iterable, MutableMapping
from dataclasses import dataclass
from typing import Any

from starlette.responses import Response

from wawp_tui.core import AlertsChanged, Event, Monitor, Note, Polled, StateTouched, wire, woken_within

_log = logging.getLogger(__name__)

#: Seconds between two frames at most (changes within it travel together; a quarter of a
#: second keeps a change on 20 screens well within a second, and the writes few).
FLUSH = 0.25
#: Frames kept for readers that reconnect (at a busy 10 a second: several minutes), and
#: the bytes they may hold (a big fleet's steady polls alone are 50 KB a second at 5,000
#: instances; a reader further behind gets a reset and a snapshot).
RING = 4096
RING_BYTES = 64 * 1024 * 1024
#: Frames a reader may fall behind before it is dropped.
QUEUE = 256
#: Seconds a single write to a reader may take before the connection is aborted.
WRITE_TIMEOUT = 10.0
#: Seconds between heartbeats on an idle stream (they carry the hub's clock).
HEARTBEAT = 10.0
#: The latest notes worth telling every screen (a schedule's change), kept for the
#: snapshot: a screen that attaches after them (the hub just came back) still hears them.
NEWS = 20

Scope = MutableMapping[str, Any]


@dataclass(frozen=True)
class Frame:
    """One numbered event, ready to write."""

    id: str
    seq: int
    data: bytes


def _frame(event: str, payload: dict[str, Any], event_id: str | None = None) -> bytes:
    head = f"id: {event_id}\n" if event_id else ""
    body = json.dumps(payload, separators=(",", ":"), ensure_ascii=False)
    return f"{head}event: {event}\ndata: {body}\n\n".encode()


class Reader:
    """One connected stream: its queue of frames (None ends it) and who it is."""

    def __init__(self, user: str) -> None:
        self.user = user
        self.queue: asyncio.Queue[bytes | None] = asyncio.Queue(QUEUE)
        self.dropped = False

    def offer(self, data: bytes) -> None:
        if self.dropped:
            return
        try:
            self.queue.put_nowait(data)
        except asyncio.QueueFull:
            self.drop()

    def drop(self) -> None:
        """Too slow (or the hub stops): the stream ends after what it already has."""
        self.dropped = True
        while not self.queue.empty():
            self.queue.get_nowait()
        self.queue.put_nowait(None)


class Broadcaster:
    """The hub's events, numbered, kept and fanned out (see the module docstring)."""

    def __init__(self, monitor: Monitor, *, flush: float = FLUSH, ring: int = RING,
                 ring_bytes: int = RING_BYTES, wall: Callable[[], float] | None = None) -> None:
        self.monitor = monitor
        self.flush_every = flush
        #: This hub's run: ids from another run are unknown here (a reset).
        self.boot = secrets.token_hex(4)
        self._seq = 0
        self._ring: deque[Frame] = deque()
        self.ring_frames, self.ring_bytes = ring, ring_bytes
        self._ring_size = 0
        self._readers: set[Reader] = set()
        self._dirty: set[str] = set()
        self._notes: list[dict[str, Any]] = []
        #: The latest told notes (see NEWS), for the snapshot.
        self.news: deque[dict[str, Any]] = deque(maxlen=NEWS)
        self._wake = asyncio.Event()
        #: Set by a change that should not wait for the quarter second (see _on_event).
        self._hurry = asyncio.Event()
        self._encoded: dict[str, bytes] = {}
        self._stale_encoding: set[str] = set(monitor.fleet.instances)
        #: Per instance, its view (JSON) and the visible key it was worked out for: a
        #: steady poll re-encodes the facts (cheap) and keeps the view (wire.visible_key).
        self._views: dict[str, tuple[tuple[Any, ...], str]] = {}
        self.clock = wall or monitor.clock
        #: Frames written to readers, and readers dropped for being slow (metrics, tests).
        self.sent = 0
        self.drops = 0
        monitor.subscribe(self._on_event)

    # -- the monitor's side ----------------------------------------------------------

    def _on_event(self, event: Event) -> None:
        if isinstance(event, (Polled, StateTouched)):
            self._dirty.add(event.instance_id)
            self._stale_encoding.add(event.instance_id)
            # A new word or a person's action goes out at once; steady polls wait for
            # the next quarter second, together.
            if isinstance(event, StateTouched) or event.changed:
                self._hurry.set()
            self._wake.set()
        elif isinstance(event, Note):
            note = {"text": event.text, "ok": event.ok, "instance_id": event.instance_id,
                    "at": self.clock(), **({"told": True} if event.told else {})}
            self._notes.append(note)
            if event.told:
                self.news.append(note)
            del self._notes[:-200]  # a burst of notes keeps its latest
            self._wake.set()
        elif isinstance(event, AlertsChanged):
            pass  # screens work alerts out from the same facts; the snapshot lists them

    async def run(self) -> None:
        """Flush dirty instances and notes as frames: at most every `flush_every` s, or at
        once for a change of word or an action."""
        while True:
            await self._wake.wait()
            self._wake.clear()
            self._hurry.clear()
            self.flush()
            await woken_within(self._hurry, self.flush_every)

    def flush(self) -> None:
        """Encode what changed since the last flush and hand it to every reader now."""
        if self._dirty:
            ids, self._dirty = self._dirty, set()
            fleet = self.monitor.fleet
            docs = [self._encode(i) for i in fleet.instances if i in ids]
            payload = {"now": self.clock(), "fleet": wire.encode_fleet(fleet), "instances": []}
            # The instances are already JSON: spliced in, not encoded twice.
            head = json.dumps(payload, separators=(",", ":"), ensure_ascii=False)[:-3]
            self._publish("instances", head.encode() + b"[" + b",".join(docs) + b"]}")
        if self._notes:
            notes, self._notes = self._notes, []
            for note in notes:
                self._publish("note", json.dumps(note, separators=(",", ":"), ensure_ascii=False).encode())

    def _encode(self, instance_id: str) -> bytes:
        """An instance's document, encoded again only when it changed."""
        if instance_id in self._stale_encoding or instance_id not in self._encoded:
            self._stale_encoding.discard(instance_id)
            monitor, st = self.monitor, self.monitor.fleet.get(instance_id)
            key = wire.visible_key(st)
            kept = self._views.get(instance_id)
            if kept is None or kept[0] != key:
                shown = wire.view(st, self.clock(), monitor.stale_basis, monitor.quiet_after,
                                  monitor.read_only)
                kept = (key, json.dumps(shown, separators=(",", ":"), ensure_ascii=False))
                self._views[instance_id] = kept
            facts = json.dumps(wire.encode_instance(st), separators=(",", ":"), ensure_ascii=False)
            self._encoded[instance_id] = f'{facts[:-1]},"view":{kept[1]}}}'.encode()
        return self._encoded[instance_id]

    def _publish(self, event: str, body: bytes) -> None:
        self._seq += 1
        event_id = f"{self.boot}.{self._seq}"
        data = f"id: {event_id}\nevent: {event}\ndata: ".encode() + body + b"\n\n"
        self._ring.append(Frame(event_id, self._seq, data))
        self._ring_size += len(data)
        while len(self._ring) > 1 and (len(self._ring) > self.ring_frames
                                       or self._ring_size > self.ring_bytes):
            self._ring_size -= len(self._ring.popleft().data)
        for reader in list(self._readers):
            reader.offer(data)
            if reader.dropped:
                self.drops += 1
                self._readers.discard(reader)

    # -- the readers' side -----------------------------------------------------------

    @property
    def last_id(self) -> str:
        """The id of the latest frame (a snapshot is as new as this)."""
        return f"{self.boot}.{self._seq}"

    def readers(self, user: str | None = None) -> int:
        return sum(1 for r in self._readers if user is None or r.user == user)

    def backlog(self, last_id: str | None) -> list[bytes] | None:
        """The frames after `last_id`, or None when it is not one this run still holds."""
        if last_id is None:
            return []
        boot, _, seq_text = last_id.strip().partition(".")
        # (isascii: int() reads other scripts' digits; 20 digits: it refuses thousands)
        if boot != self.boot or not seq_text.isascii() or not seq_text.isdigit() or len(seq_text) > 20:
            return None
        seq = int(seq_text)
        if seq == self._seq:
            return []
        oldest = self._ring[0].seq if self._ring else self._seq + 1
        if seq > self._seq or seq < oldest - 1:
            return None
        return [f.data for f in self._ring if f.seq > seq]

    def join(self, user: str) -> Reader:
        reader = Reader(user)
        self._readers.add(reader)
        return reader

    def leave(self, reader: Reader) -> None:
        self._readers.discard(reader)

    def close(self) -> None:
        """The hub stops: every stream ends."""
        for reader in list(self._readers):
            reader.drop()
        self._readers.clear()

    # -- the snapshot ----------------------------------------------------------------

    def snapshot(self, extra: dict[str, Any], ids: Iterable[str] | None = None) -> bytes:
        """`/api/v1/fleet`: `extra` (the hub's settings, the caller), the fleet-wide facts
        and every instance (or those of `ids`), as of the latest frame."""
        self.flush()  # what changed is in a frame first: the snapshot's id covers it
        fleet = self.monitor.fleet
        wanted = list(fleet.instances) if ids is None else [i for i in ids if i in fleet.instances]
        head = {"schema": wire.SCHEMA, "now": self.clock(), "event_id": self.last_id, **extra,
                "fleet": wire.encode_fleet(fleet), "instances": []}
        text = json.dumps(head, separators=(",", ":"), ensure_ascii=False)[:-3]
        return text.encode() + b"[" + b",".join(self._encode(i) for i in wanted) + b"]}"


class EventStream(Response):
    """`/api/v1/events` for one reader: the backlog, then frames as they come, a heartbeat
    when idle; ends when the reader goes, falls behind, or the hub stops."""

    media_type = "text/event-stream"

    def __init__(self, broadcaster: Broadcaster, reader: Reader, backlog: list[bytes] | None,
                 *, heartbeat: float = HEARTBEAT, write_timeout: float = WRITE_TIMEOUT) -> None:
        super().__init__(status_code=200, headers={
            "cache-control": "no-store", "x-accel-buffering": "no"}, media_type=self.media_type)
        # A stream has no length: without the header, the reply runs until either side ends it.
        self.raw_headers = [(k, v) for k, v in self.raw_headers if k != b"content-length"]
        self.broadcaster, self.reader, self.backlog = broadcaster, reader, backlog
        self.heartbeat, self.write_timeout = heartbeat, write_timeout

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        # A stream has its own rules (below), not the 60 s a reply may take elsewhere.
        stream = scope.get("extensions", {}).get("wawp.stream", {})
        if "unlimited" in stream:
            stream["unlimited"]()
        gone = asyncio.ensure_future(self._until_disconnect(receive))
        try:
            await self._serve(send, stream.get("abort"))
        finally:
            gone.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await gone
            self.broadcaster.leave(self.reader)

    async def _until_disconnect(self, receive: Any) -> None:
        while (await receive())["type"] != "http.disconnect":
            pass
        self.reader.drop()

    async def _serve(self, send: Any, abort: Callable[[], None] | None) -> None:
        await send({"type": "http.response.start", "status": self.status_code,
                    "headers": self.raw_headers})
        first = [_frame("reset", {"now": self.broadcaster.clock(), "event_id": self.broadcaster.last_id})] \
            if self.backlog is None else list(self.backlog)
        first.append(_frame("beat", {"now": self.broadcaster.clock()}))
        for ready in first:
            if not await self._write(send, ready, abort):
                return
        while True:
            data: bytes | None
            try:
                data = await asyncio.wait_for(self.reader.queue.get(), self.heartbeat)
            except TimeoutError:
                data = _frame("beat", {"now": self.broadcaster.clock()})
            if data is None:
                return
            if not await self._write(send, data, abort):
                return
            self.broadcaster.sent += 1

    async def _write(self, send: Any, data: bytes, abort: Callable[[], None] | None) -> bool:
        try:
            await asyncio.wait_for(send({"type": "http.response.body", "body": data,
                                         "more_body": True}), self.write_timeout)
        except TimeoutError:
            # It stopped reading: let it go now, not when its buffers fill the memory.
            self.reader.drop()
            if abort is not None:
                abort()
            return False
        except OSError:
            return False
        return True

