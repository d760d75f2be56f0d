"""The journal file as one JSON document (``FORMAT``, ``FORMAT_VERSION``)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, TextIO

from letdown.errors import InvalidEntryError
from letdown.journal.exchange_rows import (
    _BABYBUDDY_HINT,
    HEADER_FIELDS,
    WITH_RECORD,
    RowType,
    _check_format,
    _Item,
    _label,
    _Raw,
    load_json,
)

JSON_LISTS: dict[RowType, str] = {
    "member": "members",
    "child": "children",
    "pregnancy": "pregnancies",
    "entry": "entries",
    "revision": "revisions",
    "bag": "bags",
    "bag_event": "bag_events",
    "bag_source": "bag_sources",
}
"""Where each kind of item lives in the JSON document (the household is one object)."""


def _write_json(header: dict[str, Any], items: Sequence[_Item], out: TextIO) -> None:
    document: dict[str, Any] = {**header, "household": None}
    document.update({key: [] for key in JSON_LISTS.values()})
    for item in items:
        values = item.values if item.record is None else {**item.values, "record": item.record}
        if item.type == "household":
            document["household"] = values
        else:
            document[JSON_LISTS[item.type]].append(values)
    json.dump(document, out, ensure_ascii=False, indent=1, allow_nan=False)
    out.write("\n")


def _read_json(text: str) -> list[_Raw]:
    if text.startswith("type,"):
        raise InvalidEntryError("this is a CSV export, not JSON: import it as csv")
    document = load_json(text)
    if not isinstance(document, dict):
        raise InvalidEntryError("not a letdown journal export: the JSON is not one object")
    if {"count", "results"} <= document.keys():
        raise InvalidEntryError(f"not a letdown journal export: {_BABYBUDDY_HINT}")
    _check_format(document, "the file")
    unknown = sorted(set(document) - {*HEADER_FIELDS, "household", *JSON_LISTS.values()})
    if unknown:
        raise InvalidEntryError(f"the file: unknown key(s) {', '.join(map(repr, unknown))}")
    raws: list[_Raw] = []
    household = document.get("household")
    if not isinstance(household, dict):
        raise InvalidEntryError("household: missing or not an object")
    raws.append(_Raw("household", "household", household))
    for kind, key in JSON_LISTS.items():
        found = document.get(key, [])
        if not isinstance(found, list):
            raise InvalidEntryError(f"{key}: not a list")
        for index, values in enumerate(found):
            if not isinstance(values, dict):
                raise InvalidEntryError(f"{key}[{index}]: not an object")
            where = _label(f"{key}[{index}]", kind, values)
            if kind in WITH_RECORD:
                values = dict(values)
                record = values.pop("record", None)
                if not isinstance(record, dict):
                    raise InvalidEntryError(f"{where}: record: missing or not an object")
                raws.append(_Raw(kind, where, values, record))
            else:
                raws.append(_Raw(kind, where, values))
    return raws
