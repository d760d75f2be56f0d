"""Home Assistant over MQTT: discovery, states, buttons, roles and a broker that goes away.

Each test starts Debian's ``mosquitto`` on a free loopback port (as root it drops to the
``mosquitto`` user by itself), runs the app with ``--mqtt`` pointing at it, and watches
every topic with a second client, as Home Assistant would. Without mosquitto the tests
skip, unless LETDOWN_REQUIRE_MQTT=1 (CI) makes that a failure.

The fields each discovery component may carry are those Home Assistant documents for
MQTT sensors, binary sensors and buttons
(https://www.home-assistant.io/integrations/sensor.mqtt/, …/binary_sensor.mqtt/,
…/button.mqtt/), in the device-based form (…/mqtt/#device-discovery-payload); the
units each device class takes are from
https://developers.home-assistant.io/docs/core/entity/sensor/#available-device-classes.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from paho.mqtt.enums import CallbackAPIVersion
from tests.conftest import make_parent
from tests.ports import free_port
from tests.web.conftest import SIM_SPEED

from letdown.web import Settings
from letdown.web import mqtt as mqtt_module
from letdown.web.live import LiveHub

MOSQUITTO = Path(os.environ.get("LETDOWN_MOSQUITTO", "/usr/sbin/mosquitto"))
REQUIRE_MQTT = os.environ.get("LETDOWN_REQUIRE_MQTT") == "1"
WAIT_S = 10.0
DEMO_WAIT_S = 60.0

COMMON = {
    "availability",
    "availability_mode",
    "availability_template",
    "availability_topic",
    "default_entity_id",
    "device",
    "enabled_by_default",
    "encoding",
    "entity_category",
    "entity_picture",
    "icon",
    "json_attributes_template",
    "json_attributes_topic",
    "name",
    "object_id",
    "origin",
    "payload_available",
    "payload_not_available",
    "platform",
    "qos",
    "unique_id",
}
DOCUMENTED = {
    "sensor": COMMON
    | {
        "device_class",
        "expire_after",
        "force_update",
        "last_reset_value_template",
        "options",
        "suggested_display_precision",
        "state_class",
        "state_topic",
        "unit_of_measurement",
        "value_template",
    },
    "binary_sensor": COMMON
    | {
        "device_class",
        "expire_after",
        "force_update",
        "off_delay",
        "payload_off",
        "payload_on",
        "state_topic",
        "value_template",
    },
    "button": COMMON
    | {"command_template", "command_topic", "device_class", "payload_press", "retain"},
}
"""Each MQTT platform's documented configuration keys (``p`` names the platform)."""
UNITS = {
    "pressure": {"cbar", "bar", "hPa", "mmHg", "inHg", "kPa", "mbar", "Pa", "psi", "mPa"},
    "volume": {"L", "mL", "gal", "fl. oz.", "m³", "ft³", "CCF", "MCF"},
    "volume_storage": {"L", "mL", "gal", "fl. oz.", "m³", "ft³", "CCF", "MCF"},
    "duration": {"d", "h", "min", "s", "ms", "µs"},
    "timestamp": {None},
    "enum": {None},
}
"""The units Home Assistant accepts for each sensor device class letdown uses."""
STATE_CLASSES = {"measurement", "total", "total_increasing"}
NO_MEASUREMENT = {"volume", "energy", "gas", "water", "monetary"}
"""Device classes Home Assistant refuses the ``measurement`` state class for."""
BINARY_CLASSES = {"problem", "running", None}
DEVICE_KEYS = {"ids", "name", "mf", "mdl", "sw", "cu", "hw", "sn", "sa"}
ORIGIN_KEYS = {"name", "sw", "url"}
SHARED = {"dev", "o", "cmps", "state_topic", "command_topic", "availability", "qos", "encoding"}

ISSUE_ENTITIES = {
    "pump": {
        "left_vacuum",
        "right_vacuum",
        "left_ceiling",
        "right_ceiling",
        "left_collected",
        "right_collected",
        "phase",
        "elapsed",
        "nearly_done",
        "start",
        "pause",
        "stop",
        "too_much_left",
        "too_much_right",
    },
    "journal": {
        "last_feed",
        "left_emptied",
        "right_emptied",
        "left_pumped_today",
        "right_pumped_today",
        "stash",
        "hours_covered",
        "next_bag",
        "next_bag_use_by",
        "red_flag",
    },
}
"""What issue 12 asks Home Assistant to show, by device."""


class Mosquitto:
    """A throwaway broker on 127.0.0.1: no persistence, so a restart forgets retained
    messages and only a client that republishes gets them back."""

    def __init__(self, folder: Path) -> None:
        self.port = free_port()
        self.config = folder / "mosquitto.conf"
        self.config.write_text(
            f"listener {self.port} 127.0.0.1\nallow_anonymous true\npersistence false\n"
        )
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [str(MOSQUITTO), "-c", str(self.config)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + WAIT_S
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), 0.2).close()
                return
            except OSError:
                if self.process.poll() is not None:
                    pytest.fail(f"mosquitto exited with {self.process.returncode}")
                time.sleep(0.05)
        pytest.fail("mosquitto did not start")

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(WAIT_S)


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Mosquitto]:
    if not MOSQUITTO.exists():
        if REQUIRE_MQTT:
            pytest.fail(f"LETDOWN_REQUIRE_MQTT=1 but {MOSQUITTO} is missing", pytrace=False)
        pytest.skip(f"no mosquitto for the tests ({MOSQUITTO}; apt-get install mosquitto)")
    server = Mosquitto(tmp_path)
    server.start()
    yield server
    server.kill()


class Watcher:
    """A client on every topic, as Home Assistant would be: the newest payload per topic."""

    def __init__(self, broker: Mosquitto) -> None:
        self.messages: dict[str, str] = {}
        self.results: list[dict[str, Any]] = []
        self._changed = threading.Condition()
        self.client = paho.Client(CallbackAPIVersion.VERSION2, client_id=uuid.uuid4().hex)
        self.connected = threading.Event()
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_message
        # connect_async, then loop_start: paho's wake-up sockets are made once (a plain
        # connect() first leaves a pair unclosed).
        self.client.connect_async("127.0.0.1", broker.port)
        self.client.loop_start()
        assert self.connected.wait(WAIT_S), "the watcher could not connect"

    def _on_connect(self, client: paho.Client, *_: Any) -> None:
        client.subscribe("#", qos=1)
        self.connected.set()

    def _on_message(self, client: paho.Client, userdata: Any, message: paho.MQTTMessage) -> None:
        text = message.payload.decode()
        with self._changed:
            self.messages[message.topic] = text
            if message.topic.endswith("/pump/result"):
                self.results.append(json.loads(text))
            self._changed.notify_all()

    def wait(
        self, topic: str, check: Callable[[str], bool] = bool, timeout_s: float = WAIT_S
    ) -> str:
        deadline = time.monotonic() + timeout_s
        with self._changed:
            while True:
                found = self.messages.get(topic)
                if found is not None and check(found):
                    return found
                left = deadline - time.monotonic()
                if left <= 0:
                    pytest.fail(f"{topic} never showed what was awaited (last: {found!r})")
                self._changed.wait(left)

    def wait_json(self, topic: str, check: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
        found = self.wait(topic, lambda text: bool(text) and check(json.loads(text)))
        result: dict[str, Any] = json.loads(found)
        return result

    def press(self, household_id: int, payload: str) -> dict[str, Any]:
        """Press a button (as Home Assistant does) and wait for what became of it."""
        before = len(self.results)
        self.client.publish(f"letdown/household_{household_id}/pump/command", payload, qos=1)
        deadline = time.monotonic() + WAIT_S
        with self._changed:
            while len(self.results) == before:
                left = deadline - time.monotonic()
                if left <= 0:
                    pytest.fail(f"no result for {payload!r}")
                self._changed.wait(left)
            return self.results[before]

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()
        self.client.reinitialise()  # closes paho's wake-up sockets now, not at some gc


@pytest.fixture
def watcher(broker: Mosquitto) -> Iterator[Watcher]:
    seen = Watcher(broker)
    yield seen
    seen.close()


@pytest.fixture(autouse=True)
def quick_journal_reads(monkeypatch: pytest.MonkeyPatch) -> None:
    """New households and journal changes reach Home Assistant within half a second."""
    monkeypatch.setattr(mqtt_module, "JOURNAL_PERIOD_S", 0.5)


@pytest.fixture
def settings(tmp_path: Path, broker: Mosquitto) -> Settings:
    return Settings(
        db=f"sqlite:///{tmp_path / 'letdown.sqlite'}",
        sim_speed=SIM_SPEED,
        mqtt=broker.url,
        mqtt_member="Alex",
    )


@pytest.fixture
def hub(app: FastAPI, client: TestClient) -> LiveHub:
    live: LiveHub = app.state.hub
    live.use_sim(make_parent(), seed="mqtt")
    return live


def household_id(client: TestClient) -> int:
    app: Any = client.app
    found: int = app.state.journal.book("Home").household.id
    return found


def configs(watcher: Watcher, house: int) -> dict[str, dict[str, Any]]:
    found = {}
    for device in ("pump", "journal"):
        topic = f"homeassistant/device/letdown_household_{house}_{device}/config"
        found[device] = json.loads(watcher.wait(topic))
    return found


def test_discovery_describes_every_entity_as_home_assistant_documents_it(
    client: TestClient, hub: LiveHub, watcher: Watcher
) -> None:
    house = household_id(client)
    found = configs(watcher, house)
    assert watcher.wait("letdown/status") == "online"
    for device, config in found.items():
        assert set(config) <= SHARED
        assert set(config["dev"]) <= DEVICE_KEYS
        assert config["dev"]["ids"] and config["dev"]["name"] == f"Home {device}"
        assert set(config["o"]) <= ORIGIN_KEYS and config["o"]["name"] == "letdown"
        assert {"topic": "letdown/status"} in config["availability"]
        assert ISSUE_ENTITIES[device] <= set(config["cmps"])
        unique_ids = [component["unique_id"] for component in config["cmps"].values()]
        assert len(set(unique_ids)) == len(unique_ids)
        for key, component in config["cmps"].items():
            platform = component["p"]
            fields = set(component) - {"p"}
            assert fields <= DOCUMENTED[platform], (key, fields - DOCUMENTED[platform])
            assert component["name"] and component["unique_id"]
            if platform == "button":
                assert component["command_topic"] == f"letdown/household_{house}/pump/command"
                assert component["payload_press"] == key
                continue
            if platform == "binary_sensor":
                assert component.get("device_class") in BINARY_CLASSES
                assert {component["payload_on"], component["payload_off"]} == {"ON", "OFF"}
                continue
            device_class = component.get("device_class")
            unit = component.get("unit_of_measurement")
            if device_class is not None:
                assert unit in UNITS[device_class], (key, device_class, unit)
            state_class = component.get("state_class")
            if device_class in ("enum", "timestamp") or (device_class is None and unit is None):
                assert state_class is None and unit is None, key  # a state in words
            else:
                assert state_class in STATE_CLASSES and unit, key
            if device_class in NO_MEASUREMENT:
                assert state_class != "measurement", key
            if device_class == "enum":
                assert "stimulation" in component["options"]
    pump = found["pump"]["cmps"]
    assert pump["left_vacuum"]["unit_of_measurement"] == "mmHg"
    assert pump["left_collected"]["unit_of_measurement"] == "mL"
    # Hours covered and the red flag come from the insights, available once read.
    insights = f"letdown/household_{house}/journal/insights"
    assert watcher.wait(insights) == "online"
    for key in ("hours_covered", "red_flag"):
        component = found["journal"]["cmps"][key]
        assert component["availability_mode"] == "all"
        assert {"topic": insights} in component["availability"]
    # Home Assistant restarting (its config forgotten) gets the discovery again.
    topic = f"homeassistant/device/letdown_household_{house}_pump/config"
    watcher.client.publish(topic, "", qos=1, retain=True).wait_for_publish(WAIT_S)
    watcher.wait(topic, lambda text: text == "")
    watcher.client.publish("homeassistant/status", "online", qos=1)
    assert json.loads(watcher.wait(topic))["cmps"] == pump


def test_states_follow_a_session_that_the_buttons_run(
    client: TestClient, hub: LiveHub, watcher: Watcher
) -> None:
    house = household_id(client)
    state = f"letdown/household_{house}/pump/state"
    idle = watcher.wait_json(state, lambda s: s["phase"] == "idle")
    assert idle["running"] == "OFF" and idle["left_vacuum_mmhg"] is None
    journal = f"letdown/household_{house}/journal/state"
    before = watcher.wait_json(journal, lambda s: "stash_ml" in s)
    assert before["left_emptied_at"] is None and before["stash_ml"] == 0
    # No child yet: no hours to tell; no flag.
    assert before["hours_covered"] is None and before["red_flag"] == "OFF"

    assert watcher.press(house, "start")["ok"] is True
    live = hub.session(house)
    assert live is not None and live.running and live.started_by == "Alex"
    running = watcher.wait_json(
        state, lambda s: s["running"] == "ON" and (s["left_vacuum_mmhg"] or 0) > 0
    )
    assert running["phase"] in ("stimulation", "expression")
    later = watcher.wait_json(state, lambda s: s["elapsed_s"] > running["elapsed_s"] + 5)
    assert later["left_ceiling_mmhg"] > 0

    ceiling = live.latest.left.ceiling_mmhg
    assert watcher.press(house, "too_much_left")["ok"] is True
    assert live.latest.left.ceiling_mmhg < ceiling
    assert watcher.press(house, "pause")["ok"] is True
    watcher.wait_json(state, lambda s: s["phase"] == "paused")
    assert watcher.press(house, "resume")["ok"] is True
    watcher.wait_json(state, lambda s: s["phase"] != "paused")
    assert watcher.press(house, "stop")["ok"] is True
    assert live.done.wait(WAIT_S)
    ended = watcher.wait_json(state, lambda s: s["running"] == "OFF")
    assert ended["phase"] == "done"
    # The session is in the journal now, and the journal's sensors say so.
    after = watcher.wait_json(journal, lambda s: s["left_emptied_at"] is not None)
    assert after["right_emptied_at"] is not None
    assert after["left_pumped_today_ml"] + after["right_pumped_today_ml"] >= 0
    entry = client.get("/api/v1/entries", params={"kind": "pump"}).json()
    assert len(entry) == 1 and entry[0]["entered_by"] == "Alex"

    refused = watcher.press(house, "explode")
    assert refused["ok"] is False and "unknown command" in refused["error"]


def test_the_journal_sensors_follow_the_journal(
    client: TestClient, hub: LiveHub, watcher: Watcher
) -> None:
    house = household_id(client)
    journal = f"letdown/household_{house}/journal/state"
    watcher.wait_json(journal, lambda s: s["last_feed_at"] is None)
    now = datetime.now(UTC).replace(microsecond=0)
    assert client.post("/api/v1/household/children", json={"name": "Robin"}).status_code == 201
    fed_at = now - timedelta(minutes=20)
    feed = {
        "kind": "nurse",
        "start_at": (fed_at - timedelta(minutes=18)).isoformat(),
        "end_at": fed_at.isoformat(),
        "child": "Robin",
        "sides": {"left": {"duration_s": 600}, "right": {"duration_s": 480}},
    }
    pumped_at = now - timedelta(minutes=5)
    pumped = {
        "kind": "pump",
        "start_at": (pumped_at - timedelta(minutes=10)).isoformat(),
        "end_at": pumped_at.isoformat(),
        "sides": {"left": {"volume_ml": 60}},
        "device": "spectra",
    }
    for record in (feed, pumped):
        assert client.post("/api/v1/entries", json=record).status_code == 201
    bag = {"volume_ml": 120, "expressed_at": pumped_at.isoformat(), "code": "A1"}
    assert client.post("/api/v1/stash", json=bag).status_code == 201

    state = watcher.wait_json(journal, lambda s: s["next_bag"] == "A1")
    assert datetime.fromisoformat(state["last_feed_at"]) == fed_at
    # The left side was emptied last by the pump, the right by the feed.
    assert datetime.fromisoformat(state["left_emptied_at"]) == pumped_at
    assert datetime.fromisoformat(state["right_emptied_at"]) == fed_at
    assert state["stash_ml"] == 120
    assert datetime.fromisoformat(state["next_bag_use_by"]) > now
    midnight = now.replace(hour=0, minute=0, second=0)  # "Home" keeps UTC
    started_today = pumped_at - timedelta(minutes=10) >= midnight
    assert state["left_pumped_today_ml"] == (60 if started_today else 0)
    assert state["right_pumped_today_ml"] == 0
    if fed_at - timedelta(minutes=18) >= midnight:
        assert state["left_nursed_today_min"] == 10 and state["right_nursed_today_min"] == 8


def test_stash_hours_and_the_red_flag_follow_the_insights_and_the_parents_choice(
    app: FastAPI,
    client: TestClient,
    hub: LiveHub,
    watcher: Watcher,
    partner_client: TestClient,
    broker: Mosquitto,
) -> None:
    """Home Assistant acting as Alex (the nursing parent) sees the fever's red flag; a
    second letdown acting as Sam (a partner) sees it only once Alex chooses Sam."""
    house = household_id(client)
    journal = f"letdown/household_{house}/journal/state"
    at = datetime.now(UTC).replace(microsecond=0)
    assert client.post("/api/v1/household/children", json={"name": "Robin"}).status_code == 201
    bag = {"volume_ml": 197, "expressed_at": (at - timedelta(hours=1)).isoformat(), "code": "B1"}
    assert client.post("/api/v1/stash", json=bag).status_code == 201
    fever = {
        "kind": "symptom",
        "start_at": (at - timedelta(hours=1)).isoformat(),
        "fever_c": 38.9,
        "sides": {"left": {"redness": True, "pain": 7}},
    }
    assert client.post("/api/v1/entries", json=fever).status_code == 201
    # 197 mL at the 1-6 months norm of 788 mL a day (Kent 2006): 6.0 h.
    state = watcher.wait_json(journal, lambda s: s["red_flag"] == "ON")
    assert state["hours_covered"] == 6.0
    assert watcher.wait(f"letdown/household_{house}/journal/insights") == "online"

    sams = mqtt_module.MqttBridge(
        broker.url, hub, app.state.journal, member="Sam", prefix="ha_sam", base="letdown_sam"
    )
    sams.start()
    try:
        for_sam = f"letdown_sam/household_{house}/journal/state"
        state = watcher.wait_json(for_sam, lambda s: s["hours_covered"] == 6.0)
        assert state["red_flag"] == "OFF"  # the fever is Alex's own
        chosen = client.put("/api/v1/household/members/Sam/private", json={"sees_private": True})
        assert chosen.status_code == 200
        watcher.wait_json(for_sam, lambda s: s["red_flag"] == "ON")
        assert partner_client.get("/api/v1/insights").json()["flags"] != []
    finally:
        sams.close()


def test_a_viewer_named_for_home_assistant_cannot_run_the_pump(
    app: FastAPI,
    client: TestClient,
    hub: LiveHub,
    watcher: Watcher,
    viewer_client: TestClient,
) -> None:
    app.state.mqtt.member = "Gran"
    house = household_id(client)
    configs(watcher, house)
    refused = watcher.press(house, "start")
    assert refused["ok"] is False and "viewer" in refused["error"]
    assert refused["member"] == "Gran"
    assert hub.session(house) is None
    state = watcher.wait_json(f"letdown/household_{house}/pump/state", lambda s: True)
    assert state["running"] == "OFF"
    # Nobody named: every button is refused, saying how to name someone.
    app.state.mqtt.member = None
    refused = watcher.press(house, "start")
    assert refused["ok"] is False and "--mqtt-member" in refused["error"]
    assert hub.session(house) is None


def test_the_broker_going_away_mid_session_leaves_the_pump_alone(
    client: TestClient,
    hub: LiveHub,
    broker: Mosquitto,
    watcher: Watcher,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="letdown.web.mqtt")
    house = household_id(client)
    configs(watcher, house)
    assert watcher.press(house, "start")["ok"] is True
    live = hub.session(house)
    assert live is not None
    watcher.close()

    broker.kill()
    elapsed_s = live.latest.elapsed_s
    time.sleep(1.0)
    # The pump ran on at its pace (50x), and the journal still takes entries.
    assert live.running and live.latest.elapsed_s > elapsed_s + 20
    feed = client.post(
        "/api/v1/entries",
        json={"kind": "care", "start_at": "2026-01-01T08:00:00Z", "care": "salve"},
    )
    assert feed.status_code == 201, feed.text
    assert any("reconnecting" in record.getMessage() for record in caplog.records)

    broker.start()
    again = Watcher(broker)
    try:
        found = configs(again, house)
        assert "start" in found["pump"]["cmps"]
        assert again.wait("letdown/status") == "online"
        state = again.wait_json(
            f"letdown/household_{house}/pump/state", lambda s: s["running"] == "ON"
        )
        assert state["elapsed_s"] > elapsed_s + 20
        assert again.press(house, "stop")["ok"] is True
        assert live.done.wait(WAIT_S)
    finally:
        again.close()


def test_demo_publishes_discovery(broker: Mosquitto, tmp_path: Path) -> None:
    """The interface outside scripts read: ``letdown demo --mqtt`` publishes retained
    discovery with buttons and sensors, and ``online``. (Within 10 s on an idle machine;
    the wait here is longer, as a loaded CI machine takes longer to make the demo.)"""
    letdown = shutil.which("letdown") or str(Path(sys.executable).parent / "letdown")
    demo = subprocess.Popen(
        [
            letdown,
            "demo",
            "--no-browser",
            "--port",
            str(free_port()),
            "--db",
            f"sqlite:///{tmp_path / 'demo.sqlite'}",
            "--mqtt",
            broker.url,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    watcher = Watcher(broker)
    try:
        watcher.wait("letdown/status", lambda text: text == "online", DEMO_WAIT_S)
        configs_seen = [
            json.loads(watcher.wait(f"homeassistant/device/letdown_household_1_{device}/config"))
            for device in ("pump", "journal")
        ]
        demo.kill()
        # Killed outright, letdown cannot say goodbye: its last will says it for it.
        watcher.wait("letdown/status", lambda text: text == "offline")
    finally:
        demo.terminate()
        demo.wait(WAIT_S)
        watcher.close()
    components = [c for config in configs_seen for c in config["cmps"].values()]
    assert any(c["p"] == "button" and c.get("command_topic") for c in components)
    assert any(c["p"] == "sensor" and c.get("unit_of_measurement") for c in components)
