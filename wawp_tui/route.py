"""How requests reach the API: through which proxy, trusting which certificates.

Decided once, when the config loads, from `[api] proxy` / `[api] ca_file` and the
environment, by the rules curl and httpx follow (docs/network.md has the user's view):

Proxy, for the base URL's scheme:
- `[api] proxy = "http://host:port"` is used for every request; `proxy = ""` turns
  proxies off, whatever the environment says;
- otherwise `https_proxy` / `HTTPS_PROXY` for an https base URL, `http_proxy` /
  `HTTP_PROXY` for an http one, else `all_proxy` / `ALL_PROXY` (lower case first);
- `no_proxy` / `NO_PROXY` lists hosts that go direct: `*`, names (a name covers its
  subdomains; a leading dot is allowed), IP addresses, CIDR ranges, each with an
  optional `:port`. As with curl and httpx, loopback is not exempt by itself: list
  `localhost,127.0.0.1` there for a local API behind a proxy-everything environment.
Only http:// proxies are supported (CONNECT for https); a SOCKS or https:// proxy is a
configuration error naming where it came from, never silently bypassed.

Trust, for an https base URL:
- `[api] ca_file`: exactly the certificates in that file (a private CA);
- else SSL_CERT_FILE, REQUESTS_CA_BUNDLE or CURL_CA_BUNDLE (the first set) as the file
  and SSL_CERT_DIR as the folder, as OpenSSL, requests and curl read them;
- else the machine's own store through `truststore` (the system's CA bundle, with the
  CAs a company installs there; the macOS keychain and Windows' store elsewhere).
A file or folder named but unreadable is a configuration error saying which and why.

No I/O beyond checking that a named CA file or folder can be read.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

#: Variables that name a CA file, in the order they are looked at.
CA_FILE_VARIABLES = ("SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE")
CA_DIR_VARIABLE = "SSL_CERT_DIR"
SYSTEM_STORE = "the system certificate store"


class RouteError(ValueError):
    """A proxy or a trust setting that cannot be used; the message names where it came from."""

    def __init__(self, message: str, key: str | None = None) -> None:
        super().__init__(message)
        #: The [api] key at fault (for the line number), or None for a variable.
        self.key = key


@dataclass(frozen=True)
class Trust:
    """Which certificates an https connection to the API trusts."""

    #: A PEM file of CA certificates, or None.
    cafile: str | None = None
    #: A folder of hashed CA certificates (c_rehash), or None.
    capath: str | None = None
    #: Where they come from, for messages ("[api] ca_file", "SSL_CERT_FILE").
    source: str = ""

    @property
    def system(self) -> bool:
        """True when the machine's own store is trusted (nothing was named)."""
        return self.cafile is None and self.capath is None

    def describe(self) -> str:
        """"the system certificate store", "[api] ca_file /etc/corp-ca.pem", ..."""
        if self.system:
            return SYSTEM_STORE
        parts = []
        if self.cafile is not None:
            parts.append(f"{self.source or 'file'} {self.cafile}")
        if self.capath is not None:
            parts.append(f"{CA_DIR_VARIABLE} {self.capath}")
        return " + ".join(parts)


@dataclass(frozen=True)
class Proxy:
    """The proxy the API's requests go through."""

    #: The proxy's URL as aiohttp takes it (credentials included: never shown).
    url: str
    #: Where it was set ("[api] proxy", "HTTPS_PROXY").
    source: str

    @property
    def shown(self) -> str:
        """The URL without credentials, for the screen, `status --json` and messages."""
        parts = urlsplit(self.url)
        host = parts.hostname or ""
        if ":" in host:
            host = f"[{host}]"
        port = f":{parts.port}" if parts.port else ""
        return f"{parts.scheme}://{host}{port}"


def choose_proxy(base_url: str, configured: str | None, env: Mapping[str, str]) -> Proxy | None:
    """The proxy for requests to `base_url` (see the module docstring), or None to go
    direct; RouteError when the proxy named cannot be used."""
    if configured is not None:
        if not configured.strip():
            return None
        return Proxy(_proxy_url(configured.strip(), "[api] proxy", "proxy"), "[api] proxy")
    parts = urlsplit(base_url)
    host = parts.hostname or ""
    scheme = parts.scheme or "https"
    names = (f"{scheme}_proxy", f"{scheme.upper()}_PROXY", "all_proxy", "ALL_PROXY")
    for name in names:
        value = env.get(name, "").strip()
        if value:
            if bypassed(host, parts.port or (443 if scheme == "https" else 80), _no_proxy(env)):
                return None
            return Proxy(_proxy_url(value, name, None), name)
    return None


def _no_proxy(env: Mapping[str, str]) -> str:
    return env.get("no_proxy", "").strip() or env.get("NO_PROXY", "").strip()


def bypassed(host: str, port: int, no_proxy: str) -> bool:
    """True when NO_PROXY says `host:port` goes direct."""
    host = host.lower().strip("[]").rstrip(".")
    for raw in no_proxy.replace(" ", ",").split(","):
        entry = raw.strip().lower()
        if not entry:
            continue
        if entry == "*":
            return True
        entry, entry_port = _split_port(entry)
        if entry_port is not None and entry_port != port:
            continue
        entry = entry.strip("[]").rstrip(".")
        if "/" in entry:
            try:
                if ipaddress.ip_address(host) in ipaddress.ip_network(entry, strict=False):
                    return True
            except ValueError:
                pass
            continue
        entry = entry.lstrip("*").lstrip(".")
        if entry and (host == entry or host.endswith("." + entry)):
            return True
    return False


def _split_port(entry: str) -> tuple[str, int | None]:
    """"host:8080" -> ("host", 8080); an IPv6 address without brackets has no port."""
    if entry.startswith("["):
        host, _, rest = entry[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else ""
        return host, int(port) if port.isdigit() else None
    if entry.count(":") == 1:
        host, _, port = entry.partition(":")
        return host, int(port) if port.isdigit() else None
    return entry, None


def _proxy_url(value: str, source: str, key: str | None) -> str:
    """A usable http:// proxy URL from a setting ("host:3128" means http://host:3128)."""
    text = value if "://" in value else f"http://{value}"
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        raise RouteError(f"{source}: {_shown(value)!r} is not a proxy URL (e.g. "
                         "http://proxy.example:3128)", key) from None
    scheme = parts.scheme.lower()
    if scheme.startswith("socks"):
        raise RouteError(f"{source}: a SOCKS proxy ({_shown(value)}) is not supported; use an "
                         "http:// proxy, or go direct with proxy = \"\" in [api]", key)
    if scheme != "http":
        raise RouteError(f"{source}: only http:// proxies are supported (https is tunnelled "
                         f"through them with CONNECT), not {_shown(value)}", key)
    if not parts.hostname:
        raise RouteError(f"{source}: {_shown(value)!r} names no proxy host", key)
    if port == 0:
        raise RouteError(f"{source}: {_shown(value)!r}: port 0 is no proxy port", key)
    return text


def _shown(value: str) -> str:
    """A proxy setting as a message may quote it: without `user:password@`."""
    scheme, sep, rest = value.partition("://")
    if not sep:
        scheme, rest = "", value
    authority, slash, tail = rest.partition("/")
    if "@" in authority:
        authority = "***@" + authority.rpartition("@")[2]
    return f"{scheme}{sep}{authority}{slash}{tail}"


def choose_trust(ca_file: str | None, env: Mapping[str, str]) -> Trust:
    """The certificates to trust (see the module docstring); RouteError when a file or
    folder named cannot be read."""
    if ca_file is not None:
        path = os.path.expanduser(ca_file.strip())
        _readable_file(path, "[api] ca_file", "ca_file")
        return Trust(cafile=path, source="[api] ca_file")
    cafile = capath = None
    source = ""
    for name in CA_FILE_VARIABLES:
        value = env.get(name, "").strip()
        if value:
            _readable_file(value, name, None)
            cafile, source = value, name
            break
    folder = env.get(CA_DIR_VARIABLE, "").strip()
    if folder:
        if not os.path.isdir(folder) or not os.access(folder, os.R_OK | os.X_OK):
            raise RouteError(f"{CA_DIR_VARIABLE}={folder}: cannot read the CA folder (no such "
                             f"readable folder); fix or unset it to trust {SYSTEM_STORE}")
        capath = folder
    return Trust(cafile=cafile, capath=capath, source=source)


def _readable_file(path: str, source: str, key: str | None) -> None:
    where = f"{source} {path}" if key else f"{source}={path}"
    try:
        with open(path, "rb") as handle:
            handle.read(1)
    except IsADirectoryError:
        raise RouteError(f"{where}: cannot read the CA file: it is a folder", key) from None
    except OSError as exc:
        fix = "fix the path" if key else f"fix or unset it to trust {SYSTEM_STORE}"
        raise RouteError(f"{where}: cannot read the CA file: {exc.strerror or exc}; {fix}",
                         key) from None
