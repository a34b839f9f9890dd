"""QrScreen: the pairing QR of a SCAN_QR_CODE instance, drawn to be scanned by a phone.

The screen only draws; the app fetches the QR in a worker and hands it over with
`show_qr`, and answers a pairing-code request (a message up) with `show_code`.
"""

from __future__ import annotations

from typing import Callable

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Center, Vertical
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Input, Static

from wawp_tui.ui import qr_drawing as qrdraw
from wawp_tui.core import runbook
from wawp_tui.models import QrCode

#: Lines of text around the code (title, instructions, expiry, keys).
CHROME_LINES = 7
INSTRUCTIONS = "On the phone: WhatsApp > Linked devices > Link a device, then point the camera here."


class QrScreen(ModalScreen[None]):
    """Full-screen QR with its expiry countdown and the pairing-code alternative."""

    BINDINGS = [
        Binding("escape,q", "close", "Close", id="qr.close"),
        Binding("k", "pairing_code", "Pairing code", id="qr.code",
                tooltip="Link with a phone number instead of scanning"),
        Binding("f", "refetch", "Refresh QR", id="qr.refetch"),
        Binding("d", "demo_scan", "Demo: phone scans", id="qr.demo-scan", show=False,
                tooltip="Demo only: the simulated phone scans the code on screen"),
    ]

    #: Keys go to the screen's bindings until k opens the phone-number box.
    AUTO_FOCUS = None

    DEFAULT_CSS = """
    QrScreen { align: center middle; background: $background; }
    QrScreen > Vertical { width: 100%; height: 100%; padding: 0 1; }
    QrScreen #qr-title { text-style: bold; }
    QrScreen #qr-code { width: auto; max-width: 100%; height: auto; }
    QrScreen #qr-phone { display: none; width: 40; }
    QrScreen #qr-phone.-shown { display: block; }
    """

    class PairingRequested(Message):
        """The user typed a phone number for a pairing code; handled by the app."""

        def __init__(self, instance_id: str, phone: str) -> None:
            super().__init__()
            self.instance_id = instance_id
            self.phone = phone

    class DemoScanRequested(Message):
        """Demo only: let the simulated phone scan `value`."""

        def __init__(self, instance_id: str, value: str) -> None:
            super().__init__()
            self.instance_id = instance_id
            self.value = value

    class RefetchRequested(Message):
        """The user asked for a fresh QR now."""

        def __init__(self, instance_id: str) -> None:
            super().__init__()
            self.instance_id = instance_id

    def __init__(self, instance_id: str, label: str, clock: Callable[[], float],
                 demo: bool = False) -> None:
        super().__init__()
        self.demo = demo
        self.instance_id = instance_id
        self.label = label
        self.clock = clock
        self.current: QrCode | None = None
        self.error: str | None = None
        self.code_line: str = ""
        self.linked = False

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(f"Link {self.label} ({self.instance_id})", id="qr-title", markup=False)
            with Center():
                yield Static(id="qr-code")
            yield Static(id="qr-info")
            yield Input(placeholder="phone number in international format, e.g. +201012345678",
                        id="qr-phone", disabled=True)

    def on_mount(self) -> None:
        self.set_interval(1.0, self._draw_info)
        self._draw()

    def on_resize(self) -> None:
        self._draw()

    # -- fed by the app ----------------------------------------------------------------

    def show_qr(self, qr: QrCode | None, error: str | None = None) -> None:
        """A freshly fetched code (or why none could be fetched)."""
        if qr is not None:
            self.current = qr
        self.error = error
        if self.is_mounted:
            self._draw()

    def show_code(self, text: str) -> None:
        self.code_line = text
        if self.is_mounted:
            self._draw_info()

    def show_linked(self) -> None:
        """The instance reached WORKING: the phone is linked."""
        self.linked = True
        if self.is_mounted:
            self._draw()

    # -- drawing -----------------------------------------------------------------------

    def _draw(self) -> None:
        code = self.query_one("#qr-code", Static)
        if self.linked:
            code.update(Text("✓ Linked: the instance is WORKING. Press escape.", style="bold"))
        elif self.current is None:
            code.update(Text(self.error or "fetching the QR code…"))
        else:
            try:
                drawing = qrdraw.draw(self.current.value)
            except qrdraw.QrTooLong as exc:
                code.update(Text(str(exc), style="bold"))
                self._draw_info()
                return
            width, height = self.size.width - 2, self.size.height - CHROME_LINES
            if not qrdraw.fits(drawing, width, height):
                need_w, need_h = drawing.width + 2, drawing.height + CHROME_LINES
                code.update(Text(
                    f"The terminal is {self.size.width}x{self.size.height}; the QR needs at least "
                    f"{need_w}x{need_h} to be scannable. Enlarge the window or zoom out "
                    "(ctrl -), or press k to link with a pairing code instead.", style="bold"))
            else:
                # Black on white whatever the theme: phones need dark modules on light.
                code.update(Text("\n".join(drawing.lines), style="#000000 on #ffffff", no_wrap=True))
        self._draw_info()

    def _draw_info(self) -> None:
        info = Text()
        info.append(INSTRUCTIONS + "\n")
        if self.current is not None and self.current.expires_at is not None and not self.linked:
            left = self.current.expires_at - self.clock()
            info.append(f"expires in {runbook.fmt_duration(max(0.0, left))}; a new code is fetched "
                        "before it does\n", style="bold")
        if self.error and self.current is not None:
            info.append(f"last refresh failed: {self.error}\n")
        if self.code_line:
            info.append(self.code_line + "\n", style="bold")
        info.append("k: pairing code instead · f: refresh now · escape: close")
        if self.demo:
            info.append(" · d: (demo) the phone scans this code")
        self.query_one("#qr-info", Static).update(info)

    # -- actions -----------------------------------------------------------------------

    def action_close(self) -> None:
        self.dismiss(None)

    def action_demo_scan(self) -> None:
        if self.demo and self.current is not None:
            self.post_message(self.DemoScanRequested(self.instance_id, self.current.value))

    def action_refetch(self) -> None:
        self.post_message(self.RefetchRequested(self.instance_id))

    def action_pairing_code(self) -> None:
        box = self.query_one("#qr-phone", Input)
        box.disabled = False
        box.add_class("-shown")
        box.focus()

    @on(Input.Submitted, "#qr-phone")
    def _phone_entered(self, event: Input.Submitted) -> None:
        phone = event.value.strip()
        event.input.remove_class("-shown")
        event.input.disabled = True
        self.set_focus(None)
        if phone:
            self.code_line = f"requesting a pairing code for {phone}…"
            self._draw_info()
            self.post_message(self.PairingRequested(self.instance_id, phone))
