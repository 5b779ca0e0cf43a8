"""Sync an organisation's calls into a local dataset, in bounded memory; compact it.

:func:`sync` walks ``GET /v1/calls/cursor`` (100 full calls a page, through
:meth:`OneInboxClient.iter_calls <oneinbox_nb.client.OneInboxClient.iter_calls>` and so its retry
policy), keeps the calls that are new or whose ``updated_at`` moved since the last sync, turns them
into frames ``chunk_size`` calls at a time and writes each chunk as one committed part
(:mod:`oneinbox_nb.dataset.store`). Memory holds one chunk of call dicts, its frames, and the
``(call_id, updated_at)`` of the calls already stored (about 100 bytes a call).

Killed at any point, a re-run loses and duplicates nothing: a chunk is visible only once its
commit marker is written (the files of an uncommitted chunk are swept away and its calls, not yet
known, are listed and written again), and a call written twice is read once (newest
``updated_at`` wins) until :func:`compact` rewrites the dataset with one version per call.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import orjson

from ..account import claim_account, describe_account
from ..client import AsyncOneInboxClient, OneInboxClient
from ..client.loop import fewer_gc_passes
from ..exceptions import ConfigurationError, OneInboxError
from ..frames import to_frames
from ..frames.build import agent_names
from .account import account_of
from .read import utc_window_stamps
from .store import DatasetError, Store, to_arrow

__all__ = ["SyncResult", "sync"]

log = logging.getLogger(__name__)

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_MICROSECOND = timedelta(microseconds=1)
DEFAULT_CHUNK = 2000


@dataclass(frozen=True)
class SyncResult:
    """What one :func:`sync` did.

    Attributes
    ----------
    path : pathlib.Path
        The dataset.
    listed : int
        Calls the listing returned.
    new, changed : int
        Calls written for the first time, and written again because ``updated_at`` moved.
    unchanged : int
        Calls already stored with the same ``updated_at`` (not written).
    out_of_range : int
        Calls outside ``since``/``until`` (not written).
    parts : int
        Parts committed.
    seconds : float
        Wall time.
    worker_peak_rss : int or None
        Peak resident memory (bytes) of the worker process that framed and wrote the chunks
        (``workers=1``, Linux); None otherwise.
    """

    path: Path
    listed: int
    new: int
    changed: int
    unchanged: int
    out_of_range: int
    parts: int
    seconds: float
    worker_peak_rss: int | None = None

    @property
    def written(self) -> int:
        """Calls written (new + changed)."""
        return self.new + self.changed

    def __repr__(self) -> str:
        return (
            f"SyncResult(listed={self.listed:,}, new={self.new:,}, changed={self.changed:,}, "
            f"unchanged={self.unchanged:,}, out_of_range={self.out_of_range:,}, "
            f"parts={self.parts}, seconds={self.seconds:.1f})"
        )


def _micros(value: Any) -> int | None:
    """An ISO 8601 time from the API as UTC microseconds since the epoch; None if unusable."""
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return (moment - _EPOCH) // _MICROSECOND


def _stored_versions(store: Store) -> dict[str, int | None]:
    """call_id -> newest stored ``updated_at`` (UTC microseconds) of every stored call."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    known: dict[str, int | None] = {}
    for file in store.files("calls"):
        table = pq.read_table(file, columns=["call_id", "updated_at"])
        ids = table.column("call_id").to_pylist()
        stamps = table.column("updated_at").cast(pa.timestamp("us", tz="UTC")).cast(pa.int64())
        for call_id, stamp in zip(ids, stamps.to_pylist(), strict=True):
            old = known.get(call_id)
            if call_id not in known or (stamp is not None and (old is None or stamp > old)):
                known[call_id] = stamp
    return known


def _in_range(start: Any, end: Any) -> Callable[[dict], bool]:
    lo = None if start is None else (start.to_pydatetime() - _EPOCH) // _MICROSECOND
    hi = None if end is None else (end.to_pydatetime() - _EPOCH) // _MICROSECOND

    def keep(call: dict) -> bool:
        if lo is None and hi is None:
            return True
        created = _micros(call.get("created_at"))
        if created is None:
            return False
        return (lo is None or created >= lo) and (hi is None or created < hi)

    return keep


def sync(
    path: str | os.PathLike[str],
    *,
    client: OneInboxClient | None = None,
    agent_id: str | None = None,
    status: str | None = None,
    since: Any = None,
    until: Any = None,
    progress: bool = True,
    chunk_size: int = DEFAULT_CHUNK,
    merge: bool = False,
    workers: int = 1,
) -> SyncResult:
    """Bring an organisation's calls into the local dataset at ``path`` (created if needed).

    Only calls that are new, or whose ``updated_at`` moved (e.g. cost filled in after the call),
    are written. Memory stays bounded whatever the number of calls (see the module docstring);
    a sync killed at any point can simply be run again.

    Parameters
    ----------
    path : str or path-like
        The dataset directory (new, empty, or written by an earlier sync).
    client : OneInboxClient, optional
        Default: one from ``ONEINBOX_API_KEY`` / ``ONEINBOX_BASE_URL`` (closed afterwards). Its
        :class:`~oneinbox_nb.RetryPolicy` governs retries of each page.
    agent_id, status : str, optional
        Server-side filters of the listing.
    since, until : str, datetime or Timestamp, optional
        Keep calls created in ``[since, until)`` (naive times are UTC); filtered while paging.
    progress : bool, default True
        Show a tqdm progress bar of the calls listed.
    chunk_size : int, default 2000
        Calls per written part: the memory/file-count trade-off.
    merge : bool, default False
        Allow syncing into a dataset that holds another account's calls (see
        :mod:`oneinbox_nb.dataset.account`); the dataset then records both accounts.
    workers : {1, 0}, default 1
        1: frame and write chunks in a worker process too (``forkserver``, else ``spawn``):
        two cores. As with any :mod:`multiprocessing` worker, a script must call sync under
        ``if __name__ == "__main__":`` (notebooks, ``python -c`` need nothing). 0: one core.

    Returns
    -------
    SyncResult

    Raises
    ------
    ConfigurationError
        Bad arguments, no API key, or ``path`` is a file or a non-empty directory that is not a
        dataset.
    DatasetError
        The dataset holds another account's calls (and ``merge`` is False), or has an old format.
    OneInboxError
        The listing failed after the client's retries; what was committed before stays.
    """
    _check_arguments(client, chunk_size, workers)
    keep = _in_range(*utc_window_stamps(since, until))
    started, store = time.perf_counter(), Store(path, create=True)
    tally = _Tally(store, keep)
    with contextlib.ExitStack() as stack:
        http = client if client is not None else stack.enter_context(OneInboxClient())
        names = _agent_names(http)  # agent id -> name, one GET /v1/agents walk per sync
        account = _claim(store, account_of(http, names), merge)
        writer = _ProcessWriter(store, names) if workers else _Writer(store, names)
        try:
            calls = http.iter_calls(agent_id=agent_id, status=status)
            with fewer_gc_passes():  # up to three chunks of call dicts live: see client.loop
                _write_listed(calls, tally, writer, store.next_part(), chunk_size, progress)
            writer.finish()
        finally:
            writer.stop()
            if tally.counts["parts"] or not store.marker().get("account"):
                _record(store, account)
    return SyncResult(
        path=Path(path),
        seconds=time.perf_counter() - started,
        worker_peak_rss=getattr(writer, "peak_rss", None),
        **tally.counts,
    )


def _check_arguments(client: Any, chunk_size: Any, workers: Any) -> None:
    """:class:`ConfigurationError` for a client, chunk size or worker count sync cannot use."""
    if isinstance(client, AsyncOneInboxClient) or (
        client is not None and not isinstance(client, OneInboxClient)
    ):
        raise ConfigurationError(
            f"client must be a OneInboxClient, not {type(client).__name__}; sync pages one at a "
            "time with the synchronous client"
        )
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, int) or chunk_size < 1:
        raise ConfigurationError(f"chunk_size must be a positive integer, got {chunk_size!r}")
    if workers not in (0, 1) or isinstance(workers, bool):
        raise ConfigurationError(f"workers must be 0 or 1, got {workers!r}")


class _Tally:
    """Which listed calls a sync writes, and the counts of :class:`SyncResult`.

    The store is swept first (an interrupted sync's files go); ``known`` then maps each stored
    call_id to its newest stored ``updated_at`` (UTC microseconds). A call is written when it is
    in range (``keep``) and new, or its ``updated_at`` moved on.
    """

    def __init__(self, store: Store, keep: Callable[[dict], bool]) -> None:
        store.sweep()
        self.known = _stored_versions(store)
        self.keep = keep
        self.counts = dict.fromkeys(
            ("listed", "new", "changed", "unchanged", "out_of_range", "parts"), 0
        )

    def wanted(self, call: dict) -> bool:
        """Count ``call``; True when it is to be written (``replaced`` calls say so)."""
        counts = self.counts
        counts["listed"] += 1
        if not self.keep(call):
            counts["out_of_range"] += 1
            return False
        call_id = str(call.get("id"))
        if call_id not in self.known:
            counts["new"] += 1
            return True
        stored = self.known[call_id]
        version = _micros(call.get("updated_at"))
        if stored == version or (version is not None and stored is not None and version < stored):
            counts["unchanged"] += 1
            return False
        counts["changed"] += 1
        return True

    def written(self, chunk: list[dict]) -> None:
        """Remember the versions of a chunk submitted as one part."""
        for call in chunk:
            self.known[str(call.get("id"))] = _micros(call.get("updated_at"))
        self.counts["parts"] += 1


def _write_listed(
    calls: Iterable[dict],
    tally: _Tally,
    writer: _Writer | _ProcessWriter,
    part: int,
    chunk_size: int,
    progress: bool,
) -> None:
    """Hand the wanted calls of ``calls`` to ``writer`` in chunks of ``chunk_size``, as parts
    ``part``, ``part + 1``, ...; the next pages are listed meanwhile (:class:`_Prefetch`)."""
    bar = _progress(progress)
    chunk: list[dict] = []
    replaced = 0
    listing = _Prefetch(calls, 2 * chunk_size)
    try:
        for call in listing:
            if bar is not None:
                bar.update(1)
            if len(chunk) >= chunk_size:  # handed over once the next call is listed, so that
                # the last chunk is known as such (below)
                writer.submit(chunk, replaced, part)
                tally.written(chunk)
                chunk, replaced, part = [], 0, part + 1
                if bar is not None:
                    bar.set_postfix(
                        written=tally.counts["new"] + tally.counts["changed"], refresh=False
                    )
            if tally.wanted(call):
                replaced += str(call.get("id")) in tally.known
                chunk.append(call)
        if chunk:
            writer.submit(chunk, replaced, part, last=True)  # the listing is over
            tally.written(chunk)
    finally:
        listing.close()
        if bar is not None:
            bar.close()


class _Prefetch:
    """Iterate ``calls`` in a background thread, at most ``depth`` calls ahead.

    The next pages are fetched while a chunk is turned into frames and written (the thread waits
    on the network, the writer on the CPU). Calls cross between the threads in batches of
    ``_BATCH`` (one queue operation per batch, not per call). Errors of the listing are raised by
    ``__next__`` after the calls listed before them; :meth:`close` stops the thread.
    """

    _DONE = object()
    _BATCH = 100

    def __init__(self, calls: Iterable[dict], depth: int) -> None:
        import queue
        import threading

        self._queue: queue.Queue = queue.Queue(maxsize=max(1, depth // self._BATCH))
        self._stop = threading.Event()
        self._batch: list = []
        self._at = 0
        self._thread = threading.Thread(target=self._run, args=(calls,), daemon=True)
        self._thread.start()

    def _put(self, item: Any) -> bool:
        import queue

        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _run(self, calls: Iterable[dict]) -> None:
        batch: list = []
        try:
            for call in calls:
                batch.append(call)
                if len(batch) >= self._BATCH:
                    if not self._put(batch):
                        return
                    batch = []
            batch.append(self._DONE)
        except BaseException as exc:  # handed to the consumer
            batch.append(exc)
        self._put(batch)

    def __iter__(self) -> _Prefetch:
        return self

    def __next__(self) -> dict:
        if self._at >= len(self._batch):
            self._batch, self._at = self._queue.get(), 0
        item = self._batch[self._at]
        if item is self._DONE:
            raise StopIteration
        if isinstance(item, BaseException):
            raise item
        self._at += 1
        return item

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)


class _Writer:
    """Write and commit parts in a background thread, one at a time and in the order submitted.

    Parquet encoding and file writes release the GIL, so they overlap with the next chunk being
    turned into frames and the next pages being listed. At most one part waits while another is
    written (memory: two chunks' tables). A part is committed (its marker written) only after all
    its files, by :meth:`Store.write_tables`, so an interruption leaves only uncommitted files
    that the next sync sweeps. The first error of the thread is raised by the next
    :meth:`submit` or by :meth:`finish`; later parts are then dropped, not written.
    """

    def __init__(self, store: Store, names: dict[str, str]) -> None:
        import queue
        import threading

        self._store = store
        self._names = names
        self._queue: queue.Queue = queue.Queue(maxsize=1)
        self._error: BaseException | None = None
        self._stopped = False
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            if self._error is not None:
                continue  # keep draining so that a blocked submit returns
            tables, replaced, part = item
            try:
                self._store.write_tables(tables, replaced=replaced, part=part)
            except BaseException as exc:  # handed to the caller
                self._error = exc

    def _raise(self) -> None:
        if self._error is not None:
            raise self._error

    def submit(self, chunk: list[dict], replaced: int, part: int, *, last: bool = False) -> None:
        """Frame ``chunk`` here, queue its tables for writing as part ``part`` (``last``: see
        :meth:`_ProcessWriter.submit`)."""
        self._raise()
        frames = to_frames(chunk, agents=self._names)
        tables = {name: to_arrow(name, f) for name, f in frames.tables.items()}
        self._queue.put((tables, replaced, part))

    def stop(self) -> None:
        """Let the part being written finish (it commits whole), then end the thread."""
        if not self._stopped:
            self._stopped = True
            self._queue.put(None)
            self._thread.join()

    def finish(self) -> None:
        """Wait for every submitted part to be committed; raise the thread's error if any."""
        self.stop()
        self._raise()


class _ProcessWriter:
    """Frame and write parts in one worker process and in this one (``workers=1``).

    A chunk crosses as JSON bytes (``orjson``), not pickled dicts; the worker parses it, builds
    its frames and writes and commits the part (:meth:`Store.write_part`: marker last), while this
    process lists and parses the next pages. On a fast link both processes are busy, so each
    chunk goes to the one with less work in hand, counted in CPU seconds (not wall time, which
    other programs on the machine stretch): this process's since the sync began (the listing
    too), against the worker's finished jobs plus its queued ones at its mean cost a chunk. A
    chunk framed here costs this process the framing only (no JSON crossing) but delays the
    listing meanwhile, and the next chunk for the worker: so only while the worker has two in
    hand. Balanced so, both processes finish together. The last chunk goes where it
    is done sooner: here at once, or after the worker's queue. The worker never holds more than
    :attr:`depth` chunks (memory: ``depth`` chunks' bytes and a chunk's frames in the worker, a
    chunk's frames here). When the listing is the slow side (a slow API), both processes wait
    for pages and frame chunks in turn. Parts are independent, each committed by its own marker,
    so their order does not matter. The first error of the worker is raised by the next
    :meth:`submit` or by :meth:`finish`; parts not yet started are then cancelled. A worker
    killed mid-part leaves only uncommitted files, which the next sync sweeps.
    """

    #: Chunks the worker holds at most (one being written, the rest waiting as JSON bytes, about
    #: 5 KB a call). On a fast link this process lists a chunk in about half the time the worker
    #: takes to frame and write one, so the worker's queue grows until about a quarter of the
    #: chunks are framed here; a smaller cap would have this process frame more than its share.
    depth = 4

    def __init__(self, store: Store, names: dict[str, str]) -> None:
        from collections import deque
        from concurrent.futures import ProcessPoolExecutor

        self._store = store
        self._root = str(store.root)
        self._names = names
        self._pending: deque = deque()
        self.peak_rss: int | None = None
        self._failed = False
        self._began = time.process_time()  # this process's CPU seconds at the start
        self._worker_cpu = 0.0  # CPU seconds of the worker's finished chunks
        self._worker_chunks = 0
        self._here_cpu: float | None = None  # CPU seconds of the last chunk framed here
        self._pool = ProcessPoolExecutor(max_workers=1, mp_context=_context())
        self._pending.append(self._pool.submit(_worker_start))  # started while pages are listed

    def _collect(self, keep: int) -> None:
        """Take the results of the oldest jobs until ``keep`` are left (waiting for them), and
        of every finished one; raise the first error."""
        from concurrent.futures.process import BrokenProcessPool

        while len(self._pending) > keep or (self._pending and self._pending[0].done()):
            try:
                peak, seconds = self._pending.popleft().result()  # the worker's error, raised here
            except BrokenProcessPool as exc:
                raise self._broken(exc) from None
            except BaseException:
                self._failed = True
                raise
            if peak is not None:
                self.peak_rss = max(self.peak_rss or 0, peak)
            if seconds is not None:
                self._worker_cpu += seconds
                self._worker_chunks += 1

    def _here(self, last: bool) -> bool:
        """Whether the next chunk is framed in this process (see the class docstring)."""
        if len(self._pending) >= self.depth:
            return True  # the worker has its hands full
        if not self._worker_chunks:
            return False  # nothing measured yet: the worker, which waits for work
        per_chunk = self._worker_cpu / self._worker_chunks
        queued = sum(1 for job in self._pending if not job.done())
        here = per_chunk if self._here_cpu is None else self._here_cpu
        if last:  # the listing is over: this process is free now, the worker after its queue
            return here < per_chunk * (queued + 1)
        if queued < 2:  # framing here holds back the next chunk: the worker would run dry
            return False
        spent_here = time.process_time() - self._began
        return spent_here + here <= self._worker_cpu + per_chunk * (queued + 1)

    def submit(self, chunk: list[dict], replaced: int, part: int, *, last: bool = False) -> None:
        """Hand ``chunk`` to the worker as part ``part``, or frame and write it here (see the
        class docstring; ``last``: no chunk follows)."""
        self._collect(keep=self.depth)  # never waits: the worker holds at most depth chunks
        if self._here(last):
            started = time.thread_time()
            frames = to_frames(chunk, agents=self._names)
            self._store.write_part(frames, replaced=replaced, part=part)
            self._here_cpu = time.thread_time() - started
            return
        from concurrent.futures.process import BrokenProcessPool

        job = _write_chunk, self._root, orjson.dumps(chunk), self._names, replaced, part
        try:
            self._pending.append(self._pool.submit(*job))
        except BrokenProcessPool as exc:
            raise self._broken(exc) from None

    def _broken(self, exc: BaseException) -> DatasetError:
        self._failed = True
        return DatasetError(
            f"the process writing dataset {self._root!r} stopped ({exc}); run the sync again: "
            "committed parts stay, the rest is listed and written again (from a script, call "
            "sync under `if __name__ == '__main__':`, as the worker imports the script, or pass "
            "workers=0)"
        )

    def finish(self) -> None:
        """Wait for every submitted part to be committed; raise the worker's error if any."""
        self._collect(keep=0)

    def stop(self) -> None:
        """Let the submitted parts finish (each commits whole; after a worker error, only the one
        being written), then end the worker."""
        self._pool.shutdown(wait=True, cancel_futures=self._failed)


def _context() -> Any:
    """``forkserver`` (the server imports the framing code once), else ``spawn``."""
    import multiprocessing

    try:
        context = multiprocessing.get_context("forkserver")
    except ValueError:  # Windows
        return multiprocessing.get_context("spawn")
    context.set_forkserver_preload(["oneinbox_nb.dataset.store"])
    return context


def _worker_peak() -> int | None:
    """This process's peak resident memory in bytes (``VmHWM``; None where unknown)."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def _worker_start() -> tuple[int | None, None]:
    """The worker's first job (it starts the process, while this one lists the first chunk):
    warm the framing and writing code up on one made-up call, so that the first chunk does not
    pay for it; returns the worker's peak memory, and no chunk."""
    import pyarrow.parquet  # noqa: F401 - imported by the first write otherwise

    frames = to_frames([{"id": "warm-up", "messages": [{"role": "user"}], "latency": {}}])
    for name, frame in frames.tables.items():
        to_arrow(name, frame)
    return _worker_peak(), None


def _write_chunk(
    root: str, payload: bytes, names: dict[str, str], replaced: int, part: int
) -> tuple[int | None, float]:
    """In the worker: parse a chunk's JSON, build its frames, write and commit it as ``part``;
    returns the worker's peak memory and the CPU seconds of the job.

    The cyclic garbage collector is paused meanwhile (none of this makes reference cycles, but the
    chunk's parsed dicts and lists, all alive until its frames are built, would be traversed by
    each pass); reference counting frees everything when the job returns."""
    import gc

    started = time.process_time()
    gc.disable()
    try:
        frames = to_frames(orjson.loads(payload), agents=names)
        Store(root).write_part(frames, replaced=replaced, part=part)
    finally:
        gc.enable()
    return _worker_peak(), time.process_time() - started


def _claim(store: Store, account: dict[str, Any], merge: bool) -> dict[str, Any]:
    """The account to record after this sync (the rule of :func:`oneinbox_nb.account.claim_account`:
    the held run key kept, a merged account let in again); :class:`DatasetError` if the dataset
    holds another account's calls and ``merge`` is False."""
    held = store.marker().get("account")
    claimed = claim_account(held, account, merge=merge)
    if claimed is None:
        raise DatasetError(
            f"dataset {str(store.root)!r} holds the calls of another account "
            f"({describe_account(held)}), not of this one ({describe_account(account)}); sync "
            "into another directory, or pass merge=True (--merge) to add these calls to it"
        )
    return claimed


def _record(store: Store, account: dict[str, Any]) -> None:
    """Write the account, the time of this sync and the number of calls into the marker."""
    info = store.marker()
    info.update(
        account=account,
        last_sync=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        n_calls=store.count_calls(),
    )
    store.write_marker(info)


def _progress(enabled: bool) -> Any:
    if not enabled:
        return None
    from tqdm.auto import tqdm

    return tqdm(desc="syncing calls", unit="call", dynamic_ncols=True)


def _agent_names(http: OneInboxClient) -> dict[str, str]:
    """Agent id -> name from ``GET /v1/agents``; ``{}`` and one log line when that fails."""
    try:
        return agent_names(http.iter_agents())
    except OneInboxError as error:
        log.warning("agent names not fetched (calls.agent_name stays <NA>): %s", error)
        return {}
