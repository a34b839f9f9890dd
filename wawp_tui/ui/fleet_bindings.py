"""The fleet screen's keys: one table, each with an id so it can be remapped (Textual's
keymap) and named in the help page and the command palette."""

from __future__ import annotations

from textual.binding import Binding

FLEET_BINDINGS: list[Binding | tuple[str, str] | tuple[str, str, str]] = [
    Binding("s", "act('start')", "Start", id="start", tooltip="Start the highlighted/selected instances"),
    Binding("x", "act('stop')", "Stop", id="stop", tooltip="Stop the highlighted/selected instances"),
    Binding("r", "act('restart')", "Restart", id="restart", tooltip="Restart (guarded by the runbook)"),
    Binding("R", "reset", "Reset", id="reset", tooltip="Full reset: stop, wait 5 s, start"),
    Binding("L", "act('logout')", "Logout", id="logout", show=False, tooltip="Log out: needs the phone"),
    Binding("space", "toggle_select", "Select", id="select", show=False,
            tooltip="Select / unselect, then move down (for bulk actions)"),
    Binding("enter", "open", "Detail/QR", id="detail", show=False,
            tooltip="Show the QR (SCAN_QR_CODE) or focus the detail pane"),
    Binding("slash", "filter", "Filter", id="filter",
            tooltip="Filter: words, tag:eu, status:failed, id:AB, a|b, !word, /regex"),
    Binding("p", "pause", "Pause", id="pause", show=False, tooltip="Pause / resume refreshing"),
    Binding("ctrl+r", "refresh", "Refresh", id="refresh", show=False,
            tooltip="Poll every instance now"),
    Binding("W", "waves", "Waves", id="waves", show=False,
            tooltip="Rolling restart/stop/start in waves of the selection or filtered rows"),
    Binding("c", "copy_id", "Copy id", id="copy", show=False, tooltip="Copy the instance id"),
    Binding("d", "describe", "Describe", id="describe", show=False,
            tooltip="Describe the highlighted instance on a page: every field, its guards, its history"),
    Binding("y", "raw_reply", "Raw reply", id="raw-reply", show=False,
            tooltip="The highlighted instance's last reply from the server, redacted, as JSON"),
    Binding("h", "history", "History", id="history", show=False, tooltip="Fleet timeline"),
    Binding("e", "events", "Events", id="events", show=False,
            tooltip="The event log as a page (it is hidden on narrow terminals)"),
    Binding("a", "toggle_auto_heal", "Auto-heal", id="auto-heal", show=False,
            tooltip="Auto-heal on (after a confirmation that says what it does) / off"),
    Binding("A", "acknowledge", "Ack", id="acknowledge", show=False,
            tooltip="Acknowledge every firing alert (they leave the alert strip; ! still lists them)"),
    Binding("exclamation_mark", "alerts", "Alerts", id="alerts", show=False,
            tooltip="The alerts by group, firing and recently resolved (A there acknowledges one)"),
    Binding("o", "sort_next", "Sort", id="sort", show=False,
            tooltip="Sort by the next column (status, label, guard, error, since, latency, id, tags)"),
    Binding("O", "sort_reverse", "Reverse sort", id="sort-reverse", show=False,
            tooltip="Reverse the sort order"),
    Binding("question_mark", "help", "Help", id="help", tooltip="Every key"),
    Binding("colon", "app.command_palette", "Commands", id="palette", show=False,
            tooltip="Command palette: every action by name, with its key"),
    Binding("escape", "clear", "Clear", id="clear", show=False, tooltip="Clear filter and selection"),
]
