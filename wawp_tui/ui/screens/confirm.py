"""Modal questions: a yes/no confirmation and a pick-one choice."""

from __future__ import annotations

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

    def __init__(self, title: str, body: str) -> None:
        super().__init__()
        self._title = title
        self._body = body

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(self._title, id="title", markup=False)
            yield Static(self._body, id="body", markup=False)
            yield Static("y / enter: yes    n / escape: no", id="keys", markup=False)

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
