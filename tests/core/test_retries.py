"""Retry timing and eligibility, as Airflow's ``next_retry_datetime`` and ``_is_eligible_to_retry``."""

from __future__ import annotations

import hashlib
import math
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dagflow.core.retries import next_try_at, retry_delay, should_retry

DAY = timedelta(days=1)
KEY = "my_dag#my_task#2024-01-01 00:00:00+00:00"


def backoff(try_number: int, delay: timedelta, *, key: str = KEY, max_delay=None) -> timedelta:
    return retry_delay(
        try_number=try_number, delay=delay, exponential_backoff=True, max_delay=max_delay, jitter_key=key
    )


def test_without_backoff_every_retry_waits_retry_delay():
    for try_number in (1, 2, 5):
        wait = retry_delay(
            try_number=try_number,
            delay=timedelta(seconds=42),
            exponential_backoff=False,
            max_delay=None,
            jitter_key=KEY,
        )
        assert wait == timedelta(seconds=42)


def test_max_retry_delay_applies_only_with_backoff():
    wait = retry_delay(
        try_number=3,
        delay=timedelta(minutes=10),
        exponential_backoff=False,
        max_delay=timedelta(minutes=1),
        jitter_key=KEY,
    )
    assert wait == timedelta(minutes=10)


def test_next_try_is_the_end_of_the_failed_try_plus_the_delay():
    end = datetime(2024, 1, 1, 8, 30, tzinfo=UTC)
    at = next_try_at(
        end,
        try_number=1,
        delay=timedelta(seconds=300),
        exponential_backoff=False,
        max_delay=None,
        jitter_key=KEY,
    )
    assert at == end + timedelta(seconds=300)


@given(seconds=st.integers(min_value=1, max_value=3600), try_number=st.integers(min_value=1, max_value=12))
def test_backoff_waits_between_the_doubled_delay_and_twice_that(seconds, try_number):
    minimum = math.ceil(seconds * 2 ** (try_number - 1))
    wait = backoff(try_number, timedelta(seconds=seconds)).total_seconds()
    if minimum >= DAY.total_seconds():
        assert wait == DAY.total_seconds()
    else:
        assert minimum <= wait <= min(2 * minimum - 1, DAY.total_seconds())


@given(seconds=st.floats(min_value=0, max_value=10_000), try_number=st.integers(min_value=1, max_value=20))
def test_backoff_never_waits_more_than_a_day_nor_less_than_a_second(seconds, try_number):
    wait = backoff(try_number, timedelta(seconds=seconds))
    assert timedelta(seconds=1) <= wait <= DAY


def test_backoff_grows_with_the_try_number():
    waits = [backoff(n, timedelta(seconds=10)) for n in range(1, 6)]
    assert waits == sorted(waits)
    assert waits[-1] >= timedelta(seconds=160)


@given(key=st.text(max_size=40), try_number=st.integers(min_value=1, max_value=8))
def test_backoff_is_deterministic_per_key(key, try_number):
    delay = timedelta(seconds=17)
    assert backoff(try_number, delay, key=key) == backoff(try_number, delay, key=key)


def test_backoff_jitter_depends_on_the_key():
    delay = timedelta(seconds=1000)
    waits = {backoff(1, delay, key=f"dag#task_{i}#2024-01-01 00:00:00+00:00") for i in range(20)}
    assert len(waits) > 1


@pytest.mark.parametrize("try_number", [1, 2, 3, 7])
def test_backoff_matches_airflows_formula(try_number):
    delay = timedelta(seconds=30)
    minimum = max(1, math.ceil(delay.total_seconds() * 2 ** (try_number - 1)))
    digest = int(hashlib.sha1(f"{KEY}#{try_number}".encode()).hexdigest(), 16)
    expected = timedelta(seconds=min(minimum + digest % minimum, 86400))
    assert backoff(try_number, delay) == expected


def test_backoff_is_capped_at_max_retry_delay():
    wait = backoff(6, timedelta(seconds=60), max_delay=timedelta(seconds=90))
    assert wait == timedelta(seconds=90)


def test_max_retry_delay_above_the_backoff_changes_nothing():
    uncapped = backoff(2, timedelta(seconds=60))
    assert backoff(2, timedelta(seconds=60), max_delay=timedelta(hours=1)) == uncapped


def test_backoff_is_capped_at_one_day():
    assert backoff(5, timedelta(hours=12)) == DAY
    assert backoff(1, timedelta(days=3)) == DAY


def test_backoff_of_a_zero_delay_waits_one_second():
    assert backoff(1, timedelta(0)) == timedelta(seconds=1)


@pytest.mark.parametrize(
    ("retries", "try_number", "expected"),
    [(2, 1, True), (2, 2, True), (2, 3, False), (0, 1, False), (1, 1, True), (1, 2, False)],
)
def test_should_retry_while_tries_remain(retries, try_number, expected):
    assert should_retry(try_number=try_number, max_tries=retries) is expected


@given(retries=st.integers(min_value=0, max_value=20))
def test_retries_give_retries_plus_one_tries_in_all(retries):
    tries = 1
    while should_retry(try_number=tries, max_tries=retries):
        tries += 1
    assert tries == retries + 1
