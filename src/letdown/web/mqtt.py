"""The household's pump and journal in Home Assistant, over MQTT (paho-mqtt 2).

``MqttBridge`` runs beside the web app: paho's own thread keeps the connection (it
reconnects with a backoff of 1 s doubling to 30 s, and the log says so), and one worker
thread of the bridge reads the live hub and the journal and publishes. Nothing in the
pump or the journal ever waits on the bridge: it polls them, so a broker that is down,
slow or gone costs them nothing.

On every connection, and whenever Home Assistant announces itself ``online`` on
``homeassistant/status``, the bridge publishes (retained) its availability, each
household's discovery configs and their states. Its last will sets the availability to
``offline``, so Home Assistant greys every entity out when letdown goes away.

Buttons send their payload to ``letdown/household_<id>/pump/command``; the bridge acts
as the member named for it (``--mqtt-member``), with that member's role: a viewer, or no
member named, is refused, and the refusal is published on ``…/pump/result`` and logged.
"""

from __future__ import annotations

import contextlib
import json
import logging
import queue
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from letdown.device.base import Side
from letdown.errors import InvalidEntryError, LetdownError
from letdown.journal import Identity, Journal
from letdown.journal.records import now_utc
from letdown.web.homeassistant import Topics, discovery, journal_payload, pump_payload
from letdown.web.live import LiveCommand, LiveHub
from letdown.web.pump import pump_state

log = logging.getLogger(__name__)

RECONNECT_MIN_S = 1
RECONNECT_MAX_S = 30
"""Backoff between reconnection tries: 1 s, doubling up to 30 s."""
KEEPALIVE_S = 30
POLL_S = 0.5
"""How often the pump's state is looked at (published only when it changed)."""
JOURNAL_PERIOD_S = 15.0
"""How often the journal's sensors are read afresh (and at once after a command)."""
CLOSE_WAIT_S = 2.0
MAX_QUEUED = 1000
"""Messages paho keeps while disconnected, at most (the bridge skips publishing then)."""
COMMAND = "+"
HA_STATUS_ONLINE = "online"


class MqttUrlError(LetdownError, ValueError):
    """The --mqtt address cannot be used."""


class NotNamedError(LetdownError, PermissionError):
    """No member is named for MQTT commands."""


@dataclass(frozen=True)
class Broker:
    host: str
    port: int
    username: str | None = None
    password: str | None = None
    tls: bool = False

    @property
    def shown(self) -> str:
        """The address without its password, for the log."""
        who = f"{self.username}@" if self.username else ""
        return f"{'mqtts' if self.tls else 'mqtt'}://{who}{self.host}:{self.port}"


def parse_broker(url: str) -> Broker:
    """``mqtt://user:pass@host:1883`` (or ``mqtts://`` for TLS, port 8883 by default)."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("mqtt", "mqtts"):
        raise MqttUrlError(
            f"--mqtt {url!r}: give the broker as mqtt://host:1883 "
            "(or mqtt://user:password@host:1883, mqtts:// for TLS)"
        )
    if not parts.hostname:
        raise MqttUrlError(f"--mqtt {url!r}: the broker's host is missing")
    try:
        port = parts.port
    except ValueError:
        raise MqttUrlError(f"--mqtt {url!r}: the port must be a number up to 65535") from None
    tls = parts.scheme == "mqtts"
    return Broker(
        host=parts.hostname,
        port=port or (8883 if tls else 1883),
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
        tls=tls,
    )


@dataclass
class _House:
    id: int
    name: str
    topics: Topics
    reader: Identity
    last_pump: str | None = None
    last_journal: str | None = None
    journal_at: float = 0.0


class MqttBridge:
    """Home Assistant discovery, states and buttons for every household in ``journal``.

    Args:
        url: the broker, ``mqtt://user:pass@host:port``.
        hub: the live pump hub whose sessions the buttons run and the sensors show.
        member: the member MQTT commands act as (their role decides; None: refused).
        configuration_url: the app's address, linked from Home Assistant's device page.
    """

    def __init__(
        self,
        url: str,
        hub: LiveHub,
        journal: Journal,
        *,
        member: str | None = None,
        prefix: str = "homeassistant",
        base: str = "letdown",
        configuration_url: str | None = None,
    ) -> None:
        self.broker = parse_broker(url)
        self.hub = hub
        self.journal = journal
        self.member = member
        self.prefix = prefix
        self.base = base
        self.configuration_url = configuration_url
        self.connected = threading.Event()
        self.connections = 0
        """Connections made so far (a reconnection adds one)."""
        self._fresh = threading.Event()
        self._stop = threading.Event()
        self._commands: queue.Queue[tuple[str, str]] = queue.Queue()
        self._houses: dict[int, _House] = {}
        self._houses_at = 0.0
        self._failures = 0
        self._thread: threading.Thread | None = None
        self._client = self._make_client()

    # --- lifecycle ---------------------------------------------------------------------------
    def start(self) -> None:
        """Connect in the background (never waits for the broker) and start publishing."""
        log.info("MQTT: connecting to %s", self.broker.shown)
        self._client.connect_async(self.broker.host, self.broker.port, keepalive=KEEPALIVE_S)
        self._client.loop_start()
        self._thread = threading.Thread(target=self._work, name="letdown-mqtt", daemon=True)
        self._thread.start()

    def close(self) -> None:
        """Say ``offline``, disconnect and stop the threads (idempotent)."""
        if self._stop.is_set():
            return
        self._stop.set()
        if self._thread is not None:
            self._thread.join(CLOSE_WAIT_S)
        if self.connected.is_set():
            info = self._client.publish(Topics(self.base, 0).status, "offline", 1, retain=True)
            with contextlib.suppress(RuntimeError, ValueError):
                info.wait_for_publish(CLOSE_WAIT_S)
        self._client.disconnect()
        self._client.loop_stop()
        # Closes paho's wake-up sockets now: left to the garbage collector, they may be
        # finalized before the client that would close them (a ResourceWarning).
        self._client.reinitialise()

    # --- paho's thread -----------------------------------------------------------------------
    def _make_client(self) -> paho.Client:
        client = paho.Client(
            CallbackAPIVersion.VERSION2,
            client_id=f"letdown-{uuid.uuid4().hex[:12]}",
            protocol=paho.MQTTv311,
        )
        if self.broker.username is not None:
            client.username_pw_set(self.broker.username, self.broker.password)
        if self.broker.tls:
            client.tls_set()
        client.will_set(Topics(self.base, 0).status, "offline", qos=1, retain=True)
        client.reconnect_delay_set(RECONNECT_MIN_S, RECONNECT_MAX_S)
        client.max_queued_messages_set(MAX_QUEUED)
        client.on_connect = self._on_connect
        client.on_connect_fail = self._on_connect_fail
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        return client

    def _on_connect(
        self,
        client: paho.Client,
        userdata: Any,
        flags: paho.ConnectFlags,
        reason: ReasonCode,
        properties: Properties | None,
    ) -> None:
        if reason.is_failure:
            log.error("MQTT: the broker at %s refused letdown: %s", self.broker.shown, reason)
            return
        self._failures = 0
        self.connections += 1
        log.info("MQTT: connected to %s", self.broker.shown)
        client.subscribe(f"{self.prefix}/status", qos=1)
        client.subscribe(f"{self.base}/{COMMAND}/pump/command", qos=1)
        self.connected.set()
        self._fresh.set()

    def _on_connect_fail(self, client: paho.Client, userdata: Any) -> None:
        self._failures += 1
        wait_s = min(RECONNECT_MAX_S, RECONNECT_MIN_S * 2 ** (self._failures - 1))
        log.warning(
            "MQTT: cannot reach the broker at %s; trying again in up to %d s "
            "(the pump and the journal carry on without it)",
            self.broker.shown,
            wait_s,
        )

    def _on_disconnect(
        self,
        client: paho.Client,
        userdata: Any,
        flags: paho.DisconnectFlags,
        reason: ReasonCode,
        properties: Properties | None,
    ) -> None:
        self.connected.clear()
        if self._stop.is_set():
            return
        log.warning(
            "MQTT: lost the broker at %s (%s); reconnecting with a backoff of %d to %d s "
            "(the pump and the journal carry on without it)",
            self.broker.shown,
            reason,
            RECONNECT_MIN_S,
            RECONNECT_MAX_S,
        )

    def _on_message(self, client: paho.Client, userdata: Any, message: paho.MQTTMessage) -> None:
        payload = message.payload.decode("utf-8", "replace").strip()
        if message.topic == f"{self.prefix}/status":
            if payload == HA_STATUS_ONLINE:
                log.info("MQTT: Home Assistant is online: publishing discovery again")
                self._fresh.set()
            return
        # Acting may wait for the pump (half a second): never in paho's thread.
        self._commands.put((message.topic, payload))

    # --- the worker thread -------------------------------------------------------------------
    def _work(self) -> None:
        while not self._stop.is_set():
            try:
                self._step()
            except Exception:  # the bridge must never die of one bad reading
                log.exception("MQTT: could not publish the household's state")
                self._stop.wait(POLL_S)

    def _step(self) -> None:
        try:
            topic, payload = self._commands.get(timeout=POLL_S)
        except queue.Empty:
            pass
        else:
            self._command(topic, payload)
        if not self.connected.is_set():
            return
        fresh = self._fresh.is_set()
        if fresh:
            self._fresh.clear()
            self._publish_all()
            return
        now = time.monotonic()
        if now - self._houses_at >= JOURNAL_PERIOD_S:
            self._refresh_houses()
        for house in list(self._houses.values()):
            self._publish_pump(house)
            if now - house.journal_at >= JOURNAL_PERIOD_S:
                self._publish_journal(house)

    def _publish_all(self) -> None:
        """Availability, every household's discovery, then every state (forced)."""
        self._refresh_houses(announce=False)
        self._publish(Topics(self.base, 0).status, "online", retain=True)
        for house in self._houses.values():
            self._announce(house)

    def _announce(self, house: _House) -> None:
        configs = discovery(house.topics, house.name, configuration_url=self.configuration_url)
        for topic, config in configs.items():
            self._publish(topic, json.dumps(config), retain=True)
        self._publish(house.topics.insights, "offline", retain=True)
        house.last_pump = house.last_journal = None
        self._publish_pump(house)
        self._publish_journal(house)

    def _refresh_houses(self, *, announce: bool = True) -> None:
        self._houses_at = time.monotonic()
        for name in self.journal.household_names():
            book = self.journal.book(household=name)
            if book.household.id in self._houses:
                continue
            reader = Identity(
                member_id=book.member.id,
                member=book.member.name,
                household_id=book.household.id,
                household=book.household.name,
                role=book.member.role,
                time_zone=book.household.time_zone,
            )
            house = _House(
                book.household.id, name, Topics(self.base, book.household.id, self.prefix), reader
            )
            self._houses[house.id] = house
            if announce:
                self._announce(house)

    def _publish_pump(self, house: _House) -> None:
        state = pump_state(self.hub.state(house.reader))
        text = json.dumps(pump_payload(state))
        if text != house.last_pump:
            house.last_pump = text
            # QoS 0: a state published as the broker goes away is dropped, not sent stale
            # after the reconnection (which publishes every state afresh anyway).
            self._publish(house.topics.pump_state, text, retain=True, qos=0)

    def _publish_journal(self, house: _House) -> None:
        house.journal_at = time.monotonic()
        book = self.journal.book(household=house.name)
        text = json.dumps(journal_payload(book, now_utc()))
        if text != house.last_journal:
            house.last_journal = text
            self._publish(house.topics.journal_state, text, retain=True, qos=0)

    def _publish(self, topic: str, payload: str, *, retain: bool = False, qos: int = 1) -> None:
        info = self._client.publish(topic, payload, qos=qos, retain=retain)
        if info.rc != paho.MQTT_ERR_SUCCESS:
            log.debug("MQTT: %s not published (%s)", topic, paho.error_string(info.rc))

    # --- commands ----------------------------------------------------------------------------
    def _command(self, topic: str, payload: str) -> None:
        house = self._house_of(topic)
        if house is None:
            log.warning("MQTT: a command for an unknown household on %s: ignored", topic)
            return
        result: dict[str, Any] = {"command": payload, "member": self.member}
        try:
            who = self._identity(house)
            self._act(who, payload)
        except LetdownError as exc:
            log.warning("MQTT: %r from Home Assistant refused: %s", payload, exc)
            result.update(ok=False, error=str(exc))
        else:
            log.info("MQTT: %r from Home Assistant, as %s", payload, self.member)
            result.update(ok=True, error=None)
        self._publish(house.topics.pump_result, json.dumps(result))
        if self.connected.is_set():
            self._publish_pump(house)
            self._publish_journal(house)

    def _house_of(self, topic: str) -> _House | None:
        parts = topic.split("/")
        if len(parts) != 4 or not parts[1].startswith("household_"):
            return None
        try:
            household_id = int(parts[1].removeprefix("household_"))
        except ValueError:
            return None
        if household_id not in self._houses:
            self._refresh_houses()
        return self._houses.get(household_id)

    def _identity(self, house: _House) -> Identity:
        if self.member is None:
            raise NotNamedError(
                "no member is named for Home Assistant's buttons: start letdown with "
                "--mqtt-member NAME (a member who may run the pump)"
            )
        book = self.journal.book(household=house.name, member=self.member)
        return Identity(
            member_id=book.member.id,
            member=book.member.name,
            household_id=book.household.id,
            household=book.household.name,
            role=book.member.role,
            time_zone=book.household.time_zone,
        )

    def _act(self, who: Identity, payload: str) -> None:
        command_id = f"mqtt:{uuid.uuid4().hex}"
        if payload == "start":
            self.hub.start(who)
        elif payload == "stop":
            self.hub.stop(who)
        elif payload in ("pause", "resume"):
            self.hub.act(who, command_id, LiveCommand(payload))
        elif payload in ("too_much_left", "too_much_right"):
            side = Side(payload.removeprefix("too_much_"))
            self.hub.act(who, command_id, LiveCommand.TOO_MUCH, side)
        else:
            raise InvalidEntryError(
                f"unknown command {payload[:40]!r}: start, pause, resume, stop, "
                "too_much_left or too_much_right"
            )


__all__ = ["Broker", "MqttBridge", "MqttUrlError", "parse_broker"]
