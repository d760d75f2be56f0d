"""The app in a real browser: Debian's Chromium driven by Playwright, on a phone-sized screen.

A real Uvicorn server runs the app on 127.0.0.1 (a free port) in a thread, over a new
SQLite journal, with the simulated pump running 30 times faster than the clock. The
tests log in as a nursing parent would, run a simulated session from the live page, press
"too much" and see the gauge's level drop, then find the session in the history; they add
a stash bag and use it in a bottle; and they take screenshots at 390 x 844 (an iPhone's
size), checking that no page scrolls sideways.

Without /usr/bin/chromium or Playwright the tests skip, unless LETDOWN_REQUIRE_BROWSER=1
(CI) makes that a failure. LETDOWN_SHOTS=folder also copies the screenshots there.
"""

from __future__ import annotations

import os
import re
import shutil
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from tests.ports import free_port

from letdown.journal.records import Symptom, validate
from letdown.web import Settings, create_app
from letdown.web import pump as pump_routes

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PHONE = {"width": 390, "height": 844}
PASSWORD = "correct horse battery"
SERVER_START_TIMEOUT_S = 20.0
WAIT_MS = 20_000
"""The longest any step may take (the simulated pump runs 30 times faster than the clock)."""

REQUIRE_BROWSER = os.environ.get("LETDOWN_REQUIRE_BROWSER") == "1"


def _unavailable(reason: str) -> None:
    if REQUIRE_BROWSER:
        pytest.fail(f"LETDOWN_REQUIRE_BROWSER=1 but {reason}", pytrace=False)
    pytest.skip(f"no browser for the tests: {reason}")


@contextmanager
def served(app: Any) -> Iterator[str]:
    """``app`` on a real Uvicorn server in a thread, on a free port: yields its address."""
    import uvicorn

    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    uvicorn_server = uvicorn.Server(config)
    thread = threading.Thread(target=uvicorn_server.run, name="uvicorn", daemon=True)
    thread.start()
    deadline = time.monotonic() + SERVER_START_TIMEOUT_S
    while not uvicorn_server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            pytest.fail("the server did not start", pytrace=False)
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        uvicorn_server.should_exit = True
        thread.join(timeout=10)


def log_in(tab: Any, base: str, login: str, password: str = PASSWORD) -> None:
    """Log ``tab`` in through the login page and wait for the dashboard."""
    tab.goto("/login")
    tab.fill("input[name=login]", login)
    tab.fill("input[name=password]", password)
    tab.click("button:has-text('Log in')")
    tab.wait_for_url(f"{base}/")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The app on a real server in a thread; yields its base address."""
    folder = tmp_path_factory.mktemp("browser")
    settings = Settings(
        db=f"sqlite:///{folder / 'journal.sqlite'}", sim_speed=30.0, data_folder=folder / "data"
    )
    app = create_app(settings)
    if not any(getattr(route, "path", None) == "/live" for route in app.routes):
        app.include_router(pump_routes.pages_router)  # until create_app mounts the live page
    with served(app) as base:
        yield base


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        _unavailable(f"{CHROMIUM} is not installed")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("Playwright is not installed (pip install playwright)")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("screenshots")


@pytest.fixture
def page(browser: Any, server: str) -> Iterator[Any]:
    """A phone-sized page, logged in (the first test sets the household up)."""
    context = browser.new_context(
        viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True, base_url=server
    )
    context.set_default_timeout(WAIT_MS)
    tab = context.new_page()
    tab.goto("/")
    if tab.url.endswith("/setup"):
        tab.fill("input[name=household]", "Home")
        tab.fill("input[name=time_zone]", "Europe/Paris")
        tab.fill("input[name=name]", "Sam")
        tab.fill("input[name=login]", "sam")
        tab.fill("input[name=password]", PASSWORD)
        tab.click("button:has-text('Create')")
    elif "/login" in tab.url:
        tab.fill("input[name=login]", "sam")
        tab.fill("input[name=password]", PASSWORD)
        tab.click("button:has-text('Log in')")
    tab.wait_for_url(f"{server}/")
    try:
        yield tab
    finally:
        context.close()


def shoot(page: Any, shots: Path, name: str) -> Path:
    """A screenshot of the page as it stands, kept with the test's files (and LETDOWN_SHOTS)."""
    assert page.evaluate("document.scrollingElement.scrollWidth <= window.innerWidth"), (
        f"{name}: the page scrolls sideways at {PHONE['width']} px"
    )
    path = shots / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    wanted = os.environ.get("LETDOWN_SHOTS")
    if wanted:
        Path(wanted).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, Path(wanted) / path.name)
    return path


def flash(page: Any) -> str:
    text: str = page.locator(".flash").first.inner_text()
    return text


def ensure_child(page: Any, name: str = "Robin") -> None:
    page.goto("/journal")
    if name in page.content():
        return
    page.fill("#child-name", name)
    page.click("button:has-text('Add child')")
    assert f"{name} added" in flash(page)


def red_flag_symptom(start_at: datetime) -> Symptom:
    """Fever with a red, painful breast: what puts a red flag on the parent's dashboard."""
    return validate(
        Symptom,
        {
            "start_at": start_at,
            "fever_c": 38.9,
            "sides": {"left": {"redness": True, "pain": 6}},
        },
    )


def level_mmhg(page: Any, side: str) -> float | None:
    value = page.get_attribute(f"#gauge-{side}", "data-level-mmhg")
    return float(value) if value else None


def test_a_stash_bag_goes_into_a_bottle(page: Any, shots: Path) -> None:
    ensure_child(page)
    page.goto("/stash")
    page.fill("#add-amount", "120")
    page.select_option("#add-location", "fridge")
    page.click("button:has-text('Add bag')")
    message = flash(page)
    code = re.search(r"Bag (\w+) added", message)
    assert code, message
    bag = page.locator(f"#bag-{code[1]}")
    assert "use next" in bag.inner_text()
    bag.locator("summary").click()
    bag.locator("input[name=amount]").fill("90")
    bag.locator("button:has-text('Use in a bottle')").click()
    assert "Bottle added: 90 mL expressed for Robin from bag" in flash(page)
    assert "30 mL" in page.locator(f"#bag-{code[1]}").inner_text()
    shoot(page, shots, "stash")

    page.goto("/history?kind=bottle")
    assert f"from bag {code[1]}" in page.locator(".entries").inner_text()

    page.goto("/")
    assert f"Bag {code[1]}" in page.locator(".cards").inner_text()
    shoot(page, shots, "dashboard")
    page.click("[data-theme-toggle]")
    assert page.get_attribute("html", "data-theme") == "light"
    page.reload()
    assert page.get_attribute("html", "data-theme") == "light"  # kept in a cookie
    shoot(page, shots, "dashboard-light")


def test_quick_log_and_charts_fit_a_phone(page: Any, shots: Path) -> None:
    ensure_child(page)
    page.goto("/journal?add=pump#pump")
    page.fill("#pump-device", "hospital pump")
    page.fill("#pump-minutes", "15")
    page.fill("#pump-volume_left", "60")
    page.fill("#pump-volume_right", "2oz")
    page.click("button:has-text('Add pump session')")
    assert "Pump session added: 119.1 mL" in flash(page)
    page.clock.install(time=datetime.now(UTC) - timedelta(minutes=40))
    page.goto("/journal?add=nurse#nurse")
    page.click("#nurse button[data-timer=minutes_left]")
    page.clock.fast_forward("12:00")
    assert "Stop 12:0" in page.inner_text("#nurse button[data-timer=minutes_left]")
    page.click("#nurse button[data-timer=minutes_left]")
    assert page.input_value("#nurse-minutes_left") == "12m0s"
    page.click("#nurse button[data-timer=minutes_right]")
    page.clock.fast_forward("07:30")
    page.click("#nurse button[data-timer=minutes_right]")
    assert page.input_value("#nurse-minutes_right") == "7m30s"
    page.fill("#nurse-pain_left", "2")
    shoot(page, shots, "journal")
    page.click("button:has-text('Add feed')")
    assert "Feed added: Robin: left breast 12 min, pain 2; right breast 8 min" in flash(page)
    page.goto("/journal?add=bottle#bottle")
    page.locator("#bottle").screenshot(path=str(shots / "bottle-form.png"))
    if os.environ.get("LETDOWN_SHOTS"):
        shutil.copy(shots / "bottle-form.png", Path(os.environ["LETDOWN_SHOTS"]))
    page.goto("/charts")
    assert page.locator("#daily svg").count() == 1
    assert page.locator("#sessions svg").count() == 1


def test_the_settings_page_fits_a_phone_and_its_forms_work(page: Any, shots: Path) -> None:
    problems: list[str] = []
    page.on("console", lambda message: message.type == "error" and problems.append(message.text))
    page.goto("/settings")
    # 127.0.0.1 is a secure context: the page offers Web Push (test_browser_push.py).
    page.wait_for_selector("#push-on", state="visible")
    page.fill("input[name=url]", "json://127.0.0.1:9/notify")
    page.click("button:has-text('Add channel')")
    assert flash(page) == "Channel json://127.0.0.1:9/… added."
    page.fill("input[name=start]", "22:00")
    page.fill("input[name=end]", "07:00")
    page.click("button:has-text('Save quiet hours')")
    assert flash(page) == "Quiet hours: 22:00 to 07:00."
    shoot(page, shots, "settings")
    page.click("#channels button:has-text('Remove')")
    assert flash(page) == "Channel removed."
    assert problems == []  # no script refused by the CSP, nothing broken


def live_state(page: Any) -> dict[str, str]:
    """What the live page shows now (for the assertions' messages)."""
    state: dict[str, str] = page.evaluate(
        """() => ({
            phase: document.querySelector('#phase').textContent,
            vacuum: document.querySelector('#gauge-left').dataset.vacuumMmhg,
            level: document.querySelector('#gauge-left').dataset.levelMmhg,
            message: document.querySelector('#message').textContent,
            fault: document.querySelector('#fault').textContent.trim(),
        })"""
    )
    return state


def settled_level(page: Any, side: str) -> float:
    """The side's level once it has stayed put for a second (the start ramps it up)."""
    last = level_mmhg(page, side)
    for _ in range(20):
        page.wait_for_timeout(1000)
        now = level_mmhg(page, side)
        if now is not None and now == last:
            return now
        last = now
    raise AssertionError(f"the {side} level never settled: {live_state(page)}")


def test_a_live_session_is_eased_and_lands_in_history(page: Any, shots: Path) -> None:
    page.goto("/live")
    if page.locator("#start").count() == 0:
        pytest.fail("the live page has no #start button (is /live mounted?)", pytrace=False)
    page.click("#start")
    page.wait_for_function(
        "() => Number(document.querySelector('#gauge-left').dataset.vacuumMmhg || 0) > 20"
    )
    # The level climbs gently at the start: press once it has settled.
    page.wait_for_function("() => document.querySelector('#phase').textContent === 'Expressing'")
    before = settled_level(page, "left")
    page.click("#too-much-left")
    try:
        page.wait_for_function(
            f"() => Number(document.querySelector('#gauge-left').dataset.levelMmhg) < {before}"
        )
    except Exception as exc:
        raise AssertionError(f"the left level stayed at {before}: {live_state(page)}") from exc
    after = level_mmhg(page, "left")
    assert after is not None and after < before
    assert page.locator("#too-much-right").is_enabled()
    shoot(page, shots, "live")

    # The "nearly done" banner has its place already: nothing moves under a finger.
    where = page.locator("#too-much-left").bounding_box()
    page.evaluate("() => { document.querySelector('#nearly-done').hidden = false; }")
    assert page.locator("#too-much-left").bounding_box() == where
    page.evaluate("() => { document.querySelector('#nearly-done').hidden = true; }")
    # The big number is each cycle's peak: it holds still between frames.
    values = []
    for _ in range(8):
        values.append(float(page.text_content("#gauge-left .gauge-value") or "nan"))
        page.wait_for_timeout(60)
    assert max(values) - min(values) <= 10, f"the big number jumps: {values}"

    page.click("#pause")
    page.wait_for_function("() => document.querySelector('#phase').textContent === 'Paused'")
    stopped_at = page.inner_text("#elapsed")
    page.wait_for_timeout(1500)  # 45 s of the session's clock at 30 times the speed
    assert page.inner_text("#elapsed") == stopped_at, "the clock ran while paused"
    assert page.text_content("#gauge-left .gauge-value") == "–"
    shoot(page, shots, "live-paused")
    page.click("#pause")  # resume
    page.wait_for_function("() => document.querySelector('#phase').textContent !== 'Paused'")
    if os.environ.get("LETDOWN_SHOTS"):  # the real banner, for the screenshots only
        page.locator("#nearly-done").wait_for(state="visible", timeout=180_000)
        shoot(page, shots, "live-nearly-done")
        page.click("[data-theme-toggle]")
        page.wait_for_url("**/live")
        shoot(page, shots, "live-light")
        page.click("[data-theme-toggle]")
        page.wait_for_url("**/live")
    page.click("#stop")
    page.wait_for_function("() => !document.querySelector('#start').disabled")
    page.locator("#saved").wait_for(state="visible")
    saved = page.inner_text("#saved")
    assert re.search(r"Saved in the journal: \d+ mL in \d+ min( \d+ s)?;", saved), saved
    # Someone opening the page later sees the last session as history, not as news.
    page.clock.set_fixed_time(datetime.now(UTC) + timedelta(minutes=10))
    page.reload()
    page.wait_for_function("() => document.querySelector('#phase').textContent === 'Ready'")
    assert page.inner_text("#saved").startswith("The last session, ended ")
    assert page.inner_text("#elapsed") == "00:00"
    # In the light theme the banner is light, and the disabled Stop and Pause look alike.
    page.click("[data-theme-toggle]")
    page.wait_for_function("() => document.documentElement.dataset.theme === 'light'")
    page.locator("#saved").wait_for(state="visible")
    looks = page.evaluate(
        """() => Object.fromEntries(['saved', 'stop', 'pause'].map((id) => {
            const style = getComputedStyle(document.getElementById(id));
            return [id, [style.backgroundColor, style.color, style.opacity]];
        }))"""
    )
    red, green, blue = map(int, re.findall(r"\d+", looks["saved"][0])[:3])
    assert min(red, green, blue) > 180, f"a dark banner on the light theme: {looks['saved']}"
    assert looks["stop"] == looks["pause"], looks
    page.click("[data-theme-toggle]")

    page.goto("/history?kind=pump")
    sessions = page.locator(".entry.kind-pump")
    sessions.first.wait_for()
    assert "(letdown)" in sessions.first.inner_text()
    sessions.first.locator("a").click()
    assert "Revisions" in page.content()
    page.goto("/history")
    shoot(page, shots, "history")

    page.goto("/charts")
    assert page.locator("#comfort svg").count() == 1, "no comfort ceiling from the session"
    shoot(page, shots, "charts")
