"""How fast the web app answers a busy household: ``letdown bench web``.

The target (web issue): with the demo household two years in, 50 concurrent clients on
loopback for 20 s, the dashboard page and the ``/api/v1`` summaries answer within 50 ms
at p95, and a live pump update reaches a phone within 200 ms at p95.

The household is ``ensure_demo_household(days=730)`` in a temporary SQLite file. The app
runs with Uvicorn (one worker) in a background thread on 127.0.0.1 and a free port, the
simulated pump at real speed; the bench logs in as the nursing parent, starts one live
session and asks for each page once to warm up. The clients then run in one other
process (asyncio, httpx2): each is a phone with its own connection and the parent's
session cookie, asking for ``/`` (the dashboard, HTML), ``/api/v1/summary?hours=24``,
``/`` again and ``/api/v1/summary?hours=168`` in turn, with a pause of ``think_s`` on
average (0.5 to 1.5 times it) between requests, for ``seconds``. Beside them a few
clients hold the live WebSocket open; for each state they receive, the live delay is
the receive time less the state's ``sent_at`` (wall clocks of one machine); the delay
from the readings (``read_at``) is reported too. Latency is measured by the client, from
sending the request to having read the whole body; ``client_loop_lag`` says how late
the clients' own event loop ran (large, and the clients rather than the app were slow).
An error is a response other than 2xx, or a request or socket that failed.

The load generator shares the machine's cores with the server (2 on the project's
machines, with whatever else runs there): the clients' process takes CPU time the
server would otherwise have, so the figures are an upper bound on what phones on the
network would see. A p95 is the nearest-rank 95th percentile.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import ssl
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import AsyncExitStack, contextmanager
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import httpx2
import uvicorn
from websockets.asyncio.client import connect
from websockets.exceptions import WebSocketException

from letdown.bench.journal import _percentile_ms
from letdown.errors import LetdownError
from letdown.journal import Journal
from letdown.web.app import create_app
from letdown.web.demo import DEMO_PASSWORD, PARENT, address, ensure_demo_household, listen
from letdown.web.deps import CSRF_HEADER, SESSION_COOKIE
from letdown.web.settings import Settings

TARGET_P95_MS = {"dashboard": 50.0, "api_summary": 50.0, "live_delay": 200.0, "charts": 50.0}
PATHS = (
    ("dashboard", "/"),
    ("charts", "/charts"),
    ("summary_24h", "/api/v1/summary?hours=24"),
    ("dashboard", "/"),
    ("summary_168h", "/api/v1/summary?hours=168"),
)
"""What each client asks for, in turn (each starts at a different place in the round)."""
THINK_S = 1.0
"""A client's pause between requests, on average: a phone asking once a second."""
MAX_REQUESTS = 100_000
"""Per client: a bound on the loop whatever the clock says."""
MAX_UPDATES = 100_000
"""Per live client, likewise."""
START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 15.0
REQUEST_TIMEOUT_S = 30.0
LAG_PERIOD_S = 0.01
EXAMPLES = 5
"""Errors kept word for word in the report, to say what went wrong."""

Stage = Callable[[str], None]


class BenchError(LetdownError, RuntimeError):
    """The bench could not measure: the app did not start, or a figure got no sample."""


def live_clients_for(clients: int) -> int:
    """A few phones on the live page beside the others: one per ten, one to five."""
    return max(1, min(5, clients // 10))


@dataclass
class _Samples:
    """Latencies in seconds by name, and what failed."""

    seconds: dict[str, list[float]] = field(default_factory=dict)
    errors: int = 0
    examples: list[str] = field(default_factory=list)
    load_s: float = 0.0

    def add(self, name: str, value_s: float) -> None:
        self.seconds.setdefault(name, []).append(value_s)

    def failed(self, what: str) -> None:
        self.errors += 1
        if len(self.examples) < EXAMPLES:
            self.examples.append(what)

    def merge(self, other: _Samples) -> None:
        for name, values in other.seconds.items():
            self.seconds.setdefault(name, []).extend(values)
        self.errors += other.errors
        self.examples.extend(other.examples[: EXAMPLES - len(self.examples)])

    def combined(self, *names: str) -> list[float]:
        return [value for name in names for value in self.seconds.get(name, [])]


def run_web_bench(
    *,
    clients: int = 50,
    seconds: float = 20.0,
    days: int = 730,
    seed: int = 0,
    think_s: float = THINK_S,
    on_stage: Stage | None = None,
) -> dict[str, Any]:
    """Build the demo household, serve it, load it; the figures as ``letdown bench web`` writes.

    Returns ``clients``, ``seconds`` (the load's wall time), ``p95_ms`` (``dashboard``,
    ``api_summary`` with both spans, ``live_delay``, ``charts``) and ``errors``, then more: p50s,
    each summary span's p95, the live delay from the readings, request counts, the
    targets and whether they were met, and how the household was built.
    """
    if not 1 <= clients <= 1000:
        raise ValueError(f"clients must be within [1, 1000], got {clients}")
    if not 0 < seconds <= 3600:
        raise ValueError(f"seconds must be within (0, 3600], got {seconds}")
    if think_s < 0:
        raise ValueError(f"think_s must be at least 0, got {think_s}")
    stage = on_stage or (lambda _text: None)
    live_clients = live_clients_for(clients)
    with tempfile.TemporaryDirectory(prefix="letdown-bench-web-") as folder:
        url = f"sqlite:///{Path(folder) / 'journal.sqlite'}"
        with Journal.open(url) as journal:
            stage(f"building the demo household ({days} days)")
            build_start = time.perf_counter()
            made = ensure_demo_household(journal, days=days, seed=seed)
            build_s = time.perf_counter() - build_start
            settings = Settings(db=url, sim_speed=1.0, sim_seed=seed)
            with _serving(settings, journal) as base_url:
                stage(f"{clients} clients and {live_clients} live for {seconds:g} s")
                load = (base_url, clients, live_clients, seconds, think_s, seed)
                with ProcessPoolExecutor(1, mp_context=get_context("spawn")) as clients_process:
                    samples = clients_process.submit(_load_in_child, load).result()
    load_s = samples.load_s
    figures = {
        "dashboard": samples.combined("dashboard"),
        "api_summary": samples.combined("summary_24h", "summary_168h"),
        "live_delay": samples.combined("live_delay"),
        "charts": samples.combined("charts"),
    }
    for name, values in figures.items():
        if not values:
            problems = "; ".join(samples.examples) or "none"
            raise BenchError(f"no {name} sample: {samples.errors} errors (first: {problems})")
    p95_ms = {name: _percentile_ms(values, 0.95) for name, values in figures.items()}
    others = {
        name: samples.combined(name)
        for name in ("summary_24h", "summary_168h", "live_read_delay", "client_loop_lag")
    }
    requests = sum(
        len(samples.combined(name))
        for name in ("dashboard", "summary_24h", "summary_168h", "charts")
    )
    return {
        "clients": clients,
        "seconds": round(load_s, 3),
        "p95_ms": p95_ms,
        "errors": samples.errors,
        "target_p95_ms": TARGET_P95_MS,
        "ok": samples.errors == 0
        and all(p95_ms[name] <= target for name, target in TARGET_P95_MS.items()),
        "p50_ms": {name: _percentile_ms(values, 0.5) for name, values in figures.items()},
        "other_p95_ms": {
            name: _percentile_ms(values, 0.95) for name, values in others.items() if values
        },
        "requests": {
            "dashboard": len(figures["dashboard"]),
            "api_summary": len(figures["api_summary"]),
            "live_updates": len(figures["live_delay"]),
            "charts": len(figures["charts"]),
        },
        "requests_per_s": requests / load_s,
        "client_loop_lag_max_ms": max(samples.combined("client_loop_lag"), default=0.0) * 1000,
        "live_clients": live_clients,
        "think_s": think_s,
        "error_examples": samples.examples,
        "days": days,
        "entries": made.entries,
        "build_s": round(build_s, 3),
        "cores": os.cpu_count() or 1,
        "seed": seed,
    }


@contextmanager
def _serving(settings: Settings, journal: Journal) -> Iterator[str]:
    """The app under Uvicorn in a background thread on a free loopback port; its URL."""
    sock = listen("127.0.0.1", 0)
    config = uvicorn.Config(
        create_app(settings, journal=journal),
        log_config=None,
        log_level="warning",
        access_log=False,
        lifespan="on",
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name="letdown-bench-server", daemon=True
    )
    thread.start()
    try:
        deadline_s = time.monotonic() + START_TIMEOUT_S
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline_s:
                raise BenchError("the app did not start (see the log above)")
            time.sleep(0.02)
        yield address(sock)
    finally:
        server.should_exit = True
        thread.join(STOP_TIMEOUT_S)
        sock.close()


def _load_in_child(load: tuple[str, int, int, float, float, int]) -> _Samples:
    return asyncio.run(_load(*load))


async def _load(
    base_url: str, clients: int, live_clients: int, seconds: float, think_s: float, seed: int
) -> _Samples:
    """Log in, start the pump, run every client until the deadline, stop the pump."""
    loop = asyncio.get_running_loop()
    # One TLS context for all: each client would otherwise load the CA store (50 ms) and
    # hold up the others (no request here uses TLS).
    tls = ssl.create_default_context()
    async with AsyncExitStack() as stack:
        admin = await stack.enter_async_context(_client(base_url, tls))
        answer = await admin.post(
            "/api/v1/login", json={"login": PARENT.login, "password": DEMO_PASSWORD}
        )
        _check(answer, "log in")
        csrf = {CSRF_HEADER: answer.json()["csrf_token"]}
        cookie = admin.cookies[SESSION_COOKIE]
        _check(await admin.post("/api/v1/pump/start", json={}, headers=csrf), "start the pump")
        for _name, path in PATHS:
            _check(await admin.get(path, headers={"Accept": "text/html"}), f"warm up {path}")
        phones = [
            await stack.enter_async_context(_client(base_url, tls, cookie)) for _ in range(clients)
        ]
        load_start_s = loop.time()
        deadline_s = load_start_s + seconds
        runs = [
            _browse(phone, index, deadline_s, think_s, seed) for index, phone in enumerate(phones)
        ]
        runs += [_watch(base_url, cookie, deadline_s) for _ in range(live_clients)]
        runs.append(_loop_lag(deadline_s))
        samples = _Samples()
        for result in await asyncio.gather(*runs):
            samples.merge(result)
        samples.load_s = loop.time() - load_start_s
        _check(await admin.post("/api/v1/pump/stop", headers=csrf), "stop the pump")
    return samples


def _client(base_url: str, tls: ssl.SSLContext, cookie: str | None = None) -> httpx2.AsyncClient:
    return httpx2.AsyncClient(
        base_url=base_url,
        cookies=None if cookie is None else {SESSION_COOKIE: cookie},
        headers={"Accept": "text/html,application/json"},
        timeout=REQUEST_TIMEOUT_S,
        verify=tls,
        trust_env=False,
    )


async def _loop_lag(deadline_s: float) -> _Samples:
    """How late the clients' own event loop wakes up: if it is late, so are their figures."""
    loop = asyncio.get_running_loop()
    samples = _Samples()
    for _ in range(MAX_UPDATES):
        asleep_s = loop.time()
        if asleep_s >= deadline_s:
            break
        await asyncio.sleep(LAG_PERIOD_S)
        samples.add("client_loop_lag", loop.time() - asleep_s - LAG_PERIOD_S)
    return samples


def _check(answer: Any, what: str) -> None:
    if not answer.is_success:
        raise BenchError(f"could not {what}: HTTP {answer.status_code} {answer.text[:200]}")


async def _browse(
    client: httpx2.AsyncClient, index: int, deadline_s: float, think_s: float, seed: int
) -> _Samples:
    """One phone going round the dashboard and the summaries."""
    loop = asyncio.get_running_loop()
    rng = random.Random(f"web bench {seed} client {index}")
    samples = _Samples()
    await asyncio.sleep(rng.uniform(0, think_s))
    for number in range(MAX_REQUESTS):
        if loop.time() >= deadline_s:
            break
        name, path = PATHS[(index + number) % len(PATHS)]
        start_s = time.perf_counter()
        try:
            answer = await client.get(path)
        except httpx2.HTTPError as exc:
            samples.failed(f"GET {path}: {type(exc).__name__} {exc}")
        else:
            if answer.is_success:
                samples.add(name, time.perf_counter() - start_s)
            else:
                samples.failed(f"GET {path}: HTTP {answer.status_code}")
        pause_s = min(think_s * rng.uniform(0.5, 1.5), deadline_s - loop.time())
        if pause_s > 0:
            await asyncio.sleep(pause_s)
    return samples


async def _watch(base_url: str, cookie: str, deadline_s: float) -> _Samples:
    """One phone on the live page: how late each state arrives."""
    loop = asyncio.get_running_loop()
    samples = _Samples()
    url = "ws" + base_url.removeprefix("http") + "/api/v1/pump/live"
    try:
        async with connect(
            url, additional_headers={"Cookie": f"{SESSION_COOKIE}={cookie}"}, proxy=None
        ) as live:
            for _ in range(MAX_UPDATES):
                remaining_s = deadline_s - loop.time()
                if remaining_s <= 0:
                    break
                try:
                    message = await asyncio.wait_for(live.recv(), remaining_s)
                except TimeoutError:
                    break
                received_at = time.time()
                state = json.loads(message)
                samples.add("live_delay", received_at - state["sent_at"])
                if state.get("read_at") is not None:
                    samples.add("live_read_delay", received_at - state["read_at"])
    except (OSError, WebSocketException) as exc:
        samples.failed(f"live: {type(exc).__name__} {exc}")
    return samples


__all__ = ["TARGET_P95_MS", "BenchError", "live_clients_for", "run_web_bench"]
