"""Follow a load test (or any set of calls) on the API while it runs: :func:`watch` and :class:`LiveRun`.

One refresh (:meth:`LiveRun.refresh`) pages ``GET /v1/calls/cursor`` (newest first) and keeps the
calls of the scope that are new, or whose ``updated_at`` moved since it last saw them. It stops
paging once it is past every call that could still change: calls older than both the newest call
already known and the oldest known call that has not *settled* (a terminal status with its cost
filled in, or ended :data:`SETTLE_S` before the newest call listed), less :data:`LOOKBACK_S`
for calls dispatched out of order. The first refresh (also
after a restart) walks the whole listing (down to the scope's ``since`` when it has one).

The calls of a refresh are written to the call store (:class:`oneinbox_nb.cache.CallCache`)
first, then taken into memory all at once, so stopping at any moment (Ctrl-C, SIGTERM, SIGKILL)
loses nothing: a new :class:`LiveRun` on the same store starts from the stored calls and its first
refresh walks the listing again. Requests follow the client's :class:`~oneinbox_nb.RetryPolicy`; a
refresh that still fails changes nothing and the next one starts over.

The frames grow by appending the frames of the new calls and replacing those of changed calls
(cost in proportion to the calls that changed): a call that has just ended gets its frames at
once (its turns feed the rolling statistics); other new or changed calls (queued, in progress, a
cost filled in) are kept as payloads and framed together when the frames are next read. The rolling statistics use the last ``window``
ended calls; the knee and the thresholds are recomputed on all calls when the ended calls have
grown by a tenth since they were last computed, and at the end, so their cost per call stays
constant.

The run is **over** when no call of the scope was new or changed for ``quiet_period`` seconds
(default :data:`QUIET_PERIOD_S`, 120 s). A run that never starts (no call of the scope for
``start_timeout`` seconds, default :data:`START_TIMEOUT_S`) ends with a :class:`WatchError`.
"""

from __future__ import annotations

import logging
import math
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import numpy as np
import pandas as pd

from .. import analysis, display
from ..account import account_record
from ..cache import CallCache, source_name
from ..client import TERMINAL_STATUSES, OneInboxClient
from ..client.retry import is_retryable
from ..config import resolve_run_key
from ..exceptions import CacheError, OneInboxError
from ..frames import CallFrames, to_frames
from ..scope import Scope
from ..thresholds import Threshold, as_thresholds, evaluate

__all__ = [
    "LOOKBACK_S",
    "QUIET_PERIOD_S",
    "ROLLING_METRICS",
    "SETTLE_S",
    "START_TIMEOUT_S",
    "LiveRun",
    "WatchError",
    "watch",
]

log = logging.getLogger(__name__)

#: Seconds without a new or changed call after which a run is over.
QUIET_PERIOD_S = 120.0
#: Seconds to wait for the scope's first call before giving up.
START_TIMEOUT_S = 300.0
#: Seconds of ``created_at`` below the paging bound still listed (calls dispatched out of order).
LOOKBACK_S = 60.0
#: Seconds after its end (on the API's clock: the newest ``created_at`` listed) after which an
#: ended call whose cost is still missing is taken as settled (as the call store does).
SETTLE_S = 600.0
#: The metrics of the rolling table (the component rule; see :meth:`LiveRun.rolling`).
ROLLING_METRICS: tuple[str, ...] = (
    "response_ms",
    "eou_delay_ms",
    "stt_ms",
    "llm_ttft_ms",
    "tts_ttfb_ms",
)
#: ``analysis.latency_values``' component of each rolling metric.
_COMPONENT_OF = {m: m if m == "response_ms" else m.removesuffix("_ms") for m in ROLLING_METRICS}
_KNEE_MIN_CALLS = 200  # fewer ended calls: "not enough calls yet"


class WatchError(OneInboxError):
    """Watching cannot go on: the run never started within the wait."""


def _epoch(value: Any) -> float:
    try:
        stamp = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return math.nan
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=timezone.utc)
    return stamp.timestamp()


def _ended(call: Mapping[str, Any]) -> bool:
    return str(call.get("status", "")).lower() in TERMINAL_STATUSES


def _settled(call: Mapping[str, Any]) -> bool:
    return _ended(call) and call.get("cost_cents") is not None


@dataclass
class _Known:
    updated_at: Any
    created: float
    status: str
    settled: bool
    concurrency: float
    ended: float


def _as_scope(scope: Scope | str | None, key: str) -> Scope:
    """The scope watched: a run id is that run's load-test calls; None is every call."""
    if isinstance(scope, Scope):
        return scope
    if scope is None:
        return Scope.parse(traffic="all", run_key=key)
    return Scope.for_runs([scope], run_key=key)


def _scope_words(scope: Scope) -> str:
    if scope.run_ids:
        return ", ".join(f"run {r}" for r in scope.run_ids)
    return {"all": "all calls", "production": "production calls"}.get(
        scope.traffic, "load-test calls"
    )


class LiveRun:
    """A load test (or any scope) followed on the API as it happens. Made by :func:`watch`.

    Attributes
    ----------
    scope : Scope
        What is watched (:class:`oneinbox_nb.Scope`; a run id becomes that run's scope).
    scope_text : str
        Its short name (``"run lt-42"``); :meth:`summary` opens with the scope's sentence.
    n_calls, in_flight, completed, failed : int
        Calls seen so far; not yet ended; ended ``completed``; ended otherwise.
    over : bool
        True once nothing changed for ``quiet_period`` seconds (or after an abort).
    reason : str or None
        Why the watch ended (``"quiet for 120 s"``, ``"aborted: ..."``).
    refreshes : int
    last_refresh : dict
        What the last refresh did: ``new``, ``changed``, ``pages``, ``seconds``.
    """

    def __init__(
        self,
        scope: Scope | str | None = None,
        *,
        client: OneInboxClient | None = None,
        interval: float = 5.0,
        quiet_period: float = QUIET_PERIOD_S,
        start_timeout: float = START_TIMEOUT_S,
        thresholds: Iterable[Threshold | str] | str = (),
        abort_on_fail: bool = False,
        cache: bool | str | CallCache | None = True,
        merge: bool = False,
        key: str | None = None,
        window: int = 200,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not interval > 0 or not quiet_period > 0 or not start_timeout > 0:
            raise ValueError("interval, quiet_period and start_timeout must be positive seconds")
        self.client = client or OneInboxClient()
        self.interval = float(interval)
        self.quiet_period = float(quiet_period)
        self.start_timeout = float(start_timeout)
        self.thresholds = as_thresholds(thresholds)
        self.abort_on_fail = abort_on_fail
        self.key = key = resolve_run_key(key)
        self.window = int(window)
        self._clock = clock
        self.scope = _as_scope(scope, key)
        self._keep = self.scope.matches
        self.scope_text = _scope_words(self.scope)
        self._since = self.scope.since.timestamp() if self.scope.since else -math.inf
        self._store = self._open_store(cache, merge)
        self._known: dict[str, _Known] = {}
        self._chunks: list[CallFrames] = []
        self._chunk_ids: list[set[str]] = []
        self._pending: dict[str, dict] = {}  # latest payloads not yet in a chunk
        self._frames: CallFrames | None = CallFrames.empty()
        self._recent: deque[tuple[float, dict[str, np.ndarray]]] = deque()
        self._recent_calls: deque[str] = deque()
        self._values_of: set[str] = set()
        self._swept = False
        self._started = clock()
        self._last_change: float | None = None
        self._knee_at = 0
        self.knee: analysis.Knee | None = None
        self.threshold_state = pd.DataFrame()
        self.history: list[dict[str, Any]] = []
        self.over = False
        self.reason: str | None = None
        self.refreshes = 0
        self.last_refresh: dict[str, Any] = {}
        self._restore()

    # the store -----------------------------------------------------------------------------------

    def _open_store(self, cache: bool | str | CallCache | None, merge: bool) -> CallCache | None:
        """The call store, claimed for the client's account (another account's store is a
        :class:`~oneinbox_nb.exceptions.StoreAccountError` unless ``merge``)."""
        if cache is None or cache is False:
            return None
        store = cache
        if not isinstance(store, CallCache):
            name = source_name(self.client.base_url)
            try:
                store = CallCache(None if cache is True else cache, source=name)
            except CacheError as error:
                log.warning("watching without the call store: %s", error)
                return None
        store.claim(account_record(self.client.account_identity()), merge=merge)
        return store

    def _restore(self) -> None:
        if self._store is None:
            return
        stored = [c for c in self._store.load_all() if self._keep(c)]
        if stored:
            self._take(stored, [])
            self._last_change = None

    # counts --------------------------------------------------------------------------------------

    @property
    def n_calls(self) -> int:
        return len(self._known)

    @property
    def in_flight(self) -> int:
        return sum(1 for k in self._known.values() if k.status not in TERMINAL_STATUSES)

    @property
    def completed(self) -> int:
        return sum(1 for k in self._known.values() if k.status == "completed")

    @property
    def failed(self) -> int:
        return sum(
            1
            for k in self._known.values()
            if k.status in TERMINAL_STATUSES and k.status != "completed"
        )

    @property
    def frames(self) -> CallFrames:
        """The frames of every call seen, each call once (its latest version)."""
        if self._frames is None:
            if self._pending:
                self._append(to_frames(list(self._pending.values())))
                self._pending.clear()
            parts = []
            for chunk, ids in zip(self._chunks, self._chunk_ids, strict=True):
                if len(ids) == len(chunk.calls):
                    parts.append(chunk)
                elif ids:
                    parts.append(chunk.select(list(ids)))
            self._frames = CallFrames.concat(parts) if parts else CallFrames.empty()
            self._chunks, self._chunk_ids = [self._frames], [set(self._frames.calls["call_id"])]
        return self._frames

    # one refresh ---------------------------------------------------------------------------------

    def _bound(self) -> float:
        """Calls created before this (epoch seconds) cannot be new or changed."""
        if not self._swept or not self._known:
            return self._since
        newest = max(k.created for k in self._known.values())
        unsettled = [
            k.created
            for k in self._known.values()
            if not k.settled and not newest - k.ended > SETTLE_S  # NaN (running) compares False
        ]
        return min([newest, *unsettled]) - LOOKBACK_S

    def _list(self) -> tuple[list[dict], list[dict], int]:
        bound = self._bound()
        new: list[dict] = []
        changed: list[dict] = []
        seen_items = 0
        for call in self.client.iter_calls(page_size=100):
            seen_items += 1
            created = _epoch(call.get("created_at"))
            if math.isfinite(bound) and created < bound:
                break
            if not self._keep(call):
                continue
            known = self._known.get(call["id"])
            if known is None:
                new.append(call)
            elif known.updated_at != call.get("updated_at"):
                changed.append(call)
        return new, changed, (seen_items + 99) // 100

    def refresh(self) -> dict[str, Any]:
        """Poll once: take new and changed calls, update frames, statistics and thresholds.

        Returns
        -------
        dict
            ``new``, ``changed`` (calls), ``pages`` (listing pages read) and ``seconds``.

        Raises
        ------
        WatchError
            No call of the scope appeared within ``start_timeout`` seconds.
        OneInboxError
            The listing failed beyond the client's retry policy (nothing was changed).
        """
        started = time.perf_counter()
        new, changed, pages = self._list()
        if self._store is not None and (new or changed):
            try:
                self._store.put_many(new + changed)
            except CacheError as error:
                log.warning("could not store %d calls: %s", len(new) + len(changed), error)
        self._swept = True
        now = self._clock()
        if new or changed:
            self._take(new, changed)
            self._last_change = now
        self._update_judgements(final=False)
        self.refreshes += 1
        self.last_refresh = {
            "new": len(new),
            "changed": len(changed),
            "pages": pages,
            "seconds": time.perf_counter() - started,
        }
        self._check_over(now)
        return self.last_refresh

    def _append(self, chunk: CallFrames) -> None:
        """Add the frames of some calls; older rows of the same calls stop counting."""
        ids = set(chunk.calls["call_id"])
        for old in self._chunk_ids:
            old -= ids
        self._chunks.append(chunk)
        self._chunk_ids.append(ids)

    def _take(self, new: list[dict], changed: list[dict]) -> None:
        """Take calls in: a call that has just ended gets its frames (and rolling values) now;
        the other new or changed calls wait in ``_pending`` until the frames are next read."""
        calls = new + changed
        ended = [c for c in calls if _ended(c) and str(c["id"]) not in self._values_of]
        ended_ids = {str(c["id"]) for c in ended}
        for call in calls:
            if str(call["id"]) in ended_ids:
                self._pending.pop(str(call["id"]), None)
            else:
                self._pending[str(call["id"])] = call
        self._frames = None
        for call in calls:
            metadata = call.get("metadata") if isinstance(call.get("metadata"), dict) else {}
            try:
                concurrency = float(metadata.get("concurrency_at_dispatch"))
            except (TypeError, ValueError):
                concurrency = math.nan
            self._known[str(call["id"])] = _Known(
                updated_at=call.get("updated_at"),
                created=_epoch(call.get("created_at")),
                status=str(call.get("status", "")).lower(),
                settled=_settled(call),
                concurrency=concurrency,
                ended=_epoch(call.get("ended_at") or call.get("updated_at"))
                if _ended(call)
                else math.nan,
            )
        if ended:
            chunk = to_frames(ended)
            self._append(chunk)
            self._add_values(chunk, list(ended_ids))

    def _add_values(self, frames: CallFrames, ended: list[str]) -> None:
        """Each newly ended call's values (of ``frames``), for the rolling window.

        The component rule of :mod:`oneinbox_nb.analysis` (one :func:`analysis.latency_values`
        pass): a component's values are the per-turn sums of the turns that have its events, a
        turn's value flagged for that component alone is left out (its other components stay);
        the response comes from complete, unflagged turns >= 1.
        """
        per_call: dict[str, dict[str, np.ndarray]] = {c: {} for c in ended}
        values = analysis.latency_values(frames)
        for metric in ROLLING_METRICS:
            rows = values[values["component"] == _COMPONENT_OF[metric]]
            codes, ids = pd.factorize(rows["call_id"])
            order = np.argsort(codes, kind="stable")
            split = np.cumsum(np.bincount(codes, minlength=len(ids)))[:-1]
            by_call = np.split(rows["value"].to_numpy(dtype=float)[order], split)
            for call_id, call_values in zip(ids, by_call, strict=True):
                if call_id in per_call:
                    per_call[call_id][metric] = call_values
        for call_id in ended:
            self._values_of.add(call_id)
            self._recent.append((self._known[call_id].concurrency, per_call[call_id]))
            while len(self._recent) > self.window:
                self._recent.popleft()

    # statistics ----------------------------------------------------------------------------------

    def rolling(self) -> pd.DataFrame:
        """p50 and p95 of each component over the last ``window`` ended calls, with their load.

        The values follow the component rule (see :meth:`_add_values`). A metric with values from
        fewer than :data:`~oneinbox_nb.analysis.MIN_CALLS` calls gets no percentiles (NaN) and
        the note ``"not enough calls (n)"``; one without values in a full enough window, ``"no
        values"``.

        Returns
        -------
        pandas.DataFrame
            ``metric``, ``p50``, ``p95`` (ms, NaN without enough calls), ``n_values``,
            ``n_calls`` (calls with values), ``concurrency_low``, ``concurrency_high`` (the
            window's calls' dispatch concurrency) and ``note`` (``""`` when there are numbers).
        """
        load = np.array([c for c, _ in self._recent], dtype=float)
        low = float(np.nanmin(load)) if np.isfinite(load).any() else math.nan
        high = float(np.nanmax(load)) if np.isfinite(load).any() else math.nan
        rows = []
        for metric in ROLLING_METRICS:
            parts = [v[metric] for _, v in self._recent if len(v.get(metric, ()))]
            values = np.concatenate(parts) if parts else np.zeros(0)
            note = ""
            if not parts and len(self._recent) >= analysis.MIN_CALLS:
                note = "no values"
            elif len(parts) < analysis.MIN_CALLS:
                note = f"not enough calls ({display.count(len(parts))})"
            p50, p95 = np.quantile(values, [0.5, 0.95]) if not note else (math.nan, math.nan)
            rows.append(
                {
                    "metric": metric,
                    "p50": float(p50),
                    "p95": float(p95),
                    "n_values": len(values),
                    "n_calls": len(parts),
                    "concurrency_low": low,
                    "concurrency_high": high,
                    "note": note,
                }
            )
        return pd.DataFrame(rows)

    def rolling_shown(self) -> pd.DataFrame:
        """:meth:`rolling` as readers see it (the terminal's and the explorer's table).

        Returns
        -------
        pandas.DataFrame
            Text columns ``metric``, ``p50``, ``p95`` (through :mod:`oneinbox_nb.display`; the
            note, e.g. ``"not enough calls (7)"``, below the minimum), ``calls`` and
            ``concurrency`` (the window's range, ``"unknown"`` without one).
        """
        rows = []
        for row in self.rolling().itertuples():
            span = display.UNKNOWN
            if math.isfinite(row.concurrency_low):
                span = (
                    f"{display.concurrency(row.concurrency_low)}–"
                    f"{display.concurrency(row.concurrency_high)}"
                )
            p50, p95 = (
                (row.note, row.note) if row.note else (display.ms(row.p50), display.ms(row.p95))
            )
            rows.append([row.metric, p50, p95, display.count(row.n_calls), span])
        return pd.DataFrame(rows, columns=["metric", "p50", "p95", "calls", "concurrency"])

    def knee_text(self) -> str:
        """The knee with its interval, or ``"not enough calls yet (n)"``."""
        ended = len(self._values_of)
        if self.knee is None:
            return f"not enough calls yet ({display.count(ended)})"
        return str(self.knee)

    def _update_judgements(self, *, final: bool) -> None:
        ended = len(self._values_of)
        if not final and (ended < max(1, self._knee_at) * 1.1 or ended == self._knee_at):
            self._snapshot()
            return
        self._knee_at = ended
        frames = self.frames
        if ended >= _KNEE_MIN_CALLS:
            self.knee = analysis.find_knee(frames, n_boot=200 if not final else 1000)
        if self.thresholds:
            self.threshold_state = evaluate(
                self.thresholds, frames, n_boot=200 if not final else 1000, seed=0
            )
            self._abort_if_breached()
        self._snapshot()

    def _abort_if_breached(self) -> None:
        for threshold, row in zip(self.thresholds, self.threshold_state.itertuples(), strict=True):
            if row.verdict == "clear breach" and (self.abort_on_fail or threshold.abort_on_fail):
                self.over = True
                self.reason = f"aborted: {row.summary}"
                return

    def _snapshot(self) -> None:
        table = self.rolling()
        entry: dict[str, Any] = {
            "refresh": self.refreshes,
            "n_calls": self.n_calls,
            "in_flight": self.in_flight,
            "concurrency": float(table["concurrency_high"].iloc[0]) if len(table) else math.nan,
        }
        for row in table.itertuples():
            entry[f"{row.metric}_p50"] = row.p50
            entry[f"{row.metric}_p95"] = row.p95
        self.history.append(entry)

    def _check_over(self, now: float) -> None:
        if self.over:
            return
        if not self._known:
            if now - self._started >= self.start_timeout:
                raise WatchError(
                    f"no call of {self.scope_text} appeared within {self.start_timeout:.0f} s; "
                    "check the run id (metadata run_id) and that the load test has started"
                )
            return
        last = self._last_change if self._last_change is not None else self._started
        if now - last >= self.quiet_period:
            self.over = True
            self.reason = f"quiet for {self.quiet_period:.0f} s"

    # running -------------------------------------------------------------------------------------

    def finish(self) -> None:
        """Judge the knee and the thresholds on every call seen, with full intervals."""
        self._update_judgements(final=True)

    def run(
        self,
        *,
        on_update: Callable[[LiveRun], Any] | None = None,
        sleep: Callable[[float], Any] = time.sleep,
        max_refreshes: int | None = None,
    ) -> LiveRun:
        """Refresh every ``interval`` seconds until the run is over (or Ctrl-C), then :meth:`finish`.

        A refresh that fails with a passing error (connection lost, 5xx, 429) beyond the client's
        retries is logged and tried again at the next interval; what was seen is kept. Ctrl-C
        ends the watch after the final judgement and re-raises ``KeyboardInterrupt``.
        """
        try:
            while not self.over:
                try:
                    self.refresh()
                except OneInboxError as error:
                    if isinstance(error, WatchError) or not is_retryable(error):
                        raise
                    log.warning("refresh failed, retrying in %.0f s: %s", self.interval, error)
                if on_update is not None:
                    on_update(self)
                if max_refreshes is not None and self.refreshes >= max_refreshes:
                    break
                if not self.over:
                    sleep(self.interval)
        except KeyboardInterrupt:
            self.reason = "stopped (Ctrl-C)"
            self.finish()
            raise
        self.finish()
        return self

    def summary(self) -> str:
        """Lines for readers: the population, calls, the rolling table, the knee, each threshold."""
        lines = [
            self.scope.sentence(self.frames)
            if self.n_calls
            else f"{self.scope_text}: no calls yet",
            f"{self.scope_text}: {display.count(self.n_calls)} calls "
            f"({display.count(self.in_flight)} in flight, {display.count(self.completed)} "
            f"completed, {display.count(self.failed)} failed)"
            + (f"; {self.reason}" if self.reason else ""),
        ]
        for row in self.rolling().itertuples():
            numbers = f"p50 {display.ms(row.p50)}, p95 {display.ms(row.p95)}"
            lines.append(f"  {row.metric}: {row.note or numbers}")
        lines.append(f"  knee: {self.knee_text()}")
        lines += [f"  {s}" for s in self.threshold_state.get("summary", [])]
        return "\n".join(lines)

    def __repr__(self) -> str:
        state = "over" if self.over else "watching"
        return (
            f"<LiveRun {self.scope_text} {state}: {self.n_calls} calls, {self.in_flight} in flight>"
        )


def watch(
    scope: Scope | str | None = None,
    *,
    interval: float = 5.0,
    client: OneInboxClient | None = None,
    thresholds: Iterable[Threshold | str] | str = (),
    abort_on_fail: bool = False,
    quiet_period: float = QUIET_PERIOD_S,
    start_timeout: float = START_TIMEOUT_S,
    cache: bool | str | CallCache | None = True,
    merge: bool = False,
    key: str | None = None,
    window: int = 200,
) -> LiveRun:
    """Follow a run on the API as it happens; returns a :class:`LiveRun` after its first refresh.

    Parameters
    ----------
    scope : Scope or str, optional
        A :class:`oneinbox_nb.Scope` (calls kept by :meth:`~oneinbox_nb.Scope.matches`, the
        listing walked down to its ``since``), a run id (``Scope.for_runs([run_id])``), or None
        for every call.
    interval : float, default 5
        Seconds between refreshes in :meth:`LiveRun.run`.
    client : OneInboxClient, optional
        Default: from ``ONEINBOX_API_KEY`` / ``ONEINBOX_BASE_URL``.
    thresholds : str, Threshold or iterable of them
        Judged on the calls so far whenever the ended calls grew by a tenth.
    abort_on_fail : bool, default False
        End the watch at the first clear breach of any threshold (else only of those marked
        ``abort_on_fail`` in a thresholds file).
    quiet_period : float, default 120
        Seconds without a new or changed call after which the run is over.
    start_timeout : float, default 300
        Seconds to wait for the scope's first call before :class:`WatchError`.
    cache : bool, str or CallCache, default True
        The call store (True: the user store of this API; a directory; False: none).
    merge : bool, default False
        Use a store that holds another account's calls (or this account's under an earlier key),
        as :func:`oneinbox_nb.fetch_calls` does.
    key : str, optional
        The run key (default: ``ONEINBOX_RUN_KEY``, else ``run_id``; see
        :func:`oneinbox_nb.config.resolve_run_key`).
    window : int, default 200
        Ended calls behind the rolling p50/p95.

    Returns
    -------
    LiveRun
        Call ``.run()`` to follow it to the end, or ``.refresh()`` on your own timer.

    Raises
    ------
    OneInboxError
        The first refresh failed beyond the client's retry policy.
    """
    live = LiveRun(
        scope,
        client=client,
        interval=interval,
        quiet_period=quiet_period,
        start_timeout=start_timeout,
        thresholds=thresholds,
        abort_on_fail=abort_on_fail,
        cache=cache,
        merge=merge,
        key=key,
        window=window,
    )
    live.refresh()
    return live
