"""`wawp-tui import`: CSV and JSON lines into the config, all or nothing."""

import os
import subprocess
import sys

import pytest

from wawp_tui.config import ConfigError, append_instances, configured_ids, load_config
from wawp_tui.importer import plan_import, read_entries

EXISTING = """\
# production fleet, owned by ops
[monitor]
refresh = 5.0  # do not lower: rate limits

[[instances]]
id = "AAA000000001"
label = "Support EU"
"""

CSV = """\
id,label,tags,token_env
AAA000000001,Support EU again,support,
AAA000000002,"Sales, North",sales;eu,WAWP_TOKEN_SALES
AAA000000003,Bot,,
"""

ENV = {"WAWP_ACCESS_TOKEN": "placeholder-a", "WAWP_TOKEN_SALES": "placeholder-b"}


def cli(*args):
    env = {**os.environ, "WAWP_ACCESS_TOKEN": "placeholder-a"}
    return subprocess.run([sys.executable, "-m", "wawp_tui", *args], capture_output=True,
                          text=True, env=env, timeout=60)


@pytest.fixture
def config(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text(EXISTING)
    path.chmod(0o600)
    return path


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_csv_import_appends_keeps_comments_and_skips_known_ids(tmp_path, config):
    source = write(tmp_path, "fleet.csv", CSV)
    out = cli("import", str(source), "--config", str(config))
    assert out.returncode == 0, out.stderr
    assert "added 2 instance(s)" in out.stdout
    assert "skipped 1 already in the config: AAA000000001" in out.stdout
    assert config.read_text().startswith(EXISTING)
    loaded = load_config(config, env=ENV)
    assert [i.id for i in loaded.instances] == ["AAA000000001", "AAA000000002", "AAA000000003"]
    sales = loaded.instances[1]
    assert (sales.label, sales.tags, sales.token_source) == (
        "Sales, North", ("sales", "eu"), "env WAWP_TOKEN_SALES")
    assert loaded.instances[0].label == "Support EU"  # the known id was not overwritten
    assert oct(config.stat().st_mode & 0o777) == "0o600"


def test_running_the_same_import_twice_adds_nothing(tmp_path, config):
    source = write(tmp_path, "fleet.csv", CSV)
    assert cli("import", str(source), "--config", str(config)).returncode == 0
    after_first = config.read_text()
    again = cli("import", str(source), "--config", str(config))
    assert again.returncode == 0 and "added 0 instance(s)" in again.stdout
    assert "skipped 3" in again.stdout
    assert config.read_text() == after_first


def test_json_lines_with_list_or_string_tags(tmp_path, config):
    source = write(tmp_path, "fleet.jsonl",
                   '{"id": "J1", "label": "One", "tags": ["a", "b"]}\n\n'
                   '{"id": "J2", "label": "Two", "tags": "x;y", "token_env": "WAWP_TOKEN_SALES"}\n')
    plan = plan_import(source, configured_ids(config))
    append_instances(config, plan.new)
    loaded = load_config(config, env=ENV)
    assert [(i.id, i.tags) for i in loaded.instances[1:]] == [("J1", ("a", "b")), ("J2", ("x", "y"))]


def test_dry_run_lists_changes_and_writes_nothing(tmp_path, config):
    source = write(tmp_path, "fleet.csv", CSV)
    before = config.stat().st_mtime_ns
    out = cli("import", str(source), "--dry-run", "--config", str(config))
    assert out.returncode == 0, out.stderr
    assert "+ AAA000000002  Sales, North [sales, eu]  token from $WAWP_TOKEN_SALES" in out.stdout
    assert "would add 2 instance(s)" in out.stdout and "nothing written" in out.stdout
    assert config.read_text() == EXISTING and config.stat().st_mtime_ns == before


@pytest.mark.parametrize("name, text, message", [
    ("bad.csv", "id,label\nB1,ok\nB 2,spaces in id\n", "line 3: id 'B 2' may hold only"),
    ("bad.csv", "id,label\nB1,ok\nB2,\n", "line 3: label of B2 must not be empty"),
    ("bad.csv", "id,label\nB1,ok,extra\n", "line 2: 3 values for 2 columns"),
    ("bad.csv", "id,name\nB1,ok\n", "line 1: unknown column 'name'"),
    ("bad.csv", "id,label,token\nB1,ok,abc\n", "line 1: column 'token' is refused"),
    ("bad.csv", "id,label,token_env\nB1,ok,not-a-var\n", "line 2: token_env 'not-a-var'"),
    ("bad.csv", "id,label\nB1,one\nB2,two\nB1,three\n", "line 4: duplicate id B1 (first at line 2)"),
    ("bad.jsonl", '{"id": "B1", "label": "ok"}\n{"id": "B2", label}\n', "line 2: not valid JSON"),
    ("bad.jsonl", '{"id": "B1", "label": "ok"}\n["B2"]\n', "line 2: expected a JSON object"),
    ("bad.jsonl", '{"id": "B1", "label": "ok", "token": "abc"}\n', "line 1: key 'token' is refused"),
    ("bad.jsonl", '{"id": 12, "label": "ok"}\n', "line 1: id must be a string"),
    ("empty.csv", "\n\n", "the file is empty"),
    ("header.csv", "id,label,tags,token_env\n", "no instances in the file"),
])
def test_a_bad_line_is_named_and_nothing_is_written(tmp_path, config, name, text, message):
    source = write(tmp_path, name, text)
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        read_entries(source)
    out = cli("import", str(source), "--config", str(config))
    assert out.returncode == 2
    assert out.stderr.count("\n") == 1 and "Traceback" not in out.stderr
    assert config.read_text() == EXISTING


def test_byte_order_mark_and_header_case_from_spreadsheets(tmp_path):
    source = tmp_path / "excel.csv"
    source.write_bytes("\ufeffID,Label\r\nE1,From Excel\r\n".encode())
    assert read_entries(source) == [(2, {"id": "E1", "label": "From Excel"})]


def test_import_creates_a_missing_config_0600(tmp_path):
    source = write(tmp_path, "fleet.csv", "id,label\nN1,New\n")
    path = tmp_path / "sub" / "config.toml"
    out = cli("import", str(source), "--config", str(path))
    assert out.returncode == 0, out.stderr
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    assert [i.id for i in load_config(path, env=ENV).instances] == ["N1"]
