"""Read-only means read-only: every key that would act is refused and audited once, auto-heal
cannot be switched on (not even by the config), the advice names no key."""

from __future__ import annotations

import json

from tests.conftest import make_config
from tests.drive import detail_text, highlight, record_toasts, refresh, tick
from wawp_tui.client.api import WawpClient
from wawp_tui.core.audit import AuditLog
from wawp_tui.simulator import Simulator, build_scenario
from wawp_tui.ui.app import build_app


def _app(serve, clock, tmp_path, **monitor):
    sims = build_scenario("healthy", seed=7, instances=3, clock=clock)
    sims[0].fail_at = clock.now - 1  # one FAILED: the advice would say "press r"
    sim = Simulator(sims, clock=clock, seed=7)
    url = serve(sim).url
    config = make_config(url, sims, read_only=True, **monitor)
    app = build_app(config, WawpClient(url, timeout=2), clock=clock,
                    audit=AuditLog(tmp_path / "audit.jsonl"), poll=False)
    return sim, sims, app


def _records(tmp_path):
    path = tmp_path / "audit.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


async def test_every_acting_key_is_refused_and_audited_once(serve, clock, tmp_path):
    sim, sims, app = _app(serve, clock, tmp_path, auto_heal=True)  # the config asks for auto-heal
    toasts = record_toasts(app)
    async with app.run_test(size=(120, 40)) as pilot:
        await refresh(app, pilot)
        assert not app.monitor.auto_heal  # read-only wins over the config
        await highlight(app, pilot, sims[0].id)
        todo = detail_text(app)
        assert "next step: a restart" in todo and "press" not in todo
        for key in ("a", "r", "R", "x", "L"):
            await pilot.press(key)
            await pilot.pause()
        assert not app.monitor.auto_heal and "auto-heal off" in app.fleet_screen.query_one("#summary").render().plain
        for _ in range(10):  # ten seconds of heartbeats add nothing to the audit log
            clock.advance(1)
            await tick(app, pilot)
    records = _records(tmp_path)
    assert sorted(r["action"] for r in records) == ["auto-heal", "logout", "reset", "restart", "stop"]
    assert all(r["outcome"] == "refused" and "read-only" in r["detail"] for r in records)
    assert any("auto-heal refused: read-only" in t.message for t in toasts)
    assert not [c for c in sim.calls if not c["endpoint"].endswith("/info")]
