"""`wawp-tui import FILE`: many instances at once from CSV or JSON lines.

The whole file is validated before anything is written, so a bad line 734 of a
2,000-line file leaves the config untouched and names the line. Tokens never
travel in an import file: only the name of the variable that holds one.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from wawp_tui.config import ConfigError, instance_entry
from wawp_tui.files import FileTooLarge, NotAFile, read_small

COLUMNS = ("id", "label", "tags", "token_env")
_SECRET_KEYS = {"token", "access_token", "secret"}
#: Largest import file read (100,000 instances take about 10 MB).
MAX_IMPORT_BYTES = 64 * 1024 * 1024


@dataclass
class ImportPlan:
    """What an import would do: entries to append, ids already configured."""

    source: Path
    new: list[dict[str, Any]] = field(default_factory=list)
    already: list[str] = field(default_factory=list)


def read_entries(path: Path) -> list[tuple[int, dict[str, Any]]]:
    """(line number, validated [[instances]] entry) for every record of the file."""
    try:
        text = read_small(path, MAX_IMPORT_BYTES).decode("utf-8-sig")
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such file") from None
    except NotAFile as exc:
        raise ConfigError(f"{path}: is {exc.strerror}, not a file to import; use a regular "
                          "file (save a pipe's output to one first)") from None
    except FileTooLarge as exc:
        raise ConfigError(f"{path}: is {exc.strerror}; split it into smaller files") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read: {getattr(exc, 'strerror', None) or exc}") from None
    if not text.strip():
        raise ConfigError(f"{path}: the file is empty; expected a CSV header "
                          f"'{','.join(COLUMNS)}' or JSON lines")
    records = _json_lines(path, text) if _looks_like_json(path, text) else _csv(path, text)
    entries: list[tuple[int, dict[str, Any]]] = []
    first_seen: dict[str, int] = {}
    for line, record in records:
        entry = _entry(path, line, record)
        if entry["id"] in first_seen:
            raise ConfigError(f"{path} line {line}: duplicate id {entry['id']} "
                              f"(first at line {first_seen[entry['id']]}); keep one of them")
        first_seen[entry["id"]] = line
        entries.append((line, entry))
    if not entries:
        raise ConfigError(f"{path}: no instances in the file (only a header or blank lines)")
    return entries


def plan_import(path: Path, existing_ids: set[str]) -> ImportPlan:
    """Split the file's entries into new ones and ones the config already holds."""
    plan = ImportPlan(source=path)
    for _, entry in read_entries(path):
        if entry["id"] in existing_ids:
            plan.already.append(entry["id"])
        else:
            plan.new.append(entry)
    return plan


def _looks_like_json(path: Path, text: str) -> bool:
    if path.suffix.lower() in {".jsonl", ".ndjson", ".json"}:
        return True
    if path.suffix.lower() in {".csv", ".tsv", ".txt"}:
        return False
    return text.lstrip().startswith("{")


def _json_lines(path: Path, text: str) -> list[tuple[int, dict[str, Any]]]:
    records = []
    for number, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            value = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{path} line {number}: not valid JSON: {exc.msg} "
                              f"(column {exc.colno})") from None
        except RecursionError:
            raise ConfigError(f"{path} line {number}: nested far too deep; expected a flat "
                              'JSON object like {"id": "...", "label": "..."}') from None
        if not isinstance(value, dict):
            raise ConfigError(f"{path} line {number}: expected a JSON object like "
                              '{"id": "...", "label": "..."}') from None
        records.append((number, value))
    return records


def _csv(path: Path, text: str) -> list[tuple[int, dict[str, Any]]]:
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        rows = [(reader.line_num, row) for row in reader]
    except csv.Error as exc:
        raise ConfigError(f"{path} line {reader.line_num}: not valid CSV: {exc}") from None
    rows = [(n, row) for n, row in rows if any(cell.strip() for cell in row)]
    header_line, header = rows[0]
    header = [cell.strip().lower() for cell in header]
    _check_columns(path, header_line, header)
    records = []
    for number, row in rows[1:]:
        if len(row) > len(header):
            raise ConfigError(f"{path} line {number}: {len(row)} values for {len(header)} "
                              "columns; quote a value that holds a comma")
        record: dict[str, Any] = dict(zip(header, row))
        # A ';'-separated cell is the CSV way to hold a list.
        if "tags" in record:
            record["tags"] = record["tags"].split(";")
        records.append((number, record))
    return records


def _check_columns(path: Path, line: int, header: list[str]) -> None:
    for name in header:
        if name in _SECRET_KEYS:
            raise ConfigError(f"{path} line {line}: column {name!r} is refused: tokens do not "
                              "belong in import files; use token_env with the variable's name")
        if name not in COLUMNS:
            raise ConfigError(f"{path} line {line}: unknown column {name!r}; the header must "
                              f"use only {', '.join(COLUMNS)} (id and label required)")
    for name in ("id", "label"):
        if name not in header:
            raise ConfigError(f"{path} line {line}: the header has no {name!r} column; "
                              f"expected e.g. '{','.join(COLUMNS)}'")
    if len(set(header)) != len(header):
        raise ConfigError(f"{path} line {line}: a column is named twice in the header")


def _entry(path: Path, line: int, record: dict[str, Any]) -> dict[str, Any]:
    where = f"{path} line {line}"
    for key in record:
        if key in _SECRET_KEYS:
            raise ConfigError(f"{where}: key {key!r} is refused: tokens do not belong in import "
                              "files; use token_env with the variable's name")
        if key not in COLUMNS:
            raise ConfigError(f"{where}: unknown key {key!r}; use only {', '.join(COLUMNS)}")
    values: dict[str, Any] = {}
    for key in ("id", "label", "token_env"):
        value = record.get(key)
        if value is not None and not isinstance(value, str):
            raise ConfigError(f"{where}: {key} must be a string")
        values[key] = value or ""
    if not values["id"].strip():
        raise ConfigError(f"{where}: the id is empty")
    tags = record.get("tags") or []
    if isinstance(tags, str):
        tags = tags.split(";")
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        raise ConfigError(f"{where}: tags must be a list of strings or 'a;b;c'")
    try:
        return instance_entry(values["id"], values["label"], token_env=values["token_env"],
                              tags=tags)
    except ConfigError as exc:
        raise ConfigError(f"{where}: {exc}") from None
