"""The retry policy alone: Retry-After parsing, backoff growth, the time budget, what is retried."""

from __future__ import annotations

import email.utils
import time

import pytest

from oneinbox_nb.client.retry import RetryPolicy, is_retryable, parse_retry_after
from oneinbox_nb.exceptions import (
    APIConnectionError,
    AuthenticationError,
    CallNotFoundError,
    ConfigurationError,
    InvalidResponseError,
    RateLimitError,
    RequestTimeoutError,
    ServerError,
)


class _Response:
    def __init__(self, status: int) -> None:
        self.status_code = status


def status(cls, code: int, **kw):
    return cls("x", response=_Response(code), **kw)


def http_date(offset_s: float) -> str:
    return email.utils.formatdate(time.time() + offset_s, usegmt=True)


def test_retry_after_seconds_and_dates():
    assert parse_retry_after("1.5") == 1.5 and parse_retry_after("3") == 3.0
    assert 25 < parse_retry_after(http_date(30)) <= 30


@pytest.mark.parametrize(
    "value",
    [None, "", "soon", "0", "-4", "nan", "inf", "1e12", "Wed, 21 Oct 2015 07:28:00 GMT"],
    ids=["absent", "empty", "words", "zero", "negative", "nan", "inf", "absurd", "past-date"],
)
def test_unusable_retry_after_falls_back_to_backoff(value):
    assert parse_retry_after(value) is None


def test_past_date_retry_after_is_backoff_not_a_hot_loop():
    policy = RetryPolicy(backoff=0.5, max_backoff=4)
    error = status(RateLimitError, 429, retry_after=parse_retry_after(http_date(-5)))
    waits = [policy.budget_only().next_delay(error, k, 0.0) for k in range(1, 6)]
    assert all(w is not None and w >= 0.25 for w in waits)  # half the first step at least
    assert waits[-1] >= 2.0  # and growing


def test_backoff_grows_is_capped_and_has_a_floor():
    policy = RetryPolicy(backoff=1.0, max_backoff=4.0)
    for attempt, cap in [(1, 1.0), (2, 2.0), (3, 4.0), (9, 4.0), (500, 4.0)]:
        assert all(cap / 2 <= policy.delay(attempt) <= cap for _ in range(200))


def test_budget_ends_retries_and_attempts_count_only_when_asked():
    policy = RetryPolicy(max_attempts=2, backoff=1.0, max_backoff=1.0, budget=10.0)
    error = status(ServerError, 503)
    assert policy.next_delay(error, 1, 0.0) is not None
    assert policy.next_delay(error, 2, 0.0) is None  # out of attempts
    by_time = policy.budget_only()
    assert by_time.max_attempts is None and by_time.budget == 10.0
    assert by_time.next_delay(error, 2, 0.0) is not None
    assert by_time.next_delay(error, 50, 9.5) is None  # out of time


@pytest.mark.parametrize("attempts", [0, -1, 1.5, True, "3"])
def test_max_attempts_is_a_positive_integer_or_none(attempts):
    with pytest.raises(ConfigurationError, match="max_attempts"):
        RetryPolicy(max_attempts=attempts)


def test_retry_after_honoured_on_429_and_503_and_refused_beyond_the_limit():
    policy = RetryPolicy(max_retry_after=60)
    assert policy.next_delay(status(RateLimitError, 429, retry_after=3.0), 1, 0) == 3.0
    assert policy.next_delay(status(ServerError, 503, retry_after=3.0), 1, 0) == 3.0
    assert policy.next_delay(status(RateLimitError, 429, retry_after=3600.0), 1, 0) is None


@pytest.mark.parametrize(
    ("error", "retried"),
    [
        (APIConnectionError("x", reason="refused"), True),
        (APIConnectionError("x", reason="dropped"), True),
        (RequestTimeoutError("x", reason="timeout"), True),
        (InvalidResponseError("x", reason="truncated"), True),
        (APIConnectionError("x", reason="dns"), False),
        (APIConnectionError("x", reason="tls"), False),
        (InvalidResponseError("x", reason="invalid"), False),
        (status(ServerError, 500), True),
        (status(RateLimitError, 429), True),
        (status(AuthenticationError, 401), False),
        (status(CallNotFoundError, 404), False),
    ],
)
def test_what_is_retried(error, retried):
    assert is_retryable(error) is retried


@pytest.mark.parametrize(
    "kw", [{"max_attempts": 0}, {"backoff": -1}, {"budget": 0}, {"max_attempts": 1.5}]
)
def test_bad_policies_are_refused(kw):
    with pytest.raises(ConfigurationError):
        RetryPolicy(**kw)
