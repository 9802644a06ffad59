"""When is a certificate due for renewal? Pure decisions, table-tested in tests/unit.

renewalDueAt = notAfter - renewBefore, renewBefore = min(60 days, lifetime / 3) unless set per
certificate; a short-lived certificate (10 days or less, e.g. Let's Encrypt's 160-hour
"shortlived" profile) renews at half its lifetime, so that with an 8-hour auto_renew schedule two
failed attempts still leave more than two days. A window from ACME Renewal Information
(RFC 9773) wins when offered. After a failure, back off 1 h, 2 h, 4 h ... capped at 24 h, but
never past notAfter - 1 day. Whatever the due time says, a certificate with less than two
auto_renew intervals left is due now: the next run might come too late.
"""
from __future__ import annotations

import random
from datetime import datetime, timedelta

MAX_RENEW_BEFORE = timedelta(days=60)
SHORT_LIVED = timedelta(days=10)  # at most this long: renew at half the lifetime, not at two thirds
FIRST_BACKOFF = timedelta(hours=1)
MAX_BACKOFF = timedelta(hours=24)
LAST_CHANCE = timedelta(days=1)


def renew_before(not_before: datetime, not_after: datetime, override_days: int | None = None) -> timedelta:
    lifetime = not_after - not_before
    if override_days is not None and timedelta(days=override_days) < lifetime:
        return timedelta(days=override_days)
    # No override, or one longer than the lifetime (it would make the certificate due at once).
    if lifetime <= SHORT_LIVED:
        return lifetime / 2
    return min(MAX_RENEW_BEFORE, lifetime / 3)


def renewal_due_at(
    not_before: datetime,
    not_after: datetime,
    *,
    override_days: int | None = None,
    ari_window: tuple[datetime, datetime] | None = None,
    rng: random.Random | None = None,
) -> datetime:
    """The instant a healthy certificate becomes due."""
    if ari_window is not None:
        start, end = ari_window
        if end > start:
            fraction = (rng or random.Random()).random()
            return start + (end - start) * fraction
        return start
    return not_after - renew_before(not_before, not_after, override_days)


def backoff(failure_count: int) -> timedelta:
    """Delay after the Nth consecutive failure (1-based)."""
    if failure_count < 1:
        return timedelta(0)
    exponent = min(failure_count - 1, 10)
    return min(FIRST_BACKOFF * (2**exponent), MAX_BACKOFF)


def retry_at(
    now: datetime, failure_count: int, not_after: datetime | None, retry_after: timedelta | None = None
) -> datetime:
    """Next attempt after a failure: backoff (or the CA's Retry-After when longer), but never
    later than notAfter - 1 day."""
    candidate = now + max(backoff(failure_count), retry_after or timedelta(0))
    if not_after is not None:
        candidate = min(candidate, max(now, not_after - LAST_CHANCE))
    return candidate


def is_due(
    due_at: datetime | None, now: datetime, *, not_after: datetime | None = None, interval: timedelta | None = None
) -> bool:
    """Due when its time has come, or when less than two auto_renew `interval`s of life are left
    (renew on this run rather than the next). No due time (a refusal) means never."""
    if due_at is None:
        return False
    if due_at <= now:
        return True
    return not_after is not None and interval is not None and not_after - now < 2 * interval
