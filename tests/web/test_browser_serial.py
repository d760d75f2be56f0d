"""`letdown demo --device serial://…` against the firmware in the loop: a session run from
the phone's live page, through the serial link, the firmware's own safety core and the
twin (issue "A real pump")."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.ports import free_port

from letdown.device.fwpeer import PeerProcess

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _need_browser() -> Any:
    if not CHROMIUM.exists():
        if os.environ.get("LETDOWN_REQUIRE_BROWSER") == "1":
            pytest.fail(f"LETDOWN_REQUIRE_BROWSER=1 but {CHROMIUM} is not installed")
        pytest.skip(f"no browser for the tests: {CHROMIUM} is not installed")
    from playwright.sync_api import sync_playwright

    return sync_playwright


@pytest.fixture
def demo_on_the_peer(
    tmp_path: Path,
) -> Iterator[tuple[str, subprocess.Popen[str], PeerProcess]]:
    with PeerProcess(seed=1, clock="wall") as peer:
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        command = [
            sys.executable,
            "-c",
            "from letdown.cli import main; main()",
            "demo",
            "--no-browser",
            "--port",
            str(port),
            "--db",
            f"sqlite:///{tmp_path / 'demo.sqlite'}",
            "--device",
            peer.url,
        ]
        with subprocess.Popen(
            command,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env={**os.environ, "COLUMNS": "200"},
        ) as server:
            try:
                deadline_s = time.monotonic() + 90.0
                while time.monotonic() < deadline_s and server.poll() is None:
                    try:
                        with urllib.request.urlopen(f"{base}/login", timeout=5):
                            break
                    except OSError:
                        time.sleep(0.2)
                yield base, server, peer
            finally:
                if server.poll() is None:
                    server.send_signal(signal.SIGINT)
                    server.communicate(timeout=60)


def test_a_session_runs_from_the_phone_page_on_the_firmware_in_the_loop(
    demo_on_the_peer: tuple[str, subprocess.Popen[str], PeerProcess],
) -> None:
    base, server, peer = demo_on_the_peer
    assert server.poll() is None, "the demo did not start"
    sync_playwright = _need_browser()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            context = browser.new_context(
                viewport={"width": 390, "height": 844}, is_mobile=True, base_url=base
            )
            context.set_default_timeout(30_000)
            page = context.new_page()
            page.goto("/login")
            page.fill("input[name=login]", "partner")
            page.fill("input[name=password]", "letdown-demo")
            page.click("button:has-text('Log in')")
            page.wait_for_url(f"{base}/")
            page.goto("/live")
            page.click("#start")
            # Real suction through the link: the firmware's core ramps from 80 mmHg.
            page.wait_for_selector("#gauge-left[data-vacuum-mmhg]")
            deadline_s = time.monotonic() + 30.0
            seen = 0.0
            while time.monotonic() < deadline_s and seen <= 20.0:
                value = page.get_attribute("#gauge-left", "data-vacuum-mmhg") or "0"
                seen = max(seen, float(value or 0))
                page.wait_for_timeout(200)
            assert seen > 20.0, f"no suction reached the left side (saw {seen} mmHg)"
            page.click("#stop")
            page.wait_for_selector("#phase:has-text('Done')")
        finally:
            browser.close()
    # The suction was the firmware's, on the twin behind the serial link, and it ended safe.
    server.send_signal(signal.SIGINT)
    output, _ = server.communicate(timeout=60)
    assert "is off (motors off, vents open)" in output or "letdown stopped" in output, output
    seen_by_twin = peer.result()
    assert seen_by_twin["max_vacuum_mmhg"] > 20.0
    assert seen_by_twin["over_cap_ms"] == 0
