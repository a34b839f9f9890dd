"""Command line: parses options (before or after the subcommand) and dispatches.

Exit codes are in vocab.ExitCode. No traceback reaches the user: every expected failure
is one line on stderr, and a bug is one line plus a private crash report.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

from wawp_tui import __version__
from wawp_tui.launch import UsageError
from wawp_tui.vocab import ExitCode

if TYPE_CHECKING:
    from wawp_tui.client.api import WawpClient
    from wawp_tui.config import Config
    from wawp_tui.hub.web import WebOptions


#: The end of `wawp-tui --help`: how requests reach the API, what is trusted, what the
#: exit codes mean (docs/network.md says it at length).
NETWORK_HELP = (
    "Proxies: HTTPS_PROXY, HTTP_PROXY, ALL_PROXY and NO_PROXY are honoured as curl does; "
    "[api] proxy = \"http://host:port\" overrides them, proxy = \"\" turns them off. "
    "Trust for https: [api] ca_file, else SSL_CERT_FILE / REQUESTS_CA_BUNDLE / "
    "CURL_CA_BUNDLE and SSL_CERT_DIR, else the system certificate store (through "
    "truststore). Exit codes: 0 done (status: all WORKING), 1 not all WORKING or a rollout "
    "that halted, 2 usage or config error, 70 a bug, 74 standard output could not be "
    "written; check: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN. See docs/network.md.")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # argparse would print usage + exit 2 itself
        raise UsageError(f"{message} (see: wawp-tui --help)")


def _finite(text: str) -> float:
    """A number option: `nan` and `inf` parse as floats but are no number of seconds."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"not a finite number: {text!r}")
    return value


def _common_options(parser: argparse.ArgumentParser, suppress: bool) -> None:
    """Options every command takes; on subparsers they default to SUPPRESS so a value
    given before the subcommand is not overwritten by the subparser's default."""
    d = (lambda v: argparse.SUPPRESS) if suppress else (lambda v: v)
    parser.add_argument("--config", type=Path, default=d(None), metavar="PATH",
                        help="config file (default: the platform's config dir /wawp-tui/config.toml)")
    parser.add_argument("--base-url", default=d(None), metavar="URL",
                        help="API base URL (also env WAWP_BASE_URL)")
    parser.add_argument("--refresh", type=_finite, default=d(None), metavar="SECONDS",
                        help="seconds between polls of a steady instance")
    parser.add_argument("--read-only", action="store_true", default=d(False),
                        help="never send an action to the API")
    parser.add_argument("--theme", default=d(None), metavar="NAME", help="colour theme")
    parser.add_argument("--demo", action="store_true", default=d(False),
                        help="use an embedded simulated fleet (no account, no network)")
    parser.add_argument("--hub", default=d(None), metavar="URL",
                        help="attach to a hub (wawp-tui serve) instead of polling: the TUI, "
                             "status, check and rollout (also env WAWP_HUB_URL; the bearer "
                             "token from env WAWP_HUB_TOKEN)")


def build_parser() -> argparse.ArgumentParser:
    """The whole command line, for `main` and for the tests.

    (Long on purpose: one declaration per option, so the command line reads in one place.)
    """
    parser = _Parser(prog="wawp-tui", description="Terminal fleet monitor for Wawp WhatsApp instances.",
                     epilog=NETWORK_HELP)
    parser.add_argument("--version", action="version", version=f"wawp-tui {__version__}")
    _common_options(parser, suppress=False)
    parser.add_argument("--wall", action="store_true",
                        help="the wall screen: big counts, clock, problems by label; read-only, "
                             "self-acknowledging, for a monitor nobody touches (high-contrast "
                             "theme unless --theme)")
    sub = parser.add_subparsers(dest="command", parser_class=_Parser)

    p = sub.add_parser("status", help="poll every instance once and print a table")
    _common_options(p, suppress=True)
    p.add_argument("--json", action="store_true", help="print a JSON array instead of a table")
    p.add_argument("--deadline", type=_finite, default=None, metavar="SECONDS",
                   help="finish within this many seconds; instances not polled by then are "
                        "reported NOT_POLLED (default: 30, or twice timeout+connect_timeout)")

    from wawp_tui.simulator.scenario_names import SCENARIOS

    p = sub.add_parser(
        "simulate", help="run the Wawp simulator as an HTTP server",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="The Wawp simulator on loopback: the documented API (token 'demo-token'), "
                    "seeded (the same --seed, --scenario and --instances serve the same fleet), "
                    "steered over /_sim/* (see the README).",
        epilog="scenarios:\n" + "\n".join(f"  {name:<9} {what}" for name, what in SCENARIOS.items()))
    _common_options(p, suppress=True)
    p.add_argument("--host", default="127.0.0.1", help="loopback only (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8765, help="default 8765; 0 picks a free one")
    p.add_argument("--instances", type=int, default=None, metavar="N",
                   help="fleet size (each scenario has its own default)")
    p.add_argument("--scenario", default="demo", metavar="NAME",
                   help=f"one of: {', '.join(SCENARIOS)} (default demo; listed below)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--latency-ms", type=_finite, default=0.0, metavar="MS",
                   help="delay every API reply (a distant server)")
    p.add_argument("--print-config", nargs="?", const="-", default=None, metavar="PATH",
                   help="a config for the fleet this serves: alone, printed and nothing served; "
                        "with PATH, written there (a new file, 0600), then served")
    p.add_argument("--webhook", default=None, metavar="URL",
                   help="post a session.status event (WAHA's envelope) to URL on every "
                        "transition, e.g. a hub's http://127.0.0.1:9877/webhooks/wawp")
    p.add_argument("--webhook-secret-env", default=None, metavar="VAR",
                   help="sign the events with the key in this variable (X-Webhook-Hmac, sha512)")

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
    p.add_argument("--no-audit", action="store_true",
                   help="run without an audit record (a rollout refuses to start when its "
                        "audit log cannot be written)")

    p = sub.add_parser("bench", help="measure performance against a local simulator")
    _common_options(p, suppress=True)
    p.add_argument("--instances", type=int, default=500, metavar="N",
                   help="the small fleet: TUI idle and detection, UI thread figures (default 500)")
    p.add_argument("--big", type=int, default=5000, metavar="N",
                   help="the big fleet: TUI idle and detection, status wall (default 5000)")
    p.add_argument("--status-instances", type=int, default=2000, metavar="N",
                   help="status CPU per poll and sweeps (default 2000)")
    p.add_argument("--latency-ms", type=_finite, default=50.0, metavar="MS")
    p.add_argument("--concurrency", type=int, default=16, metavar="C")
    p.add_argument("--concurrency-high", type=int, default=64, metavar="C")
    p.add_argument("--seconds", type=_finite, default=60.0, metavar="S",
                   help="how long the idle-CPU measurement runs (after --warmup)")
    p.add_argument("--warmup", type=_finite, default=45.0, metavar="S",
                   help="how long the TUI runs before the idle window (plus N/200 s)")
    p.add_argument("--repeats", type=int, default=3, metavar="R",
                   help="runs per process figure; the median is reported")
    p.add_argument("--trials", type=int, default=40, metavar="T",
                   help="detection: instances turned FAILED per fleet size")
    p.add_argument("--config-instances", type=int, default=50_000, metavar="N",
                   help="the big config file whose load is timed (default 50000)")
    p.add_argument("--baseline", default=None, metavar="DIR",
                   help="also measure another checkout (with its own .venv) in the same run")
    p.add_argument("--soak", type=_finite, default=None, metavar="MINUTES",
                   help="instead of the figures: run the app this long against a server that "
                        "keeps failing, then check it agrees with the server")
    p.add_argument("--outage", type=int, nargs="?", const=60, default=None, metavar="N",
                   help="instead of the figures: time the outage banner and its end after the "
                        "server comes back, on N instances (default 60), --repeats trials each")
    p.add_argument("--hub-only", action="store_true",
                   help="only the hub's figures (wawp-tui serve, 20 attached screens), beside the "
                        "TUI alone they compare to")
    p.add_argument("--web-only", action="store_true",
                   help="only the wall page's figures (serve --web: its tabs' processes, the "
                        "requests they add, a change shown)")
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("remove", help="remove an instance from the config file")
    _common_options(p, suppress=True)
    p.add_argument("id")

    p = sub.add_parser("exporter", help="headless: Prometheus metrics of the fleet at /metrics, /healthz",
                       description="Poll the fleet (or the instances of --tag) forever and serve "
                                   "Prometheus metrics at /metrics and 'ok' at /healthz while the "
                                   "poller runs. Read-only unless --auto-heal. SIGTERM stops it.")
    _common_options(p, suppress=True)
    p.add_argument("--listen", default="127.0.0.1:9877", metavar="HOST:PORT",
                   help="address to serve on (default 127.0.0.1:9877; IPv6 as [::1]:9877; "
                        "port 0 picks a free one)")
    p.add_argument("--tag", action="append", default=[], metavar="T",
                   help="only instances with this tag (repeatable: any of them); one exporter "
                        "per tag shards a big fleet")
    p.add_argument("--auto-heal", action="store_true",
                   help="let the runbook's auto-heal act (restart FAILED, start unloaded "
                        "sessions); without it the exporter is read-only and sends no action")

    p = sub.add_parser("serve", help="the hub: one watcher for a team (API, events, webhooks, metrics)",
                       description="Poll the fleet once for everyone: the exporter's /metrics and "
                                   "/healthz, plus /api/v1/fleet, /api/v1/events (Server-Sent "
                                   "Events), POST /api/v1/instances/ID/ACTION through the one "
                                   "gate, and POST /webhooks/wawp (a doorbell). Users and their "
                                   "tokens are in [hub] of the config; without users it serves "
                                   "loopback only and takes no actions. SIGTERM stops it. See "
                                   "docs/hub.md.")
    _common_options(p, suppress=True)
    p.add_argument("--listen", default=None, metavar="HOST:PORT",
                   help="address to serve on (default: [hub] listen, else 127.0.0.1:9877)")
    p.add_argument("--tag", action="append", default=[], metavar="T",
                   help="only instances with this tag (repeatable)")
    p.add_argument("--auto-heal", action="store_true",
                   help="let the runbook's auto-heal act on the hub (restart FAILED, start "
                        "unloaded sessions)")
    p.add_argument("--tls-cert", default=None, metavar="FILE", help="serve https with this certificate (PEM)")
    p.add_argument("--tls-key", default=None, metavar="FILE", help="... and this private key (PEM)")
    p.add_argument("--web", action="store_true",
                   help="also serve the wall as a web page (for a TV with a browser): each tab "
                        "runs `wawp-tui --wall --hub` as a viewer; a hub user's token opens it "
                        "(docs/wall.md)")
    p.add_argument("--web-listen", default=None, metavar="HOST:PORT",
                   help="where the wall page listens (default 127.0.0.1:9878)")
    p.add_argument("--web-tabs", type=int, default=None, metavar="N",
                   help="browser tabs (each a process) at once, at most (default 10)")

    p = sub.add_parser("schedule", help="the [[schedules]]: show them, or apply them now (cron)",
                       description="show: each schedule, what it means now and its next changes "
                                   "(local and UTC). apply: stop the instances meant to be "
                                   "STOPPED and start those meant to run, in waves, through the "
                                   "runbook's guards (the hub, wawp-tui serve, does it by itself).")
    _common_options(p, suppress=True)
    p.add_argument("what", choices=["show", "apply"])
    p.add_argument("--dry-run", action="store_true", help="apply: show what would be done, send nothing")
    p.add_argument("--yes", action="store_true", help="apply: do not ask (required when not on a terminal)")
    p.add_argument("--wave", type=int, default=5, metavar="N", help="apply: instances per wave (default 5)")

    p = sub.add_parser("check", help="a Nagios/Icinga plugin: one line, exit 0 OK, 1 WARNING, "
                                     "2 CRITICAL, 3 UNKNOWN",
                       description="Poll the fleet (or the instances of --tag) once and print ONE "
                                   "line with performance data: exit 0 OK, 1 WARNING, 2 CRITICAL, "
                                   "3 UNKNOWN (a usage or config error, no instance, or the API "
                                   "unreachable for every instance). Never sends an action.")
    _common_options(p, suppress=True)
    p.add_argument("--warning", default="1", metavar="N|N%",
                   help="WARNING when at least this many instances are problems, as a count "
                        "or a percentage of the fleet (default 1). Problems: FAILED, "
                        "SCAN_QR_CODE, PASSKEY_*, unreachable, not found (404), unknown status; "
                        "not STARTING or STOPPED")
    p.add_argument("--critical", default="10%", metavar="N|N%",
                   help="CRITICAL when at least this many instances are problems (default 10%%, "
                        "at least one instance)")
    p.add_argument("--tag", action="append", default=[], metavar="T",
                   help="only instances with this tag (repeatable: any of them)")
    p.add_argument("--deadline", type=_finite, default=None, metavar="SECONDS",
                   help="finish within this many seconds; instances not polled by then count "
                        "as unreachable (default: 30, or twice timeout+connect_timeout)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `wawp-tui` script; returns the exit code."""
    from wawp_tui.commands.output import guard_stdout, release_stdout

    words = sys.argv[1:] if argv is None else argv
    if _command_of(words) == "check":
        return _check_main(argv)
    guard_stdout()
    try:
        return _main(argv)
    finally:
        release_stdout()


def _main(argv: Sequence[str] | None) -> int:
    from wawp_tui.commands.output import OutputFailed
    from wawp_tui.config import ConfigError
    from wawp_tui.launch import say, start_logging
    from wawp_tui.safe_text import clean

    try:
        args = build_parser().parse_args(argv)
        start_logging(create=args.command not in READ_ONLY_COMMANDS)
        code = int(_dispatch(args))
        sys.stdout.flush()  # (a full disk shows on the flush: it must be told here)
        return code
    except OutputFailed as exc:
        say(f"wawp-tui: {exc.message()}")
        return ExitCode.IO_ERROR
    except (UsageError, ConfigError) as exc:
        say(f"wawp-tui: {exc}")
        return ExitCode.USAGE
    except KeyboardInterrupt:
        return ExitCode.INTERRUPTED
    except Exception as exc:  # noqa: BLE001 - the promise: no traceback ever reaches the user
        where = _crash_report(exc)
        say(f"wawp-tui: internal error: {type(exc).__name__}: {clean(exc)} (details in {where})")
        return ExitCode.INTERNAL


#: Commands that only read: they create no folder (not even the log's) where none is.
READ_ONLY_COMMANDS = frozenset({"status", "check"})
#: Options (before the subcommand) that take a value, for `_command_of`.
_VALUED = frozenset({"--config", "--base-url", "--refresh", "--theme", "--hub"})


def _command_of(argv: Sequence[str]) -> str | None:
    """The subcommand named on a command line, without parsing it (the first word that
    is neither an option nor an option's value)."""
    skip = False
    for word in argv:
        if skip:
            skip = False
        elif word in _VALUED:
            skip = True
        elif not word.startswith("-"):
            return word
    return None


def _check_main(argv: Sequence[str] | None) -> int:
    """`wawp-tui check` speaks the plugin protocol even when it fails: a usage or config
    error, an interrupt or a bug is one UNKNOWN line on stdout and exit 3 (never 2,
    which a monitoring system would read as CRITICAL); so is an output that cannot be
    written (one line on stderr then, when stderr works)."""
    from wawp_tui.commands.output import OutputFailed, guard_stdout, release_stdout
    from wawp_tui.launch import say
    from wawp_tui.vocab import NagiosState

    guard_stdout()
    try:
        return _check_protocol(argv)
    except OutputFailed as exc:
        say(f"wawp-tui: check: {exc.message()}")
        return NagiosState.UNKNOWN
    finally:
        release_stdout()


def _check_protocol(argv: Sequence[str] | None) -> int:
    from wawp_tui.commands import check
    from wawp_tui.commands.output import OutputFailed
    from wawp_tui.config import ConfigError
    from wawp_tui.launch import start_logging
    from wawp_tui.safe_text import clean

    try:
        args = build_parser().parse_args(argv)
        start_logging(create=False)
        return int(_dispatch(args))
    except OutputFailed:
        raise
    except (UsageError, ConfigError) as exc:
        return check.unknown(str(exc))
    except KeyboardInterrupt:
        return check.unknown("interrupted")
    except Exception as exc:  # noqa: BLE001 - the plugin protocol: UNKNOWN, never a traceback
        where = _crash_report(exc)
        return check.unknown(f"internal error: {type(exc).__name__}: {clean(exc)} (details in {where})")


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
        from wawp_tui.commands import simulate

        return simulate.run(args)
    if command in ("add", "remove", "import"):
        from wawp_tui.commands import edit

        return {"add": edit.add, "remove": edit.remove, "import": edit.import_file}[command](args)
    if command == "bench":
        return _bench(args)
    if args.wall and command is not None:
        raise UsageError(f"--wall is a screen of its own: use it without a command "
                         f"(wawp-tui --wall), not with {command}")
    if command is None and not (sys.stdin.isatty() and sys.stdout.isatty()) \
            and not (args.wall and _in_browser()):
        raise UsageError("the TUI needs a terminal on stdin and stdout; for a report in a "
                         "pipe, a file or cron use: wawp-tui status (or status --json)")
    if command is None and os.environ.get("TERM", "") in ("dumb", "unknown") and not _in_browser():
        # A terminal that cannot move the cursor would receive a screenful of escapes.
        raise UsageError(f"this terminal (TERM={os.environ['TERM']}) cannot draw the TUI; set TERM "
                         "(e.g. xterm-256color) or use: wawp-tui status")
    hub_url = _hub_url(args, command)
    if hub_url is not None:
        return _attached(args, command, hub_url)
    from wawp_tui.launch import load, make_client

    config = load(args)
    client = make_client(config, args.demo)
    if command == "status":
        from wawp_tui.commands import status

        if args.deadline is not None and args.deadline <= 0:
            raise UsageError("--deadline must be more than 0 seconds")
        return status.run(config, client, as_json=args.json, deadline=args.deadline, out=sys.stdout)
    if command == "rollout":
        from wawp_tui.commands.rollout import run_rollout

        return run_rollout(args, config, client)
    if command == "schedule":
        from wawp_tui.commands import schedule

        if args.what == "show":
            return schedule.show(config, time.time())
        if args.wave < 1:
            raise UsageError("--wave must be at least 1")
        return schedule.apply(args, config, client)
    if command == "exporter":
        from wawp_tui.commands import exporter

        return exporter.run(config, client, listen=args.listen, tags=args.tag,
                            auto_heal=args.auto_heal, demo=args.demo)
    if command == "serve":
        from wawp_tui.commands import serve

        return serve.run(config, client, listen=args.listen, tags=args.tag, auto_heal=args.auto_heal,
                         tls_cert=args.tls_cert, tls_key=args.tls_key, demo=args.demo,
                         web=_web_options(args))
    if command == "check":
        return _check(args, config, client)
    from wawp_tui.commands.output import release_stdout
    from wawp_tui.launch import rerun_options
    from wawp_tui.ui.app import run_app

    release_stdout()  # the screen is Textual's: it writes to the terminal itself
    if args.wall:
        from wawp_tui.ui.wall_app import run_wall

        return run_wall(config, client, demo=args.demo, theme=args.theme)
    return run_app(config, client, demo=args.demo, rerun=rerun_options(args, config))


def _in_browser() -> bool:
    """Run by a web page's tab (`serve --web`, textual-serve): the screen goes to a browser
    through pipes, in Textual's web driver, not to a terminal."""
    return os.environ.get("TEXTUAL_DRIVER", "") == WEB_DRIVER


#: Textual's driver for an app a web page shows (textual-serve sets it for its process).
WEB_DRIVER = "textual.drivers.web_driver:WebDriver"
#: The commands that run attached to a hub with --hub (or WAWP_HUB_URL).
HUB_COMMANDS = (None, "status", "check", "rollout")


def _hub_url(args: argparse.Namespace, command: str | None) -> str | None:
    """The hub to attach to: --hub, else WAWP_HUB_URL for the commands that attach."""
    url = getattr(args, "hub", None)
    if url is None and command in HUB_COMMANDS:
        url = os.environ.get("WAWP_HUB_URL", "").strip() or None
    if url is None:
        return None
    if command not in HUB_COMMANDS:
        raise UsageError(f"--hub attaches the TUI, status, check and rollout; {command} runs on "
                         "its own config")
    if args.demo:
        raise UsageError("--hub and --demo do not go together (the demo has its own fleet)")
    return url


def _attached(args: argparse.Namespace, command: str | None, url: str) -> int:
    """The TUI, status, check or rollout, on a hub's fleet (wawp_tui/hub/attach.py)."""
    from wawp_tui.hub.attach import attach_config, make_link

    link = make_link(url, os.environ)
    config = attach_config(args.config, read_only=args.read_only, theme=args.theme)
    if command == "status":
        from wawp_tui.commands import status

        return status.run_attached(link, config, as_json=args.json, deadline=args.deadline,
                                   out=sys.stdout)
    if command == "check":
        from wawp_tui.commands import check

        try:
            warning = check.parse_threshold(args.warning, "--warning")
            critical = check.parse_threshold(args.critical, "--critical")
        except ValueError as exc:
            raise UsageError(str(exc)) from None
        return check.run_attached(link, config, tags=args.tag, warning=warning, critical=critical)
    if command == "rollout":
        from wawp_tui.commands.rollout import run_rollout_attached

        return run_rollout_attached(args, config, lambda: make_link(url, os.environ))
    from wawp_tui.commands.output import release_stdout

    release_stdout()
    if args.wall:
        from wawp_tui.ui.wall_app import run_wall_attached

        # A wall is a viewer whatever the token allows: read-only, no bell, no auto-heal.
        return run_wall_attached(link, attach_config(args.config, read_only=True, theme=args.theme),
                                 theme=args.theme, in_browser=_in_browser())
    from wawp_tui.ui.app import run_attached

    return run_attached(link, config, rerun=("--hub", url))


def _web_options(args: argparse.Namespace) -> WebOptions | None:
    """`serve --web` and its options (which mean nothing without it)."""
    from wawp_tui.hub.web import DEFAULT_TABS, DEFAULT_WEB_LISTEN, WebOptions

    if not args.web:
        if args.web_listen is not None or args.web_tabs is not None:
            raise UsageError("serve: --web-listen and --web-tabs go with --web")
        return None
    return WebOptions(listen=args.web_listen or DEFAULT_WEB_LISTEN,
                      tabs=DEFAULT_TABS if args.web_tabs is None else args.web_tabs)


def _check(args: argparse.Namespace, config: Config, client: WawpClient) -> int:
    from wawp_tui.commands import check

    try:
        warning = check.parse_threshold(args.warning, "--warning")
        critical = check.parse_threshold(args.critical, "--critical")
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    if args.deadline is not None and args.deadline <= 0:
        raise UsageError("--deadline must be more than 0 seconds")
    return check.run(config, client, tags=args.tag, warning=warning, critical=critical,
                     deadline=args.deadline)


def _bench(args: argparse.Namespace) -> int:
    sizes = (args.instances, args.big, args.status_instances, args.concurrency,
             args.concurrency_high, args.repeats, args.trials, args.config_instances)
    if min(sizes) < 1 or args.seconds <= 0 or args.warmup < 0:
        raise UsageError("--instances, --big, --status-instances, --concurrency, --repeats, "
                         "--trials, --config-instances and --seconds must be positive")
    if args.soak is not None:
        from wawp_tui.devtools.soak import main as soak_main

        if args.soak <= 0:
            raise UsageError("--soak MINUTES must be positive")
        return soak_main(args.soak, args.instances, args.json)
    if args.outage is not None:
        from wawp_tui.devtools.outage_bench import main as outage_main

        if args.outage < 1:
            raise UsageError("--outage N must be at least 1")
        return outage_main(args.outage, args.repeats, args.json)
    from wawp_tui.devtools.bench import BenchOptions
    from wawp_tui.devtools.bench import main as bench_main

    return bench_main(BenchOptions(
        instances=args.instances, big=args.big, status_instances=args.status_instances,
        latency_ms=args.latency_ms, concurrency=args.concurrency,
        concurrency_high=args.concurrency_high, seconds=args.seconds, warmup=args.warmup,
        repeats=args.repeats, trials=min(args.trials, args.instances, args.big),
        config_instances=args.config_instances, baseline=args.baseline, hub_only=args.hub_only,
        web_only=args.web_only),
        args.json)
