"""wawp-tui: a terminal fleet monitor for WhatsApp instances on the Wawp API."""

import sys

__version__ = "0.1.0"

# httpx imports its command-line client (rich, click, pygments: 50 ms, a seventh of a
# `status` run's start-up) whenever rich is installed, and Textual installs it. Nothing
# here runs httpx's CLI; a None entry makes that import fail, which httpx allows for.
sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]
