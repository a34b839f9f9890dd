"""The `/` filter, as k9s users type it: words, fields, alternatives, negation, regexps.

    eu prod            every word must match (label, id, tag or status)
    tag:eu             a field: tag (whole tag), status, id (its start), label
    status:failed|stuck  alternatives, in a field or in a plain word (EU|US)
    !tag:staging       negation
    /^Bank             a regular expression (Python's), on the label, id, tags and status

Pure: a parsed filter is a predicate over what a row shows; a bad expression is a
FilterError that says what is wrong, and the table keeps the last good filter.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from wawp_tui.core import InstanceState, runbook
from wawp_tui.models import UNREACHABLE

#: The fields a term may name.
FIELDS = ("tag", "status", "id", "label")
#: Longest expression taken (a filter is typed by a person).
MAX_EXPRESSION = 500


class FilterError(ValueError):
    """An expression that cannot be used, with what is wrong in a few words."""


@dataclass(frozen=True)
class Row:
    """What a row offers to the filter: its label, id, tags and status words."""

    label: str
    id: str
    tags: tuple[str, ...]
    #: Every word its status goes by: the API's, the badge's, STUCK, UNREACHABLE (polls
    #: failing), STALE.
    words: tuple[str, ...]

    @classmethod
    def of(cls, st: InstanceState, now: float, refresh: float) -> Row:
        word = runbook.shown_word(st, now, refresh)
        words = {word, runbook.badge(word)[1]}
        if st.status:
            words.add(st.status)
        if st.failures:
            words.add(UNREACHABLE)
        if runbook.stale_age(st, now, refresh) is not None:
            words.add("STALE")
        return cls(st.label, st.id, st.tags, tuple(sorted(words)))


Test = Callable[[Row], bool]


def _squash(text: str) -> str:
    """ "SCAN_QR_CODE", "scan qr", "ScanQR" all read "scanqrcode"/"scanqr"."""
    return re.sub(r"[\W_]+", "", text.lower())


def _field(name: str, wanted: str) -> Test:
    options = [o for o in wanted.split("|") if o]
    if not options:
        raise FilterError(f"{name}: needs a value (e.g. {name}:{'eu' if name == 'tag' else 'x'})")
    if name == "tag":
        low = {o.lower() for o in options}
        return lambda row: any(t.lower() in low for t in row.tags)
    if name == "status":
        squashed = [_squash(o) for o in options]
        return lambda row: any(_squash(w).startswith(o) for w in row.words for o in squashed if o)
    if name == "id":
        low_ids = [o.lower() for o in options]
        return lambda row: any(row.id.lower().startswith(o) for o in low_ids)
    low_labels = [o.lower() for o in options]
    return lambda row: any(o in row.label.lower() for o in low_labels)


def _regex(pattern: str) -> Test:
    if not pattern:
        raise FilterError("/ needs a regular expression after it (e.g. /^Bank)")
    try:
        compiled = re.compile(pattern, re.IGNORECASE)
    except re.error as exc:
        raise FilterError(f"invalid regular expression {pattern!r}: {exc}") from None
    return lambda row: any(compiled.search(text) for text in (row.label, row.id, *row.tags, *row.words))


def _words(term: str) -> Test:
    options = [o.lower() for o in term.split("|") if o]
    if not options:
        raise FilterError("'|' needs words on its sides (e.g. EU|US)")
    return lambda row: any(o in text.lower() for o in options
                           for text in (row.label, row.id, *row.tags, *row.words))


def _term(term: str) -> Test:
    negate = term.startswith("!")
    body = term[1:] if negate else term
    if not body:
        raise FilterError("'!' needs something to leave out after it (e.g. !tag:staging)")
    if body.startswith("/"):
        test = _regex(body[1:])
    else:
        name, sep, value = body.partition(":")
        test = _field(name.lower(), value) if sep and name.lower() in FIELDS else _words(body)
    return (lambda row: not test(row)) if negate else test


@dataclass(frozen=True)
class RowFilter:
    """A parsed expression: `matches(row)` when every term does."""

    text: str
    terms: tuple[Test, ...]

    def matches(self, row: Row) -> bool:
        return all(term(row) for term in self.terms)

    def __bool__(self) -> bool:
        return bool(self.terms)


def parse(text: str) -> RowFilter:
    """The filter an expression means (empty: every row); FilterError when it is bad."""
    if len(text) > MAX_EXPRESSION:
        raise FilterError(f"expression longer than {MAX_EXPRESSION} characters")
    return RowFilter(text, tuple(_term(term) for term in text.split()))


#: The views (k9s's `:` commands): a name, what it shows, and the filter it sets.
VIEWS: dict[str, tuple[str, str]] = {
    "failed": ("FAILED instances, and those whose polls fail", "status:failed|unreachable"),
    "scanqr": ("instances waiting for a QR scan or a passkey", "status:scanqr|passkey"),
    "stuck": ("instances STUCK in STARTING", "status:stuck"),
    "stale": ("instances whose status is old or whose polls fail", "status:stale|unreachable"),
    "all": ("every instance (clears the filter)", ""),
}
