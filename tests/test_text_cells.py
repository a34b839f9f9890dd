"""Columns measured as the terminal draws them: CJK and most emoji take two cells, a
combining accent or a zero-width joiner none (rich's `cell_len`, the screen's own
measure, is the reference)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from rich.cells import cell_len

from wawp_tui.commands.status import StatusRow, write_table
from wawp_tui.safe_text import clean
from wawp_tui.text_cells import cell_width, cut, fit

LABELS = ["東京サポート窓口", "Bot 😀 sales", "Cafe\u0301 de\u0301sk", "plain label",
          "한국어 지원팀", "Ｆｕｌｌｗｉｄｔｈ", "العربية", "Support \u2764\ufe0f desk",
          "Family \U0001f468\u200d\U0001f469\u200d\U0001f467 line"]


def row(n: int, label: str, status: str = "WORKING") -> StatusRow:
    return StatusRow(id=f"ID{n:04d}", label=label, status=status, error=None,
                     latency_ms=12.0, me=None, tags=())


def columns(text: str, ids: list[str]) -> list[int]:
    """The cell at which each row's ID starts."""
    starts = []
    for line in text.splitlines():
        for instance_id in ids:
            if instance_id in line:
                starts.append(cell_len(line[:line.index(instance_id)]))
    return starts


def render(rows: list[StatusRow]) -> str:
    import io

    out = io.StringIO()
    write_table(rows, out, width=10_000)
    return out.getvalue()


def test_the_status_table_lines_up_with_cjk_emoji_and_combining_marks():
    rows = [row(n, label) for n, label in enumerate(LABELS)]
    text = render(rows)
    starts = columns(text, [r.id for r in rows])
    assert len(starts) == len(rows)
    assert len(set(starts)) == 1, text
    latency = [cell_len(line[:line.index("12ms")]) for line in text.splitlines() if "12ms" in line]
    assert len(set(latency)) == 1, text


#: What labels are made of: ASCII, accented Latin (with combining marks), Cyrillic, Arabic,
#: CJK, Hangul, kana, fullwidth forms, emoji (with skin tones and joiners).
REAL_TEXT = st.text(st.one_of(
    st.characters(min_codepoint=0x20, max_codepoint=0x7E),
    st.characters(min_codepoint=0xC0, max_codepoint=0x17F),
    st.characters(min_codepoint=0x300, max_codepoint=0x36F),
    st.characters(min_codepoint=0x410, max_codepoint=0x44F),
    st.characters(min_codepoint=0x621, max_codepoint=0x64A),
    st.characters(min_codepoint=0x3041, max_codepoint=0x30FF),
    st.characters(min_codepoint=0x4E00, max_codepoint=0x4FFF),
    st.characters(min_codepoint=0xAC00, max_codepoint=0xAD00),
    st.characters(min_codepoint=0xFF01, max_codepoint=0xFF5E),
    st.characters(min_codepoint=0x1F600, max_codepoint=0x1F64F),
    st.sampled_from(["\u200d", "\U0001f3fd", "\ufe0f", "\u2764", "\u263a", "#"]),
), min_size=1, max_size=40)


@given(st.lists(REAL_TEXT, min_size=1, max_size=6))
def test_any_label_keeps_the_columns_in_line(labels):
    rows = [row(n, label) for n, label in enumerate(labels)]
    text = render(rows)
    starts = columns(text, [r.id for r in rows])
    assert len(set(starts)) <= 1, text


@given(REAL_TEXT, st.integers(min_value=0, max_value=30))
def test_fit_takes_exactly_the_cells_asked_for(text, cells):
    text = clean(text, 60)
    assert cell_width(text) == cell_len(text)
    fitted = fit(text, cells)
    assert cell_len(fitted) == cells or (cells == 0 and fitted == "")
    assert cell_len(cut(text, cells, "…")) <= cells
