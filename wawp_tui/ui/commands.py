"""FleetCommands: every key of the fleet screen, also in the command palette (ctrl+p, :)."""

from __future__ import annotations

from functools import partial

from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.dom import DOMNode

from wawp_tui.ui.keys import BoundKeys, bound_keys

#: Opening the palette is no command to run from inside it.
_NOT_COMMANDS = {"command_palette", "app.command_palette"}


class FleetCommands(Provider):
    """One command per action a key reaches on the fleet screen (navigation and sort
    included), named by what it does, with its key as bound now (remapped or not)."""

    def commands(self) -> list[tuple[str, str, str, DOMNode]]:
        """(text, help, action, where it runs) for every action of the fleet screen."""
        screen = getattr(self.app, "fleet_screen", None)
        if screen is None or not screen.is_mounted:
            return []
        return [(self._text(entry), f"key: {entry.shown_keys}", entry.binding.action, entry.node)
                for entry in bound_keys(screen) if entry.binding.action not in _NOT_COMMANDS]

    @staticmethod
    def _text(entry: BoundKeys) -> str:
        name, what = entry.binding.description, entry.what
        return f"{name}: {what}" if name and name != what else what

    def _run(self, action: str, node: DOMNode) -> object:
        return self.app.run_action(action, node)

    async def discover(self) -> Hits:
        for text, help_text, action, node in self.commands():
            yield DiscoveryHit(text, partial(self._run, action, node), help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for text, help_text, action, node in self.commands():
            score = matcher.match(text)
            if score > 0:
                yield Hit(score, matcher.highlight(text), partial(self._run, action, node), text=text,
                          help=help_text)
