"""The charts page's pictures: pygal SVGs rendered on the server and served inline.

No script goes with them (``js=[]``: pygal would otherwise link its tooltip script from a
CDN) and no XML declaration (they sit inside the HTML page). Times are the household's
local times; amounts are in its units.
"""

from __future__ import annotations

import math
import sys
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pygal
from pygal.style import Style

from letdown.journal.parse import ML_PER_FL_OZ, format_amount
from letdown.journal.records import SIDE_NAMES, PumpSession, Units

# pygal puts a finder on ``sys.meta_path`` for its map plugins (``pygal.maps.*``, unused
# here). It has no ``find_spec``, so on Python 3.11 every later import that reaches it warns
# (ImportWarning), which the test suite treats as an error: take it off again.
sys.meta_path[:] = [
    finder for finder in sys.meta_path if type(finder).__name__ != "PluginImportFixer"
]

LEFT_COLOUR = "#5fb3f9"
RIGHT_COLOUR = "#f5a44b"
"""Blue and orange: told apart with every common colour-vision deficiency."""

MAX_X_LABELS = 5
DAY_S = 86400.0
"""More date labels than this do not fit a phone's width."""

STYLE = Style(
    background="transparent",
    plot_background="transparent",
    foreground="#d8dce3",
    foreground_strong="#f1f3f6",
    foreground_subtle="#7d8594",
    guide_stroke_color="#3a404c",
    major_guide_stroke_color="#4a5160",
    font_family="system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif",
    label_font_size=15,
    major_label_font_size=15,
    legend_font_size=16,
    title_font_size=18,
    value_font_size=14,
    tooltip_font_size=15,
    opacity=".85",
    opacity_hover="1",
    colors=(LEFT_COLOUR, RIGHT_COLOUR, "#b39ddb"),
)


@dataclass(frozen=True)
class Scale:
    """The household's zone, units and word, as the charts need them."""

    zone: ZoneInfo
    units: Units
    word: str

    @property
    def unit(self) -> str:
        return "fl oz" if self.units is Units.FL_OZ else "mL"

    def figure(self, volume_ml: float) -> float:
        """A volume as a figure in the household's units (what the axis counts)."""
        if self.units is Units.FL_OZ:
            return round(volume_ml / ML_PER_FL_OZ, 2)
        return round(volume_ml, 1)

    def amount(self, figure: object) -> str:
        if not isinstance(figure, int | float):
            return ""
        volume_ml = figure * ML_PER_FL_OZ if self.units is Units.FL_OZ else figure
        return format_amount(volume_ml, self.units)

    def x(self, at: datetime) -> float:
        """A time as a number on the time axis: the local wall clock, counted as if UTC,
        so that the labels read as local dates whatever zone the server runs in."""
        return at.astimezone(self.zone).replace(tzinfo=UTC).timestamp()

    def side(self, side: str) -> str:
        return f"{side.capitalize()} {self.word}"


def _without_scripts(tree: Any) -> Any:
    """Drop the config script pygal writes even with ``js=[]``: the page runs no chart code."""
    for parent in list(tree.iter()):
        for child in list(parent):
            if str(child.tag).rsplit("}", 1)[-1] == "script":
                parent.remove(child)
    return tree


def _render(chart: Any) -> str:
    chart.add_xml_filter(_without_scripts)
    svg: str = chart.render(is_unicode=True)
    return svg


def _day_label(x: object) -> str:
    if not isinstance(x, int | float):
        return ""
    return datetime.fromtimestamp(x, UTC).strftime("%d %b")


def _when_label(x: object) -> str:
    if not isinstance(x, int | float):
        return ""
    return datetime.fromtimestamp(x, UTC).strftime("%d %b %H:%M")


def _config() -> pygal.Config:
    config = pygal.Config(
        width=480,
        height=340,
        disable_xml_declaration=True,
        js=[],
        legend_at_bottom=True,
        legend_at_bottom_columns=2,
        margin=8,
        spacing=8,
        truncate_label=-1,
        truncate_legend=-1,
    )
    config.style = STYLE
    return config


def daily_output(sessions: Sequence[PumpSession], first: date, last: date, scale: Scale) -> str:
    """Milk pumped per local day, each side stacked on the other (bars); "" with none."""
    days = [first + timedelta(days=n) for n in range((last - first).days + 1)]
    totals: dict[str, dict[date, float]] = {
        side: dict.fromkeys(days, 0.0) for side in (*SIDE_NAMES, "total")
    }
    for session in sessions:
        day = session.start_at.astimezone(scale.zone).date()
        if day in totals["left"]:
            for side, pumped in session.sides.items():
                totals[side][day] += pumped.volume_ml
            totals["total"][day] += session.total_ml or 0.0
    if not any(totals["total"].values()):
        del totals["total"]  # "total": sessions that kept no sides (imported from Baby Buddy)
    if not any(any(per_day.values()) for per_day in totals.values()):
        return ""
    chart = pygal.StackedBar(
        _config(),
        y_title=scale.unit,
        value_formatter=scale.amount,
        show_minor_x_labels=False,
        x_labels_major_every=max(1, math.ceil(len(days) / MAX_X_LABELS)),
    )
    chart.x_labels = [day.strftime("%d %b") for day in days]
    for series, per_day in totals.items():
        name = "total (no sides)" if series == "total" else scale.side(series)
        chart.add(name, [scale.figure(per_day[day]) for day in days])
    return _render(chart)


def _over_time(
    y_title: str, series: dict[str, list[tuple[float, float]]], formatter: Callable[[object], str]
) -> str:
    """Points per side on a time axis labelled by day; "" with none."""
    xs = [x for points in series.values() for x, _ in points]
    if not xs:
        return ""
    chart = pygal.XY(
        _config(),
        y_title=y_title,
        x_value_formatter=_when_label,
        value_formatter=formatter,
        dots_size=4,
        include_x_axis=True,
    )
    start, end = min(xs), max(xs)
    step = DAY_S * max(1, math.ceil((end - start) / DAY_S / (MAX_X_LABELS - 1)))
    tick = start - start % DAY_S
    ticks: list[Any] = []  # {"label", "value"}: pygal puts each label at its value
    while tick <= end:
        ticks.append({"label": _day_label(tick), "value": tick})
        tick += step
    chart.x_labels = ticks
    for name, points in series.items():
        chart.add(name, points)
    return _render(chart)


def session_volumes(sessions: Sequence[PumpSession], scale: Scale) -> str:
    """Each session's volume per side, over time; "" with no session."""
    series = {
        scale.side(side): [
            (scale.x(session.start_at), scale.figure(pumped.volume_ml))
            for session in sessions
            if (pumped := session.sides.get(side)) is not None
        ]
        for side in SIDE_NAMES
    }
    return _over_time(scale.unit, series, scale.amount)


def _mmhg(value: object) -> str:
    return f"{value:.0f} mmHg" if isinstance(value, int | float) else ""


def comfort_ceilings(sessions: Sequence[PumpSession], scale: Scale) -> str:
    """The comfort ceiling letdown found on each side, session by session (mmHg); "" with
    none (sessions with another pump have none)."""
    series = {
        scale.side(side): [
            (scale.x(session.start_at), pumped.comfort_mmhg)
            for session in sessions
            if (pumped := session.sides.get(side)) is not None and pumped.comfort_mmhg is not None
        ]
        for side in SIDE_NAMES
    }
    # No axis title: each tick says "150 mmHg" already, and a rotated title beside labels
    # that long overlapped them on a phone.
    return _over_time("", series, _mmhg)


def model_fit(points: Mapping[str, Sequence[tuple[datetime, float, float]]], scale: Scale) -> str:
    """Each side's pumped volumes beside what the supply model expected; "" with none."""
    series: dict[str, list[tuple[float, float]]] = {}
    for side, found in points.items():
        series[f"{scale.side(side)}, journal"] = [
            (scale.x(at), scale.figure(seen)) for at, seen, _ in found
        ]
        series[f"{scale.side(side)}, model"] = [
            (scale.x(at), scale.figure(expected)) for at, _, expected in found
        ]
    if not any(series.values()):
        return ""
    return _over_time(scale.unit, series, scale.amount)


__all__ = ["Scale", "comfort_ceilings", "daily_output", "model_fit", "session_volumes"]


@dataclass(frozen=True)
class Drawn:
    """The charts page's pictures, as drawn for one revision of the journal."""

    sessions: int
    daily: str
    volumes: str
    comfort: str
    model: str = ""


class ChartCache:
    """Drawn charts by (household, journal revision, span, local day, settings).

    Drawing takes tens of milliseconds; the same journal on the same day draws the same
    pictures, so a household's phones share one drawing until the journal changes.
    """

    def __init__(self, max_items: int = 256) -> None:
        self._max_items = max_items
        self._lock = threading.Lock()
        self._items: OrderedDict[tuple[object, ...], Drawn] = OrderedDict()

    def get(self, key: tuple[object, ...]) -> Drawn | None:
        with self._lock:
            found = self._items.get(key)
            if found is not None:
                self._items.move_to_end(key)
            return found

    def put(self, key: tuple[object, ...], drawn: Drawn) -> None:
        with self._lock:
            self._items[key] = drawn
            self._items.move_to_end(key)
            while len(self._items) > self._max_items:
                self._items.popitem(last=False)
