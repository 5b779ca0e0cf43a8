"""Fetching many calls at once: :func:`fetch_calls`, and :func:`load_call` for one.

``fetch_calls`` runs on :class:`~oneinbox_nb.client.AsyncOneInboxClient` with a bounded number of
requests in flight. The bound adapts under 429: when the API throttles, the limit drops to the
number of requests it was still serving, the throttled request gives its slot back while it waits
out ``Retry-After``, and the limit climbs back by one per window of successes (it stops probing when
the work left would finish before a throttled retry could, so a probe never becomes the run's
tail). Other failures are retried per the client's :class:`~oneinbox_nb.client.RetryPolicy`.

Every id asked for ends up in exactly one of ``FetchResult.calls`` or ``FetchResult.failures``.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from .cache import CallCache, is_terminal, source_name
from .client import AsyncOneInboxClient, OneInboxClient, RetryPolicy, validate_call_id
from .exceptions import ConfigurationError, OneInboxError, RateLimitError
from .frames import CallFrames, to_frames
from .matching import same_value

if TYPE_CHECKING:
    from tqdm.auto import tqdm as Tqdm

__all__ = ["FetchResult", "fetch_calls", "fetch_calls_async", "load_call"]

log = logging.getLogger(__name__)

_ONE_TRY = RetryPolicy(max_attempts=1)
MAX_THROTTLED_RETRIES = 20


@dataclass
class FetchResult:
    """What :func:`fetch_calls` brought back.

    Attributes
    ----------
    calls
        The call payloads (dicts), in the order the ids were given (listing order otherwise).
    failures
        One row per id that could not be fetched: ``call_id``, ``error_type``, ``status_code``,
        ``error`` (a message saying what to do).
    requested
        How many ids were asked for (None when listing by filters).
    from_cache, fetched
        How many calls came from the cache and how many over HTTP.
    corrupt_cache_entries
        ``(call_id, reason)`` for cache entries that were unusable and fetched again.
    """

    calls: list[dict]
    failures: pd.DataFrame
    requested: int | None = None
    from_cache: int = 0
    fetched: int = 0
    elapsed_s: float = 0.0
    corrupt_cache_entries: list[tuple[str, str]] = field(default_factory=list)

    @cached_property
    def frames(self) -> CallFrames:
        """The calls as a :class:`~oneinbox_nb.frames.CallFrames`, built on first access."""
        return to_frames(self.calls)

    @property
    def ok(self) -> bool:
        """True when nothing failed."""
        return self.failures.empty

    def __repr__(self) -> str:
        asked = f"{self.requested} ids" if self.requested is not None else "listing"
        return (
            f"FetchResult({asked}: {len(self.calls)} calls, {len(self.failures)} failures; "
            f"{self.from_cache} from cache, {self.fetched} fetched in {self.elapsed_s:.2f} s)"
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


async def _fetch_one(
    client: AsyncOneInboxClient,
    call_id: str,
    limit: _AdaptiveLimit,
    policy: RetryPolicy,
) -> dict:
    attempt = throttled = 0
    while True:
        await limit.acquire()
        try:
            call = await client.get_call(call_id, retry=_ONE_TRY)
        except RateLimitError as error:
            await limit.release(throttled=True, retry_after=error.retry_after)
            throttled += 1
            if throttled > MAX_THROTTLED_RETRIES or (
                error.retry_after is not None and error.retry_after > policy.max_retry_after
            ):
                raise
            await asyncio.sleep(policy.delay(throttled, error.retry_after))
            continue
        except OneInboxError as error:
            await limit.release()
            attempt += 1
            delay = client._retry_delay(error, attempt, policy)
            if delay is None:
                raise
            await asyncio.sleep(delay)
            continue
        except BaseException:
            await limit.release()
            raise
        await limit.release()
        return call


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
    if cache is True:
        return CallCache(source=source_name(base_url))
    return CallCache(cache, source=source_name(base_url))


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
    progress: bool = True,
) -> FetchResult:
    """The coroutine behind :func:`fetch_calls`, for code already running in an event loop."""
    if not isinstance(concurrency, int) or not 1 <= concurrency <= 1000:
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
        if ids is None:
            result = await _list(
                http, store, agent_id, status, _matcher(since, until, where), progress
            )
        else:
            result = await _by_id(http, store, list(ids), concurrency, progress)
    finally:
        if owned:
            await http.aclose()
    result.elapsed_s = time.monotonic() - started
    if store is not None:
        result.corrupt_cache_entries = list(store.corrupt)
    return result


async def _by_id(
    http: AsyncOneInboxClient,
    store: CallCache | None,
    ids: list,
    concurrency: int,
    progress: bool,
) -> FetchResult:
    results: dict[int, dict] = {}
    failures: list[dict] = []
    todo: list[tuple[int, str]] = []
    first_seen: dict[str, int] = {}
    from_cache = 0
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
        cached = store.get(call_id) if store is not None else None
        if cached is not None and is_terminal(cached):
            results[position] = cached
            from_cache += 1
        else:
            todo.append((position, call_id))

    bar = _progress(len(ids), progress, "fetching calls")
    if bar is not None:
        bar.update(len(ids) - len(todo))
        bar.set_postfix(cached=from_cache, failed=len(failures))
    limit = _AdaptiveLimit(concurrency, len(todo))
    queue = iter(todo)

    async def worker() -> None:
        for position, call_id in queue:
            try:
                call = await _fetch_one(http, call_id, limit, http.retry)
            except Exception as error:  # noqa: BLE001 - every id must be accounted for
                failures.append(_failure(call_id, error))
            else:
                results[position] = call
                if store is not None:
                    try:
                        store.put(call)
                    except OSError as error:  # the call is in hand; a full disk must not lose it
                        log.warning("could not cache call %s: %s", call_id, error)
            if bar is not None:
                bar.update(1)
                if failures:
                    bar.set_postfix(cached=from_cache, failed=len(failures), refresh=False)

    try:
        await asyncio.gather(*(worker() for _ in range(min(concurrency, len(todo)))))
    finally:
        if bar is not None:
            bar.close()
    return FetchResult(
        calls=[results[p] for p in sorted(results)],
        failures=_failures_frame(failures),
        requested=len(ids),
        from_cache=from_cache,
        fetched=len(results) - from_cache,
    )


async def _list(
    http: AsyncOneInboxClient,
    store: CallCache | None,
    agent_id: str | None,
    status: str | None,
    keep: Callable[[dict], bool],
    progress: bool,
) -> FetchResult:
    calls: list[dict] = []
    bar = _progress(None, progress, "listing calls")
    try:
        async for call in http.iter_calls(agent_id=agent_id, status=status):
            if bar is not None:
                bar.update(1)
            if not keep(call):
                continue
            calls.append(call)
            if store is not None:
                store.put(call)
    finally:
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
    progress: bool = True,
) -> FetchResult:
    """Fetch many calls: by id, or every call matching filters.

    Parameters
    ----------
    ids
        Call ids to fetch with ``GET /v1/calls/{id}``. Each one ends up in exactly one of
        ``result.calls`` or ``result.failures`` (invalid and duplicate ids included), so
        ``len(calls) + len(failures) == len(ids)``.
    client
        A :class:`~oneinbox_nb.OneInboxClient` or :class:`~oneinbox_nb.AsyncOneInboxClient`; by
        default one is built from ``ONEINBOX_API_KEY`` / ``ONEINBOX_BASE_URL``.
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
        True for the user cache directory, a path, a :class:`~oneinbox_nb.cache.CallCache`, or
        False. Calls in a terminal status are served from it; others are fetched again.
    progress
        Show a progress bar (a widget in notebooks, text in terminals).

    Returns
    -------
    FetchResult
        ``.calls``, ``.failures`` and ``.frames`` (built on first access).

    Notes
    -----
    Works in plain scripts and in notebook cells: when an event loop is already running (Jupyter),
    the fetch runs on its own loop in a worker thread and the cell waits for it. Ctrl-C (or a
    kernel interrupt) stops it; what was already stored in the cache is kept, so running it again
    resumes. From async code, ``await fetch_calls_async(...)`` instead.
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
        progress=progress,
    )
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    return _run_in_thread(coro)


def _run_in_thread(coro) -> FetchResult:
    """Run a coroutine on a fresh loop in a worker thread; cancel it if the caller is interrupted."""
    loop_box: dict[str, Any] = {}

    async def runner():
        loop_box["loop"] = asyncio.get_running_loop()
        loop_box["task"] = asyncio.current_task()
        return await coro

    with concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="oneinbox-fetch") as pool:
        future = pool.submit(asyncio.run, runner())
        try:
            return future.result()
        except KeyboardInterrupt:
            if "loop" in loop_box:
                loop_box["loop"].call_soon_threadsafe(loop_box["task"].cancel)
            raise


def load_call(call_id: str, client: OneInboxClient | None = None) -> CallFrames:
    """Fetch one call and return its frames: the quickest way to look at a call.

    ``client`` defaults to a :class:`~oneinbox_nb.OneInboxClient` built from the environment.
    """
    if client is None:
        with OneInboxClient() as owned:
            return to_frames([owned.get_call(call_id)])
    return to_frames([client.get_call(call_id)])
