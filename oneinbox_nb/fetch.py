"""Fetching many calls at once: :func:`fetch_calls`, and :func:`load_call` for one.

``fetch_calls`` runs on :class:`~oneinbox_nb.client.AsyncOneInboxClient` with a bounded number of
requests in flight, and promises that every id asked for ends up in exactly one of
``FetchResult.calls`` or ``FetchResult.failures``. How a run copes with a misbehaving API:

- **Throttling.** Under 429 the bound drops to the number of requests the API was still serving,
  the throttled request gives its slot back while it waits out ``Retry-After``, and the bound
  climbs back by one per window of successes (it stops probing when the work left would finish
  before a throttled retry could, so a probe never becomes the run's tail).
- **Transient failures** (refused or dropped connections, timeouts, 5xx, truncated bodies) are
  retried per the client's :class:`~oneinbox_nb.client.RetryPolicy` until each id's time budget
  (``RetryPolicy.budget``, default 120 s) is spent.
- **Outages.** After a few connection failures in a row across workers, every worker pauses; one
  probe at a time (the paused request itself, sent after a growing delay) decides when to resume.
  A short outage loses nothing and adds a handful of requests. An outage longer than the budget
  ends the run: the ids left are listed as ``NotAttempted``.
- **Run-ending failures.** 401/403, an unresolvable host name or a TLS failure end the run at once:
  one failure row says why, and each id not fetched is listed as ``NotAttempted``.
- **Odd answers.** An answer that is not the call asked for fails that id with an
  ``InvalidResponseError``; nothing an answer contains can stop the others or reach the store.
- **Ctrl-C** cancels the run promptly wherever it runs (a script, ``asyncio.run``, a notebook
  cell); what was already stored is kept, so running it again resumes.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import dataclasses
import gc
import logging
import signal
import threading
import time
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from .cache import CallCache, StoreWarning, source_name
from .client import AsyncOneInboxClient, OneInboxClient, RetryPolicy, validate_call_id
from .exceptions import (
    APIConnectionError,
    AuthenticationError,
    CacheError,
    ConfigurationError,
    OneInboxError,
    RateLimitError,
    RequestTimeoutError,
    TransportError,
)
from .frames import CallFrames, to_frames
from .frames.build import agent_names as _agent_map
from .matching import same_value

if TYPE_CHECKING:
    from tqdm.auto import tqdm as Tqdm

__all__ = ["AgentNamesWarning", "FetchResult", "fetch_calls", "fetch_calls_async", "load_call"]

log = logging.getLogger(__name__)

_ONE_TRY = RetryPolicy(max_attempts=1)
#: Connection failures in a row (with no success between) that mean the API is down for everyone.
OUTAGE_THRESHOLD = 3
#: Longest wait between two probes of a paused run, in seconds.
MAX_PROBE_INTERVAL_S = 2.0
#: Stored calls are written in batches of this many, or after this many seconds.
STORE_BATCH, STORE_BATCH_S = 200, 0.5
#: Stored agent names older than this (seconds) are fetched again.
AGENTS_MAX_AGE_S = 3600.0
#: ``GET /v1/agents`` gets two tries within 20 s: names are a nicety, never worth stalling a fetch.
_AGENTS_RETRY = RetryPolicy(max_attempts=2, max_retry_after=5.0, budget=20.0)


class AgentNamesWarning(UserWarning):
    """Agent names could not be fetched; ``calls.agent_name`` is ``<NA>`` where unknown."""


@dataclass
class FetchResult:
    """What :func:`fetch_calls` brought back.

    Attributes
    ----------
    calls
        The call payloads (dicts), in the order the ids were given (listing order otherwise).
    failures
        One row per id that could not be fetched: ``call_id``, ``error_type``, ``status_code``,
        ``error`` (a message saying what to do). ``error_type`` is the exception's name, or
        ``DuplicateId``, or ``NotAttempted`` for ids left when the run was ended.
    requested
        How many ids were asked for (None when listing by filters).
    from_cache, fetched
        How many calls came from the store and how many over HTTP.
    revalidated
        How many of the fetched calls were in the store but not settled (or ``refresh=True``),
        so they were asked for again.
    agents
        Agent id -> name from ``GET /v1/agents`` (or the store), for ``frames.calls.agent_name``;
        empty when the endpoint failed (the names are then ``<NA>``; one warning says why).
    corrupt_cache_entries
        ``(call_id, reason)`` for store entries that were unusable and fetched again.
    """

    calls: list[dict]
    failures: pd.DataFrame
    requested: int | None = None
    from_cache: int = 0
    fetched: int = 0
    elapsed_s: float = 0.0
    corrupt_cache_entries: list[tuple[str, str]] = field(default_factory=list)
    revalidated: int = 0
    agents: dict[str, str] = field(default_factory=dict)

    @cached_property
    def frames(self) -> CallFrames:
        """The calls as a :class:`~oneinbox_nb.frames.CallFrames`, built on first access.

        ``calls.agent_name`` comes from :attr:`agents`.
        """
        return to_frames(self.calls, agents=self.agents)

    @property
    def ok(self) -> bool:
        """True when nothing failed."""
        return self.failures.empty

    def __repr__(self) -> str:
        asked = f"{self.requested} ids" if self.requested is not None else "listing"
        return (
            f"FetchResult({asked}: {len(self.calls)} calls, {len(self.failures)} failures; "
            f"{self.from_cache} from cache, {self.fetched} fetched ({self.revalidated} "
            f"revalidated) in {self.elapsed_s:.2f} s)"
        )


def _failures_frame(rows: list[dict]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=["call_id", "error_type", "status_code", "error"])
    return frame.astype(
        {"call_id": "string", "error_type": "string", "status_code": "Int64", "error": "string"}
    )


def _failure(call_id: object, error: BaseException) -> dict:
    return {
        "call_id": str(call_id),
        "error_type": type(error).__name__,
        "status_code": getattr(error, "status_code", None),
        "error": str(error),
    }


class _AdaptiveLimit:
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


class _RunEnded(Exception):
    """Raised in a worker once the run has been ended; the id is listed as NotAttempted."""


def _ends_the_run(error: OneInboxError) -> bool:
    """401/403, DNS and TLS failures: every other request would fail the same way."""
    if isinstance(error, AuthenticationError):
        return True
    return isinstance(error, TransportError) and error.reason in ("dns", "tls")


def _connection_failure(error: OneInboxError) -> bool:
    """No HTTP answer at all: what an API that is down looks like."""
    if isinstance(error, APIConnectionError):
        return error.reason in ("refused", "dropped", "other")
    return isinstance(error, RequestTimeoutError)


class _Run:
    """What the workers of one fetch share: the bound, the outage gate and the end of the run.

    The outage gate: :meth:`connection_failed` counts connection failures in a row across
    workers; at :data:`OUTAGE_THRESHOLD` the run pauses. While paused, :meth:`gate` lets one
    request through at a time (the probe) after a growing delay and holds the others; the first
    HTTP answer of any kind resumes everyone. A pause longer than the retry budget ends the run.
    """

    def __init__(self, concurrency: int, remaining: int, policy: RetryPolicy) -> None:
        self.limit = _AdaptiveLimit(concurrency, remaining)
        self.policy = policy
        self.ended: OneInboxError | None = None
        self.ended_by: str | None = None
        self.outages = 0
        self.probes = 0
        self._failures_in_a_row = 0
        self._paused_since: float | None = None
        self._resumed = asyncio.Event()
        self._resumed.set()
        self._probing = False

    @property
    def paused(self) -> bool:
        return self._paused_since is not None

    def end(self, error: OneInboxError, call_id: str) -> None:
        if self.ended is None:
            self.ended, self.ended_by = error, call_id
            log.warning("fetch stopped: %s", error)
        self._resumed.set()

    def check(self) -> None:
        if self.ended is not None:
            raise _RunEnded

    async def gate(self) -> bool:
        """Wait until a request may go; True when it goes as the paused run's probe."""
        while True:
            self.check()
            if not self.paused:
                return False
            if not self._probing:
                self._probing = True
                try:
                    await asyncio.sleep(self._probe_delay())
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
        return max(0.05, min(MAX_PROBE_INTERVAL_S, self.policy.delay(self.probes + 1)))

    def answered(self, probe: bool) -> None:
        """An HTTP answer arrived (any status): the API is up."""
        self._failures_in_a_row = 0
        if probe:
            self._probing = False
        if self.paused:
            log.warning(
                "the API answers again after %.1f s; resuming",
                time.monotonic() - self._paused_since,
            )
            self._paused_since = None
            self.probes = 0
            self._resumed.set()

    def connection_failed(self, error: OneInboxError, probe: bool, call_id: str) -> None:
        if probe:
            self._probing = False
        else:
            self._failures_in_a_row += 1
        if not self.paused and self._failures_in_a_row >= OUTAGE_THRESHOLD:
            self._paused_since = time.monotonic()
            self.outages += 1
            self._resumed.clear()
            log.warning("the API looks down (%s); pausing all requests and probing", error)
        if self.paused and time.monotonic() - self._paused_since > self.policy.budget:
            self.end(error, call_id)


async def _fetch_one(client: AsyncOneInboxClient, call_id: str, run: _Run) -> dict:
    """One id, tried until it arrives, fails for good, its budget is spent or the run ends."""
    started: float | None = None
    attempt = 0
    while True:
        probe = await run.gate()
        if started is None:
            started = time.monotonic()
        await run.limit.acquire()
        try:
            call = await client.get_call(call_id, retry=_ONE_TRY)
        except OneInboxError as error:
            await run.limit.release(
                throttled=isinstance(error, RateLimitError),
                retry_after=getattr(error, "retry_after", None),
            )
            if _connection_failure(error):
                run.connection_failed(error, probe, call_id)
                if run.paused:
                    continue  # the gate holds this request until the API answers again
            else:
                run.answered(probe)
            if _ends_the_run(error):
                run.end(error, call_id)
                raise
            attempt += 1
            delay = run.policy.next_delay(
                error, attempt, time.monotonic() - started, count_attempts=False
            )
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


class _StoreWriter:
    """Stored calls written in batches; a store that fails is warned about once and dropped."""

    def __init__(self, store: CallCache | None) -> None:
        self.store = store
        self.pending: list[dict] = []
        self.last = time.monotonic()

    def add(self, call: dict) -> None:
        if self.store is None:
            return
        self.pending.append(call)
        if len(self.pending) >= STORE_BATCH or time.monotonic() - self.last > STORE_BATCH_S:
            self.flush()

    def flush(self) -> None:
        batch, self.pending, self.last = self.pending, [], time.monotonic()
        if self.store is None or not batch:
            return
        try:
            self.store.put_many(batch)
        except CacheError as error:
            _store_failed(error)
            self.store = None


def _store_failed(error: CacheError) -> None:
    warnings.warn(f"{error}. This fetch goes on without the store.", StoreWarning, stacklevel=2)


def _progress(total: int | None, enabled: bool, desc: str) -> Tqdm | None:
    if not enabled:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit="call", dynamic_ncols=True)


def _as_async_client(client: OneInboxClient | AsyncOneInboxClient | None, concurrency: int):
    if isinstance(client, AsyncOneInboxClient):
        return client, False
    if isinstance(client, OneInboxClient):
        return (
            AsyncOneInboxClient(
                client._api_key,
                client.base_url,
                timeout=client.timeout,
                retry=client.retry,
                max_connections=max(concurrency, 1),
            ),
            True,
        )
    if client is None:
        return AsyncOneInboxClient(max_connections=max(concurrency, 1)), True
    raise ConfigurationError(
        f"client must be a OneInboxClient or AsyncOneInboxClient, not {type(client).__name__}"
    )


def _open_cache(cache: bool | str | Path | CallCache | None, base_url: str) -> CallCache | None:
    if cache is None or cache is False:
        return None
    if isinstance(cache, CallCache):
        return cache
    try:
        if cache is True:
            return CallCache(source=source_name(base_url))
        return CallCache(cache, source=source_name(base_url))
    except CacheError as error:  # read-only, locked, unusable: warn once, fetch without it
        _store_failed(error)
        return None


def _to_utc(value: Any, name: str) -> datetime | None:
    if value is None:
        return None
    try:
        stamp = pd.Timestamp(value)
    except (TypeError, ValueError) as exc:
        raise ConfigurationError(
            f"{name}={value!r} is not a date or time; use e.g. '2026-11-20' or a datetime"
        ) from exc
    stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
    return stamp.to_pydatetime()


def _lookup(call: Mapping[str, Any], key: str) -> Any:
    """A dotted path into the call; a bare key absent at the top level is looked up in metadata."""
    if "." in key:
        node: Any = call
        for part in key.split("."):
            node = node.get(part) if isinstance(node, Mapping) else None
        return node
    if key in call:
        return call[key]
    metadata = call.get("metadata")
    return metadata.get(key) if isinstance(metadata, Mapping) else None


def _matcher(
    since: Any, until: Any, where: Mapping[str, Any] | Callable[[dict], bool] | None
) -> Callable[[dict], bool]:
    start, end = _to_utc(since, "since"), _to_utc(until, "until")
    if where is not None and not (callable(where) or isinstance(where, Mapping)):
        raise ConfigurationError(
            "where must be a dict such as {'run_id': 'lt-42'} (metadata keys or dotted paths) or a "
            "function taking a call dict and returning True to keep it"
        )

    def keep(call: dict) -> bool:
        if start or end:
            try:
                created = datetime.fromisoformat(str(call.get("created_at")).replace("Z", "+00:00"))
            except ValueError:
                return False
            if created.tzinfo is None:
                created = created.replace(tzinfo=timezone.utc)
            if (start and created < start) or (end and created >= end):
                return False
        if callable(where):
            return bool(where(call))
        if where:
            # by value across int/str: run_id 42 matches "42" (oneinbox_nb.matching)
            return all(same_value(_lookup(call, key), value) for key, value in where.items())
        return True

    return keep


async def fetch_calls_async(
    ids: Iterable[str] | None = None,
    *,
    client: OneInboxClient | AsyncOneInboxClient | None = None,
    agent_id: str | None = None,
    status: str | None = None,
    since: Any = None,
    until: Any = None,
    where: Mapping[str, Any] | Callable[[dict], bool] | None = None,
    concurrency: int = 32,
    cache: bool | str | Path | CallCache | None = True,
    refresh: bool = False,
    progress: bool = True,
) -> FetchResult:
    """The coroutine behind :func:`fetch_calls`, for code already running in an event loop."""
    if (
        isinstance(concurrency, bool)
        or not isinstance(concurrency, int)
        or not 1 <= concurrency <= 1000
    ):
        raise ConfigurationError(
            f"concurrency must be an integer from 1 to 1000, got {concurrency!r}"
        )
    if ids is not None and any(v is not None for v in (agent_id, status, since, until, where)):
        raise ConfigurationError(
            "pass either ids or filters (agent_id, status, since, until, where), not both: every id "
            "given is fetched and accounted for; filter the resulting frames instead"
        )
    if isinstance(ids, str):
        ids = [ids]
    started = time.monotonic()
    http, owned = _as_async_client(client, concurrency)
    store = _open_cache(cache, http.base_url)
    try:
        with _fewer_gc_passes():  # the calls pile up: see _fewer_gc_passes
            if ids is None:
                result = await _list(
                    http, store, agent_id, status, _matcher(since, until, where), progress
                )
            else:
                result = await _by_id(http, store, list(ids), concurrency, progress, refresh)
            ended = (result.failures["error_type"] == "NotAttempted").any()
            if not ended:  # a run ended by 401/403/DNS/TLS/outage: asking for names again is moot
                result.agents = await _agent_names(http, store, result.calls)
    finally:
        if owned:
            await http.aclose()
        if store is not None and not isinstance(cache, CallCache):
            store.close()  # opened here: close its connections (a store passed in stays open)
    result.elapsed_s = time.monotonic() - started
    if store is not None:
        result.corrupt_cache_entries = list(store.corrupt)
    return result


_gc_lock = threading.Lock()
_gc_users = 0
_gc_saved: tuple[int, ...] = ()


@contextlib.contextmanager
def _fewer_gc_passes() -> Iterator[None]:
    """Run the cyclic garbage collector less often while a fetch runs (restored afterwards).

    A fetch keeps every call it receives, thousands of dicts and lists that all survive, while the
    HTTP stack allocates many short-lived objects; under the default thresholds (700, 10, 10) the
    collector then traverses the growing pile again and again. Measured on 10,000 calls at
    concurrency 50: a quarter of the client's CPU time, which decides the fetch's speed. Raising the
    thresholds (as mypy does) keeps collection, just less often. Nested and concurrent fetches
    share one change; the last one to finish restores the thresholds it found.
    """
    global _gc_users, _gc_saved
    with _gc_lock:
        if _gc_users == 0:
            _gc_saved = gc.get_threshold()
            least = (50_000, 20, 100)[: len(_gc_saved)]
            gc.set_threshold(*(max(now, low) for now, low in zip(_gc_saved, least, strict=True)))
        _gc_users += 1
    try:
        yield
    finally:
        with _gc_lock:
            _gc_users -= 1
            if _gc_users == 0:
                gc.set_threshold(*_gc_saved)


async def _agent_names(
    http: AsyncOneInboxClient, store: CallCache | None, calls: list[dict]
) -> dict[str, str]:
    """Agent id -> name for ``calls``: from the store when fresh and complete, else one
    ``iter_agents`` walk (stored for next time). Never raises for the API: a failure is one
    :class:`AgentNamesWarning` and the stored names (possibly none) are used."""
    wanted = {c.get("agent_id") for c in calls if isinstance(c.get("agent_id"), str)}
    if not wanted:
        return {}
    stored: dict[str, str] = {}
    stamp = None
    if store is not None:
        try:
            stored, stamp = store.agent_names()
        except CacheError as error:
            _store_failed(error)
            store = None
    fresh = stamp is not None and time.time() - stamp < AGENTS_MAX_AGE_S
    if fresh and wanted <= stored.keys():
        return stored
    try:
        listed = [agent async for agent in http.iter_agents(retry=_AGENTS_RETRY)]
    except OneInboxError as error:
        log.warning("agent names not fetched: %s", error)
        warnings.warn(
            f"agent names could not be fetched ({error}); calls.agent_name is <NA> for agents "
            "not seen before",
            AgentNamesWarning,
            stacklevel=2,
        )
        return stored
    names = {**stored, **_agent_map(listed)}  # an agent deleted since keeps its stored name
    if store is not None:
        try:
            store.put_agents(names)
        except CacheError as error:
            _store_failed(error)
    return names


def _stored(store: CallCache | None, ids: list[str]) -> tuple[dict, CallCache | None]:
    """What the store holds of ``ids``, and the store (None once it failed: warned once)."""
    if store is None or not ids:
        return {}, store
    try:
        return store.lookup(ids), store
    except CacheError as error:
        _store_failed(error)
        return {}, None


async def _by_id(
    http: AsyncOneInboxClient,
    store: CallCache | None,
    ids: list,
    concurrency: int,
    progress: bool,
    refresh: bool,
) -> FetchResult:
    results: dict[int, dict] = {}
    failures: list[dict] = []
    wanted: list[tuple[int, str]] = []
    first_seen: dict[str, int] = {}
    for position, raw in enumerate(ids):
        try:
            call_id = validate_call_id(raw)
        except OneInboxError as error:
            failures.append(_failure(raw, error))
            continue
        if call_id in first_seen:
            failures.append(
                {
                    "call_id": call_id,
                    "error_type": "DuplicateId",
                    "status_code": None,
                    "error": f"duplicate of the id at position {first_seen[call_id]}; fetched once",
                }
            )
            continue
        first_seen[call_id] = position
        wanted.append((position, call_id))

    stored, store = _stored(store, [call_id for _, call_id in wanted])
    todo: list[tuple[int, str]] = []
    for position, call_id in wanted:
        hit = stored.get(call_id)
        if hit is not None and hit.settled and not refresh:
            results[position] = hit.call
        else:
            todo.append((position, call_id))
    from_cache = len(results)
    revalidated = sum(1 for _, call_id in todo if call_id in stored)

    bar = _progress(len(ids), progress, "fetching calls")
    if bar is not None:
        bar.update(len(ids) - len(todo))
        bar.set_postfix(cached=from_cache, failed=len(failures))
    run = _Run(concurrency, len(todo), http.retry)
    writer = _StoreWriter(store)
    queue = iter(todo)
    left = {call_id for _, call_id in todo}

    async def worker() -> None:
        for position, call_id in queue:
            try:
                call = await _fetch_one(http, call_id, run)
            except _RunEnded:
                if call_id != run.ended_by:
                    continue  # listed as NotAttempted once the workers are done
                failures.append(_failure(call_id, run.ended))
            except Exception as error:  # noqa: BLE001 - every id must be accounted for
                if run.ended is not None and run.ended_by != call_id:
                    continue  # failed the same way as the id that ended the run
                failures.append(_failure(call_id, error))
            else:
                results[position] = call
                writer.add(call)
            left.discard(call_id)
            if bar is not None:
                bar.update(1)
                if failures:
                    bar.set_postfix(cached=from_cache, failed=len(failures), refresh=False)

    try:
        await asyncio.gather(*(worker() for _ in range(min(concurrency, len(todo)))))
    finally:
        writer.flush()  # also on Ctrl-C: what arrived is kept, so a rerun resumes
        if bar is not None:
            bar.close()
    if run.ended is not None:
        failures += _not_attempted(run, [cid for _, cid in todo if cid in left])
    return FetchResult(
        calls=[results[p] for p in sorted(results)],
        failures=_failures_frame(failures),
        requested=len(ids),
        from_cache=from_cache,
        fetched=len(results) - from_cache,
        revalidated=revalidated,
    )


def _not_attempted(run: _Run, call_ids: list[str]) -> list[dict]:
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


async def _list(
    http: AsyncOneInboxClient,
    store: CallCache | None,
    agent_id: str | None,
    status: str | None,
    keep: Callable[[dict], bool],
    progress: bool,
) -> FetchResult:
    calls: list[dict] = []
    writer = _StoreWriter(store)
    bar = _progress(None, progress, "listing calls")
    # paging rides out short outages too: retries end on the policy's time budget alone
    patient = dataclasses.replace(http.retry, max_attempts=1_000_000)
    pages = http.iter_calls(agent_id=agent_id, status=status, retry=patient)
    try:
        async for call in pages:
            if bar is not None:
                bar.update(1)
            if not keep(call):
                continue
            calls.append(call)
            writer.add(call)
    finally:
        writer.flush()
        if bar is not None:
            bar.close()
    return FetchResult(calls=calls, failures=_failures_frame([]), fetched=len(calls))


def fetch_calls(
    ids: Iterable[str] | None = None,
    *,
    client: OneInboxClient | AsyncOneInboxClient | None = None,
    agent_id: str | None = None,
    status: str | None = None,
    since: Any = None,
    until: Any = None,
    where: Mapping[str, Any] | Callable[[dict], bool] | None = None,
    concurrency: int = 32,
    cache: bool | str | Path | CallCache | None = True,
    refresh: bool = False,
    progress: bool = True,
) -> FetchResult:
    """Fetch many calls: by id, or every call matching filters.

    Parameters
    ----------
    ids
        Call ids to fetch with ``GET /v1/calls/{id}``. Each one ends up in exactly one of
        ``result.calls`` or ``result.failures`` (invalid, duplicate and not-attempted ids
        included), so ``len(calls) + len(failures) == len(ids)``.
    client
        A :class:`~oneinbox_nb.OneInboxClient` or :class:`~oneinbox_nb.AsyncOneInboxClient`; by
        default one is built from ``ONEINBOX_API_KEY`` / ``ONEINBOX_BASE_URL``. Its
        :class:`~oneinbox_nb.RetryPolicy` sets the retry budget per id (``budget``, 120 s).
    agent_id, status
        Without ``ids``: server-side filters of the list endpoints.
    since, until, where
        Without ``ids``: filters the API does not have, applied client-side while paging:
        ``created_at`` in ``[since, until)``, and ``where``, either a dict matched for equality
        against metadata keys or dotted paths (``{"run_id": "lt-42"}``,
        ``{"analysis.sentiment": "negative"}``) or a function ``call -> bool``. Every page is
        still downloaded; only matching calls are kept.
    concurrency
        Most requests in flight; lowered automatically while the API answers 429.
    cache
        True for the user store (one SQLite file per API under the user cache directory), a
        directory, a :class:`~oneinbox_nb.cache.CallCache`, or False. Settled calls (see
        :func:`~oneinbox_nb.cache.is_settled`) are served from it; others are fetched again. A
        store that cannot be used is one :class:`~oneinbox_nb.cache.StoreWarning`, not an error.
    refresh
        Fetch every id again even when the store holds it settled.
    progress
        Show a progress bar (a widget in notebooks, text in terminals).

    Returns
    -------
    FetchResult
        ``.calls``, ``.failures``, ``.frames`` (built on first access) and the counts
        ``from_cache``, ``fetched`` and ``revalidated``.

    Raises
    ------
    ConfigurationError
        Bad options (the message says which); nothing is fetched.

    Notes
    -----
    Works in plain scripts, inside ``asyncio.run`` and in notebook cells: when an event loop is
    already running, the fetch runs on its own loop in a worker thread and the caller waits for
    it. Ctrl-C (or a kernel interrupt) stops it promptly; what was already stored is kept, so
    running it again resumes. From async code, ``await fetch_calls_async(...)`` instead.
    """
    coro = fetch_calls_async(
        ids,
        client=client,
        agent_id=agent_id,
        status=status,
        since=since,
        until=until,
        where=where,
        concurrency=concurrency,
        cache=cache,
        refresh=refresh,
        progress=progress,
    )
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return _run(coro)
    return _run_in_thread(coro)


def _run(coro: Any) -> Any:
    """``asyncio.run``, on uvloop's event loop when it is installed (Linux and macOS).

    A fetch at concurrency 50 is bound by the client's CPU; uvloop's loop spends less of it per
    request than the standard one. Ctrl-C behaves as under ``asyncio.run`` (``uvloop.run`` is
    ``asyncio.Runner`` with uvloop's loop factory).
    """
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coro)
    return uvloop.run(coro)


def _run_in_thread(coro) -> FetchResult:
    """Run a coroutine on a fresh loop in a worker thread; cancel it if the caller is interrupted.

    The caller's thread blocks meanwhile. Inside ``asyncio.run`` the running loop's own SIGINT
    handler only cancels its main task, which cannot happen while that task blocks here, so while
    waiting on the main thread a Ctrl-C raises KeyboardInterrupt here instead.
    """
    loop_box: dict[str, Any] = {}

    async def runner():
        loop_box["loop"] = asyncio.get_running_loop()
        loop_box["task"] = asyncio.current_task()
        return await coro

    on_main = threading.current_thread() is threading.main_thread()
    previous = signal.getsignal(signal.SIGINT) if on_main else None
    swapped = False
    pool = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="oneinbox-fetch")
    future = pool.submit(_run, runner())
    try:
        if on_main and previous is not signal.SIG_IGN:
            signal.signal(signal.SIGINT, signal.default_int_handler)
            swapped = True
        return future.result()
    except KeyboardInterrupt:
        if "loop" in loop_box:
            loop_box["loop"].call_soon_threadsafe(loop_box["task"].cancel)
        raise
    finally:
        if swapped:
            signal.signal(signal.SIGINT, previous if previous is not None else signal.SIG_DFL)
        pool.shutdown(wait=True)


def load_call(call_id: str, client: OneInboxClient | None = None) -> CallFrames:
    """Fetch one call and return its frames: the quickest way to look at a call.

    ``client`` defaults to a :class:`~oneinbox_nb.OneInboxClient` built from the environment.
    """
    if client is None:
        with OneInboxClient() as owned:
            return to_frames([owned.get_call(call_id)])
    return to_frames([client.get_call(call_id)])
