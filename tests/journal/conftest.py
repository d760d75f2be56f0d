"""Journals on a throwaway database, with a household ready to write in."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from letdown.journal import Book, ChildInfo, HouseholdInfo, Journal, MemberInfo, Role


@pytest.fixture
def journal_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'journal.sqlite'}"


@pytest.fixture
def journal(journal_url: str) -> Iterator[Journal]:
    with Journal.open(journal_url) as opened:
        yield opened


@pytest.fixture
def book(journal: Journal) -> Book:
    """Household "Home" (Europe/Paris) with Alex (nursing parent), Sam (partner), child Robin."""
    book = journal.create_household(
        HouseholdInfo(name="Home", time_zone="Europe/Paris"),
        MemberInfo(name="Alex", role=Role.NURSING_PARENT),
    )
    book.add_member(MemberInfo(name="Sam", role=Role.PARTNER))
    book.add_child(ChildInfo(name="Robin"))
    return book
