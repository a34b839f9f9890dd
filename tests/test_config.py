"""Config: valid files, every kind of invalid file, and safe add / remove."""

import os
import stat

import pytest

from wawp_tui import config as cfgmod
from wawp_tui.config import ConfigError, add_instance, load_config, remove_instance

TOKEN = "test-token-not-real"
ENV = {"WAWP_ACCESS_TOKEN": TOKEN, "WAWP_TOKEN_SUPPORT": "support-token-not-real"}

FULL = """\
# my fleet
[api]
base_url = "https://api.example.test/"
timeout = 7
credentials_in = "query"

[monitor]
refresh = 3.0
auto_heal = true
theme = "wawp-light"

[[instances]]
id = "ABCDEF123456"
label = "Support desk"
token_env = "WAWP_TOKEN_SUPPORT"
tags = ["support", "eu"]

# the sales one
[[instances]]
id = "SALES0000001"
label = "Sales"
"""


def write(tmp_path, text, name="config.toml", mode=0o600):
    path = tmp_path / name
    path.write_text(text)
    os.chmod(path, mode)
    return path


def load(path, **kw):
    return load_config(path, env=kw.pop("env", ENV), **kw)


def test_full_file(tmp_path):
    config = load(write(tmp_path, FULL))
    assert config.api.base_url == "https://api.example.test"
    assert config.api.timeout == 7.0 and config.api.credentials_in == "query"
    assert config.monitor.refresh == 3.0 and config.monitor.auto_heal
    first, second = config.instances
    assert first.token.reveal() == "support-token-not-real" and first.tags == ("support", "eu")
    assert second.token.reveal() == TOKEN and second.token_source == "env WAWP_ACCESS_TOKEN"
    assert config.warnings == ()


def test_minimal_file_defaults(tmp_path):
    config = load(write(tmp_path, '[[instances]]\nid = "A1"\nlabel = "a"\n'))
    assert config.api.base_url == "https://api.wawp.net"
    assert config.monitor.refresh == 5.0 and not config.monitor.auto_heal
    assert config.api.credentials_in == "body"


def test_base_url_precedence(tmp_path):
    path = write(tmp_path, FULL)
    env = {**ENV, "WAWP_BASE_URL": "https://env.example.test"}
    assert load(path, env=env).api.base_url == "https://env.example.test"
    assert load(path, env=env, base_url_override="https://flag.example.test").api.base_url == \
        "https://flag.example.test"


def test_zero_config_from_env(tmp_path, monkeypatch):
    monkeypatch.setattr(cfgmod, "default_config_path", lambda: tmp_path / "missing.toml")
    config = load_config(None, env={"WAWP_INSTANCE_ID": "ZERO00000001", "WAWP_ACCESS_TOKEN": TOKEN})
    assert [i.id for i in config.instances] == ["ZERO00000001"]
    with pytest.raises(ConfigError, match="wawp-tui add ID --label"):
        load_config(None, env={})


def test_explicit_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="config file not found"):
        load(tmp_path / "nope.toml")


@pytest.mark.parametrize(
    "text, words",
    [
        ('[[instances]]\nid = "A1"\nlabel = "a"\nlable = "x"\n',
         ["config.toml line 4", "'lable' is not allowed", "fix the key name"]),
        ('[monitor]\nrefresh = "5"\n[[instances]]\nid = "A1"\nlabel = "a"\n',
         ["line 2", "'refresh' must be a number of seconds, not str"]),
        ('[monitor]\nauto_heal = 1\n[[instances]]\nid = "A1"\nlabel = "a"\n',
         ["line 2", "'auto_heal' must be true or false"]),
        ('[[instances]]\nid = "A1"\nlabel = "a"\n[[instances]]\nid = "A1"\nlabel = "b"\n',
         ["line 5", "duplicate instance id 'A1'", "first at line 2"]),
        ('[[instances]]\nid = "A1"\nlabel = "a"\ntoken = "x"\ntoken_env = "X"\n',
         ["both 'token' and 'token_env'"]),
        ('[[instances]]\nid = "A1"\n', ["needs a non-empty 'label'"]),
        ('[[instances]]\nid = "A 1"\nlabel = "a"\n', ["may hold only letters"]),
        ('[monitor]\nrefresh = 0.5\n[[instances]]\nid = "A1"\nlabel = "a"\n', ["at least 1 second"]),
        ('[api]\ncredentials_in = "header"\n[[instances]]\nid = "A1"\nlabel = "a"\n', ['"body" or "query"']),
        ('[api]\nbase_url = "http://api.example.test"\n[[instances]]\nid = "A1"\nlabel = "a"\n',
         ["line 2", "travel in clear", "allow_insecure_http"]),
        ('[apii]\n[[instances]]\nid = "A1"\nlabel = "a"\n', ["line 1", "unknown table or key 'apii'"]),
        ('[monitor]\nrefresh = 5\n', ["no [[instances]] configured"]),
        ('[monitor\nrefresh = 5\n', ["config.toml line 1: invalid TOML"]),
        ('[[instances]]\nid = "A1"\nlabel = "a"\ntags = ["x", 2]\n', ["tags must be a list of strings"]),
    ],
)
def test_invalid_files_name_file_line_key_and_fix(tmp_path, text, words):
    path = write(tmp_path, text)
    before = path.read_bytes()
    with pytest.raises(ConfigError) as caught:
        load(path)
    message = str(caught.value)
    assert "\n" not in message
    for word in words:
        assert word in message
    assert path.read_bytes() == before


def test_missing_token_without_default_env(tmp_path):
    path = write(tmp_path, '[[instances]]\nid = "A1"\nlabel = "a"\n')
    config = load(path, env={})
    assert "has no token (config.toml line 1): set WAWP_ACCESS_TOKEN" in config.instances[0].problem
    assert any("1 instance(s) cannot be polled" in w for w in config.warnings)


def test_an_unset_token_env_marks_that_instance_only(tmp_path):
    path = write(tmp_path, '[[instances]]\nid = "A1"\nlabel = "a"\ntoken_env = "NOT_SET_VAR"\n'
                           '[[instances]]\nid = "B2"\nlabel = "b"\ntoken = "x"\n')
    config = load(path, env={})
    first, second = config.instances
    assert first.problem and "NOT_SET_VAR is not set (config.toml line 4)" in first.problem
    assert second.problem is None


def test_insecure_http_allowed_for_loopback_or_with_flag(tmp_path):
    for url in ("http://127.0.0.1:8765", "http://localhost:1", "http://[::1]:2"):
        path = write(tmp_path, f'[api]\nbase_url = "{url}"\n[[instances]]\nid = "A1"\nlabel = "a"\n')
        assert load(path).api.base_url == url
    path = write(tmp_path, '[api]\nbase_url = "http://api.example.test"\nallow_insecure_http = true\n'
                           '[[instances]]\nid = "A1"\nlabel = "a"\n')
    assert load(path).api.base_url == "http://api.example.test"


def test_readable_token_file_warns_like_ssh(tmp_path):
    text = f'[[instances]]\nid = "A1"\nlabel = "a"\ntoken = "{TOKEN}"\n'
    config = load(write(tmp_path, text, mode=0o644))
    assert len(config.warnings) == 1 and "chmod 600" in config.warnings[0]
    assert TOKEN not in config.warnings[0] and TOKEN not in repr(config)
    assert load(write(tmp_path, text, mode=0o600)).warnings == ()


def test_add_keeps_comments_and_entries(tmp_path):
    path = write(tmp_path, FULL, mode=0o640)
    add_instance(path, "NEW000000001", "New one", token_env="WAWP_TOKEN_NEW", tags=["x", "y"])
    text = path.read_text()
    assert text.startswith(FULL)
    config = load(path, env={**ENV, "WAWP_TOKEN_NEW": "new-token-not-real"})
    assert [i.id for i in config.instances] == ["ABCDEF123456", "SALES0000001", "NEW000000001"]
    assert config.instances[-1].tags == ("x", "y")
    assert stat.S_IMODE(path.stat().st_mode) == 0o640  # the user's own mode is kept


def test_add_creates_a_0600_file(tmp_path):
    path = tmp_path / "sub" / "config.toml"
    add_instance(path, "NEW000000001", "New one")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [i.id for i in load(path).instances] == ["NEW000000001"]


def test_add_refuses_duplicate_and_broken_file(tmp_path):
    path = write(tmp_path, FULL)
    with pytest.raises(ConfigError, match="ABCDEF123456 already in .* wawp-tui remove ABCDEF123456"):
        add_instance(path, "ABCDEF123456", "again")
    assert path.read_text() == FULL
    broken = write(tmp_path, "[[instances]\nid=", name="broken.toml")
    with pytest.raises(ConfigError, match="invalid TOML"):
        add_instance(broken, "NEW000000001", "x")
    assert broken.read_text() == "[[instances]\nid="


def test_failed_write_leaves_the_original(tmp_path, monkeypatch):
    path = write(tmp_path, FULL)

    def boom(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(cfgmod.os, "replace", boom)
    with pytest.raises(ConfigError, match="cannot write: No space left on device; the file is unchanged"):
        add_instance(path, "NEW000000001", "x")
    assert path.read_text() == FULL
    # No temp file left behind; only the (empty, hidden) lock file that serializes edits.
    assert sorted(p.name for p in tmp_path.iterdir()) == [".config.toml.lock", "config.toml"]


def test_remove_keeps_the_rest(tmp_path):
    path = write(tmp_path, FULL)
    remove_instance(path, "ABCDEF123456")
    text = path.read_text()
    assert "# my fleet" in text and "# the sales one" in text and "ABCDEF123456" not in text
    assert [i.id for i in load(path).instances] == ["SALES0000001"]
    with pytest.raises(ConfigError, match="NOPE is not in"):
        remove_instance(path, "NOPE")


def test_no_token_in_errors(tmp_path):
    text = f'[[instances]]\nid = "A1"\nlabel = "a"\ntoken = "{TOKEN}"\nbad = 1\n'
    with pytest.raises(ConfigError) as caught:
        load(write(tmp_path, text))
    assert TOKEN not in str(caught.value)


@pytest.mark.parametrize("command", ["add", "import"])
def test_killed_at_the_write_leaves_the_old_file_whole(tmp_path, command):
    """A real process killed (SIGKILL) while it writes the new config: the old file is
    intact and loads; the next edit works."""
    import signal
    import subprocess
    import sys

    path = write(tmp_path, FULL)
    source = tmp_path / "fleet.csv"
    source.write_text("id,label\nKILL00000001,one\nKILL00000002,two\n")
    argv = (["add", "KILL00000001", "--label", "one"] if command == "add"
            else ["import", str(source)])
    # The child stops inside the write (after the temp file got its bytes, before the
    # rename) and waits to be killed.
    child = (
        "import os, sys\n"
        "real_fsync = os.fsync\n"
        "def fsync(fd):\n"
        "    real_fsync(fd)\n"
        "    print('writing', flush=True)\n"
        "    sys.stdin.readline()\n"
        "os.fsync = fsync\n"
        "from wawp_tui.cli import main\n"
        f"sys.exit(main({argv + ['--config', str(path)]!r}))\n")
    proc = subprocess.Popen([sys.executable, "-c", child], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "writing"
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
        proc.stdin.close()
        proc.stdout.close()
    assert proc.returncode == -signal.SIGKILL
    assert path.read_text() == FULL
    assert [i.id for i in load(path).instances] == ["ABCDEF123456", "SALES0000001"]
    add_instance(path, "KILL00000001", "one")  # the leftover temp file is in nobody's way
    assert [i.id for i in load(path).instances][-1] == "KILL00000001"


def test_a_50000_instance_config_loads_and_errors_at_its_end_name_the_right_line(tmp_path):
    """Big fleets load (line numbers are looked up only for an error, never per instance),
    and an error in the very last table still names its own line."""
    count = 50_000
    tables = [f'[[instances]]\nid = "FLEET{n:07d}"\nlabel = "instance {n}"\n'
              f'token_env = "WAWP_TOKEN_FLEET"\ntags = ["t{n % 7}", "eu"]\n' for n in range(count)]
    text = '# a big fleet\n[api]\nbase_url = "http://127.0.0.1:8765"\n\n' + "\n".join(tables)
    env = {"WAWP_TOKEN_FLEET": "fleet-token-not-real"}
    config = load(write(tmp_path, text), env=env)
    assert len(config.instances) == count
    assert config.instances[-1].id == f"FLEET{count - 1:07d}" and config.instances[-1].tags == ("t5", "eu")

    last_header = text[:text.rindex("[[instances]]")].count("\n") + 1
    bad_key = text + 'lable = "typo"\n'
    with pytest.raises(ConfigError) as caught:
        load(write(tmp_path, bad_key), env=env)
    assert str(caught.value) == (
        f"{tmp_path / 'config.toml'} line {bad_key.count(chr(10))}: [[instances]] #{count} key "
        "'lable' is not allowed (allowed: id, label, token, token_env, tags); fix the key name")

    duplicate = text.replace(f'id = "FLEET{count - 1:07d}"', 'id = "FLEET0000000"')
    with pytest.raises(ConfigError) as caught:
        load(write(tmp_path, duplicate), env=env)
    assert str(caught.value) == (
        f"{tmp_path / 'config.toml'} line {last_header + 1}: duplicate instance id 'FLEET0000000' "
        "(first at line 6); remove one of them")


@pytest.mark.parametrize("table, key", [("api", "timeout"), ("api", "connect_timeout"),
                                        ("monitor", "refresh"), ("monitor", "steady_max"),
                                        ("monitor", "steady_rate"), ("monitor", "quiet_after")])
@pytest.mark.parametrize("value", ["nan", "inf", "+inf", "-nan"])
def test_nan_and_inf_are_not_a_number_of_seconds(tmp_path, table, key, value):
    """TOML allows nan and inf; `< 1` is false for nan, so they used to pass: a poller
    that never polled again, a status that waited for ever."""
    path = write(tmp_path, f'# fleet\n[{table}]\n{key} = {value}\n[[instances]]\nid = "A1"\nlabel = "a"\n')
    with pytest.raises(ConfigError) as caught:
        load(path)
    message = str(caught.value)
    assert "\n" not in message and "config.toml line 3" in message and key in message


@pytest.mark.parametrize("argv", [["--refresh", "nan", "status"], ["status", "--refresh", "inf"],
                                  ["status", "--deadline", "nan"], ["status", "--deadline", "inf"],
                                  ["simulate", "--latency-ms", "nan"]])
def test_nan_and_inf_options_are_usage_errors(tmp_path, capsys, argv):
    from wawp_tui import cli

    path = write(tmp_path, '[[instances]]\nid = "A1"\nlabel = "a"\n')
    assert cli.main([*argv, "--config", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and argv[-2] in err and "finite" in err


def test_a_fleet_of_6000_distinct_tokens_loads_in_linear_time(tmp_path):
    """Every token is registered for redaction as the config loads; the redaction pattern
    used to be rebuilt per token, so 1,000 accounts took a minute to start and 5,000 did
    not start within five minutes; tokens that share a long prefix (a provider's "live_key_")
    shared redaction probes, and 6,000 of them took seconds more per thousand. Now the load
    is linear: well under a second here, so the bound only catches a return to quadratic."""
    import time

    entries = "".join(f'[[instances]]\nid = "I{n:05d}"\nlabel = "l{n}"\n'
                      f'token = "live_key_2026_tok{n:05d}x{(n * 7919) % 1000003:07d}Zq"\n\n' for n in range(6000))
    path = write(tmp_path, entries)
    started = time.process_time()  # CPU, not wall: a stalled machine must not fail it
    config = load(path)
    took = time.process_time() - started
    assert len(config.instances) == 6000
    assert took < 5.0, f"6,000 distinct tokens took {took:.1f}s to load"
    from wawp_tui.safe_text import clean
    assert clean("echo live_key_2026_tok01234x" + f"{(1234 * 7919) % 1000003:07d}Zq") == "echo ***"
