"""Where the runbook's ladder ends: with a person, and a back-off that grows.

The documentation's ladder for an instance that will not come back is: restart; when it
stays STARTING 15 s, one more restart; then the full reset (stop, wait 5 s, start). It
says nothing of what comes after, and a monitor that starts the ladder again sends an
instance round restart/reset for ever (each one purging its outbound queue). So here it
ends: once the steps of an episode are used up and the instance is not WORKING 60 s after
the last one, or FAILS again soon after it came back, it **needs a person**. Nobody and
nothing restarts or resets it for a back-off, like Kubernetes' CrashLoopBackOff: 5 min,
doubling, capped at 1 h. After a back-off one more try is allowed; 10 min of WORKING
clears the back-off (the steps of the last hour still count: three in any hour at most).

A step is a restart or a full reset, whoever did it: this process, another operator, a
cron rollout, or the engine's own reboot seen through a poll.

Pure: a frozen record (kept in the fleet state) and functions of (record, facts, now).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from wawp_tui.models import FAILED, WORKING

#: Steps (restarts + full resets) in an episode before a person is needed: restart, one
#: more restart, the full reset.
LADDER_STEPS = 3
#: After a back-off, one try (as a crash-looping container gets one start).
STEPS_AFTER_BACKOFF = 1
#: After the last step, the instance has this long to be WORKING (the loop guard's 60 s).
LAST_STEP_GRACE = 60.0
#: WORKING this long ends the episode: the steps and the back-off start over.
SETTLED_AFTER = 600.0
#: Steps older than this no longer count (at most LADDER_STEPS in any hour).
STEP_WINDOW = 3600.0
#: The first back-off, doubled after each one, up to the cap.
BACKOFF_FIRST = 300.0
BACKOFF_CAP = 3600.0


@dataclass(frozen=True)
class Ladder:
    """One instance's climb: the steps of this episode and the back-offs served."""

    #: When each step of this episode happened (oldest first).
    steps: tuple[float, ...] = ()
    #: Back-offs served in this episode (0: the whole ladder is still ahead).
    level: int = 0
    #: When "needs a person" began, once it has (then it no longer moves).
    held_at: float | None = None


@dataclass(frozen=True)
class Facts:
    """What the ladder needs to know about the instance now."""

    status: str | None
    #: When the current status began (first poll that showed it).
    status_since: float | None
    #: When a poll last saw WORKING.
    last_working_at: float | None


@dataclass(frozen=True)
class Hold:
    """The instance needs a person from `since` until `until` (the back-off)."""

    since: float
    until: float
    #: Steps of the episode that led here.
    steps: int


def backoff(level: int) -> float:
    """The back-off after `level` earlier ones: 5 min, 10, 20, 40, then 1 h."""
    return min(BACKOFF_FIRST * 2.0 ** min(level, 16), BACKOFF_CAP)


def allowed_steps(ladder: Ladder) -> int:
    """How many steps this episode may take before a person is needed."""
    return LADDER_STEPS if ladder.level == 0 else STEPS_AFTER_BACKOFF


def _settled(ladder: Ladder, facts: Facts, now: float) -> bool:
    """WORKING for SETTLED_AFTER since the last step: the episode is over. (Counted from
    the last step too: a server that answers a restart with WORKING at once does not get
    a WORKING that began before the restart counted.)"""
    if facts.status != WORKING or facts.status_since is None:
        return False
    began = max(facts.status_since, ladder.steps[-1] if ladder.steps else facts.status_since)
    return now - began >= SETTLED_AFTER


def current(ladder: Ladder, facts: Facts, now: float) -> Ladder:
    """The ladder as it stands at `now`: 10 min of WORKING clears the back-off (its level
    and any hold) but not the steps of the last hour, which still count (at most three in
    any hour before a person is needed: an instance that fails every 11 minutes is not
    restarted for ever); a back-off that ran out gives one more try; steps older than an
    hour are forgotten."""
    if _settled(ladder, facts, now):
        steps = tuple(t for t in ladder.steps if t > now - STEP_WINDOW)
        return Ladder(steps=steps)
    if ladder.held_at is not None:
        if now < ladder.held_at + backoff(ladder.level):
            return ladder
        # The back-off ran out: one more try, and the next back-off is twice as long.
        return Ladder(level=ladder.level + 1)
    steps = tuple(t for t in ladder.steps if t > now - STEP_WINDOW)
    return ladder if steps == ladder.steps else replace(ladder, steps=steps)


def held_from(ladder: Ladder, facts: Facts, now: float) -> float | None:
    """When this episode needs a person (it may lie ahead: the grace after the last step
    runs), or None while the ladder still has steps or the instance came back."""
    ladder = current(ladder, facts, now)
    if ladder.held_at is not None:
        return ladder.held_at
    if len(ladder.steps) < allowed_steps(ladder):
        return None
    last = ladder.steps[-1]
    came_back = facts.last_working_at is not None and facts.last_working_at > last
    since = facts.status_since
    if facts.status == FAILED and since is not None and since >= last:
        # FAILED after the last step: at once whether or not it came back in between.
        return since
    if came_back:
        return None  # WORKING (or on its way elsewhere): watched until it settles
    return last + LAST_STEP_GRACE


def hold(ladder: Ladder, facts: Facts, now: float) -> Hold | None:
    """The back-off in force at `now`, if the instance needs a person."""
    ladder = current(ladder, facts, now)
    since = held_from(ladder, facts, now)
    if since is None or since > now:
        return None
    return Hold(since, since + backoff(ladder.level), len(ladder.steps))


def settle(ladder: Ladder, facts: Facts, now: float) -> Ladder:
    """The ladder to keep after a poll: `current`, with "needs a person" fixed in time
    once reached (later facts must not move a back-off already announced)."""
    ladder = current(ladder, facts, now)
    if ladder.held_at is None:
        since = held_from(ladder, facts, now)
        if since is not None and since <= now:
            ladder = replace(ladder, held_at=since)
    return ladder


def step(ladder: Ladder, facts: Facts, now: float) -> Ladder:
    """A restart or a full reset happened at `now` (sent, or seen on the server)."""
    ladder = settle(ladder, facts, now)
    if ladder.held_at is not None:
        # Only what no gate here controls steps during a back-off (another operator's
        # tool, the engine itself): the back-off announced stays as it is.
        return ladder
    return replace(ladder, steps=ladder.steps + (now,))


def steps_left(ladder: Ladder, facts: Facts, now: float) -> int:
    """Steps this episode may still take (0 when used up or held)."""
    ladder = current(ladder, facts, now)
    if ladder.held_at is not None:
        return 0
    return max(0, allowed_steps(ladder) - len(ladder.steps))


def next_step_at(ladder: Ladder, facts: Facts, now: float) -> float | None:
    """When the used-up ladder of an instance that came back frees a step again: when its
    oldest step leaves the hour. None when a step is free now or the instance is held
    (see `hold`)."""
    ladder = current(ladder, facts, now)
    if ladder.held_at is not None or len(ladder.steps) < allowed_steps(ladder):
        return None
    return ladder.steps[0] + STEP_WINDOW
