"""The config file: load and validate strictly, append and remove instances safely.

The user's file is precious: writes append a serialized table to their text (never a
rewrite), go through a temp file + rename, and a file we create is mode 0600. Errors
name the file, the line, the key and the fix. Tokens are wrapped in Secret at once.
"""

from __future__ import annotations

import codecs
import dataclasses
import functools
import ipaddress
import math
import os
import re
import stat
from collections.abc import Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import platformdirs
import tomli
import tomli_w

from wawp_tui import schedules
from wawp_tui.files import FileTooLarge, LockTimeout, NotAFile, atomic_write, locked, read_small
from wawp_tui.models import InstanceConfig, Secret
from wawp_tui.route import Proxy, RouteError, Trust, choose_proxy, choose_trust
from wawp_tui.safe_text import clean
from wawp_tui.schedules import Schedule

#: Longest label kept for display (the table shows 22 characters, the detail pane more).
MAX_LABEL = 100
#: Largest config file read (50,000 instances take about 5 MB): a bigger one, or /dev/zero
#: behind a symlink, is refused instead of filling the memory.
MAX_CONFIG_BYTES = 64 * 1024 * 1024

APP_NAME = "wawp-tui"
DEFAULT_BASE_URL = "https://api.wawp.net"
DEFAULT_TOKEN_ENV = "WAWP_ACCESS_TOKEN"
_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class ConfigError(Exception):
    """A configuration problem: one line naming file, line, key and fix; exit code 2."""

    exit_code = 2


@dataclass(frozen=True)
class ApiSettings:
    """[api]: where and how to talk to Wawp."""

    base_url: str = DEFAULT_BASE_URL
    timeout: float = 10.0
    connect_timeout: float = 5.0
    credentials_in: str = "body"
    allow_insecure_http: bool = False
    max_concurrency: int = 16
    #: [api] proxy as written: None when absent (the environment decides), "" for none.
    proxy: str | None = None
    #: [api] ca_file as written: a PEM file of the CAs to trust instead of the system's.
    ca_file: str | None = None
    #: The proxy requests go through, decided at load (wawp_tui/route.py), or None.
    via: Proxy | None = None
    #: The certificates an https connection trusts, decided at load (None: what the
    #: environment names when the first https request is made, else the system store).
    trust: Trust | None = None

    @property
    def where(self) -> str:
        """The base URL, and the proxy when there is one (never its credentials)."""
        return f"{self.base_url} via proxy {self.via.shown}" if self.via else self.base_url


@dataclass(frozen=True)
class MonitorSettings:
    """[monitor]: how the TUI behaves."""

    refresh: float = 5.0
    #: Ceiling for the poll interval of an instance that has been healthy for a while.
    steady_max: float = 120.0
    #: Polls per second the whole fleet's healthy instances may cost: a small fleet is
    #: polled every `refresh`, a big one slows down to this rate (up to `steady_max`).
    #: 18: a fleet of 500 polls each healthy instance every ~28 s, so a change shows
    #: within 30 s (p95); 5,000 are held at the `steady_max` ceiling (42 polls/s).
    steady_rate: float = 18.0
    auto_heal: bool = False
    #: Seconds a WORKING instance may show no activity before it is flagged (0: never).
    quiet_after: float = 3600.0
    #: Opt-in (the hub only): WORKING instances idle this long are stopped (0: never).
    idle_stop_after: float = 0.0
    theme: str = "wawp-dark"
    bell: bool = True
    read_only: bool = False


#: What a hub user may do: `operator` acts (start, stop, restart, reset, logout, the QR),
#: `viewer` reads (the fleet, the events).
HUB_ROLES = ("operator", "viewer")
DEFAULT_HUB_LISTEN = "127.0.0.1:9877"


@dataclass(frozen=True)
class HubUser:
    """[[hub.users]]: a person (or a wall screen) allowed to use the hub, by bearer token."""

    name: str
    role: str
    #: The variable the token comes from (never the token itself in a message).
    token_env: str
    #: Empty when the variable is not set (the user cannot log in; `serve` says so).
    token: Secret = field(default_factory=lambda: Secret(""))


@dataclass(frozen=True)
class HubSettings:
    """[hub]: `wawp-tui serve`, the team's one watcher."""

    listen: str = DEFAULT_HUB_LISTEN
    #: The variable holding the HMAC key of POST /webhooks/wawp ("" : none configured).
    webhook_secret_env: str = ""
    #: Its value (empty when the variable is unset: `serve` refuses to start then).
    webhook_secret: Secret = field(default_factory=lambda: Secret(""))
    #: /metrics needs a user's token too (default: open, like /healthz).
    metrics_auth: bool = False
    users: tuple[HubUser, ...] = ()


@dataclass(frozen=True)
class Config:
    """Everything loaded: settings, the fleet, where it came from, and warnings to print."""

    api: ApiSettings = field(default_factory=ApiSettings)
    monitor: MonitorSettings = field(default_factory=MonitorSettings)
    instances: tuple[InstanceConfig, ...] = ()
    path: Path | None = None
    warnings: tuple[str, ...] = ()
    #: [[schedules]]: when instances are meant to be running (each instance in at most one).
    schedules: tuple[Schedule, ...] = ()
    hub: HubSettings = field(default_factory=HubSettings)


# -- paths ---------------------------------------------------------------------------


def default_config_path() -> Path:
    return platformdirs.user_config_path(APP_NAME) / "config.toml"


def audit_log_path() -> Path:
    return platformdirs.user_log_path(APP_NAME) / "audit.jsonl"


def state_dir() -> Path:
    return platformdirs.user_state_path(APP_NAME)


def history_path() -> Path:
    """The instances' history (status changes, actions, the ladder's holds), shared by every
    process of this user: the TUI, rollouts, `schedule apply`."""
    return state_dir() / "history.jsonl"


def user_themes_dir() -> Path:
    return platformdirs.user_config_path(APP_NAME) / "themes"


# -- schema --------------------------------------------------------------------------

#: key -> (accepted types, description of the type for messages)
_API_KEYS: dict[str, tuple[tuple[type, ...], str]] = {
    "base_url": ((str,), "a string"),
    "timeout": ((int, float), "a number of seconds"),
    "connect_timeout": ((int, float), "a number of seconds"),
    "credentials_in": ((str,), '"body" or "query"'),
    "allow_insecure_http": ((bool,), "true or false"),
    "max_concurrency": ((int,), "a whole number"),
    "proxy": ((str,), 'a proxy URL ("http://host:port"), or "" for none'),
    "ca_file": ((str,), "the path of a PEM file of CA certificates"),
}
_MONITOR_KEYS: dict[str, tuple[tuple[type, ...], str]] = {
    "refresh": ((int, float), "a number of seconds"),
    "steady_max": ((int, float), "a number of seconds"),
    "steady_rate": ((int, float), "a number of polls per second"),
    "auto_heal": ((bool,), "true or false"),
    "quiet_after": ((int, float), "a number of seconds (0 turns the warning off)"),
    "idle_stop_after": ((str, int, float), 'a duration such as "72h" or "30m" (0: never)'),
    "theme": ((str,), "a theme name"),
    "bell": ((bool,), "true or false"),
    "read_only": ((bool,), "true or false"),
}
_INSTANCE_KEYS: dict[str, tuple[tuple[type, ...], str]] = {
    "id": ((str,), "a string"),
    "label": ((str,), "a string"),
    "token": ((str,), "a string"),
    "token_env": ((str,), "an environment variable name"),
    "tags": ((list,), "a list of strings"),
}
_SCHEDULE_KEYS: dict[str, tuple[tuple[type, ...], str]] = {
    "name": ((str,), "a string"),
    "tags": ((list,), "a list of tags"),
    "ids": ((list,), "a list of instance ids"),
    "running": ((str, list), 'windows such as "Mon-Fri 09:00-18:00" (or a list of them)'),
    "timezone": ((str,), 'an IANA time zone name such as "Europe/London"'),
}
_HUB_KEYS: dict[str, tuple[tuple[type, ...], str]] = {
    "listen": ((str,), 'an address "HOST:PORT"'),
    "webhook_secret_env": ((str,), "an environment variable name"),
    "metrics_auth": ((bool,), "true or false"),
    "users": ((list,), "an array of tables: [[hub.users]]"),
}
_HUB_USER_KEYS: dict[str, tuple[tuple[type, ...], str]] = {
    "name": ((str,), "a string"),
    "token_env": ((str,), "an environment variable name"),
    "role": ((str,), '"operator" or "viewer"'),
}
_TABLES = {"api": _API_KEYS, "monitor": _MONITOR_KEYS, "instances": _INSTANCE_KEYS,
           "schedules": _SCHEDULE_KEYS, "hub": _HUB_KEYS, "hub.users": _HUB_USER_KEYS}


_ANY_TABLE = re.compile(r"^\s*\[")


@functools.cache
def _header_pattern(table: str, indexed: bool) -> re.Pattern[str]:
    return re.compile(rf"^\s*\[\[\s*{table}\s*\]\]" if indexed else rf"^\s*\[\s*{table}\s*\]")


@functools.lru_cache(maxsize=256)
def _key_pattern(key: str) -> re.Pattern[str]:
    name = re.escape(key)
    return re.compile(rf"^\s*(\"?{name}\"?\s*=|\[+\s*{name}\s*\]+)")


class _Source:
    """The raw text of a config file, to point errors at a line.

    Line numbers are only needed by error messages, so a file that loads cleanly is never
    split or scanned here. The first lookup splits the text once and indexes the table
    headers (one pass per table name); after that a lookup is a list access plus a scan
    of that one table's own lines, so all lookups together stay O(file size) where a
    rescan from the top per instance was quadratic.
    """

    def __init__(self, path: Path, text: str) -> None:
        self.path = path
        self._text = text
        self._lines: list[str] | None = None
        #: (table, array of tables?) -> 0-based lines of the headers that open it
        self._headers: dict[tuple[str, bool], list[int]] = {}

    @property
    def lines(self) -> list[str]:
        if self._lines is None:
            self._lines = self._text.splitlines()
        return self._lines

    def _table_starts(self, table: str, indexed: bool) -> list[int]:
        starts = self._headers.get((table, indexed))
        if starts is None:
            header = _header_pattern(table, indexed)
            starts = [n for n, line in enumerate(self.lines) if header.match(line)]
            self._headers[(table, indexed)] = starts
        return starts

    def _table_start(self, table: str, index: int | None) -> int | None:
        starts = self._table_starts(table, index is not None)
        position = 0 if index is None else index
        return starts[position] if 0 <= position < len(starts) else None

    def line_of(self, table: str | None, key: str | None, index: int | None = None) -> int | None:
        """1-based line of `key` in `table` (the index-th [[table]]), best effort."""
        start = 0
        if table is not None:
            found = self._table_start(table, index)
            if found is None:
                return None
            start = found
            if key is None:
                return found + 1
        pattern = _key_pattern(key or "")
        lines = self.lines
        for n in range(start + (1 if table else 0), len(lines)):
            line = lines[n]
            if table is not None and _ANY_TABLE.match(line):
                break
            if pattern.match(line):
                return n + 1
        return start + 1 if table else None

    def error(self, message: str, table: str | None = None, key: str | None = None,
              index: int | None = None) -> ConfigError:
        line = self.line_of(table, key, index)
        where = f"{self.path} line {line}" if line else str(self.path)
        return ConfigError(f"{where}: {message}")


def _where(table: str, index: int | None) -> str:
    return f"[[{table}]] #{index + 1}" if index is not None else f"[{table}]"


#: table -> key -> the exact types accepted (a fast path for what the TOML parser produces)
_EXACT_TYPES = {table: {key: frozenset(types) for key, (types, _) in schema.items()}
                for table, schema in _TABLES.items()}


def _check_keys(src: _Source, table: str, data: dict, index: int | None = None) -> None:
    schema = _TABLES[table]
    exact = _EXACT_TYPES[table]
    for key, value in data.items():
        if type(value) in exact.get(key, ()):
            continue  # an accepted type itself (bool only where bool is listed)
        if key not in schema:
            raise src.error(f"{_where(table, index)} key {key!r} is not allowed "
                            f"(allowed: {', '.join(schema)}); fix the key name", table, key, index)
        types, described = schema[key]
        if isinstance(value, bool) and bool not in types:
            ok = False
        else:
            ok = isinstance(value, types)
        if not ok:
            raise src.error(f"{_where(table, index)} key {key!r} must be {described}, not "
                            f"{type(value).__name__}", table, key, index)


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def base_url_path_warning(url: str) -> str | None:
    """A warning when the base URL has a path: the API's paths start at /v2/ on the host,
    so `https://api.wawp.net/v2` makes every call /v2/v2/... and every instance "not found"."""
    path = urlsplit(url).path.strip("/")
    if not path:
        return None
    return (f"warning: base_url {url} has a path (/{path}); the API's paths (/v2/...) are added "
            "to it, so every call goes to /" + path + "/v2/...; remove the path unless a proxy "
            "needs it")


def without_userinfo(url: str) -> str:
    """The URL as a message may quote it: any `user:password@` replaced by `***@` (the
    text boundary does the same to every message; this keeps the config's own words
    clean before they get there)."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url
    authority, slash, tail = _split_authority(rest)
    if "@" in authority:
        authority = "***@" + authority.rpartition("@")[2]
    return f"{scheme}{sep}{authority}{slash}{tail}"


def _split_authority(rest: str) -> tuple[str, str, str]:
    """(authority, the character that ends it, what follows) of the text after `://`."""
    for index, ch in enumerate(rest):
        if ch in "/?#":
            return rest[:index], ch, rest[index + 1:]
    return rest, "", ""


def _port_problem(netloc: str) -> str | None:
    """Why the port of `host:port` is no TCP port, or None (none given, or a good one).
    Only ASCII digits count: `int()` would read fullwidth ones, a URL parser would not."""
    host_port = netloc.rpartition("@")[2]
    after_host = host_port.partition("]")[2] if host_port.startswith("[") else host_port
    if ":" not in after_host:
        return None
    text = after_host.rpartition(":")[2]
    if text == "":
        return None  # "host:" is the scheme's default port
    if not (text.isascii() and text.isdigit()) or not 1 <= int(text) <= 65535:
        return f"the port {clean(text, 20)!r} is not a number from 1 to 65535"
    return None


def check_base_url(url: str, allow_insecure_http: bool) -> str:
    """A normalized base URL, or ValueError saying what is wrong and how to fix it.

    The messages never quote a URL's `user:password@` part (whatever the scheme)."""
    shown = without_userinfo(url.strip())
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        raise ValueError(f"base_url {shown!r} is not a valid URL (an IPv6 address goes in "
                         "brackets: https://[2001:db8::1]/)") from None
    if parts.username is not None or parts.password is not None:
        raise ValueError(f"base_url {shown!r} must not carry credentials (user:password@); "
                         "the access token of each instance is the only credential sent")
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"base_url {shown!r} must be an http(s) URL with a host, e.g. {DEFAULT_BASE_URL}")
    if parts.query:
        raise ValueError("base_url must not carry a query string")
    problem = _port_problem(parts.netloc)
    if problem:
        raise ValueError(f"base_url {shown!r}: {problem}")
    if any(c.isspace() or not c.isprintable() for c in parts.netloc):
        raise ValueError(f"base_url {shown!r}: the host holds a space or a control character")
    if parts.scheme == "http" and not _is_loopback(parts.hostname) and not allow_insecure_http:
        raise ValueError(f"base_url {shown!r} is plain http to a remote host: access tokens would "
                         "travel in clear; use https, or set allow_insecure_http = true in [api]")
    return url.strip().rstrip("/")


# -- loading -------------------------------------------------------------------------


def load_config(
    path: Path | None = None,
    *,
    env: Mapping[str, str] = os.environ,
    base_url_override: str | None = None,
    refresh_override: float | None = None,
    read_only_override: bool = False,
    theme_override: str | None = None,
) -> Config:
    """Load, validate and resolve the config (see the module docstring for the rules)."""
    explicit = path is not None
    path = Path(path) if path is not None else default_config_path()
    if not path.exists():
        _check_link(path)
        if explicit:
            raise ConfigError(f"config file not found: {path}")
        return _zero_config(path, env, base_url_override, refresh_override, read_only_override,
                            theme_override)
    text = read_config_text(path)
    src = _Source(path, text)
    data = _parse(src, text)
    for table in data:
        if table not in _TABLES:
            raise src.error(f"unknown table or key {table!r} (allowed: [api], [monitor], [hub], "
                            "[[instances]], [[schedules]]); fix or remove it", None, table)
    api_raw = data.get("api", {})
    monitor_raw = data.get("monitor", {})
    for name, raw in (("api", api_raw), ("monitor", monitor_raw)):
        if not isinstance(raw, dict):
            raise src.error(f"{name!r} must be a table: [{name}]", None, name)
        _check_keys(src, name, raw)
    api = _api_settings(src, api_raw, env, base_url_override)
    monitor = _monitor_settings(src, monitor_raw, refresh_override, read_only_override, theme_override)
    instances_raw = data.get("instances", [])
    if not isinstance(instances_raw, list):
        raise src.error("'instances' must be an array of tables: [[instances]]", None, "instances")
    instances = _instances(src, instances_raw, env)
    if not instances:
        raise src.error("no [[instances]] configured; add one with: wawp-tui add ID --label TEXT")
    schedules_raw = data.get("schedules", [])
    if not isinstance(schedules_raw, list):
        raise src.error("'schedules' must be an array of tables: [[schedules]]", None, "schedules")
    schedules = _schedules(src, schedules_raw)
    instances = _scheduled(src, instances, schedules)
    hub = _hub_settings(src, data.get("hub", {}), env)
    return Config(api=api, monitor=monitor, instances=tuple(instances), path=path,
                  warnings=_warnings(path, api, instances), schedules=schedules, hub=hub)


def _hub_settings(src: _Source, raw: object, env: Mapping[str, str]) -> HubSettings:
    """[hub] and its [[hub.users]]: names unique, roles known, tokens from variables only
    (a token written in the file would be one more copy of a password)."""
    if not isinstance(raw, dict):
        raise src.error("'hub' must be a table: [hub]", None, "hub")
    _check_keys(src, "hub", raw)
    secret_env = raw.get("webhook_secret_env", "").strip()
    if secret_env and not _ENV_NAME.match(secret_env):
        raise src.error(f"[hub] webhook_secret_env {secret_env!r} is not a valid variable name",
                        "hub", "webhook_secret_env")
    users: list[HubUser] = []
    for index, entry in enumerate(raw.get("users", [])):
        where = f"[[hub.users]] #{index + 1}"
        if not isinstance(entry, dict):
            raise src.error(f"{where} must be a table", "hub.users", None, index)
        _check_keys(src, "hub.users", entry, index)
        name = clean(entry.get("name", ""), 40).strip()
        if not name or not all(c.isalnum() or c in "-_.@" for c in name):
            raise src.error(f"{where} needs a name of letters, digits, '-', '_', '.' or '@'",
                            "hub.users", "name", index)
        role = entry.get("role", "viewer")
        if role not in HUB_ROLES:
            raise src.error(f"{where} ({name}) role must be \"operator\" or \"viewer\", not "
                            f"{clean(role, 20)!r}", "hub.users", "role", index)
        var = entry.get("token_env", "")
        if not _ENV_NAME.match(var):
            raise src.error(f"{where} ({name}) needs token_env = \"VARIABLE\" naming the variable "
                            "that holds its bearer token", "hub.users", "token_env", index)
        if any(u.name == name for u in users):
            raise src.error(f"two [[hub.users]] are named {name!r}; names must differ",
                            "hub.users", "name", index)
        users.append(HubUser(name=name, role=role, token_env=var,
                             token=Secret(env.get(var, "").strip())))
    return HubSettings(listen=raw.get("listen", DEFAULT_HUB_LISTEN).strip(),
                       webhook_secret_env=secret_env,
                       webhook_secret=Secret(env.get(secret_env, "").strip() if secret_env else ""),
                       metrics_auth=bool(raw.get("metrics_auth", False)), users=tuple(users))


def _warnings(path: Path, api: ApiSettings, instances: Sequence[InstanceConfig]) -> tuple[str, ...]:
    """What loads but deserves a line before the fleet: loose permissions, unpollable
    instances, a path in the base URL."""
    warnings = []
    if any(i.token_source == "config file" for i in instances):
        warning = permission_warning(path)
        if warning:
            warnings.append(warning)
    untokened = [i for i in instances if i.problem]
    if untokened:
        shown = ", ".join(f"{i.id} ({i.problem})" for i in untokened[:3])
        more = f" and {len(untokened) - 3} more" if len(untokened) > 3 else ""
        warnings.append(f"warning: {len(untokened)} instance(s) cannot be polled: {shown}{more}; "
                        "the others are")
    path_warning = base_url_path_warning(api.base_url)
    if path_warning:
        warnings.append(path_warning)
    return tuple(warnings)


def _parse(src: _Source, text: str) -> dict[str, Any]:
    try:
        return tomli.loads(text)
    except RecursionError as exc:
        # tomli refuses nesting beyond its limits this way (400 levels of inline arrays or
        # tables, 1,000 parts of a dotted key), as does Python's own stack.
        raise ConfigError(f"{src.path}: invalid TOML: {clean(exc) or 'nested too deeply'}") from None
    except tomli.TOMLDecodeError as exc:
        message = str(exc)
        found = re.search(r"\(at line (\d+), column (\d+)\)", message)
        reason = re.sub(r"\s*\(at line \d+, column \d+\)", "", message).strip()
        if found:
            raise ConfigError(f"{src.path} line {found.group(1)}: invalid TOML: {reason} "
                              f"(column {found.group(2)})") from None
        raise ConfigError(f"{src.path}: invalid TOML: {reason}") from None


def _api_settings(src: _Source, raw: dict, env: Mapping[str, str], override: str | None) -> ApiSettings:
    values: dict[str, Any] = {k: (float(v) if k.endswith("timeout") else v) for k, v in raw.items()}
    api = ApiSettings(**values)
    for key in ("timeout", "connect_timeout"):
        value = getattr(api, key)
        if not math.isfinite(value) or value <= 0:  # TOML allows nan and inf
            raise src.error(f"[api] {key} must be a number of seconds more than 0, not {value}",
                            "api", key)
    if api.credentials_in not in ("body", "query"):
        raise src.error('[api] credentials_in must be "body" or "query"', "api", "credentials_in")
    if api.max_concurrency < 1:
        raise src.error("[api] max_concurrency must be at least 1", "api", "max_concurrency")
    url = override or env.get("WAWP_BASE_URL") or api.base_url
    try:
        url = check_base_url(url, api.allow_insecure_http)
    except ValueError as exc:
        if override or env.get("WAWP_BASE_URL"):
            origin = "--base-url" if override else "WAWP_BASE_URL"
            raise ConfigError(f"{origin}: {exc}") from None
        raise src.error(str(exc), "api", "base_url") from None
    return with_route(ApiSettings(**{**api.__dict__, "base_url": url}), env, src)


def with_route(api: ApiSettings, env: Mapping[str, str], src: _Source | None = None) -> ApiSettings:
    """The settings with the proxy and the trust decided (wawp_tui/route.py): a proxy or
    CA file that cannot be used is a ConfigError naming the key or the variable."""
    try:
        via = choose_proxy(api.base_url, api.proxy, env)
        # The environment's CA settings matter only to https; a ca_file written in the
        # config is checked whatever the scheme (it was meant for something).
        if api.ca_file is not None or api.base_url.startswith("https:"):
            trust = choose_trust(api.ca_file, env)
        else:
            trust = Trust()
    except RouteError as exc:
        if exc.key and src is not None:
            raise src.error(str(exc), "api", exc.key) from None
        raise ConfigError(str(exc)) from None
    return dataclasses.replace(api, via=via, trust=trust)


def _monitor_settings(src: _Source, raw: dict, refresh: float | None, read_only: bool,
                      theme: str | None) -> MonitorSettings:
    values = dict(raw)
    for key in ("refresh", "steady_max", "steady_rate", "quiet_after"):
        if key in values and not math.isfinite(values[key]):  # TOML allows nan and inf
            raise src.error(f"[monitor] {key} must be a finite number, not {values[key]}",
                            "monitor", key)
    if "refresh" in values:
        values["refresh"] = float(values["refresh"])
        if values["refresh"] < 1:
            raise src.error("[monitor] refresh must be at least 1 second", "monitor", "refresh")
    for key in ("steady_max", "steady_rate"):
        if key in values:
            values[key] = float(values[key])
            if values[key] <= 0:
                raise src.error(f"[monitor] {key} must be positive", "monitor", key)
    if "idle_stop_after" in values:
        try:
            values["idle_stop_after"] = parse_duration(values["idle_stop_after"])
        except ValueError as exc:
            raise src.error(f"[monitor] idle_stop_after: {exc}", "monitor", "idle_stop_after") from None
    if "quiet_after" in values:
        values["quiet_after"] = float(values["quiet_after"])
        if values["quiet_after"] < 0:
            raise src.error("[monitor] quiet_after must be 0 (off) or more seconds", "monitor",
                            "quiet_after")
    if refresh is not None:
        if not (math.isfinite(refresh) and refresh >= 1):
            raise ConfigError("--refresh must be at least 1 second")
        values["refresh"] = float(refresh)
    if read_only:
        values["read_only"] = True
    if theme:
        values["theme"] = theme
    return MonitorSettings(**values)


def _instances(src: _Source, raw: list, env: Mapping[str, str]) -> list[InstanceConfig]:
    found: list[InstanceConfig] = []
    #: id -> index of the [[instances]] that holds it; its line is looked up only when a
    #: duplicate needs it in the message.
    first_index: dict[str, int] = {}
    #: variable name -> its value: a fleet shares a few token variables.
    tokens: dict[str, str] = {}
    for index, entry in enumerate(raw):
        if not isinstance(entry, dict):
            raise src.error(f"[[instances]] #{index + 1} must be a table", "instances", None, index)
        _check_keys(src, "instances", entry, index)
        for key in ("id", "label"):
            if not entry.get(key, "").strip():
                raise src.error(f"{_where('instances', index)} needs a non-empty {key!r}",
                                "instances", None, index)
        instance_id = entry["id"].strip()
        if not _ID.match(instance_id):
            raise src.error(f"{_where('instances', index)} id {instance_id!r} may hold only "
                            "letters, digits, '-' and '_'", "instances", "id", index)
        if instance_id in first_index:
            line = src.line_of("instances", "id", index)
            first = src.line_of("instances", "id", first_index[instance_id])
            raise ConfigError(f"{src.path} line {line}: duplicate instance id {instance_id!r} "
                              f"(first at line {first}); remove one of them")
        first_index[instance_id] = index
        tags = entry.get("tags", [])
        if not all(isinstance(t, str) for t in tags):
            raise src.error(f"{_where('instances', index)} tags must be a list of strings",
                            "instances", "tags", index)
        token, origin, problem = _token(src, entry, env, index, tokens)
        # Labels and tags are shown everywhere: they cross the text boundary here, once.
        found.append(InstanceConfig(id=instance_id, label=clean(entry["label"], MAX_LABEL),
                                    token=token, tags=tuple(clean(t, 40) for t in tags),
                                    token_source=origin, problem=problem))
    return found


def _token(src: _Source, entry: dict, env: Mapping[str, str], index: int,
           cache: dict[str, str] | None = None) -> tuple[Secret, str, str | None]:
    """The instance's token, where it came from, and the problem when it has none."""
    def where() -> str:
        return f"{_where('instances', index)} ({entry['id']})"

    if "token" in entry and "token_env" in entry:
        raise src.error(f"{where()} has both 'token' and 'token_env'; keep one", "instances", "token_env", index)
    if "token" in entry:
        if not entry["token"].strip():
            raise src.error(f"{where()} 'token' is empty", "instances", "token", index)
        return Secret(entry["token"].strip()), "config file", None
    var = entry.get("token_env", DEFAULT_TOKEN_ENV)
    value = cache.get(var) if cache is not None else None
    if value is None:
        if not _ENV_NAME.match(var):
            raise src.error(f"{where()} token_env {var!r} is not a valid variable name",
                            "instances", "token_env", index)
        value = env.get(var, "").strip()
        if value and cache is not None:
            cache[var] = value
    if not value:
        # One instance's missing token is that instance's problem: the rest of the fleet
        # is still monitored (its row says what to export).
        line = src.line_of("instances", "token_env" if "token_env" in entry else None, index)
        at = f" ({src.path.name} line {line})" if line else ""
        if "token_env" in entry:
            return Secret(""), f"env {var}", (f"{var} is not set{at}: export {var}=... (its "
                                              "token_env) and start again")
        return Secret(""), f"env {var}", (f"has no token{at}: set {DEFAULT_TOKEN_ENV}, or give it "
                                          "token_env naming a variable that holds its token")
    return Secret(value), f"env {var}", None


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$")


def parse_duration(value: object) -> float:
    """Seconds from "72h", "30m", "2d", "90s" or a number of seconds (0: never)."""
    if isinstance(value, bool):
        raise ValueError("must be a duration such as \"72h\", not true or false")
    if isinstance(value, (int, float)):
        seconds = float(value)
    else:
        found = _DURATION.match(str(value))
        if not found:
            raise ValueError(f"{clean(str(value), 40)!r} is not a duration (write e.g. \"72h\", "
                             "\"30m\", \"2d\")")
        seconds = float(found.group(1)) * {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}[found.group(2)]
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError("must be 0 (never) or a positive duration")
    return seconds


def _schedules(src: _Source, raw: list) -> tuple[Schedule, ...]:
    """[[schedules]]: each a name, whom it covers (tags or ids), its windows and zone."""
    found: list[Schedule] = []
    for index, entry in enumerate(raw):
        if not isinstance(entry, dict):
            raise src.error(f"[[schedules]] #{index + 1} must be a table", "schedules", None, index)
        _check_keys(src, "schedules", entry, index)
        where = _where("schedules", index)
        name = clean(entry.get("name", ""), 60).strip()
        if not name:
            raise src.error(f"{where} needs a non-empty 'name'", "schedules", None, index)
        where = f"{where} ({name})"
        for key in ("tags", "ids"):
            if not all(isinstance(v, str) and v.strip() for v in entry.get(key, [])):
                raise src.error(f"{where} {key} must be a list of non-empty strings", "schedules", key, index)
        if not entry.get("tags") and not entry.get("ids"):
            raise src.error(f"{where} needs tags = [...] or ids = [...]: whom it covers",
                            "schedules", None, index)
        running = entry.get("running")
        if running is None:
            raise src.error(f'{where} needs running = "Mon-Fri 09:00-18:00" (when it is meant '
                            "to be running)", "schedules", None, index)
        if isinstance(running, list):
            if not all(isinstance(r, str) for r in running):
                raise src.error(f"{where} running must be strings", "schedules", "running", index)
            running = "; ".join(running)
        zone_name = entry.get("timezone", "")
        try:
            zone_tz = schedules.zone(zone_name)
            windows = schedules.parse_running(running)
        except schedules.ScheduleError as exc:
            key = "running" if "zone" not in str(exc) else "timezone"
            raise src.error(f"{where} {key}: {exc}", "schedules", key, index) from None
        found.append(Schedule(name=name, windows=windows, zone_name=zone_name,
                              tags=tuple(t.strip() for t in entry.get("tags", [])),
                              ids=tuple(i.strip() for i in entry.get("ids", [])),
                              text=clean(running, 200), zone=zone_tz))
    names = [s.name for s in found]
    for name in names:
        if names.count(name) > 1:
            raise src.error(f"two [[schedules]] are named {name!r}; names must differ", "schedules")
    return tuple(found)


def _scheduled(src: _Source, instances: list[InstanceConfig],
               found: tuple[Schedule, ...]) -> list[InstanceConfig]:
    """Each instance with the schedule that covers it (at most one: two would disagree)."""
    if not found:
        return instances
    known = {i.id for i in instances}
    for index, schedule in enumerate(found):
        missing = [i for i in schedule.ids if i not in known]
        if missing:
            raise src.error(f"[[schedules]] #{index + 1} ({schedule.name}) names instances not in "
                            f"the config: {', '.join(clean(m, 64) for m in missing[:5])}",
                            "schedules", "ids", index)
    result = []
    for inst in instances:
        covering = [s for s in found if schedules.applies_to(s, inst.id, inst.tags)]
        if len(covering) > 1:
            raise src.error(f"instance {inst.id} ({inst.label}) is in two schedules: "
                            f"{covering[0].name!r} and {covering[1].name!r}; an instance can "
                            "follow one schedule", "schedules", None,
                            found.index(covering[1]))
        result.append(dataclasses.replace(inst, schedule=covering[0]) if covering else inst)
    return result


def _zero_config(path: Path, env, base_url, refresh, read_only, theme) -> Config:
    instance_id = env.get("WAWP_INSTANCE_ID", "").strip()
    token = env.get(DEFAULT_TOKEN_ENV, "").strip()
    if not instance_id or not token:
        raise ConfigError(
            f"no config file at {path}; create one with: wawp-tui add ID --label TEXT, or set "
            f"WAWP_INSTANCE_ID and {DEFAULT_TOKEN_ENV}, or try: wawp-tui --demo")
    if not _ID.match(instance_id):
        raise ConfigError(f"WAWP_INSTANCE_ID {instance_id!r} may hold only letters, digits, '-' and '_'")
    url = base_url or env.get("WAWP_BASE_URL") or DEFAULT_BASE_URL
    try:
        url = check_base_url(url, False)
    except ValueError as exc:
        raise ConfigError(f"{'--base-url' if base_url else 'WAWP_BASE_URL'}: {exc}") from None
    if refresh is not None and not (math.isfinite(refresh) and refresh >= 1):
        raise ConfigError("--refresh must be at least 1 second")
    monitor = MonitorSettings(
        refresh=float(refresh) if refresh is not None else MonitorSettings.refresh,
        read_only=read_only, theme=theme or MonitorSettings.theme)
    inst = InstanceConfig(id=instance_id, label=instance_id, token=Secret(token),
                          token_source=f"env {DEFAULT_TOKEN_ENV}")
    return Config(api=with_route(ApiSettings(base_url=url), env), monitor=monitor,
                  instances=(inst,), path=None)


def permission_warning(path: Path) -> str | None:
    """ssh-style warning for a token-holding file that group or others can read."""
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except OSError:
        return None
    if mode & 0o077:
        return (f"warning: {path} holds access tokens and is readable by group/others "
                f"(mode {mode:04o}); run: chmod 600 {path}")
    return None


# -- writing -------------------------------------------------------------------------


def _check_link(path: Path) -> None:
    """A symlink that leads nowhere is a mistake to report, not a file to create (an
    edit would create the missing target's folders) nor a missing config."""
    if path.is_symlink() and not path.exists():
        raise ConfigError(f"{path}: is a symlink that leads nowhere (its target is missing, "
                          "or the links loop); fix or remove the link")


def read_config_text(path: Path) -> str:
    """The file's text, or one ConfigError line saying why it cannot be read."""
    try:
        data = read_small(path, MAX_CONFIG_BYTES)
    except NotAFile as exc:
        raise ConfigError(f"{path}: is {exc.strerror}, not a config file; use a regular "
                          "file") from None
    except FileTooLarge as exc:
        raise ConfigError(f"{path}: is {exc.strerror}, far more than any fleet's config; "
                          "is it the right file?") from None
    except IsADirectoryError:
        raise ConfigError(f"{path}: is a folder, not a config file") from None
    except PermissionError:
        raise ConfigError(f"{path}: cannot read: permission denied; check its owner and "
                          f"mode (ls -l {path})") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror or exc}") from None
    if data.startswith(codecs.BOM_UTF8):
        raise ConfigError(f"{path}: starts with a byte-order mark (BOM), which TOML does not "
                          "allow; save the file as UTF-8 without BOM")
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise ConfigError(f"{path}: is UTF-16; save the file as UTF-8")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ConfigError(f"{path} line {line}: not valid UTF-8 (byte 0x{data[exc.start]:02x}); "
                          "save the file as UTF-8") from None


def _write(path: Path, text: str) -> None:
    """Atomic write through symlinks; an OSError becomes one line (exit 2)."""
    try:
        atomic_write(path, text)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot write: {exc.strerror or exc}; the file is "
                          "unchanged") from None


@contextmanager
def _editing(path: Path) -> Iterator[None]:
    """The lock around one read-modify-write of the user's file."""
    stack = ExitStack()
    try:
        stack.enter_context(locked(path))
    except LockTimeout:
        raise ConfigError(f"{path}: another wawp-tui is changing this file right now; "
                          "try again in a moment") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot lock for writing: {exc.strerror or exc}; the file "
                          "is unchanged") from None
    with stack:
        yield


def _read_existing(path: Path) -> tuple[str, dict]:
    if not path.exists():
        return "", {}
    text = read_config_text(path)
    return text, _parse(_Source(path, text), text)


def instance_entry(instance_id: str, label: str, *, token_env: str | None = None,
                   tags: Sequence[str] = ()) -> dict[str, Any]:
    """One validated [[instances]] table, as `add` and `import` write it."""
    instance_id = instance_id.strip()
    if not _ID.match(instance_id):
        raise ConfigError(f"id {instance_id!r} may hold only letters, digits, '-' and '_' "
                          "(1 to 64 of them)")
    if not label.strip():
        raise ConfigError(f"label of {instance_id} must not be empty")
    for name, value in (("label", label), *(("tag", t) for t in tags)):
        if not value.isprintable():
            raise ConfigError(f"{name} {clean(value, 60)!r} of {instance_id} holds control "
                              "characters; use plain text")
    token_env = (token_env or "").strip() or None
    if token_env is not None and not _ENV_NAME.match(token_env):
        raise ConfigError(f"token_env {token_env!r} is not a valid environment variable name")
    entry: dict[str, Any] = {"id": instance_id, "label": label.strip()}
    if token_env:
        entry["token_env"] = token_env
    clean_tags = [t.strip() for t in tags if t.strip()]
    if clean_tags:
        entry["tags"] = clean_tags
    return entry


def configured_ids(path: Path) -> set[str]:
    """The instance ids already in the file (none when it does not exist yet)."""
    _, data = _read_existing(path)
    return {e["id"] for e in data.get("instances", []) if isinstance(e, dict) and "id" in e}


def append_instances(path: Path, entries: Sequence[dict[str, Any]]) -> list[str]:
    """Append [[instances]] tables in one atomic write, keeping everything else as is.

    Runs under the file's lock; ids already in the file (another process may have added
    them since the caller looked) are skipped and returned.
    """
    if not entries:
        return []
    _check_link(path)
    with _editing(path):
        text, data = _read_existing(path)
        present = {e.get("id") for e in data.get("instances", []) if isinstance(e, dict)}
        fresh = [e for e in entries if e["id"] not in present]
        skipped = [e["id"] for e in entries if e["id"] in present]
        if not fresh:
            return skipped
        before = _instance_ids(data)
        # Header + keys written by hand: tomli_w may dump an array of tables inline, and an
        # inline `instances = [...]` after the user's last [[instances]] would land inside it.
        block = "\n".join(f"[[instances]]\n{tomli_w.dumps(entry)}" for entry in fresh)
        separator = "" if not text else ("\n" if text.endswith("\n") else "\n\n")
        new_text = text + separator + block
        # Never write a file we could not read back, or one that lost an entry.
        if _ids_after(new_text) != before + [e["id"] for e in fresh]:
            raise ConfigError(f"{path}: cannot add here safely{_shape_hint(text, data)}; add the "
                              "[[instances]] table by hand; the file is unchanged")
        _write(path, new_text)
    return skipped


_INSTANCES_HEADER = re.compile(r"^\s*\[\[\s*instances\s*\]\]")
_INSTANCES_SUBTABLE = re.compile(r"^\s*\[\[?\s*instances\s*\.")


def _instance_ids(data: dict) -> list[Any]:
    """The ids of the file's instances, in order, whatever shape the file gave them."""
    entries = data.get("instances", [])
    if not isinstance(entries, list):
        return []
    return [e.get("id") if isinstance(e, dict) else None for e in entries]


def _ids_after(text: str) -> list[Any] | None:
    """The instance ids of an edited text, or None when it no longer parses (then it is
    never written)."""
    try:
        return _instance_ids(tomli.loads(text))
    except (tomli.TOMLDecodeError, RecursionError):
        return None


def _shape_hint(text: str, data: dict) -> str:
    """Why an edit may not fit the file: its instances are not all [[instances]] tables."""
    entries = data.get("instances")
    if entries is not None and not isinstance(entries, list):
        return " ('instances' is not an array of tables)"
    headers = sum(1 for line in text.splitlines() if _INSTANCES_HEADER.match(line))
    if headers != len(_instance_ids(data)):
        return (" (it lists instances inline, as instances = [...], or a [[instances]] "
                "header sits inside a string)")
    return ""


def add_instance(path: Path, instance_id: str, label: str, *, token_env: str | None = None,
                 tags: Sequence[str] = ()) -> None:
    """Append one [[instances]] table to the user's file, keeping everything else as is."""
    entry = instance_entry(instance_id, label, token_env=token_env, tags=tags)
    if append_instances(path, [entry]):
        raise ConfigError(f"instance {entry['id']} already in {path}; remove it first with: "
                          f"wawp-tui remove {entry['id']}")


def remove_instance(path: Path, instance_id: str) -> None:
    """Remove the [[instances]] table with this id; comments and other entries stay."""
    _check_link(path)
    if not path.exists():
        raise ConfigError(f"config file not found: {path}")
    with _editing(path):
        text, data = _read_existing(path)
        ids = _instance_ids(data)
        if instance_id not in ids:
            raise ConfigError(f"instance {instance_id} is not in {path}")
        refused = ConfigError(f"{path}: cannot remove {instance_id} safely{_shape_hint(text, data)}; "
                              "edit the file by hand; the file is unchanged")
        lines = text.splitlines(keepends=True)
        starts = [n for n, line in enumerate(lines) if _INSTANCES_HEADER.match(line)]
        if len(starts) != len(ids):
            raise refused  # inline tables, or a header inside a multi-line string
        target = starts[ids.index(instance_id)]
        # The table ends at the next header that is not one of its own sub-tables.
        end = next((n for n in range(target + 1, len(lines))
                    if _ANY_TABLE.match(lines[n]) and not _INSTANCES_SUBTABLE.match(lines[n])),
                   len(lines))
        # Leave comments that introduce the next table with it.
        while end > target + 1 and lines[end - 1].lstrip().startswith("#"):
            end -= 1
        new_text = "".join(lines[:target] + lines[end:])
        if _ids_after(new_text) != [i for i in ids if i != instance_id]:
            raise refused
        _write(path, new_text)
