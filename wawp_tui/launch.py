"""From command-line options to the things every command needs: the config, the client,
the log file. Shared by the command line, the commands and the developer tools."""

from __future__ import annotations

import argparse
import os
import shlex
import sys
from pathlib import Path

from wawp_tui.client.api import WawpClient
from wawp_tui.config import Config, load_config, state_dir
from wawp_tui.core import client_for
from wawp_tui.logs import log_to_file
from wawp_tui.safe_text import clean


class UsageError(Exception):
    """A bad command line: one line on stderr, exit 2."""


def say(line: str) -> None:
    """One line on stderr, through the text boundary (it may quote a file or a server).
    A stderr that is closed or full loses the line: there is nowhere else to tell."""
    stream = sys.stderr
    if stream is None:
        return  # (print(file=None) would write to stdout: a report's stream)
    try:
        print(clean(line, 2000, strip=False), file=stream, flush=True)
    except (OSError, ValueError):
        pass


def out(line: str) -> None:
    """One line on stdout, through the text boundary."""
    print(clean(line, 2000, strip=False))


def load(args: argparse.Namespace) -> Config:
    """The Config for these options (the demo fleet with --demo); warnings on stderr."""
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
        say(f"wawp-tui: {warning}")
    return config


def rerun_options(args: argparse.Namespace, config: Config) -> tuple[str, ...]:
    """The options another run needs to see this same fleet from any directory, in any
    shell: the config file by its absolute path, and the base URL when it did not come
    from that file (--base-url, or WAWP_BASE_URL, which the next shell may not have)."""
    options: list[str] = []
    if config.path is not None:
        options += ["--config", str(Path(config.path).absolute())]
    if getattr(args, "base_url", None) or os.environ.get("WAWP_BASE_URL"):
        options += ["--base-url", config.api.base_url]
    return tuple(options)


def command_line(*words: str) -> str:
    """A wawp-tui command line to print for a person to paste (quoted for a shell)."""
    return shlex.join(["wawp-tui", *words])


def resume_command(action: str, options: tuple[str, ...]) -> str:
    """The command that resumes an interrupted rollout, from any directory."""
    return command_line(*options, "rollout", action, "--resume")


def make_client(config: Config, demo: bool = False) -> WawpClient:
    """The WawpClient for a config; the demo's talks to the in-process simulator."""
    transport = None
    if demo:
        from wawp_tui.demo import demo_transport

        transport = demo_transport()
    return client_for(config, transport)


def start_logging(create: bool = True) -> None:
    """Warnings and worker errors go to a private file, never into the terminal.
    `create=False` (a command that only reads): no folder is made for it; logging is off
    when the state folder does not exist yet."""
    log_to_file(state_dir() / "wawp-tui.log", create=create)
