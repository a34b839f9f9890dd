"""`d`: one instance described on a page of its own (k9s's describe): every field the
monitor holds, the guards on every action as the runbook answers now, the advice, and
the whole history. Pure: from the state, the moment and the palette to Rich text."""

from __future__ import annotations

import time

from rich.text import Text

from wawp_tui.core import InstanceState, runbook
from wawp_tui.safe_text import clean
from wawp_tui.ui.formatting import Palette, badge_text, latency_text, me_line, stamp

#: The width of the names in the field lists.
NAME_WIDTH = 24


def _when(at: float | None, now: float) -> str:
    if at is None:
        return "—"
    return f"{stamp(at, now)} ({runbook.fmt_ago(now - at)} ago)"


def _section(body: Text, title: str) -> None:
    body.append(f"\n{title}\n", style="bold underline")


def _field(body: Text, name: str, value: str, style: str = "") -> None:
    body.append(f"  {name:<{NAME_WIDTH}}", style="bold")
    body.append(f"{value}\n", style=style)


def describe_page(st: InstanceState, now: float, refresh: float, palette: Palette, *,
                  quiet_after: float = runbook.QUIET_AFTER, read_only: bool = False,
                  next_poll: float | None = None, hibernate_after: float = 0.0) -> Text:
    """Every field of one instance, its guards and its history, newest first."""
    seen = runbook.assess(st, now, refresh, quiet_after=quiet_after, read_only=read_only)
    body = Text()
    body.append_text(badge_text(seen.word, palette, seen.stale))
    body.append(f"  {st.label}", style="bold")
    body.append(f"  {st.id}\n", style=palette.style("muted"))
    _field(body, "tags", ", ".join(st.tags) or "—")

    _section(body, "Status")
    _field(body, "the API's last word", st.status or "— (no good poll yet)")
    if st.status_since is not None:
        since = _when(st.status_since, now)
        _field(body, "since", since if st.status_since_known else
               f"before wawp-tui saw it; seen from {since}")
    _field(body, "data age", "—" if seen.stale is None else f"{runbook.fmt_duration(seen.stale)} (stale)")
    _field(body, "last poll", _when(st.last_poll_at, now))
    _field(body, "last good poll", _when(st.last_ok_at, now))
    _field(body, "failed polls in a row", str(st.failures),
           palette.style("bad") if st.failures else "")
    if st.failures:
        _field(body, "failing since", _when(st.failing_since, now))
        _field(body, "last error", f"{st.last_error or '—'} ({st.error_kind or '?'})", palette.style("bad"))
    _field(body, "latency", f"{latency_text(st.latency_ms) or '—'} last, "
                            f"{latency_text(st.latency_avg) or '—'} average")
    if next_poll is not None:
        _field(body, "polled every", runbook.fmt_duration(next_poll))
    _field(body, "account", me_line(st.me) if st.me else "—")
    _field(body, "engine", st.engine or "—")
    _field(body, "presence", st.presence or "—")
    _field(body, "last activity", _when(st.activity_at, now))
    if seen.quiet is not None:
        _field(body, "quiet for", runbook.fmt_duration(seen.quiet), palette.style("warn"))
    _field(body, "last message event", _when(st.heard_at, now))
    sleep = runbook.hibernation_line(st, now, hibernate_after)
    if sleep is not None:
        _field(body, "idle hibernation", sleep)
    _field(body, "QR in the last reply", "yes" if st.qr_hint else "no")

    _section(body, "Guards: what each key would do now")
    for action, verdict in seen.verdicts.items():
        key = runbook.ACTION_KEYS.get(action, "")  # type: ignore[call-overload]
        name = f"{action} ({key})" if key else action
        if verdict.allowed:
            text = "allowed" + (f"; warning: {verdict.warning}" if verdict.warning else "")
            _field(body, name, text, palette.style("ok"))
        else:
            wait = f" (again in {runbook.fmt_duration(verdict.retry_in)})" if verdict.retry_in else ""
            _field(body, name, f"refused: {verdict.reason}{wait}", palette.style("warn"))
    for countdown in seen.countdowns:
        _field(body, "countdown", f"{countdown.label} {runbook.fmt_duration(countdown.remaining(now))}")
    _field(body, "in flight", st.in_flight or "—")
    _field(body, "restarts since WORKING", str(st.restarts_since_working))
    _field(body, "last WORKING", _when(st.last_working_at, now))
    for action, at in sorted(st.last_action_at.items()):
        who = "seen on the server" if action in st.seen_actions else "sent from here"
        _field(body, f"last {action}", f"{_when(at, now)}, {who}")

    _section(body, "Advice")
    body.append(f"  {seen.advice.meaning}\n")
    body.append(f"  → {seen.advice.todo}\n", style=f"bold {palette.style(seen.advice.severity)}")

    _section(body, f"History ({len(st.history)} kept), newest first")
    if not st.history:
        body.append("  nothing yet\n")
    for entry in reversed(st.history):
        body.append(f"  {stamp(entry.at, now)} ", style=palette.style("muted"))
        body.append(("[auto] " if entry.auto else "") + clean(entry.text, 500) + "\n",
                    style="" if entry.ok else palette.style("bad"))
    body.append(f"\nAs of {time.strftime('%H:%M:%S', time.localtime(now))}; "
                "the runbook's answer at that moment.", style=palette.style("muted"))
    return body
