"""Notices: what the operator is told, and how loudly.

Event log lines (status changes grouped, so an outage or a recovery of a thousand
instances is one line, not a thousand), the alert strip under the summary (firing,
unacknowledged alerts, bounded), the bell (once per new alert), toasts for what a person
did, and the problems that stop the audit log or the history from being kept.
"""

from __future__ import annotations

import re

from rich.text import Text

from wawp_tui.core import Report, runbook
from wawp_tui.core.alerts import ALERT_WORDS, Notice
from wawp_tui.models import UNREACHABLE
from wawp_tui.ui.fleet_view import FleetView
from wawp_tui.ui.widgets.quiet_static import QuietStatic

#: Alerts shown in the strip at once (the rest are counted: `!` lists them all); fewer
#: on a short terminal, where every line is a table row.
STRIP_ALERTS = 3
NARROW_STRIP_ALERTS = 2
#: Status changes to one word, in one batch, beyond which the log line names a count.
GROUP_AFTER = 3
#: A word of a rollout's progress line that may be an instance id.
_ID = re.compile(r"[\w.-]+")


class Notices:
    """The telling half of the fleet screen."""

    def __init__(self, screen: FleetView) -> None:
        self.screen = screen
        self.monitor = screen.monitor
        self._problems_said: set[str] = set()
        #: Status changes waiting for the next flush: word -> [(label, id, error)].
        self._changes: dict[str, list[tuple[str, str, str]]] = {}

    # -- status changes: the event log -------------------------------------------------

    def status_changed(self, instance_id: str, word: str) -> None:
        """An instance moved to a new word: logged at the next flush, grouped by word."""
        st = self.monitor.state(instance_id)
        error = st.last_error if st.failures and st.last_error else ""
        self._changes.setdefault(word, []).append((st.label, st.id, error))

    def flush(self) -> None:
        """Write the waiting status changes: one line each, or one line per word when
        many instances moved together."""
        changes, self._changes = self._changes, {}
        for word, moved in sorted(changes.items(), key=lambda pair: runbook.word_rank(pair[0])):
            bad = word in ALERT_WORDS
            # Polls failing: the row keeps its last known word; the log says what happened.
            arrow = " not answering" if word == UNREACHABLE else f" -> {word}"
            if len(moved) <= GROUP_AFTER:
                for label, instance_id, error in moved:
                    self.screen.log_line(f"{label} ({instance_id}){arrow}"
                                         + (f": {error}" if error else ""), ok=not bad)
                continue
            names = ", ".join(label for label, _, _ in moved[:3])
            self.screen.log_line(f"{len(moved)} instances{arrow}: {names}, …", ok=not bad)

    # -- alerts: the strip, the bell ---------------------------------------------------

    def alerts_updated(self, notices: tuple[Notice, ...]) -> None:
        """What the alert book tells now (a group fired, grew or resolved): logged, the
        bell once for news; the strip redrawn."""
        for notice in notices:
            self.screen.log_line(notice.text if notice.resolved else f"ALERT {notice.text}",
                                 ok=notice.resolved)
        if any(notice.news for notice in notices) and self.screen.bell_enabled:
            self.screen.app.bell()
        self.draw_strip()

    def draw_strip(self) -> None:
        """The groups of firing alerts nobody acknowledged, newest first (the outage on
        top), one line each: "20 instances need a QR scan", the count first, so a narrow
        terminal cuts the tail, never the name."""
        strip = self.screen.query_one("#alerts", QuietStatic)
        shown = self.monitor.alerts.unacknowledged()
        strip.display = bool(shown)
        if not shown:
            return
        now = self.monitor.clock()
        palette = self.screen.palette
        room = STRIP_ALERTS if self.screen.size.height >= 40 else NARROW_STRIP_ALERTS
        lines = []
        for index, group in enumerate(shown[:room]):
            # One line each, cut at the edge: how many and the keys first (short), then
            # the name, the age last.
            line = Text(no_wrap=True, overflow="ellipsis", end="")
            line.append("▲ ", style=f"bold {palette.style(group.severity)}")
            if index == 0:
                count = f"{len(shown)} alert{'s' if len(shown) != 1 else ''}"
                line.append(f"{count} (A ack, ! list): ", style=palette.style("muted"))
            line.append(group.text, style="bold")
            line.append(f"  {runbook.fmt_duration(now - group.started_at)}", style=palette.style("muted"))
            lines.append(line)
        strip.show(Text("\n", no_wrap=True, overflow="ellipsis").join(lines))

    # -- what a person did -----------------------------------------------------------

    def action_finished(self, report: Report, count: int) -> None:
        summary = report.summary(self.monitor.labels)
        self.screen.toast(summary, timeout=8, severity="information"
                          if not (report.failed or report.refused) else "warning")
        if count > 1:
            self.screen.log_line(summary, ok=not report.failed)

    def rollout_progress(self, line: str, *, done: bool, ok: bool) -> None:
        """A rollout's progress line (it names instances by id): the banner names them by
        label, the event log by label and id."""
        bar = self.screen.query_one("#rollout", QuietStatic)
        if done:
            bar.display = False
            self.screen.toast(line, severity="information" if ok else "warning", timeout=15)
            return
        labels = self.monitor.labels
        self.screen.log_line("rollout: " + _ID.sub(
            lambda m: f"{labels[m[0]]} ({m[0]})" if m[0] in labels else m[0], line))
        bar.display = True
        named = _ID.sub(lambda m: labels.get(m[0], m[0]), line.strip())
        bar.show(Text(f"ROLLOUT {named}   (W cancels after this wave)", style="bold",
                      no_wrap=True, overflow="ellipsis"))

    def say_problems(self) -> None:
        """Once each, in the event log: the audit log or the history cannot be kept."""
        for problem in self.monitor.problems():
            if problem not in self._problems_said:
                self._problems_said.add(problem)
                self.screen.log_line(problem, ok=False)
                if problem == self.monitor.audit.error:
                    self.screen.toast(f"{problem}: actions still work but are not recorded",
                                      severity="error", timeout=15)
