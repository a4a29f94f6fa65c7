"""The outbox's delivery rules, tested without a database."""

from datetime import timedelta

import pytest

from notifications.policies import MAX_ATTEMPTS, gives_up, retry_delay


def test_first_retry_waits_one_minute():
    assert retry_delay(1) == timedelta(minutes=1)


@pytest.mark.parametrize(
    ("attempts", "minutes"),
    [(1, 1), (2, 2), (3, 4), (4, 8), (5, 16), (6, 32), (7, 64), (8, 128), (9, 256)],
)
def test_retry_delay_doubles_after_each_failed_attempt(attempts, minutes):
    assert retry_delay(attempts) == timedelta(minutes=minutes)


@pytest.mark.parametrize("attempts", [10, 11, 20, 41])
def test_retry_delay_is_capped_at_six_hours(attempts):
    assert retry_delay(attempts) == timedelta(hours=6)


@pytest.mark.parametrize("attempts", [42, 64, 1000])
def test_retry_delay_stays_capped_for_any_number_of_attempts(attempts):
    assert retry_delay(attempts) == timedelta(hours=6)


def test_retry_delay_never_shrinks_and_never_exceeds_six_hours():
    delays = [retry_delay(attempts) for attempts in range(1, 42)]
    assert delays == sorted(delays)
    assert max(delays) == timedelta(hours=6)


def test_retry_delay_before_any_failure_is_the_first_retry():
    # Nothing has failed yet: the shortest wait, never zero or a fraction of a minute.
    assert retry_delay(0) == timedelta(minutes=1)


def test_max_attempts_is_eight():
    assert MAX_ATTEMPTS == 8


@pytest.mark.parametrize("attempts", range(MAX_ATTEMPTS))
def test_keeps_trying_below_max_attempts(attempts):
    assert not gives_up(attempts)


@pytest.mark.parametrize("attempts", [MAX_ATTEMPTS, MAX_ATTEMPTS + 1, 100])
def test_gives_up_at_max_attempts(attempts):
    assert gives_up(attempts)


def test_all_retries_fit_within_a_working_day():
    # The waits before the last attempt add up to a little over four hours: an SMTP outage
    # of an afternoon is survived, a message is not held for days.
    total = sum((retry_delay(attempts) for attempts in range(1, MAX_ATTEMPTS)), timedelta())
    assert total == timedelta(minutes=1 + 2 + 4 + 8 + 16 + 32 + 64)
