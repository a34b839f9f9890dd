"""The wall (`wawp-tui --wall`): what counts as a problem, paging, alerts that acknowledge
themselves, stale data, read-only whatever the config, sizes from 80x24 to 300x80, and
hostile words; the rules with a clock passed in, then the screen on a simulator over
real sockets, the test moving the clock."""

from __future__ import annotations

import io
import itertools
import os
import re
import time
from collections import Counter
from types import SimpleNamespace

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from rich.cells import cell_len
from rich.console import Console
from textual.renderables.digits import DIGITS, DIGITS3X3, DIGITS3X3_BOLD

from tests.conftest import FakeClock, make_config
from tests.tmux import Terminal, needs_tmux
from wawp_tui.client.api import WawpClient
from wawp_tui.core import runbook
from wawp_tui.core.alerts import Alert, AlertGroup
from wawp_tui.core.fleet import FleetState
from wawp_tui.core.outage import Outage
from wawp_tui.models import FAILED, SCAN_QR_CODE, STARTING, STOPPED, WORKING, InstanceConfig, Secret
from wawp_tui.schedules import make
from wawp_tui.simulator import Simulator, build_scenario
from wawp_tui.ui import formatting as view
from wawp_tui.ui import wall_problems as problems_view
from wawp_tui.ui import wall_view as wall
from wawp_tui.ui.keys import bound_keys
from wawp_tui.ui.screens.text_page import TextScreen
from wawp_tui.ui.tally import Tally
from wawp_tui.ui.wall_app import build_wall_app
from wawp_tui.ui.wall_screen import HELP_LASTS, OTHER
from wawp_tui.ui.widgets.count_tile import _REACH, CountTile, ScaledDigits, scale_glyphs

# -- the rules, with a clock passed in -------------------------------------------------


def _needs_a_person(fleet: FleetState, clock: FakeClock, instance_id: str) -> None:
    """r, 15 s, r, R, and still STARTING a minute after the reset: the ladder ended."""
    fleet.apply_poll_ok(instance_id, FAILED, None, 5.0)
    fleet.apply_action_sent(instance_id, "restart")
    fleet.apply_action_result(instance_id, "restart", True, "", status=STARTING)
    clock.advance(15)
    fleet.apply_poll_ok(instance_id, STARTING, None, 5.0)
    fleet.apply_action_sent(instance_id, "restart")
    clock.advance(15)
    fleet.apply_poll_ok(instance_id, STARTING, None, 5.0)
    fleet.apply_action_sent(instance_id, "reset")
    fleet.apply_action_sent(instance_id, "start")
    fleet.apply_action_result(instance_id, "start", True, "", status=STARTING)
    fleet.apply_action_result(instance_id, "reset", True, "reset done")
    clock.advance(60)
    fleet.apply_poll_ok(instance_id, STARTING, None, 5.0)


def _fleet_of_every_kind(clock: FakeClock) -> FleetState:
    # The fake clock reads Fri 2027-01-15 08:00 UTC: before the schedule's window opens.
    hours = make("support hours", "Mon-Fri 09:00-18:00", "UTC", tags=("support",))
    names = ["failed", "qr", "young", "stuck", "stopped", "scheduled", "working", "gone", "person"]
    fleet = FleetState([InstanceConfig(n, n, Secret("x"), schedule=hours if n == "scheduled" else None)
                        for n in names], clock)
    _needs_a_person(fleet, clock, "person")
    fleet.apply_poll_ok("stuck", STARTING, None, 5.0)
    clock.advance(61)  # STARTING for over a minute: STUCK
    for name, word in (("failed", FAILED), ("qr", SCAN_QR_CODE), ("young", STARTING),
                       ("stuck", STARTING), ("stopped", STOPPED), ("scheduled", STOPPED),
                       ("working", WORKING), ("gone", WORKING), ("person", STARTING)):
        fleet.apply_poll_ok(name, word, None, 5.0)
    clock.advance(1)
    fleet.apply_poll_error("gone", "network", "connection refused", None)
    clock.advance(1)
    return fleet


def _tally(fleet: FleetState, now: float) -> Tally:
    tally = Tally(SimpleNamespace(fleet=fleet, stale_basis=5.0))
    tally.recount(now)
    return tally


def test_the_problems_are_the_tables_problem_band_worst_first():
    """FAILED, NEEDS PERSON, unreachable, SCAN QR and STUCK are problems, in the table's
    order; STARTING, STOPPED, SCHEDULED and WORKING are not."""
    clock = FakeClock()
    fleet = _fleet_of_every_kind(clock)
    words = {st_.id: runbook.shown_word(st_, clock.now, 5.0) for st_ in fleet}
    assert words["person"] == runbook.NEEDS_PERSON and words["stuck"] == runbook.STUCK
    assert words["scheduled"] == runbook.SCHEDULED and words["young"] == STARTING
    ids, folded = problems_view.problems(fleet, _tally(fleet, clock.now).parts, clock.now, 5.0, None)
    assert set(ids) == {"failed", "person", "gone", "qr", "stuck"} and folded == 0
    assert ids == sorted(ids, key=lambda i: view.sort_key(fleet.get(i), clock.now, 5.0))
    assert ids[-1] == "stuck" and ids[2] == "gone"
    lines = {i: problems_view.problem_line(fleet.get(i), clock.now, 5.0, view.Palette({}), 60).plain for i in ids}
    assert lines["gone"].startswith("! UNREACHABLE") and lines["gone"].endswith("1s")
    assert lines["person"].startswith("⚑ NEEDS PERSON")
    assert all(len(line) <= 60 for line in lines.values())


def test_in_an_outage_the_unreachable_are_one_line_and_a_failed_keeps_its_word():
    clock = FakeClock()
    fleet = _fleet_of_every_kind(clock)
    fleet.apply_poll_error("failed", "network", "connection refused", None)
    outage = Outage("network", "cut off", "API unreachable: 2 instances", ("gone", "failed"))
    ids, folded = problems_view.problems(fleet, _tally(fleet, clock.now).parts, clock.now, 5.0, outage)
    assert "gone" not in ids and folded == 1
    assert "failed" in ids
    line = problems_view.problem_line(fleet.get("failed"), clock.now, 5.0, view.Palette({}), 60).plain
    assert line.startswith("✗ FAILED ~")
    block = problems_view.problem_block(fleet, ids, folded, clock.now, 5.0, view.Palette({}), 80, 10)
    assert "+ 1 more not answering" in block[0].plain


def test_pages_turn_every_ten_seconds_of_the_clock():
    t0 = 1_800_000_000.0  # a multiple of ten
    seen = [problems_view.page(25, 10, t0 + t) for t in (0, 9.9, 10, 20, 30)]
    assert [(p.number, p.count) for p in seen] == [(1, 3), (1, 3), (2, 3), (3, 3), (1, 3)]
    assert [(p.start, p.stop) for p in seen[2:4]] == [(10, 20), (20, 25)]
    assert problems_view.page(10, 10, t0 + 10) == problems_view.Page(0, 10, 1, 1)
    assert problems_view.page(0, 10, t0) == problems_view.Page(0, 0, 1, 1)


def _group(news: bool, started: float) -> AlertGroup:
    return AlertGroup("failed", (Alert("failed:a", "shop FAILED", "bad", started, ("a",),
                                       news=news, group="failed"),))


def test_an_alert_reads_new_for_a_minute_then_ongoing():
    t0 = 1_800_000_000.0
    fresh, old = _group(True, t0), _group(False, t0)
    assert wall.is_new(fresh, t0 + 59.9) and not wall.is_new(fresh, t0 + wall.NEW_FOR)
    assert not wall.is_new(old, t0)  # already wrong when the wall started
    palette = view.Palette({})
    assert wall.alert_lines([fresh], t0 + 5, palette, 2)[0].plain.startswith(" NEW ")
    assert wall.alert_lines([fresh], t0 + 60, palette, 2)[0].plain.startswith("ongoing")
    lines = wall.alert_lines([fresh, old, old], t0, palette, 2)
    assert [line.plain for line in lines][1] == "+ 2 more alerts"
    assert wall.alert_lines([], t0, palette, 2)[0].plain == "✓ No alert firing"


def test_the_age_of_the_data_turns_loud_when_it_is_stale():
    clock = FakeClock()
    fleet = FleetState([InstanceConfig("a", "a", Secret("x"))], clock)
    palette = view.Palette({"bad": "red"})
    assert wall.freshness(fleet, clock.now, 5.0, 0, palette).plain == "waiting for the first poll"
    fleet.apply_poll_ok("a", WORKING, None, 5.0)
    clock.advance(runbook.stale_after(5.0))
    assert wall.freshness(fleet, clock.now, 5.0, 0, palette).plain == "updated 15s ago"
    clock.advance(1)
    loud = wall.freshness(fleet, clock.now, 5.0, 1, palette)
    assert loud.plain.startswith(" STALE: updated 16s ago ") and "~ 1 stale" in loud.plain
    assert "reverse" in str(loud.spans[0].style)


def _rows(text: str, font: list[str]) -> list[str]:
    rows = ["", "", ""]
    for char in text:
        at = DIGITS.index(char) * 3
        for n in range(3):
            rows[n] += font[at + n].ljust(3)
    return rows


@pytest.mark.parametrize("font", [DIGITS3X3, DIGITS3X3_BOLD], ids=["thin", "bold"])
@pytest.mark.parametrize("scale", [2, 3, 4])
def test_scaled_digits_keep_every_stroke_joined(font, scale):
    """Drawn larger, the strokes stay joined: a line reaching out meets one reaching
    back wherever it did at scale 1 (the font's own loose ends, the 3's middle bar, stay
    its only ones)."""
    rows = _rows("0123456789", font)
    scaled = scale_glyphs(rows, scale)
    assert len(scaled) == 2 * scale + 1 and {len(r) for r in scaled} == {30 * scale}
    assert loose_ends(scaled) == loose_ends(rows) > 0


def loose_ends(rows: list[str]) -> int:
    """Lines that reach out to a neighbour that does not reach back."""
    none = (False, False, False, False)

    def at(y: int, x: int) -> tuple[bool, bool, bool, bool]:
        inside = 0 <= y < len(rows) and 0 <= x < len(rows[y])
        return _REACH.get(rows[y][x], none) if inside else none

    count = 0
    for y, row in enumerate(rows):
        for x in range(len(row)):
            up, down, left, right = at(y, x)
            count += (up and not at(y - 1, x)[1]) + (down and not at(y + 1, x)[0]) \
                + (left and not at(y, x - 1)[3]) + (right and not at(y, x + 1)[2])
    return count


def test_the_digits_grow_with_the_screen():
    assert wall.digit_scale(78, 24, 7, 2) == 1
    assert wall.digit_scale(78, 24, 2, 2) == 2  # one row of tiles
    assert wall.digit_scale(118, 40, 7, 2) == 2
    assert wall.digit_scale(298, 80, 7, 3) == wall.MAX_SCALE
    assert wall.digit_scale(298, 80, 7, 4) >= 3


@settings(max_examples=60, deadline=None)
@given(label=st.text(max_size=300), word=st.text(max_size=300))
@example(label="", word="0000000000000\u2e80\u2e80")  # wide characters past the badge's room
def test_any_label_or_status_word_is_plain_text_in_its_cells(label, word):
    """A label or a made-up status word with markup, escapes or huge text is shown as
    plain, bounded text: no control character, one line within its width."""
    line = problems_view.problem_line(_state(label, word), 1_800_000_000.0, 5.0, view.Palette({}), 60)
    for text in (wall.tile_label(word), line.plain):
        assert not any(ord(c) < 32 or 0x7f <= ord(c) < 0xa0 for c in text)
    assert cell_len(wall.tile_label(word)) <= 24
    assert line.cell_len <= 60


def _state(label: str, word: str):
    from wawp_tui.core.fleet import InstanceState
    return InstanceState(id="a", label=label, status=word or None, status_since=1_799_999_000.0,
                         last_poll_at=1_800_000_000.0, last_ok_at=1_800_000_000.0)


# -- the screen, on a simulator over real sockets --------------------------------------


@pytest.fixture
def wall_on(serve, clock):
    """start(scenario, n, prepare, **monitor) -> (sim, app): the wall on a simulator over
    real sockets, polling only when told, with the test's clock."""

    def start(scenario="demo", n=None, prepare=None, **monitor):
        sims = build_scenario(scenario, seed=7, instances=n, clock=clock)
        if prepare is not None:
            prepare(sims)
        sim = Simulator(sims, clock=clock, seed=7)
        url = serve(sim).url
        config = make_config(url, sims, **monitor)
        return sim, build_wall_app(config, WawpClient(url, timeout=2, connect_timeout=1),
                                   clock=clock, poll=False)
    return start


async def poll(app, pilot, clock=None, seconds: float = 0.0):
    """Move the clock, poll every instance, beat once, and let the screen draw."""
    if clock is not None:
        clock.advance(seconds)
    await app.source.refresh()
    app.wall.beat()
    await pilot.pause()


def tiles(app) -> list[tuple[str, int]]:
    return [(t.label, t.count) for t in app.wall.query(CountTile)]


def part(app, name: str) -> str:
    return app.wall.query_one(f"#wall-{name}").render().plain


def labels(lines: list[str]) -> list[str]:
    """The labels of problem lines (one column): after the badge, before the age."""
    return [line[view.STATUS_WIDTH + 1:-7].strip() for line in lines]


async def test_the_wall_counts_what_the_table_counts_worst_first(wall_on, clock):
    sim, app = wall_on()
    async with app.run_test(size=(120, 40)) as pilot:
        await poll(app, pilot)
        fleet, now = app.source.fleet, clock.now
        words = Counter(runbook.shown_word(s, now, app.source.stale_basis) for s in fleet)
        assert sorted(tiles(app)) == sorted((wall.tile_label(w), n) for w, n in words.items())
        ranks = [runbook.word_rank(w) for w in wall.tile_words(words)]
        assert [label for label, _ in tiles(app)] == [wall.tile_label(w) for w in wall.tile_words(words)]
        assert ranks == sorted(ranks)
        # The summary line of the table says the same counts.
        summary = " ".join(line.plain for line in view.summary(
            fleet, now, app.source.stale_basis, view.Palette({}), paused=False, auto_heal=False,
            read_only=True))
        for word, count in words.items():
            assert f"{count} {runbook.badge(word)[1]}" in summary
        problems = part(app, "problems")
        basis = app.source.stale_basis
        bad = sorted((s for s in fleet if runbook.word_rank(runbook.shown_word(s, now, basis))
                      <= problems_view.PROBLEM_RANK or s.failures), key=lambda s: view.sort_key(s, now, basis))
        assert problems.startswith(f"PROBLEMS {len(bad)}")
        assert [s.label for s in bad] == labels(problems.splitlines()[1:])


async def until(condition, pilot, limit: float = 30.0) -> None:
    """Wait (on the app's loop) until `condition()` holds; fail after `limit` s."""
    deadline = time.monotonic() + limit
    while not condition():
        assert time.monotonic() < deadline, "the condition never held"
        await pilot.pause(0.1)


async def test_on_its_own_poller_a_change_on_the_server_reaches_the_wall(serve):
    """The real thing: the wall's own poller over real sockets, the real clock."""
    sims = build_scenario("healthy", seed=9, instances=4)
    sim = Simulator(sims)
    url = serve(sim).url
    app = build_wall_app(make_config(url, sims, refresh=1.0),
                         WawpClient(url, timeout=2, connect_timeout=1))
    async with app.run_test(size=(80, 24)) as pilot:
        await until(lambda: tiles(app) == [("✓ WORKING", 4)], pilot)
        sims[1].raw_status = FAILED
        await until(lambda: ("✗ FAILED", 1) in tiles(app), pilot)
        await until(lambda: sims[1].label in part(app, "problems"), pilot)
        assert not [c for c in sim.calls if not c["endpoint"].endswith("/info")]


async def test_a_new_failure_is_new_for_a_minute_then_ongoing_and_rings_no_bell(wall_on, clock):
    sim, app = wall_on("healthy", n=6)
    rings = []
    app.bell = lambda: rings.append(1)
    async with app.run_test(size=(80, 24)) as pilot:
        await poll(app, pilot)
        assert part(app, "alerts") == "✓ No alert firing"
        assert "✓ No problems" in part(app, "problems")
        target = sim.instances[next(iter(sim.instances))]
        target.fail_at = clock.now
        for _ in range(6):  # past the alert's group wait
            await poll(app, pilot, clock, 1)
        alerts = part(app, "alerts")
        assert alerts.startswith(" NEW ") and f"{target.label} FAILED" in alerts
        assert ("✗ FAILED", 1) in tiles(app)
        await poll(app, pilot, clock, 54)
        assert part(app, "alerts").startswith(" NEW ") and "  59s ago" in part(app, "alerts")
        await poll(app, pilot, clock, 1)
        assert part(app, "alerts").startswith("ongoing") and "for 1m00s" in part(app, "alerts")
        assert not rings


async def test_problems_that_do_not_fit_page_every_ten_seconds(wall_on, clock):
    def fail_twenty(sims):
        for inst in sims[:20]:
            inst.raw_status = FAILED

    sim, app = wall_on("healthy", n=30, prepare=fail_twenty)
    clock.now = 1_800_000_000.0  # a page boundary
    async with app.run_test(size=(80, 24)) as pilot:
        await poll(app, pilot)
        pages = []
        for _ in range(6):
            text = part(app, "problems")
            title, *lines = text.splitlines()
            pages.append((title, lines))
            await poll(app, pilot, clock, problems_view.PAGE_EVERY)
        count = -(-20 // len(pages[0][1]))
        assert count > 1 and all(len(lines) == len(pages[0][1]) for _, lines in pages[:count - 1])
        assert [t for t, _ in pages[:count]] == [
            f"PROBLEMS 20   page {n}/{count} (every 10s)" for n in range(1, count + 1)]
        shown = [label for _, lines in pages[:count] for label in labels(lines)]
        assert sorted(shown) == sorted(i.label for i in sim.instances.values() if i.raw_status == FAILED)
        assert pages[count][0] == pages[0][0]  # and round again
        assert labels(pages[count][1]) == labels(pages[0][1])


async def test_stale_data_turns_the_header_loud_until_a_poll_succeeds(wall_on, clock):
    sim, app = wall_on("healthy", n=3)
    async with app.run_test(size=(80, 24)) as pilot:
        await poll(app, pilot)
        assert "updated 0s ago" in part(app, "header") and "STALE" not in part(app, "header")
        clock.advance(60)
        app.wall.beat()
        await pilot.pause()
        assert "STALE: updated 1m00s ago" in part(app, "header")
        await poll(app, pilot)
        assert "STALE" not in part(app, "header")


async def test_a_wall_never_acts_whatever_the_config_and_has_two_keys(wall_on, clock):
    """auto_heal on and not read-only in the config, FAILED instances for minutes, every
    action key pressed: nothing but polls reaches the API."""
    def quick(sims):
        for inst in sims:  # (a slow reply would only slow the test)
            inst.faults = [f for f in inst.faults if f.kind not in ("slow", "hang")]

    sim, app = wall_on("demo", prepare=quick, auto_heal=True, read_only=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await poll(app, pilot)
        assert app.source.read_only and not app.source.auto_heal
        for _ in range(10):
            await poll(app, pilot, clock, 30)
        for key in ("r", "y", "s", "x", "R", "L", "enter", "space", "A", "a", "W", "ctrl+p", "y"):
            await pilot.press(key)
        await app.workers.wait_for_complete()
        assert not [c for c in sim.calls if not c["endpoint"].endswith("/info")]
        hints = [k.shown_keys for k in bound_keys(app.wall) if k.binding.show]
        assert hints == ["?", "q, ctrl+q"] or sorted(hints) == ["?", "q"], hints
        assert app.screen is app.wall
        assert "read-only" in app.wall.query_one("#wall-mode").render().plain


async def test_the_help_page_closes_itself(wall_on, clock):
    sim, app = wall_on("healthy", n=3)
    async with app.run_test(size=(80, 24)) as pilot:
        await poll(app, pilot)
        await pilot.press("question_mark")
        assert isinstance(app.screen, TextScreen)
        out = io.StringIO()
        Console(file=out, width=100).print(app.screen.body)
        body = out.getvalue()
        assert "Quit" in body and "NEW for 60 s" in body and "every 10 s" in body
        assert "shift+tab" not in body  # nothing to move between
        clock.advance(HELP_LASTS - 1)
        app.wall.beat()
        await pilot.pause()
        assert isinstance(app.screen, TextScreen)
        clock.advance(1)
        app.wall.beat()
        await pilot.pause()
        assert app.screen is app.wall


@pytest.mark.parametrize("size", [(80, 24), (160, 48), (300, 80)])
async def test_it_fits_80x24_and_scales_to_300x80(wall_on, clock, size):
    sim, app = wall_on()
    async with app.run_test(size=size) as pilot:
        await poll(app, pilot)
        await pilot.pause()
        screen = app.wall.region
        for tile in app.wall.query(CountTile):
            assert screen.contains_region(tile.region), tile.label
        for name in ("header", "alerts", "problems"):
            widget = app.wall.query_one(f"#wall-{name}")
            assert screen.contains_region(widget.region) and widget.region.height >= 1
        problems = part(app, "problems").splitlines()
        assert len(problems) - 1 == sum(1 for s in app.source.fleet
                                        if s.failures or runbook.word_rank(runbook.shown_word(
                                            s, clock.now, 5.0)) <= problems_view.PROBLEM_RANK)
        assert app.wall.query_one("#wall-bottom").region.bottom == size[1]
        scale = app.wall.query(ScaledDigits).first().scale
        assert (scale == 1) if size == (80, 24) else (scale >= 2)
        if size == (300, 80):
            assert scale == wall.MAX_SCALE


async def test_a_thousand_made_up_words_fold_into_one_tile(wall_on, clock):
    def hostile(sims):
        for n, inst in enumerate(sims):
            inst.raw_status = f"WORD_{n}[/]\x1b]0;x\x07" if n % 2 else "[b]BOLD[/b]"

    sim, app = wall_on("healthy", n=40, prepare=hostile)
    async with app.run_test(size=(80, 24)) as pilot:
        await poll(app, pilot)
        shown = tiles(app)
        assert shown[-1][0] == OTHER and sum(n for _, n in shown) == 40
        assert ("? [B]BOLD[/B]", 20) in shown  # the most common word keeps its tile
        assert len(shown) <= 2 * wall.tile_columns(len(shown), 78)
        text = " ".join(label for label, _ in shown) + part(app, "problems")
        assert "\x1b" not in text and "\x07" not in text


def test_wall_with_a_command_is_a_usage_error(capsys):
    from wawp_tui.cli import main

    assert main(["--wall", "status"]) == 2
    assert "--wall is a screen of its own" in capsys.readouterr().err
    assert main(["--demo", "--wall"]) == 2  # no terminal here: said, not crashed
    assert "needs a terminal" in capsys.readouterr().err


def test_every_combination_of_tiles_fits_its_grid():
    for count, width in itertools.product(range(1, 12), (78, 118, 158, 298)):
        for scale in (1, 2, 3, 4):
            columns = wall.tile_columns(count, width, scale, 4)
            assert 1 <= columns <= count
            assert columns == 1 or columns * wall.tile_width(scale, 4) <= width


def test_the_runbooks_words_keep_their_tiles_when_made_up_words_crowd_them():
    counts = {FAILED: 1, WORKING: 30, **{f"W{n}": 1 for n in range(20)}, "ODD": 5}
    kept, others = wall.tiles_shown(counts, 4)
    assert kept == [FAILED, "ODD", WORKING] and others == 20
    assert wall.tiles_shown({FAILED: 1, WORKING: 3}, 4) == ([FAILED, WORKING], 0)


# -- without colour, and in 16 colours, in a real terminal ------------------------------


_SGR = re.compile(r"\x1b\[([0-9;]*)m")
_XTERM16 = [(0, 0, 0), (205, 0, 0), (0, 205, 0), (205, 205, 0), (0, 0, 238), (205, 0, 205),
            (0, 205, 205), (229, 229, 229), (127, 127, 127), (255, 0, 0), (0, 255, 0),
            (255, 255, 0), (92, 92, 255), (255, 0, 255), (0, 255, 255), (255, 255, 255)]


def _xterm(n: int) -> tuple[int, int, int]:
    """The RGB of a 256-colour index as xterm draws it."""
    if n < 16:
        return _XTERM16[n]
    if n < 232:
        steps = (0, 95, 135, 175, 215, 255)
        n -= 16
        return steps[n // 36], steps[n // 6 % 6], steps[n % 6]
    grey = 8 + 10 * (n - 232)
    return grey, grey, grey


def _contrast(a: tuple[int, int, int], b: tuple[int, int, int]) -> float:
    """WCAG's contrast ratio of two colours (1 to 21)."""
    def luminance(rgb):
        def channel(c):
            c /= 255
            return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4
        r, g, b_ = rgb
        return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b_)
    high, low = sorted((luminance(a), luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def styled_cells(screen: str):
    """(char, foreground, background, reverse, colours named) for every cell tmux shows."""
    for line in screen.split("\n"):
        fg = bg = None
        reverse = False
        pos = 0
        for match in [*_SGR.finditer(line), None]:
            for char in line[pos:match.start() if match else len(line)]:
                front, back = fg or (229, 229, 229), bg or (0, 0, 0)
                yield char, *((back, front) if reverse else (front, back)), reverse
            if match is None:
                break
            pos = match.end()
            codes = [int(p) if p else 0 for p in match.group(1).split(";")]
            i = 0
            while i < len(codes):
                code = codes[i]
                if code == 0:
                    fg = bg = None
                    reverse = False
                elif code in (7, 27):
                    reverse = code == 7
                elif code in (39, 49):
                    fg, bg = (None, bg) if code == 39 else (fg, None)
                elif 30 <= code <= 37 or 90 <= code <= 97:
                    fg = _XTERM16[code - 30 if code < 90 else code - 82]
                elif 40 <= code <= 47 or 100 <= code <= 107:
                    bg = _XTERM16[code - 40 if code < 100 else code - 92]
                elif code in (38, 48):
                    if codes[i + 1] == 5:
                        colour, i = _xterm(codes[i + 2]), i + 2
                    else:
                        colour, i = tuple(codes[i + 2:i + 5]), i + 4
                    fg, bg = (colour, bg) if code == 38 else (fg, colour)
                i += 1


@needs_tmux
@pytest.mark.parametrize("env", [{"NO_COLOR": "1"}, {"TEXTUAL_COLOR_SYSTEM": "standard"}],
                         ids=["no-color", "16-colours"])
def test_without_colour_and_in_16_colours_every_cell_reads(tmp_path, env):
    """`wawp-tui --demo --wall` at 80x24 in tmux: every word and count is there, the
    alarming words stand out in reverse video, and every character has at least 4.5:1
    contrast with its ground (the table's badges go down to 1:1 in 16 colours)."""
    state = {"HOME": str(tmp_path), "XDG_STATE_HOME": str(tmp_path / "state"),
             "XDG_CONFIG_HOME": str(tmp_path / "config"), "PYTHONPATH": os.getcwd()}
    term = Terminal("wall-colours", Terminal.wawp("--demo", "--wall"), {**state, **env}, cwd=tmp_path)
    try:
        term.wait_for("✓ WORKING")  # the tiles: the first poll is drawn
        term.wait_for("✗ FAILED")
        screen = term.styled_screen()
    finally:
        term.close()
    plain = _SGR.sub("", screen)
    for words in ("✗ FAILED", "✓ WORKING", "▣ SCAN QR", "updated", "q Quit", "? Help"):
        assert words in plain, plain
    cells = list(styled_cells(screen))
    assert "".join(c for c, *_ in cells) == plain.replace("\n", "")
    worst = min((_contrast(fg, bg), char) for char, fg, bg, _ in cells if not char.isspace())
    assert worst[0] >= 4.5, worst
    reversed_text = "".join(char for char, _, _, reverse in cells if reverse)
    assert "✗ FAILED" in reversed_text and "WORKING" not in reversed_text
    if "NO_COLOR" in env:  # greys only
        assert all(len(set(fg)) == 1 and len(set(bg)) == 1 for _, fg, bg, _ in cells)


def test_the_counts_follow_time_alone_and_wake_no_instance_for_its_since_cell():
    """A STARTING first seen (someone restarted it) turns STUCK 15 s later with no poll:
    the wall's tally counts it then; after that it does not look at it again each time
    its SINCE cell moves, as the table's tally must."""
    clock = FakeClock()
    fleet = FleetState([InstanceConfig("a", "a", Secret("x"))], clock)
    fleet.apply_poll_ok("a", STARTING, None, 5.0)
    source = SimpleNamespace(fleet=fleet, stale_basis=3600.0)
    counts_only, rows = Tally(source, rows=False), Tally(source)
    counts_only.recount(clock.now)
    rows.recount(clock.now)
    assert counts_only.counts.words == {STARTING: 1}
    for _ in range(16):  # the restart guard counts down: looked at every second
        clock.advance(1)
        counts_only.due(clock.now)
        rows.due(clock.now)
    assert counts_only.counts.words == {runbook.STUCK: 1}
    clock.advance(14)  # SINCE reads "≥30s" now
    assert counts_only.due(clock.now) == [] and rows.due(clock.now) == ["a"]
