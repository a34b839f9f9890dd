"""Themes are data: TOML files shipped with the package and dropped in by users.

A user's theme is checked in full before it is registered: Textual checks colours and
variables only when a theme is applied, and a failure there is fatal (a traceback with
locals on the terminal, or "Error in stylesheet"). So every colour is parsed, `dark` must
be true or false, and every variable is tokenized as the stylesheet will; a theme that
fails any of it is reported in one line and never offered.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import tomli
from textual.app import App
from textual.css.stylesheet import Stylesheet
from textual.theme import Theme

from wawp_tui.config import user_themes_dir
from wawp_tui.files import read_small
from wawp_tui.safe_text import clean

DEFAULT_THEME = "wawp-dark"
#: The wall's default: read from across a room.
HIGH_CONTRAST = "wawp-high-contrast"
#: A theme name is shown in the command palette: keep it a plain word.
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,39}")
_FIELDS = ("name", "primary", "secondary", "accent", "warning", "error", "success",
           "foreground", "background", "surface", "panel", "boost", "dark")
#: A variable name as the stylesheet writes it ($footer-key-foreground).
_VARIABLE = re.compile(r"[A-Za-z][A-Za-z0-9_-]{0,63}")
#: Largest theme file read (a theme is a few hundred bytes).
MAX_THEME_BYTES = 64 * 1024


@dataclass(frozen=True)
class ThemeProblem:
    """A theme file that could not be used, and why (shown as a notification)."""

    path: str
    message: str


def theme_from_toml(text: str, source: str) -> Theme:
    """One Theme from the text of a theme file (ValueError with a reason if invalid)."""
    try:
        data = tomli.loads(text)
    except (tomli.TOMLDecodeError, RecursionError) as exc:
        raise ValueError(f"invalid TOML: {str(exc) or 'nested too deeply'}") from None
    unknown = sorted(set(data) - set(_FIELDS) - {"variables"})
    if unknown:
        raise ValueError(f"unknown key {unknown[0]!r} (allowed: {', '.join(_FIELDS)})")
    if not isinstance(data.get("name"), str) or not isinstance(data.get("primary"), str):
        raise ValueError("needs at least 'name' and 'primary'")
    if not _NAME.fullmatch(data["name"]):
        raise ValueError("name may hold only letters, digits, '-', '_' and '.' (1 to 40), "
                         "e.g. name = \"my-wall\"")
    for key in _FIELDS[1:-1]:
        if key in data and not isinstance(data[key], str):
            raise ValueError(f"{key} must be a colour string like \"#336699\"")
    if "dark" in data and not isinstance(data["dark"], bool):
        raise ValueError("dark must be true or false")
    variables = data.get("variables", {})
    if not isinstance(variables, dict) or not all(
            isinstance(k, str) and _VARIABLE.fullmatch(k) and isinstance(v, str)
            for k, v in variables.items()):
        raise ValueError("[variables] must map names (letters, digits, '-') to strings")
    try:
        theme = Theme(**data)
        _check_applies(theme)
    except Exception as exc:  # noqa: BLE001 - whatever Textual raises: report, never crash
        raise ValueError(clean(exc, 160) or type(exc).__name__) from None
    return theme


def _check_applies(theme: Theme) -> None:
    """Do now what applying the theme would do later: generate its colour system (every
    colour parsed) and tokenize its variables in a stylesheet."""
    variables = theme.to_color_system().generate()
    variables.update(theme.variables)
    stylesheet = Stylesheet(variables=variables)
    stylesheet.add_source("Screen { color: $foreground; }", read_from=("theme", ""))
    stylesheet.parse()


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
            text = read_small(path, MAX_THEME_BYTES).decode("utf-8")
            themes.append(theme_from_toml(text, str(path)))
        except OSError as exc:
            problems.append(ThemeProblem(str(path), f"cannot read: {exc.strerror or exc}"))
        except (ValueError, UnicodeDecodeError) as exc:
            problems.append(ThemeProblem(str(path), clean(exc, 200)))
    return themes, problems


def install(app: App[Any], wanted: str | None, fallback: str = DEFAULT_THEME) -> list[ThemeProblem]:
    """Register the shipped themes and the user's on `app`, then apply `wanted` (or
    `fallback` when there is none by that name); what went wrong, to tell the user."""
    for theme in builtin_themes():
        app.register_theme(theme)
    found, problems = user_themes(user_themes_dir())
    for theme in found:
        app.register_theme(theme)
    problems = list(problems)
    name = wanted or fallback
    if name not in app.available_themes:
        problems.append(ThemeProblem(name, f"no theme named {name!r}; using {fallback}"))
        name = fallback
    app.theme = name
    return problems
