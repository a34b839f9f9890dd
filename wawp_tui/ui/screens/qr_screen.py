"""QrScreen: the pairing QR of a SCAN_QR_CODE instance, drawn to be scanned by a phone.

It fetches the QR through the monitor (audited) in a worker, again shortly before each
code expires, and at once when the fleet screen says the instance's code rotated or the
user presses f; it draws it black on white; `k` asks for a pairing code instead.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Center, Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Static

from wawp_tui.core import FleetMonitor, QrUnavailable, runbook, woken_within
from wawp_tui.models import WORKING, QrCode
from wawp_tui.safe_text import clean
from wawp_tui.ui import qr_drawing as qrdraw

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

    def __init__(self, monitor: FleetMonitor, instance_id: str, *,
                 demo_scan: Callable[[str, str], bool] | None = None) -> None:
        super().__init__()
        self.monitor = monitor
        self.instance_id = instance_id
        self.label = monitor.state(instance_id).label
        self.clock = monitor.clock
        #: Demo only: the simulated phone that scans the code on screen.
        self.demo_scan = demo_scan
        self.demo = demo_scan is not None
        self.current: QrCode | None = None
        self.error: str | None = None
        self.code_line: str = ""
        self.linked = False
        self._wake = asyncio.Event()
        #: The QR hint of the last poll seen (see instance_changed).
        self._seen_hint = monitor.state(instance_id).qr_hint

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
        self.run_worker(self._fetch_loop(), group="qr", exit_on_error=False)

    async def _fetch_loop(self) -> None:
        """Fetch the QR, then again shortly before it expires, until linked or closed."""
        while not self.linked:
            wait = 3.0
            try:
                code = await self.monitor.fetch_qr(self.instance_id)
            except QrUnavailable as exc:
                self.show_qr(None, str(exc))
            else:
                self.show_qr(code)
                expires = code.expires_at
                wait = 15.0 if expires is None else min(max(1.0, expires - self.clock() - 2.0), 30.0)
            self._wake.clear()
            await woken_within(self._wake, wait)

    def instance_changed(self) -> None:
        """The fleet screen saw a new poll of this instance: linked, or a new code."""
        st = self.monitor.state(self.instance_id)
        if st.status == WORKING:
            self.show_linked()
        elif st.qr_hint != self._seen_hint:
            # Only when the poll's code changed: an image's hint is a digest (images are
            # not decoded on every poll), never equal to the value shown.
            self._seen_hint = st.qr_hint
            if st.qr_hint and self.current is not None and st.qr_hint != self.current.value:
                self._wake.set()

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

    @staticmethod
    def _rhythm(number: int) -> str:
        """Where we are in the engine's QR rhythm (6 codes, then FAILED). No key is named:
        the runbook refuses a restart while the instance waits for a scan."""
        total = runbook.QR_CODES
        if number < total:
            return (f"code {number} of {total} (the first lives {runbook.QR_FIRST_LIFE:g} s, the "
                    f"next {runbook.QR_NEXT_LIFE:g} s each)")
        if number == total:
            return (f"code {total} of {total}, the last: after it the session goes FAILED, and a "
                    "restart then brings new codes")
        return (f"the engine's {total} codes should have run out: the session goes FAILED, and a "
                "restart then brings new codes")

    def _draw_info(self) -> None:
        info = Text()
        info.append(INSTRUCTIONS + "\n")
        if self.current is not None and self.current.expires_at is not None and not self.linked:
            left = self.current.expires_at - self.clock()
            info.append(f"expires in {runbook.fmt_duration(max(0.0, left))}; a new code is fetched "
                        "before it does\n", style="bold")
        if self.current is not None and self.current.expires_at is None and not self.linked:
            how = "sent as an image, redrawn here; " if self.current.form == "image" else ""
            info.append(f"{how}the server gave no expiry: a new code is fetched every 15 s\n")
        # The six-code rhythm is WAHA's, known when the server sends its bare forms (a value
        # or an image, no expiry); a server that states each code's expiry has its own.
        number = runbook.qr_code_number(self.monitor.state(self.instance_id), self.clock())
        if number is not None and not self.linked and self.current is not None \
                and self.current.expires_at is None:
            info.append(self._rhythm(number) + "\n")
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
        if self.demo_scan is None or self.current is None:
            return
        try:
            linked = self.demo_scan(self.instance_id, self.current.value)
        except KeyError:  # not an instance of the simulated fleet
            linked = False
        self.show_code("demo phone: linked, the instance is starting" if linked
                       else "demo phone: that code has expired; wait for the new one")
        self.monitor.poke(self.instance_id)

    def action_refetch(self) -> None:
        self._wake.set()

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
            self.code_line = f"requesting a pairing code for {clean(phone, 20)}…"
            self._draw_info()
            self.run_worker(self._pairing_code(phone), group="qr-code", exit_on_error=False)

    async def _pairing_code(self, phone: str) -> None:
        self.show_code(await self.monitor.request_code(self.instance_id, phone))
