"""Themes are data: shipped ones load, a broken user theme falls back with a notice."""

import os

import pytest

from wawp_tui.devtools import showcase
from wawp_tui.ui.theming import builtin_themes, theme_from_toml


def test_shipped_themes():
    names = {t.name for t in builtin_themes()}
    assert {"wawp-dark", "wawp-light", "wawp-high-contrast"} <= names


@pytest.mark.parametrize("text, words", [
    ("name = 'x'\nprimary = 'red'\nbogus = 1\n", "unknown key 'bogus'"),
    ("name = 'x'\n", "needs at least"),
    ("name = [", "invalid TOML"),
    # Nested past the parser's limits: said like any other invalid file, never a crash.
    ("name = 'x'\nprimary = 'red'\n" + ".".join(["k"] * 1500) + " = 1\n", "invalid TOML"),
    ("name = 'x'\nprimary = 'red'\nv = " + "[" * 450 + "]" * 450 + "\n", "invalid TOML"),
])
def test_invalid_theme_text(text, words):
    with pytest.raises(ValueError, match=words):
        theme_from_toml(text, "t.toml")


async def test_broken_user_theme_and_unknown_name_fall_back_with_a_notice():
    from wawp_tui.config import user_themes_dir

    themes = user_themes_dir()  # in the test's own HOME (conftest)
    themes.mkdir(parents=True)
    (themes / "mine.toml").write_text("name = 'mine'\nprimary = 'red'\ncolour = 'typo'\n")
    (themes / "good.toml").write_text("name = 'good'\nprimary = '#336699'\n")
    app, _, _ = showcase.frozen_demo_app("no-such-theme")
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        messages = [n.message for n in app._notifications]
        assert any("mine.toml" in m and "unknown key 'colour'" in m for m in messages)
        assert any("no theme named 'no-such-theme'" in m for m in messages)
        assert app.theme == "wawp-dark"
        assert "good" in app.available_themes
        app.theme = "wawp-high-contrast"  # what the command palette does
        await pilot.pause()
        assert app.theme == "wawp-high-contrast"


BAD_THEMES = {
    "bad1": ("name = 'bad1'\nprimary = 'notacolor'\n", "notacolor"),
    "bad2": ("name = 'bad2'\nprimary = '#ff0000'\n[variables]\nx = '[b]x'\n", "[b]x"),
    "bad3": ("name = 'bad3'\nprimary = '#ff0000'\ndark = 'maybe'\nbackground = '#zzzzzz'\n",
             "dark must be true or false"),
    "bad4": ("name = 'bad4'\nprimary = '#ff0000'\nbackground = '#zzzzzz'\n", "#zzzzzz"),
    "bad5": ("name = 'bad5'\nprimary = 5\n", "needs at least"),
    "bad6": ("name = 'bad6'\nprimary = '#ff0000'\naccent = 3\n", "accent must be a colour"),
    "bad7": ("name = 'bad7'\nprimary = '#ff0000'\n[variables]\nx = 1\n", "[variables]"),
}


@pytest.mark.parametrize("name", sorted(BAD_THEMES))
def test_a_theme_textual_would_reject_later_is_rejected_now(name):
    """Textual checks colours and variables only when a theme is applied, and a failure
    there is fatal: every one is checked while the file is read."""
    text, words = BAD_THEMES[name]
    with pytest.raises(ValueError) as caught:
        theme_from_toml(text, f"{name}.toml")
    assert words in str(caught.value) and "\n" not in str(caught.value)


@pytest.mark.parametrize("name", sorted(BAD_THEMES))
async def test_an_invalid_user_theme_asked_for_is_a_warning_and_the_default(name):
    """`--theme bad3` used to exit 70, `bad2` 'Error in stylesheet', and picking one in
    the command palette printed a traceback with locals."""
    from wawp_tui.config import user_themes_dir

    themes = user_themes_dir()
    themes.mkdir(parents=True)
    text, words = BAD_THEMES[name]
    (themes / f"{name}.toml").write_text(text)
    app, _, _ = showcase.frozen_demo_app(name)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        messages = [n.message for n in app._notifications]
        assert any(f"{name}.toml" in m and words in m for m in messages), messages
        assert any(f"no theme named {name!r}; using wawp-dark" in m for m in messages)
        assert all("\n" not in m for m in messages)
        assert app.theme == "wawp-dark" and app.is_running
        assert name not in app.available_themes


def test_a_theme_file_that_is_a_fifo_is_reported_not_read(tmp_path):
    from wawp_tui.ui.theming import user_themes

    (tmp_path / "good.toml").write_text("name = 'good'\nprimary = '#336699'\n")
    os.mkfifo(tmp_path / "fifo.toml")
    found, problems = user_themes(tmp_path)
    assert [t.name for t in found] == ["good"]
    assert [(p.path.endswith("fifo.toml"), "named pipe" in p.message) for p in problems] == [(True, True)]
