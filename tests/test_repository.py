"""The repository holds source, not build output: no wheel, archive, compiled file or
virtual environment is tracked, and every library the tests import is declared (so a
fresh `pip install -e '.[test]'` brings it, instead of a wheel committed beside the code)."""

from __future__ import annotations

import ast
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
#: Endings of build artefacts and binaries (a wheel is a zip; a .so is machine code).
ARTEFACT_ENDINGS = (".whl", ".tar.gz", ".tgz", ".zip", ".egg", ".so", ".pyd", ".pyc", ".pyo",
                    ".o", ".a", ".dll", ".dylib", ".exe", ".jar", ".class", ".deb", ".rpm")
#: Folders that only a build, a virtual environment or a tool's cache makes.
ARTEFACT_FOLDERS = {"dist", "build", "__pycache__", ".venv", "venv", ".ci-venv", "node_modules",
                    ".mypy_cache", ".pytest_cache", ".ruff_cache", ".hypothesis"}
#: The largest file worth keeping in the repository (the biggest screenshot is ~120 KB).
MAX_TRACKED_BYTES = 1_000_000


def tracked_files() -> list[str]:
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout (needs git and the repository's .git)")
    out = subprocess.run(["git", "-C", str(ROOT), "ls-files", "-z"], capture_output=True,
                         check=True)
    return [name for name in out.stdout.decode("utf-8", "surrogateescape").split("\0") if name]


def artefact_reason(name: str, head: bytes, size: int) -> str | None:
    """Why a tracked file is a binary or a build artefact, or None when it is source."""
    parts = name.split("/")
    if any(part in ARTEFACT_FOLDERS or part.endswith(".egg-info") for part in parts[:-1]):
        return "inside a build, cache or virtual-environment folder"
    if name.lower().endswith(ARTEFACT_ENDINGS):
        return "a build artefact or archive"
    if b"\0" in head and not (len(parts) == 2 and parts[0] == "screenshots"
                              and name.endswith(".png") and head.startswith(b"\x89PNG\r\n\x1a\n")):
        # (A PNG in screenshots/ is documentation, as the SVGs are: the wall page in a
        # browser, which no terminal renders to SVG.)
        return "binary (holds NUL bytes)"
    if size > MAX_TRACKED_BYTES:
        return f"{size} bytes (over {MAX_TRACKED_BYTES})"
    return None


def test_the_rule_recognises_what_it_must_refuse():
    assert artefact_reason("trustme-1.2.1-py3-none-any.whl", b"PK\x03\x04", 16_000)
    assert artefact_reason("wawp_tui/__pycache__/cli.cpython-311.pyc", b"", 10)
    assert artefact_reason("wawp_tui.egg-info/PKG-INFO", b"Name: x", 10)
    assert artefact_reason("blob.bin", b"\x7fELF\x02\x01\x01\0", 10)
    assert artefact_reason("wawp_tui/cli.py", b"import os\n", 10_000) is None
    assert artefact_reason("screenshots/fleet.svg", b"<svg", 116_000) is None
    assert artefact_reason("screenshots/wall-browser.png", b"\x89PNG\r\n\x1a\n\0\0", 60_000) is None
    assert artefact_reason("wawp_tui/logo.png", b"\x89PNG\r\n\x1a\n\0\0", 60_000)
    assert artefact_reason("screenshots/fake.png", b"\x7fELF\0", 60_000)


def test_no_binary_or_build_artefact_is_tracked():
    found = []
    for name in tracked_files():
        path = ROOT / name
        if path.is_symlink() or not path.is_file():
            continue  # (themes -> wawp_tui/themes; a file deleted but not yet committed)
        with open(path, "rb") as handle:
            head = handle.read(8000)
        reason = artefact_reason(name, head, path.stat().st_size)
        if reason:
            found.append(f"{name}: {reason}")
    assert not found, ("tracked files that belong in no repository (declare a dependency in "
                       "pyproject.toml instead, or add the folder to .gitignore):\n"
                       + "\n".join(found))


def test_every_library_the_tests_import_is_declared():
    """A test that imports a library only installed by hand (or from a committed wheel)
    passes here and fails in a fresh CI environment."""
    from importlib.metadata import packages_distributions

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]

    def names(requirements: list[str]) -> set[str]:
        return {re.split(r"[<>=!~;\[ ]", r, maxsplit=1)[0].lower().replace("_", "-")
                for r in requirements}

    declared = names(project["dependencies"]) | names(project["optional-dependencies"]["test"])
    distributions = packages_distributions()
    missing = []
    for path in sorted((ROOT / "tests").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                tops = [alias.name.split(".")[0] for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
                tops = [node.module.split(".")[0]]
            else:
                continue
            for top in tops:
                if top in sys.stdlib_module_names or top in ("wawp_tui", "tests", "__future__"):
                    continue
                dists = {d.lower().replace("_", "-") for d in distributions.get(top, [top])}
                if not dists & declared:
                    missing.append(f"{path.relative_to(ROOT)}: {top}")
    assert not missing, "imported by the tests but not declared:\n" + "\n".join(missing)
