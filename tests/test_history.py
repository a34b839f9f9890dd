"""History survives a restart of the app and stays bounded."""

from wawp_tui.core.fleet import FleetState, HistoryEntry
from wawp_tui.core.history_store import HistoryStore
from wawp_tui.models import InstanceConfig, Secret


def test_transitions_written_and_reloaded(tmp_path, clock):
    store = HistoryStore(tmp_path / "history.jsonl")
    configs = [InstanceConfig("A1", "a", Secret("x")), InstanceConfig("B1", "b", Secret("x"))]
    fleet = FleetState(configs, clock)
    fleet.on_record = store.append
    fleet.apply_poll_ok("A1", "WORKING", None, 3)
    clock.advance(10)
    fleet.apply_poll_ok("A1", "FAILED", None, 3)
    fleet.apply_action_sent("A1", "restart", auto=True)
    # A new app instance reloads it.
    fresh = FleetState(configs, clock)
    for instance_id, entries in HistoryStore(tmp_path / "history.jsonl").load({"A1", "B1"}).items():
        fresh.restore(instance_id, entries)
    texts = [e.text for e in fresh.get("A1").history]
    assert texts == ["WORKING", "WORKING -> FAILED", "restart sent (auto-heal)"]
    assert list(fresh.get("A1").history)[-1].auto
    assert not fresh.get("B1").history


def test_rotation_keeps_the_file_bounded(tmp_path):
    path = tmp_path / "history.jsonl"
    store = HistoryStore(path, max_bytes=2000)
    for n in range(500):
        store.append("A1", HistoryEntry(float(n), "status", f"status change {n}", "WORKING"))
    assert path.stat().st_size <= 2000
    assert path.with_name("history.jsonl.1").stat().st_size <= 2000
    loaded = store.load({"A1"})["A1"]
    assert loaded[-1].text == "status change 499" and len(loaded) <= 50


def test_bad_lines_are_skipped(tmp_path):
    path = tmp_path / "history.jsonl"
    path.write_text('not json\n{"id": "A1", "at": 1.0, "kind": "status", "text": "WORKING"}\n{"id": 3}\n')
    assert [e.text for e in HistoryStore(path).load({"A1"})["A1"]] == ["WORKING"]


async def test_entries_dated_in_the_future_do_not_hold_auto_heal_back(tmp_path, clock):
    """A clock that ran ahead once wrote auto restarts "from the future": they counted as
    "in the last hour" for ever, so auto-heal stayed suppressed for that instance."""
    import json

    from tests.conftest import make_config
    from wawp_tui.core import Monitor
    from wawp_tui.core.autoheal import auto_actions
    from wawp_tui.simulator import build_scenario

    sim_instances = build_scenario("healthy", instances=1, clock=clock)
    instance_id = sim_instances[0].id
    path = tmp_path / "history.jsonl"
    with open(path, "w") as handle:
        for ahead in (60.0, 3600.0, 86400.0 * 365):
            handle.write(json.dumps({"id": instance_id, "at": clock() + ahead, "kind": "action",
                                     "text": "restart sent (auto-heal)", "subject": "restart",
                                     "auto": True}) + "\n")
    store = HistoryStore(path)
    monitor = Monitor(make_config("http://127.0.0.1:9", sim_instances), None, clock=clock,
                      history=store)
    kept = [e.at - clock() for e in monitor.state(instance_id).history]
    assert kept == [60.0]  # a minute of skew is kept; an hour or a year ahead is not
    assert len(auto_actions(monitor.state(instance_id), clock() - 3600)) == 1
    assert "2 dated in the future" in store.warning
