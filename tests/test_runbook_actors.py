"""The runbook holds whoever acts: a stateful property test.

Actors, in any order and at any moments a fake clock allows: a person's keys (r, R, x, s,
L, on one instance or in bulk), a rolling operation (W / `rollout`), auto-heal, a second
operator seen only through polls, an engine that sticks in STARTING, goes FAILED, logs
out or recovers, and outages. The monitor under test is the real one (poller, gate,
runbook, ladder, rollout, auto-heal) on the real simulator, spoken to through the real
client over an in-process ASGI transport (the end-to-end tests use sockets), all on one
fake clock. After every step the simulator's own call log is held against the runbook:

1. no two restarts of one instance within 60 s unless the first reached WORKING,
   counting another operator's from the poll that first showed it (the ladder's single
   "one more restart" after 15 s of STARTING is the documented exception);
2. no restart of a STARTING younger than 15 s (first seen = young);
3. no restart, reset or start of an instance waiting for the phone (SCAN_QR_CODE,
   PASSKEY_*), no logout of one already logged out;
4. at most 3 restarts + resets of one instance in any hour without a back-off (5 min
   or more with none) between them, and none while the runbook says it needs a person;
5. the advice never names a key the runbook refuses at that moment;
6. a refusal's seconds are the GUARD cell's.
"""

from __future__ import annotations

import asyncio
import itertools

import httpx
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from tests.conftest import FakeClock, make_config
from wawp_tui.client.api import WawpClient
from wawp_tui.core import Monitor, plan, runbook
from wawp_tui.models import PASSKEY_CONFIRMATION_REQUIRED, PASSKEY_REQUIRED, SCAN_QR_CODE, STARTING, WORKING
from wawp_tui.simulator import Simulator, build_scenario
from wawp_tui.ui.formatting import guard_text

PHONE = {SCAN_QR_CODE, PASSKEY_REQUIRED, PASSKEY_CONFIRMATION_REQUIRED}
KEYS = {"r": "restart", "R": "reset", "x": "stop", "s": "start", "L": "logout"}
N = 2


class Network(httpx.AsyncBaseTransport):
    """The in-process server behind a network that can go down for a few requests (the
    client reads a refused connection as it would over a socket)."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.down_for = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self.down_for > 0:
            self.down_for -= 1
            raise httpx.ConnectError("connection refused", request=request)
        return await self.inner.handle_async_request(request)


class Actors(RuleBasedStateMachine):
    """One fleet of two instances, every actor, one clock."""

    @initialize()
    def start(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.clock = FakeClock()
        instances = build_scenario("healthy", seed=3, instances=N, clock=self.clock)
        self.sim = Simulator(instances, clock=self.clock, seed=3)
        self.ids = [i.id for i in instances]
        config = make_config("http://sim.invalid", instances)
        self.network = Network(httpx.ASGITransport(app=self.sim))
        self.client = WawpClient("http://sim.invalid", transport=self.network)

        async def sleep(seconds: float) -> None:
            self.clock.advance(seconds)

        self.monitor = Monitor(config, self.client, clock=self.clock, sleep=sleep)
        self.sleep = sleep
        #: (instance id, when, index in the simulator's call log, status before) of every
        #: restart another operator sent.
        self.foreign: list[tuple[str, float, int, str]] = []
        #: (instance id, when) of every full reset asked for (R, by hand or in bulk).
        self.resets: list[tuple[str, float]] = []
        #: (instance id, when) at which the runbook said "needs a person".
        self.held: list[tuple[str, float]] = []
        self.refusals: list[tuple[float, float, str]] = []
        self.run(self.monitor.refresh())

    def teardown(self) -> None:
        if hasattr(self, "loop"):
            self.run(self.client.aclose())
            self.loop.close()

    def run(self, job):
        return self.loop.run_until_complete(job)

    # -- the actors ------------------------------------------------------------------

    def _acted(self, report, t0: float) -> None:
        if report.action == "reset":
            self.resets += [(o.instance_id, t0) for o in report.outcomes if not o.refused]
        for outcome in report.outcomes:
            if outcome.refused and outcome.retry_in is not None:
                self.refusals.append((t0, outcome.retry_in, outcome.instance_id))

    @rule(key=st.sampled_from(sorted(KEYS)), which=st.integers(0, N - 1))
    def person_presses(self, key: str, which: int) -> None:
        t0 = self.clock()
        self._acted(self.run(self.monitor.act(KEYS[key], [self.ids[which]])), t0)

    @rule(which=st.integers(0, N - 1), pause=st.sampled_from([15.0, 16.0, 61.0]))
    def person_climbs_the_ladder(self, which: int, pause: float) -> None:
        """r, wait, r, wait, R, as an operator does with an instance that will not come
        back (each press refused or sent as the runbook says at that moment)."""
        for key in ("r", "r", "R"):
            t0 = self.clock()
            self._acted(self.run(self.monitor.act(KEYS[key], [self.ids[which]])), t0)
            self.clock.advance(pause)
            self.run(self.monitor.refresh())

    @rule(key=st.sampled_from(["r", "R", "s", "x"]))
    def person_presses_on_the_selection(self, key: str) -> None:
        t0 = self.clock()
        self._acted(self.run(self.monitor.act(KEYS[key], self.ids)), t0)

    @rule(action=st.sampled_from(["restart", "start", "stop"]))
    def rolling_operation(self, action: str) -> None:
        rollout = self.monitor.rollout(plan(action, self.ids, 1), state_path=None,
                                       sleep=self.sleep, continue_on_error=True)
        self.run(rollout.run())

    @rule()
    def auto_heal_ticks(self) -> None:
        async def tick() -> None:
            self.monitor.auto_heal = True
            self.monitor.tick()
            await self.monitor.idle()

        self.run(tick())

    @rule(which=st.integers(0, N - 1))
    def another_operator_restarts(self, which: int) -> None:
        inst = self.sim.instances[self.ids[which]]
        was = inst.status_at(self.clock())
        if was not in PHONE:
            # A restart of an instance already STARTING (or last seen so) changes
            # nothing a poll can see (this server lists no status times): the invariants
            # count only those a poll could see (`_foreign_seen`).
            self.foreign.append((inst.id, self.clock(), len(self.sim.calls), was))
            inst.restart(self.clock())

    @rule(which=st.integers(0, N - 1), how=st.sampled_from(["stick", "fail", "logout", "recover"]))
    def the_engine(self, which: int, how: str) -> None:
        inst = self.sim.instances[self.ids[which]]
        now = self.clock()
        if how == "stick":
            inst.stuck_starting = True
        elif how == "fail":
            inst.status_at(now)
            inst.fail_at, inst.recover_at = now, None
        elif how == "logout":
            inst.logout(now)
        else:
            inst.stuck_starting = False
            inst.fail_at = inst.recover_at = None
            inst.logged_in = True
            if inst.status_at(now) == SCAN_QR_CODE:
                inst.base_status = WORKING  # the phone scanned

    @rule(requests=st.integers(1, 8))
    def an_outage(self, requests: int) -> None:
        self.network.down_for = requests

    @rule(seconds=st.sampled_from([1.0, 2.0, 5.0, 14.0, 16.0, 31.0, 61.0, 301.0, 601.0]),
          poll=st.booleans())
    def time_passes(self, seconds: float, poll: bool) -> None:
        self.clock.advance(seconds)
        if poll:
            self.run(self.monitor.refresh())

    # -- the invariants --------------------------------------------------------------

    def _calls(self, instance_id: str, *endpoints: str) -> list[dict]:
        wanted = {f"/v2/session/{e}" for e in endpoints}
        return [c for c in self.sim.calls if c["instance_id"] == instance_id and c["endpoint"] in wanted]

    def _indexed(self, instance_id: str, *endpoints: str) -> list[tuple[int, dict]]:
        """The calls with their place in the log: calls at one clock reading keep their
        order (a pre-poll, then the send, then another actor's poll)."""
        wanted = {f"/v2/session/{e}" for e in endpoints}
        return [(n, c) for n, c in enumerate(self.sim.calls)
                if c["instance_id"] == instance_id and c["endpoint"] in wanted]

    def _foreign_seen(self, instance_id: str) -> list[tuple[float, int, float]]:
        """Another operator's restarts a poll could see: (when, the first poll after it,
        that poll's time), for those whose first poll shows STARTING after a poll that
        did not. One sent to an instance last seen STARTING, or over (FAILED, WORKING)
        before any poll, shows nothing a monitor without the server's status times
        could count."""
        polls = [(n, c) for n, c in self._indexed(instance_id, "info") if c.get("status")]
        seen = []
        for i, when, index, was in self.foreign:
            before = [c for n, c in polls if n < index]
            first = next(((n, c) for n, c in polls if n >= index), None)
            last_seen = before[-1].get("status") if before else None
            if i == instance_id and STARTING not in (was, last_seen) and first is not None \
                    and first[1].get("status") == STARTING:
                seen.append((when, first[0], first[1]["at"]))
        return seen

    @invariant()
    def note_who_needs_a_person(self) -> None:
        if not hasattr(self, "monitor"):
            return
        now = self.clock()
        for instance_id in self.ids:
            if runbook.person_hold(self.monitor.state(instance_id), now) is not None:
                self.held.append((instance_id, now))

    @invariant()
    def restarts_are_spaced_as_the_runbook_says(self) -> None:
        if not hasattr(self, "monitor"):
            return
        for instance_id in self.ids:
            polls = [(n, c) for n, c in self._indexed(instance_id, "info") if c.get("status")]
            ours = [(c["at"], n) for n, c in self._indexed(instance_id, "restart")]
            foreign = self._foreign_seen(instance_id)
            for sent, n_sent in ours:
                # (when, the restart's place, whence counted, from which poll on)
                earlier = [(t, n, t, n) for t, n in ours if n < n_sent]
                earlier += [(t, n, at, n) for t, n, at in foreign if n < n_sent]
                if not earlier:
                    continue
                # Another operator's restart counts from the first poll that saw it.
                _, _, seen, n_seen = max(earlier)
                if sent - seen >= runbook.RESTART_LOOP_GUARD:
                    continue
                between = [c for n, c in polls if n_seen <= n < n_sent]
                if any(c.get("status") == WORKING for c in between):
                    continue  # it reached WORKING: the 30 s stabilization is the rule then
                # The one documented exception: STARTING for 15 s after a restart.
                last = between[-1] if between else None
                assert last is not None and last.get("status") == STARTING \
                    and sent - seen >= runbook.STUCK_AFTER_RESTART, (instance_id, sent, seen, between)

    @invariant()
    def no_restart_of_a_young_starting_and_nothing_for_the_phone(self) -> None:
        if not hasattr(self, "monitor"):
            return
        for instance_id in self.ids:
            foreign = self._foreign_seen(instance_id)
            for index, call in self._indexed(instance_id, "restart", "start", "stop", "logout"):
                was, at, name = call.get("was"), call["at"], call["endpoint"].rsplit("/", 1)[-1]
                if name in ("restart", "start"):
                    assert was not in PHONE, call
                if name == "logout":
                    assert was != SCAN_QR_CODE, call
                if name == "restart" and was == STARTING:
                    boots = [c["at"] for n, c in self._indexed(instance_id, "restart", "start") if n < index]
                    boots += [t for t, n, _ in foreign if n < index]
                    latest = max(boots, default=None)
                    # First seen STARTING counts from that poll: no older than the boot.
                    assert latest is None or at - latest >= runbook.STUCK_AFTER_RESTART, call

    @invariant()
    def the_ladder_ends_and_its_back_off_holds(self) -> None:
        if not hasattr(self, "monitor"):
            return
        for instance_id in self.ids:
            steps = sorted([c["at"] for c in self._calls(instance_id, "restart")]
                           + [c["at"] for c in self._calls(instance_id, "stop")
                              if self._is_reset_stop(instance_id, c["at"])])
            for n in range(len(steps) - 3):
                window = steps[n:n + 4]
                if window[-1] - window[0] < 3600:
                    gaps = [b - a for a, b in itertools.pairwise(window)]
                    assert max(gaps) >= 300, (instance_id, window)
            for held_id, when in self.held:
                if held_id == instance_id:
                    assert when not in steps, (instance_id, when)

    def _is_reset_stop(self, instance_id: str, at: float) -> bool:
        """A stop that began a full reset (R asked for then; not x, then s 5 s later)."""
        return (instance_id, at) in self.resets

    @invariant()
    def advice_and_countdowns_agree_with_the_verdicts(self) -> None:
        if not hasattr(self, "monitor"):
            return
        now = self.clock()
        for instance_id in self.ids:
            state = self.monitor.state(instance_id)
            for read_only in (False, True):
                answer = runbook.assess(state, now, 5.0, read_only=read_only)
                action = runbook.KEY_ACTIONS.get(answer.advice.key or "")
                if action is not None:
                    assert answer.verdicts[action].allowed, (answer.advice, answer.verdicts[action])
                for key, named in KEYS.items():  # a key named in the words counts too
                    if f"press {key} " in answer.advice.todo or f"({key})" in answer.advice.todo:
                        assert answer.verdicts[named].allowed, (key, answer.advice)
                if read_only:
                    assert not any(f"press {k} " in answer.advice.todo for k in KEYS), answer.advice
            restart = runbook.check_action(state, "restart", now)
            if not restart.allowed and restart.retry_in is not None:
                cell = guard_text(runbook.glance(state, now, 5.0), now)
                assert cell == runbook.fmt_duration(restart.retry_in), (cell, restart)
        for t0, retry_in, instance_id in self.refusals:
            if t0 == now:  # a refusal quotes the seconds of a countdown on screen
                shown = {runbook.fmt_duration(c.remaining(now))
                         for c in runbook.glance(self.monitor.state(instance_id), now, 5.0).countdowns}
                assert runbook.fmt_duration(retry_in) in shown, (shown, retry_in)
        self.refusals = []  # each step's refusals are checked right after it


Actors.TestCase.settings = settings(max_examples=150, stateful_step_count=30, deadline=None,
                                    suppress_health_check=[HealthCheck.too_slow])
TestRunbookActors = Actors.TestCase

