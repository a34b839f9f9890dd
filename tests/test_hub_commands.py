"""`status`, `check` and `rollout` attached to a hub (`--hub`): the hub's fleet, its gate."""

from __future__ import annotations

import json

import pytest

from tests.hub_kit import TOKENS, WAWP_TOKEN, HubThread, config_for
from wawp_tui.cli import main
from wawp_tui.simulator import SimInstance, Simulator


@pytest.fixture
def hub(serve):
    sims = [SimInstance(id=f"CMD{k:09d}", label=f"Desk {k}", token=WAWP_TOKEN, tags=("eu",) if k else ("us",),
                        started_at=0.0, boot_seconds=1.0) for k in range(3)]
    sims[2].raw_status = "FAILED"
    sim = Simulator(sims)
    running = HubThread(config_for(serve(sim).url, sims, refresh=1.0))
    yield sim, running, sims
    running.stop()


def test_status_check_and_rollout_through_the_hub(hub, monkeypatch, capsys):
    sim, running, sims = hub
    monkeypatch.delenv("WAWP_ACCESS_TOKEN", raising=False)
    monkeypatch.setenv("WAWP_HUB_TOKEN", TOKENS["alice"])
    assert main(["status", "--json", "--hub", running.url]) == 1
    rows = json.loads(capsys.readouterr().out)
    assert [(r["id"], r["status"]) for r in rows] == [(i.id, "FAILED" if i is sims[2] else "WORKING") for i in sims]
    monkeypatch.setenv("WAWP_HUB_URL", running.url)
    assert main(["check"]) == 2  # one problem in three: CRITICAL at the default 10 %
    assert "FAILED: Desk 2" in capsys.readouterr().out
    assert main(["check", "--tag", "us"]) == 0
    capsys.readouterr()
    # A rollout asks the hub for each action (its gate, its journal): one stop, by alice.
    assert main(["rollout", "stop", "--ids", sims[0].id, "--yes", "--wave", "1"]) == 0, capsys.readouterr()
    assert len(sim.calls_to("stop", sims[0].id)) == 1
    assert running.hub.monitor.state(sims[0].id).acted_by == {"stop": "alice"}
    # A viewer's token: status works, a rollout is refused before anything is sent.
    monkeypatch.setenv("WAWP_HUB_TOKEN", TOKENS["val"])
    assert main(["status"]) == 1
    capsys.readouterr()
    assert main(["rollout", "stop", "--ids", sims[1].id, "--yes"]) == 2
    assert "viewer" in capsys.readouterr().err
    assert sim.calls_to("stop", sims[1].id) == []
    # A wrong token, or no hub there: one line, exit 2 (UNKNOWN for check).
    monkeypatch.setenv("WAWP_HUB_TOKEN", "not-a-token-of-this-hub")
    assert main(["status"]) == 2
    assert "WAWP_HUB_TOKEN" in capsys.readouterr().err
    assert main(["check", "--hub", "http://127.0.0.1:9"]) == 3
    assert "cannot read the hub" in capsys.readouterr().out
    assert main(["exporter", "--hub", running.url]) == 2


def test_check_on_a_hub_that_watches_nothing_names_the_hub(serve, monkeypatch, capsys):
    running = HubThread(config_for(serve(Simulator([])).url, []))
    try:
        monkeypatch.delenv("WAWP_ACCESS_TOKEN", raising=False)
        monkeypatch.setenv("WAWP_HUB_TOKEN", TOKENS["alice"])
        assert main(["check", "--hub", running.url]) == 3
        out = capsys.readouterr().out
        assert f"the hub at {running.url} watches none" in out and "config" not in out
    finally:
        running.stop()
