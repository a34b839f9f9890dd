"""`wawp-tui serve --web`: what the wall page (wawp_tui/hub/web.py) adds to a hub, checked
and bound before the hub starts, so a config that cannot work is one line and exit 2."""

from __future__ import annotations

import dataclasses
import socket
from dataclasses import dataclass

from wawp_tui.commands.exporter import bind, parse_listen
from wawp_tui.commands.served import is_loopback
from wawp_tui.config import Config, HubUser
from wawp_tui.hub.web import MOST_TABS, WEB_USER, WebOptions, WebWall, hub_url_for, tabs_user
from wawp_tui.launch import UsageError
from wawp_tui.models import Secret


@dataclass
class WebSetup:
    """What `serve --web` adds to a hub, made before it starts: the hub's config with the
    tabs' viewer in it, the page's socket (bound: a busy port is one line and exit 2), and
    the page itself once the hub's own address is known."""

    config: Config
    sock: socket.socket
    users: tuple[HubUser, ...]
    token: Secret
    options: WebOptions

    def page(self, hub_host: str, hub_port: int, tls: tuple[str, str] | None) -> WebWall:
        return WebWall(self.users, hub_url=hub_url_for(hub_host, hub_port, tls is not None),
                       tabs_token=self.token, tabs=self.options.tabs, tls=tls)


def prepare(config: Config, options: WebOptions, tls: tuple[str, str] | None) -> tuple[WebSetup, list[str]]:
    """Check `--web` against the config (UsageError, one line, for what cannot work) and
    bind its socket; the setup and the warnings to print."""
    users = tuple(u for u in config.hub.users if u.token)
    if not users:
        raise UsageError("serve --web: the page asks for a hub user's token, and no [[hub.users]] "
                         "with a token are configured: add one (a viewer for the TV, see docs/wall.md)")
    if any(u.name == WEB_USER for u in config.hub.users):
        raise UsageError(f"serve --web: the user name {WEB_USER!r} is the wall tabs' own; "
                         "rename that [[hub.users]] entry")
    if not 1 <= options.tabs <= MOST_TABS:
        raise UsageError(f"serve: --web-tabs must be from 1 to {MOST_TABS} (each tab holds one of "
                         f"a hub user's {MOST_TABS} event streams)")
    try:
        host, port = parse_listen(options.listen)
    except ValueError as exc:
        raise UsageError(str(exc).replace("--listen", "--web-listen")) from None
    warnings = []
    if not is_loopback(host) and tls is None:
        shown = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        warnings.append(f"warning: --web-listen {shown} without --tls-cert/--tls-key: the page's "
                        "token and cookie cross the network in clear unless a TLS reverse proxy "
                        "is in front (docs/wall.md)")
    user, token = tabs_user()
    config = dataclasses.replace(config, hub=dataclasses.replace(config.hub, users=(*config.hub.users, user)))
    try:
        sock = bind(host, port)
    except UsageError as exc:
        raise UsageError(str(exc).replace("exporter:", "serve --web:", 1)) from None
    return WebSetup(config, sock, users, token, options), warnings
