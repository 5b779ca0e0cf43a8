"""Fetching many calls at once: :func:`fetch_calls`, and :func:`load_call` for one.

``fetch_calls`` runs on :class:`~oneinbox_nb.client.AsyncOneInboxClient` and promises that every
id asked for ends up in exactly one of ``FetchResult.calls`` or ``FetchResult.failures``. It is
the assembly of four rooms, each with its own tests:

- :mod:`oneinbox_nb.client.bulk`: many GETs at once (the adaptive bound under 429, the pause gate
  for outages and rate-limit storms, the retry budget per id, the run-ending failures).
- :mod:`oneinbox_nb.cache`: the store (:class:`~oneinbox_nb.cache.StoreWriter` batches the writes;
  a store that fails is one :class:`~oneinbox_nb.cache.StoreWarning`).
- :mod:`oneinbox_nb.matching`: the client-side filters of a listing and the one UTC parser.
- :mod:`oneinbox_nb.client.loop`: running the coroutine from a script, ``asyncio.run`` or a
  notebook cell, and the garbage-collector setting of a long run.

What is left here: a :class:`~oneinbox_nb.scope.Scope` turned into ids or filters (agent names
resolved; calls fetched by id but outside the scope set apart as ``OutOfScope`` rows), the ids
checked and deduplicated, the store asked first, agent names, and the :class:`FetchResult`, which
carries the scope it was fetched for. Ctrl-C cancels the run promptly wherever it runs; what was already stored is
kept, so running it again resumes.
"""

from __future__ import annotations

import logging
import time
import warnings
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from .account import account_record
from .cache import CallCache, StoreWriter, open_store, store_failed
from .client import AsyncOneInboxClient, OneInboxClient, RetryPolicy, validate_call_id
from .client.bulk import failure_row, get_calls
from .client.loop import fewer_gc_passes, run_sync
from .exceptions import CacheError, ConfigurationError, OneInboxError
from .frames import CallFrames, to_frames
from .frames.build import agent_names as agent_map
from .matching import call_matcher, utc_window
from .scope import Scope, resolve_agents

if TYPE_CHECKING:
    from tqdm.auto import tqdm as Tqdm

__all__ = ["AgentNamesWarning", "FetchResult", "fetch_calls", "fetch_calls_async", "load_call"]

log = logging.getLogger(__name__)

#: Stored agent names older than this (seconds) are fetched again.
AGENTS_MAX_AGE_S = 3600.0
#: ``GET /v1/agents`` gets two tries within 20 s: names are a nicety, never worth stalling a fetch.
AGENTS_RETRY = RetryPolicy(max_attempts=2, max_retry_after=5.0, budget=20.0)


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
    scope
        The :class:`~oneinbox_nb.scope.Scope` the calls were fetched for, so an answer built on
        them can say which calls it is about (:meth:`~oneinbox_nb.scope.Scope.sentence`): the
        ``scope=`` given (agent names resolved to ids; a ``status`` filter beside it narrows the
        calls further and is not in it), else one saying the ids or the
        ``agent_id``/``since``/``until`` asked for (traffic ``"all"``); None when ``status`` or
        ``where`` chose the calls, which a scope cannot say.
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
    scope: Scope | None = None

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


def _progress(total: int | None, enabled: bool, desc: str) -> Tqdm | None:
    if not enabled:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit="call", dynamic_ncols=True)


def _as_async_client(
    client: OneInboxClient | AsyncOneInboxClient | None, concurrency: int
) -> tuple[AsyncOneInboxClient, bool]:
    """The async client to fetch with, and whether it was made here (then it is closed here)."""
    if isinstance(client, AsyncOneInboxClient):
        return client, False
    if isinstance(client, OneInboxClient):
        return AsyncOneInboxClient.like(client, max_connections=max(concurrency, 1)), True
    if client is None:
        return AsyncOneInboxClient(max_connections=max(concurrency, 1)), True
    raise ConfigurationError(
        f"client must be a OneInboxClient or AsyncOneInboxClient, not {type(client).__name__}"
    )


def _check_options(ids: Any, concurrency: Any, filters: tuple, scope: Any = None) -> None:
    if (
        isinstance(concurrency, bool)
        or not isinstance(concurrency, int)
        or not 1 <= concurrency <= 1000
    ):
        raise ConfigurationError(
            f"concurrency must be an integer from 1 to 1000, got {concurrency!r}"
        )
    if ids is not None and any(v is not None for v in filters):
        raise ConfigurationError(
            "pass either ids or filters (agent_id, status, since, until, where), not both: every id "
            "given is fetched and accounted for; filter the resulting frames instead"
        )
    if scope is not None:
        if not isinstance(scope, Scope):
            raise ConfigurationError(
                f"scope must be a oneinbox_nb.Scope (Scope.parse(...)), not {type(scope).__name__}"
            )
        if ids is not None or any(v is not None for v in filters[:1] + filters[2:]):
            raise ConfigurationError(
                "pass either a scope or ids and filters, not both: put the call ids, agents and "
                "window (agent_id, since, until, where) in the scope"
            )


async def fetch_calls_async(
    ids: Iterable[str] | None = None,
    *,
    client: OneInboxClient | AsyncOneInboxClient | None = None,
    agent_id: str | None = None,
    status: str | None = None,
    since: Any = None,
    until: Any = None,
    where: Mapping[str, Any] | Callable[[dict], bool] | None = None,
    scope: Scope | None = None,
    concurrency: int = 32,
    cache: bool | str | Path | CallCache | None = True,
    refresh: bool = False,
    progress: bool = True,
    merge: bool = False,
) -> FetchResult:
    """The coroutine behind :func:`fetch_calls`, for code already running in an event loop."""
    _check_options(ids, concurrency, (agent_id, status, since, until, where), scope)
    keep = call_matcher(since, until, where) if ids is None else None  # bad dates: before any I/O
    if isinstance(ids, str):
        ids = [ids]
    started = time.monotonic()
    http, owned = _as_async_client(client, concurrency)
    try:
        account = account_record(http.account_identity())
        store = open_store(cache, http.base_url, account=account, merge=merge)
    except BaseException:
        if owned:
            await http.aclose()
        raise
    try:
        if scope is not None:
            scope = await _resolved(http, scope)
            selection = scope.fetch_kwargs()
            ids = selection.pop("ids", None)
            agent_id, since, until, where = (selection.get(k) for k in _SCOPE_FILTERS)
            keep = call_matcher(since, until, where) if ids is None else None
        with fewer_gc_passes():  # the calls pile up: see oneinbox_nb.client.loop
            if ids is None:
                result = await _list(http, store, agent_id, status, keep, progress)
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
    if scope is not None:
        _keep_in_scope(result, scope)
    result.scope = scope or _scope_of(ids, agent_id, status, since, until, where)
    return result


#: The filters of :meth:`Scope.fetch_kwargs <oneinbox_nb.scope.Scope.fetch_kwargs>`, in order.
_SCOPE_FILTERS = ("agent_id", "since", "until", "where")


async def _resolved(http: AsyncOneInboxClient, scope: Scope) -> Scope:
    """``scope`` with agent names turned into ids through ``GET /v1/agents`` (once, if needed)."""
    if not scope.needs_agent_names:
        return scope
    listed = [agent async for agent in http.iter_agents(retry=AGENTS_RETRY)]
    return resolve_agents(scope, listed)


def _keep_in_scope(result: FetchResult, scope: Scope) -> None:
    """Calls fetched by id but outside the rest of ``scope`` (its traffic, runs, agents or window)
    move to ``result.failures`` as ``OutOfScope`` rows, so every id stays accounted for."""
    kept, outside = [], []
    for call in result.calls:
        if scope.matches(call):
            kept.append(call)
        else:
            outside.append(
                {
                    "call_id": str(call.get("id")),
                    "error_type": "OutOfScope",
                    "status_code": None,
                    "error": f"fetched, but {_why_outside(scope, call)}; widen the scope to keep it",
                }
            )
    if outside:
        result.calls = kept
        result.failures = _failures_frame(result.failures.to_dict("records") + outside)


def _why_outside(scope: Scope, call: dict) -> str:
    """Which rule of ``scope`` leaves ``call`` out, in words (each rule tried on its own)."""
    rules = [
        (Scope(agents=scope.agents, traffic="all"), "its agent is not one of the scope's"),
        (Scope(traffic=scope.traffic, run_key=scope.run_key), f"it is not {scope.traffic} traffic"),
        (
            Scope(run_ids=scope.run_ids, traffic="all", run_key=scope.run_key),
            "it belongs to none of the scope's runs",
        ),
    ]
    for rule, words in rules:
        if not rule.matches(call):
            return words.replace("load_test", "load-test")
    return "its created_at is outside the scope's window"


def _scope_of(
    ids: Any, agent_id: Any, status: Any, since: Any, until: Any, where: Any
) -> Scope | None:
    """The scope that ids or filters (without ``scope=``) fetched, when a scope can say it."""
    if status is not None or where is not None:
        return None
    if ids is not None:
        return Scope(call_ids=tuple(dict.fromkeys(str(i) for i in ids)), traffic="all")
    start, end = utc_window(since, until)
    if start is not None and end is not None and start >= end:
        return None  # an empty window: a Scope needs since before until
    return Scope(traffic="all", agents=(agent_id,) if agent_id else (), since=start, until=end)


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
            store_failed(error)
            store = None
    fresh = stamp is not None and time.time() - stamp < AGENTS_MAX_AGE_S
    if fresh and wanted <= stored.keys():
        return stored
    try:
        listed = [agent async for agent in http.iter_agents(retry=AGENTS_RETRY)]
    except OneInboxError as error:
        log.warning("agent names not fetched: %s", error)
        warnings.warn(
            f"agent names could not be fetched ({error}); calls.agent_name is <NA> for agents "
            "not seen before",
            AgentNamesWarning,
            stacklevel=2,
        )
        return stored
    names = {**stored, **agent_map(listed)}  # an agent deleted since keeps its stored name
    if store is not None:
        try:
            store.put_agents(names)
        except CacheError as error:
            store_failed(error)
    return names


def _checked_ids(ids: list) -> tuple[list[tuple[int, str]], list[dict]]:
    """``(position, canonical id)`` of each first valid id, and a failure row for every other."""
    failures: list[dict] = []
    wanted: list[tuple[int, str]] = []
    first_seen: dict[str, int] = {}
    for position, raw in enumerate(ids):
        try:
            call_id = validate_call_id(raw)
        except OneInboxError as error:
            failures.append(failure_row(raw, error))
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
    return wanted, failures


async def _by_id(
    http: AsyncOneInboxClient,
    store: CallCache | None,
    ids: list,
    concurrency: int,
    progress: bool,
    refresh: bool,
) -> FetchResult:
    wanted, failures = _checked_ids(ids)
    writer = StoreWriter(store)
    stored = writer.lookup([call_id for _, call_id in wanted])
    results: dict[int, dict] = {}
    todo: dict[str, int] = {}
    for position, call_id in wanted:
        hit = stored.get(call_id)
        if hit is not None and hit.settled and not refresh:
            results[position] = hit.call
        else:
            todo[call_id] = position
    from_cache = len(results)
    revalidated = sum(1 for call_id in todo if call_id in stored)

    bar = _progress(len(ids), progress, "fetching calls")
    if bar is not None:
        bar.update(len(ids) - len(todo))
        bar.set_postfix(cached=from_cache, failed=len(failures))
    failed = len(failures)

    def done(call_id: str, call: dict | None) -> None:
        nonlocal failed
        if call is None:
            failed += 1
        else:
            results[todo[call_id]] = call
            writer.add(call)
        if bar is not None:
            bar.update(1)
            if failed:
                bar.set_postfix(cached=from_cache, failed=failed, refresh=False)

    try:
        failures += (await get_calls(http, list(todo), concurrency=concurrency, on_done=done))[0]
    finally:
        writer.flush()  # also on Ctrl-C: what arrived is kept, so a rerun resumes
        if bar is not None:
            bar.close()
    return FetchResult(
        calls=[results[p] for p in sorted(results)],
        failures=_failures_frame(failures),
        requested=len(ids),
        from_cache=from_cache,
        fetched=len(results) - from_cache,
        revalidated=revalidated,
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
    writer = StoreWriter(store)
    bar = _progress(None, progress, "listing calls")
    # paging rides out short outages too: retries end on the policy's time budget alone
    pages = http.iter_calls(agent_id=agent_id, status=status, retry=http.retry.budget_only())
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
    scope: Scope | None = None,
    concurrency: int = 32,
    cache: bool | str | Path | CallCache | None = True,
    refresh: bool = False,
    progress: bool = True,
    merge: bool = False,
) -> FetchResult:
    """Fetch many calls: by id, every call matching filters, or the calls of a scope.

    Parameters
    ----------
    ids
        Call ids to fetch with ``GET /v1/calls/{id}``. Each one ends up in exactly one of
        ``result.calls`` or ``result.failures`` (invalid, duplicate and not-attempted ids
        included), so ``len(calls) + len(failures) == len(ids)``.
    client
        A :class:`~oneinbox_nb.OneInboxClient` or :class:`~oneinbox_nb.AsyncOneInboxClient`; by
        default one is built from ``ONEINBOX_API_KEY`` / ``ONEINBOX_BASE_URL``. Its
        :class:`~oneinbox_nb.RetryPolicy` ``budget`` (120 s) is the retry budget per id; an
        outage or a rate-limit storm longer than one budget ends the run
        (:mod:`oneinbox_nb.client.bulk`).
    agent_id, status
        Without ``ids``: server-side filters of the list endpoints.
    since, until, where
        Without ``ids``: filters the API does not have, applied client-side while paging (every
        page is still downloaded): ``created_at`` in ``[since, until)`` (read by
        :func:`oneinbox_nb.matching.utc_time`; without an offset it is UTC), and ``where``, a
        dict matched by value against metadata keys or dotted paths (``{"run_id": "lt-42"}``,
        ``{"analysis.sentiment": "negative"}``) or a function ``call -> bool``.
    scope
        A :class:`~oneinbox_nb.scope.Scope`: fetch its calls, selected with the same rules as
        :meth:`Scope.select <oneinbox_nb.scope.Scope.select>` on frames
        (:meth:`~oneinbox_nb.scope.Scope.fetch_kwargs`, :meth:`~oneinbox_nb.scope.Scope.matches`);
        agent names are resolved through ``GET /v1/agents`` first. A scope with call ids fetches
        those ids; one fetched but outside the rest of the scope is a failure row of type
        ``OutOfScope``. Not with ``ids``, ``agent_id``, ``since``, ``until`` or ``where``.
    concurrency
        Most requests in flight, 1 to 1000; lowered automatically while the API answers 429.
    cache
        True for the user store (one SQLite file per API), a directory, a
        :class:`~oneinbox_nb.cache.CallCache`, or False. Settled calls
        (:func:`~oneinbox_nb.cache.is_settled`) are served from it; a store that cannot be used
        is one :class:`~oneinbox_nb.cache.StoreWarning`, not an error. The store records the
        client's account (:mod:`oneinbox_nb.account`); another account's store is an error.
    refresh
        Fetch every id again even when the store holds it settled.
    progress
        Show a progress bar (a widget in notebooks, text in terminals).
    merge
        Use a store that holds another account's calls (or this account's under an earlier key),
        adding this account to it, as ``sync(..., merge=True)`` does for a dataset.

    Returns
    -------
    FetchResult
        ``.calls``, ``.failures``, ``.frames`` (built on first access), ``.scope`` and the counts
        ``from_cache``, ``fetched`` and ``revalidated``.

    Raises
    ------
    ConfigurationError
        Bad options (the message says which; ``since`` after ``until`` included); nothing is
        fetched.
    ScopeError
        An agent name of ``scope`` names no agent of the account (the message lists them).
    StoreAccountError
        The store holds another account's calls and ``merge`` is False; nothing is fetched.

    Notes
    -----
    Works in scripts, inside ``asyncio.run`` and in notebook cells (a running loop means the
    fetch runs on its own loop in a worker thread). Ctrl-C stops it promptly; what was stored is
    kept, so running it again resumes. From async code, ``await fetch_calls_async(...)``.
    """
    options = {"client": client, "agent_id": agent_id, "status": status, "since": since}
    options.update(until=until, where=where, scope=scope, concurrency=concurrency, cache=cache)
    options.update(refresh=refresh, progress=progress, merge=merge)
    return run_sync(fetch_calls_async(ids, **options))


def load_call(call_id: str, client: OneInboxClient | None = None) -> CallFrames:
    """Fetch one call and return its frames: the quickest way to look at a call.

    ``client`` defaults to a :class:`~oneinbox_nb.OneInboxClient` built from the environment.
    """
    if client is None:
        with OneInboxClient() as owned:
            return to_frames([owned.get_call(call_id)])
    return to_frames([client.get_call(call_id)])
