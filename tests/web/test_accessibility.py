"""Every page a member can open, checked by axe-core (WCAG 2.1 A and AA) in Chromium.

One server for the module, on a journal that is empty when it starts (the setup page is
read then, and served again to the browser later) and then holds a week of the demo
household, Alex the nursing parent, Sam the partner and Jo, a viewer, with a salve and a
fever (a red flag on Alex's dashboard) added. Each page is visited as each of them, in
the dark theme (the default) and the light one (the ``letdown_theme`` cookie), with every
``<details>`` opened so that the forms folded inside are checked too. A failure names the
page, the login, the theme and each rule broken with the elements that break it. Skips
like ``test_browser`` without Chromium, Playwright or axe-core.
"""

from __future__ import annotations

import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from tests.web.axe import axe_violations
from tests.web.test_browser import PHONE, WAIT_MS, browser, log_in, red_flag_symptom, served

from letdown.journal import Accounts, Journal, Role
from letdown.journal.records import Care, now_utc, validate
from letdown.web import Settings, create_app
from letdown.web.demo import (
    DEMO_HOUSEHOLD,
    DEMO_PASSWORD,
    GRANDPARENT,
    PARENT,
    PARTNER,
    ensure_demo_household,
)

__all__ = ["browser"]  # the fixture this module uses

LOGINS = {"parent": PARENT.login, "partner": PARTNER.login, "viewer": GRANDPARENT.login}
THEMES = ("dark", "light")
MEMBER_PAGES = {
    "dashboard": "/",
    "live": "/live",
    "log": "/journal",
    "stash": "/stash",
    "history": "/history",
    "history-mistakes": "/history?since=someday",
    "entry-nurse": "",  # the newest entry of each kind, found from the history
    "entry-pump": "",
    "entry-bottle": "",
    "entry-care": "",
    "entry-symptom": "",
    "charts": "/charts",
    "account": "/account",
    "settings": "/settings",
    "api-docs": "/docs",
}
ONLY_THE_PARENT = {"entry-nurse", "entry-bottle", "entry-care", "entry-symptom"}
"""Care and symptoms are the nursing parent's own; the other kinds' pages differ by role as
the pump session's does (checked as all three), so once is enough for them."""
MEMBER_CASES = [
    (name, who)
    for name in MEMBER_PAGES
    for who in LOGINS
    if who == "parent" or name not in ONLY_THE_PARENT
]
OPEN_DETAILS = "document.querySelectorAll('details').forEach(d => { d.open = true; })"


@dataclass(frozen=True)
class Site:
    url: str
    setup_html: dict[str, str]
    """The setup page as an empty journal served it, in each theme."""
    invite: str


def _get(url: str, theme: str) -> str:
    request = urllib.request.Request(url, headers={"Cookie": f"letdown_theme={theme}"})
    with urllib.request.urlopen(request, timeout=10) as answer:
        text: str = answer.read().decode()
        return text


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    folder = tmp_path_factory.mktemp("accessibility")
    url = f"sqlite:///{folder / 'journal.sqlite'}"
    app = create_app(Settings(db=url, sim_speed=30.0, data_folder=folder / "data"))
    with served(app) as base:
        setup_html = {theme: _get(f"{base}/setup", theme) for theme in THEMES}
        with Journal.open(url) as journal:
            ensure_demo_household(journal, days=7)
            book = journal.book(DEMO_HOUSEHOLD, PARENT.member)
            now = now_utc()
            book.add(validate(Care, {"start_at": now - timedelta(hours=2), "care": "salve"}))
            # A red flag on the nursing parent's dashboard.
            book.add(red_flag_symptom(now - timedelta(hours=1)))
            accounts = Accounts(journal.engine)
            alex = accounts.authenticate(PARENT.login, DEMO_PASSWORD)
            assert alex is not None
            invite = accounts.create_invite(alex, Role.PARTNER)
        yield Site(base, setup_html, invite)


@pytest.fixture(scope="module")
def tabs(browser: Any, site: Site) -> Iterator[dict[str, Any]]:
    """A phone-sized tab for a visitor and one logged in as each member."""
    made: dict[str, Any] = {}
    for who in ("visitor", *LOGINS):
        context = browser.new_context(viewport=PHONE, is_mobile=True, base_url=site.url)
        context.set_default_timeout(WAIT_MS)
        tab = context.new_page()
        if who in LOGINS:
            log_in(tab, site.url, LOGINS[who], DEMO_PASSWORD)
        made[who] = tab
    try:
        yield made
    finally:
        for tab in made.values():
            tab.context.close()


def _theme(tab: Any, site: Site, theme: str) -> None:
    tab.context.add_cookies([{"name": "letdown_theme", "value": theme, "url": site.url}])


def _check(tab: Any, where: str) -> None:
    tab.evaluate(OPEN_DETAILS)
    title = tab.title()
    assert title.endswith("· letdown") and "<" not in title, f"{where}: title {title[:80]!r}"
    found = axe_violations(tab)
    assert not found, f"{where}:\n" + "\n".join(found)


@pytest.mark.parametrize("theme", THEMES)
@pytest.mark.parametrize(("name", "who"), MEMBER_CASES)
def test_member_pages_have_no_axe_violations(
    tabs: dict[str, Any], site: Site, name: str, who: str, theme: str
) -> None:
    tab = tabs[who]
    _theme(tab, site, theme)
    path = MEMBER_PAGES[name]
    if not path:
        tab.goto(f"/history?kind={name.removeprefix('entry-')}")
        path = tab.locator("a[href^='/history/']").first.get_attribute("href", timeout=2000)
    answer = tab.goto(path)
    assert answer is not None, path
    assert answer.status == (422 if name.endswith("mistakes") else 200), path
    assert tab.locator("html").get_attribute("data-theme") == theme
    _check(tab, f"{path} as the {who}, {theme} theme")


@pytest.mark.parametrize("theme", THEMES)
@pytest.mark.parametrize("name", ["login", "setup", "invite", "offline"])
def test_visitor_pages_have_no_axe_violations(
    tabs: dict[str, Any], site: Site, name: str, theme: str
) -> None:
    tab = tabs["visitor"]
    _theme(tab, site, theme)
    if name == "setup":  # the household exists now: serve the page the empty journal gave
        html = site.setup_html[theme]
        tab.route(
            f"{site.url}/setup", lambda route: route.fulfill(body=html, content_type="text/html")
        )
        path = "/setup"
    else:
        path = {
            "login": "/login",
            "invite": f"/invite/{site.invite}",
            "offline": "/static/offline.html",
        }[name]
    answer = tab.goto(path)
    assert answer is not None and answer.ok, f"{path}: {answer and answer.status}"
    if name == "offline":  # a static page, always dark: the theme cookie is not read
        assert tab.locator("html").get_attribute("data-theme") == "dark"
    else:
        assert tab.locator("html").get_attribute("data-theme") == theme
    _check(tab, f"{name} page for a visitor, {theme} theme")
    tab.unroute_all()


POST_AS_A_VIEWER = """() => {
  const form = document.createElement('form');
  form.method = 'post';
  form.action = '/journal/pump';
  const csrf = document.createElement('input');
  csrf.type = 'hidden';
  csrf.name = 'csrf';
  csrf.value = document.querySelector('meta[name=csrf-token]').content;
  form.append(csrf);
  document.body.append(form);
  form.submit();
}"""


@pytest.mark.parametrize("theme", THEMES)
@pytest.mark.parametrize("state", ["form-mistakes", "refused"])
def test_pages_after_a_post_have_no_axe_violations(
    tabs: dict[str, Any], site: Site, state: str, theme: str
) -> None:
    """The log with a form's mistakes beside its fields; the page refusing a viewer's post."""
    if state == "form-mistakes":
        tab = tabs["parent"]
        _theme(tab, site, theme)
        tab.goto("/journal?add=pump")
        with tab.expect_navigation() as sent:
            tab.locator("#pump form").evaluate(
                "f => { f.querySelector('[name=minutes]').value = 'soon'; f.submit(); }"
            )
        assert sent.value is not None and sent.value.status == 422
        assert tab.locator("#pump [aria-invalid=true]").count() >= 1
    else:
        tab = tabs["viewer"]
        _theme(tab, site, theme)
        tab.goto("/stash")
        with tab.expect_navigation() as sent:
            tab.evaluate(POST_AS_A_VIEWER)
        assert sent.value is not None and sent.value.status == 403
        assert "Not for this account" in tab.title()
    _check(tab, f"{state}, {theme} theme")


def test_the_live_page_while_pumping_has_no_axe_violations(
    tabs: dict[str, Any], site: Site
) -> None:
    """The controls are enabled only while a session runs, then the saved session shows."""
    tab = tabs["parent"]
    _theme(tab, site, "dark")
    tab.goto("/live")
    tab.click("#start")
    tab.wait_for_function("() => document.querySelector('#phase').textContent === 'Expressing'")
    assert tab.locator("#too-much-left").is_enabled()
    _check(tab, "/live while pumping, dark theme")
    _theme(tab, site, "light")
    tab.reload()
    tab.wait_for_function("() => !document.querySelector('#too-much-left').disabled")
    _check(tab, "/live while pumping, light theme")
    tab.click("#stop")
    tab.locator("#saved").wait_for(state="visible")
    _check(tab, "/live once the session is saved, light theme")
    _theme(tab, site, "dark")
    tab.reload()
    tab.locator("#saved").wait_for(state="visible")
    _check(tab, "/live once the session is saved, dark theme")
