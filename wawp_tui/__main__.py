"""`python -m wawp_tui` runs the same CLI as the `wawp-tui` script."""

from wawp_tui.cli import main

raise SystemExit(main())
