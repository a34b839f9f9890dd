"""The core modules never import Textual (the rule from style.md, checked, not hoped)."""

import subprocess
import sys

CORE = ["wawp_tui.api", "wawp_tui.bodies", "wawp_tui.config", "wawp_tui.fleet", "wawp_tui.poller",
        "wawp_tui.runbook", "wawp_tui.actions", "wawp_tui.autoheal", "wawp_tui.audit",
        "wawp_tui.simulator", "wawp_tui.status_report", "wawp_tui.qr", "wawp_tui.demo"]


def test_core_modules_do_not_import_textual():
    code = ("import sys\n"
            + "".join(f"import {m}\n" for m in CORE)
            + "bad = sorted(m for m in sys.modules if m == 'textual' or m.startswith('textual.'))\n"
            + "print(','.join(bad))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
