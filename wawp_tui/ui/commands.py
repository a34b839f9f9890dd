"""FleetCommands: every key of the fleet screen, also in the command palette (ctrl+p, :),
and the views k9s users reach with `:` (:failed, :scanqr, :stuck, :stale, :all)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.dom import DOMNode

from wawp_tui.ui.keys import BoundKeys, bound_keys
from wawp_tui.ui.row_filter import VIEWS

#: Opening the palette is no command to run from inside it.
_NOT_COMMANDS = {"command_palette", "app.command_palette"}


@dataclass
class _OursFirst(DiscoveryHit):
    """A discovery hit of this app: listed before Textual's own (theme, screenshot...).
    The palette orders what it discovers by score, and every DiscoveryHit scores 0: ours
    score a little above, decreasing in the order they are yielded."""

    order: float = 1.0

    @property
    def score(self) -> float:
        return self.order


class FleetCommands(Provider):
    """One command per action a key reaches on the fleet screen (navigation and sort
    included), named by what it does, with its key as bound now (remapped or not); and
    one per view."""

    def commands(self) -> list[tuple[str, str, Callable[[], object]]]:
        """(text, help, what runs) for every view and action of the fleet screen."""
        screen = getattr(self.app, "fleet_screen", None)
        if screen is None or not screen.is_mounted:
            return []
        views: list[tuple[str, str, Callable[[], object]]] = [
            (f":{name}  view: {what}", f"filter: {expression}" if expression else "no filter",
             partial(screen.show_view, name)) for name, (what, expression) in VIEWS.items()]
        keys = [(self._text(entry), f"key: {entry.shown_keys}",
                 partial(self._run, entry.binding.action, entry.node))
                for entry in bound_keys(screen) if entry.binding.action not in _NOT_COMMANDS]
        return views + keys

    @staticmethod
    def _text(entry: BoundKeys) -> str:
        name, what = entry.binding.description, entry.what
        return f"{name}: {what}" if name and name != what else what

    def _run(self, action: str, node: DOMNode) -> object:
        return self.app.run_action(action, node)

    async def discover(self) -> Hits:
        found = self.commands()
        for n, (text, help_text, command) in enumerate(found):
            yield _OursFirst(text, command, help=help_text, order=1.0 - n / (len(found) + 1))

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for text, help_text, command in self.commands():
            score = matcher.match(text)
            if score > 0:
                yield Hit(score, matcher.highlight(text), command, text=text, help=help_text)
