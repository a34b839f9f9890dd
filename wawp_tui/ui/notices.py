"""Notices: what the operator is told, and how loudly.

Event log lines, toasts (plain text), the bell, the newest alert in the summary line,
and the problems that stop the audit log or the history from being kept.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text

from wawp_tui.core import Report
from wawp_tui.models import FAILED, SCAN_QR_CODE, UNREACHABLE
from wawp_tui.ui.widgets.quiet_static import QuietStatic

if TYPE_CHECKING:
    from wawp_tui.ui.fleet_screen import FleetScreen

#: Transitions into these words raise an alert (notification + bell).
ALERT_WORDS = {FAILED, SCAN_QR_CODE, UNREACHABLE}


class Notices:
    """The telling half of the fleet screen."""

    def __init__(self, screen: FleetScreen) -> None:
        self.screen = screen
        self.monitor = screen.monitor
        #: The newest alert, shown in the summary line for a while: (at, text).
        self.last_alert: tuple[float, str] | None = None
        self._problems_said: set[str] = set()

    def status_alert(self, instance_id: str, word: str) -> None:
        """An instance moved to a new word: a log line; an alert when it is a problem."""
        st = self.monitor.state(instance_id)
        text = f"{st.label} ({st.id}) -> {word}" + (f": {st.last_error}" if st.failures else "")
        alarming = word in ALERT_WORDS
        self.screen.log_line(text, ok=not alarming)
        if alarming:
            self.last_alert = (self.monitor.clock(), text)
            self.screen.painter.chrome(detail=False)
            self.screen.toast(text, title="new problem", severity="error", timeout=10)
            if self.screen.bell_enabled:
                self.screen.app.bell()

    def action_finished(self, report: Report, count: int) -> None:
        summary = report.summary(self.monitor.labels)
        self.screen.toast(summary, timeout=8, severity="information"
                          if not (report.failed or report.refused) else "warning")
        if count > 1:
            self.screen.log_line(summary, ok=not report.failed)

    def rollout_progress(self, line: str, *, done: bool, ok: bool) -> None:
        bar = self.screen.query_one("#rollout", QuietStatic)
        if done:
            bar.display = False
            self.screen.toast(line, severity="information" if ok else "warning", timeout=15)
            return
        self.screen.log_line(f"rollout: {line}")
        bar.display = True
        bar.show(Text(f"ROLLOUT {line.strip()}   (W cancels after this wave)", style="bold"))

    def say_problems(self) -> None:
        """Once each, in the event log: the audit log or the history cannot be kept."""
        for problem in self.monitor.problems():
            if problem not in self._problems_said:
                self._problems_said.add(problem)
                self.screen.log_line(problem, ok=False)
                if problem == self.monitor.audit.error:
                    self.screen.toast(f"{problem}: actions still work but are not recorded",
                                      severity="error", timeout=15)
