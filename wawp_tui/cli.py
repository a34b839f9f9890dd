"""Command line: parses options (before or after the subcommand) and dispatches.

Exit codes: 0 ok, 1 some instance is not WORKING (status), 2 usage or configuration error.
No traceback reaches the user: every expected failure is one line on stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from pathlib import Path
from typing import Sequence

from wawp_tui import __version__

EXIT_OK, EXIT_NOT_WORKING, EXIT_USAGE = 0, 1, 2


class UsageError(Exception):
    """A bad command line: one line on stderr, exit 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # argparse would print usage + exit 2 itself
        raise UsageError(f"{message} (see: wawp-tui --help)")


def _common_options(parser: argparse.ArgumentParser, suppress: bool) -> None:
    """Options every command takes; on subparsers they default to SUPPRESS so a value
    given before the subcommand is not overwritten by the subparser's default."""
    d = (lambda v: argparse.SUPPRESS) if suppress else (lambda v: v)
    parser.add_argument("--config", type=Path, default=d(None), metavar="PATH",
                        help="config file (default: the platform's config dir /wawp-tui/config.toml)")
    parser.add_argument("--base-url", default=d(None), metavar="URL",
                        help="API base URL (also env WAWP_BASE_URL)")
    parser.add_argument("--refresh", type=float, default=d(None), metavar="SECONDS",
                        help="seconds between polls of a steady instance")
    parser.add_argument("--read-only", action="store_true", default=d(False),
                        help="never send an action to the API")
    parser.add_argument("--theme", default=d(None), metavar="NAME", help="colour theme")
    parser.add_argument("--demo", action="store_true", default=d(False),
                        help="use an embedded simulated fleet (no account, no network)")


def build_parser() -> argparse.ArgumentParser:
    """The whole command line, for `main` and for the tests."""
    parser = _Parser(prog="wawp-tui", description="Terminal fleet monitor for Wawp WhatsApp instances.")
    parser.add_argument("--version", action="version", version=f"wawp-tui {__version__}")
    _common_options(parser, suppress=False)
    sub = parser.add_subparsers(dest="command", parser_class=_Parser)

    p = sub.add_parser("status", help="poll every instance once and print a table")
    _common_options(p, suppress=True)
    p.add_argument("--json", action="store_true", help="print a JSON array instead of a table")
    p.add_argument("--deadline", type=float, default=None, metavar="SECONDS",
                   help="finish within this many seconds; instances not polled by then are "
                        "reported NOT_POLLED (default: 30, or twice timeout+connect_timeout)")

    p = sub.add_parser("simulate", help="run the Wawp simulator as an HTTP server")
    _common_options(p, suppress=True)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8765)
    p.add_argument("--instances", type=int, default=None, metavar="N")
    p.add_argument("--scenario", default="demo")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--latency-ms", type=float, default=0.0, metavar="MS",
                   help="delay every API reply (a distant server)")

    p = sub.add_parser("add", help="add an instance to the config file")
    _common_options(p, suppress=True)
    p.add_argument("id")
    p.add_argument("--label", required=True)
    p.add_argument("--token-env", default=None, metavar="VAR",
                   help="environment variable holding this instance's token")
    p.add_argument("--tag", action="append", default=[], metavar="T")

    p = sub.add_parser("import", help="append many instances from a CSV or JSON-lines file")
    _common_options(p, suppress=True)
    p.add_argument("file", type=Path, metavar="FILE",
                   help="CSV with header id,label,tags,token_env (tags 'a;b') or JSON lines")
    p.add_argument("--dry-run", action="store_true", help="show what would change, write nothing")

    p = sub.add_parser("rollout", help="restart / stop / start instances in waves (resumable)")
    _common_options(p, suppress=True)
    p.add_argument("action", choices=["restart", "stop", "start"])
    p.add_argument("--tag", action="append", default=[], metavar="T",
                   help="only instances with this tag (repeatable: any of them)")
    p.add_argument("--ids", default=None, metavar="A,B", help="only these instance ids")
    p.add_argument("--wave", type=int, default=5, metavar="N", help="instances per wave (default 5)")
    p.add_argument("--dry-run", action="store_true", help="show the plan, send nothing")
    p.add_argument("--yes", action="store_true", help="do not ask (required when not on a terminal)")
    p.add_argument("--resume", action="store_true", help="resume the interrupted rollout")
    p.add_argument("--continue-on-error", action="store_true",
                   help="go on when an instance fails instead of halting")

    p = sub.add_parser("bench", help="measure performance against a local simulator")
    _common_options(p, suppress=True)
    p.add_argument("--instances", type=int, default=500, metavar="N")
    p.add_argument("--latency-ms", type=float, default=50.0, metavar="MS")
    p.add_argument("--concurrency", type=int, default=16, metavar="C")
    p.add_argument("--seconds", type=float, default=20.0, metavar="S",
                   help="how long the idle-CPU measurement runs")
    p.add_argument("--soak", type=float, default=None, metavar="MINUTES",
                   help="instead of the figures: run the app this long against a server that "
                        "keeps failing, then check it agrees with the server")
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("remove", help="remove an instance from the config file")
    _common_options(p, suppress=True)
    p.add_argument("id")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `wawp-tui` script; returns the exit code."""
    from wawp_tui.config import ConfigError

    from wawp_tui.safe_text import clean

    try:
        args = build_parser().parse_args(argv)
        _start_logging()
        return _dispatch(args)
    except UsageError as exc:
        _say(f"wawp-tui: {exc}")
        return EXIT_USAGE
    except ConfigError as exc:
        _say(f"wawp-tui: {exc}")
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # `wawp-tui status | head`: the reader left; say nothing more.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_NOT_WORKING
    except Exception as exc:  # the promise: no traceback ever reaches the user
        where = _crash_report(exc)
        _say(f"wawp-tui: internal error: {type(exc).__name__}: {clean(exc)} (details in {where})")
        return 70


def _say(line: str) -> None:
    """One line on stderr, through the text boundary (it may quote a file or a server)."""
    from wawp_tui.safe_text import clean

    print(clean(line, 2000, strip=False), file=sys.stderr)


def _out(line: str) -> None:
    """One line on stdout, through the text boundary."""
    from wawp_tui.safe_text import clean

    print(clean(line, 2000, strip=False))


def _start_logging() -> None:
    """Warnings and worker errors go to a private file, never into the terminal."""
    from wawp_tui.config import state_dir
    from wawp_tui.logs import log_to_file

    log_to_file(state_dir() / "wawp-tui.log")


def _crash_report(exc: BaseException) -> str:
    """Write the traceback to the state folder (for a bug report), return where.

    Created 0600 and cleaned line by line: a traceback quotes exception messages, and an
    exception message can quote a server.
    """
    import traceback

    from wawp_tui.config import state_dir
    from wawp_tui.files import append_private
    from wawp_tui.safe_text import clean

    try:
        path = state_dir() / "crash.log"
        lines = "".join(traceback.format_exception(exc)).splitlines()
        with append_private(path) as handle:
            handle.write("\n".join(clean(line, 1000) for line in lines) + "\n\n")
        return str(path)
    except OSError:
        return "nowhere: the state folder is not writable"


def _dispatch(args: argparse.Namespace) -> int:
    command = args.command
    if command == "simulate":
        return _simulate(args)
    if command == "add":
        return _add(args)
    if command == "remove":
        return _remove(args)
    if command == "import":
        return _import(args)
    if command == "status":
        return _status(args)
    if command == "bench":
        from wawp_tui.devtools.bench import BenchOptions
        from wawp_tui.devtools.bench import main as bench_main

        if args.instances < 1 or args.concurrency < 1 or args.seconds <= 0:
            raise UsageError("--instances, --concurrency and --seconds must be positive")
        if args.soak is not None:
            from wawp_tui.devtools.soak import main as soak_main

            if args.soak <= 0:
                raise UsageError("--soak MINUTES must be positive")
            return soak_main(args.soak, args.instances, args.json)
        return bench_main(BenchOptions(instances=args.instances, latency_ms=args.latency_ms,
                                       concurrency=args.concurrency, seconds=args.seconds),
                          args.json)
    if command == "rollout":
        from wawp_tui.commands.rollout import run_rollout

        config = load(args)
        return run_rollout(args, config, make_client(config, args.demo))
    return _tui(args)


def load(args: argparse.Namespace):
    """The Config for these options (the demo fleet with --demo)."""
    from wawp_tui.config import load_config

    if args.demo:
        from wawp_tui.demo import demo_config

        return demo_config(refresh=args.refresh, read_only=args.read_only, theme=args.theme)
    config = load_config(
        args.config,
        env=os.environ,
        base_url_override=args.base_url,
        refresh_override=args.refresh,
        read_only_override=args.read_only,
        theme_override=args.theme,
    )
    for warning in config.warnings:
        _say(f"wawp-tui: {warning}")
    return config


def make_client(config, demo: bool):
    """The WawpClient for a config; the demo's talks to the in-process simulator."""
    from wawp_tui.client.api import WawpClient

    transport = None
    if demo:
        from wawp_tui.demo import demo_transport

        transport = demo_transport()
    return WawpClient(
        config.api.base_url,
        timeout=config.api.timeout,
        connect_timeout=config.api.connect_timeout,
        credentials_in=config.api.credentials_in,
        max_concurrency=config.api.max_concurrency,
        transport=transport,
    )


def _status(args: argparse.Namespace) -> int:
    from wawp_tui.commands import status as status_report

    config = load(args)
    deadline = args.deadline
    if deadline is None:
        deadline = status_report.default_deadline(config.api.timeout, config.api.connect_timeout)
    elif deadline <= 0:
        raise UsageError("--deadline must be more than 0 seconds")

    async def run() -> list:
        async with make_client(config, args.demo) as client:
            return await status_report.collect(client, config.instances,
                                               config.api.max_concurrency, deadline=deadline)

    rows = asyncio.run(run())
    if args.json:
        status_report.write_json(rows, sys.stdout)
    else:
        status_report.write_table(rows, sys.stdout)
    return status_report.exit_code(rows)


def _tui(args: argparse.Namespace) -> int:
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        raise UsageError("the TUI needs a terminal on stdin and stdout; for a report in a "
                         "pipe, a file or cron use: wawp-tui status (or status --json)")
    from wawp_tui.ui.app import run_app

    config = load(args)
    return run_app(config, client=make_client(config, args.demo), demo=args.demo)


def _simulate(args: argparse.Namespace) -> int:
    from wawp_tui.simulator import SCENARIOS, Simulator, build_scenario
    from wawp_tui.simulator.server import run_forever

    if args.scenario not in SCENARIOS:
        raise UsageError(f"unknown scenario {args.scenario!r}; choose from: {', '.join(SCENARIOS)}")
    if args.instances is not None and args.instances < 1:
        raise UsageError("--instances must be at least 1")
    instances = build_scenario(args.scenario, seed=args.seed, instances=args.instances)
    try:
        run_forever(Simulator(instances, seed=args.seed, latency=args.latency_ms / 1000.0),
                    args.host, args.port,
                    scenario=args.scenario)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    except OSError as exc:
        raise UsageError(f"cannot listen on {args.host}:{args.port}: {exc.strerror or exc}") from None
    return EXIT_OK


def _config_path(args: argparse.Namespace) -> Path:
    from wawp_tui.config import default_config_path

    return args.config or default_config_path()


def _add(args: argparse.Namespace) -> int:
    from wawp_tui.config import add_instance

    path = _config_path(args)
    add_instance(path, args.id, args.label, token_env=args.token_env, tags=args.tag)
    _out(f"added {args.id} ({args.label}) to {path}")
    return EXIT_OK


def _import(args: argparse.Namespace) -> int:
    from wawp_tui.config import append_instances, configured_ids
    from wawp_tui.importer import plan_import

    path = _config_path(args)
    plan = plan_import(args.file, configured_ids(path))
    verb = "would add" if args.dry_run else "added"
    for entry in plan.new if args.dry_run else ():
        tags = f" [{', '.join(entry['tags'])}]" if entry.get("tags") else ""
        _out(f"  + {entry['id']}  {entry['label']}{tags}  "
              f"token from ${entry.get('token_env', 'WAWP_ACCESS_TOKEN')}")
    added = len(plan.new)
    if not args.dry_run:
        # Under the file's lock: ids another process added meanwhile are skipped too.
        raced = append_instances(path, plan.new)
        plan.already.extend(raced)
        added -= len(raced)
    _out(f"{verb} {added} instance(s) to {path}" + (" (dry run: nothing written)"
                                                     if args.dry_run else ""))
    if plan.already:
        shown = ", ".join(plan.already[:10]) + (" ..." if len(plan.already) > 10 else "")
        _out(f"skipped {len(plan.already)} already in the config: {shown}")
    unset = sorted({e.get("token_env", "WAWP_ACCESS_TOKEN") for e in plan.new} - set(os.environ))
    if unset:
        _say(f"note: set {', '.join('$' + name for name in unset)} before starting wawp-tui "
             "(the config reads each token from its variable)")
    return EXIT_OK


def _remove(args: argparse.Namespace) -> int:
    from wawp_tui.config import remove_instance

    path = _config_path(args)
    remove_instance(path, args.id)
    _out(f"removed {args.id} from {path}")
    return EXIT_OK
