"""Replies of the right shape with the wrong types inside, over real sockets: a `me`
whose fields are numbers or lists, a 422 whose `expected` holds numbers, a timestamp or
a QR expiry of 400 digits, a `qr` field on every poll. One odd instance costs its own
row, never the report, the audit or the rest of a bulk action."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.test_hostile import SECRET, write_config
from wawp_tui import cli
from wawp_tui.simulator import Simulator, build_scenario


@pytest.fixture
def fleet(serve, clock):
    """Six healthy instances whose token is SECRET, served on loopback."""
    sim_instances = build_scenario("healthy", seed=7, instances=6, clock=clock)
    for inst in sim_instances:
        inst.token = SECRET
    sim = Simulator(sim_instances, clock=clock, seed=7)
    return sim, sim_instances, serve(sim)


def _working(me) -> bytes:
    return json.dumps({"name": "x", "status": "WORKING", "me": me}).encode()


ODD_ME = [
    {"id": "201012345678@c.us", "pushName": 42},
    {"id": "201012345678@c.us", "pushName": ["a", "b"]},
    {"id": 201012345678, "pushName": {"first": "Eve"}},
    {"id": ["1@c.us"], "pushName": None},
    {"id": "1@c.us", "pushName": 1e308},
]


def test_status_table_prints_every_row_when_me_fields_are_not_strings(fleet, tmp_path, capsys,
                                                                      monkeypatch):
    sim, sim_instances, server = fleet
    path = write_config(tmp_path / "config.toml", server.url, sim_instances)
    monkeypatch.setenv("WAWP_ACCESS_TOKEN", SECRET)
    for inst, me in zip(sim_instances, ODD_ME):
        sim.inject(inst.id, "raw", code=200, headers={"content-type": "application/json"},
                   body=_working(me))
    for argv in (["status"], ["status", "--json"]):
        assert cli.main([*argv, "--config", str(path)]) == 0
        out, err = capsys.readouterr()
        assert err == "" and "internal error" not in out
    table_rows = [line for line in cli_table(path, capsys) if line.startswith("✓ WORKING")]
    assert len(table_rows) == len(sim_instances)
    assert any("42 +201012345678" in line for line in table_rows)


def cli_table(path: Path, capsys) -> list[str]:
    cli.main(["status", "--config", str(path)])
    return capsys.readouterr().out.splitlines()
