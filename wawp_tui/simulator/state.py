"""One simulated instance: its state machine, derived lazily from an injected clock.

No background tasks: every request asks "what is the status at clock()?", so tests move
a fake clock instead of sleeping.
"""

from __future__ import annotations

import base64
import hashlib
import io
from dataclasses import dataclass, field
from typing import Any

import segno

from wawp_tui.models import FAILED, SCAN_QR_CODE, STARTING, STOPPED, WORKING

#: Seconds between QR rotations (the docs: every ~20-40 s).
QR_ROTATION = 20.0
#: Default seconds from start/restart to WORKING.
BOOT_SECONDS = 3.0
#: WAHA's QR rhythm (issue #1799): the first code lives 60 s, then 20 s each, 6 in all.
QR_FIRST_LIFE, QR_NEXT_LIFE, QR_CODES = 60.0, 20.0, 6


def qr_png(value: str) -> bytes:
    """The QR of `value` as a PNG image (WAHA's image form)."""
    buffer = io.BytesIO()
    segno.make(value, error="l", micro=False).save(buffer, kind="png", scale=6, border=4)
    return buffer.getvalue()


def qr_png_data_url(value: str) -> str:
    """The QR of `value` as a "data:image/png;base64,..." URL (Wawp's info `qr` field)."""
    return "data:image/png;base64," + base64.b64encode(qr_png(value)).decode()


@dataclass
class Fault:
    """An injected misbehaviour: `kind`, for `remaining` requests (None: until cleared)."""

    kind: str
    remaining: int | None = None
    params: dict[str, Any] = field(default_factory=dict)


@dataclass
class SimInstance:
    """A simulated Wawp instance."""

    id: str
    label: str
    token: str
    tags: tuple[str, ...] = ()
    #: The status as last set by a command (STARTING resolves lazily, see `status_at`).
    base_status: str = WORKING
    logged_in: bool = True
    #: STARTING never finishes (the runbook's "stuck in STARTING").
    stuck_starting: bool = False
    boot_seconds: float = BOOT_SECONDS
    started_at: float = 0.0
    #: A FAILED episode: FAILED from fail_at until recover_at (None: until restarted).
    fail_at: float | None = None
    recover_at: float | None = None
    #: A status word this server "knows" but the client may not (e.g. PASSKEY_REQUIRED).
    raw_status: str | None = None
    push_name: str = "Wawp Demo"
    #: Hostile tests: the QR value and pairing code this server hands out instead.
    qr_value: str | None = None
    pairing_code: str | None = None
    phone: str = "201000000000"
    faults: list[Fault] = field(default_factory=list)
    seed: int = 0
    #: "wawp" (the documented API) or "waha" (the engine as it really answers: 404 until
    #: started, 422 on a redundant start, liveness fields, WAHA's QR rhythm).
    flavour: str = "wawp"
    #: WAHA: False while the session is not loaded (404 "Session not found" until a start).
    loaded: bool = True
    #: How the QR endpoint answers: "wawp" (base64 JSON), "raw" ({"value"}), "image"
    #: ({"mimetype": "image/png", "data": base64 PNG}); "image" also puts a data URL in info.
    qr_form: str = "wawp"
    #: WAHA's QR rhythm: when the current SCAN_QR_CODE began (60 s, then 20 s a code, 6
    #: codes, then FAILED); None keeps the plain 20 s rotation.
    scan_since: float | None = None
    #: WORKING while dead: the last activity stays at this time instead of following the clock.
    quiet_since: float | None = None
    #: Started or restarted since the simulator began (WAHA's replies then list the boot).
    booted: bool = False

    def status_at(self, now: float) -> str:
        """The status this instance reports at `now`."""
        if self.raw_status:
            return self.raw_status
        if self.base_status == STARTING:
            if self.stuck_starting or now < self.started_at + self.boot_seconds:
                return STARTING
            self.base_status = WORKING if self.logged_in else SCAN_QR_CODE
            if self.base_status == SCAN_QR_CODE and self.flavour == "waha":
                self.scan_since = self.started_at + self.boot_seconds
        if self.base_status == SCAN_QR_CODE and self.scan_since is not None \
                and now >= self.scan_since + QR_FIRST_LIFE + (QR_CODES - 1) * QR_NEXT_LIFE:
            self.base_status, self.scan_since = FAILED, None  # the codes ran out
        if self.base_status == WORKING and self.fail_at is not None and now >= self.fail_at:
            if self.recover_at is None or now < self.recover_at:
                return FAILED
            self.fail_at = self.recover_at = None
        return self.base_status

    # -- commands --------------------------------------------------------------------

    def start(self, now: float) -> None:
        """Only STOPPED, FAILED or unloaded instances start; otherwise nothing changes."""
        if not self.loaded or self.status_at(now) in (STOPPED, FAILED):
            self._boot(now)

    def stop(self, now: float) -> None:
        self.status_at(now)
        self.base_status = STOPPED
        self.raw_status = None
        self.fail_at = self.recover_at = None

    def restart(self, now: float) -> None:
        self._boot(now)

    def logout(self, now: float) -> None:
        self.logged_in = False
        self.raw_status = None
        self.fail_at = self.recover_at = None
        if self.status_at(now) != STOPPED:
            self.base_status = SCAN_QR_CODE
            if self.flavour == "waha":
                self.scan_since = now

    def _boot(self, now: float) -> None:
        self.base_status = STARTING
        self.started_at = now
        self.booted = True
        self.loaded = True
        self.scan_since = None
        self.raw_status = None
        self.fail_at = self.recover_at = None

    # -- replies ---------------------------------------------------------------------

    def me(self, now: float) -> dict[str, str] | None:
        """The account, only while connected and logged in."""
        if self.logged_in and self.status_at(now) == WORKING:
            return {"id": f"{self.phone}@c.us", "pushName": self.push_name}
        return None

    def qr(self, now: float) -> dict[str, Any]:
        """The current QR value and its expiry (ms): rotating every QR_ROTATION seconds, or
        in WAHA's rhythm (60 s, then 20 s a code) when `scan_since` is set."""
        if self.scan_since is not None:
            elapsed = now - self.scan_since
            window = 0 if elapsed < QR_FIRST_LIFE else 1 + int((elapsed - QR_FIRST_LIFE) // QR_NEXT_LIFE)
            expiry = self.scan_since + QR_FIRST_LIFE + window * QR_NEXT_LIFE
        else:
            window = int(now // QR_ROTATION)
            expiry = (window + 1) * QR_ROTATION
        digest = hashlib.sha256(f"{self.id}:{self.seed}:{window}".encode()).hexdigest()
        value = self.qr_value or f"2@{digest[:48]},{digest[48:]}{self.id.lower()},wawp-sim=="
        return {"value": value, "expiry": int(expiry * 1000)}

    def session(self, now: float) -> dict[str, Any]:
        """The body of an info/start/stop/restart/logout reply."""
        status = self.status_at(now)
        body: dict[str, Any] = {
            "name": f"wawp-{self.id.lower()}",
            "status": status,
            "config": {"webhooks": {}, "proxy": None},
        }
        me = self.me(now)
        if me:
            body["me"] = me
        if status == SCAN_QR_CODE:
            body["qr"] = qr_png_data_url(self.qr(now)["value"]) if self.qr_form == "image" \
                else self.qr(now)
        if self.flavour == "waha":
            # WAHA's liveness fields (sessions.dto.ts): activity in ms, presence online/offline.
            active = status == WORKING
            at = self.quiet_since if self.quiet_since is not None else now
            body["engine"] = {"engine": "NOWEB"}
            body["presence"] = "online" if active else None
            body["timestamps"] = {"activity": int(at * 1000) if active else None}
            if self.booted:
                # WAHA's status history (ms): a boot over between two polls still shows.
                body["statuses"] = [{"status": STARTING, "timestamp": int(self.started_at * 1000)},
                                    {"status": status, "timestamp": int(now * 1000)}]
        return body

    def take_fault(self, endpoint: str = "") -> Fault | None:
        """The fault that applies to this request (consuming one of its uses).

        A fault with an `endpoint` parameter ("restart", "qr", ...) applies only to
        requests for that endpoint.
        """
        for index, fault in enumerate(self.faults):
            only = fault.params.get("endpoint")
            if only and only != endpoint:
                continue
            if fault.remaining is not None:
                fault.remaining -= 1
                if fault.remaining <= 0:
                    self.faults.pop(index)
            return fault
        return None
