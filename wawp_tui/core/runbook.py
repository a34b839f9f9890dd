"""The runbook: the Wawp documentation's operational rules as pure functions.

Input is an InstanceState and `now` (Unix seconds); no I/O, no clock of its own.
`assess()` gives ONE answer for an instance at one moment (its word, freshness, rank,
the verdict on every action, the countdowns, the advice and what auto-heal would do);
the table, the detail pane, the confirmations, the action runner, rollouts and auto-heal
all take it from here, so they can never disagree.

How the restart rules fit together (a restart counts whoever sent it: this process,
another operator, cron, or the engine itself when the status went to STARTING):
- Within 30 s of a restart (the API's stabilization) no other restart is sent, with one
  exception, the stuck-STARTING ladder: when the first restart leaves the instance in
  STARTING for 15 s, ONE more restart is allowed.
- After 30 s a restart is allowed again if the last one reached WORKING; if it did not,
  the restart-loop guard holds until 60 s, and the advice is the full reset (R).
- No guard has an "are you sure" override; R (stop, wait 5 s, start) is the escape
  hatch, allowed for every instance that is not STOPPED.
- SCAN_QR_CODE and the passkey statuses are never fixed by a restart: the phone is.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from wawp_tui import schedules
from wawp_tui.core import ladder
from wawp_tui.core.fleet import InstanceState
from wawp_tui.models import (
    FAILED,
    PASSKEY_CONFIRMATION_REQUIRED,
    PASSKEY_REQUIRED,
    SCAN_QR_CODE,
    STALE,
    STARTING,
    STOPPED,
    UNREACHABLE,
    WORKING,
)
from wawp_tui.vocab import STATE_ACTIONS, Action, ErrorKind, Severity, plural

#: Quiet period after a restart before heavy traffic (docs: 30 s).
STABILIZE_AFTER_RESTART = 30.0
#: Minimum gap between a stop and the next start (docs: 3 s).
STOP_TO_START_GAP = 3.0
#: A restart that has not reached WORKING blocks another for this long (docs: 60 s).
RESTART_LOOP_GUARD = 60.0
#: STARTING this long after a restart: one more restart is allowed (docs: 15 s).
STUCK_AFTER_RESTART = 15.0
#: STARTING this long without any action of ours is stuck too (lifecycle guide: 60 s).
STUCK_STARTING_ANY = 60.0
#: The pause between stop and start in a full reset (docs: 5 s).
RESET_PAUSE = 5.0
#: Poll interval for instances in transition.
FAST_POLL = 2.0
#: Poll interval while waiting for a QR scan (docs: every 3-5 s).
QR_POLL = 4.0
#: Backoff ceiling for failing polls.
BACKOFF_CAP = 60.0
#: Failed polls retried at the normal pace before backing off.
RETRIES_AT_PACE = 3
#: Poll interval for instances that are gone or unauthorized: no hammering (the docs:
#: do not retry a 404 blindly), yet a fixed token or a restored id is seen within a minute.
GONE_POLL = 60.0
#: A WORKING instance with no activity for this long is suspected dead (WAHA #1931, #2151);
#: `[monitor] quiet_after` sets it, 0 turns the warning off.
QUIET_AFTER = 3600.0
#: WAHA's QR rhythm (issue #1799): the first code lives 60 s, then 20 s each, 6 codes in
#: all; after the last the session goes FAILED and needs a restart.
QR_FIRST_LIFE = 60.0
QR_NEXT_LIFE = 20.0
QR_CODES = 6
#: Pseudo-words shown in place of a status.
PENDING = "PENDING"
STUCK = "STUCK"
#: The instance's own configuration is unusable (e.g. its token variable is unset).
CONFIG = "CONFIG"
#: STOPPED as its schedule means (outside its running windows): healthy, not a problem.
SCHEDULED = "SCHEDULED"
#: STOPPED by the hub's idle hibernation and not started since: meant to be off until
#: its owner starts it (the API has no wake-up hook), not a problem.
HIBERNATED = "HIBERNATED"
#: The tag that keeps an instance out of idle hibernation.
KEEP_AWAKE = "keep-awake"
#: The ladder ended (restart, one more restart, full reset) and the instance is not back:
#: a person must look; no restart or reset during the back-off (see core/ladder.py).
NEEDS_PERSON = "NEEDS_PERSON"

_BADGES = {
    WORKING: ("✓", "WORKING"),
    STARTING: ("◐", "STARTING"),
    STUCK: ("◐", "STUCK"),
    SCAN_QR_CODE: ("▣", "SCAN QR"),
    PASSKEY_REQUIRED: ("▣", "PASSKEY"),
    PASSKEY_CONFIRMATION_REQUIRED: ("▣", "PASSKEY CODE"),
    STOPPED: ("■", "STOPPED"),
    FAILED: ("✗", "FAILED"),
    UNREACHABLE: ("!", "UNREACHABLE"),
    STALE: ("~", "STALE"),
    PENDING: ("·", "PENDING"),
    CONFIG: ("!", "NO TOKEN"),
    NEEDS_PERSON: ("⚑", "NEEDS PERSON"),
    SCHEDULED: ("■", "SCHEDULED"),
    HIBERNATED: ("■", "HIBERNATED"),
}
_SEVERITY = {
    WORKING: Severity.OK, STARTING: Severity.WARN, STUCK: Severity.BAD, SCAN_QR_CODE: Severity.WARN,
    STOPPED: Severity.IDLE, FAILED: Severity.BAD, UNREACHABLE: Severity.BAD, STALE: Severity.WARN,
    PENDING: Severity.IDLE, PASSKEY_REQUIRED: Severity.WARN,
    PASSKEY_CONFIRMATION_REQUIRED: Severity.WARN, CONFIG: Severity.BAD, NEEDS_PERSON: Severity.BAD,
    SCHEDULED: Severity.IDLE, HIBERNATED: Severity.IDLE,
}
#: Worst first. An unknown word sits among the problems (with STUCK): it needs a look,
#: though it is not known to be broken the way FAILED or an unreachable instance is.
_RANK = {
    FAILED: 0, NEEDS_PERSON: 0, UNREACHABLE: 1, STALE: 1, CONFIG: 1, SCAN_QR_CODE: 2, PASSKEY_REQUIRED: 2,
    PASSKEY_CONFIRMATION_REQUIRED: 2, STUCK: 3, STARTING: 4, STOPPED: 6, WORKING: 7, SCHEDULED: 7,
    HIBERNATED: 7,
    PENDING: 8,
}
_UNKNOWN_RANK = 3
#: `rank` puts the word's band first, the word's own rank second.
_BAND = 10


# -- words ---------------------------------------------------------------------------


def fmt_duration(seconds: float) -> str:
    """"0s", "28s", "1m05s", "59m59s", "1h02m", "3d04h"; fractions round up, so a
    countdown never reads 0s while it still blocks."""
    if not math.isfinite(seconds):
        return "?"
    # The tolerance absorbs float noise: `(now + 28) - now` is not always 28 at Unix-time
    # magnitudes, and a countdown must read the same in the table and in the refusal.
    s = min(max(0, math.ceil(seconds - 1e-3)), 99 * 86400)
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    if s < 86400:
        return f"{s // 3600}h{(s % 3600) // 60:02d}m"
    return f"{s // 86400}d{(s % 86400) // 3600:02d}h"


def fmt_ago(seconds: float) -> str:
    """Elapsed time, rounded down ("stopped 1s ago; wait 2s" adds up)."""
    return fmt_duration(math.floor(max(0.0, seconds)))


def badge(word: str) -> tuple[str, str]:
    """Symbol and short label, readable without colour. Unknown words keep their name."""
    return _BADGES.get(word, ("?", word))


def severity(word: str) -> Severity:
    """Styling class: ok, warn, bad, idle or unknown."""
    return _SEVERITY.get(word, Severity.UNKNOWN)


def word_rank(word: str) -> int:
    """Sort order of a displayed word, worst first."""
    return _RANK.get(word, _UNKNOWN_RANK)


# -- freshness -----------------------------------------------------------------------


def stale_after(refresh: float) -> float:
    """Seconds without any finished poll after which data counts as stale (two missed polls)."""
    return 2 * refresh + 5.0


def data_age(state: InstanceState, now: float) -> float | None:
    """Seconds since the data shown was last good (None: never had any)."""
    last = state.last_ok_at if state.failures else state.last_poll_at
    return None if last is None else max(0.0, now - last)


def stale_age(state: InstanceState, now: float, refresh: float) -> float | None:
    """The age of the last known status once it is not current, else None: from the
    first failed poll (the server did not confirm it), or after two missed polls (a
    pause, a poll that never returns).

    Old data keeps its word, marked with its age: an outage or a pause must never hide
    that an instance was FAILED (or STUCK), and never turns it into UNREACHABLE.
    """
    if state.status is None or state.error_kind == ErrorKind.CONFIG:
        return None
    age = data_age(state, now)
    if age is None:
        return None
    return age if state.failures or age > stale_after(refresh) else None


def stale_from(state: InstanceState, refresh: float) -> float | None:
    """When the data shown turns stale if no poll finishes first (None: it never will:
    no status yet, or a config problem). `stale_age` is not None once past it."""
    if state.status is None or state.error_kind == ErrorKind.CONFIG:
        return None
    if state.failures:
        return state.last_ok_at  # stale since the first failed poll
    last = state.last_poll_at
    return None if last is None else last + stale_after(refresh)


def display_status(state: InstanceState, now: float, refresh: float) -> str:
    """The word for the badge: the API's last word (marked stale while polls fail or
    when old: see `stale_age`), UNREACHABLE for an instance never polled successfully,
    CONFIG, or PENDING before the first poll."""
    if state.error_kind == ErrorKind.CONFIG:
        return CONFIG
    if state.status is None:
        return UNREACHABLE if state.failures else PENDING
    return state.status


def _last(state: InstanceState, action: str) -> float | None:
    return state.last_action_at.get(action)


def _by_whom(state: InstanceState, action: str) -> str:
    """ " (seen on the server: not sent from here)" for an action someone else did;
    " (by alice)" for one sent from here for someone named (a hub user, a schedule)."""
    if action in state.seen_actions:
        return " (seen on the server: not sent from here)"
    who = state.acted_by.get(action)
    return f" (by {who})" if who else ""


def _last_boot(state: InstanceState) -> float | None:
    """When the latest restart or start (a full reset ends with one) was sent or seen."""
    times = [t for t in (_last(state, Action.RESTART), _last(state, Action.START)) if t is not None]
    return max(times, default=None)


def _reached_working_since(state: InstanceState, when: float) -> bool:
    return state.last_working_at is not None and state.last_working_at > when


def _known_at(state: InstanceState, now: float) -> float | None:
    """The moment the status shown describes: now, or while polls fail the last good
    poll (a word nobody could confirm since does not move on with the clock)."""
    return state.last_ok_at if state.failures else now


def is_stuck(state: InstanceState, now: float) -> bool:
    """STARTING for 15 s after a restart, or for over 60 s in any case; the clock starts
    again at the latest restart or start (so a full reset is not stuck 5 s later).
    While polls fail it is judged as of the last good poll: STUCK stays STUCK, and a
    STARTING nobody can see does not turn STUCK."""
    at = _known_at(state, now)
    stuck = _stuck_at(state)
    return at is not None and stuck is not None and at >= stuck


def _stuck_at(state: InstanceState) -> float | None:
    """When a STARTING instance is (or turns) STUCK by its boot's own clock."""
    if state.status != STARTING:
        return None
    since = booting_since(state)
    if since is None:
        return None
    restart = _last(state, Action.RESTART)
    after_any = since + STUCK_STARTING_ANY + 1e-6  # "over 60 s"
    if restart is not None and restart == _last_boot(state):
        return min(restart + STUCK_AFTER_RESTART, after_any)
    return after_any


def stuck_from(state: InstanceState) -> float | None:
    """When a STARTING instance turns STUCK if nothing happens first (None: not
    STARTING, or polls failing: see `is_stuck`). `is_stuck` is True from then on (the
    earlier of its two rules)."""
    return None if state.failures else _stuck_at(state)


def booting_since(state: InstanceState) -> float | None:
    """When the current boot began: the later of the latest restart or start (sent, or
    seen on the server) and the first poll that showed STARTING."""
    return max((t for t in (_last_boot(state), state.status_since) if t is not None), default=None)


def rank(state: InstanceState, now: float, refresh: float) -> int:
    """Worst-first sort order of an instance. One whose polls fail sorts among the
    unreachable, after FAILED, in the order of its last known word: a fleet cut off
    keeps its order (FAILED, SCAN QR, STUCK ... WORKING), and one instance that stops
    answering rises to the top instead of hiding among the WORKING."""
    own = word_rank(shown_word(state, now, refresh))
    if state.failures and state.status is not None and state.error_kind != ErrorKind.CONFIG:
        return min(own, _RANK[UNREACHABLE]) * _BAND + own
    return own * _BAND + own


def shown_word(state: InstanceState, now: float, refresh: float) -> str:
    """The word a row shows: the display status, STUCK for a stuck STARTING, NEEDS_PERSON
    once the ladder has ended, SCHEDULED for a STOPPED as meant (the badge the table, the
    summary and the alerts share)."""
    word = display_status(state, now, refresh)
    if word in (PENDING, CONFIG, UNREACHABLE):
        return word
    if needs_person_now(state, now):
        return NEEDS_PERSON
    if word == STARTING and is_stuck(state, now):
        return STUCK
    if word == STOPPED and hibernated(state):
        return HIBERNATED
    if word == STOPPED and stopped_as_meant(state, now):
        return SCHEDULED
    return word


# -- desired state -------------------------------------------------------------------


def meant(state: InstanceState, now: float) -> schedules.Meant | None:
    """What the instance's schedule means now (None: no schedule, meant to run always);
    a hibernated instance is meant STOPPED until its owner starts it."""
    if state.schedule is not None:
        return schedules.meant(state.schedule, now)
    return _HIBERNATING if hibernated(state) else None


_HIBERNATING = schedules.Meant(False, None)


# -- idle hibernation (the hub's, opt-in: [monitor] idle_stop_after) -------------------


def hibernated(state: InstanceState) -> bool:
    """STOPPED by the hub's idle hibernation and not started since."""
    return state.status == STOPPED and state.hibernated_at is not None and state.schedule is None


def last_activity(state: InstanceState) -> float | None:
    """The latest sign of activity: the server's `timestamps.activity` (WAHA), or a
    message event the hub heard; None when neither was ever seen (no signal)."""
    signs = [t for t in (state.activity_at, state.heard_at) if t is not None]
    return max(signs) if signs else None


def hibernates_at(state: InstanceState, after: float) -> float | None:
    """When the hub stops this instance as idle (`after` seconds without activity), or
    None: hibernation off (0), not WORKING, polls failing, tagged keep-awake, following a
    schedule (the schedule says when it runs), or no activity signal at all (fail safe:
    an instance whose activity cannot be seen is never taken for idle)."""
    if after <= 0 or state.status != WORKING or state.failures or state.schedule is not None \
            or KEEP_AWAKE in state.tags:
        return None
    last = last_activity(state)
    return None if last is None else last + after


def hibernation_line(state: InstanceState, now: float, after: float) -> str | None:
    """What idle hibernation will do with this instance, for the detail pane (None:
    hibernation is off, or it does not apply to this status)."""
    if after <= 0:
        return None
    if hibernated(state):
        assert state.hibernated_at is not None
        return (f"hibernated {fmt_ago(now - state.hibernated_at)} ago (idle {fmt_duration(after)}); "
                "its owner starts it on the next activity")
    if state.status != WORKING or state.failures:
        return None
    if KEEP_AWAKE in state.tags:
        return f"never hibernated: tagged {KEEP_AWAKE}"
    if state.schedule is not None:
        return "not hibernated: it follows its schedule"
    at = hibernates_at(state, after)
    if at is None:
        return "never hibernated: the server reports no activity for it (no timestamps.activity, no message webhook)"
    if at <= now:
        return "hibernates now: idle for " + fmt_duration(now - (at - after))
    return f"hibernates in {fmt_duration(at - now)} unless active (idle {fmt_duration(after)})"


def stopped_as_meant(state: InstanceState, now: float) -> bool:
    """STOPPED outside its schedule's windows: as meant, not a problem."""
    plan = meant(state, now)
    return state.status == STOPPED and plan is not None and not plan.running


def schedule_line(state: InstanceState, now: float) -> str | None:
    """ "support hours: meant STOPPED until Mon 09:00 (Europe/London)", or None."""
    schedule, plan = state.schedule, meant(state, now)
    if schedule is None or plan is None:
        return None
    word = "running" if plan.running else "STOPPED"
    until = (f" until {schedules.describe_time(plan.until, schedule.zone, now)}"
             if plan.until is not None else "")
    zone_name = schedule.zone_name or "local time"
    return f"{schedule.name} ({schedule.text}, {zone_name}): meant {word}{until}"


def scheduled_text(state: InstanceState, now: float) -> str | None:
    """What a row says of its schedule when it matters: "scheduled until Mon 09:00" for a
    STOPPED as meant, "running outside its schedule" for a WORKING meant to be stopped."""
    plan = meant(state, now)
    if plan is None or plan.running or state.schedule is None:
        return None
    until = (f" until {schedules.describe_time(plan.until, state.schedule.zone, now)}"
             if plan.until is not None else "")
    if state.status == STOPPED:
        return f"scheduled{until}"
    if state.status == WORKING:
        return "running outside its schedule"
    return None


# -- the ladder's end ----------------------------------------------------------------


def _ladder_facts(state: InstanceState) -> ladder.Facts:
    return ladder.Facts(state.status, state.status_since, state.last_working_at)


def person_hold(state: InstanceState, now: float) -> ladder.Hold | None:
    """The back-off in force if the ladder ended and the instance needs a person."""
    return ladder.hold(state.ladder, _ladder_facts(state), now)


def needs_person_now(state: InstanceState, now: float) -> bool:
    """The ladder ended and the instance is not back: a person must look (the word, the
    advice, the page). One back at WORKING during the back-off is watched instead: its
    restarts and resets stay refused until the back-off ends or 10 min of WORKING clear
    it, and if it FAILS again it needs a person at once."""
    return state.status != WORKING and person_hold(state, now) is not None


def restarts_last_hour(state: InstanceState, now: float) -> tuple[int, int]:
    """Restarts of the last hour: (sent from here, seen on the server)."""
    recent = [seen for at, seen in state.restart_log if now - at < 3600.0]
    return len(recent) - sum(recent), sum(recent)


def ladder_line(state: InstanceState, now: float) -> str | None:
    """One line on the ladder and the restarts of the last hour, for the detail pane and
    the hub's API (None when there is nothing to say)."""
    here, seen = restarts_last_hour(state, now)
    facts = _ladder_facts(state)
    climb = ladder.current(state.ladder, facts, now)
    parts = []
    if here or seen:
        parts.append(f"restarts in the last hour: {here + seen} ({here} from here, {seen} seen on "
                     "the server)")
    if climb.steps or climb.level:
        parts.append(f"ladder: {len(climb.steps)} of {ladder.allowed_steps(climb)} steps used"
                     + (f" after {plural(climb.level, 'back-off')}" if climb.level else ""))
    return " · ".join(parts) or None


#: What a person does once the ladder has ended (the advice, the refusal, the README).
PERSON_STEPS = ("check the phone (WhatsApp > Linked devices); log out and scan a new QR; "
                "or contact Wawp support with the instance id and what was tried")


def _ladder_refusal(state: InstanceState, now: float) -> Verdict | None:
    """The refusal of a restart or full reset by the ladder's end, or None."""
    facts = _ladder_facts(state)
    held = ladder.hold(state.ladder, facts, now)
    if held is not None:
        wait = held.until - now
        return _refuse(f"needs a person: the runbook's ladder (restart, one more restart, full "
                       f"reset) did not bring it back; no restart or reset for {fmt_duration(wait)} "
                       f"(back-off; 10m of WORKING clears it). Then: {PERSON_STEPS}",
                       wait, "backoff")
    if ladder.steps_left(state.ladder, facts, now) > 0:
        return None
    steps = plural(len(ladder.current(state.ladder, facts, now).steps), "restart or reset")
    grace = ladder.held_from(state.ladder, facts, now)
    if grace is not None:
        left = grace - now
        return _refuse(f"the ladder is used up ({steps} this episode): waiting for WORKING; if "
                       f"it is not WORKING in {fmt_duration(left)}, it needs a person", left, "ladder_end")
    frees = ladder.next_step_at(state.ladder, facts, now)
    until = (frees - now) if frees is not None else None
    return _refuse(f"{steps} in the last hour: it is back, and watched; the runbook allows no "
                   "more this hour" + (f" (wait {fmt_duration(until)})" if until is not None else ""),
                   until, "ladder_rate")


# -- countdowns ----------------------------------------------------------------------


@dataclass(frozen=True)
class Countdown:
    """A guardrail running out at `ends_at`."""

    label: str
    ends_at: float

    def remaining(self, now: float) -> float:
        return max(0.0, self.ends_at - now)


#: What each guard is called on screen, before its time left.
GUARD_LABELS = {
    "settle_restart": "stabilizing after restart: no new restart for",
    "settle_start": "stabilizing after start: no restart for",
    "loop": "restart-loop guard (not WORKING yet): no new restart for",
    "ladder": "still STARTING: one more restart allowed in",
    "booting": "booting: no restart or full reset for",
    "ladder_end": "ladder used up: needs a person unless WORKING in",
    "ladder_rate": "ladder used up this hour: next restart or full reset in",
    "backoff": "needs a person: no restart or full reset for",
    "start_gap": "start allowed in",
}


def countdowns(state: InstanceState, now: float) -> list[Countdown]:
    """The guards running out, the restart's first: taken from the verdicts themselves,
    so a countdown on screen is always a refusal in progress (and the other way round),
    and the first one (the GUARD cell) is the seconds a refused restart quotes."""
    found: list[Countdown] = []
    for action in (Action.RESTART, Action.START, Action.RESET):
        v = check_action(state, action, now)
        if not v.allowed and v.guard and v.retry_in is not None:
            ends = now + v.retry_in
            # One line per clock: a full reset held by the restart's own guard adds none.
            if all(c.label != GUARD_LABELS[v.guard] and abs(c.ends_at - ends) > 1e-6 for c in found):
                found.append(Countdown(GUARD_LABELS[v.guard], ends))
    if state.reset_start_at is not None and state.reset_start_at > now:
        found.append(Countdown("full reset: start in", state.reset_start_at))
    return found


# -- actions -------------------------------------------------------------------------


@dataclass(frozen=True)
class Verdict:
    """Whether an action is allowed now; if not, why and in how many seconds."""

    allowed: bool
    reason: str = ""
    retry_in: float | None = None
    #: Allowed, but the confirmation should say this.
    warning: str = ""
    #: For a refusal by a guard that runs out: which one (see GUARD_LABELS).
    guard: str = ""
    #: The reason without the keys it names (for read-only screens and the hub's API).
    plain: str = ""
    #: The action whose key the reason names as the way out ("start it first (s)").
    way_out: str = ""


def _refuse(reason: str, retry_in: float | None = None, guard: str = "", hint: str = "",
            way_out: str = "") -> Verdict:
    """A refusal; `hint` is the way out by key ("press R for a full reset"), said after the
    reason where keys mean something; `way_out`: the action that key sends."""
    full = f"{reason}; {hint}" if hint else reason
    return Verdict(False, full, retry_in, guard=guard, plain=reason, way_out=way_out if hint else "")


def check_action(state: InstanceState, action: str, now: float, *, claimed: bool = False) -> Verdict:
    """May `action` (start, stop, restart, logout, reset) be sent to this instance now?
    `claimed`: the action in flight is the caller's own (the gate, just before sending)."""
    if state.in_flight and not claimed:
        by = f" (by {state.in_flight_by})" if state.in_flight_by else ""
        return _refuse(f"{state.in_flight}{by} already in flight: wait for its reply")
    if state.failures:
        blocked = _blocked_by_error(state, action, now)
        if blocked is not None:
            return blocked
    status = state.status
    if status is None:
        return _refuse("no status yet: wait for the first successful poll")
    if action == Action.START:
        return _check_start(state, now)
    if action == Action.STOP:
        return _refuse("already STOPPED") if status == STOPPED else Verdict(True)
    if action == Action.RESTART:
        return _check_restart(state, now)
    if action == Action.LOGOUT:
        return _check_logout(status)
    if action == Action.RESET:
        return _check_reset(state, now)
    return _refuse(f"unknown action {action!r}")


def _blocked_by_error(state: InstanceState, action: str, now: float) -> Verdict | None:
    """The refusal a failing instance's error implies, or None to judge by its status."""
    kind = state.error_kind
    if kind == ErrorKind.CONFIG:
        return _refuse(f"not configured: {state.last_error}")
    if kind == ErrorKind.NOT_FOUND:
        return _refuse("instance not found (404): deleted or wrong id; check the id in your config")
    if kind == ErrorKind.NO_ROUTE:
        return _refuse("the server has no such path (404): check base_url; no action can help")
    if kind == ErrorKind.UNAUTHORIZED:
        return _refuse("access token rejected (401): fix token / token_env in your config")
    if kind == ErrorKind.NOT_LOADED:
        if action == Action.START:
            # Unloaded (a stop often unloads the session): still 3 s from the stop.
            return _stop_gap(state, now) or Verdict(
                True, warning="the API says the session is not loaded (404): a start brings it "
                              "back; if the start gets 404 too, the id is wrong or the instance "
                              "was deleted")
        return _refuse("the session is not loaded on the server (404)", hint="start it first (s)",
                       way_out=Action.START)
    # Any other failing poll: what the instance is doing now is unknown (a restart by
    # someone else often reads as 502s), so nothing is sent until a poll succeeds.
    return _refuse(f"its status cannot be confirmed now (the last poll failed: {state.last_error}); "
                   "nothing is sent until a poll succeeds")


def _check_logout(status: str) -> Verdict:
    if status in (PASSKEY_REQUIRED, PASSKEY_CONFIRMATION_REQUIRED):
        return Verdict(True, warning="logging out abandons this pairing: the phone must scan a "
                                     "new QR afterwards")
    if status == SCAN_QR_CODE:
        return _refuse("already logged out: scan the QR code")
    if status == STOPPED:
        return _refuse("instance is STOPPED", hint="start it first (s)", way_out=Action.START)
    return Verdict(True)


def _stop_gap(state: InstanceState, now: float) -> Verdict | None:
    """The refusal of a start within 3 s of a stop (sent or seen), or None."""
    stop = _last(state, Action.STOP)
    if stop is None or now - stop >= STOP_TO_START_GAP:
        return None
    wait = STOP_TO_START_GAP - (now - stop)
    return _refuse(f"start blocked: stopped {fmt_ago(now - stop)} ago{_by_whom(state, Action.STOP)}; "
                   "the API needs "
                   f"{STOP_TO_START_GAP:g}s between stop and start; wait {fmt_duration(wait)}",
                   wait, "start_gap")


def _check_start(state: InstanceState, now: float) -> Verdict:
    if state.status not in (STOPPED, FAILED):
        return _refuse(f"start only applies to STOPPED or FAILED (it is {state.status}); "
                       "never call start blindly")
    gap = _stop_gap(state, now)
    if gap is not None:
        return gap
    if person_hold(state, now) is not None:
        return Verdict(True, warning="this instance needs a person (the runbook's ladder ended): "
                                     "start it only once the cause is fixed")
    return Verdict(True)


#: Statuses only a person at the phone can move on, with what they must do: a restart
#: never helps, a rollout skips them (not a failure), the advice names the phone.
NEEDS_PERSON_AT_PHONE: dict[str, str] = {
    SCAN_QR_CODE: "the phone is logged out; scan the QR code (WhatsApp > Linked devices > "
                  "Link a device)",
    PASSKEY_REQUIRED: "the phone must approve the passkey to finish pairing",
    PASSKEY_CONFIRMATION_REQUIRED: "the phone must confirm the passkey code to finish pairing",
}


def needs_person(status: str | None) -> str | None:
    """What a person must do at the phone for this status, or None when a restart (or
    waiting) is the way forward: the one answer for verdicts, rollouts and advice."""
    return NEEDS_PERSON_AT_PHONE.get(status) if status is not None else None


def needs_a_person(state: InstanceState, now: float) -> str | None:
    """Why nothing automatic may touch this instance now, in a few words: a phone status,
    or the ladder's end (its back-off). Auto-heal and rollouts stop here and say so."""
    person = needs_person(state.status)
    if person is not None:
        return f"{state.status}: {person}"
    held = person_hold(state, now)
    if held is not None:
        return (f"needs a person: the ladder ended; back-off {fmt_duration(held.until - now)}; "
                f"{PERSON_STEPS}")
    return None


def _young_boot(state: InstanceState, now: float) -> tuple[float, float] | None:
    """(seconds in STARTING, seconds left) before a STARTING instance may be restarted or
    reset at all: none in its first 15 s, whoever started it (a STARTING first seen counts
    from then); None when it may."""
    if state.status != STARTING:
        return None
    since = booting_since(state)
    if since is None or now - since >= STUCK_AFTER_RESTART:
        return None
    return now - since, STUCK_AFTER_RESTART - (now - since)


def _check_reset(state: InstanceState, now: float) -> Verdict:
    person = needs_person(state.status)
    if person is not None:
        return _refuse(f"a full reset will not help: {person}")
    if state.status == STOPPED:
        return _refuse("instance is STOPPED: a reset starts with a stop", hint="press s to start it",
                       way_out=Action.START)
    young = _young_boot(state, now)
    if young is not None:
        booted, left = young
        return _refuse(f"it is booting ({fmt_ago(booted)} in STARTING): a full reset "
                       f"would stop it mid-handshake; wait {fmt_duration(left)}", left, "booting")
    ended = _ladder_refusal(state, now)
    if ended is not None:
        return ended
    if ladder.steps_left(state.ladder, _ladder_facts(state), now) == 1:
        return Verdict(True, warning="this is the runbook ladder's last step: if it is not WORKING "
                                     f"{ladder.LAST_STEP_GRACE:g}s after it, it needs a person "
                                     "(no restart or reset for a back-off of 5m or more)")
    return Verdict(True)


def _check_restart(state: InstanceState, now: float) -> Verdict:
    status = state.status
    person = needs_person(status)
    if person is not None:
        return _refuse(f"restart will not help: {person}")
    if status == STOPPED:
        return _refuse("instance is STOPPED", hint="press s to start it", way_out=Action.START)
    ended = _ladder_refusal(state, now)
    if ended is not None:
        return ended
    reset = _check_reset(state, now).allowed
    or_reset = "or press R for a full reset" if reset else ""
    restart = _last(state, Action.RESTART)
    boot = _last_boot(state)
    if boot is not None and boot != restart:
        # The latest boot was a start (or the end of a full reset): it holds the next
        # restart as a restart would: 30 s to stabilize once WORKING, and the 60 s loop
        # guard while it is not (a start seen on the server may have been a restart).
        since = now - boot
        if _reached_working_since(state, boot):
            if since < STABILIZE_AFTER_RESTART:
                wait = STABILIZE_AFTER_RESTART - since
                return _refuse(f"restart blocked: started {fmt_ago(since)} ago"
                               f"{_by_whom(state, Action.START)}; the API asks for "
                               f"{STABILIZE_AFTER_RESTART:g}s to stabilize; wait {fmt_duration(wait)}",
                               wait, "settle_start")
            return Verdict(True)
        if since < RESTART_LOOP_GUARD:
            wait = RESTART_LOOP_GUARD - since
            return _refuse(f"restart blocked: started {fmt_ago(since)} ago{_by_whom(state, Action.START)} "
                           f"and not WORKING since; the restart-loop guard holds "
                           f"{RESTART_LOOP_GUARD:g}s: wait {fmt_duration(wait)}", wait, "loop",
                           hint=or_reset)
        return Verdict(True)
    if restart is None:
        young = _young_boot(state, now)
        if young is not None:  # STARTING with no boot on record: young until 15 s seen
            booted, left = young
            return _refuse(f"restart blocked: STARTING for {fmt_ago(booted)} (since first seen); "
                           f"wait {fmt_duration(left)}", left, "booting")
        return Verdict(True)
    elapsed = now - restart
    reached = _reached_working_since(state, restart)
    one_more = status == STARTING and not reached and state.restarts_since_working <= 1
    if one_more and elapsed < STUCK_AFTER_RESTART:
        wait = STUCK_AFTER_RESTART - elapsed
        return _refuse(f"restart blocked: restarted {fmt_ago(elapsed)} ago{_by_whom(state, Action.RESTART)} "
                       f"and still STARTING; one more restart is allowed once it has been "
                       f"STARTING {STUCK_AFTER_RESTART:g}s: wait {fmt_duration(wait)}", wait, "ladder")
    if one_more:
        return Verdict(True, warning="still STARTING after a restart: this is the one more "
                                     "restart the runbook allows; next comes the full reset (R), "
                                     "and after it a person")
    if reached and elapsed < STABILIZE_AFTER_RESTART:
        wait = STABILIZE_AFTER_RESTART - elapsed
        return _refuse(f"restart blocked: restarted {fmt_ago(elapsed)} ago{_by_whom(state, Action.RESTART)}; "
                       f"the API asks for {STABILIZE_AFTER_RESTART:g}s to stabilize after a restart; "
                       f"wait {fmt_duration(wait)}", wait, "settle_restart")
    if reached or elapsed >= RESTART_LOOP_GUARD:
        return Verdict(True)
    wait = RESTART_LOOP_GUARD - elapsed
    return _refuse(f"restart blocked: restarted {fmt_ago(elapsed)} ago{_by_whom(state, Action.RESTART)} "
                   f"and not WORKING since; the restart-loop guard holds {RESTART_LOOP_GUARD:g}s: "
                   f"wait {fmt_duration(wait)}", wait, "loop", hint=or_reset, way_out=Action.RESET)


def verdicts(state: InstanceState, now: float) -> dict[str, Verdict]:
    """The verdict on every state-changing action, at one moment."""
    return {str(a): check_action(state, a, now) for a in STATE_ACTIONS}


# -- advice --------------------------------------------------------------------------


@dataclass(frozen=True)
class Advice:
    """What the status means and what to do now (with the key that does it)."""

    word: str
    meaning: str
    todo: str
    key: str | None
    severity: str


#: The key that sends each action (advice names a key only when its action is allowed).
ACTION_KEYS = {Action.START: "s", Action.STOP: "x", Action.RESTART: "r", Action.RESET: "R",
               Action.LOGOUT: "L"}
KEY_ACTIONS = {key: action for action, key in ACTION_KEYS.items()}


#: While polls fail nothing is sent (the gate fails closed): what is left to do.
_FAIL_CLOSED_TODO = ("wait: polls retry with backoff, and no action is sent until one succeeds; "
                     "if it persists, check the instance in the Wawp dashboard")

_ERROR_ADVICE = {
    "not_found": ("The API says this instance does not exist (404): it was deleted or the id "
                  "is wrong. It is polled again once a minute.",
                  "check the id in your config (c copies it)", None),
    "not_loaded": ("The API says the session is not loaded (404, \"session not found, start it "
                   "first\"): it was stopped or unloaded on the server, or the phone dropped.",
                   "press s to start it (if the start also gets 404, the id is wrong or the "
                   "instance was deleted)", "s"),
    "no_route": ("The server (or a proxy in front of it) has no such path (404): the base_url "
                 "is wrong, not the instance.",
                 "check base_url in the config: host, port, a path or a proxy prefix", None),
    "api_error": ("The API answered with an error instead of a status.",
                  "read the error below; check the instance in the Wawp dashboard", None),
    "too_large": ("The server (or a proxy) sent a reply far too large to be a status; it was "
                  "dropped.", "check base_url and any proxy in between", None),
    "internal": ("This tool failed to read the reply (a bug: see wawp-tui.log in the state "
                 "folder).", "wait for the next poll; report the log line", None),
    "config": ("This instance's configuration is incomplete.",
               "fix it in the config file (see the error below)", None),
    "unauthorized": ("The access token was rejected (401).",
                     "fix token / token_env for this instance in the config", None),
    "forbidden": ("The API refused with 403: quota or plan limit reached.",
                  "check the plan and limits in the Wawp dashboard", None),
    "rate_limited": ("Rate limited by the API (429); polling waits as the server asks.",
                     "nothing: polling backs off by itself", None),
    "timeout": ("The API did not answer in time.",
                "check network / VPN / base_url; polling retries with backoff", None),
    "network": ("The API cannot be reached from this machine.",
                "check network / VPN / base_url; polling retries with backoff", None),
    "hub": ("The hub cannot be reached from this machine (the API may be fine: the hub polls "
            "it, not this screen).",
            "check the network / VPN to the hub and whether `wawp-tui serve` runs there; this "
            "screen reconnects by itself", None),
    "server_error": ("The Wawp server failed (5xx); usually transient.",
                     _FAIL_CLOSED_TODO, None),
    "bad_gateway": ("Wawp's gateway could not reach the instance (502); usually transient "
                    "(an instance restarting answers so too).", _FAIL_CLOSED_TODO, None),
    "malformed": ("The server answered with something unreadable.", _FAIL_CLOSED_TODO, None),
    "bad_request": ("The API rejected the request (400).",
                    "check the id and the base_url in the config", None),
}


def _came_from(state: InstanceState, word: str) -> bool:
    """True when the latest status change was from `word` (e.g. SCAN_QR_CODE -> FAILED)."""
    for entry in reversed(state.history):
        if entry.kind == "status":
            return entry.text.startswith(f"{word} -> ")
    return False


def qr_codes_ran_out(state: InstanceState) -> bool:
    """FAILED straight from SCAN_QR_CODE: nobody scanned before the codes ran out. A
    restart brings new codes, which helps only with a person at the phone, so the advice
    names it and auto-heal does not send it."""
    return state.status == FAILED and _came_from(state, SCAN_QR_CODE)


def quiet_for(state: InstanceState, now: float, after: float | None = None) -> float | None:
    """Seconds a WORKING instance has shown no activity, once that is past `after`
    (default QUIET_AFTER); None when it is active, not WORKING, or the reply has no clock."""
    limit = QUIET_AFTER if after is None else after
    if state.status != WORKING or state.activity_at is None or limit <= 0 or state.failures:
        return None
    quiet = now - state.activity_at
    return quiet if quiet > limit else None


def quiet_from(state: InstanceState, after: float | None = None) -> float | None:
    """When a WORKING instance counts as quiet if no activity is seen first (None: it
    cannot: not WORKING, failing, no clock in the replies, or the check is off)."""
    limit = QUIET_AFTER if after is None else after
    if state.status != WORKING or state.activity_at is None or limit <= 0 or state.failures:
        return None
    return state.activity_at + limit


def qr_code_number(state: InstanceState, now: float) -> int | None:
    """Which of WAHA's 6 QR codes is live now, when we saw SCAN_QR_CODE begin."""
    if state.status != SCAN_QR_CODE or not state.status_since_known or state.status_since is None:
        return None
    elapsed = now - state.status_since
    return 1 if elapsed < QR_FIRST_LIFE else 2 + int((elapsed - QR_FIRST_LIFE) // QR_NEXT_LIFE)


def advise(state: InstanceState, now: float, refresh: float, *,
           quiet_after: float = QUIET_AFTER) -> Advice:
    """Plain-language meaning and next step; a key is named only when its action is
    allowed at this moment (otherwise the advice says what blocks it and for how long)."""
    return assess(state, now, refresh, quiet_after=quiet_after).advice


def _raw_advice(state: InstanceState, now: float, refresh: float, quiet_after: float,
                verdict_of: dict[str, Verdict], word: str) -> Advice:
    """What the runbook would suggest, before it is held against the verdicts. `word` is
    the row's word (shown_word); the seconds quoted are the verdicts' own."""
    sev = severity(word)
    if word in (UNREACHABLE, CONFIG):
        meaning, todo, key = _ERROR_ADVICE.get(
            state.error_kind or "", ("The last poll failed.", "wait for the next poll", None))
        return Advice(word, meaning, todo, key, sev)
    if word == PENDING:
        return Advice(word, "Waiting for the first poll.", "nothing yet", None, sev)
    stale = stale_age(state, now, refresh)
    if stale is not None:
        return _advise_stale(state, word, stale, sev)
    if word == NEEDS_PERSON:
        return _advise_person(state, now, sev)
    ended = verdict_of[Action.RESTART]
    if ended.guard == "ladder_end" and ended.retry_in is not None:
        return Advice(word, f"{state.status}: the ladder's last step (the full reset, or a restart "
                            "after a back-off) has not brought it back yet.",
                      f"wait: if it is not WORKING in {fmt_duration(ended.retry_in)}, it needs a "
                      "person (no more restarts or resets until then)", None, sev)
    if word == WORKING and ended.guard == "backoff" and ended.retry_in is not None:
        return Advice(word, "Connected and authenticated: back after the runbook's ladder ended. "
                            "Watched: if it fails again, it needs a person.",
                      f"nothing to do; no restart or full reset for {fmt_duration(ended.retry_in)} "
                      "(back-off; 10m of WORKING clears it)", None, sev)
    if word == WORKING:
        return _advise_working(state, now, quiet_after, sev)
    if word in (STARTING, STUCK):
        return _advise_starting(state, now, word, verdict_of)
    return _advise_other(state, now, word, sev)


def _advise_person(state: InstanceState, now: float, sev: str) -> Advice:
    held = person_hold(state, now)
    left = fmt_duration(held.until - now) if held is not None else "?"
    return Advice(NEEDS_PERSON, f"{state.status}: the runbook's ladder (restart, one more restart, full "
                                "reset) did not bring it back. Restarts and resets stop here, "
                                f"automatic or not, for a back-off of {left} (5m, doubling to 1h; "
                                "10m of WORKING clears it).",
                  "a person: check the phone (WhatsApp > Linked devices); press L to log out "
                  "and scan a new QR; or contact Wawp support with the instance id (c copies "
                  "it) and what was tried", "L", sev)


def _advise_stale(state: InstanceState, word: str, age: float, sev: str) -> Advice:
    if state.failures:
        meaning, todo, key = _ERROR_ADVICE.get(
            state.error_kind or "", ("Polls keep failing.", "wait for the next poll", None))
        return Advice(word, f"Last known {word}, {fmt_duration(age)} ago; "
                            f"{plural(state.failures, 'poll')} failed since. {meaning}", todo, key, sev)
    return Advice(word, f"Last known {word}, {fmt_duration(age)} ago: no poll has finished since.",
                  "p resumes polling if paused; otherwise check the network", "p", sev)


def _advise_working(state: InstanceState, now: float, quiet_after: float, sev: str) -> Advice:
    restart = _last(state, Action.RESTART)
    if restart is not None and now - restart < STABILIZE_AFTER_RESTART:
        left = fmt_duration(restart + STABILIZE_AFTER_RESTART - now)
        return Advice(WORKING, "Connected and authenticated; just restarted.",
                      f"stabilizing: wait {left} before heavy traffic", None, sev)
    quiet = quiet_for(state, now, quiet_after)
    if quiet is not None:
        return Advice(WORKING, f"WORKING, but no activity for {fmt_duration(quiet)}: engines can "
                               "report WORKING while dead (no messages, no webhooks).",
                      "if messages are not flowing, press r to restart", "r", Severity.WARN)
    if scheduled_text(state, now) is not None:
        return Advice(WORKING, f"Connected and authenticated, running outside its schedule "
                               f"({schedule_line(state, now)}).",
                      "nothing urgent: the hub (wawp-tui serve) or `wawp-tui schedule apply` "
                      "stops it as scheduled", None, sev)
    return Advice(WORKING, "Connected and authenticated.", "nothing to do", None, sev)


def _advise_other(state: InstanceState, now: float, word: str, sev: str) -> Advice:
    if word == SCAN_QR_CODE:
        return Advice(word, "Logged out from the phone: the instance is alive but needs a "
                            "fresh link. A restart will not help.",
                      "scan the QR (WhatsApp > Linked devices > Link a device)", "enter", sev)
    if word == PASSKEY_REQUIRED:
        return Advice(word, "Pairing waits for a passkey: the phone must approve it (WebAuthn). "
                            "A restart will not help.",
                      "approve the passkey on the phone; if it does not finish, press L and "
                      "pair again with a new QR", "L", sev)
    if word == PASSKEY_CONFIRMATION_REQUIRED:
        return Advice(word, "Pairing waits for a code to be confirmed on the phone. A restart "
                            "will not help.", "confirm the code on the phone", None, sev)
    if word == HIBERNATED:
        return Advice(word, "Stopped by the hub's idle hibernation: no activity for long. No "
                            "webhooks while stopped; WhatsApp buffers incoming messages only "
                            "24-72 h.", "nothing to do: its owner starts it on the next "
                            "activity (press s to start it now)", "s", sev)
    if word == SCHEDULED:
        return Advice(word, "Stopped as its schedule means (see below): no webhooks while "
                            "stopped, as meant.", "nothing to do: it is not a problem", None, sev)
    if word == STOPPED:
        plan = schedule_line(state, now)
        meaning = ("Hibernating: no webhooks are delivered, and WhatsApp buffers incoming "
                   "messages only 24-72 h.")
        if plan is not None:
            meaning = f"Stopped inside its running window ({plan}). {meaning}"
        return Advice(word, meaning, "press s to start", "s", sev)
    if word == FAILED:
        if qr_codes_ran_out(state):
            return Advice(word, f"The QR codes ran out before anyone scanned ({QR_CODES} codes, "
                                "about 2 min): the engine gave up pairing.",
                          "have the phone ready, then press r: a restart brings new codes", "r", sev)
        if _last(state, Action.RESTART) is not None and state.restarts_since_working >= 1:
            return Advice(word, "Still FAILED after a restart.",
                          "press L to log out, then s to start and scan a new QR; notify an "
                          "administrator", "L", sev)
        return Advice(word, "Something broke (lost auth, device unlinked or engine crash).",
                      "press r to restart (fixes most transient failures)", "r", sev)
    return Advice(word, f"Status {word!r} is not one this tool knows.",
                  "check the instance in the Wawp dashboard", None, sev)


def _advise_starting(state: InstanceState, now: float, word: str,
                     verdict_of: dict[str, Verdict]) -> Advice:
    """STARTING or STUCK: what the boot needs, in the restart verdict's own seconds."""
    since = booting_since(state)
    # Since it was first seen, when that was before we watched: a lower bound.
    bound = "at least " if since is not None and since == state.status_since \
        and not state.status_since_known else ""
    age = f"{bound}{fmt_ago(now - since)}" if since is not None else "a while"
    restart = _last(state, Action.RESTART)
    verdict = verdict_of[Action.RESTART]
    wait = fmt_duration(verdict.retry_in) if verdict.retry_in is not None else ""
    after_restart = restart is not None and restart == _last_boot(state) \
        and not _reached_working_since(state, restart)
    by = _by_whom(state, Action.RESTART)
    if verdict.guard == "ladder":
        return Advice(word, f"Booting after a restart{by}, {age} ago.",
                      f"wait; if it is still STARTING in {wait}, one more restart is allowed",
                      None, severity(word))
    if verdict.guard in ("booting", "settle_start"):
        return Advice(word, f"The engine is booting ({age} in STARTING).",
                      f"wait: no restart in a boot's first seconds ({wait} left); it is polled "
                      "every 2s", None, severity(word))
    if after_restart and state.restarts_since_working >= 2:
        return Advice(word, f"Still STARTING after {plural(state.restarts_since_working, 'restart')} "
                            f"({age} since the last).",
                      "press R for a full reset (stop, wait 5s, start)", "R", Severity.BAD)
    if word == STUCK and after_restart:
        return Advice(word, f"Stuck in STARTING {age} after a restart{by}.",
                      "press r for one more restart", "r", Severity.BAD)
    if word == STUCK:
        return Advice(word, f"STARTING for {age}, longer than the {STUCK_STARTING_ANY:g}s it "
                            "should take.", "press r to restart", "r", Severity.BAD)
    return Advice(word, f"The engine is booting ({age} in STARTING).",
                  "wait; it is polled every 2s", None, severity(word))


#: What each action key does, in words: the advice of a read-only screen names no key.
KEY_STEPS = {"r": "a restart", "R": "a full reset (stop, wait 5s, start)", "s": "a start",
             "x": "a stop", "L": "a logout, then a new QR scanned on the phone"}


def _held_to(advice: Advice, verdict_of: dict[str, Verdict], read_only: bool) -> Advice:
    """The advice, made to agree with the verdicts: a key whose action is refused now is
    replaced by what blocks it (and the full reset when that is the way out). Read-only,
    no action key is named: what would be next, in words."""
    action = KEY_ACTIONS.get(advice.key or "")
    if action is not None and not verdict_of[action].allowed:
        verdict = verdict_of[action]
        reset = verdict_of[Action.RESET]
        if action == Action.RESTART and reset.allowed and not read_only and "full reset" in verdict.reason:
            return Advice(advice.word, advice.meaning, verdict.reason, "R", advice.severity)
        todo = verdict.plain if read_only else verdict.reason
        out = verdict.way_out
        if not read_only and out and not verdict_of[out].allowed:
            # The reason's way out ("start it first (s)") is refused too: what holds it.
            todo = f"{verdict.plain}; {verdict_of[out].plain}"
        return Advice(advice.word, advice.meaning, todo, None, advice.severity)
    if read_only and advice.key in KEY_ACTIONS:
        todo = (f"a person with write access: {PERSON_STEPS}" if advice.word == NEEDS_PERSON
                else f"next step: {KEY_STEPS[advice.key or '']}")
        return Advice(advice.word, advice.meaning, f"{todo} ({READ_ONLY})", None, advice.severity)
    return advice


# -- the one answer ------------------------------------------------------------------


@dataclass(frozen=True)
class Glance:
    """What a table row shows of an instance at one moment (cheap: no advice)."""

    #: The word on the badge (the API's word even when stale; STUCK for a stuck STARTING;
    #: NEEDS_PERSON once the ladder ended).
    word: str
    #: Age of the data when it is old (the badge then reads "WORD ~age"), else None.
    stale: float | None
    rank: int
    severity: Severity
    #: The guardrails running, the restart's first: each is a refusal in progress.
    countdowns: list[Countdown]
    #: Seconds a WORKING instance has been quiet past the threshold, else None.
    quiet: float | None


@dataclass(frozen=True)
class Assessment(Glance):
    """Everything the rules say about one instance at one moment."""

    verdicts: dict[str, Verdict]
    advice: Advice


def glance(state: InstanceState, now: float, refresh: float, *,
           quiet_after: float = QUIET_AFTER) -> Glance:
    """Word, freshness, rank and countdowns (the part of `assess` a row needs)."""
    word = shown_word(state, now, refresh)
    quiet = quiet_for(state, now, quiet_after)
    return Glance(word=word, stale=stale_age(state, now, refresh), rank=word_rank(word),
                  severity=Severity.WARN if quiet is not None else severity(word),
                  countdowns=countdowns(state, now), quiet=quiet)


#: Why nothing is sent from a read-only session.
READ_ONLY = "read-only mode: nothing is sent from here"


def assess(state: InstanceState, now: float, refresh: float, *,
           quiet_after: float = QUIET_AFTER, read_only: bool = False) -> Assessment:
    """The one answer: word, freshness, rank, verdicts, countdowns and advice, agreeing.
    `read_only`: every action is refused, and the advice names no key, only what would
    be next."""
    seen = glance(state, now, refresh, quiet_after=quiet_after)
    verdict_of = verdicts(state, now)
    advice = _held_to(_raw_advice(state, now, refresh, quiet_after, verdict_of, seen.word),
                      verdict_of, read_only)
    if read_only:
        verdict_of = {action: _refuse(READ_ONLY) for action in verdict_of}
    return Assessment(word=seen.word, stale=seen.stale, rank=seen.rank, severity=seen.severity,
                      countdowns=seen.countdowns, quiet=seen.quiet, verdicts=verdict_of,
                      advice=advice)


# -- polling -------------------------------------------------------------------------


def poll_interval(
    state: InstanceState,
    now: float,
    refresh: float,
    *,
    retry_after: float | None = None,
    steady_cap: float | None = None,
) -> float:
    """Seconds until this instance's next poll."""
    if state.failures:
        if state.error_kind in ("not_found", "unauthorized", "no_route"):
            return max(GONE_POLL, refresh)
        # The first polls after a failure keep the normal pace, so a fault that clears is
        # seen within one refresh (and auto-heal can count three failures); a longer
        # outage backs off exponentially, capped.
        base = max(FAST_POLL, refresh)
        backoff = min(base * 2 ** max(0, state.failures - RETRIES_AT_PACE), BACKOFF_CAP)
        if state.error_kind == "rate_limited" and retry_after is not None:
            return max(retry_after, FAST_POLL)
        return float(backoff)
    recent = max(state.last_action_at.values(), default=None)
    if state.status == STARTING or state.in_flight or state.reset_start_at is not None \
            or (recent is not None and now - recent < STABILIZE_AFTER_RESTART):
        return min(FAST_POLL, refresh)
    if state.status == SCAN_QR_CODE:
        return min(QR_POLL, refresh)
    if steady_cap is not None and steady_cap > refresh and state.status in (WORKING, STOPPED) \
            and state.status_since is not None:
        # Steady instances slow down gradually: half their time in this status, up to
        # the ceiling. A big fleet then costs few requests while nothing happens. One
        # already in this status when we started is steady from the start.
        if not state.status_since_known:
            return steady_cap
        return min(steady_cap, max(refresh, (now - state.status_since) / 2))
    return refresh
