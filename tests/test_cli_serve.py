"""``letdown serve`` and ``letdown demo``: the app, the demo household, clear errors."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from argon2 import PasswordHasher
from tests.ports import free_port
from typer.testing import CliRunner

from letdown.cli import app, serve
from letdown.journal import Journal, accounts

runner = CliRunner()
START_TIMEOUT_S = 60.0


@pytest.fixture(autouse=True)
def fast_password_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Cheap Argon2: the demo's three logins cost milliseconds instead of a second."""
    monkeypatch.setattr(
        accounts, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    )


@pytest.fixture
def busy_port() -> Iterator[int]:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        yield taken.getsockname()[1]


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """What ``demo`` would run the app with, instead of running it."""
    calls: list[dict[str, Any]] = []

    def run_app(settings: Any, journal: Journal, sock: socket.socket, **kwargs: Any) -> None:
        calls.append({"settings": settings, "households": journal.household_names(), **kwargs})

    monkeypatch.setattr(serve, "_run_app", run_app)
    return calls


@pytest.mark.parametrize("command", ["serve", "demo"])
def test_a_busy_port_is_refused_with_a_clear_error(
    command: str, busy_port: int, tmp_path: Path
) -> None:
    db = tmp_path / "letdown.sqlite"
    result = runner.invoke(app, [command, "--port", str(busy_port), "--db", f"sqlite:///{db}"])
    assert result.exit_code == 2
    assert f"port {busy_port} is in use" in result.output
    assert "--port" in result.output
    assert "Traceback" not in result.output
    assert not db.exists()


def test_demo_sets_up_the_household_once_and_prints_the_logins(
    served: list[dict[str, Any]], tmp_path: Path
) -> None:
    db = f"sqlite:///{tmp_path / 'letdown.sqlite'}"
    first = runner.invoke(app, ["demo", "--port", "0", "--db", db, "--speed", "25"])
    assert first.exit_code == 0, first.output
    assert "created the demo household 'Demo home'" in first.output
    assert "over 28 days" in first.output
    assert "http://127.0.0.1:" in first.output
    for word in ("parent", "partner", "grandparent", "letdown-demo"):
        assert word in first.output
    [call] = served
    assert call["households"] == ["Demo home"]
    assert call["settings"].device == "sim"
    assert call["settings"].sim_speed == 25
    assert call["open_browser"].startswith("http://127.0.0.1:")

    again = runner.invoke(app, ["demo", "--port", "0", "--db", db, "--no-browser"])
    assert again.exit_code == 0, again.output
    assert "has a household already ('Demo home'): left as it is" in again.output
    assert "letdown-demo" in again.output
    assert served[1]["settings"].sim_speed == serve.DEMO_SPEED
    assert served[1]["open_browser"] is None


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--minutes", "1"], "--minutes: only with --terminal"),
        (["--program", "constant", "--profile", "sensitive"], "--profile, --program: only with"),
        (["--speed", "0"], "--terminal --speed 0 runs a session as fast as possible"),
        (["--speed", "150"], "at most 100 times"),
    ],
)
def test_demo_says_which_flags_belong_to_the_terminal_session(
    flags: list[str], message: str, served: list[dict[str, Any]], tmp_path: Path
) -> None:
    db = tmp_path / "letdown.sqlite"
    result = runner.invoke(app, ["demo", "--port", "0", "--db", f"sqlite:///{db}", *flags])
    assert result.exit_code == 2
    assert message in " ".join(result.output.split())
    assert served == []
    assert not db.exists()


def test_the_terminal_demo_still_runs_a_session() -> None:
    result = runner.invoke(app, ["demo", "--terminal", "--speed", "0", "--minutes", "0.2"])
    assert result.exit_code == 0, result.output
    assert "session summary" in result.output
    assert "collected mL" in result.output


def test_serve_runs_the_app_until_ctrl_c_and_first_shows_setup(tmp_path: Path) -> None:
    port = free_port()
    command = [
        sys.executable,
        "-c",
        "from letdown.cli import main; main()",
        "serve",
        "--port",
        str(port),
        "--db",
        f"sqlite:///{tmp_path / 'letdown.sqlite'}",
    ]
    env = {**os.environ, "COLUMNS": "200"}
    with subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env
    ) as server:
        try:
            landed = _first_page(f"http://127.0.0.1:{port}/login", server)
            assert landed.endswith("/setup")
        finally:
            server.send_signal(signal.SIGINT)
            output, _ = server.communicate(timeout=30)
    assert server.returncode == 0, output
    assert f"letdown is at http://127.0.0.1:{port}" in output
    assert f"first start: open http://127.0.0.1:{port}/setup" in output
    assert "letdown stopped" in output
    assert "Traceback" not in output


def _first_page(url: str, server: subprocess.Popen[str]) -> str:
    """The address a browser ends up at, once the app answers (it is starting)."""
    deadline_s = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline_s and server.poll() is None:
        try:
            with urllib.request.urlopen(url, timeout=5) as answer:
                landed: str = answer.geturl()
                return landed
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"the app did not answer at {url}")


def test_serve_trusts_forwarded_headers_only_when_told_to(
    served: list[dict[str, Any]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Behind a reverse proxy, its address is named; otherwise no forwarded header counts."""
    for name in ("LETDOWN_PROXY_HEADERS", "LETDOWN_FORWARDED_ALLOW_IPS"):
        monkeypatch.delenv(name, raising=False)
    db = ["--db", f"sqlite:///{tmp_path / 'letdown.sqlite'}", "--port", "0"]
    assert runner.invoke(app, ["serve", *db]).exit_code == 0
    behind = ["serve", *db, "--proxy-headers", "--forwarded-allow-ips", "10.0.0.2"]
    assert runner.invoke(app, behind).exit_code == 0
    plain, proxied = (call["settings"] for call in served)
    assert plain.proxy_headers is False
    assert proxied.proxy_headers is True and proxied.forwarded_allow_ips == "10.0.0.2"
    config = serve.uvicorn_config(object())
    assert config.proxy_headers is False  # Uvicorn's own default trusts 127.0.0.1
