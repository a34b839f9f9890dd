"""The Prometheus alert rules, scrape config and Grafana dashboard in contrib/.

Two kinds of checks:
- with promtool (Debian's ``prometheus`` package): the rules and config are valid, the
  rules' unit tests pass, the dashboard's PromQL parses, a 500-instance outage gives one
  alert, and the worst-instances table query returns what it should;
- without it: every PromQL expression shipped (alerts and dashboard) names only metrics of
  the exporter's contract (``wawp_tui.metrics_names``), and the files have the shape the
  on-call relies on (severity, summary, description, runbook on every alert).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from wawp_tui import metrics_names

ROOT = Path(__file__).resolve().parent.parent
PROM_DIR = ROOT / "contrib" / "prometheus"
ALERTS = PROM_DIR / "alerts.yml"
ALERTS_TEST = PROM_DIR / "alerts_test.yml"
PROM_CONFIG = PROM_DIR / "prometheus.yml"
DASHBOARD = ROOT / "contrib" / "grafana" / "wawp-fleet.json"

PROMTOOL_MISSING = (
    "promtool not found: install Debian's prometheus package (apt-get install prometheus) "
    "or run .ci/run, which installs it"
)

#: Series PromQL may name besides the contract: Prometheus's own per-target series.
PROMETHEUS_OWN = frozenset({"up"})

#: What the dashboard's variables stand for when its queries are checked by promtool.
GRAFANA_VARIABLES = {
    "$__rate_interval": "1m",
    "$__interval": "1m",
    "$__range": "1h",
    "$job": "wawp",
    "$shard": ".*",
}


# --- reading the files (no YAML library needed) -------------------------------------------


def alert_blocks(text: str) -> list[str]:
    """The text of each ``- alert:`` rule of a rules file, in order."""
    starts = [m.start() for m in re.finditer(r"(?m)^\s*- alert:", text)]
    ends = starts[1:] + [len(text)]
    blocks = []
    for start, end in zip(starts, ends):
        block = text[start:end]
        # a rule ends where the next group starts
        group = re.search(r"(?m)^\s*- name:", block)
        blocks.append(block[: group.start()] if group else block)
    return blocks


def yaml_field(block: str, key: str) -> str | None:
    """The value of ``key:`` in one rule: an inline scalar or a ``|`` / ``>`` block."""
    m = re.search(rf"(?m)^(?P<indent>[ ]*){key}:[ ]*(?P<rest>.*)$", block)
    if m is None:
        return None
    rest = m.group("rest").strip()
    if rest and rest[0] not in "|>":
        if rest[0] in "\"'" and rest[-1] == rest[0]:
            rest = rest[1:-1]
        return rest
    indent = len(m.group("indent"))
    lines = []
    for line in block[m.end() + 1 :].splitlines():
        if line.strip() and len(line) - len(line.lstrip(" ")) <= indent:
            break
        lines.append(line.strip())
    sep = "\n" if rest.startswith("|") else " "
    return sep.join(line for line in lines if line).strip()


def alert_rules() -> dict[str, str]:
    """alertname -> block of alerts.yml."""
    rules = {}
    for block in alert_blocks(ALERTS.read_text()):
        name = re.search(r"- alert:\s*(\S+)", block).group(1)
        assert name not in rules, f"alert {name} defined twice"
        rules[name] = block
    return rules


def dashboard() -> dict:
    return json.loads(DASHBOARD.read_text())


def dashboard_queries(dash: dict) -> list[str]:
    """Every PromQL expression of the dashboard: panel targets and variable queries."""
    exprs: list[str] = []

    def walk(node):
        if isinstance(node, dict):
            if isinstance(node.get("expr"), str):
                exprs.append(node["expr"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(dash.get("panels", []))
    for var in dash.get("templating", {}).get("list", []):
        if var.get("type") != "query":
            continue
        query = var.get("query")
        query = query.get("query") if isinstance(query, dict) else query
        for q in {query, var.get("definition")} - {None, ""}:
            m = re.fullmatch(r"\s*label_values\((?:(?P<expr>.+),)?\s*(?P<label>\w+)\s*\)\s*", q)
            assert m, f"variable {var.get('name')}: unexpected query {q!r}"
            if m.group("expr"):
                exprs.append(m.group("expr"))
    return exprs


def grafana_to_promql(expr: str) -> str:
    for var, value in GRAFANA_VARIABLES.items():
        expr = expr.replace("${" + var[1:] + "}", value).replace(var, value)
    return expr


# --- metric names in PromQL ---------------------------------------------------------------

_KEYWORDS = frozenset(
    {
        # binary and set operators, modifiers
        "and", "or", "unless", "bool", "offset", "by", "without", "on", "ignoring",
        "group_left", "group_right", "atan2",
        # aggregation operators (may be followed by `by (...)` before the parenthesis)
        "sum", "min", "max", "avg", "group", "stddev", "stdvar", "count", "count_values",
        "bottomk", "topk", "quantile", "limitk", "limit_ratio",
        # number literals
        "inf", "nan",
    }
)


def promql_metric_names(expr: str) -> set[str]:
    """The metric names an expression selects (a tokenizer, not a parser: good enough for
    the expressions shipped here, and tested below on tricky ones)."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`', '""', expr)
    text = re.sub(r"\{[^}]*\}", " ", text)  # label matchers
    text = re.sub(r"\[[^\]]*\]", " ", text)  # ranges and subqueries
    text = re.sub(
        r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", text
    )  # grouping label lists
    text = re.sub(r"\$\{?\w+\}?", " ", text)  # Grafana variables
    names = set()
    for m in re.finditer(r"(?<![\w.:])[a-zA-Z_:][a-zA-Z0-9_:]*", text):
        word = m.group(0)
        if word.lower() in _KEYWORDS or re.match(r"\s*\(", text[m.end() :]):
            continue  # an operator, or a function call
        names.add(word)
    return names


ALLOWED_NAMES = metrics_names.sample_names() | PROMETHEUS_OWN


def test_metric_name_tokenizer_on_tricky_expressions():
    expr = (
        'histogram_quantile(0.95, sum by (le) (rate(wawp_poll_duration_seconds_bucket'
        '{job=~"$job", le!="+Inf"}[$__rate_interval])))'
        " and on (job, instance) wawp_api_unreachable offset 5m > 1e3"
        ' or label_replace(up{job="wawp_instances"}, "status", "x_y", "", "")'
        " unless sum without (status) (wawp_instance_status) by (id)"
        " or max(wawp_instnace_up)[5m:1m]"
    )
    assert promql_metric_names(expr) == {
        "wawp_poll_duration_seconds_bucket",
        "wawp_api_unreachable",
        "up",
        "wawp_instance_status",
        "wawp_instnace_up",  # a typo must come out, to be caught
    }


def test_contract_module_is_consistent():
    assert len(set(metrics_names.NAMES)) == len(metrics_names.NAMES)
    for m in metrics_names.METRICS:
        assert re.fullmatch(r"wawp_[a-z0-9_]+", m.name), m.name
        assert m.type in {"gauge", "counter", "histogram"}, m
        assert m.name.endswith("_total") == (m.type == "counter"), m.name
        assert m.help and "\n" not in m.help, m.name
        assert not set(m.labels) & set(metrics_names.INSTANCE_LABELS), m.name
    assert "wawp_poll_duration_seconds_bucket" in metrics_names.sample_names()
    assert metrics_names.metric("wawp_instance_status").labels == ("status",)
    # no exporter library here: anything may import the contract for free
    source = Path(metrics_names.__file__).read_text()
    assert "prometheus_client" not in source.replace("No prometheus_client here", "")


def test_alert_rules_only_use_contract_metrics():
    rules = alert_rules()
    assert rules, "no alert found in alerts.yml"
    for name, block in rules.items():
        expr = yaml_field(block, "expr")
        assert expr, f"{name}: no expr"
        used = promql_metric_names(expr)
        assert used, f"{name}: no metric found in {expr!r}"
        unknown = used - ALLOWED_NAMES
        assert not unknown, f"{name} uses metrics outside the contract: {sorted(unknown)}"


def test_alert_rules_only_use_contract_status_words():
    for name, block in alert_rules().items():
        expr = yaml_field(block, "expr")
        for m in re.finditer(r'\bstatus\s*(?:=|!=|=~|!~)\s*"([^"]*)"', expr):
            words = set(m.group(1).split("|"))
            assert words <= set(metrics_names.FLEET_STATUSES), f"{name}: {m.group(0)}"


def test_every_alert_tells_the_on_call_what_to_do():
    rules = alert_rules()
    expected = {
        "WawpInstanceFailed", "WawpInstanceNeedsPhone", "WawpInstanceStuckStarting",
        "WawpApiUnreachable", "WawpRestartLoop", "WawpInstanceStale", "WawpExporterDown",
    }
    assert expected <= set(rules)
    for name, block in rules.items():
        for key in ("summary", "description", "runbook"):
            assert yaml_field(block, key), f"{name}: no {key} annotation"
        assert re.search(r"(?m)^\s+severity:\s*(page|ticket)\s*$", block), f"{name}: severity"
    assert "Do NOT restart" in yaml_field(rules["WawpInstanceNeedsPhone"], "runbook")
    # one alert for the fleet, and no per-instance stale alert while it fires
    assert "count by (job)" in yaml_field(rules["WawpApiUnreachable"], "expr")
    for name in ("WawpInstanceStale", "WawpInstanceStatusUnknown"):
        assert re.search(r"unless on \(job, instance\) \(wawp_api_unreachable == 1",
                         yaml_field(rules[name], "expr")), name
    assert "increase(wawp_instance_restarts_total[15m]) >= 3" in yaml_field(
        rules["WawpRestartLoop"], "expr"
    )
    assert 'up{job="wawp"} == 0' in yaml_field(rules["WawpExporterDown"], "expr")


def test_dashboard_is_an_importable_grafana_dashboard():
    dash = dashboard()
    assert 39 <= dash["schemaVersion"] < 42
    assert [i["name"] for i in dash["__inputs"]] == ["DS_PROMETHEUS"]
    assert dash["uid"] and dash["title"]
    panels = dash["panels"]
    ids = [p["id"] for p in panels]
    assert len(ids) == len(set(ids)), "duplicate panel ids"
    cells = set()
    for p in panels:
        g = p["gridPos"]
        assert g["x"] + g["w"] <= 24, p["title"]
        mine = {(x, y) for x in range(g["x"], g["x"] + g["w"]) for y in range(g["y"], g["y"] + g["h"])}
        assert not mine & cells, f"panel {p['title']!r} overlaps another"
        cells |= mine
        if p["type"] != "row":
            assert p["datasource"] == {"type": "prometheus", "uid": "${DS_PROMETHEUS}"}, p["title"]
            for t in p["targets"]:
                assert t["datasource"]["uid"] == "${DS_PROMETHEUS}", p["title"]


def test_dashboard_only_uses_contract_metrics():
    exprs = dashboard_queries(dashboard())
    assert len(exprs) >= 10
    used = set()
    for expr in exprs:
        names = promql_metric_names(expr)
        assert names, f"no metric found in {expr!r}"
        unknown = names - ALLOWED_NAMES
        assert not unknown, f"dashboard query uses metrics outside the contract: {sorted(unknown)} in {expr!r}"
        used |= names
    # the panels the issue asks for
    assert {
        "wawp_instances_by_status",  # fleet by status over time
        "wawp_instance_status_duration_seconds",  # worst instances, seconds in status
        "wawp_poll_duration_seconds_bucket",  # poll latency
        "wawp_poll_errors_total",
        "wawp_actions_total",
        "wawp_api_unreachable",
        "wawp_exporter_build_info",
    } <= used
    joined = "\n".join(exprs)
    assert "histogram_quantile(0.5," in joined and "histogram_quantile(0.95," in joined
    assert "sum by (status) (wawp_instances_by_status" in joined
    assert "rate(wawp_poll_errors_total" in joined
    assert re.search(r"sum by \(action, outcome\) \(increase\(wawp_actions_total", joined)


def test_prometheus_config_shards_one_job():
    text = PROM_CONFIG.read_text()
    assert re.findall(r"job_name:\s*(\S+)", text) == ["wawp"]
    assert '"127.0.0.1:9877"' in text and '"127.0.0.1:9878"' in text
    assert re.search(r"(?m)^rule_files:\s*\n\s*- alerts\.yml", text)


# --- promtool -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def promtool() -> str:
    path = shutil.which("promtool")
    if path is None:
        pytest.skip(PROMTOOL_MISSING)
    return path


def run_promtool(promtool: str, *args: str, cwd: Path = PROM_DIR) -> str:
    proc = subprocess.run(
        [promtool, *args], cwd=cwd, capture_output=True, text=True, timeout=120
    )
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, f"promtool {' '.join(args)} failed:\n{output}"
    return output


def test_promtool_check_rules(promtool):
    out = run_promtool(promtool, "check", "rules", "alerts.yml")
    assert f"SUCCESS: {len(alert_rules())} rules found" in out


def test_promtool_rule_unit_tests(promtool):
    out = run_promtool(promtool, "test", "rules", "alerts_test.yml")
    assert "SUCCESS" in out


def test_promtool_check_config(promtool):
    # the config names alerts.yml relative to itself: promtool checks that one too
    out = run_promtool(promtool, "check", "config", "prometheus.yml")
    assert "alerts.yml" in out and "SUCCESS" in out


def test_dashboard_queries_parse(promtool, tmp_path):
    lines = ["groups:", "  - name: dashboard", "    rules:"]
    for i, expr in enumerate(dashboard_queries(dashboard())):
        lines += [f"      - record: dashboard:query_{i}", f"        expr: {json.dumps(grafana_to_promql(expr))}"]
    rules = tmp_path / "dashboard_rules.yml"
    rules.write_text("\n".join(lines) + "\n")
    run_promtool(promtool, "check", "rules", str(rules), cwd=tmp_path)


def _series(name: str, labels: dict[str, str], values: str) -> list[str]:
    body = ",".join(f'{k}="{v}"' for k, v in labels.items())
    return [f"      - series: '{name}{{{body}}}'", f"        values: '{values}'"]


def test_500_unreachable_instances_give_one_alert(promtool, tmp_path):
    """Both exporters lose the API: exactly one firing alert in all, WawpApiUnreachable,
    and none of the 500 instances gets a stale or unknown-status alert."""
    lines = [f"rule_files: [{json.dumps(str(ALERTS))}]", "evaluation_interval: 15s", "tests:",
             "  - interval: 1m", "    input_series:"]
    exporters = {"eu": "127.0.0.1:9877", "us": "127.0.0.1:9878"}
    for target in exporters.values():
        lines += _series("wawp_api_unreachable", {"job": "wawp", "instance": target}, "0 0 1x28")
        lines += _series("wawp_instances", {"job": "wawp", "instance": target}, "250x30")
    for n in range(500):
        tag = "eu" if n % 2 == 0 else "us"
        labels = {"job": "wawp", "instance": exporters[tag], "id": f"{tag.upper()}{n:010d}",
                  "label": f"Desk {n}", "tags": tag}
        # stale from the first minute; one in ten was never polled successfully
        lines += _series("wawp_instance_stale", labels, "0 1x29")
        lines += _series("wawp_instance_up", labels, "1 0x29" if n % 10 else "0x30")
        working = "0x30" if n % 10 == 0 else "1x30"
        for status in metrics_names.INSTANCE_STATUSES:
            lines += _series("wawp_instance_status", {**labels, "status": status},
                             working if status == "WORKING" else "0x30")
    firing = 'count by (alertname) (ALERTS{alertstate="firing"})'
    lines += [
        "    promql_expr_test:",
        f"      - expr: '{firing}'",
        "        eval_time: 3m",
        "        exp_samples: []",
        f"      - expr: '{firing}'",
        "        eval_time: 29m",
        "        exp_samples:",
        "          - labels: '{alertname=\"WawpApiUnreachable\"}'",
        "            value: 1",
        "    alert_rule_test:",
        "      - eval_time: 29m",
        "        alertname: WawpInstanceStale",
        "        exp_alerts: []",
    ]
    test_file = tmp_path / "fleet_test.yml"
    test_file.write_text("\n".join(lines) + "\n")
    run_promtool(promtool, "test", "rules", str(test_file), cwd=tmp_path)


def test_worst_instances_query(promtool, tmp_path):
    """The dashboard's worst-instances table: every instance not WORKING, with its status
    and seconds in it; one never polled successfully reads UNREACHABLE."""
    panel = next(p for p in dashboard()["panels"] if p["title"].startswith("Worst instances"))
    expr = grafana_to_promql(panel["targets"][0]["expr"])
    fleet = {"A": ("FAILED", 100), "B": ("WORKING", 500), "C": ("SCAN_QR_CODE", 300), "D": (None, 50)}
    lines = ["tests:", "  - interval: 1m", "    input_series:"]
    for id_, (current, seconds) in fleet.items():
        labels = {"job": "wawp", "instance": "127.0.0.1:9877", "id": id_, "label": f"L{id_}", "tags": "eu"}
        for status in metrics_names.INSTANCE_STATUSES:
            lines += _series("wawp_instance_status", {**labels, "status": status},
                             "1x5" if status == current else "0x5")
        lines += _series("wawp_instance_status_duration_seconds", labels, f"{seconds}x5")
    lines += ["    promql_expr_test:", f"      - expr: {json.dumps(expr)}", "        eval_time: 2m",
              "        exp_samples:"]
    expected = [("A", "FAILED", 100), ("C", "SCAN_QR_CODE", 300)]
    for id_, status, seconds in expected:
        lines += [f"          - labels: '{{id=\"{id_}\",instance=\"127.0.0.1:9877\",job=\"wawp\","
                  f"label=\"L{id_}\",status=\"{status}\",tags=\"eu\"}}'", f"            value: {seconds}"]
    lines += ["          - labels: 'wawp_instance_status_duration_seconds{id=\"D\",instance=\"127.0.0.1:9877\","
              "job=\"wawp\",label=\"LD\",status=\"UNREACHABLE\",tags=\"eu\"}'", "            value: 50"]
    test_file = tmp_path / "worst_test.yml"
    test_file.write_text("\n".join(lines) + "\n")
    run_promtool(promtool, "test", "rules", str(test_file), cwd=tmp_path)
