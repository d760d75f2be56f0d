"""What Home Assistant is told about a household: discovery configs and state payloads.

Pure functions, no MQTT: ``discovery`` builds the two device-based discovery payloads of
one household (its pump, its journal), ``pump_payload`` and ``journal_payload`` the JSON
each device's entities read their state from.

Device-based discovery (Home Assistant 2024.11 and later): one retained JSON message per
device on ``homeassistant/device/<object_id>/config``, with the device (``dev``), the
origin (``o``) and the components (``cmps``) each naming its platform (``p``) and a
``unique_id`` (https://www.home-assistant.io/integrations/mqtt/#device-discovery-payload).
Units and device classes follow Home Assistant's sensor device classes
(https://developers.home-assistant.io/docs/core/entity/sensor/#available-device-classes):
``pressure`` takes mmHg, ``volume`` and ``volume_storage`` take mL, ``timestamp`` takes
an ISO 8601 time with its offset. ``duration`` is not used for "time since": Home
Assistant asks that a duration not change only because time passes, so the journal
publishes *when* (a timestamp, shown as "12 minutes ago") and Home Assistant counts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from letdown import __version__
from letdown.journal import Book, BottleFeed, NurseFeed, PumpSession
from letdown.pump.machine import State
from letdown.web.pump import PumpState

SIDES = ("left", "right")
PHASES = tuple(state.value for state in State)
"""The pump's phases as Home Assistant's enum sensor lists them (plus ``idle``)."""
UNAVAILABLE_INSIGHTS = (
    "hours_covered",
    "red_flag",
)
"""Entities that need the insights module, not written yet: shown as unavailable."""
ORIGIN = {"name": "letdown", "sw": __version__}


@dataclass(frozen=True)
class Topics:
    """Where one household's messages go; ``base`` is letdown's own topic root."""

    base: str
    household_id: int
    prefix: str = "homeassistant"

    @property
    def status(self) -> str:
        """letdown's availability (``online``, or ``offline`` from its last will)."""
        return f"{self.base}/status"

    @property
    def house(self) -> str:
        return f"{self.base}/household_{self.household_id}"

    @property
    def pump_state(self) -> str:
        return f"{self.house}/pump/state"

    @property
    def pump_command(self) -> str:
        return f"{self.house}/pump/command"

    @property
    def pump_result(self) -> str:
        """What became of each command (not retained): done, or refused and why."""
        return f"{self.house}/pump/result"

    @property
    def journal_state(self) -> str:
        return f"{self.house}/journal/state"

    @property
    def insights(self) -> str:
        """``offline`` until the insights module exists: its entities show unavailable."""
        return f"{self.house}/journal/insights"

    def object_id(self, device: str) -> str:
        return f"letdown_household_{self.household_id}_{device}"

    def config(self, device: str) -> str:
        return f"{self.prefix}/device/{self.object_id(device)}/config"


BUTTONS = {
    "start": "Start",
    "pause": "Pause",
    "resume": "Resume",
    "stop": "Stop",
    "too_much_left": "Too much, left",
    "too_much_right": "Too much, right",
}
"""Each button's payload (what it sends on the command topic) and its name."""


def _sensor(
    uid: str,
    name: str,
    key: str,
    *,
    device_class: str | None = None,
    unit: str | None = None,
    state_class: str | None = None,
    precision: int | None = None,
    icon: str | None = None,
) -> dict[str, Any]:
    component: dict[str, Any] = {
        "p": "sensor",
        "unique_id": uid,
        "name": name,
        "value_template": f"{{{{ value_json.{key} }}}}",
    }
    if device_class is not None:
        component["device_class"] = device_class
    if unit is not None:
        component["unit_of_measurement"] = unit
    if state_class is not None:
        component["state_class"] = state_class
    if precision is not None:
        component["suggested_display_precision"] = precision
    if icon is not None:
        component["icon"] = icon
    return component


def _pump_components(topics: Topics) -> dict[str, dict[str, Any]]:
    uid = topics.object_id("pump")
    components: dict[str, dict[str, Any]] = {}
    for side in SIDES:
        word = side.capitalize()
        components[f"{side}_vacuum"] = _sensor(
            f"{uid}_{side}_vacuum",
            f"{word} vacuum",
            f"{side}_vacuum_mmhg",
            device_class="pressure",
            unit="mmHg",
            state_class="measurement",
            precision=0,
        )
        components[f"{side}_ceiling"] = _sensor(
            f"{uid}_{side}_ceiling",
            f"{word} comfort ceiling",
            f"{side}_ceiling_mmhg",
            device_class="pressure",
            unit="mmHg",
            state_class="measurement",
            precision=0,
        )
        components[f"{side}_collected"] = _sensor(
            f"{uid}_{side}_collected",
            f"{word} collected",
            f"{side}_collected_ml",
            device_class="volume",
            unit="mL",
            state_class="total_increasing",
            precision=0,
        )
    phase = _sensor(f"{uid}_phase", "Phase", "phase", device_class="enum")
    phase["options"] = list(PHASES)
    components["phase"] = phase
    components["elapsed"] = _sensor(
        f"{uid}_elapsed",
        "Session time",
        "elapsed_s",
        device_class="duration",
        unit="s",
        state_class="measurement",
        precision=0,
    )
    components["nearly_done"] = {
        "p": "binary_sensor",
        "unique_id": f"{uid}_nearly_done",
        "name": "Nearly done",
        "value_template": "{{ value_json.nearly_done }}",
        "payload_on": "ON",
        "payload_off": "OFF",
        "icon": "mdi:timer-sand-complete",
    }
    components["running"] = {
        "p": "binary_sensor",
        "unique_id": f"{uid}_running",
        "name": "Running",
        "device_class": "running",
        "value_template": "{{ value_json.running }}",
        "payload_on": "ON",
        "payload_off": "OFF",
    }
    for payload, name in BUTTONS.items():
        components[payload] = {
            "p": "button",
            "unique_id": f"{uid}_{payload}",
            "name": name,
            "command_topic": topics.pump_command,
            "payload_press": payload,
        }
    return components


def _journal_components(topics: Topics) -> dict[str, dict[str, Any]]:
    uid = topics.object_id("journal")
    components: dict[str, dict[str, Any]] = {
        "last_feed": _sensor(
            f"{uid}_last_feed", "Last feed", "last_feed_at", device_class="timestamp"
        ),
    }
    for side in SIDES:
        word = side.capitalize()
        components[f"{side}_emptied"] = _sensor(
            f"{uid}_{side}_emptied",
            f"{word} last emptied",
            f"{side}_emptied_at",
            device_class="timestamp",
        )
        components[f"{side}_pumped_today"] = _sensor(
            f"{uid}_{side}_pumped_today",
            f"{word} pumped today",
            f"{side}_pumped_today_ml",
            device_class="volume",
            unit="mL",
            state_class="total_increasing",
            precision=0,
        )
        components[f"{side}_nursed_today"] = _sensor(
            f"{uid}_{side}_nursed_today",
            f"{word} nursed today",
            f"{side}_nursed_today_min",
            device_class="duration",
            unit="min",
            state_class="total_increasing",
            precision=0,
        )
    components["stash"] = _sensor(
        f"{uid}_stash",
        "Milk in the stash",
        "stash_ml",
        device_class="volume_storage",
        unit="mL",
        state_class="measurement",
        precision=0,
    )
    components["next_bag"] = _sensor(
        f"{uid}_next_bag", "Next bag to use", "next_bag", icon="mdi:baby-bottle-outline"
    )
    components["next_bag_use_by"] = _sensor(
        f"{uid}_next_bag_use_by", "Next bag use by", "next_bag_use_by", device_class="timestamp"
    )
    insights = [
        {"topic": topics.status},
        {"topic": topics.insights},
    ]
    hours = _sensor(
        f"{uid}_hours_covered",
        "Stash covers",
        "hours_covered",
        device_class="duration",
        unit="h",
        state_class="measurement",
        precision=1,
    )
    flag: dict[str, Any] = {
        "p": "binary_sensor",
        "unique_id": f"{uid}_red_flag",
        "name": "Red flag",
        "device_class": "problem",
        "value_template": "{{ value_json.red_flag }}",
        "payload_on": "ON",
        "payload_off": "OFF",
    }
    for component in (hours, flag):
        # Both topics must say online: letdown's, and the insights' (offline for now).
        component["availability"] = insights
        component["availability_mode"] = "all"
    components["hours_covered"] = hours
    components["red_flag"] = flag
    return components


def discovery(
    topics: Topics, household: str, *, configuration_url: str | None = None
) -> dict[str, dict[str, Any]]:
    """The household's two discovery messages, by config topic: its pump and its journal."""
    messages: dict[str, dict[str, Any]] = {}
    for device, model, components, state_topic in (
        ("pump", "letdown pump", _pump_components(topics), topics.pump_state),
        ("journal", "letdown journal", _journal_components(topics), topics.journal_state),
    ):
        dev: dict[str, Any] = {
            "ids": [topics.object_id(device)],
            "name": f"{household} {device}",
            "mf": "letdown",
            "mdl": model,
            "sw": __version__,
        }
        if configuration_url:
            dev["cu"] = configuration_url
        messages[topics.config(device)] = {
            "dev": dev,
            "o": ORIGIN,
            "cmps": components,
            "state_topic": state_topic,
            "availability": [{"topic": topics.status}],
            "qos": 1,
        }
    return messages


def _on(value: bool) -> str:
    return "ON" if value else "OFF"


def pump_payload(state: PumpState) -> dict[str, Any]:
    """The pump device's state: what its sensors and binary sensors read."""
    payload: dict[str, Any] = {
        "phase": state.state,
        "elapsed_s": round(state.elapsed_s),
        "nearly_done": _on(state.nearly_done),
        "running": _on(state.running),
        "started_by": state.started_by,
        "fault": None if state.fault is None else state.fault.message,
    }
    comfort = {"left": state.comfort.left_mmhg, "right": state.comfort.right_mmhg}
    for side in SIDES:
        view = state.left if side == "left" else state.right
        payload[f"{side}_vacuum_mmhg"] = None if view is None else view.vacuum_mmhg
        payload[f"{side}_ceiling_mmhg"] = comfort[side] if view is None else view.ceiling_mmhg
        payload[f"{side}_collected_ml"] = (
            None if view is None or view.volume_ml is None else round(view.volume_ml, 1)
        )
    return payload


JOURNAL_LOOKBACK = 200
"""Entries read back to find when each side was last emptied."""


def journal_payload(book: Book, now: datetime) -> dict[str, Any]:
    """The journal device's state: last feed, each side's last emptying, today, the stash.

    ``hours_covered`` and ``red_flag`` stay None (their entities are unavailable) until
    the insights module computes them.
    """
    zone = ZoneInfo(book.household.time_zone)
    midnight = datetime.combine(now.astimezone(zone).date(), time(0), tzinfo=zone)
    feeds = book.history(kinds=["nurse", "bottle"], limit=1)
    emptied: dict[str, datetime] = {}
    for entry in book.history(kinds=["nurse", "pump"], limit=JOURNAL_LOOKBACK):
        record = entry.record
        if not isinstance(record, NurseFeed | PumpSession):
            continue
        for name in record.sides:
            emptied.setdefault(str(name), record.end_at)
        if len(emptied) == len(SIDES):
            break
    summary = book.summary(midnight, now + timedelta(seconds=1))
    bags = book.use_next(now)
    payload: dict[str, Any] = {
        "last_feed_at": _iso(_feed_time(feeds[0].record)) if feeds else None,
        "stash_ml": round(sum(bag.remaining_ml for bag in bags), 1),
        "next_bag": bags[0].code if bags else None,
        "next_bag_use_by": _iso(bags[0].expiry.use_by) if bags else None,
        "hours_covered": None,
        "red_flag": None,
    }
    for side in SIDES:
        payload[f"{side}_emptied_at"] = _iso(emptied.get(side))
        payload[f"{side}_pumped_today_ml"] = round(summary.pumped_ml.get(side, 0.0), 1)
        payload[f"{side}_nursed_today_min"] = round(summary.nursed_s.get(side, 0.0) / 60, 1)
    return payload


def _feed_time(record: object) -> datetime | None:
    if isinstance(record, NurseFeed):
        return record.end_at
    if isinstance(record, BottleFeed):
        return record.start_at
    return None


def _iso(at: datetime | None) -> str | None:
    return None if at is None else at.isoformat(timespec="seconds")


__all__ = [
    "BUTTONS",
    "PHASES",
    "Topics",
    "discovery",
    "journal_payload",
    "pump_payload",
]
