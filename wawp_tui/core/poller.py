"""Poller: keeps FleetState fresh with bounded concurrency and adaptive intervals.

One scheduler, one heap of due times: an instance's next poll is scheduled only when its
previous poll has ended, so polls of one instance never overlap and a slow server cannot
pile up requests. Intervals come from the runbook (fast while STARTING or just acted on,
slow when steady, exponential backoff on errors, honouring Retry-After).
"""

from __future__ import annotations

import asyncio
import heapq
import logging
import math
import random
import time
from collections.abc import Callable, Iterable

from wawp_tui.client.api import WawpClient
from wawp_tui.client.errors import RateLimited, WawpError
from wawp_tui.core import runbook
from wawp_tui.core.fleet import Clock, FleetState
from wawp_tui.core.waking import woken_within
from wawp_tui.models import InstanceConfig
from wawp_tui.safe_text import clean
from wawp_tui.vocab import NETWORK_KINDS

_log = logging.getLogger(__name__)

#: Called after every poll with the instance id and whether its status word changed.
UpdateCallback = Callable[[str, bool], None]

#: Seconds between the times steady polls fall due (see Poller.next_due).
STEADY_GRID = 1.0
#: While the API cannot be reached, one instance is polled this often whatever the
#: backoff of the others, so the API's return is seen within seconds (after a long
#: outage every instance waits up to a minute: runbook.BACKOFF_CAP).
PROBE_EVERY = 2.0
#: Polls in a row, across the fleet, that must fail on the network before the probe runs
#: (fewer in a smaller fleet: all of it).
PROBE_AFTER = 3


class Poller:
    """Polls every instance of a fleet forever (`run`) or once (`sweep`)."""

    def __init__(
        self,
        client: WawpClient,
        fleet: FleetState,
        instances: Iterable[InstanceConfig],
        *,
        refresh: float = 5.0,
        concurrency: int = 32,
        clock: Clock = time.time,
        on_update: UpdateCallback | None = None,
        max_interval: float | None = None,
        steady_rate: float | None = None,
        timer: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.client = client
        self.fleet = fleet
        # An instance with a configuration problem (no token) is shown, never polled.
        self.configs = {cfg.id: cfg for cfg in instances if not cfg.problem}
        self.refresh = refresh
        self.clock = clock
        self.on_update = on_update
        #: Ceiling for the interval of a steady instance (None: the runbook's default).
        self.max_interval = max_interval
        #: Where a healthy instance's interval settles: `refresh` for a small fleet; for a
        #: big one, slow enough that steady polls cost about `steady_rate` requests a
        #: second in all (CPU here, rate limits there), never past `max_interval`.
        self.steady_target = max_interval
        if steady_rate:
            wanted = max(refresh, len(self.configs) / steady_rate)
            self.steady_target = min(wanted, max_interval) if max_interval else wanted
        self.paused = False
        #: Measures poll latency (injectable so screenshots show fixed figures).
        self.timer = timer
        self._slots = asyncio.Semaphore(max(1, concurrency))
        # Heap of (due, seq, id, generation); pushing again bumps the instance's
        # generation, so older entries are skipped when popped (lazy deletion, O(log n)).
        self._due: list[tuple[float, int, str, int]] = []
        self._seq = 0
        self._generation: dict[str, int] = {}
        self._running: set[str] = set()
        self._wake = asyncio.Event()
        self._retry_after: dict[str, float] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        # Set when a poll failed because the host could not be reached; the next success
        # means the host is back, and every instance that failed that way is polled at once.
        self._host_was_down = False
        self._rng = random.Random(0)  # seeded: a run is reproducible
        self._phased: set[str] = set()
        self._last_recovery_poke = -float("inf")
        #: When the next probe of the unreachable API is due (monotonic), and whose turn.
        self._probe_at = -float("inf")
        self._probe_turn = 0

    # -- one poll --------------------------------------------------------------------

    async def poll_one(self, instance_id: str) -> None:
        """Poll one instance now and record the result in the fleet state."""
        cfg = self.configs[instance_id]
        async with self._slots:
            started = self.timer()
            try:
                info = await self.client.info(cfg)
            except WawpError as exc:
                latency = (self.timer() - started) * 1000.0
                if isinstance(exc, RateLimited) and exc.retry_after is not None:
                    self._retry_after[instance_id] = exc.retry_after
                else:
                    self._retry_after.pop(instance_id, None)
                self.fleet.apply_poll_error(instance_id, exc.kind, str(exc), latency)
                if exc.kind == "network" or self.host_down:
                    self._host_was_down = True
                changed = self.fleet.get(instance_id).failures == 1
            except Exception as exc:  # noqa: BLE001 - one instance's bad luck, not the fleet's
                # A bug or a reply nobody foresaw costs this instance one poll, never the
                # poller (a wall monitor) or the report (`status`): logged, shown, retried.
                _log.exception("poll of %s failed unexpectedly", instance_id)
                latency = (self.timer() - started) * 1000.0
                self.fleet.apply_poll_error(instance_id, "internal",
                                            f"internal error: {clean(type(exc).__name__)}", latency)
                changed = self.fleet.get(instance_id).failures == 1
            else:
                latency = (self.timer() - started) * 1000.0
                self._retry_after.pop(instance_id, None)
                changed = self.fleet.apply_poll_ok(
                    instance_id, info.status, info.me, latency, info.qr_hint, engine=info.engine,
                    presence=info.presence, activity_at=info.activity_at, boot_at=info.boot_at)
        if self.on_update is not None:
            self.on_update(instance_id, changed)
        st = self.fleet.get(instance_id)
        if self._host_was_down and not (st.failures and st.error_kind in NETWORK_KINDS):
            self._host_is_back()  # an answer, even an error: the way to the API is open

    def _host_is_back(self) -> None:
        """Poll at once every instance the network failed: the outage is over when they
        answer, not when each one's backoff runs out (up to a minute)."""
        # Once per refresh at most, so a flapping host does not turn this into a storm.
        now = time.monotonic()
        if now - self._last_recovery_poke < self.refresh:
            return
        self._host_was_down = False
        self._last_recovery_poke = now
        for st in self.fleet:
            if st.failures and st.error_kind in NETWORK_KINDS:
                self.poke(st.id)

    @property
    def host_down(self) -> bool:
        """The last polls across the fleet all failed on the network: the API (or the
        way to it) is down, not one instance."""
        return self.fleet.network_streak >= min(PROBE_AFTER, max(1, len(self.configs)))

    def _probe(self, now: float) -> None:
        """While the API is down, poll one failing instance every PROBE_EVERY seconds
        (in turn), so its return is seen at once and not at the end of everyone's
        backoff; the first answer polls every instance again (_host_is_back)."""
        if not self.host_down or now < self._probe_at:
            return
        self._probe_at = now + PROBE_EVERY
        failing = [i for i in self.configs if i not in self._running and self.fleet.get(i).failures]
        if failing:
            self._probe_turn = (self._probe_turn + 1) % len(failing)
            self._push(failing[self._probe_turn], now)

    async def sweep(self, ids: Iterable[str] | None = None) -> None:
        """Poll every instance (or `ids`) once, concurrently within the limit."""
        await asyncio.gather(*(self.poll_one(i) for i in (ids or list(self.configs))))

    # -- the loop --------------------------------------------------------------------

    def interval(self, instance_id: str) -> float:
        """Seconds until this instance's next poll, from the runbook."""
        st = self.fleet.get(instance_id)
        kwargs = {}
        if self.steady_target is not None:
            kwargs["steady_cap"] = self.steady_target
        return runbook.poll_interval(
            st, self.clock(), self.refresh, retry_after=self._retry_after.get(instance_id), **kwargs
        )

    def polling(self, instance_id: str) -> bool:
        """A poll of this instance is under way now (a poke meanwhile is dropped)."""
        return instance_id in self._running

    def poke(self, instance_id: str, delay: float = 0.0) -> None:
        """Poll this instance soon (after an action), unless a poll is already running."""
        if instance_id not in self.configs or instance_id in self._running:
            return
        self._push(instance_id, time.monotonic() + delay)
        self._wake.set()

    def _push(self, instance_id: str, due: float) -> None:
        self._seq += 1
        generation = self._generation.get(instance_id, 0) + 1
        self._generation[instance_id] = generation
        heapq.heappush(self._due, (due, self._seq, instance_id, generation))

    async def run(self) -> None:
        """Poll forever; cancel the task to stop. Starts with every instance due now."""
        now = time.monotonic()
        for instance_id in self.configs:
            self._push(instance_id, now)
        try:
            while True:
                await self._dispatch_due()
                await self._sleep_until_next()
        finally:
            for task in list(self._tasks):
                task.cancel()

    async def _dispatch_due(self) -> None:
        now = time.monotonic()
        if not self.paused:
            self._probe(now)
        while self._due and self._due[0][0] <= now and not self.paused:
            _, _, instance_id, generation = heapq.heappop(self._due)
            if generation != self._generation.get(instance_id) or instance_id in self._running:
                continue  # superseded by a later push; a running poll reschedules itself
            self._running.add(instance_id)
            task = asyncio.create_task(self._poll_and_reschedule(instance_id))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _poll_and_reschedule(self, instance_id: str) -> None:
        try:
            await self.poll_one(instance_id)
        finally:
            self._running.discard(instance_id)
            self._push(instance_id, self.next_due(instance_id, time.monotonic()))
            self._wake.set()

    def next_interval(self, instance_id: str) -> float:
        """The next interval, spread out: a fleet polled all at once at start-up would
        otherwise stay in lock-step, one burst per round (hard on the API and the CPU).
        The first steady interval gets a random phase, later ones +-10 % jitter."""
        interval = self.interval(instance_id)
        if interval <= self.refresh:
            return interval  # small fleets, transitions and countdowns keep their pace
        if instance_id not in self._phased:
            self._phased.add(instance_id)
            return self._rng.uniform(self.refresh, interval)
        return interval * self._rng.uniform(0.9, 1.1)

    def next_due(self, instance_id: str, now: float) -> float:
        """When the instance's next poll is due (`now` on the monotonic clock). Steady
        polls fall due on a STEADY_GRID of whole seconds, so the few that come due each
        second go out together: one wake-up of the loop and one repaint for the batch.
        Polls one by one, each on its own wake-up, cost two and a half times the CPU.
        Rounded down, never up: a steady instance is never polled later than its
        interval says (the detection time of a change rests on it)."""
        interval = self.next_interval(instance_id)
        if interval <= self.refresh:
            return now + interval  # transitions and countdowns keep their exact pace
        return math.floor((now + interval) / STEADY_GRID) * STEADY_GRID

    async def _sleep_until_next(self) -> None:
        self._wake.clear()
        timeout = None
        if self._due and not self.paused:
            timeout = max(0.0, self._due[0][0] - time.monotonic())
            if self.host_down:
                timeout = min(timeout, max(0.0, self._probe_at - time.monotonic()))
        await woken_within(self._wake, timeout)

    def set_paused(self, paused: bool) -> None:
        """Pause or resume polling; resuming polls what came due meanwhile."""
        self.paused = paused
        self._wake.set()
