"""``letdown bench forecast``: the supply model against two plain baselines on held-out days.

The model is fitted on all but the last ``holdout_days`` of a ``letdown export json``
file, then predicts each held-out pump session's per-side volume from the times of every
removal (pumpings and feeds), never from their volumes. The baselines are each side's
mean over the last seven fitted days, and the same by time of day in four 6-hour blocks.
Per-side volumes are pooled.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path
from statistics import fmean
from typing import Any
from zoneinfo import ZoneInfo

from letdown.errors import InvalidEntryError
from letdown.insights.supply import Removal, fit_side, forecast, removals
from letdown.journal.records import SIDE_NAMES, Record, parse_record

BASELINE_DAYS = 7
BLOCK_H = 6


def load_export(path: Path) -> tuple[list[Record], str]:
    """The live records of an export file and the household's zone, or a clear error."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InvalidEntryError(f"cannot read {path}: {exc.strerror}") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidEntryError(f"{path} is not a letdown export json file: {exc}") from None
    if not isinstance(document, dict) or document.get("format") != "letdown-journal":
        raise InvalidEntryError(f"{path} is not a letdown export json file")
    household = document.get("household") or {}
    zone = str(household.get("time_zone") or "UTC")
    records = []
    for number, entry in enumerate(document.get("entries") or [], start=1):
        if not isinstance(entry, dict) or entry.get("deleted_at") is not None:
            continue
        try:
            records.append(parse_record(entry["record"]))
        except (InvalidEntryError, KeyError, TypeError) as exc:
            raise InvalidEntryError(f"{path}: entry {number}: {exc}") from None
    return records, zone


def _block(at: datetime, zone: ZoneInfo) -> int:
    return at.astimezone(zone).hour // BLOCK_H


def run_forecast(records: Sequence[Record], zone_name: str, holdout_days: int) -> dict[str, Any]:
    """The figures of the issue's interface, and per-side detail beside them."""
    by_side = removals(records)
    everything = [r for side in SIDE_NAMES for r in by_side[side]]
    if not everything:
        raise InvalidEntryError("the journal has no pump sessions or feeds")
    zone = ZoneInfo(zone_name)
    last = max(r.at for r in everything)
    cut = last - timedelta(days=holdout_days)
    errors: dict[str, list[float]] = {"model": [], "last_week_mean": [], "time_of_day_mean": []}
    inside = 0
    session_times: set[datetime] = set()
    for side in SIDE_NAMES:
        fitted = [r for r in by_side[side] if r.at < cut]
        held = [r for r in by_side[side] if r.at >= cut]
        truth = [r for r in held if r.pumped and r.volume_ml is not None]
        if not truth:
            continue
        fit = fit_side(side, fitted, cut)
        week = [
            r
            for r in fitted
            if r.pumped and r.volume_ml is not None and r.at >= cut - timedelta(days=BASELINE_DAYS)
        ]
        if fit is None or not week:
            raise InvalidEntryError(
                f"too few {side} pump sessions before the last {holdout_days} days to fit"
            )
        mean_ml = fmean(r.volume_ml or 0.0 for r in week)
        blocks: dict[int, list[float]] = {}
        for r in week:
            blocks.setdefault(_block(r.at, zone), []).append(r.volume_ml or 0.0)
        predictions = forecast(fit, [Removal(r.at, r.pumped) for r in held])
        for removal, predicted in zip(truth, predictions, strict=True):
            seen = removal.volume_ml or 0.0
            errors["model"].append(abs(predicted.volume_ml - seen))
            errors["last_week_mean"].append(abs(mean_ml - seen))
            block = blocks.get(_block(removal.at, zone))
            errors["time_of_day_mean"].append(abs((fmean(block) if block else mean_ml) - seen))
            inside += predicted.low_ml <= seen <= predicted.high_ml
            session_times.add(removal.at)
    volumes = len(errors["model"])
    if not volumes:
        raise InvalidEntryError(f"no pump sessions with volumes in the last {holdout_days} days")
    return {
        "sessions": len(session_times),
        "mae_ml": {name: round(fmean(values), 2) for name, values in errors.items()},
        "coverage_80": round(inside / volumes, 3),
    }
