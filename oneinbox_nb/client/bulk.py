"""Many ``GET /v1/calls/{id}`` at once: an adaptive bound, an outage gate and a budget per id.

:func:`get_calls` runs a bounded number of requests in flight on an
:class:`~oneinbox_nb.client.AsyncOneInboxClient` and promises that every id ends up either
delivered (``on_call``) or in exactly one failure row. How it copes with a misbehaving API:

- **Throttling.** Under 429 the bound drops to the number of requests the API was still serving,
  the throttled request gives its slot back while it waits out ``Retry-After``, and the bound
  climbs back by one per window of successes (it stops probing when the work left would finish
  before a throttled retry could, so a probe never becomes the run's tail).
- **Transient failures** (refused or dropped connections, timeouts, 5xx, truncated bodies) are
  retried per the client's :class:`~oneinbox_nb.client.RetryPolicy`, made
  :meth:`~oneinbox_nb.client.RetryPolicy.budget_only`: each id is tried until its time budget
  (``RetryPolicy.budget``, default 120 s) is spent.
- **Outages and rate-limit storms.** After :data:`OUTAGE_THRESHOLD` connection failures in a row
  across workers (no answer at all), or as many 429 answers in a row as requests may be in flight
  (the concurrency, or the ids if fewer; at least :data:`OUTAGE_THRESHOLD`), every worker pauses
  together; one probe at a time (the paused request itself, sent after a growing delay that
  honours ``Retry-After``) decides when to resume. Any other answer resumes everyone. A streak
  that lasts longer than one budget ends the run, whatever the number of ids: the id that met it fails with its error, the ids left are
  listed as ``NotAttempted``.
- **Run-ending failures.** 401/403, an unresolvable host name, a TLS failure, or a 429 whose
  ``Retry-After`` asks more than the policy's ``max_retry_after`` end the run at once (waiting that
  long is not what the caller asked for, and every other request would be told the same):
  one failure row says why, and each id not fetched is listed as ``NotAttempted``.
- **Odd answers.** An answer that is not the call asked for fails that id with an
  ``InvalidResponseError``; nothing an answer contains can stop the others.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable

from ..exceptions import (
    APIConnectionError,
    AuthenticationError,
    OneInboxError,
    RateLimitError,
    RequestTimeoutError,
    TransportError,
)
from .async_ import AsyncOneInboxClient
from .retry import RetryPolicy

__all__ = [
    "MAX_PROBE_INTERVAL_S",
    "OUTAGE_THRESHOLD",
    "AdaptiveLimit",
    "BulkRun",
    "failure_row",
    "get_calls",
]

log = logging.getLogger("oneinbox_nb.fetch")

#: Each request of a bulk run is one try: the run, not the client, decides about retries.
ONE_TRY = RetryPolicy(max_attempts=1)
#: Connection failures in a row (with no answer between) that mean the API is down for everyone.
OUTAGE_THRESHOLD = 3
#: Longest wait between two probes of a paused run, in seconds, unless ``Retry-After`` asks more.
MAX_PROBE_INTERVAL_S = 2.0

#: What :func:`get_calls` reports for an id: ``on_done(call_id, call)``, ``call`` None on failure.
Done = Callable[[str, "dict | None"], None]


def failure_row(call_id: object, error: BaseException) -> dict:
    """One row of ``FetchResult.failures``: ``call_id``, ``error_type``, ``status_code``,
    ``error``."""
    return {
        "call_id": str(call_id),
        "error_type": type(error).__name__,
        "status_code": getattr(error, "status_code", None),
        "error": str(error),
    }


class AdaptiveLimit:
    """A concurrency bound that shrinks when the server throttles and regrows on success."""

    def __init__(self, ceiling: int, remaining: int) -> None:
        self.ceiling = ceiling
        self.limit = float(ceiling)
        self.in_flight = 0
        self.remaining = remaining
        self.retry_after: float | None = None
        self._started = time.monotonic()
        self._done = 0
        self._cond = asyncio.Condition()

    async def acquire(self) -> None:
        async with self._cond:
            await self._cond.wait_for(lambda: self.in_flight < max(1, int(self.limit)))
            self.in_flight += 1

    async def release(self, *, throttled: bool = False, retry_after: float | None = None) -> None:
        async with self._cond:
            self.in_flight -= 1
            if throttled:
                # The server was serving the others still in flight: that is its capacity.
                self.limit = max(1.0, min(self.limit, float(self.in_flight)))
                self.retry_after = retry_after if retry_after is not None else 1.0
            else:
                self._done += 1
                self.remaining -= 1
                if self.limit < self.ceiling and self._worth_probing():
                    self.limit = min(float(self.ceiling), self.limit + 1.0 / self.limit)
            self._cond.notify_all()

    def _worth_probing(self) -> bool:
        if self.retry_after is None:
            return True
        rate = self._done / max(time.monotonic() - self._started, 1e-6)
        return self.remaining / rate > 2 * self.retry_after


class RunEnded(Exception):
    """Raised in a worker once the run has been ended; the id is listed as NotAttempted."""


def ends_the_run(error: OneInboxError, policy: RetryPolicy) -> bool:
    """401/403, DNS and TLS failures, or a ``Retry-After`` beyond the policy: every other request
    would fail (or be told to wait) the same way."""
    if isinstance(error, AuthenticationError):
        return True
    retry_after = getattr(error, "retry_after", None)
    if isinstance(error, RateLimitError) and retry_after is not None:
        return retry_after > policy.max_retry_after
    return isinstance(error, TransportError) and error.reason in ("dns", "tls")


def connection_failure(error: OneInboxError) -> bool:
    """No HTTP answer at all: what an API that is down looks like."""
    if isinstance(error, APIConnectionError):
        return error.reason in ("refused", "dropped", "other")
    return isinstance(error, RequestTimeoutError)


class BulkRun:
    """What the workers of one run share: the bound, the pause gate and the end of the run.

    The gate: :meth:`trouble` counts connection failures and 429 answers in a row across workers;
    past its threshold the run pauses. While paused, :meth:`gate` lets one request through at a
    time (the probe) after a growing delay and holds the others; the first other answer resumes
    everyone. A streak of trouble longer than the retry budget ends the run.
    """

    def __init__(self, concurrency: int, remaining: int, policy: RetryPolicy) -> None:
        self.limit = AdaptiveLimit(concurrency, remaining)
        self.policy = policy.budget_only()
        self.ended: OneInboxError | None = None
        self.ended_by: str | None = None
        self.outages = 0
        self.probes = 0
        self.storm_threshold = max(OUTAGE_THRESHOLD, min(concurrency, remaining))
        self._refused_in_a_row = 0
        self._throttled_in_a_row = 0
        self._trouble_since: float | None = None
        self._last_trouble: tuple[OneInboxError, str] | None = None
        self._wait_asked: float | None = None
        self._paused = False
        self._resumed = asyncio.Event()
        self._resumed.set()
        self._probing = False

    @property
    def paused(self) -> bool:
        return self._paused

    def end(self, error: OneInboxError, call_id: str) -> None:
        if self.ended is None:
            self.ended, self.ended_by = error, call_id
            log.warning("fetch stopped: %s", error)
        self._resumed.set()

    def check(self) -> None:
        if self.ended is not None:
            raise RunEnded

    async def gate(self) -> bool:
        """Wait until a request may go; True when it goes as the paused run's probe."""
        while True:
            self.check()
            if not self.paused:
                return False
            if not self._probing:
                self._probing = True
                delay = self._probe_delay()
                if self._out_of_budget(delay) and self._last_trouble is not None:
                    self._probing = False
                    self.end(*self._last_trouble)  # the probe could only land too late
                    continue
                try:
                    await asyncio.sleep(delay)
                except BaseException:
                    self._probing = False
                    raise
                if self.paused and self.ended is None:
                    self.probes += 1
                    return True
                self._probing = False
                continue
            await self._resumed.wait()

    def _probe_delay(self) -> float:
        backoff = max(0.05, min(MAX_PROBE_INTERVAL_S, self.policy.delay(self.probes + 1)))
        if self._wait_asked is None:
            return backoff
        return max(backoff, min(self._wait_asked, self.policy.max_retry_after))

    def _out_of_budget(self, delay: float = 0.0) -> bool:
        since = self._trouble_since
        return since is not None and time.monotonic() + delay - since > self.policy.budget

    def answered(self, probe: bool) -> None:
        """An HTTP answer other than 429 arrived: the API is up and serving."""
        self._refused_in_a_row = self._throttled_in_a_row = 0
        self._trouble_since = self._wait_asked = None
        if probe:
            self._probing = False
        if self.paused:
            log.warning("the API answers again; resuming")
            self._paused = False
            self.probes = 0
            self._resumed.set()

    def trouble(self, error: OneInboxError, probe: bool, call_id: str) -> None:
        """A try met no answer (a connection failure) or a 429: count it, pause, end the run."""
        throttled = isinstance(error, RateLimitError)
        if probe:
            self._probing = False
        elif throttled:
            self._throttled_in_a_row += 1
        else:
            self._refused_in_a_row += 1
        if self._trouble_since is None:
            self._trouble_since = time.monotonic()
        self._last_trouble = (error, call_id)
        if throttled:
            self._wait_asked = getattr(error, "retry_after", None)
        if not self.paused and (
            self._refused_in_a_row >= OUTAGE_THRESHOLD
            or self._throttled_in_a_row >= self.storm_threshold
        ):
            self._paused = True
            self.outages += 1
            self._resumed.clear()
            what = "rate-limits every request" if throttled else "looks down"
            log.warning("the API %s (%s); pausing all requests and probing", what, error)
        if self.paused and self._out_of_budget():
            self.end(error, call_id)


async def get_one(client: AsyncOneInboxClient, call_id: str, run: BulkRun) -> dict:
    """One id, tried until it arrives, fails for good, its budget is spent or the run ends."""
    started: float | None = None
    attempt = 0
    while True:
        probe = await run.gate()
        if started is None:
            started = time.monotonic()
        await run.limit.acquire()
        try:
            call = await client.get_call(call_id, retry=ONE_TRY)
        except OneInboxError as error:
            throttled = isinstance(error, RateLimitError)
            await run.limit.release(
                throttled=throttled, retry_after=getattr(error, "retry_after", None)
            )
            if ends_the_run(error, run.policy):
                run.end(error, call_id)
                raise
            if throttled or connection_failure(error):
                run.trouble(error, probe, call_id)
                if run.paused or run.ended is not None:
                    continue  # the gate holds this request until the API serves again
            else:
                run.answered(probe)
            attempt += 1
            delay = run.policy.next_delay(error, attempt, time.monotonic() - started)
            if delay is None:
                raise
            await asyncio.sleep(delay)
            continue
        except BaseException:
            await run.limit.release()
            raise
        run.answered(probe)
        await run.limit.release()
        return call


def not_attempted(run: BulkRun, call_ids: Iterable[str]) -> list[dict]:
    """The failure rows of the ids left when the run ended."""
    cause = str(run.ended).split(". ")[0]
    return [
        {
            "call_id": call_id,
            "error_type": "NotAttempted",
            "status_code": None,
            "error": f"not fetched: the run stopped at call {run.ended_by} ({cause}). Fix that and "
            "run again; calls already stored are kept.",
        }
        for call_id in call_ids
    ]


async def get_calls(
    client: AsyncOneInboxClient,
    call_ids: list[str],
    *,
    concurrency: int,
    on_done: Done,
) -> tuple[list[dict], BulkRun]:
    """Fetch ``call_ids`` (valid and distinct) with at most ``concurrency`` requests in flight.

    Parameters
    ----------
    client
        Its :class:`~oneinbox_nb.client.RetryPolicy` sets the budget per id and per streak.
    call_ids
        Canonical call ids, each once.
    concurrency
        The ceiling of the adaptive bound.
    on_done
        Called once per id as it ends: ``on_done(call_id, call)``, ``call`` None when it failed
        (ids left when the run ended are not reported here, only in the failure rows).

    Returns
    -------
    failures : list of dict
        One :func:`failure_row` per id not delivered, ``NotAttempted`` rows included, so every id
        is delivered or in exactly one row.
    run : BulkRun
        The shared state, for its counts (``outages``, ``probes``) and ``ended``.
    """
    run = BulkRun(concurrency, len(call_ids), client.retry)
    failures: list[dict] = []
    queue = iter(call_ids)
    left = set(call_ids)

    async def worker() -> None:
        for call_id in queue:
            try:
                call = await get_one(client, call_id, run)
            except RunEnded:
                if call_id != run.ended_by:
                    continue  # listed as NotAttempted once the workers are done
                failures.append(failure_row(call_id, run.ended))
                call = None
            except Exception as error:  # noqa: BLE001 - every id must be accounted for
                if run.ended is not None and run.ended_by != call_id:
                    continue  # failed the same way as the id that ended the run
                failures.append(failure_row(call_id, error))
                call = None
            left.discard(call_id)
            on_done(call_id, call)

    await asyncio.gather(*(worker() for _ in range(min(concurrency, len(call_ids)))))
    if run.ended is not None:
        failures += not_attempted(run, [cid for cid in call_ids if cid in left])
    return failures, run
