"""What each action does to an instance, in the words every confirmation uses.

One place, so the TUI's confirmation and the CLI rollout's prompt name the same purged
queue and the same webhook pause (design.md: every confirmation names both).
"""

from __future__ import annotations

from wawp_tui.vocab import Action

CONSEQUENCES: dict[str, str] = {
    Action.START: "It boots and reconnects (STARTING, then WORKING).",
    Action.STOP: ("Messages in its outbound queue are purged. While stopped no webhooks are "
                  "delivered, and WhatsApp buffers incoming messages only 24-72 h."),
    Action.RESTART: ("Messages in its outbound queue are purged, and no webhooks are "
                     "delivered until it reconnects (~30 s; no new QR needed)."),
    Action.LOGOUT: ("This unlinks the phone: the instance goes to SCAN_QR_CODE and someone "
                    "must scan a new QR with the phone to bring it back."),
    Action.RESET: ("Full lifecycle reset: stop, wait 5 s, start. The outbound queue is purged "
                   "and no webhooks are delivered until it is back; press R again during the "
                   "wait to cancel (it then stays STOPPED)."),
}
