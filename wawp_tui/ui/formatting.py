"""What each instance looks like on screen: pure functions from state to Rich text.

No widgets here, so the table, the detail pane, the summary and the tests share one
formatting of every status, countdown and error.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from rich.cells import cell_len
from rich.color import Color, ColorParseError
from rich.text import Text

from wawp_tui.core import FleetState, InstanceState, runbook
from wawp_tui.models import FAILED, SCAN_QR_CODE, UNREACHABLE, WORKING
from wawp_tui.safe_text import clean

#: Theme variable behind each severity class the runbook hands out.
SEVERITY_VARIABLE = {
    "ok": "success",
    "warn": "warning",
    "bad": "error",
    "idle": "secondary",
    "unknown": "accent",
}

#: Words that light a row up for a wall monitor (reverse video, not only colour).
ALARM_WORDS = {FAILED, UNREACHABLE, runbook.STUCK, runbook.CONFIG, runbook.NEEDS_PERSON}

#: (key, title, width): fixed widths, so a late long value never squeezes the badge.
COLUMNS: tuple[tuple[str, str, int], ...] = (
    ("sel", " ", 1),
    ("status", "STATUS", 17),
    ("label", "LABEL", 22),
    ("guard", "GUARD", 6),
    ("error", "LAST ERROR", 28),
    ("since", "SINCE", 6),
    ("latency", "LAT", 6),
    ("id", "ID", 12),
    ("tags", "TAGS", 20),
)
LABEL_WIDTH = 22
STATUS_WIDTH = 17
ERROR_WIDTH = 28
#: The narrowest LAST ERROR gets so that the ids show whole on a wide screen (160
#: columns with the detail pane); below that it keeps ERROR_WIDTH and the table scrolls.
ERROR_MIN_WIDTH = 16


def error_width(table_width: int, padding: int = 1) -> int:
    """LAST ERROR's width for a table `table_width` cells wide: narrowed (down to
    ERROR_MIN_WIDTH) so that every column up to the ID is on screen, when it can be."""
    before_tags = [w for key, _, w in COLUMNS if key not in ("error", "tags")]
    room = table_width - sum(before_tags) - 2 * padding * (len(before_tags) + 1)
    return ERROR_WIDTH if room < ERROR_MIN_WIDTH else min(ERROR_WIDTH, room)


@dataclass(frozen=True)
class Palette:
    """Rich styles for each severity, taken from the active Textual theme."""

    styles: dict[str, str]

    @classmethod
    def from_variables(cls, variables: dict[str, str]) -> Palette:
        styles = {}
        for severity, name in SEVERITY_VARIABLE.items():
            styles[severity] = _colour(variables, name, "foreground")
        styles["muted"] = _colour(variables, "foreground-darken-1", "secondary")
        styles["background"] = _colour(variables, "background", "")
        return cls(styles)

    def style(self, severity: str) -> str:
        return self.styles.get(severity, "")


def _colour(variables: dict[str, str], *names: str) -> str:
    """The first of `names` that Rich can paint (theme variables may hold "auto 60%")."""
    for name in names:
        value = variables.get(name, "")
        try:
            Color.parse(value)
        except ColorParseError:
            continue
        return value
    return ""


def clip(text: str, width: int) -> str:
    """Cut at a word boundary where possible, with an ellipsis."""
    if len(text) <= width:
        return text
    cut = text[: width - 1]
    if " " in cut[width // 2 :]:
        cut = cut[: cut.rfind(" ")]
    return cut.rstrip(" ,:;-") + "…"


def badge_text(word: str, palette: Palette, stale: float | None = None) -> Text:
    """Symbol + word, coloured by severity; alarming words in reverse video. Old data
    keeps its last known word, marked "~" with its age ("✗ FAILED ~2m10s"), in italics."""
    symbol, label = runbook.badge(word)
    severity = runbook.severity(word)
    colour = palette.style(severity)
    style = f"bold {colour}" if colour else "bold"
    if word in ALARM_WORDS:
        style = f"bold reverse {colour}" if colour else "bold reverse"
    if stale is None:
        return Text(f"{symbol} {clip(label, 15)}", style=style)
    age = f" ~{runbook.fmt_duration(stale)}"
    return Text(f"{symbol} {clip(label, STATUS_WIDTH - 2 - len(age))}{age}", style=f"italic {style}")


def guard_text(assessment: runbook.Glance, now: float) -> str:
    """The most urgent active countdown (a refusal in progress), e.g. "28s", or ""."""
    if not assessment.countdowns:
        return ""
    return runbook.fmt_duration(assessment.countdowns[0].remaining(now))


def since_text(state: InstanceState, now: float) -> str:
    """How long in this status, coarse enough not to change every second after a minute;
    "≥3m" when it was so before we started watching (we know only the lower bound)."""
    if state.status_since is None:
        return ""
    age = max(0.0, now - state.status_since)
    if not state.status_since_known:
        bound = _lower_bound(age)
        return f"≥{bound}" if bound else ""  # "≥0s" says nothing
    # Elapsed time, rounded down: 59.5 s reads "59s", never "1m00s" a moment before "1m".
    return runbook.fmt_ago(age) if age < 60 else _minutes(age)


#: How a lower bound ("≥3m": so since before we started watching) moves: (below this age,
#: in steps of). Rounding a lower bound down keeps it true, and a fleet seen at start-up
#: (often every row) then changes together rarely: each change recomputes every row.
LOWER_BOUND_STEPS = ((60.0, 10.0), (600.0, 60.0), (3600.0, 300.0), (86400.0, 3600.0))


def _lower_bound_step(age: float) -> float:
    return next((step for below, step in LOWER_BOUND_STEPS if age < below), 86400.0)


def _lower_bound(age: float) -> str:
    """"", "10s" … "9m", "10m", "15m" … "1h", "2h" … "1d": the age rounded down to its
    step ("" below the first step: a bound of nothing is no news)."""
    shown = age // _lower_bound_step(age) * _lower_bound_step(age)
    if shown <= 0:
        return ""
    if shown < 60:
        return runbook.fmt_duration(shown)
    if shown < 3600:
        return f"{int(shown // 60)}m"
    if shown < 86400:
        return f"{int(shown // 3600)}h"
    return f"{int(shown // 86400)}d"


def why_text(state: InstanceState, word: str) -> str:
    """Why a row is in trouble, for the LAST ERROR column: the error, or for a FAILED
    the API reported (no error of ours) the transition that led there."""
    if state.last_error:
        return state.last_error
    if word == FAILED and state.status == FAILED:
        for entry in reversed(state.history):
            if entry.kind == "status":
                return entry.text if " -> " in entry.text else "FAILED when first seen"
    return ""


def row_cells(
    state: InstanceState, now: float, refresh: float, palette: Palette, selected: bool,
    quiet_after: float = runbook.QUIET_AFTER, error_room: int = ERROR_WIDTH,
) -> tuple:
    """The cells of one table row, in COLUMNS order (compared to send only changes).

    Every cell is a rich Text: DataTable parses a plain str as markup, and a label or
    an error text holding "[/]" must read as itself, not crash the table.
    """
    assessment = runbook.glance(state, now, refresh, quiet_after=quiet_after)
    error = why_text(state, assessment.word)
    if state.in_flight:
        error = f"{state.in_flight} in flight…"
    elif assessment.stale is not None and not state.failures:
        error = "no poll since (stale)"
    elif assessment.quiet is not None:
        error = f"no activity for {_minutes(assessment.quiet)}"
    elif not error and state.schedule is not None:
        error = runbook.scheduled_text(state, now) or ""
    elif not error and runbook.hibernated(state):
        error = "hibernated while idle"
    return (
        Text("●" if selected else " "),
        badge_text(assessment.word, palette, assessment.stale),
        Text(clip(state.label, LABEL_WIDTH)),
        Text(guard_text(assessment, now), style="bold"),
        Text(clip(error, error_room)),
        Text(since_text(state, now)),
        Text(latency_text(state.latency_shown)),
        Text(state.id),
        Text(clip(",".join(state.tags), 20)),
    )


def latency_text(ms: float | None) -> str:
    """Poll latency for the table (fed from the hysteresis value, see FleetState)."""
    if ms is None:
        return ""
    if ms < 1000:
        return f"{ms:.0f}ms"
    return f"{ms / 1000:.1f}s"


def sort_key(state: InstanceState, now: float, refresh: float) -> tuple:
    """Worst first (stale rows keep the rank of their last known word); then by label
    so equal rows keep a stable, readable order."""
    return (runbook.rank(state, now, refresh), state.label.lower(), state.id)


def signature(parts: list[Text] | Text) -> tuple:
    """What a piece of text looks like, to skip repainting when nothing changed."""
    if isinstance(parts, Text):
        parts = [parts]
    return tuple((p.plain, str(p.style), tuple(p.spans)) for p in parts)


def line_shape(parts: list[Text] | Text, width: int) -> tuple:
    """How many screen lines each part takes at this width (same shape: same layout)."""
    if isinstance(parts, Text):
        parts = [parts]
    width = max(1, width)
    return (width,) + tuple(max(1, -(-cell_len(line) // width))
                            for p in parts for line in p.plain.split("\n"))


#: Ages under this read "just now": a busy fleet's summary then does not repaint every
#: second, and a few seconds of age carry no news.
JUST_NOW = 10.0


def ago(seconds: float) -> str:
    """ "just now", "25s ago", "3m10s ago"."""
    return "just now" if seconds < JUST_NOW else f"{runbook.fmt_duration(seconds)} ago"


def ago_in_steps(seconds: float) -> str:
    """ "just now", "10s ago" … "50s ago", "1m ago", "2h10m ago": rounded down, moving
    every ten seconds, then every minute. For the detail pane, where a figure that moves
    every second repaints the pane every second for a steady instance (its poll is 30 s
    apart at 500 instances) and tells nothing more."""
    seconds = max(0.0, seconds)
    if seconds < 60:
        return ago(seconds // 10 * 10)
    return f"{_minutes(seconds)} ago"


def time_signature(state: InstanceState, now: float, refresh: float,
                   quiet_after: float = runbook.QUIET_AFTER) -> tuple:
    """The parts of a row that change with time alone (checked every second)."""
    a = runbook.glance(state, now, refresh, quiet_after=quiet_after)
    return (guard_text(a, now), since_text(state, now), a.word,
            runbook.fmt_duration(a.stale) if a.stale is not None else "",
            _minutes(a.quiet) if a.quiet is not None else "",
            runbook.scheduled_text(state, now) if state.schedule is not None else None)


#: time_changes_at never looks further ahead than this: a safety net for a time rule
#: not named there (every row is looked at again within a minute anyway: SINCE moves).
TIME_HORIZON = 60.0


def time_changes_at(state: InstanceState, now: float, refresh: float,
                    quiet_after: float = runbook.QUIET_AFTER, *, row: bool = True) -> float:
    """The earliest time at which `time_signature` may read differently with no poll or
    action in between; `now` for a part that moves every second (look again at the next
    beat). Early is harmless (the row is only looked at); late would show old text.
    `row=False`: only what `summary_part` reads (the word, staleness), not SINCE or the
    quiet age, which move far more often (the wall counts; it draws no row)."""
    if runbook.countdowns(state, now):
        return now  # a guard counts down in seconds
    soon = now + TIME_HORIZON
    stale = runbook.stale_from(state, refresh)
    if stale is not None:
        if now >= stale:
            return now  # "~25s": the age of old data moves every second
        soon = min(soon, stale)
    stuck = runbook.stuck_from(state)
    if stuck is not None and stuck > now:
        soon = min(soon, stuck)
    plan = runbook.meant(state, now)
    if plan is not None and plan.until is not None and plan.until > now:
        soon = min(soon, plan.until)  # SCHEDULED turns STOPPED (a problem) at its window
    if not row:
        return soon
    quiet = runbook.quiet_from(state, quiet_after)
    if quiet is not None:
        # "no activity for 1h10m": shown to the minute once it began.
        soon = min(soon, quiet if now <= quiet else _next_minute(quiet, now))
    if state.status_since is not None:
        soon = min(soon, _since_changes_at(state, now))
    return soon


def _since_changes_at(state: InstanceState, now: float) -> float:
    """When since_text moves next: every second (known, first minute), then every
    minute; a lower bound by its LOWER_BOUND_STEPS."""
    since = state.status_since
    assert since is not None
    age = now - since
    if age < 0:
        return since
    if not state.status_since_known:
        step = _lower_bound_step(age)
        return since + (age // step + 1) * step
    return now if age < 60 else _next_minute(since, now)


def _next_minute(start: float, now: float) -> float:
    """The next whole minute after `start`, later than `now`."""
    return start + ((now - start) // 60 + 1) * 60


def _minutes(seconds: float) -> str:
    """A duration to the minute ("1h10m", "45m"): what changes once a minute."""
    return runbook.fmt_duration(seconds // 60 * 60).replace("m00s", "m")


def detail_parts(state: InstanceState, now: float, refresh: float, palette: Palette,
                 quiet_after: float = runbook.QUIET_AFTER, read_only: bool = False,
                 hibernate_after: float = 0.0) -> list[Text]:
    """The detail pane: meaning, what to do and which key, countdowns, account, history;
    `hibernate_after`: the hub's idle hibernation (0: none)."""
    assessment = runbook.assess(state, now, refresh, quiet_after=quiet_after, read_only=read_only)
    word, advice = assessment.word, assessment.advice
    head = Text()
    head.append_text(badge_text(word, palette, assessment.stale))
    head.append(f"  {state.label}", style="bold")
    head.append(f"  {state.id}", style=palette.style("muted"))
    parts: list[Text] = [head]
    if state.tags:
        parts.append(Text("tags: " + ", ".join(state.tags), style=palette.style("muted")))
    parts.append(Text(""))
    parts.append(Text(advice.meaning))
    todo = Text("→ ", style="bold")
    todo.append(advice.todo, style=f"bold {palette.style(advice.severity)}")
    parts.append(todo)
    timers = _countdown_lines(state, assessment, now)
    if timers:
        parts.append(Text(""))
        parts.extend(timers)
    climb = runbook.ladder_line(state, now)
    if climb is not None:
        parts.append(Text(climb, style=palette.style("muted")))
    plan = runbook.schedule_line(state, now)
    if plan is not None:
        parts.append(Text(f"schedule: {plan}"))
    sleep = runbook.hibernation_line(state, now, hibernate_after)
    if sleep is not None:
        parts.append(Text(f"idle hibernation: {sleep}"))
    if state.in_flight:
        parts.append(Text(f"{state.in_flight} in flight: waiting for the API's reply", style="italic"))
    parts.append(Text(""))
    facts = _facts(state, now, word)
    if facts.plain:
        parts.append(facts)
    live = _liveness(state, now)
    if live is not None:
        parts.append(live)
    if state.last_error:
        parts.append(Text(f"last error ({state.failures}x): {state.last_error}", style=palette.style("bad")))
    elif word == FAILED:
        parts.append(Text(f"how it got here: {why_text(state, word)}", style=palette.style("bad")))
    if state.me:
        parts.append(Text(f"account: {me_line(state.me)}"))
    elif word == WORKING:
        parts.append(Text("account: (not reported)", style=palette.style("muted")))
    if word == SCAN_QR_CODE:
        parts.append(Text("Press enter to show the QR; then on the phone: WhatsApp > Linked "
                          "devices > Link a device. No camera? k in the QR screen asks for a "
                          "pairing code.", style="bold"))
    return parts + _recent(state, palette, now)


def _facts(state: InstanceState, now: float, word: str) -> Text:
    """Since when, poll latency, last good poll: one line."""
    facts = Text()
    if state.status_since is not None:
        age = now - state.status_since
        # A lower bound is rounded down (never overstated), in the steps of the table's
        # SINCE: the two agree, and a fleet seen at start-up does not tick every second.
        bound = _lower_bound(age)
        facts.append(f"in {state.status or word} for {runbook.fmt_duration(age)}"
                     if state.status_since_known
                     else f"{state.status or word} since before start (≥ {bound})" if bound
                     else f"{state.status or word} since before wawp-tui started")
    if state.latency_shown is not None:
        # The steadied figure, as in the table: jitter of a few ms is not news.
        facts.append(f" · poll {state.latency_shown:.0f}ms")
    if state.last_ok_at is not None:
        facts.append(f" · last good poll {ago_in_steps(now - state.last_ok_at)}")
    return facts


def _liveness(state: InstanceState, now: float) -> Text | None:
    """Engine, presence, last activity: where the replies carry them (WAHA)."""
    found = []
    if state.engine:
        found.append(f"engine {state.engine}")
    if state.presence:
        found.append(state.presence)
    if state.activity_at is not None:
        found.append(f"last activity {ago_in_steps(now - state.activity_at)}")
    if state.heard_at is not None:
        found.append(f"last message event {ago_in_steps(now - state.heard_at)}")
    return Text(" · ".join(found)) if found else None


def stamp(at: float, now: float) -> str:
    """A time of day; with the date when it is not today (history outlives a restart)."""
    local = time.localtime(at)
    if local[:3] == time.localtime(now)[:3]:
        return time.strftime("%H:%M:%S", local)
    return time.strftime("%b %d %H:%M:%S", local)


def _recent(state: InstanceState, palette: Palette, now: float, count: int = 8) -> list[Text]:
    """The newest history entries, newest first, under a heading."""
    history = list(state.history)[-count:]
    if not history:
        return []
    lines = [Text(""), Text("recent:", style="bold")]
    for entry in reversed(history):
        when = stamp(entry.at, now)
        line = Text(f" {when} ", style=palette.style("muted"))
        line.append(("[auto] " if entry.auto else "") + entry.text,
                    style="" if entry.ok else palette.style("bad"))
        lines.append(line)
    return lines


def _countdown_lines(state: InstanceState, assessment: runbook.Assessment, now: float) -> list[Text]:
    lines = []
    for countdown in assessment.countdowns:
        left = runbook.fmt_duration(countdown.remaining(now))
        if countdown.ends_at == state.reset_start_at:
            lines.append(Text(f"⏱ full reset: start in {left} (press R to cancel)", style="bold"))
        else:
            lines.append(Text(f"⏱ {countdown.label}: {left}"))
    return lines


def me_line(me: dict) -> str:
    """ "John Doe +201012345678" from the API's `me` object."""
    name = str(me.get("pushName") or "").strip()
    number = str(me.get("id", "")).split("@")[0]
    return " ".join(p for p in (name, f"+{number}" if number else "") if p) or "(unnamed)"


def _modes(palette: Palette, *, paused: bool, read_only: bool, audit_off: bool,
           selected: int, selected_hidden: int = 0) -> list[Text]:
    """The reverse-video mode tags that open the summary."""
    chosen = f"{selected} selected" if not selected_hidden else \
        f"{selected - selected_hidden} of {selected} selected ({selected_hidden} hidden by the filter)"
    return [Text(f" {tag} ", style=f"bold reverse {palette.style(tone)}")
            for on, tag, tone in ((paused, "PAUSED", "warn"), (read_only, "READ-ONLY", "unknown"),
                                  (audit_off, "AUDIT LOG OFF", "bad"), (selected, chosen, "unknown"))
            if on]


#: What comes before a piece of the summary that does not start a line: between two
#: counts, and between two kinds of fact.
GAP, BAR = "  ", " │ "


def pack(pieces: list[tuple[str, Text]], width: int) -> list[Text]:
    """`pieces` ((separator, text)) on lines of at most `width` cells, never cut inside
    one: a narrow terminal gets more lines, never a count or an age cut in half (a piece
    wider than a line gets a line of its own)."""
    lines = [Text(no_wrap=True, overflow="ellipsis", end="")]
    for separator, piece in pieces:
        line = lines[-1]
        if line.plain and line.cell_len + len(separator) + piece.cell_len > width:
            line = Text(no_wrap=True, overflow="ellipsis", end="")
            lines.append(line)
        if line.plain:
            line.append(separator)
        line.append_text(piece)
    return lines


#: What one instance adds to the summary line: its word, stale, failing.
SummaryPart = tuple[str, bool, bool]


def summary_part(state: InstanceState, now: float, refresh: float) -> SummaryPart:
    """One instance's share of the summary line (it changes with polls, actions, and at
    the times `time_changes_at` names)."""
    word = runbook.shown_word(state, now, refresh)
    return word, runbook.stale_age(state, now, refresh) is not None, bool(state.failures)


@dataclass
class SummaryCounts:
    """The summary's counts over the fleet, kept up to date one instance at a time."""

    words: dict[str, int]
    stale: int = 0
    failing: int = 0

    def add(self, part: SummaryPart, sign: int = 1) -> None:
        word, stale, failing = part
        left = self.words.get(word, 0) + sign
        if left:
            self.words[word] = left
        else:
            self.words.pop(word, None)
        self.stale += sign * stale
        self.failing += sign * failing


def summary(
    fleet: FleetState,
    now: float,
    refresh: float,
    palette: Palette,
    *,
    paused: bool,
    auto_heal: bool,
    read_only: bool,
    shown: int | None = None,
    audit_off: bool = False,
    selected: int = 0,
    width: int = 1000,
) -> list[Text]:
    """The summary's lines: counts of the last known statuses, worst first, how many of
    them are stale, when the last poll succeeded, and the modes."""
    counts = SummaryCounts({})
    for st in fleet:
        counts.add(summary_part(st, now, refresh))
    return summary_lines(counts, fleet, now, refresh, palette, paused=paused, auto_heal=auto_heal,
                         read_only=read_only, shown=shown, audit_off=audit_off, selected=selected,
                         width=width)


def summary_lines(
    counts: SummaryCounts,
    fleet: FleetState,
    now: float,
    refresh: float,
    palette: Palette,
    *,
    paused: bool,
    auto_heal: bool,
    read_only: bool,
    shown: int | None = None,
    audit_off: bool = False,
    selected: int = 0,
    selected_hidden: int = 0,
    width: int = 1000,
    tail: Text | None = None,
) -> list[Text]:
    """The summary from counts already made (see `summary`), on lines of at most `width`
    cells: every count, the stale count, the refreshed age and the modes always show,
    on as many lines as the width needs (no loop over the fleet)."""
    stale, failing = counts.stale, counts.failing
    # Modes first: they must be seen before the counts.
    pieces = [(" ", tag) for tag in _modes(palette, paused=paused, read_only=read_only,
                                            audit_off=audit_off, selected=selected,
                                            selected_hidden=selected_hidden)]
    for word in _summary_order(counts, fleet, now, refresh):
        symbol, label = runbook.badge(word)
        severity = runbook.severity(word)
        style = f"bold {palette.style(severity)}"
        if word in ALARM_WORDS:
            style = f"bold reverse {palette.style(severity)}"
        pieces.append((GAP, Text(f"{symbol} {counts.words[word]} {label}", style=style)))
    facts: list[Text] = []
    if stale:
        facts.append(Text(f"~ {stale} stale", style=f"bold italic {palette.style('warn')}"))
    if shown is not None and shown != len(fleet):
        facts.append(Text(f"showing {shown}/{len(fleet)}", style="bold"))
    if fleet.last_success_at is not None:
        age = now - fleet.last_success_at
        # While polls fail, every second counts: no "just now" rounding.
        when = f"{runbook.fmt_ago(age)} ago" if failing and age >= 1 else ago(age)
        facts.append(Text(f"refreshed {when}", style=f"bold {palette.style('warn')}"
                          if age > runbook.stale_after(refresh) else ""))
    elif len(fleet):
        facts.append(Text("no status yet"))
    facts.append(Text(f"auto-heal {'ON' if auto_heal else 'off'}",
                      style="bold" if auto_heal else palette.style("muted")))
    if tail is not None and tail.plain:
        facts.append(tail)
    pieces += [(BAR, fact) for fact in facts]
    return pack(pieces, max(1, width))


def _summary_order(counts: SummaryCounts, fleet: FleetState, now: float, refresh: float) -> list[str]:
    """The words worst first; words of one rank in the order the fleet first shows them
    (found by a walk of the fleet that stops once each is seen: only when ranks tie)."""
    words = sorted(counts.words, key=runbook.word_rank)
    if len({runbook.word_rank(w) for w in words}) == len(words):
        return words
    first: dict[str, int] = {}
    for index, st in enumerate(fleet):
        word = summary_part(st, now, refresh)[0]
        first.setdefault(word, index)
        if len(first) == len(words):
            break
    return sorted(words, key=lambda w: (runbook.word_rank(w), first.get(w, len(first))))


def short_path(path: str, width: int) -> str:
    """A path in at most `width` cells: the home folder as "~", then cut in the middle,
    keeping its start and the file's name ("/srv/ops/…/fleet.toml")."""
    home = str(Path.home())
    if home not in ("", "/") and (path == home or path.startswith(home + "/")):
        path = "~" + path[len(home):]
    if cell_len(path) <= width:
        return path
    if width <= 1:
        return "…"[:max(0, width)]
    keep = width - 1
    # The file's name is what tells configs apart: the tail keeps it whole if it can.
    tail = max(keep - keep // 3, min(len(path.rsplit("/", 1)[-1]) + 1, keep))
    return path[:keep - tail] + "…" + path[len(path) - tail:]


def context_line(source: str, base_url: str, count: int, palette: Palette,
                 width: int = 1000) -> Text:
    """Which fleet this is: the config file (or "demo"), the base URL (never a token)
    and the fleet's size, in `width` cells: the path gives way first (shortened in the
    middle), the base URL never (it says which API these statuses come from)."""
    noun = "instance" if count == 1 else "instances"
    url, size = clean(base_url, 200), f"{count} {noun}"
    room = width - cell_len(f" · {url} · {size}")
    source = clean(source, 500)
    if room >= 8:
        text = f"{short_path(source, room)} · {url} · {size}"
    else:  # a terminal too narrow for all three: the URL and the size
        text = f"{url} · {size}"
    return Text(text, style=palette.style("muted"), no_wrap=True, overflow="ellipsis", end="")
