"""Insights in a real browser: a fever red flag on the parent's dashboard, not a viewer's.

The journal is written before the server starts: a week of pumping and, an hour ago, a
fever of 38.9 °C with a red, painful left side. The nursing parent's dashboard shows the
red flag with its advice and source; a viewer's and an unchosen partner's do not, though
both see the estimates. Skips like ``test_browser`` without Chromium or Playwright.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from tests.web.axe import axe_violations
from tests.web.test_browser import (
    PHONE,
    WAIT_MS,
    browser,  # noqa: F401 (the fixture)
    log_in,
    red_flag_symptom,
    served,
)

from letdown.journal import Accounts, HouseholdInfo, Journal, MemberInfo, PumpSession, Role
from letdown.journal.records import now_utc, validate
from letdown.web import Settings, create_app

PASSWORD = "correct horse battery"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    url = f"sqlite:///{tmp_path_factory.mktemp('insights') / 'journal.sqlite'}"
    now = now_utc()
    with Journal.open(url) as journal:
        book = journal.create_household(
            HouseholdInfo(name="Home", time_zone="Europe/Paris"),
            MemberInfo(name="Alex", role=Role.NURSING_PARENT),
        )
        gran = book.add_member(MemberInfo(name="Gran", role=Role.VIEWER))
        sam = book.add_member(MemberInfo(name="Sam", role=Role.PARTNER))
        for hours in range(4, 24 * 7, 5):
            at = now - timedelta(hours=hours)
            volume_ml = 60.0 + 10.0 * (hours % 3)
            book.add(
                validate(
                    PumpSession,
                    {
                        "start_at": at,
                        "end_at": at + timedelta(minutes=15),
                        "sides": {"left": {"volume_ml": volume_ml}, "right": {"volume_ml": 70.0}},
                    },
                )
            )
        book.add(red_flag_symptom(now - timedelta(hours=1)))
        accounts = Accounts(journal.engine)
        accounts.add_login(book.member.id, "alex", PASSWORD)
        accounts.add_login(gran.id, "gran", PASSWORD)
        accounts.add_login(sam.id, "sam", PASSWORD)
    app = create_app(Settings(db=url, sim_speed=30.0))
    with served(app) as base:
        yield base


def _dashboard(chromium: Any, server: str, login: str) -> Any:
    context = chromium.new_context(viewport=PHONE, is_mobile=True, base_url=server)
    context.set_default_timeout(WAIT_MS)
    tab = context.new_page()
    log_in(tab, server, login, PASSWORD)
    return tab


def test_a_fever_red_flag_shows_to_the_parent_and_not_to_a_viewer(
    browser: Any,  # noqa: F811 (the fixture)
    server: str,
) -> None:
    parent = _dashboard(browser, server, "alex")
    flag = parent.locator(".red-flag[data-kind=fever_with_breast_signs]")
    assert flag.count() == 1
    text = flag.inner_text()
    assert "See a clinician today" in text and "38.9" in text and "ABM" in text
    assert "Refills about" in parent.content()
    assert axe_violations(parent) == []  # the red flag's markup too
    parent.context.close()
    for login in ("gran", "sam"):
        other = _dashboard(browser, server, login)
        assert other.locator(".red-flag").count() == 0
        assert "clinician" not in other.content()
        assert "Refills about" in other.content()
        other.context.close()
