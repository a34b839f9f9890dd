"""A hostile world, over real sockets: a server that echoes the token, puts markup and
escape sequences in what it says, sends bombs and bottomless JSON; two of our processes
on one file; damaged state files; a terminal that is not there.

Every test here failed on the code before the hostile-input work (issue 11)."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from textual.widgets import Static

from tests.conftest import make_config
from tests.drive import detail_text, events_text, highlight, record_toasts, refresh
from wawp_tui import cli
from wawp_tui.client.api import WawpClient
from wawp_tui.config import ConfigError, add_instance, load_config, remove_instance, state_dir
from wawp_tui.core.audit import AuditLog
from wawp_tui.core.history_store import HistoryStore
from wawp_tui.core.runbook import countdowns
from wawp_tui.models import InstanceConfig, Secret
from wawp_tui.simulator import Simulator, build_scenario
from wawp_tui.simulator.hostile import gzip_bomb_bytes
from wawp_tui.ui.app import build_app
from wawp_tui.ui.screens.confirm import ConfirmScreen
from wawp_tui.ui.screens.qr_screen import QrScreen
from wawp_tui.ui.widgets.fleet_table import FleetTable

SECRET = "fake-token-HOSTILE-0123456789abcdef"
FRAGMENTS = (SECRET, SECRET[:16], SECRET[-16:])
#: Bytes no output of ours may carry: C0 controls but newline/tab, DEL, and C1 (8-bit CSI).
CONTROL = {c for c in range(0x20) if c not in (0x09, 0x0A)} | {0x7F}
ESCAPES = ("\x1b]0;pwned\x07\x1b[2J\x1b]52;c;cHduZWQ=\x07")


def leaks(text: str) -> list[str]:
    return [f for f in FRAGMENTS if f in text]


def controls(text: str) -> list[str]:
    return sorted({repr(ch) for ch in text if ord(ch) in CONTROL or 0x80 <= ord(ch) <= 0x9F})


@pytest.fixture
def fleet(serve, clock):
    """Eight healthy instances whose token is SECRET, served on loopback."""
    sim_instances = build_scenario("healthy", seed=5, instances=8, clock=clock)
    for inst in sim_instances:
        inst.token = SECRET
    sim = Simulator(sim_instances, clock=clock, seed=5)
    return sim, sim_instances, serve(sim)


def write_config(path: Path, url: str, sim_instances, *, labels=None, extra_api="") -> Path:
    lines = [f'[api]\nbase_url = "{url}"\ntimeout = 2\nconnect_timeout = 1\n{extra_api}\n']
    for n, inst in enumerate(sim_instances):
        label = (labels or {}).get(n, inst.label)
        lines.append(f"[[instances]]\nid = \"{inst.id}\"\nlabel = {json.dumps(label)}\n")
    path.write_text("\n".join(lines))
    path.chmod(0o600)
    return path


# -- the token echoed back ---------------------------------------------------------------


@pytest.mark.parametrize("credentials_in", ["body", "query"])
@pytest.mark.parametrize("fmt", ["json", "json_bare", "text", "html"])
def test_echoed_token_never_leaves_through_the_cli(fleet, tmp_path, capsys, monkeypatch,
                                                   credentials_in, fmt):
    sim, sim_instances, server = fleet
    path = write_config(tmp_path / "config.toml", server.url, sim_instances,
                        extra_api=f'credentials_in = "{credentials_in}"')
    monkeypatch.setenv("WAWP_ACCESS_TOKEN", SECRET)
    for inst in sim_instances[:3]:
        sim.inject(inst.id, "echo_500", format=fmt)
    seen = []
    for argv in (["status"], ["status", "--json"]):
        assert cli.main([*argv, "--config", str(path)]) == 1
        out, err = capsys.readouterr()
        seen.append(out + err)
    rows = json.loads(seen[1])
    assert [r["status"] for r in rows[:3]] == ["UNREACHABLE"] * 3
    assert all(r["error"].startswith("server error (500)") for r in rows[:3])
    # A rollout whose restarts are answered with the echo: stdout and the state file.
    target = sim_instances[3].id
    sim.inject(target, "echo_500", format=fmt, endpoint="restart")
    code = cli.main(["rollout", "restart", "--ids", target, "--yes", "--config", str(path)])
    out, err = capsys.readouterr()
    seen.append(out + err)
    assert code == 1 and "server error (500)" in out
    state = (state_dir() / "rollout.json").read_text()
    audit = (Path(os.environ["XDG_STATE_HOME"]) / "wawp-tui/log/audit.jsonl").read_text()
    assert '"outcome": "failed"' in audit
    if credentials_in == "query":
        assert any(c["credentials_in"] == "query" for c in sim.calls)
    assert leaks("\n".join(seen) + state + audit) == []


@pytest.mark.parametrize("fmt", ["json", "json_bare", "text", "html"])
async def test_echoed_token_never_leaves_through_the_tui(fleet, tmp_path, clock, fmt):
    sim, sim_instances, server = fleet
    config = make_config(server.url, sim_instances, token=SECRET)
    config = dataclasses.replace(config, api=dataclasses.replace(config.api, credentials_in="query"))
    client = WawpClient(server.url, timeout=1, connect_timeout=1, credentials_in="query")
    audit_path, history_path = tmp_path / "audit.jsonl", tmp_path / "history.jsonl"
    app = build_app(config, client, clock=clock, audit=AuditLog(audit_path),
                    history=HistoryStore(history_path), poll=False)
    notes = record_toasts(app)
    target, neighbour = sim_instances[0].id, sim_instances[1].id
    shots = []
    async with app.run_test(size=(160, 48)) as pilot:
        await refresh(app, pilot)
        sim.inject(target, "echo_500", format=fmt)
        # The neighbour answers its polls, and echoes only when it is restarted.
        sim.inject(neighbour, "echo_500", format=fmt, endpoint="restart")
        clock.advance(6)
        await refresh(app, pilot)
        await highlight(app, pilot, neighbour)
        shots.append(app.export_screenshot())
        await pilot.press("r")  # restart: the server answers with the echo
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("y")
        await app.workers.wait_for_complete()
        await pilot.pause()
        await highlight(app, pilot, target)
        await pilot.press("r")  # refused (its polls fail): the refusal quotes the echo
        await pilot.pause()
        assert not sim.calls_to("restart", target)
        await pilot.press("h")
        shots.append(app.export_screenshot())
        await pilot.press("escape")
        shots.append(app.export_screenshot())
        text = detail_text(app) + events_text(app)
    await client.aclose()
    assert "server error (500)" in text
    found = leaks("\n".join(shots) + text + "\n".join(t.message for t in notes) + audit_path.read_text()
                  + history_path.read_text()
                  + "\n".join(repr(st.last_error) for st in app.monitor.fleet))
    assert found == []


# -- markup and escape sequences ------------------------------------------------------


async def test_markup_in_errors_and_labels_is_shown_as_text(fleet, tmp_path, clock):
    sim, sim_instances, server = fleet
    config = make_config(server.url, sim_instances, token=SECRET)
    instances = list(config.instances)
    instances[2] = dataclasses.replace(instances[2], label="Sales [/] [b]EU")
    config = dataclasses.replace(config, instances=tuple(instances))
    client = WawpClient(server.url, timeout=1, connect_timeout=1)
    app = build_app(config, client, clock=clock, audit=AuditLog(tmp_path / "a.jsonl"), poll=False)
    bracketed, clicky = sim_instances[0].id, sim_instances[1].id
    recorded = record_toasts(app)
    async with app.run_test(size=(160, 48), notifications=True) as pilot:
        await refresh(app, pilot)
        sim.inject(bracketed, "hostile_error", text="field [phone] is required [/]", code=400)
        sim.inject(clicky, "hostile_error", text="[@click=app.quit]press here[/]")
        clock.advance(6)
        await refresh(app, pilot)
        await highlight(app, pilot, bracketed)
        assert "field [phone] is required [/]" in detail_text(app)
        await highlight(app, pilot, instances[2].id)
        assert "Sales [/] [b]EU" in detail_text(app)
        assert "Sales [/] [b]EU" in app.export_screenshot().replace("&#160;", " ")
        # A restart answered with the click link: the toast quotes it, as text.
        await highlight(app, pilot, clicky)
        await pilot.press("r", "y")
        await app.workers.wait_for_complete()
        await pilot.pause()
        toasts = [t for t in recorded if "press here" in t.message]
        assert toasts and all(not n.markup for n in toasts)
        assert "[@click=app.quit]press here[/]" in toasts[-1].message
        shown = [t for t in app.screen.query("Toast") if "press here" in t.render().plain]
        assert shown and "[@click=app.quit]press here[/]" in shown[-1].render().plain
        await pilot.click(shown[-1])  # clicking it must not quit
        await pilot.pause()
        assert app.is_running and app.return_code is None
    await client.aclose()


ATTACKS = {
    "error": ("hostile_error", {"text": ESCAPES + " boom"}),
    "status": ("raw_status", "WORKING\x1b[2J\x1b]0;owned\x07"),
    "name": ("push_name", "Eve \x1b]52;c;ZXZpbA==\x07"),
}


def test_status_output_carries_no_escape_bytes(fleet, tmp_path, monkeypatch):
    sim, sim_instances, server = fleet
    path = write_config(tmp_path / "config.toml", server.url, sim_instances)
    sim.inject(sim_instances[0].id, *ATTACKS["error"][:1], **ATTACKS["error"][1])
    setattr(sim.instances[sim_instances[1].id], *ATTACKS["status"])
    setattr(sim.instances[sim_instances[2].id], *ATTACKS["name"])
    env = {**os.environ, "WAWP_ACCESS_TOKEN": SECRET}
    for argv in (["status"], ["status", "--json"]):
        done = subprocess.run([sys.executable, "-m", "wawp_tui", *argv, "--config", str(path)],
                              capture_output=True, env=env, timeout=60)
        out = done.stdout.decode("utf-8")
        assert done.returncode == 1
        assert controls(out) == [] and controls(done.stderr.decode()) == []
        assert "␛]0;pwned␇" in out and "Eve ␛]52;c;ZXZpbA==␇" in out
    rows = json.loads(out)
    assert rows[1]["status"] == "WORKING␛[2J␛]0;OWNED␇"  # visible, harmless, still not WORKING


def test_escapes_never_reach_the_terminal_of_the_tui(fleet, tmp_path):
    """The real program in a pseudo-terminal: not one of the attacker's sequences is
    written to the terminal; their visible form is."""
    import pty
    import select

    sim, sim_instances, server = fleet
    path = write_config(tmp_path / "config.toml", server.url, sim_instances)
    sim.inject(sim_instances[0].id, *ATTACKS["error"][:1], **ATTACKS["error"][1])
    setattr(sim.instances[sim_instances[1].id], *ATTACKS["status"])
    setattr(sim.instances[sim_instances[2].id], *ATTACKS["name"])
    pid, fd = pty.fork()
    if pid == 0:
        env = {"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path), "TERM": "xterm-256color",
               "XDG_STATE_HOME": str(tmp_path / "state"), "LANG": "C.UTF-8",
               "WAWP_ACCESS_TOKEN": SECRET, "COLUMNS": "160", "LINES": "48"}
        os.execve(sys.executable, [sys.executable, "-m", "wawp_tui", "--config", str(path)], env)
    import fcntl
    import struct
    import termios
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 48, 160, 0, 0))
    seen = b""
    deadline = time.monotonic() + 30
    quit_sent = False
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.2)
        if ready:
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                break
            if not chunk:
                break
            seen += chunk
        if not quit_sent and "␛]0;pwned".encode() in seen:
            os.write(fd, b"q")
            quit_sent = True
    _, status = os.waitpid(pid, 0)
    os.close(fd)
    assert quit_sent, seen[-400:]
    for attack in (b"\x1b]0;pwned", b"\x1b]52;c;cHduZWQ=", b"\x1b]0;owned", b"\x1b]0;OWNED",
                   b"\x1b]52;c;ZXZpbA=="):
        assert attack not in seen
    assert SECRET.encode() not in seen
    assert os.waitstatus_to_exitcode(status) == 0


async def test_pairing_code_with_escapes_is_shown_harmless(fleet, tmp_path, clock):
    sim, sim_instances, server = fleet
    target = sim_instances[0].id
    inst = sim.instances[target]
    inst.base_status, inst.logged_in = "SCAN_QR_CODE", False
    inst.pairing_code = "AB\x1b]0;pwned\x07CD"
    config = make_config(server.url, sim_instances, token=SECRET)
    client = WawpClient(server.url, timeout=1, connect_timeout=1)
    app = build_app(config, client, clock=clock, audit=AuditLog(tmp_path / "a.jsonl"), poll=False)
    async with app.run_test(size=(160, 48)) as pilot:
        await refresh(app, pilot)
        await highlight(app, pilot, target)
        await pilot.press("enter")
        assert isinstance(app.screen, QrScreen)
        await pilot.press("k", *"+201000000000", "enter")
        for _ in range(100):  # the request runs beside the QR refresh loop, which never ends
            await pilot.pause(0.02)
            if "pairing code" in app.screen.code_line:
                break
        line = app.screen.code_line
        assert "AB␛]0;pwned␇CD" in line and controls(line) == []
    await client.aclose()


# -- oversized and bottomless replies ----------------------------------------------------


async def test_qr_value_no_qr_can_hold_is_a_readable_message(fleet, tmp_path, clock):
    sim, sim_instances, server = fleet
    target = sim_instances[0].id
    inst = sim.instances[target]
    inst.base_status, inst.logged_in = "SCAN_QR_CODE", False
    inst.qr_value = "2@" + "A" * 4998
    config = make_config(server.url, sim_instances, token=SECRET)
    client = WawpClient(server.url, timeout=1, connect_timeout=1)
    app = build_app(config, client, clock=clock, audit=AuditLog(tmp_path / "a.jsonl"), poll=False)
    async with app.run_test(size=(160, 48)) as pilot:
        await refresh(app, pilot)
        await highlight(app, pilot, target)
        await pilot.press("enter")
        for _ in range(50):
            await pilot.pause(0.05)
            if app.screen.current is not None:
                break
        code = app.screen.query_one("#qr-code", Static).content
        assert "5,000 characters; no QR code can hold" in code.plain
        assert app.is_running
    await client.aclose()


def _rss_mb() -> float:
    with open("/proc/self/statm", encoding="utf-8") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


async def test_bombs_and_huge_bodies_cost_bounded_memory_and_spare_the_neighbours(fleet):
    sim, sim_instances, server = fleet
    gzip_bomb_bytes(1024)  # built once, before measuring (the server builds it in a thread anyway)
    bomb, huge, deep = (i.id for i in sim_instances[:3])
    sim.inject(bomb, "gzip_bomb")
    sim.inject(huge, "huge_body")
    sim.inject(deep, "deep_json")
    configs = [InstanceConfig(id=i.id, label=i.label, token=Secret(SECRET)) for i in sim_instances]
    before = _rss_mb()
    async with WawpClient(server.url, timeout=3, connect_timeout=1) as client:
        results = await asyncio.gather(*(client.info(c) for c in configs), return_exceptions=True)
    grown = _rss_mb() - before
    by_id = dict(zip([c.id for c in configs], results))
    assert by_id[bomb].kind == "too_large" and "over 1 MiB" in str(by_id[bomb])
    assert by_id[huge].kind == "too_large"
    assert by_id[deep].kind == "malformed" and "nested deeper than 32" in str(by_id[deep])
    assert all(r.status == "WORKING" for i, r in by_id.items() if i not in (bomb, huge, deep))
    assert grown < 64, f"RSS grew by {grown:.0f} MB under a 1 GB bomb and a 200 MB body"


def test_deep_json_costs_one_row_not_the_report(fleet, tmp_path, capsys, monkeypatch):
    sim, sim_instances, server = fleet
    path = write_config(tmp_path / "config.toml", server.url, sim_instances)
    monkeypatch.setenv("WAWP_ACCESS_TOKEN", SECRET)
    sim.inject(sim_instances[0].id, "deep_json")
    assert cli.main(["status", "--json", "--config", str(path)]) == 1
    rows = json.loads(capsys.readouterr().out)
    assert len(rows) == len(sim_instances)
    assert "nested deeper" in rows[0]["error"]
    assert [r["status"] for r in rows[1:]] == ["WORKING"] * (len(rows) - 1)


@pytest.mark.parametrize("header", ["inf", "1e308", "nan", "-5", "soon", "Wed, 99 Foo 2026"])
async def test_hostile_retry_after_is_bounded(fleet, header):
    sim, sim_instances, server = fleet
    sim.inject(sim_instances[0].id, "raw", code=429, headers={"retry-after": header},
               body=b'{"message": "slow down"}')
    cfg = InstanceConfig(id=sim_instances[0].id, label="x", token=Secret(SECRET))
    async with WawpClient(server.url, timeout=2, connect_timeout=1) as client:
        with pytest.raises(Exception) as caught:
            await client.info(cfg)
    err = caught.value
    assert err.kind == "rate_limited"
    assert err.retry_after is None or 0 <= err.retry_after <= 3600


def test_status_has_an_overall_deadline(fleet, tmp_path, capsys, monkeypatch):
    sim, sim_instances, server = fleet
    path = write_config(tmp_path / "config.toml", server.url, sim_instances,
                        extra_api="max_concurrency = 2")
    monkeypatch.setenv("WAWP_ACCESS_TOKEN", SECRET)
    for inst in sim_instances[:6]:
        sim.inject(inst.id, "hang")
    assert cli.main(["status", "--json", "--deadline", "1", "--config", str(path)]) == 1
    rows = json.loads(capsys.readouterr().out)
    assert len(rows) == len(sim_instances)  # every instance has its row
    words = [r["status"] for r in rows]
    assert "NOT_POLLED" in words
    assert all("deadline" in r["error"] for r in rows if r["status"] == "NOT_POLLED")
    sim.release_hangs()


# -- honest outcomes --------------------------------------------------------------------


async def test_a_restart_answered_with_500_starts_no_countdown(fleet, tmp_path, clock):
    sim, sim_instances, server = fleet
    config = make_config(server.url, sim_instances, token=SECRET)
    client = WawpClient(server.url, timeout=1, connect_timeout=1)
    audit_path = tmp_path / "audit.jsonl"
    app = build_app(config, client, clock=clock, audit=AuditLog(audit_path), poll=False)
    target = sim_instances[0].id
    async with app.run_test(size=(160, 48)) as pilot:
        await refresh(app, pilot)
        await highlight(app, pilot, target)
        sim.inject(target, "html_500", count=1, endpoint="restart")
        await pilot.press("r", "y")
        await app.workers.wait_for_complete()
        await pilot.pause()
        st = app.monitor.fleet.get(target)
        assert countdowns(st, clock()) == []
        assert app.query_one(FleetTable).get_cell(target, "guard").plain == ""
        assert "restart" not in st.last_action_at
        # ... so the restart the runbook allows is still allowed, not blocked for 60 s.
        await pilot.press("r")
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("escape")
    await client.aclose()
    outcomes = [json.loads(line)["outcome"] for line in audit_path.read_text().splitlines()]
    assert outcomes == ["sent", "failed"]


# -- the user's files ------------------------------------------------------------------


def _add_process(path: Path, instance_id: str, label: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "wawp_tui", "add", instance_id, "--label", label,
                             "--config", str(path)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def test_ten_concurrent_adds_keep_every_entry(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text('# mine\n[[instances]]\nid = "FIRST0000001"\nlabel = "first"\n')
    procs = [_add_process(path, f"CONC{n:08d}", f"c{n}") for n in range(10)]
    results = [(p.wait(timeout=60), p.stderr.read()) for p in procs]
    assert [code for code, _ in results] == [0] * 10, results
    os.environ["WAWP_ACCESS_TOKEN"] = "x" * 12
    try:
        ids = [i.id for i in load_config(path).instances]
    finally:
        del os.environ["WAWP_ACCESS_TOKEN"]
    assert sorted(ids) == sorted(["FIRST0000001"] + [f"CONC{n:08d}" for n in range(10)])
    assert path.read_text().startswith("# mine\n")


def test_concurrent_adds_of_one_id_keep_exactly_one(tmp_path):
    path = tmp_path / "config.toml"
    procs = [_add_process(path, "SAME00000001", f"try {n}") for n in range(6)]
    codes = sorted(p.wait(timeout=60) for p in procs)
    assert codes == [0] + [2] * 5
    assert path.read_text().count("SAME00000001") == 1


def test_writes_go_through_a_symlink(tmp_path):
    dotfiles = tmp_path / "dotfiles"
    dotfiles.mkdir()
    target = dotfiles / "wawp.toml"
    target.write_text('[[instances]]\nid = "FIRST0000001"\nlabel = "first"\n')
    target.chmod(0o640)
    link = tmp_path / "config.toml"
    link.symlink_to(target)
    add_instance(link, "LINKED000001", "linked")
    assert link.is_symlink() and os.readlink(link) == str(target)
    assert "LINKED000001" in target.read_text()
    remove_instance(link, "FIRST0000001")
    assert link.is_symlink() and "FIRST0000001" not in target.read_text()
    assert (target.stat().st_mode & 0o777) == 0o640  # the user's mode is kept


def _without_root_powers() -> list[str]:
    """A command prefix under which permissions apply (root normally ignores them)."""
    if os.geteuid() != 0:
        return []
    import shutil

    if shutil.which("setpriv") is None:
        pytest.skip("running as root without setpriv (util-linux): cannot make a folder "
                    "read-only for the test")
    return ["setpriv", "--inh-caps=-all", "--ambient-caps=-all",
            "--bounding-set=-dac_override,-dac_read_search,-fowner", "--"]


def test_a_read_only_config_folder_is_a_one_line_error(tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    path = folder / "config.toml"
    path.write_text('[[instances]]\nid = "FIRST0000001"\nlabel = "first"\n')
    path.chmod(0o644)
    folder.chmod(0o555)
    tmp_path.chmod(0o755)
    done = subprocess.run([*_without_root_powers(), sys.executable, "-m", "wawp_tui", "add",
                           "NEW000000001", "--label", "n", "--config", str(path)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2, done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert "Permission denied" in done.stderr and "Traceback" not in done.stderr
    assert "NEW000000001" not in path.read_text()


@pytest.mark.parametrize("raw, words", [
    (b"\xef\xbb\xbf[[instances]]\nid = \"A1\"\nlabel = \"a\"\n", "byte-order mark"),
    (b"[[instances]]\nid = \"A1\"\nlabel = \"\xff\xfe\"\n", "line 3: not valid UTF-8"),
])
def test_encoding_problems_are_one_line_errors(tmp_path, raw, words):
    path = tmp_path / "config.toml"
    path.write_bytes(raw)
    with pytest.raises(ConfigError, match=words):
        load_config(path, env={"WAWP_ACCESS_TOKEN": "x" * 12})
    assert cli.main(["status", "--config", str(path)]) == 2


async def test_an_unwritable_audit_log_is_said_on_screen(fleet, tmp_path, clock):
    sim, sim_instances, server = fleet
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    config = make_config(server.url, sim_instances, token=SECRET)
    client = WawpClient(server.url, timeout=1, connect_timeout=1)
    app = build_app(config, client, clock=clock, audit=AuditLog(blocker / "audit.jsonl"),
                    poll=False)
    recorded = record_toasts(app)
    async with app.run_test(size=(160, 48)) as pilot:
        await refresh(app, pilot)
        assert "AUDIT LOG OFF" in str(app.fleet_screen.query_one("#summary", Static).content)
        assert "audit log off: cannot write" in events_text(app)
        assert any("not recorded" in t.message for t in recorded)
    await client.aclose()


def test_damaged_history_lines_are_skipped_with_one_warning(tmp_path):
    Secret(SECRET)  # the configured token, as a config loaded in this process registers it
    path = tmp_path / "history.jsonl"
    good = {"id": "A1", "at": 1_800_000_000.0, "kind": "status", "text": "WORKING",
            "subject": "WORKING", "auto": False, "ok": True}
    path.write_text("\n".join([
        '"just a string"', '{"id": 5}', "[1, 2]", "{not json",
        json.dumps({**good, "at": "yesterday"}), json.dumps({**good, "kind": "x"}),
        "x" * 100_000, json.dumps({**good, "text": "\x1b]0;pwned\x07 " + SECRET}),
        json.dumps(good),
    ]) + "\n")
    store = HistoryStore(path)
    loaded = store.load({"A1"})
    assert [e.text for e in loaded["A1"]] == ["␛]0;pwned␇ ***", "WORKING"]
    assert "skipped 7 damaged line(s)" in store.warning


async def test_the_tui_starts_on_a_damaged_history(fleet, tmp_path, clock):
    sim, sim_instances, server = fleet
    path = tmp_path / "history.jsonl"
    path.write_text('"just a string"\n{"id": "%s", "at": null}\n' % sim_instances[0].id)
    config = make_config(server.url, sim_instances, token=SECRET)
    client = WawpClient(server.url, timeout=1, connect_timeout=1)
    app = build_app(config, client, clock=clock, audit=AuditLog(None),
                    history=HistoryStore(path), poll=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await refresh(app, pilot)
        assert "skipped 2 damaged line(s)" in events_text(app)
    await client.aclose()


@pytest.mark.parametrize("content", [
    "{not json", '"just a string"', '{"action": "restart", "waves": "x"}',
    '{"action": "restart", "waves": [["../../etc/passwd"]]}', '{"action": "explode", "waves": [["A1"]]}',
    '{"action": "restart", "waves": [["A1"]], "done": [], "extra": 1}',
])
def test_resume_of_a_damaged_rollout_says_how_to_start_fresh(tmp_path, capsys, monkeypatch, content):
    path = tmp_path / "config.toml"
    path.write_text('[[instances]]\nid = "A1"\nlabel = "a"\n')
    monkeypatch.setenv("WAWP_ACCESS_TOKEN", "x" * 12)
    saved = state_dir() / "rollout.json"
    saved.parent.mkdir(parents=True, exist_ok=True)
    saved.write_text(content)
    assert cli.main(["rollout", "restart", "--resume", "--config", str(path)]) == 2
    err = capsys.readouterr().err
    assert "is damaged" in err and f"rm {saved}" in err and "Traceback" not in err


def test_the_tui_without_a_terminal_refuses_in_one_line(tmp_path):
    done = subprocess.run([sys.executable, "-m", "wawp_tui", "--demo"], stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=60,
                          env={**os.environ, "HOME": str(tmp_path)})
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr.strip().splitlines() == [
        "wawp-tui: the TUI needs a terminal on stdin and stdout; for a report in a pipe, a file "
        "or cron use: wawp-tui status (or status --json)"]


def test_crash_report_is_private_and_redacted(tmp_path, capsys, monkeypatch):
    from wawp_tui.commands import status as status_report

    Secret(SECRET)
    path = tmp_path / "config.toml"
    path.write_text('[[instances]]\nid = "A1"\nlabel = "a"\n')
    monkeypatch.setenv("WAWP_ACCESS_TOKEN", SECRET)

    def explode(*a, **k):
        raise RuntimeError(f"boom: Cannot POST /v2/session/info?access_token={SECRET}")

    monkeypatch.setattr(status_report, "collect", explode)
    assert cli.main(["status", "--config", str(path)]) == 70
    err = capsys.readouterr().err
    crash = state_dir() / "crash.log"
    assert (crash.stat().st_mode & 0o777) == 0o600
    assert "boom" in crash.read_text()
    assert leaks(err + crash.read_text()) == []


async def test_auto_heal_against_a_hostile_server(serve, tmp_path, clock):
    """Auto-heal meets six attacks at once (in a fleet of 16, so it is not an outage): six
    FAILED instances whose restart is answered by an attack, and one whose polls are. It
    restarts each FAILED one once (the loop guard holds after), never the one whose polls
    fail (the gate fails closed), the app keeps running, and its audit holds no token and
    no control character."""
    sim_instances = build_scenario("healthy", seed=6, instances=16, clock=clock)
    for inst in sim_instances:
        inst.token = SECRET
    sim = Simulator(sim_instances, clock=clock, seed=6)
    server = serve(sim)
    gzip_bomb_bytes(1024)
    attacks = [("echo_500", {"format": "json"}), ("echo_500", {"format": "text"}),
               ("hostile_error", {"text": ESCAPES}), ("gzip_bomb", {}), ("deep_json", {}),
               ("huge_body", {})]
    config = make_config(server.url, sim_instances, token=SECRET, auto_heal=True)
    # A generous timeout: on a loaded machine, reading a bomb or a huge body up to its cap
    # must not become a timeout.
    client = WawpClient(server.url, timeout=15, connect_timeout=5)
    audit_path = tmp_path / "audit.jsonl"
    app = build_app(config, client, clock=clock, audit=AuditLog(audit_path), poll=False)
    failed, polled_badly = sim_instances[:len(attacks)], sim_instances[len(attacks)]
    async with app.run_test(size=(120, 40)) as pilot:
        await refresh(app, pilot)
        for inst, (kind, params) in zip(failed, attacks):
            inst.fail_at = clock.now
            sim.inject(inst.id, kind, endpoint="restart", **params)
        sim.inject(polled_badly.id, "echo_500", format="json")
        for _ in range(3):
            clock.advance(4)
            await refresh(app, pilot)
        for _ in range(len(attacks) + 1):  # fleet-wide pacing: one automatic restart per 10 s
            app.fleet_screen.tick()
            await app.monitor.idle()
            clock.advance(11)
            await refresh(app, pilot)
        await pilot.pause()
        assert app.is_running
        screen = app.export_screenshot() + events_text(app)
    await client.aclose()
    restarted = [c["instance_id"] for c in sim.calls_to("restart")]
    # Each FAILED one was tried; none twice within the 60 s loop guard (77 s went by).
    assert set(restarted) == {i.id for i in failed}
    assert all(restarted.count(i) <= 2 for i in restarted)
    audit = audit_path.read_text()
    assert leaks(audit + screen) == [] and controls(audit) == []


OUR_WORDS = ["PENDING", "STUCK", "STALE", "UNREACHABLE", "CONFIG", "NOT_POLLED"]


@pytest.mark.parametrize("word", OUR_WORDS)
def test_a_server_word_that_is_one_of_ours_is_the_apis_unknown_word_in_status(fleet, tmp_path,
                                                                              capsys, monkeypatch, word):
    """`PENDING` from a server must not pass for our own verdict: it is an unknown word of
    the API, marked as such."""
    from wawp_tui.core import runbook
    from wawp_tui.models import OWN_WORDS

    assert {runbook.PENDING, runbook.STUCK, runbook.CONFIG, *OUR_WORDS} <= OWN_WORDS
    sim, sim_instances, server = fleet
    sim.instances[sim_instances[0].id].raw_status = word.lower()
    path = write_config(tmp_path / "config.toml", server.url, sim_instances)
    monkeypatch.setenv("WAWP_ACCESS_TOKEN", SECRET)
    assert cli.main(["status", "--json", "--config", str(path)]) == 1
    rows = json.loads(capsys.readouterr().out)
    assert rows[0]["status"] == f"API:{word}" and rows[0]["error"] is None


@pytest.mark.parametrize("word", OUR_WORDS)
async def test_a_server_word_that_is_one_of_ours_sorts_among_the_problems(fleet, tmp_path, clock, word):
    """In the TUI it is not "waiting for the first poll" below WORKING: it is an unknown
    word, shown as the API's, above the healthy rows."""
    sim, sim_instances, server = fleet
    target = sim_instances[0]
    sim.instances[target.id].raw_status = word.lower()
    app = build_app(make_config(server.url, sim_instances, token=SECRET),
                    WawpClient(server.url, timeout=2), clock=clock,
                    audit=AuditLog(tmp_path / "audit.jsonl"), poll=False)
    async with app.run_test(size=(160, 48)) as pilot:
        await refresh(app, pilot)
        table = app.query_one(FleetTable)
        assert table.get_cell(target.id, "status").plain == f"? API:{word}"
        assert table.ordered_rows[0].key.value == target.id  # with the problems, above WORKING
        await highlight(app, pilot, target.id)
        assert "first poll" not in detail_text(app)
