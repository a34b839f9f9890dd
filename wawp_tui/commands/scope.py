"""`--tag` for the headless commands (exporter, check): the slice of the fleet they watch."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from wawp_tui.config import Config


def only_tagged(config: Config, tags: Sequence[str]) -> Config:
    """The config with only the instances carrying any of `tags` (all of them when no tag
    is given). Tags match exactly, as in `rollout --tag`."""
    wanted = {t.strip() for t in tags if t.strip()}
    if not wanted:
        return config
    chosen = tuple(i for i in config.instances if wanted & set(i.tags))
    return dataclasses.replace(config, instances=chosen)


def describe_tags(tags: Sequence[str]) -> str:
    """" (tag eu)", " (tags eu, us)" or "" for messages."""
    wanted = sorted({t.strip() for t in tags if t.strip()})
    if not wanted:
        return ""
    return f" (tag{'s' if len(wanted) > 1 else ''} {', '.join(wanted)})"
