"""Themes are data: TOML files shipped with the package and dropped in by users."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from textual.theme import Theme

DEFAULT_THEME = "wawp-dark"
#: A theme name is shown in the command palette: keep it a plain word.
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,39}")
_FIELDS = ("name", "primary", "secondary", "accent", "warning", "error", "success",
           "foreground", "background", "surface", "panel", "boost", "dark")


@dataclass(frozen=True)
class ThemeProblem:
    """A theme file that could not be used, and why (shown as a notification)."""

    path: str
    message: str


def theme_from_toml(text: str, source: str) -> Theme:
    """One Theme from the text of a theme file (ValueError with a reason if invalid)."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"invalid TOML: {exc}") from None
    unknown = sorted(set(data) - set(_FIELDS) - {"variables"})
    if unknown:
        raise ValueError(f"unknown key {unknown[0]!r} (allowed: {', '.join(_FIELDS)})")
    if not isinstance(data.get("name"), str) or not isinstance(data.get("primary"), str):
        raise ValueError("needs at least 'name' and 'primary'")
    if not _NAME.fullmatch(data["name"]):
        raise ValueError("name may hold only letters, digits, '-', '_' and '.' (1 to 40), "
                         "e.g. name = \"my-wall\"")
    try:
        return Theme(**data)
    except Exception as exc:  # noqa: BLE001 - Textual validates colours lazily; report, never crash
        raise ValueError(str(exc)) from None


def builtin_themes() -> list[Theme]:
    """The themes shipped inside the package."""
    folder = resources.files("wawp_tui") / "themes"
    themes = []
    for entry in sorted(folder.iterdir(), key=lambda p: p.name):
        if entry.name.endswith(".toml"):
            themes.append(theme_from_toml(entry.read_text("utf-8"), entry.name))
    return themes


def user_themes(folder: Path) -> tuple[list[Theme], list[ThemeProblem]]:
    """Themes from the user's folder; invalid files are reported, not fatal."""
    themes: list[Theme] = []
    problems: list[ThemeProblem] = []
    if not folder.is_dir():
        return themes, problems
    for path in sorted(folder.glob("*.toml")):
        try:
            themes.append(theme_from_toml(path.read_text("utf-8"), str(path)))
        except (OSError, ValueError) as exc:
            problems.append(ThemeProblem(str(path), str(exc)))
    return themes, problems
