"""wawp-tui: a terminal fleet monitor for WhatsApp instances on the Wawp API."""

__version__ = "0.1.0"
