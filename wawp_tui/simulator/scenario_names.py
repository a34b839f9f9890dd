"""The simulator's scenarios by name, with what each serves (the command line lists them
without loading the simulator)."""

from __future__ import annotations

SCENARIOS: dict[str, str] = {
    "demo": "about 25 instances, a mix of every status and a few faults",
    "healthy": "every instance WORKING",
    "fleet": "a big fleet (default 1000), ~5% not WORKING",
    "outage": "most instances answer 502 (a platform-wide outage)",
    "hostile": "a server that attacks its client: echoed tokens, markup, escapes, bombs",
    "waha": "the engine as it really answers: 404 until started, errors inside 200, 422 on a "
            "redundant start, passkey statuses, PNG QR, 6 QR codes then FAILED, liveness",
}
