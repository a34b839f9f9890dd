"""The user's files when they are not what they seem (review M6): a FIFO, /dev/zero or a
folder as the config or the import file, a file far too large, a nested JSON line, and
valid configs in shapes `add` and `remove` cannot edit. Each gives one line and exit 2,
never a hang, an unbounded read or a traceback, and the file is never changed."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from wawp_tui import cli
from wawp_tui import config as cfgmod
from wawp_tui.config import ConfigError, add_instance, remove_instance

ENV = {**os.environ, "WAWP_ACCESS_TOKEN": "test-token-not-real"}


def run(*args, timeout=20):
    """The CLI in a subprocess: a hang fails the test (TimeoutExpired) instead of the suite."""
    return subprocess.run([sys.executable, "-m", "wawp_tui", *args], capture_output=True,
                          text=True, env=ENV, timeout=timeout, stdin=subprocess.DEVNULL)


def one_line(out) -> str:
    err = out.stderr.strip()
    assert "\n" not in err and "Traceback" not in err, err
    return err


@pytest.fixture
def fifo(tmp_path):
    path = tmp_path / "fifo.toml"
    os.mkfifo(path)
    return path


@pytest.mark.parametrize("command", [["status"], ["add", "A1", "--label", "a"], ["remove", "A1"]])
def test_a_fifo_as_the_config_is_refused_not_waited_on(fifo, command):
    out = run(*command, "--config", str(fifo))
    assert out.returncode == 2
    assert "is a named pipe (FIFO), not a config file" in one_line(out)
    assert fifo.is_fifo()


@pytest.mark.parametrize("deep", [
    "[api]\n" + ".".join(["x"] * 1500) + " = 1\n",
    '[[instances]]\nid = "A1"\nlabel = "a"\ntags = ' + "[" * 450 + "]" * 450 + "\n",
])
@pytest.mark.parametrize("command", [["status"], ["add", "A2", "--label", "b"], ["remove", "A1"]])
def test_a_config_nested_past_the_parsers_limits_is_one_line_and_left_alone(tmp_path, deep, command):
    path = tmp_path / "config.toml"
    path.write_text(deep)
    out = run(*command, "--config", str(path))
    assert out.returncode == 2, out.stderr
    assert "invalid TOML" in one_line(out) or "does not parse" in one_line(out)
    assert path.read_text() == deep


@pytest.mark.parametrize("command", [["status"], ["add", "A1", "--label", "a"]])
def test_dev_zero_behind_a_symlink_is_refused_before_any_read(tmp_path, command):
    link = tmp_path / "config.toml"
    link.symlink_to("/dev/zero")
    out = run(*command, "--config", str(link))
    assert out.returncode == 2 and "is a character device, not a config file" in one_line(out)
    assert link.is_symlink() and os.readlink(link) == "/dev/zero"


def test_a_config_far_too_large_is_refused_at_the_cap(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(cfgmod, "MAX_CONFIG_BYTES", 4096)
    path = tmp_path / "config.toml"
    path.write_text('[[instances]]\nid = "A1"\nlabel = "a"\n' + "# padding\n" * 1000)
    assert cli.main(["status", "--config", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "far more than any fleet's config" in err


def test_a_symlink_that_leads_nowhere_is_named_and_creates_nothing(tmp_path):
    link = tmp_path / "config.toml"
    link.symlink_to(tmp_path / "missing" / "dir" / "config.toml")
    for command in (["status"], ["add", "A1", "--label", "a"]):
        out = run(*command, "--config", str(link))
        assert out.returncode == 2 and "symlink that leads nowhere" in one_line(out)
    assert not (tmp_path / "missing").exists()
    loop = tmp_path / "loop.toml"
    loop.symlink_to(loop)
    out = run("status", "--config", str(loop))
    assert out.returncode == 2 and "symlink that leads nowhere" in one_line(out)


@pytest.mark.parametrize("source", ["fifo", "/dev/zero", "folder"])
def test_import_from_a_special_file_is_refused(tmp_path, fifo, source):
    config = tmp_path / "config.toml"
    config.write_text('[[instances]]\nid = "A1"\nlabel = "a"\n')
    before = config.read_bytes()
    path = {"fifo": fifo, "/dev/zero": "/dev/zero", "folder": tmp_path}[source]
    out = run("import", str(path), "--config", str(config))
    assert out.returncode == 2
    assert "not a file to import" in one_line(out) or "folder" in one_line(out)
    assert config.read_bytes() == before


def test_import_of_a_json_line_nested_100000_deep_is_one_line(tmp_path):
    config = tmp_path / "config.toml"
    config.write_text('[[instances]]\nid = "A1"\nlabel = "a"\n')
    source = tmp_path / "many.jsonl"
    source.write_text('{"id": "B1", "label": ' + "[" * 100_000 + "]" * 100_000 + "}\n")
    out = run("import", str(source), "--config", str(config))
    assert out.returncode == 2 and "line 1" in one_line(out)
    assert config.read_text() == '[[instances]]\nid = "A1"\nlabel = "a"\n'


INLINE = '# my fleet\ninstances = [{id = "A1", label = "a"}, {id = "B2", label = "b"}]\n'


@pytest.mark.parametrize("command", [["add", "C3", "--label", "c"], ["remove", "A1"]])
def test_an_inline_instances_array_is_refused_by_add_and_remove_unchanged(tmp_path, command):
    path = tmp_path / "config.toml"
    path.write_text(INLINE)
    assert run("status", "--config", str(path), "--deadline", "1", "--base-url",
               "http://127.0.0.1:9").returncode == 1  # a valid config: it loads
    out = run(*command, "--config", str(path))
    assert out.returncode == 2
    err = one_line(out)
    assert "safely" in err and "instances = [...]" in err and "unchanged" in err
    assert path.read_text() == INLINE


def test_remove_takes_an_instances_own_sub_table_with_it(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text('[[instances]]\nid = "A1"\nlabel = "a"\n[instances.extra]\nx = 1\n\n'
                    '[[instances]]\nid = "B2"\nlabel = "b"\n')
    remove_instance(path, "A1")
    assert tomllib.loads(path.read_text()) == {"instances": [{"id": "B2", "label": "b"}]}


def test_a_header_inside_a_multi_line_string_is_not_a_table(tmp_path):
    text = ('[[instances]]\nid = "A1"\nlabel = """two\n[[instances]]\nlines"""\n\n'
            '[[instances]]\nid = "B2"\nlabel = "b"\n')
    path = tmp_path / "config.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as caught:
        remove_instance(path, "B2")
    assert "unchanged" in str(caught.value)
    assert path.read_text() == text


# -- any shape: an edit either does exactly what it says or changes nothing ------------

_ID = st.from_regex(r"[A-Z][A-Z0-9]{1,5}", fullmatch=True)


@st.composite
def config_texts(draw):
    """Valid TOML files holding instances in the shapes people write."""
    ids = draw(st.lists(_ID, min_size=1, max_size=4, unique=True))
    parts = [draw(st.sampled_from(["", "# fleet\n", '[api]\ntimeout = 5\n\n']))]
    inline = draw(st.booleans())
    if inline:
        items = ", ".join(f'{{id = "{i}", label = "{i.lower()}"}}' for i in ids)
        parts.insert(0, f"instances = [{items}]\n")
        return "".join(parts), ids
    for i in ids:
        label = draw(st.sampled_from([f'"{i.lower()}"', f'"""x\n[[instances]]\n{i}"""',
                                      "'''[api]'''", '"a # not a comment"']))
        extra = draw(st.sampled_from(["", "tags = ['t']\n", "# note\n", "[instances.more]\nk = 1\n"]))
        parts.append(f'[[instances]]\nid = "{i}"\nlabel = {label}\n{extra}\n')
    parts.append(draw(st.sampled_from(["", "[monitor]\nrefresh = 5\n"])))
    return "".join(parts), ids


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(config_texts(), st.data())
def test_add_and_remove_never_crash_and_never_lose_an_entry(tmp_path, case, data):
    text, ids = case
    path = tmp_path / "config.toml"
    path.write_text(text)
    if data.draw(st.booleans()):
        victim = data.draw(st.sampled_from(ids))
        expected = [i for i in ids if i != victim]
        edit = lambda: remove_instance(path, victim)  # noqa: E731
    else:
        expected = [*ids, "NEW1"]
        edit = lambda: add_instance(path, "NEW1", "new")  # noqa: E731
    try:
        edit()
    except ConfigError as exc:
        assert "\n" not in str(exc)
        assert path.read_text() == text  # refused: untouched
        return
    after = tomllib.loads(path.read_text())
    assert [e["id"] for e in after.get("instances", [])] == expected
    kept = {k: v for k, v in tomllib.loads(text).items() if k != "instances"}
    assert {k: v for k, v in after.items() if k != "instances"} == kept


def test_a_busy_run_lock_names_its_holder_and_not_a_stale_pid(tmp_path, monkeypatch):
    """The holder's pid is read whole; a pid left by a crashed run is not named as the holder."""
    import fcntl

    from wawp_tui import files

    path = tmp_path / "c.toml"
    with (files.held_while_running(path), pytest.raises(files.Busy) as busy,
          files.held_while_running(path)):
        pass
    assert busy.value.holder == f"process {os.getpid()}"

    # Someone else holds the lock, and its file names no running process: a crash left a
    # pid behind, the holder has not written yet (blank), or the file holds anything at all.
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True).stdout.strip()
    run_path = tmp_path / ".c.toml.running"
    monkeypatch.setattr(files, "HOLDER_WAIT", 0.0)  # (a blank file is read again this long)
    for left in (dead, "", "0", "-1", "99999999999999999999", "x" * 200, "\x1b[2J"):
        run_path.write_text(f"{left:<20}\n")
        fd = os.open(run_path, os.O_RDWR)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            with pytest.raises(files.Busy) as busy, files.held_while_running(path):
                pass
        finally:
            os.close(fd)
        assert busy.value.holder == "another process", left
    # Released cleanly, the lock is free again and its file names nobody.
    with files.held_while_running(path):
        pass
    assert run_path.read_text().strip() == ""
