"""When to try a GET again, and how long to wait first: :class:`RetryPolicy` and ``Retry-After``.

One policy decides for the sync client, the async client and :func:`oneinbox_nb.fetch_calls`:

- Only transient failures are retried: connection refused/reset/dropped, timeouts, truncated
  bodies, 429 and 5xx. A DNS or TLS failure, an answer that is not the call asked for, 401/403,
  404 and 422 are answered at once.
- The wait is capped exponential backoff with jitter: attempt ``k`` waits between half and all of
  ``min(max_backoff, backoff * 2**(k-1))`` seconds, so waits grow and never collapse to a hot loop.
- ``Retry-After`` (seconds or an HTTP date) is honoured on 429 and 503. A value in the past, zero,
  unparseable or absurd (over a day) is ignored and the backoff applies; a sane value beyond
  ``max_retry_after`` ends the retries at once, since waiting that long is not what the caller
  asked for.
- Retries stop after ``max_attempts`` tries of one client call, or once the next wait would end
  past ``budget`` seconds from the first try. A policy made with :meth:`RetryPolicy.budget_only`
  (``max_attempts=None``) counts no attempts and stops on the budget alone: the one way a run says
  "retry by time" (``fetch_calls`` per id and while listing, so an outage of a few seconds loses
  nothing).
"""

from __future__ import annotations

import dataclasses
import email.utils
import math
import random
import time
from dataclasses import dataclass

from ..exceptions import (
    APIStatusError,
    ConfigurationError,
    OneInboxError,
    TransportError,
)

__all__ = ["RETRY_STATUSES", "RetryPolicy", "is_retryable", "parse_retry_after"]

#: Status codes worth another try.
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
#: Transport failures that will not go away by themselves.
PERMANENT_TRANSPORT_REASONS = frozenset({"dns", "tls", "invalid"})
#: A ``Retry-After`` longer than this is not a real schedule (clock trouble or garbage).
ABSURD_RETRY_AFTER_S = 86_400.0


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header, or None to use the client's own backoff.

    Accepts delta-seconds (``"3"``, ``"1.5"``) and HTTP dates. Returns None when the header is
    absent, unparseable, not positive (a date already past, e.g. when the server's clock is
    behind), not finite, or absurd (more than a day).
    """
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
        if when.tzinfo is None:  # "-0000" dates parse naive; HTTP dates are GMT
            return None
        seconds = when.timestamp() - (time.time() if now is None else now)
    if not math.isfinite(seconds) or seconds <= 0 or seconds > ABSURD_RETRY_AFTER_S:
        return None
    return seconds


def is_retryable(error: OneInboxError) -> bool:
    """True for failures that may pass by themselves (see the module docstring)."""
    if isinstance(error, TransportError):
        return getattr(error, "reason", None) not in PERMANENT_TRANSPORT_REASONS
    return isinstance(error, APIStatusError) and error.status_code in RETRY_STATUSES


@dataclass(frozen=True)
class RetryPolicy:
    """How GETs are retried.

    Parameters
    ----------
    max_attempts
        Total tries of one client call, the first included (1 disables retries); None counts no
        attempts, so only ``budget`` ends the retries (see :meth:`budget_only`).
    backoff
        Base delay in seconds; attempt ``k`` waits between half and all of ``backoff * 2**(k-1)``.
    max_backoff
        Cap on one computed delay, in seconds.
    max_retry_after
        Longest ``Retry-After`` honoured, in seconds; a server asking for more (but less than a
        day) ends the retries at once instead of silently sleeping.
    budget
        Seconds from the first try after which no retry is started (per call, or per id in
        ``fetch_calls``). Default 120.
    """

    max_attempts: int | None = 4
    backoff: float = 0.25
    max_backoff: float = 8.0
    max_retry_after: float = 60.0
    budget: float = 120.0

    def __post_init__(self) -> None:
        attempts = self.max_attempts
        if attempts is not None and (
            isinstance(attempts, bool) or not isinstance(attempts, int) or attempts < 1
        ):
            raise ConfigurationError(
                "RetryPolicy.max_attempts must be an integer of at least 1, or None to retry "
                "until the budget is spent"
            )
        if self.backoff < 0 or self.max_backoff < 0 or self.max_retry_after < 0:
            raise ConfigurationError("RetryPolicy delays must not be negative")
        if not self.budget > 0:
            raise ConfigurationError("RetryPolicy.budget must be a positive number of seconds")

    def budget_only(self) -> RetryPolicy:
        """This policy with no attempt count: retries stop when ``budget`` is spent, not before.

        The one way to say "retry by time" (``fetch_calls`` uses it for each id and for paging),
        so a short outage costs waiting, never an id.

        Returns
        -------
        RetryPolicy
            A copy with ``max_attempts=None``.
        """
        return dataclasses.replace(self, max_attempts=None)

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds to wait before retry number ``attempt`` (1-based).

        ``retry_after`` (already parsed, see :func:`parse_retry_after`) is used as given;
        otherwise capped exponential backoff with jitter.
        """
        if retry_after is not None:
            return min(retry_after, self.max_retry_after)
        cap = min(self.max_backoff, self.backoff * 2 ** min(attempt - 1, 62))
        return random.uniform(cap / 2, cap)

    def next_delay(self, error: OneInboxError, attempt: int, elapsed: float) -> float | None:
        """Seconds to sleep before trying again after ``error``, or None to give up.

        Parameters
        ----------
        error
            What the last try raised.
        attempt
            How many tries were made so far (1 after the first).
        elapsed
            Seconds since the first try.
        """
        if not is_retryable(error):
            return None
        if self.max_attempts is not None and attempt >= self.max_attempts:
            return None
        retry_after = getattr(error, "retry_after", None)
        if retry_after is not None and retry_after > self.max_retry_after:
            return None
        delay = self.delay(attempt, retry_after)
        if elapsed + delay > self.budget:
            return None
        return delay
