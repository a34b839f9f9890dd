"""k9s habits: the `/` filter's language, the `:` views, `d` (describe) and `y` (the raw
reply), keys named as people write them, the palette's own commands first, and the alert
list's acknowledgements. Driven through keys against the simulator over real sockets."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from textual.command import CommandPalette
from textual.widgets import Input, OptionList

from tests.conftest import make_config
from tests.drive import highlight, refresh, screen_lines, tick
from wawp_tui.client.api import WawpClient
from wawp_tui.core import AuditLog
from wawp_tui.models import FAILED, SCAN_QR_CODE
from wawp_tui.simulator import Simulator, build_scenario
from wawp_tui.ui.app import build_app
from wawp_tui.ui.row_filter import FilterError, Row, parse
from wawp_tui.ui.screens.alerts_screen import AlertsScreen
from wawp_tui.ui.screens.text_page import TextScreen
from wawp_tui.ui.widgets.fleet_table import FleetTable

ROWS = [
    Row("Bank alerts EU", "AAAA11112222", ("bank", "eu", "prod"), ("FAILED",)),
    Row("Bank alerts US", "BBBB11112222", ("bank", "us", "staging"), ("WORKING",)),
    Row("Shop EU", "CCCC11112222", ("shop", "eu", "prod"), ("SCAN QR", "SCAN_QR_CODE")),
    Row("Support desk", "DDDD11112222", ("support",), ("STUCK", "STARTING", "UNREACHABLE")),
]


def shown(expression: str) -> list[str]:
    wanted = parse(expression)
    return [row.label for row in ROWS if wanted.matches(row)]


@pytest.mark.parametrize("expression, labels", [
    ("", ["Bank alerts EU", "Bank alerts US", "Shop EU", "Support desk"]),
    ("bank eu", ["Bank alerts EU"]),
    ("tag:eu", ["Bank alerts EU", "Shop EU"]),
    ("tag:e", []),  # a tag is matched whole
    ("status:failed", ["Bank alerts EU"]),
    ("status:scanqr", ["Shop EU"]),
    ("status:scan_qr", ["Shop EU"]),
    ("status:stuck", ["Support desk"]),
    ("status:unreachable|failed", ["Bank alerts EU", "Support desk"]),
    ("id:bbbb", ["Bank alerts US"]),
    ("label:desk", ["Support desk"]),
    ("EU|US", ["Bank alerts EU", "Bank alerts US", "Shop EU"]),
    ("!tag:staging bank", ["Bank alerts EU"]),
    ("/^Bank", ["Bank alerts EU", "Bank alerts US"]),
    ("/^bank.*us$", ["Bank alerts US"]),
    ("!/^Bank", ["Shop EU", "Support desk"]),
])
def test_the_filter_language(expression, labels):
    assert shown(expression) == labels


@pytest.mark.parametrize("expression, said", [
    ("/^Bank(", "invalid regular expression"),
    ("/", "needs a regular expression"),
    ("!", "needs something to leave out"),
    ("tag:", "tag: needs a value"),
    ("|", "'|' needs words"),
])
def test_a_bad_expression_says_what_is_wrong(expression, said):
    with pytest.raises(FilterError, match=said):
        parse(expression)


@given(st.text(max_size=60))
def test_any_expression_parses_or_says_why(text):
    try:
        wanted = parse(text)
    except FilterError as exc:
        assert str(exc)
    else:
        for row in ROWS:
            wanted.matches(row)


@pytest.fixture
def app_on(serve, clock, tmp_path):
    def start(n=8, configure=None):
        sim_instances = build_scenario("healthy", seed=21, instances=n, clock=clock)
        if configure:
            configure(sim_instances)
        sim = Simulator(sim_instances, clock=clock, seed=21)
        server = serve(sim)
        config = make_config(server.url, sim_instances)
        app = build_app(config, WawpClient(server.url, timeout=1, connect_timeout=0.5), clock=clock,
                        audit=AuditLog(tmp_path / "audit.jsonl"), poll=False)
        return sim, sim_instances, app
    return start


def troubled(instances):
    instances[0].fail_at = 0.0
    instances[1].logged_in, instances[1].base_status = False, SCAN_QR_CODE
    instances[2].fail_at = 0.0


async def test_the_filter_box_takes_expressions_and_says_when_one_is_invalid(app_on):
    sim, instances, app = app_on(configure=troubled)
    async with app.run_test(size=(80, 24)) as pilot:
        await refresh(app, pilot)
        await pilot.press("slash", *"status:failed|scanqr")
        assert set(app.fleet_screen.visible_ids()) == {i.id for i in instances[:3]}
        await pilot.press(*" /(")  # now a broken regular expression: said, and the rows stay
        box = app.query_one("#filter", Input)
        assert "invalid: invalid regular expression" in str(box.border_subtitle)
        assert set(app.fleet_screen.visible_ids()) == {i.id for i in instances[:3]}
        assert any("invalid regular expression" in line for line in screen_lines(app))
        await pilot.press("backspace", "backspace", "backspace", *" !status:scan")
        assert not box.border_subtitle
        assert set(app.fleet_screen.visible_ids()) == {instances[0].id, instances[2].id}


async def test_colon_views_switch_like_k9s(app_on):
    sim, instances, app = app_on(configure=troubled)
    async with app.run_test(size=(120, 40)) as pilot:
        await refresh(app, pilot)
        await pilot.press("colon")
        assert isinstance(app.screen, CommandPalette)
        await app.workers.wait_for_complete()
        await pilot.pause()
        # Before any query: this app's commands before Textual's own, the views first.
        first = app.screen.query_one("CommandList", OptionList).get_option_at_index(0)
        assert str(first.prompt).startswith(":failed")
        await pilot.press(*"scanqr")
        await app.workers.wait_for_complete()
        await pilot.pause()
        await pilot.press("enter")
        await pilot.pause()
        assert app.screen is app.fleet_screen
        assert app.query_one("#filter", Input).value == "status:scanqr|passkey"
        assert app.fleet_screen.visible_ids() == [instances[1].id]
        await pilot.press("colon", *"failed")
        await app.workers.wait_for_complete()
        await pilot.pause()
        await pilot.press("enter")
        await pilot.pause()
        assert set(app.fleet_screen.visible_ids()) == {instances[0].id, instances[2].id}
        await pilot.press("colon", *":all")
        await app.workers.wait_for_complete()
        await pilot.pause()
        await pilot.press("enter")
        await pilot.pause()
        assert len(app.fleet_screen.visible_ids()) == 8


async def test_d_describes_an_instance_on_a_page_that_scrolls(app_on, clock):
    sim, instances, app = app_on(configure=troubled)
    async with app.run_test(size=(80, 24)) as pilot:
        await refresh(app, pilot)
        clock.advance(5)
        await refresh(app, pilot)
        await highlight(app, pilot, instances[0].id)
        await pilot.press("d")
        page = app.screen
        assert isinstance(page, TextScreen)
        text = page.body.plain
        for part in ("the API's last word     FAILED", "last good poll", "failed polls in a row",
                     "Guards: what each key would do now", "restart (r)", "start (s)", "reset (R)",
                     "History (", "Advice", instances[0].id, "polled every"):
            assert part in text, part
        assert text.count(" FAILED\n") >= 1
        scroller = page.scroller()
        assert scroller.scroll_y == 0
        await pilot.press("G")
        await pilot.pause()
        bottom = scroller.scroll_y
        assert bottom > 0
        await pilot.press("k", "k")
        await pilot.pause()
        assert scroller.scroll_y == bottom - 2
        await pilot.press("g")
        await pilot.pause()
        assert scroller.scroll_y == 0
        await pilot.press("ctrl+d")
        await pilot.pause()
        assert scroller.scroll_y > 0


async def test_y_shows_the_last_raw_reply_redacted(app_on):
    from wawp_tui.simulator import SIM_TOKEN

    sim, instances, app = app_on()
    target = instances[3].id
    sim.inject(target, "echo_500", format="json")
    async with app.run_test(size=(80, 24)) as pilot:
        await refresh(app, pilot)
        await highlight(app, pilot, target)
        await pilot.press("y")
        page = app.screen
        assert isinstance(page, TextScreen)
        text = page.body.plain
        assert text.startswith("HTTP 500 · application/json")
        assert '"access_token": "***"' in text or "***" in text
        assert SIM_TOKEN not in text and SIM_TOKEN not in "\n".join(screen_lines(app))
        await pilot.press("escape")
        await highlight(app, pilot, instances[4].id)
        await pilot.press("y")
        assert '"status": "WORKING"' in app.screen.body.plain


async def test_help_names_keys_as_people_write_them(app_on):
    sim, instances, app = app_on(n=3)
    async with app.run_test(size=(120, 60)) as pilot:
        await refresh(app, pilot)
        await pilot.press("question_mark")
        lines = _help_lines(app)
        assert any(line.split()[:1] == ["!"] for line in lines)  # "!   The alerts by group..."
        assert not any("exclamation_mark" in line or "question_mark" in line for line in lines)
        assert sum(line.count("ctrl+c") for line in lines) == 1  # quit's, once


def _help_lines(app) -> list[str]:
    """The help page as text, as it reads at 100 columns."""
    import io

    from rich.console import Console

    console = Console(width=100, record=True, file=io.StringIO())
    console.print(app.screen.body)
    return console.export_text().splitlines()


async def test_in_the_alert_list_a_acknowledges_the_one_under_the_cursor(app_on, clock):
    def configure(instances):
        for inst in instances[:3]:
            inst.fail_at = 0.0
        instances[3].logged_in, instances[3].base_status = False, SCAN_QR_CODE

    sim, instances, app = app_on(configure=configure)
    async with app.run_test(size=(120, 40)) as pilot:
        await refresh(app, pilot)
        await tick(app, pilot)
        book = app.monitor.alerts
        assert {g.key: len(g.alerts) for g in book.groups()} == {"failed": 3, "scan_qr": 1}
        await pilot.press("exclamation_mark")
        listing = app.screen
        assert isinstance(listing, AlertsScreen)
        assert "3 instances FAILED" in listing.plain
        for inst in instances[:3]:
            assert f"└ {inst.label} FAILED" in listing.plain  # a small group is open
        # The cursor on the first instance of the FAILED group: A acknowledges it alone.
        keys = [key for key, _ in listing.lines()]
        listing.query_one(OptionList).highlighted = next(n for n, k in enumerate(keys) if k.startswith("a:failed"))
        await pilot.press("A")
        assert sum(a.acknowledged for a in book.firing()) == 1
        assert "(acked)" in listing.plain
        # On a group: all of it.
        listing.query_one(OptionList).highlighted = keys.index("g:failed")
        await pilot.press("A")
        assert [a.acknowledged for a in book.firing() if a.group == "failed"] == [True] * 3
        assert not any(a.acknowledged for a in book.firing() if a.group == "scan_qr")
        # enter closes (and opens) a group.
        await pilot.press("enter")
        assert "└" not in listing.plain.split("need a QR scan")[0].split("FAILED", 1)[1]
        await pilot.press("ctrl+a")
        assert all(a.acknowledged for a in book.firing())
        await pilot.press("escape")
        await tick(app, pilot)
        assert not app.query_one("#alerts").display
        # A new alert; on the fleet screen A acknowledges all, as before.
        instances[5].fail_at = clock() - 1
        clock.advance(5)
        await refresh(app, pilot)
        await tick(app, pilot)
        assert app.query_one("#alerts").display
        await pilot.press("A")
        assert all(a.acknowledged for a in book.firing())
        assert {st.status for st in app.monitor.fleet if st.id in {i.id for i in instances[:3]}} == {FAILED}
        table = app.query_one(FleetTable)
        assert table.row_count == 8
