"""WallScreen: the fleet for a monitor on a wall, read from across a room.

Big counts per status word (worst first), a clock and the age of the data, the alerts
(NEW for a minute, then ongoing: a wall has no hands to acknowledge them), and the
problems by label with their age, a page at a time. Nothing is selectable and nothing
acts: the only keys are q and ?.

It reads a WallSource (a local Monitor, or one a hub feeds) and counts through a Tally,
as the fleet screen's summary does: polled instances are recounted when their polls
land, the others when the runbook says their word can change with time alone.
"""

from __future__ import annotations

from collections.abc import Callable

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid, Horizontal
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import Static

from wawp_tui.core import Event, Polled, StateTouched
from wawp_tui.ui import formatting as view
from wawp_tui.ui import wall_problems as problems_view
from wawp_tui.ui import wall_view as wall
from wawp_tui.ui.keys import bound_keys
from wawp_tui.ui.messages import FleetChanged
from wawp_tui.ui.screens.text_page import TextScreen
from wawp_tui.ui.tally import Tally
from wawp_tui.ui.widgets.count_tile import CountTile
from wawp_tui.ui.widgets.key_footer import KeyFooter
from wawp_tui.ui.widgets.quiet_static import QuietStatic

#: Polls that land together are drawn together, this long after the first.
FLUSH_DELAY = 0.25
#: Seconds (of the app's clock) the help page stays up: nobody is there to close it.
HELP_LASTS = 60.0
#: The tile that stands for the words beyond the rows of tiles (a hostile server's
#: thousand made-up status words must not push everything else off the wall).
OTHER = "+ OTHER"


class ProblemList(QuietStatic):
    """The problems' box: how many fit is known once the layout has placed it, so it is
    drawn again whenever its size changes (an outage banner came, the tiles grew)."""

    def __init__(self, on_resize: Callable[[], None], **kwargs: str) -> None:
        super().__init__(**kwargs)
        self._resized = on_resize

    def on_resize(self) -> None:
        self._resized()


class WallScreen(Screen[None]):
    """The wall (see the module docstring)."""

    BINDINGS = [
        Binding("q", "app.quit", "Quit", id="quit"),
        Binding("question_mark", "help", "Help", id="help"),
    ]
    AUTO_FOCUS = None

    def __init__(self, source: wall.WallSource, *, title: str = "",
                 lost: Callable[[], str | None] | None = None) -> None:
        super().__init__()
        self.source = source
        #: Why the feed itself is gone (a hub unreachable), or None: STALE at once.
        self.lost = lost or (lambda: None)
        self.clock = source.clock
        #: Which fleet this is, before its size in the header ("demo", a hub's address).
        self.title_text = title
        self.palette = view.Palette({})
        self.tally = Tally(source, rows=False)
        self._dirty: set[str] = set()
        self._posted = False
        self._timer: Timer | None = None
        self._tiles: dict[str, CountTile] = {}
        self._problems: tuple[tuple[object, ...], list[str], int] | None = None
        self._help: TextScreen | None = None
        self._help_at = 0.0
        self._mounted = False

    def compose(self) -> ComposeResult:
        yield QuietStatic(id="wall-header")
        yield QuietStatic(id="wall-banner")
        yield Grid(id="tiles")
        yield QuietStatic(id="wall-alerts")
        yield ProblemList(self._draw_problems, id="wall-problems")
        with Horizontal(id="wall-bottom"):
            yield Static("WALL: read-only, nothing here acts", id="wall-mode")
            yield KeyFooter(compact=True)

    def on_mount(self) -> None:
        self.source.subscribe(self._on_event)
        self.restyle()
        self.tally.recount(self.clock())
        self._mounted = True
        self.draw()
        self.set_interval(1.0, self.beat)

    # -- what comes in ---------------------------------------------------------------

    def _on_event(self, event: Event) -> None:
        """Called by the source, on the event loop: remember who changed; one message
        per batch (a thousand polls landing together cost one redraw)."""
        if isinstance(event, (Polled, StateTouched)):
            self._dirty.add(event.instance_id)
            if not self._posted:
                self._posted = True
                self.post_message(FleetChanged())

    @on(FleetChanged)
    def _fleet_changed(self) -> None:
        self._posted = False
        if self._timer is None and self._alive():
            self._timer = self.set_timer(FLUSH_DELAY, self.redraw)

    def _alive(self) -> bool:
        return self._mounted and self.is_attached and not getattr(self.app, "leaving", False)

    # -- drawing ---------------------------------------------------------------------

    def redraw(self) -> None:
        """Recount the instances that changed, then draw (tools call it after a poll)."""
        if self._timer is not None:
            self._timer.stop()
            self._timer = None
        if not self._alive():
            return
        now = self.clock()
        dirty, self._dirty = self._dirty, set()
        for instance_id in dirty:
            if instance_id in self.source.fleet.instances:
                self.tally.account(instance_id, now)
        self.draw()

    def beat(self) -> None:
        """Once a second: the source's tick (alerts), the instances whose word can have
        changed with time alone, the clock, the ages, the page; the help page closes
        itself after HELP_LASTS."""
        if not self._alive():
            return
        self.source.tick()
        self.tally.due(self.clock())
        self.redraw()
        if self._help is not None and self.clock() - self._help_at >= HELP_LASTS:
            help_screen, self._help = self._help, None
            if help_screen.is_attached:
                help_screen.dismiss(None)

    def on_resize(self) -> None:
        if self._alive():
            self.call_after_refresh(self.draw)  # the problems' height is known after layout

    def restyle(self) -> None:
        """The theme changed: take its colours and repaint everything. Without colour
        (NO_COLOR) every style is plain: reverse video is then the foreground's, the
        most contrast there is, not a dim grey's."""
        no_color = bool(getattr(self.app, "no_color", False))
        self.set_class(no_color, "-no-color")
        self.palette = view.Palette({}) if no_color else \
            view.Palette.from_variables(self.app.theme_variables)
        for widget in self.query(QuietStatic):
            widget.forget()
        if self._mounted:
            self.draw()

    def draw(self) -> None:
        """Every part, each repainted only if what it shows changed."""
        if not self._alive():
            return
        now, source = self.clock(), self.source
        fleet, basis = source.fleet, source.stale_basis
        if not self.tally.complete:
            self.tally.recount(now)
        width = max(20, self.size.width - 2)
        self.query_one("#wall-header", QuietStatic).show(wall.header(
            fleet, now, basis, self.tally.counts.stale, self.palette, width, self.title_text,
            self.lost()))
        outage = source.outage()
        banner = self.query_one("#wall-banner", QuietStatic)
        banner.display = outage is not None
        if outage is not None:
            banner.show(Text(outage.text))
        self._draw_tiles()
        # The alerts' room is kept whether they fill it or not: the problems' pages do
        # not change size as alerts come and go.
        room = wall.alert_room(self.size.height)
        alerts = self.query_one("#wall-alerts", QuietStatic)
        alerts.show(Text("\n", end="").join(wall.alert_lines(
            source.alerts.groups(), now, self.palette, room)))
        if alerts.styles.height is None or alerts.styles.height.value != room:
            alerts.styles.height = room
        self._draw_problems()

    def _draw_problems(self) -> None:
        """The page of problems up now, in the room the layout gave them."""
        if not self._alive():
            return
        now, source = self.clock(), self.source
        fleet, basis = source.fleet, source.stale_basis
        width = max(20, self.size.width - 2)
        outage = source.outage()
        box = self.query_one("#wall-problems", QuietStatic)
        key = (self.tally.revision, outage)
        if self._problems is None or self._problems[0] != key:
            ids, folded = problems_view.problems(fleet, self.tally.parts, now, basis, outage)
            self._problems = (key, ids, folded)
        _, ids, folded = self._problems
        box.show(Text("\n", end="").join(problems_view.problem_block(
            fleet, ids, folded, now, basis, self.palette, width, max(2, box.content_size.height))))

    def _draw_tiles(self) -> None:
        """A tile per word, worst first; mounted and removed as words come and go; the
        digits as large as the screen allows."""
        counts = self.tally.counts.words
        width, height = max(20, self.size.width - 2), self.size.height
        kept, others = wall.tiles_shown(counts, wall.tile_columns(len(counts), width)
                                        * (2 if height < 40 else 3))
        shown = {w: counts[w] for w in kept}
        if others:
            shown[OTHER] = others
        digits = max((len(str(n)) for n in shown.values()), default=1)
        scale = wall.digit_scale(width, height, len(shown), digits)
        grid = self.query_one("#tiles", Grid)
        if list(shown) != list(self._tiles):
            for tile in self._tiles.values():
                tile.remove()
            self._tiles = {
                word: CountTile(OTHER if word == OTHER else wall.tile_label(word), count,
                                "-unknown" if word == OTHER else wall.tile_classes(word), scale)
                for word, count in shown.items()}
            grid.mount(*self._tiles.values())
        for word, count in shown.items():
            self._tiles[word].set_count(count)
            self._tiles[word].set_scale(scale)
        columns = wall.tile_columns(len(shown), width, scale, digits)
        rows = -(-len(shown) // columns) if shown else 0
        if grid.styles.grid_size_columns != columns:
            grid.styles.grid_size_columns = columns
        tiles_height = max(1, rows * wall.tile_height(scale))
        if grid.styles.height is None or grid.styles.height.value != tiles_height:
            grid.styles.height = tiles_height

    # -- keys ------------------------------------------------------------------------

    def action_help(self) -> None:
        """?: the keys and what the wall shows; it closes itself after HELP_LASTS."""
        keys = [(entry.shown_keys, entry.what) for entry in bound_keys(self)
                if entry.binding.show]  # (not tab: there is nothing to move between)
        self._help = TextScreen("The wall", wall.help_body(keys, problems_view.PAGE_EVERY,
                                                           HELP_LASTS))
        self._help_at = self.clock()
        self.app.push_screen(self._help)
