"""Themes are data: shipped ones load, a broken user theme falls back with a notice."""

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
