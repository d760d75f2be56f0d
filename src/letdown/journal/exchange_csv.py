"""The journal file as CSV: one row per item, a record's fields over dotted columns.

The first column says what a row is (``ROW_TYPES``); a record's lists are JSON text in
their cell. A text cell that a spreadsheet would run as a formula (starting with
``= + - @``) or that starts with an apostrophe is written behind one more apostrophe,
which the import takes off.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator, Sequence
from typing import Any, TextIO, get_args, get_origin

from pydantic import BaseModel

from letdown.errors import InvalidEntryError
from letdown.journal.exchange_rows import (
    _BABYBUDDY_HINT,
    HEADER_FIELDS,
    ROW_MODELS,
    ROW_TYPES,
    WITH_RECORD,
    RowType,
    _check_format,
    _Item,
    _label,
    _Raw,
)
from letdown.journal.records import (
    KINDS,
)

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "'")
"""A text cell starting so is written behind an apostrophe (OWASP's CSV injection advice)."""


def _record_layout() -> tuple[tuple[str, ...], frozenset[str]]:
    """Every record field as a CSV column, and which of them hold a list (JSON text).

    A field that is a mapping of sides to a model is spread over ``field.side.subfield``
    columns, left side first.
    """
    order: list[str] = []
    keys: dict[str, tuple[str, ...]] = {}
    subfields: dict[str, list[str]] = {}
    lists: set[str] = set()
    for model in KINDS.values():
        for name, info in model.model_fields.items():
            if name not in order:
                order.append(name)
            annotation = info.annotation
            origin = get_origin(annotation)
            if origin is dict:
                key_type, value_type = get_args(annotation)
                if not (isinstance(value_type, type) and issubclass(value_type, BaseModel)):
                    raise TypeError(f"{model.__name__}.{name}: a mapping to plain values")
                keys[name] = tuple(str(key) for key in get_args(key_type))
                known = subfields.setdefault(name, [])
                known.extend(sub for sub in value_type.model_fields if sub not in known)
            elif origin in (tuple, list):
                lists.add(name)
    columns: list[str] = []
    for name in order:
        if name in subfields:
            columns.extend(f"{name}.{key}.{sub}" for key in keys[name] for sub in subfields[name])
        else:
            columns.append(name)
    return tuple(columns), frozenset(lists)


RECORD_COLUMNS, LIST_COLUMNS = _record_layout()


_LEADING = "type format format_version exported_at name role time_zone units word birth_date"


_LEADING += " due_date uid entry bag version action code kind"


_TRAILING = "volume_ml remaining_ml expressed_at location status closed_at at reason notes member"


_TRAILING += " entered_by entered_at updated_by updated_at changed_by changed_at deleted_at"


_TRAILING += " created_at"


def _columns() -> tuple[str, ...]:
    """The CSV header: people's columns first, records' in the middle, bookkeeping last."""
    leading, trailing = _LEADING.split(), _TRAILING.split()
    middle = [column for column in RECORD_COLUMNS if column not in {*leading, *trailing}]
    columns = [*leading, *middle, *trailing]
    for model in ROW_MODELS.values():
        columns.extend(name for name in model.model_fields if name not in columns)
    return tuple(columns)


COLUMNS = _columns()


TYPE_COLUMNS: dict[RowType, frozenset[str]] = {
    kind: frozenset(
        {"type", *model.model_fields}
        | (set(RECORD_COLUMNS) if kind in WITH_RECORD else set())
        | (set(HEADER_FIELDS) if kind == "household" else set())
    )
    for kind, model in ROW_MODELS.items()
}


def _write_csv(header: dict[str, Any], items: Sequence[_Item], out: TextIO) -> None:
    writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\r\n")
    out.write("\ufeff")
    writer.writeheader()
    for item in items:
        values = {**header, **item.values} if item.type == "household" else item.values
        cells = {"type": item.type} | {key: _cell(value) for key, value in values.items()}
        if item.record is not None:
            cells.update(_flatten(item.record))
        writer.writerow(cells)


def _flatten(values: dict[str, Any], prefix: str = "") -> dict[str, str]:
    cells: dict[str, str] = {}
    for key, value in values.items():
        if isinstance(value, dict):
            cells.update(_flatten(value, f"{prefix}{key}."))
        else:
            cells[f"{prefix}{key}"] = _cell(value)
    return cells


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list):
        return json.dumps(value, ensure_ascii=False, allow_nan=False)
    text = str(value)
    return f"'{text}" if text.startswith(FORMULA_STARTS) else text


def _read_csv(text: str) -> list[_Raw]:
    if text.lstrip().startswith("{"):
        raise InvalidEntryError("this is a JSON file, not CSV: import it as json")
    if not text.endswith(("\n", "\r")):
        raise InvalidEntryError("the CSV file ends in the middle of a row: it is cut short")
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = next(reader)
        rows = list(_numbered(reader))
    except csv.Error as exc:
        raise InvalidEntryError(
            f"the CSV file is damaged or cut short near line {reader.line_num}: {exc}"
        ) from None
    if not header or header[0] != "type":
        if {"child_first_name", "start"} <= set(header):
            raise InvalidEntryError(f"not a letdown journal export: {_BABYBUDDY_HINT}")
        first = header[0] if header else ""
        raise InvalidEntryError(
            f"not a letdown journal export: the first column is {first!r}, not 'type'"
        )
    doubled = sorted({column for column in header if header.count(column) > 1})
    if doubled:
        raise InvalidEntryError(f"row 1: column(s) {', '.join(doubled)} appear twice")
    unknown = [column for column in header if column not in COLUMNS]
    if unknown:
        raise InvalidEntryError(
            f"row 1: unknown column(s) {', '.join(map(repr, unknown))}: "
            "not a letdown journal export, or one from a newer letdown"
        )
    raws: list[_Raw] = []
    for number, row in rows:
        if not any(row):
            continue
        if len(row) != len(header):
            raise InvalidEntryError(
                f"row {number} has {len(row)} cells where the header has {len(header)}: "
                "the file is damaged or cut short"
            )
        kind = row[0]
        if kind not in ROW_TYPES:
            raise InvalidEntryError(
                f"row {number}: type {kind!r} is not one of {', '.join(ROW_TYPES)}"
            )
        cells = {column: _uncell(cell) for column, cell in zip(header, row, strict=True) if cell}
        raws.append(_csv_item(number, kind, cells))
    return raws


def _numbered(reader: Iterator[list[str]]) -> Iterator[tuple[int, list[str]]]:
    """Rows as a spreadsheet numbers them (the header is row 1)."""
    yield from enumerate(reader, start=2)


def _uncell(cell: str) -> str:
    return cell[1:] if cell.startswith("'") else cell


def _csv_item(number: int, kind: RowType, cells: dict[str, str]) -> _Raw:
    record_columns = RECORD_COLUMNS if kind in WITH_RECORD else ()
    values = {
        key: value for key, value in cells.items() if key != "type" and key not in record_columns
    }
    where = _label(f"row {number}", kind, values)
    stray = sorted(set(cells) - TYPE_COLUMNS[kind])
    if stray:
        raise InvalidEntryError(
            f"{where}: column(s) {', '.join(stray)} are not used by a "
            f"{kind.replace('_', ' ')} row: leave them empty"
        )
    if kind == "household":
        _check_format(values, where)
        values = {key: value for key, value in values.items() if key not in HEADER_FIELDS}
    if kind not in WITH_RECORD:
        return _Raw(kind, where, values)
    record: dict[str, Any] = {}
    for column, cell in cells.items():
        if column not in RECORD_COLUMNS:
            continue
        value: Any = cell
        if column in LIST_COLUMNS:
            try:
                value = json.loads(cell)
            except json.JSONDecodeError as exc:
                raise InvalidEntryError(f"{where}: {column}: not JSON text ({exc.msg})") from None
        *path, last = column.split(".")
        nested = record
        for part in path:
            nested = nested.setdefault(part, {})
        nested[last] = value
    return _Raw(kind, where, values, record)
