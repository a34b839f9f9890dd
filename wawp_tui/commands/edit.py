"""`wawp-tui add`, `remove` and `import`: the instance list edited without opening the file.

Every write is locked, atomic and keeps the user's comments (config.py does the writing).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path

from wawp_tui.commands.output import OutputFailed
from wawp_tui.config import (
    DEFAULT_TOKEN_ENV,
    add_instance,
    append_instances,
    configured_ids,
    default_config_path,
    remove_instance,
)
from wawp_tui.importer import plan_import
from wawp_tui.launch import out, say
from wawp_tui.vocab import ExitCode


def _config_path(args: argparse.Namespace) -> Path:
    return args.config or default_config_path()


@contextmanager
def _written(done: str) -> Iterator[None]:
    """Around what is printed after the file was changed: an output that fails says the
    change was made all the same (run again, the command would refuse a duplicate)."""
    try:
        yield
    except OutputFailed as exc:
        raise OutputFailed(exc.reason, done) from None


def add(args: argparse.Namespace) -> int:
    path = _config_path(args)
    add_instance(path, args.id, args.label, token_env=args.token_env, tags=args.tag)
    with _written(f"the instance {args.id} was added to {path}"):
        out(f"added {args.id} ({args.label}) to {path}")
        sys.stdout.flush()
    return ExitCode.OK


def remove(args: argparse.Namespace) -> int:
    path = _config_path(args)
    remove_instance(path, args.id)
    with _written(f"the instance {args.id} was removed from {path}"):
        out(f"removed {args.id} from {path}")
        sys.stdout.flush()
    return ExitCode.OK


def import_file(args: argparse.Namespace) -> int:
    path = _config_path(args)
    plan = plan_import(args.file, configured_ids(path))
    verb = "would add" if args.dry_run else "added"
    for entry in plan.new if args.dry_run else ():
        tags = f" [{', '.join(entry['tags'])}]" if entry.get("tags") else ""
        out(f"  + {entry['id']}  {entry['label']}{tags}  "
            f"token from ${entry.get('token_env', DEFAULT_TOKEN_ENV)}")
    added = len(plan.new)
    if not args.dry_run:
        # Under the file's lock: ids another process added meanwhile are skipped too.
        raced = append_instances(path, plan.new)
        plan.already.extend(raced)
        added -= len(raced)
    done = None if args.dry_run else f"{added} instance(s) were added to {path}"
    with _written(done) if done else nullcontext():
        out(f"{verb} {added} instance(s) to {path}" + (" (dry run: nothing written)"
                                                       if args.dry_run else ""))
        if plan.already:
            shown = ", ".join(plan.already[:10]) + (" ..." if len(plan.already) > 10 else "")
            out(f"skipped {len(plan.already)} already in the config: {shown}")
        sys.stdout.flush()
    unset = sorted({e.get("token_env", DEFAULT_TOKEN_ENV) for e in plan.new} - set(os.environ))
    if unset:
        say(f"note: set {', '.join('$' + name for name in unset)} before starting wawp-tui "
            "(the config reads each token from its variable)")
    return ExitCode.OK
