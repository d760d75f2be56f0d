"""SIGINT and SIGTERM to `letdown pump`, `letdown serve` and `letdown demo` leave the pump
off: motors off and vents open, said on the way out, and the session stored."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from tests.ports import free_port

START_TIMEOUT_S = 90.0


def _letdown(*args: str) -> list[str]:
    return [sys.executable, "-c", "from letdown.cli import main; main()", *args]


def _env() -> dict[str, str]:
    return {**os.environ, "COLUMNS": "200", "LETDOWN_FAST_HASHING": "1"}


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_signal_to_letdown_pump_leaves_the_pump_off(sig: signal.Signals) -> None:
    with subprocess.Popen(
        _letdown("pump", "--sim", "--speed", "1"),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=_env(),
    ) as run:
        assert run.stdout is not None
        first = run.stdout.readline()
        assert "The session has started" in first, first
        time.sleep(1.0)
        assert run.poll() is None
        run.send_signal(sig)
        output, _ = run.communicate(timeout=30)
    assert run.returncode == 0, output
    assert "The pump is off: motors off, vents open." in output
    assert "Traceback" not in output


def _call(url: str, body: dict[str, object] | None, headers: dict[str, str]) -> dict[str, object]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        url,
        data=data,
        headers={"Content-Type": "application/json", **headers},
        method="GET" if body is None else "POST",
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        found: dict[str, object] = json.loads(answer.read() or b"{}")
        cookie = answer.headers.get("Set-Cookie")
        if cookie:
            headers["Cookie"] = cookie.split(";", 1)[0]
        return found


def _wait_up(base: str, server: subprocess.Popen[str]) -> None:
    deadline_s = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline_s and server.poll() is None:
        try:
            with urllib.request.urlopen(f"{base}/login", timeout=5):
                return
        except OSError:
            time.sleep(0.2)
    raise AssertionError("the app did not start")


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_signal_to_letdown_demo_with_a_session_running_leaves_the_pump_off(
    sig: signal.Signals, tmp_path: Path
) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    db = f"sqlite:///{tmp_path / 'demo.sqlite'}"
    with subprocess.Popen(
        _letdown("demo", "--no-browser", "--port", str(port), "--db", db),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=_env(),
    ) as server:
        try:
            _wait_up(base, server)
            headers = {"Origin": base}
            me = _call(
                f"{base}/api/v1/login", {"login": "partner", "password": "letdown-demo"}, headers
            )
            headers["X-CSRF-Token"] = str(me["csrf_token"])
            _call(f"{base}/api/v1/pump/start", {"program": "letdown"}, headers)
            time.sleep(1.0)
            state = _call(f"{base}/api/v1/pump", None, headers)
            assert state["running"], state
        finally:
            server.send_signal(sig)
            output, _ = server.communicate(timeout=60)
    # Uvicorn re-raises SIGTERM once it has shut down cleanly, as a service manager expects.
    assert server.returncode in (0, -sig.value), output
    assert "the pump of Demo home is off (motors off, vents open)" in output
    assert "Traceback" not in output
