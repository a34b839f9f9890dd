"""A base URL is checked whole: a `user:password@` is never quoted back (whatever the
scheme, wherever the message goes: stderr, `check`'s stored output, a log), and a port
that is no TCP port is a usage error naming the key, not a poll that fails for ever."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wawp_tui.config import check_base_url
from wawp_tui.safe_text import clean

PASSWORD = "SECRETPASS"


def run(args, env=None):
    proc = subprocess.run([sys.executable, "-m", "wawp_tui", *map(str, args)], capture_output=True,
                          text=True, env={**os.environ, **(env or {})}, timeout=120)
    return proc.returncode, proc.stdout, proc.stderr


def config_with(tmp_path, base_url: str):
    path = tmp_path / "config.toml"
    path.write_text(f'[api]\nbase_url = "{base_url}"\n\n[[instances]]\nid = "A1"\nlabel = "One"\n'
                    'token = "not-a-real-token-1"\n')
    path.chmod(0o600)
    return path


@pytest.mark.parametrize("url", [f"ftp://admin:{PASSWORD}@127.0.0.1/",
                                 f"http://admin:{PASSWORD}@127.0.0.1:8080/",
                                 f"https://{PASSWORD}@api.example.test/",
                                 f"gopher://u:{PASSWORD}@127.0.0.1:abc/"])
def test_the_password_of_a_url_is_never_printed(tmp_path, url):
    path = config_with(tmp_path, url)
    code, out, err = run(["status", "--config", path])
    assert code == 2 and "base_url" in err
    assert PASSWORD not in out + err
    code, out, err = run(["check", "--config", path])
    assert code == 3 and out.startswith("WAWP UNKNOWN")
    assert PASSWORD not in out + err
    # the same URL from the environment and from the command line
    ok = config_with(tmp_path, "http://127.0.0.1:9")
    for args, env in ((["status", "--config", ok], {"WAWP_BASE_URL": url}),
                      (["status", "--config", ok, "--base-url", url], {}),
                      (["check", "--config", ok, "--base-url", url], {})):
        code, out, err = run(args, env)
        assert code in (2, 3), (out, err)
        assert PASSWORD not in out + err


@pytest.mark.parametrize("port", ["abc", "99999", "-1", "0", "８０", "65536"])
def test_a_port_that_is_no_tcp_port_is_a_usage_error_naming_the_key(tmp_path, port):
    path = config_with(tmp_path, f"http://127.0.0.1:{port}")
    code, out, err = run(["status", "--config", path])
    assert code == 2, (out, err)
    assert f"{path} line 2" in err and "base_url" in err and "port" in err
    assert "internal error" not in err and "Traceback" not in err
    code, out, err = run(["check", "--config", path])
    assert code == 3 and "port" in out
    code, out, err = run(["status", "--config", config_with(tmp_path, "http://127.0.0.1:9"),
                          "--base-url", f"http://127.0.0.1:{port}"])
    assert code == 2 and err.startswith("wawp-tui: --base-url:") and "port" in err


def test_good_ports_and_forms_still_load():
    assert check_base_url("http://127.0.0.1:8080/", False) == "http://127.0.0.1:8080"
    assert check_base_url("http://[::1]:65535", False) == "http://[::1]:65535"
    assert check_base_url("https://api.wawp.net", False) == "https://api.wawp.net"


SCHEMES = st.from_regex(r"\A[a-z][a-z0-9+.\-]{0,8}\Z")
USERINFO = st.text(st.characters(blacklist_characters="/?#@", blacklist_categories=("Z", "C")),
                   min_size=1, max_size=20)


@given(SCHEMES, USERINFO, st.text(max_size=30), st.text(max_size=30))
def test_no_message_carries_the_userinfo_of_a_url(scheme, user, before, after):
    password = "pw" + user.replace(":", "") + "x9"
    text = f"{before} {scheme}://{user}:{password}@host.example:1/path {after}"
    assert f":{password}@" not in clean(text, 2000)
    assert f"{user}:{password}" not in clean(text, 2000)
