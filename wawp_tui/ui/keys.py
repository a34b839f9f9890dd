"""The keys of a screen as bound now, one entry per action: for the help page and the
command palette, so both show remapped keys as remapped and neither can drift from the
bindings themselves."""

from __future__ import annotations

from dataclasses import dataclass

from textual.binding import Binding
from textual.dom import DOMNode
from textual.keys import key_to_character
from textual.screen import Screen

#: The help page's sections, and what goes in each, in order: our bindings by id (a
#: remapped binding keeps its id), Textual's own (which have none) by action.
SECTIONS: dict[str, tuple[str, ...]] = {
    "Actions": ("start", "stop", "restart", "reset", "logout", "waves", "select", "auto-heal"),
    "Navigation": ("cursor-down", "cursor-up", "half-page-down", "half-page-up", "page-down",
                   "page-up", "top", "bottom", "scroll-left", "scroll-right", "page_left",
                   "page_right", "focus_next", "focus_previous"),
    "View": ("detail", "describe", "raw-reply", "filter", "clear", "sort", "sort-reverse", "pause",
             "refresh", "alerts", "acknowledge", "events", "history", "help"),
    "Other": ("palette", "command_palette", "copy", "quit", "copy_text"),
}
#: Where a binding that no section names goes.
FALLBACK_SECTION = "Other"
_PLACE = {name: (section, n) for section, names in SECTIONS.items() for n, name in enumerate(names)}

#: How keys are spelled for people where Textual's name is not the character.
KEY_NAMES = {"slash": "/", "pageup": "PgUp", "pagedown": "PgDn", "home": "Home", "end": "End"}
#: Bindings of Textual's own that this app does not offer (ctrl+c quits here; in a text
#: field it still copies): left out of the help and the palette.
HIDDEN_ACTIONS = frozenset({"copy_text"})


def key_name(key: str) -> str:
    """ "ctrl+home" -> "ctrl+Home", "question_mark" -> "?", "exclamation_mark" -> "!":
    keys as people write them."""
    *modifiers, last = key.split("+")
    name = KEY_NAMES.get(last)
    if name is None:
        char = key_to_character(last)
        name = char if char is not None and len(char) == 1 and char.isprintable() and char != " " \
            else last
    return "+".join([*modifiers, name])


@dataclass
class BoundKeys:
    """One action and every key that reaches it now."""

    keys: list[str]
    binding: Binding
    #: Where the action runs (the widget, screen or app that holds the binding).
    node: DOMNode

    @property
    def section(self) -> str:
        """Its section on the help page."""
        return _place(self.binding)[0]

    @property
    def what(self) -> str:
        """What the action does, in a few words."""
        return self.binding.tooltip or self.binding.description or self.binding.action

    @property
    def shown_keys(self) -> str:
        """ "j, down" """
        return ", ".join(key_name(k) for k in self.keys)


def _place(binding: Binding) -> tuple[str, int]:
    """(section, rank in it) of a binding: by its id, else by its action's name."""
    bare = binding.action.split("(", 1)[0].rsplit(".", 1)[-1]  # "app.quit" -> "quit"
    return _PLACE.get(binding.id or "") or _PLACE.get(bare) or (FALLBACK_SECTION, len(_PLACE))


def bound_keys(screen: Screen) -> list[BoundKeys]:
    """Every action a key reaches on `screen` now (after the keymap, shadowed keys left
    out), its keys together, in SECTIONS order; system and super+ keys are left out."""
    found: dict[tuple[int, str], BoundKeys] = {}
    for key, active in screen.active_bindings.items():
        binding = active.binding
        if binding.system or key.startswith("super+") \
                or binding.action.rsplit(".", 1)[-1] in HIDDEN_ACTIONS:
            continue
        # "app.quit" bound on the screen and "quit" bound on the app are one action.
        target = screen.app if binding.action.startswith("app.") else active.node
        action = binding.action.removeprefix("app.")
        entry = found.get((id(target), action))
        if entry is None:
            found[(id(target), action)] = BoundKeys([key], binding, active.node)
            continue
        entry.keys.append(key)
        if entry.binding.id is None:  # ours (with an id) say it better than Textual's
            entry.binding, entry.node = binding, active.node
    for entry in found.values():
        entry.keys.sort(key=lambda k: k.count("+"))  # plain keys first: "Home, g, ctrl+Home"
    sections = list(SECTIONS)

    def order(entry: BoundKeys) -> tuple[int, int]:
        section, rank = _place(entry.binding)
        return sections.index(section), rank

    return sorted(found.values(), key=order)
