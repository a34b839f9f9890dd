"""The core modules never import Textual (the rule from style.md, checked, not hoped)."""

import subprocess
import sys

CORE = ["wawp_tui.client.api", "wawp_tui.client.bodies", "wawp_tui.config", "wawp_tui.core.fleet", "wawp_tui.core.poller",
        "wawp_tui.core.runbook", "wawp_tui.core.actions", "wawp_tui.core.autoheal", "wawp_tui.core.audit",
        "wawp_tui.simulator", "wawp_tui.commands.status", "wawp_tui.ui.qr_drawing", "wawp_tui.demo"]


def test_core_modules_do_not_import_textual():
    code = ("import sys\n"
            + "".join(f"import {m}\n" for m in CORE)
            + "bad = sorted(m for m in sys.modules if m == 'textual' or m.startswith('textual.'))\n"
            + "print(','.join(bad))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
