"""Nothing outside the UI and the developer tools imports Textual (checked, not hoped):
every module of the package is walked, so a new one cannot slip past a hand-made list."""

import pkgutil
import subprocess
import sys

import wawp_tui

#: Where Textual belongs: the screen, and the tools that drive it.
SCREEN_PACKAGES = ("wawp_tui.ui", "wawp_tui.devtools")
#: Modules that start the screen when imported as a program (not imported here).
ENTRY_POINTS = {"wawp_tui.__main__"}


def modules_outside_the_screen() -> list[str]:
    found = []
    for info in pkgutil.walk_packages(wawp_tui.__path__, prefix="wawp_tui."):
        name = info.name
        if name in ENTRY_POINTS or name.startswith(SCREEN_PACKAGES):
            continue
        found.append(name)
    return found


def test_the_walk_finds_the_core_and_the_commands():
    names = modules_outside_the_screen()
    for expected in ("wawp_tui.core.monitor", "wawp_tui.core.rollout", "wawp_tui.commands.status",
                     "wawp_tui.client.api", "wawp_tui.importer", "wawp_tui.models", "wawp_tui.cli"):
        assert expected in names


def test_no_module_outside_the_screen_imports_textual():
    code = ("import sys\n"
            + "".join(f"import {m}\n" for m in modules_outside_the_screen())
            # (Rich is not checked here: httpx imports it for its own command line when it is
            # installed; import-linter holds our modules to "no rich" directly.)
            + "bad = sorted(m for m in sys.modules if m.split('.')[0] == 'textual')\n"
            + "print(','.join(bad))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
