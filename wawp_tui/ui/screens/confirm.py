"""Modal questions: a yes/no confirmation and a pick-one choice."""

from __future__ import annotations

from collections.abc import Callable

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import ScrollableContainer, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from wawp_tui.ui.screens.scrolling import SCROLL_BINDINGS, Scrolling

#: Lines a dialog spends around its text (border, padding, title, keys): the text
#: scrolls in what is left, so the question and the keys always show.
DIALOG_CHROME = 10


class ConfirmScreen(Scrolling, ModalScreen[bool]):
    """Asks y/n about one action; answers True (y, or enter when `enter_confirms`) or
    False (n / escape). The question and the keys stay on screen; a long body (ten
    targets at 80x24) scrolls between them.

    `enter_confirms=False` for what acts on many instances or acts by itself (a bulk
    action, a rollout, auto-heal ON): only y says yes, so an enter pressed out of habit,
    or meant for the table underneath, cannot start it. The dialog says so.
    """

    BINDINGS = [
        Binding("y", "answer(True)", "Yes", id="confirm.yes"),
        Binding("enter", "enter", "Yes (single instance)", id="confirm.enter", show=False),
        Binding("n,escape", "answer(False)", "No", id="confirm.no"),
        *SCROLL_BINDINGS,
    ]

    DEFAULT_CSS = """
    ConfirmScreen { align: center middle; }
    ConfirmScreen > Vertical {
        width: 72; max-width: 95%; height: auto; max-height: 95%;
        border: thick $warning; background: $surface; padding: 1 2;
    }
    ConfirmScreen #title { text-style: bold; color: $warning; }
    ConfirmScreen #body-scroll { height: auto; max-height: 12; }
    ConfirmScreen #keys { margin-top: 1; color: $text-muted; }
    ConfirmScreen #keys.-nudged { color: $warning; text-style: bold; }
    """

    def __init__(self, title: str, body: str | Callable[[], str], *,
                 enter_confirms: bool = True, why_y: str = "") -> None:
        """`body`: the text, or a function giving it now (redrawn every second, so a
        countdown in it never goes stale while the question is open). `why_y`: why enter
        does not confirm ("it acts on 10 instances"), when it does not."""
        super().__init__()
        self._title = title
        self._body = body
        self.enter_confirms = enter_confirms
        self._why_y = why_y

    def _text(self) -> str:
        return self._body() if callable(self._body) else self._body

    @property
    def keys_text(self) -> str:
        """The keys line: what answers the question."""
        if self.enter_confirms:
            return "y / enter: yes    n / escape: no"
        why = f" ({self._why_y})" if self._why_y else ""
        return f"y: yes    n / escape: no    enter does not confirm{why}: press y"

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(self._title, id="title", markup=False)
            with VerticalScroll(id="body-scroll", can_focus=False):
                yield Static(self._text(), id="body", markup=False)
            yield Static(self.keys_text, id="keys", markup=False)

    def on_mount(self) -> None:
        self._fit()
        if callable(self._body):
            self.set_interval(1.0, self.redraw)

    def on_resize(self) -> None:
        self._fit()

    def _fit(self) -> None:
        """The body gets what the terminal has left after the question and the keys."""
        height = self.app.size.height
        self.query_one("#body-scroll").styles.max_height = max(3, int(height * 0.95) - DIALOG_CHROME)

    def redraw(self) -> None:
        """Take the body again (it is a function of the moment)."""
        self.query_one("#body", Static).update(self._text())

    def scroller(self) -> ScrollableContainer:
        return self.query_one("#body-scroll", VerticalScroll)

    @property
    def body_text(self) -> str:
        """What the body says now (tests and tools)."""
        return self._text()

    def action_answer(self, answer: bool) -> None:
        self.dismiss(answer)

    def action_enter(self) -> None:
        """enter: yes for a single instance; otherwise nothing is sent, and the keys
        line says to press y."""
        if self.enter_confirms:
            self.dismiss(True)
            return
        self.query_one("#keys").add_class("-nudged")
        self.app.bell()


class ChoiceScreen(Scrolling, ModalScreen[str | None]):
    """Pick one of a few actions by its key; escape cancels."""

    DEFAULT_CSS = """
    ChoiceScreen { align: center middle; }
    ChoiceScreen > Vertical {
        width: 72; max-width: 95%; height: auto; max-height: 95%;
        border: thick $primary; background: $surface; padding: 1 2;
    }
    ChoiceScreen #title { text-style: bold; color: $primary; }
    ChoiceScreen #choices { height: auto; }
    """

    BINDINGS = [Binding("escape,n", "pick(None)", "Cancel", id="choice.cancel"), *SCROLL_BINDINGS]

    def __init__(self, title: str, choices: dict[str, tuple[str, str]]) -> None:
        """`choices`: key -> (value, description)."""
        super().__init__()
        self._title = title
        self._choices = choices
        for key, (value, _) in choices.items():
            self._bindings.bind(key, f"pick({value!r})", show=False)

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(self._title, id="title", markup=False)
            with VerticalScroll(id="choices", can_focus=False):
                lines = [f"{key}: {text}" for key, (_, text) in self._choices.items()]
                yield Static("\n".join(lines + ["escape: cancel"]), markup=False)

    def scroller(self) -> ScrollableContainer:
        return self.query_one("#choices", VerticalScroll)

    def action_pick(self, value: str | None) -> None:
        self.dismiss(value)
