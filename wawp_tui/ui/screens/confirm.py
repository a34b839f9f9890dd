"""Modal questions: a yes/no confirmation and a pick-one choice."""

from __future__ import annotations

from collections.abc import Callable

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Static


class ConfirmScreen(ModalScreen[bool]):
    """Asks y/n about one action; answers True (y / enter) or False (n / escape)."""

    BINDINGS = [
        Binding("y,enter", "answer(True)", "Yes", id="confirm.yes"),
        Binding("n,escape", "answer(False)", "No", id="confirm.no"),
    ]

    DEFAULT_CSS = """
    ConfirmScreen { align: center middle; }
    ConfirmScreen > Vertical {
        width: 72; max-width: 95%; height: auto; max-height: 90%;
        border: thick $warning; background: $surface; padding: 1 2;
    }
    ConfirmScreen #title { text-style: bold; color: $warning; }
    ConfirmScreen #keys { margin-top: 1; color: $text-muted; }
    """

    def __init__(self, title: str, body: str | Callable[[], str]) -> None:
        """`body`: the text, or a function giving it now (redrawn every second, so a
        countdown in it never goes stale while the question is open)."""
        super().__init__()
        self._title = title
        self._body = body

    def _text(self) -> str:
        return self._body() if callable(self._body) else self._body

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(self._title, id="title", markup=False)
            yield Static(self._text(), id="body", markup=False)
            yield Static("y / enter: yes    n / escape: no", id="keys", markup=False)

    def on_mount(self) -> None:
        if callable(self._body):
            self.set_interval(1.0, self.redraw)

    def redraw(self) -> None:
        """Take the body again (it is a function of the moment)."""
        self.query_one("#body", Static).update(self._text())

    @property
    def body_text(self) -> str:
        """What the body says now (tests and tools)."""
        return self._text()

    def action_answer(self, answer: bool) -> None:
        self.dismiss(answer)


class ChoiceScreen(ModalScreen[str | None]):
    """Pick one of a few actions by its key; escape cancels."""

    DEFAULT_CSS = """
    ChoiceScreen { align: center middle; }
    ChoiceScreen > Vertical {
        width: 72; max-width: 95%; height: auto;
        border: thick $primary; background: $surface; padding: 1 2;
    }
    ChoiceScreen #title { text-style: bold; color: $primary; }
    """

    BINDINGS = [Binding("escape,n", "pick(None)", "Cancel", id="choice.cancel")]

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
            lines = [f"{key}: {text}" for key, (_, text) in self._choices.items()]
            yield Static("\n".join(lines + ["escape: cancel"]), markup=False)

    def action_pick(self, value: str | None) -> None:
        self.dismiss(value)
