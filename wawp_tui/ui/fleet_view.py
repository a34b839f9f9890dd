"""What the fleet screen's helpers may use of it, and what the screen uses of the app.

ActionFlows (confirm and act), FleetPainter (drawing) and Notices (telling) work for
FleetScreen, which owns them; they see it through FleetView, a protocol, so that the
screen imports its helpers and no helper imports the screen (no import cycle, and each
helper's reach is written down here).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol, TypeVar, overload

from textual.app import App
from textual.geometry import Size
from textual.message import Message
from textual.timer import Timer
from textual.widget import Widget
from textual.worker import Worker

from wawp_tui.core import FleetMonitor
from wawp_tui.ui.formatting import Palette
from wawp_tui.ui.row_filter import RowFilter
from wawp_tui.ui.sorting import SortOrder

W = TypeVar("W", bound=Widget)


class FleetView(Protocol):
    """The fleet screen as its helpers see it."""

    monitor: FleetMonitor
    palette: Palette
    demo: bool
    bell_enabled: bool
    selected: frozenset[str]
    filter_text: str
    row_filter: RowFilter
    paused: bool
    auto_heal: bool
    table_sort: SortOrder
    rerun: tuple[str, ...]

    @property
    def app(self) -> App[Any]: ...

    @property
    def size(self) -> Size: ...

    @property
    def is_attached(self) -> bool: ...

    def log_line(self, text: str, ok: bool = True) -> None: ...

    def toast(self, message: str, *, title: str = "", severity: str = "information",
              timeout: float | None = None) -> None: ...

    def highlighted_id(self) -> str | None: ...

    def visible_ids(self) -> list[str]: ...

    def hidden_selected(self) -> int: ...

    def run_worker(self, work: Any, name: str | None = "", group: str = "default",
                   description: str = "", exit_on_error: bool = True, start: bool = True,
                   exclusive: bool = False, thread: bool = False) -> Worker[Any]: ...

    def post_message(self, message: Message) -> bool: ...

    def set_timer(self, delay: float, callback: Any = None, *, name: str | None = None,
                  pause: bool = False) -> Timer: ...

    @overload
    def query_one(self, selector: type[W]) -> W: ...

    @overload
    def query_one(self, selector: str, expect_type: type[W]) -> W: ...


class AppServices(Protocol):
    """What the fleet screen asks of the app beyond Textual's own: bounded plain-text
    toasts, in the demo the simulated phone, and whether it is leaving."""

    def toast(self, message: str, *, title: str = "", severity: str = "information",
              timeout: float | None = None) -> None: ...

    def demo_scan(self) -> Callable[[str, str], bool] | None: ...

    @property
    def leaving(self) -> bool: ...
