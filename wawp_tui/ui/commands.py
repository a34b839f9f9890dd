"""FleetCommands: every key of the fleet screen, also in the command palette (ctrl+p)."""

from __future__ import annotations

from functools import partial

from textual.command import DiscoveryHit, Hit, Hits, Provider


class FleetCommands(Provider):
    """One command per fleet-screen binding, named by what it does, with its key."""

    def _commands(self) -> list[tuple[str, str, str]]:
        """(text, help, action) for every binding of the fleet screen."""
        screen = getattr(self.app, "fleet_screen", None)
        if screen is None:
            return []
        found = []
        for binding in screen.BINDINGS:
            description = binding.tooltip or binding.description
            key = binding.key.replace("question_mark", "?").replace("slash", "/")
            found.append((f"{binding.description}: {description}", f"key: {key}", binding.action))
        return found

    def _run(self, action: str) -> object:
        return self.app.run_action(action, self.app.fleet_screen)  # type: ignore[attr-defined]

    async def discover(self) -> Hits:
        for text, help_text, action in self._commands():
            yield DiscoveryHit(text, partial(self._run, action), help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for text, help_text, action in self._commands():
            score = matcher.match(text)
            if score > 0:
                yield Hit(score, matcher.highlight(text), partial(self._run, action), text=text,
                          help=help_text)
