"""What a corporate jump box needs: the standard proxy variables and `[api] proxy`,
through a real forward proxy on 127.0.0.1 (CONNECT for https, absolute form for http);
a private CA through `[api] ca_file` or REQUESTS_CA_BUNDLE, the system store otherwise;
TLS failures that name their reason. Every case is `wawp-tui status --json` as a user
runs it, against the simulator (over https with a trustme certificate where it says)."""

from __future__ import annotations

import datetime
import json
import os
import subprocess
import sys

import pytest
import trustme

from tests.proxy_kit import LoggingProxy
from wawp_tui.simulator import SIM_TOKEN, Simulator, build_scenario

#: Variables that name CA certificates (this machine sets some of them).
CA_VARIABLES = ("SSL_CERT_FILE", "SSL_CERT_DIR", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE")


@pytest.fixture
def proxy():
    started = []

    def start(credentials=None):
        p = LoggingProxy(credentials)
        started.append(p)
        return p

    yield start
    for p in started:
        p.stop()


@pytest.fixture
def ca():
    return trustme.CA()


@pytest.fixture
def sim(serve, tmp_path):
    """(tls: trustme LeafCert or None) -> the simulator's URL; a healthy fleet of two."""

    def start(leaf=None):
        tls = None
        if leaf is not None:
            cert, key = tmp_path / f"cert{id(leaf)}.pem", tmp_path / f"key{id(leaf)}.pem"
            leaf.cert_chain_pems[0].write_to_path(str(cert))
            for extra in leaf.cert_chain_pems[1:]:
                extra.write_to_path(str(cert), append=True)
            leaf.private_key_pem.write_to_path(str(key))
            tls = (str(cert), str(key))
        instances = build_scenario("healthy", seed=5, instances=2)
        return serve(Simulator(instances, seed=5), tls=tls).url, instances

    return start


def write_config(tmp_path, url, instances, *api_lines):
    path = tmp_path / "config.toml"
    lines = ["[api]", f'base_url = "{url}"', "timeout = 5", "connect_timeout = 3", *api_lines, ""]
    for inst in instances:
        lines += ["[[instances]]", f'id = "{inst.id}"', f'label = "{inst.label}"',
                  f'token = "{SIM_TOKEN}"', ""]
    path.write_text("\n".join(lines))
    path.chmod(0o600)
    return path


def status(path, **env):
    """`status --json` with exactly these proxy and CA variables: (exit code, rows, stderr)."""
    base = {k: v for k, v in os.environ.items() if k not in CA_VARIABLES}
    proc = subprocess.run([sys.executable, "-m", "wawp_tui", "status", "--json", "--config", str(path)],
                          capture_output=True, text=True, env={**base, **env}, timeout=120)
    rows = json.loads(proc.stdout) if proc.stdout.strip() else []
    return proc.returncode, rows, proc.stderr


def ca_file(ca, tmp_path):
    path = tmp_path / "private-ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return path


# -- proxies ---------------------------------------------------------------------------


def test_https_goes_through_a_connect_proxy_named_by_https_proxy(sim, ca, proxy, tmp_path):
    url, instances = sim(ca.issue_cert("127.0.0.1"))
    p = proxy()
    path = write_config(tmp_path, url, instances, f'ca_file = "{ca_file(ca, tmp_path)}"')
    code, rows, err = status(path, HTTPS_PROXY=p.url)
    assert code == 0, (rows, err)
    assert [r["status"] for r in rows] == ["WORKING", "WORKING"]
    assert {r["proxy"] for r in rows} == {p.url}
    port = url.rsplit(":", 1)[1]
    assert f"CONNECT 127.0.0.1:{port}" in p.seen


@pytest.mark.parametrize("variable", ["http_proxy", "HTTP_PROXY", "ALL_PROXY", "all_proxy"])
def test_plain_http_goes_through_the_proxy_named_by_the_environment(sim, proxy, tmp_path, variable):
    url, instances = sim()
    p = proxy()
    path = write_config(tmp_path, url, instances)
    code, rows, err = status(path, **{variable: p.url})
    assert code == 0, (rows, err)
    assert {r["proxy"] for r in rows} == {p.url}
    assert f"POST {url}/v2/session/info" in p.seen


def test_no_proxy_and_an_empty_proxy_key_go_direct(sim, proxy, tmp_path):
    url, instances = sim()
    p = proxy()
    path = write_config(tmp_path, url, instances)
    for no_proxy in ("127.0.0.1", "localhost,127.0.0.0/8", "*", f"127.0.0.1:{url.rsplit(':', 1)[1]}"):
        code, rows, err = status(path, HTTP_PROXY=p.url, NO_PROXY=no_proxy)
        assert code == 0 and {r["proxy"] for r in rows} == {None}, (no_proxy, err)
    path = write_config(tmp_path, url, instances, 'proxy = ""')
    code, rows, err = status(path, HTTP_PROXY=p.url, ALL_PROXY=p.url)
    assert code == 0 and {r["proxy"] for r in rows} == {None}, err
    assert p.seen == []


def test_the_proxy_key_wins_over_the_environment_and_keeps_its_credentials_secret(
        sim, ca, proxy, tmp_path):
    url, instances = sim(ca.issue_cert("127.0.0.1"))
    p = proxy(credentials=("ops", "PROXYSECRET9"))
    ca_line = f'ca_file = "{ca_file(ca, tmp_path)}"'
    with_creds = p.url.replace("http://", "http://ops:PROXYSECRET9@")
    path = write_config(tmp_path, url, instances, f'proxy = "{with_creds}"', ca_line)
    # the environment names a proxy that is not there: the config's own is used
    code, rows, err = status(path, HTTPS_PROXY="http://127.0.0.1:9")
    assert code == 0, (rows, err)
    assert {r["proxy"] for r in rows} == {p.url}
    assert "PROXYSECRET9" not in json.dumps(rows) + err
    # without the credentials the proxy refuses the tunnel, and the row says so
    path = write_config(tmp_path, url, instances, f'proxy = "{p.url}"', ca_line)
    code, rows, err = status(path)
    assert code == 1
    assert "proxy" in rows[0]["error"] and "407" in rows[0]["error"], rows[0]["error"]


def test_a_proxy_that_is_not_there_is_named(sim, tmp_path):
    url, instances = sim()
    path = write_config(tmp_path, url, instances)
    code, rows, err = status(path, HTTP_PROXY="http://127.0.0.1:9")
    assert code == 1
    assert rows[0]["error"] == ("network: cannot reach the proxy http://127.0.0.1:9 (HTTP_PROXY): "
                                "connection refused"), rows[0]["error"]


@pytest.mark.parametrize(("variable", "value", "said"), [
    ("ALL_PROXY", "socks5://127.0.0.1:1080", "SOCKS"),
    ("HTTP_PROXY", "https://127.0.0.1:3128", "only http://"),
    ("HTTP_PROXY", "http://:3128", "names no proxy host"),
])
def test_a_proxy_that_cannot_be_used_is_a_config_error_naming_it(sim, tmp_path, variable, value, said):
    url, instances = sim()
    path = write_config(tmp_path, url, instances)
    code, rows, err = status(path, **{variable: value})
    assert code == 2 and rows == []
    assert variable in err and said in err and "Traceback" not in err


# -- trust ---------------------------------------------------------------------------


def test_a_private_ca_is_trusted_from_ca_file_or_requests_ca_bundle(sim, ca, tmp_path):
    url, instances = sim(ca.issue_cert("127.0.0.1"))
    pem = ca_file(ca, tmp_path)
    # nothing named: the system store, which does not hold the private CA
    path = write_config(tmp_path, url, instances)
    code, rows, _ = status(path)
    assert code == 1
    assert rows[0]["error"].startswith("network: TLS certificate rejected: unable to get local "
                                       "issuer certificate"), rows[0]["error"]
    for variable in ("REQUESTS_CA_BUNDLE", "SSL_CERT_FILE", "CURL_CA_BUNDLE"):
        code, rows, err = status(path, **{variable: str(pem)})
        assert code == 0, (variable, rows, err)
    path = write_config(tmp_path, url, instances, f'ca_file = "{pem}"')
    code, rows, err = status(path)
    assert code == 0, (rows, err)


def test_a_ca_file_that_cannot_be_read_is_said_before_anything_is_sent(sim, ca, tmp_path):
    url, instances = sim(ca.issue_cert("127.0.0.1"))
    path = write_config(tmp_path, url, instances)
    code, rows, err = status(path, SSL_CERT_FILE="/nonexistent.pem")
    assert code == 2 and rows == []
    assert "SSL_CERT_FILE=/nonexistent.pem: cannot read the CA file: No such file or directory" in err
    path = write_config(tmp_path, url, instances, 'ca_file = "/nonexistent/ca.pem"')
    code, rows, err = status(path)
    assert code == 2
    assert f"{path} line 5" in err and "ca_file" in err and "cannot read the CA file" in err
    not_pem = tmp_path / "not-a-ca.pem"
    not_pem.write_text("hello\n")
    path = write_config(tmp_path, url, instances, f'ca_file = "{not_pem}"')
    code, rows, err = status(path)
    assert code == 1
    assert "cannot use the CA certificates of [api] ca_file" in rows[0]["error"], rows[0]["error"]


@pytest.mark.parametrize(("kind", "said"), [
    ("self-signed", "self-signed certificate"),
    ("expired", "certificate has expired"),
    ("wrong-host", "IP address mismatch"),
])
def test_a_rejected_certificate_names_the_reason(sim, ca, tmp_path, kind, said):
    if kind == "self-signed":
        other = trustme.CA()
        leaf = other.issue_cert("127.0.0.1")
        leaf = type("Leaf", (), {"cert_chain_pems": [other.cert_pem],
                                 "private_key_pem": other.private_key_pem})()
    elif kind == "expired":
        leaf = ca.issue_cert("127.0.0.1", not_before=datetime.datetime(2000, 1, 1),
                             not_after=datetime.datetime(2001, 1, 1))
    else:
        leaf = ca.issue_cert("api.other.example")
    url, instances = sim(leaf)
    path = write_config(tmp_path, url, instances, f'ca_file = "{ca_file(ca, tmp_path)}"')
    code, rows, _ = status(path)
    assert code == 1
    error = rows[0]["error"]
    assert error.startswith("network: TLS certificate rejected: ") and said in error, error


def test_the_default_trust_is_the_machines_store_through_truststore(monkeypatch, ca, tmp_path):
    import truststore

    from wawp_tui.client.transport import tls_context
    from wawp_tui.route import Trust, choose_trust

    for variable in CA_VARIABLES:
        monkeypatch.delenv(variable, raising=False)
    trust = choose_trust(None, os.environ)
    assert trust.system and trust.describe() == "the system certificate store"
    assert isinstance(tls_context(trust), truststore.SSLContext)
    named = tls_context(Trust(cafile=str(ca_file(ca, tmp_path)), source="[api] ca_file"))
    assert not isinstance(named, truststore.SSLContext)
    assert len(named.get_ca_certs()) == 1  # exactly the file named, no bundle besides


async def test_the_screen_says_when_a_proxy_is_in_use(serve, proxy, clock, tmp_path):
    """The context line names the proxy the fleet is polled through (without credentials)."""
    import dataclasses

    from tests.conftest import make_config
    from tests.drive import refresh
    from wawp_tui.config import with_route
    from wawp_tui.core import AuditLog, client_for
    from wawp_tui.ui.app import build_app

    instances = build_scenario("healthy", seed=5, instances=2, clock=clock)
    url = serve(Simulator(instances, clock=clock, seed=5)).url
    p = proxy()
    config = make_config(url, instances)
    with_creds = p.url.replace("http://", "http://ops:PROXYSECRET9@")
    config = dataclasses.replace(config, api=with_route(config.api, {"HTTP_PROXY": with_creds}))
    app = build_app(config, client_for(config), clock=clock, audit=AuditLog(tmp_path / "a.jsonl"),
                    poll=False)
    async with app.run_test(size=(160, 40)) as pilot:
        await refresh(app, pilot)
        context = str(app.query_one("#context").content)
    assert f"{url} via proxy {p.url}" in context and "PROXYSECRET9" not in context
    assert f"POST {url}/v2/session/info" in p.seen


def test_help_says_how_requests_go_out_and_what_is_trusted():
    proc = subprocess.run([sys.executable, "-m", "wawp_tui", "--help"], capture_output=True,
                          text=True, timeout=60)
    text = " ".join(proc.stdout.split())
    assert proc.returncode == 0
    for words in ("HTTPS_PROXY", "NO_PROXY", "[api] proxy", "[api] ca_file", "REQUESTS_CA_BUNDLE",
                  "the system certificate store", "74 standard output could not be written"):
        assert words in text, words
