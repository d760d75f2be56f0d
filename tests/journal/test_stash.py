"""The CDC's milk storage rules as the stash applies them, on the pure functions.

A bag's stays (where it was put, and when) give its use-by time: each place has its
limit, time spent in one place uses up a share of the budget of the next, freezing
stops the clock and thawed milk never goes back to a freezer. The examples are worked by
hand from the CDC table; the properties hold for any sequence of moves.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from letdown.errors import StashRuleError
from letdown.journal import Location
from letdown.journal.stash import (
    FRESH_LIMITS,
    FROZEN,
    FROZEN_LIMIT,
    THAWED_LIMITS,
    Stay,
    check_move,
    expiry,
    leftover_use_by,
    thawed_at,
)

T0 = datetime(2026, 3, 10, 8, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
ROOM, COOLER, FRIDGE = Location.ROOM, Location.COOLER, Location.FRIDGE
FREEZER, DEEP_FREEZER = Location.FREEZER, Location.DEEP_FREEZER


def trail(*moves: tuple[Location, timedelta]) -> list[Stay]:
    """Stays from (place, time after T0) pairs."""
    return [Stay(location, T0 + after) for location, after in moves]


@pytest.mark.parametrize(
    ("location", "limit"),
    [(ROOM, 4 * HOUR), (COOLER, DAY), (FRIDGE, 4 * DAY)],
)
def test_fresh_milk_keeps_the_cdc_time_in_one_place(location: Location, limit: timedelta) -> None:
    kept = expiry(T0, trail((location, timedelta(0))))
    assert kept.use_by == T0 + limit
    assert (kept.best_by, kept.thawed_at) == (None, None)
    assert location.value in kept.rule
    assert "CDC" in kept.rule


def test_two_days_in_the_fridge_then_the_room_leave_two_hours() -> None:
    kept = expiry(T0, trail((FRIDGE, timedelta(0)), (ROOM, 2 * DAY)))
    assert kept.use_by == T0 + 2 * DAY + 2 * HOUR
    assert kept.rule == "fresh milk, room: 4 h (CDC)"


def test_two_hours_in_the_room_then_the_fridge_leave_two_days() -> None:
    kept = expiry(T0, trail((ROOM, timedelta(0)), (FRIDGE, 2 * HOUR)))
    assert kept.use_by == T0 + 2 * HOUR + 2 * DAY


def test_a_day_out_in_the_cooler_and_back_to_the_fridge() -> None:
    # 1 day in the fridge (1/4), 12 h in the cooler (1/2): a quarter of 4 days is left.
    kept = expiry(T0, trail((FRIDGE, timedelta(0)), (COOLER, DAY), (FRIDGE, DAY + 12 * HOUR)))
    assert kept.use_by == T0 + DAY + 12 * HOUR + DAY


def test_milk_that_ran_out_of_time_stays_expired_after_later_moves() -> None:
    kept = expiry(T0, trail((ROOM, timedelta(0)), (FRIDGE, 5 * HOUR), (FREEZER, 6 * HOUR)))
    assert kept.use_by == T0 + 4 * HOUR
    assert kept.rule == "fresh milk, room: 4 h (CDC)"


def test_milk_stored_late_spent_the_time_before_at_room_temperature() -> None:
    # Pumped at T0, put in the fridge an hour later: a quarter of the budget is gone.
    kept = expiry(T0, [Stay(FRIDGE, T0 + HOUR)])
    assert kept.use_by == T0 + HOUR + 3 * DAY
    entered_days_late = expiry(T0, [Stay(FRIDGE, T0 + 3 * DAY)])
    assert entered_days_late.use_by == T0 + 4 * HOUR


@pytest.mark.parametrize("freezer", [FREEZER, DEEP_FREEZER])
def test_frozen_milk_is_best_within_six_months_and_good_for_twelve(freezer: Location) -> None:
    kept = expiry(T0, trail((FRIDGE, timedelta(0)), (freezer, DAY)))
    # Six months as 182 days and twelve as 365, counted from expression.
    assert kept.best_by == T0 + timedelta(days=182)
    assert kept.use_by == T0 + timedelta(days=365)
    assert "best within 6 months, up to 12" in kept.rule


def test_thawed_in_the_fridge_it_keeps_a_day_from_the_thaw() -> None:
    thaw = 30 * DAY
    kept = expiry(T0, trail((FREEZER, timedelta(0)), (FRIDGE, thaw)))
    assert kept.thawed_at == T0 + thaw
    assert kept.use_by == T0 + thaw + DAY
    assert kept.best_by is None
    assert kept.rule == "thawed milk, fridge: 1 day (CDC)"


def test_thawed_milk_brought_out_of_the_fridge_has_an_hour_for_what_is_left() -> None:
    # 12 h of its 24 thawed in the fridge, then the room: half of the room's 1 hour.
    thaw = 10 * DAY
    stays = trail((FREEZER, timedelta(0)), (FRIDGE, thaw), (ROOM, thaw + 12 * HOUR))
    kept = expiry(T0, stays)
    assert kept.use_by == T0 + thaw + 12 * HOUR + 30 * timedelta(minutes=1)
    assert kept.thawed_at == T0 + thaw


def test_thawing_gives_a_fresh_thawed_budget_whatever_the_fridge_used_before() -> None:
    stays = trail((FRIDGE, timedelta(0)), (FREEZER, 3 * DAY), (FRIDGE, 20 * DAY))
    assert expiry(T0, stays).use_by == T0 + 21 * DAY


def test_thawed_milk_never_outlives_the_twelve_months_from_expression() -> None:
    thaw = FROZEN_LIMIT - 2 * HOUR
    kept = expiry(T0, trail((FREEZER, timedelta(0)), (FRIDGE, thaw)))
    assert kept.use_by == T0 + FROZEN_LIMIT


def test_a_bag_has_somewhere_to_be() -> None:
    with pytest.raises(ValueError, match="at least one stay"):
        expiry(T0, [])


def test_thawed_at_is_when_the_bag_first_left_a_freezer() -> None:
    assert thawed_at(trail((FRIDGE, timedelta(0)), (FREEZER, DAY))) is None
    stays = trail((FREEZER, timedelta(0)), (DEEP_FREEZER, DAY), (FRIDGE, 5 * DAY), (ROOM, 6 * DAY))
    assert thawed_at(stays) == T0 + 5 * DAY


@pytest.mark.parametrize("freezer", [FREEZER, DEEP_FREEZER])
def test_thawed_milk_is_never_refrozen(freezer: Location) -> None:
    stays = trail((FREEZER, timedelta(0)), (FRIDGE, 5 * DAY))
    with pytest.raises(StashRuleError, match="never be refrozen"):
        check_move(stays, freezer, T0 + 5 * DAY + HOUR)


def test_frozen_milk_may_go_from_one_freezer_to_another_and_fresh_milk_into_one() -> None:
    check_move(trail((FREEZER, timedelta(0))), DEEP_FREEZER, T0 + DAY)
    check_move(trail((ROOM, timedelta(0)), (FRIDGE, HOUR)), FREEZER, T0 + DAY)


def test_a_move_cannot_go_back_before_the_last_one() -> None:
    with pytest.raises(StashRuleError, match="before the bag's last move"):
        check_move(trail((FRIDGE, timedelta(0)), (ROOM, DAY)), FRIDGE, T0 + HOUR)


def test_leftovers_of_a_feed_keep_two_hours() -> None:
    assert leftover_use_by(T0) == T0 + 2 * HOUR


# --- properties --------------------------------------------------------------------------

FRESH_PLACES = st.sampled_from(sorted(FRESH_LIMITS, key=str))
DURATIONS = st.timedeltas(min_value=timedelta(minutes=1), max_value=5 * DAY)


def laid_out(places: Sequence[Location], durations: Sequence[timedelta]) -> list[Stay]:
    """Stays starting at T0, each place held for its duration (the last one open)."""
    stays, since = [], T0
    for place, duration in zip(places, durations, strict=True):
        stays.append(Stay(place, since))
        since += duration
    return stays


@st.composite
def fresh_histories(draw: st.DrawFn) -> tuple[list[Location], list[timedelta]]:
    places = draw(st.lists(FRESH_PLACES, min_size=1, max_size=6))
    durations = draw(st.lists(DURATIONS, min_size=len(places), max_size=len(places)))
    return places, durations


@given(
    history=fresh_histories(),
    index=st.integers(min_value=0),
    more=st.timedeltas(min_value=timedelta(seconds=1), max_value=3 * DAY),
)
@settings(max_examples=200)
def test_more_time_anywhere_never_leaves_more_time_where_the_bag_is_now(
    history: tuple[list[Location], list[timedelta]], index: int, more: timedelta
) -> None:
    places, durations = history
    index %= len(places)
    longer = [d + more if i == index else d for i, d in enumerate(durations)]
    before, after = laid_out(places, durations), laid_out(places, longer)
    left_before = expiry(T0, before).use_by - before[-1].since
    left_after = expiry(T0, after).use_by - after[-1].since
    assert left_after <= left_before + timedelta(microseconds=1)


@given(
    history=fresh_histories(),
    late=st.timedeltas(min_value=timedelta(0), max_value=6 * HOUR),
    more=st.timedeltas(min_value=timedelta(seconds=1), max_value=6 * HOUR),
)
@settings(max_examples=200)
def test_milk_stored_later_after_pumping_never_keeps_longer(
    history: tuple[list[Location], list[timedelta]], late: timedelta, more: timedelta
) -> None:
    stays = laid_out(*history)
    sooner = expiry(T0 - late, stays).use_by
    later = expiry(T0 - late - more, stays).use_by
    assert later <= sooner + timedelta(microseconds=1)


@given(history=fresh_histories(), late=st.timedeltas(min_value=timedelta(0), max_value=DAY))
@settings(max_examples=200)
def test_fresh_milk_never_keeps_longer_than_its_longest_single_place_limit(
    history: tuple[list[Location], list[timedelta]], late: timedelta
) -> None:
    places, durations = history
    use_by = expiry(T0 - late, laid_out(places, durations)).use_by
    limits = [FRESH_LIMITS[place] for place in places]
    tick = timedelta(microseconds=1)
    assert use_by <= T0 + max(limits) + tick
    # Counted from expression, the time before the first storage was at room temperature.
    visited = [*limits, FRESH_LIMITS[ROOM]] if late else limits
    assert T0 - late + min(visited) - tick <= use_by <= T0 - late + max(visited) + tick


ANY_PLACE = st.sampled_from(sorted(Location, key=str))


@st.composite
def legal_histories(draw: st.DrawFn) -> list[Stay]:
    """Moves a parent could make: each one that ``check_move`` allows, in time order."""
    stays = [Stay(draw(ANY_PLACE), T0)]
    for _ in range(draw(st.integers(min_value=0, max_value=6))):
        to = draw(ANY_PLACE)
        at = stays[-1].since + draw(st.timedeltas(min_value=timedelta(0), max_value=120 * DAY))
        if to == stays[-1].location:
            continue
        try:
            check_move(stays, to, at)
        except StashRuleError:
            continue
        stays.append(Stay(to, at))
    return stays


@given(stays=legal_histories())
@settings(max_examples=200)
def test_no_allowed_sequence_of_moves_refreezes_or_outlives_the_cdc(stays: list[Stay]) -> None:
    kept = expiry(T0, stays)
    thaw = thawed_at(stays)
    if thaw is not None:
        frozen = next(i for i, stay in enumerate(stays) if stay.location in FROZEN)
        thawed = next(i for i in range(frozen, len(stays)) if stays[i].location not in FROZEN)
        assert stays[thawed].since == thaw
        assert not any(stay.location in FROZEN for stay in stays[thawed:])
        assert kept.thawed_at == thaw or kept.use_by <= thaw
        assert kept.use_by <= thaw + THAWED_LIMITS[FRIDGE]
    if any(stay.location in FROZEN for stay in stays):
        assert kept.use_by <= T0 + FROZEN_LIMIT
    else:
        assert kept.use_by <= T0 + max(FRESH_LIMITS.values())


@given(stays=legal_histories(), to=st.sampled_from(sorted(FROZEN, key=str)))
def test_every_thawed_bag_is_refused_a_freezer(stays: list[Stay], to: Location) -> None:
    at = stays[-1].since + HOUR
    if thawed_at(stays) is None:
        check_move(stays, to, at)
    else:
        with pytest.raises(StashRuleError):
            check_move(stays, to, at)
