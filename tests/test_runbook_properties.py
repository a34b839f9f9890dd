"""The runbook's one answer, attacked with random histories: whatever happened to an
instance (polls, errors, actions from here, actions seen on the server, time passing),
the advice never names a key whose action the runbook refuses at that moment, every
guard countdown on screen is a refusal in progress, and the same moment always gives
the same answer."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from wawp_tui.core import runbook
from wawp_tui.core.fleet import FleetState
from wawp_tui.models import (
    FAILED,
    PASSKEY_REQUIRED,
    SCAN_QR_CODE,
    STARTING,
    STOPPED,
    WORKING,
    InstanceConfig,
    Secret,
)
from wawp_tui.vocab import Action, ErrorKind

T0 = 1_800_000_000.0
STATUSES = [WORKING, STARTING, STOPPED, FAILED, SCAN_QR_CODE, PASSKEY_REQUIRED, "REBOOTING"]
ERRORS = [ErrorKind.NETWORK, ErrorKind.TIMEOUT, ErrorKind.SERVER_ERROR, ErrorKind.BAD_GATEWAY,
          ErrorKind.NOT_FOUND, ErrorKind.NOT_LOADED, ErrorKind.UNAUTHORIZED, ErrorKind.MALFORMED]
ACTIONS = [Action.START, Action.STOP, Action.RESTART, Action.LOGOUT, Action.RESET]

steps = st.one_of(
    st.tuples(st.just("poll"), st.sampled_from(STATUSES)),
    st.tuples(st.just("error"), st.sampled_from(ERRORS)),
    st.tuples(st.just("act"), st.sampled_from(ACTIONS), st.booleans(),
              st.none() | st.sampled_from(STATUSES)),
    st.tuples(st.just("wait"), st.floats(min_value=0, max_value=120, allow_nan=False)),
    st.tuples(st.just("reset_pause"), st.floats(min_value=0, max_value=6, allow_nan=False)),
)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


def replay(history):
    clock = Clock()
    fleet = FleetState([InstanceConfig("ID1", "one", Secret("x"))], clock)
    for step in history:
        kind = step[0]
        if kind == "poll":
            fleet.apply_poll_ok("ID1", step[1], None, 5.0)
        elif kind == "error":
            fleet.apply_poll_error("ID1", step[1], f"{step[1]} failure", 5.0)
        elif kind == "act":
            _, action, ok, status = step
            fleet.apply_action_sent("ID1", action)
            fleet.apply_action_result("ID1", action, ok, "" if ok else "server error (500)",
                                      status=status if ok else None)
        elif kind == "wait":
            clock.now += step[1]
        elif kind == "reset_pause":
            fleet.set_reset_start("ID1", clock.now + step[1])
    return fleet.get("ID1"), clock.now


#: Which action each countdown holds back.
HELD = {"stabilizing": Action.RESTART, "restart-loop": Action.RESTART,
        "still STARTING": Action.RESTART, "start allowed": Action.START}


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(history=st.lists(steps, max_size=25), later=st.floats(min_value=0, max_value=90),
       read_only=st.booleans())
def test_the_advice_never_suggests_what_the_runbook_refuses(history, later, read_only):
    state, now = replay(history)
    for moment in (now, now + later):
        answer = runbook.assess(state, moment, 5.0, read_only=read_only)
        action = runbook.KEY_ACTIONS.get(answer.advice.key or "")
        if action is not None:
            assert answer.verdicts[action].allowed, (answer.advice, answer.verdicts[action])
        # Every countdown on screen is a refusal in progress, with its own time left.
        for countdown in answer.countdowns if not read_only else ():
            held = next((a for prefix, a in HELD.items() if countdown.label.startswith(prefix)), None)
            if held is not None:
                verdict = answer.verdicts[held]
                assert not verdict.allowed, (countdown, verdict)
        # The table's glance is the same answer.
        seen = runbook.glance(state, moment, 5.0)
        assert (seen.word, seen.rank, seen.countdowns) == (answer.word, answer.rank, answer.countdowns)
        # The same moment always gives the same answer.
        assert runbook.assess(state, moment, 5.0, read_only=read_only) == answer


@settings(max_examples=200, deadline=None)
@given(history=st.lists(steps, max_size=25))
def test_a_refusal_with_a_wait_is_lifted_by_then_or_gives_a_new_reason(history):
    """ "wait 28s" means something: at that moment the same refusal no longer holds."""
    state, now = replay(history)
    for action in ACTIONS:
        verdict = runbook.check_action(state, action, now)
        if verdict.allowed or verdict.retry_in is None:
            continue
        after = runbook.check_action(state, action, now + verdict.retry_in + 0.01)
        assert after.allowed or after.reason != verdict.reason
