"""A history file that grew to gigabytes (an older version's, a copied one) is read as
a normal one is: only its tail, counted in bytes actually read from the disk (the
kernel's own count, /proc/self/io), then cut down so the next start is normal too."""

from __future__ import annotations

import json
import os

from wawp_tui.core import HistoryStore
from wawp_tui.core.history_store import DEFAULT_MAX_BYTES

GIB = 1 << 30


def bytes_read() -> int:
    with open("/proc/self/io", encoding="ascii") as io:
        return next(int(line.split()[1]) for line in io if line.startswith("rchar:"))


def entry(n: int, instance_id: str = "A1") -> str:
    return json.dumps({"id": instance_id, "at": 1_800_000_000.0 + n, "kind": "status",
                       "text": f"status {n}", "subject": "WORKING", "auto": False, "ok": True}) + "\n"


def test_a_two_gigabyte_history_is_read_by_its_tail_and_cut_down(tmp_path):
    path = tmp_path / "history.jsonl"
    with open(path, "wb") as handle:
        handle.write(entry(0).encode() * 1000)  # old entries at the head
        handle.truncate(2 * GIB)                 # a hole: 2 GB on paper, nothing on disk
        handle.seek(0, os.SEEK_END)
        handle.write(b"\n" + "".join(entry(n) for n in range(1, 61)).encode())
    store = HistoryStore(path)
    before = bytes_read()
    loaded = store.load({"A1"})
    read = bytes_read() - before
    texts = [e.text for e in loaded["A1"]]
    assert texts[-1] == "status 60" and "status 0" not in texts
    assert read < 4 * DEFAULT_MAX_BYTES + 1_000_000, f"{read} bytes read"
    # cut down: the next start reads a normal file, and the newest entries are kept
    sizes = [p.stat().st_size for p in tmp_path.iterdir()]
    assert max(sizes) <= DEFAULT_MAX_BYTES, sizes
    again = HistoryStore(path).load({"A1"})
    assert [e.text for e in again["A1"]] == texts


def test_the_tail_starts_at_a_whole_line(tmp_path):
    path = tmp_path / "history.jsonl"
    lines = "".join(entry(n, "B2") for n in range(200))
    path.write_text(lines)
    store = HistoryStore(path, max_bytes=len(lines) // 3)
    got = store.load({"B2"})["B2"]
    assert store.warning is None  # no half line read as a damaged one
    assert got[-1].text == "status 199" and len(got) >= 50
