"""The renewal policy: table-driven, pure."""
from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone

import pytest

from shared import renewal

T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)


@pytest.mark.parametrize(
    "lifetime_days,override,expected_before",
    [
        (365, None, timedelta(days=60)),  # long lifetimes: capped at 60 days
        (180, None, timedelta(days=60)),
        (90, None, timedelta(days=30)),  # Let's Encrypt: a third
        (6, None, timedelta(days=3)),  # short-lived (10 days or less): half the lifetime
        (10, None, timedelta(days=5)),
        (11, None, timedelta(days=11) / 3),
        (45, None, timedelta(days=15)),  # 45- and 47-day certificates: a third
        (47, None, timedelta(days=47) / 3),
        (365, 10, timedelta(days=10)),  # per-certificate override wins
        (30, 60, timedelta(days=10)),  # an override longer than the lifetime falls back
    ],
)
def test_renewal_due_at_is_not_after_minus_renew_before(lifetime_days, override, expected_before):
    not_after = T0 + timedelta(days=lifetime_days)
    due = renewal.renewal_due_at(T0, not_after, override_days=override)
    assert due == not_after - expected_before


def test_ari_window_wins_with_a_random_instant_inside_it():
    start, end = T0 + timedelta(days=50), T0 + timedelta(days=52)
    dues = {renewal.renewal_due_at(T0, T0 + timedelta(days=90), ari_window=(start, end), rng=random.Random(s)) for s in range(20)}
    assert all(start <= d <= end for d in dues)
    assert len(dues) > 1  # spread, not one instant for the whole fleet


@pytest.mark.parametrize(
    "failures,expected",
    [(0, timedelta(0)), (1, timedelta(hours=1)), (2, timedelta(hours=2)), (3, timedelta(hours=4)),
     (5, timedelta(hours=16)), (6, timedelta(hours=24)), (40, timedelta(hours=24))],
)  # fmt: skip
def test_backoff_doubles_and_caps_at_a_day(failures, expected):
    assert renewal.backoff(failures) == expected


def test_retry_never_goes_past_a_day_before_expiry():
    not_after = T0 + timedelta(hours=30)
    assert renewal.retry_at(T0, 6, not_after) == T0 + timedelta(hours=6)
    assert renewal.retry_at(T0, 1, not_after) == T0 + timedelta(hours=1)
    # already inside the last day: retry now rather than later
    assert renewal.retry_at(T0, 3, T0 + timedelta(hours=5)) == T0


def test_a_ca_retry_after_longer_than_the_backoff_is_honoured():
    far = T0 + timedelta(days=60)
    assert renewal.retry_at(T0, 1, far, timedelta(hours=3)) == T0 + timedelta(hours=3)
    assert renewal.retry_at(T0, 4, far, timedelta(minutes=5)) == T0 + timedelta(hours=8)


@pytest.mark.parametrize("due,now,expected", [(None, T0, False), (T0, T0, True), (T0 + timedelta(seconds=1), T0, False)])
def test_is_due(due, now, expected):
    assert renewal.is_due(due, now) is expected


H = timedelta(hours=1)


@pytest.mark.parametrize(
    "due_in,left,interval,expected",
    [
        (H, 100 * H, 8 * H, False),  # not yet, and plenty of life left
        (-H, 100 * H, 8 * H, True),  # its time has come
        (10 * H, 15 * H, 8 * H, True),  # due after the next run, but under two runs of life left
        (10 * H, 17 * H, 8 * H, False),  # just over two runs left: the next run is in time
        (10 * H, 15 * H, None, False),  # no interval given: the due time alone decides
    ],
)
def test_is_due_on_this_run_when_fewer_than_two_runs_of_life_are_left(due_in, left, interval, expected):
    assert renewal.is_due(T0 + due_in, T0, not_after=T0 + left, interval=interval) is expected


def test_a_refusal_is_never_due_however_little_life_is_left():
    assert renewal.is_due(None, T0, not_after=T0 + H, interval=8 * H) is False
