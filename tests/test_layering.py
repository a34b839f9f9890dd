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


def test_no_module_imports_itself_through_others():
    """No import cycle between our modules, annotations included: a helper that needs
    its owner's type sees it through a protocol (ui/fleet_view.py, rollout.Driver)."""
    import grimp

    graph = grimp.build_graph("wawp_tui", exclude_type_checking_imports=False)
    modules = sorted(graph.modules)
    edges = {m: sorted(graph.find_modules_directly_imported_by(m)) for m in modules}
    cycles: list[list[str]] = []
    state: dict[str, int] = {}  # 1 on the path, 2 done

    def visit(module: str, path: list[str]) -> None:
        state[module] = 1
        for nxt in edges[module]:
            # A package's __init__ that hands its modules' names on is not a cycle.
            if module.startswith(nxt + "."):
                continue
            if state.get(nxt) == 1:
                cycles.append(path[path.index(nxt):] + [nxt])
            elif nxt not in state:
                visit(nxt, path + [nxt])
        state[module] = 2

    for module in modules:
        if module not in state:
            visit(module, [module])
    assert cycles == []


def test_every_library_the_package_imports_is_declared():
    """A library the code imports but pyproject.toml does not name works on this machine
    (something else pulled it in) and breaks on a fresh install."""
    import ast
    import re
    import tomllib
    from importlib.metadata import packages_distributions
    from pathlib import Path

    root = Path(wawp_tui.__file__).parent
    project = tomllib.loads((root.parent / "pyproject.toml").read_text())["project"]

    def names(requirements):
        return {re.split(r"[<>=!~;\[ ]", r, maxsplit=1)[0].lower().replace("_", "-")
                for r in requirements}

    declared = names(project["dependencies"])
    for_tools = declared | names(project["optional-dependencies"]["test"])
    distributions = packages_distributions()
    missing = []
    for path in sorted(root.rglob("*.py")):
        allowed = for_tools if "devtools" in path.parts else declared
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                tops = [alias.name.split(".")[0] for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
                tops = [node.module.split(".")[0]]
            else:
                continue
            for top in tops:
                if top in sys.stdlib_module_names or top == "wawp_tui" or top == "__future__":
                    continue
                dists = {d.lower().replace("_", "-") for d in distributions.get(top, [top])}
                if not dists & allowed:
                    missing.append(f"{path.relative_to(root.parent)}: {top} ({', '.join(sorted(dists))})")
    assert not missing, "imported but not declared in pyproject.toml:\n" + "\n".join(missing)
