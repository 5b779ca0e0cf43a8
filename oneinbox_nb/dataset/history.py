"""A synthetic multi-month production history, written straight to a dataset (no server).

For the fleet notebook's demo and the benchmarks. Calls are cloned from pools made by the sample
generator (:func:`oneinbox_nb.sample.generate`, scenario ``production``): each day draws its calls
from the pool, with fresh ids, moved to that day at the template's time of day. Cloning happens on
the frames (Arrow tables), so a million calls take minutes, not the hours that generating each call
would. Planted, and reported by :func:`write_history`:

* a provider slowdown: from ``slowdown_start`` on, every ``llm_ttft`` of the ``slowdown_provider``
  LLM is ``slowdown_factor`` times slower (the pool is slowed before its frames are built, so events,
  aggregates, turns and per-call summaries agree);
* weekly seasonality (weekends quieter) and slow growth of the daily volume;
* optionally, one load-test run (``metadata.run_id``) on the last day.
"""

from __future__ import annotations

import copy
import os
import uuid
from typing import Any

import numpy as np
import pandas as pd

from ..frames import TABLES, CallFrames, to_frames
from .account import SAMPLE_ACCOUNT
from .store import Store, to_arrow

__all__ = ["write_history"]

_WEEKDAY = (1.0, 1.05, 1.05, 1.0, 0.95, 0.45, 0.35)  # Monday .. Sunday
_TIMES = ("created_at", "updated_at", "scheduled_at", "started_at", "ended_at")


def _slowed(calls: list[dict], provider: str, factor: float) -> list[dict]:
    """Copies of ``calls`` whose ``provider`` LLM answers ``factor`` times slower."""
    out = []
    for call in calls:
        latency = call.get("latency")
        llm = (latency or {}).get("llm_ttft") if isinstance(latency, dict) else None
        if not isinstance(llm, dict) or llm.get("provider") != provider:
            out.append(call)
            continue
        call = copy.deepcopy(call)
        latency = call["latency"]
        for event in latency.get("events") or []:
            if (
                isinstance(event, dict)
                and event.get("type") == "llm_ttft"
                and isinstance(event.get("ms"), (int, float))
            ):
                event["ms"] = round(event["ms"] * factor, 1)
        for key in ("avg_ms", "p50_ms", "min_ms", "max_ms"):
            if isinstance(latency["llm_ttft"].get(key), (int, float)):
                latency["llm_ttft"][key] = round(latency["llm_ttft"][key] * factor, 1)
        out.append(call)
    return out


class _Pool:
    """Template frames as Arrow tables, with each template call's rows per table."""

    def __init__(self, frames: CallFrames) -> None:
        self.n = len(frames.calls)
        ids = frames.calls["call_id"].astype(object).to_numpy()
        code = pd.Index(ids)
        created = frames.calls["created_at"]
        self.time_of_day = (created - created.dt.floor("D")).to_numpy()
        self.created = created.dt.tz_convert(None).to_numpy()
        self.tables: dict[str, Any] = {}
        self.rows: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
        for name in TABLES:
            frame = frames.tables[name]
            table = to_arrow(name, frame)
            which = code.get_indexer(frame["call_id"].astype(object).to_numpy())
            order = np.flatnonzero(which >= 0)  # rows of no known call are not cloned
            order = order[np.argsort(which[order], kind="stable")]
            which = which[order]
            counts = np.bincount(which, minlength=self.n)
            starts = np.cumsum(counts) - counts
            self.tables[name] = table.take(order)
            self.rows[name] = (starts, counts, order)

    def clone(self, picks: np.ndarray, new_ids: np.ndarray, day: pd.Timestamp) -> dict[str, Any]:
        """Frames of the calls ``picks`` (template numbers), renamed and moved to ``day``."""
        import pyarrow as pa
        import pyarrow.compute as pc

        shift = (day.to_datetime64() + self.time_of_day[picks]) - self.created[picks]
        tables = {}
        for name in TABLES:
            starts, counts, _ = self.rows[name]
            n_rows = counts[picks]
            if n_rows.sum() == 0:
                tables[name] = self.tables[name].slice(0, 0)
                continue
            offsets = np.repeat(starts[picks] - np.cumsum(n_rows) + n_rows, n_rows)
            rows = offsets + np.arange(n_rows.sum())
            table = self.tables[name].take(pa.array(rows))
            table = table.set_column(
                table.column_names.index("call_id"),
                "call_id",
                pa.array(np.repeat(new_ids, n_rows), type=pa.string()),
            )
            if name == "calls":
                for column in _TIMES:
                    i = table.column_names.index(column)
                    moved = pc.add(table.column(i), pa.array(shift.astype("timedelta64[us]")))
                    table = table.set_column(i, column, moved)
            tables[name] = table
        return tables


def write_history(
    path: str | os.PathLike[str],
    *,
    days: int = 90,
    calls_per_day: float = 60,
    seed: int = 0,
    end: Any = "2026-11-20",
    pool: int = 600,
    slowdown_provider: str = "anthropic",
    slowdown_factor: float = 1.8,
    slowdown_start: Any = None,
    load_test_calls: int = 0,
) -> dict[str, Any]:
    """Write a synthetic production history of ``days`` days ending at ``end`` into a new dataset.

    Parameters
    ----------
    path : str or path-like
        A new or empty directory.
    days : int, default 90
    calls_per_day : float, default 60
        Mean calls on a weekday at the start; weekends are quieter and volume grows 30 % over the
        history.
    seed : int, default 0
    end : date-like, default "2026-11-20"
        The day after the last day (UTC).
    pool : int, default 600
        Template calls generated (the variety of the history).
    slowdown_provider, slowdown_factor, slowdown_start
        The planted slowdown: ``llm_ttft`` of that LLM provider, times that factor, from that day
        on (default: two thirds into the history).
    load_test_calls : int, default 0
        Also write a load-test run of this many calls on the last day (``metadata.run_id``).

    Returns
    -------
    dict
        The truth: ``n_calls``, ``days`` (first, last), ``slowdown`` (provider, component,
        factor, start as ``YYYY-MM-DD``), ``run_id`` (or None) and ``load_test_calls``.
    """
    if days < 1 or calls_per_day <= 0 or pool < 1:
        raise ValueError("days, calls_per_day and pool must be positive")
    last = pd.Timestamp(end, tz="UTC").floor("D")
    first = last - pd.Timedelta(days=days)
    start = (
        first + pd.Timedelta(days=(2 * days) // 3)
        if slowdown_start is None
        else pd.Timestamp(slowdown_start, tz="UTC").floor("D")
    )
    store = Store(path, create=True)
    pools = _pools(seed, pool, slowdown_provider, slowdown_factor)
    n_calls = _write_days(store, pools, first, days, calls_per_day, start, seed)
    run_id = None
    if load_test_calls:
        run_id, n_run = _write_run(store, seed, load_test_calls, last - pd.Timedelta(days=1))
        n_calls += n_run
    info = store.marker()
    info.update(
        account=dict(SAMPLE_ACCOUNT),
        last_sync=pd.Timestamp.now(tz="UTC").isoformat(timespec="seconds"),
        n_calls=n_calls,
    )
    store.write_marker(info)
    return {
        "n_calls": n_calls,
        "days": (first.strftime("%Y-%m-%d"), (last - pd.Timedelta(days=1)).strftime("%Y-%m-%d")),
        "slowdown": {
            "provider": slowdown_provider,
            "component": "llm_ttft",
            "factor": slowdown_factor,
            "start": start.strftime("%Y-%m-%d"),
        },
        "run_id": run_id,
        "load_test_calls": load_test_calls,
    }


def _write_days(
    store: Store,
    pools: tuple[_Pool, _Pool],
    first: pd.Timestamp,
    days: int,
    calls_per_day: float,
    start: pd.Timestamp,
    seed: int,
) -> int:
    """Write one part per day from ``first`` on (the slowed pool from ``start``); returns the
    calls written."""
    normal, slowed = pools
    rng = np.random.default_rng(seed)
    n_calls = 0
    for i in range(days):
        day = first + pd.Timedelta(days=i)
        growth = 1 + 0.3 * i / max(days - 1, 1)
        n = int(rng.poisson(calls_per_day * _WEEKDAY[day.weekday()] * growth))
        if n:
            source = slowed if day >= start else normal
            store.write_tables(source.clone(rng.integers(0, normal.n, size=n), _ids(rng, n), day))
            n_calls += n
    return n_calls


def _pools(seed: int, pool: int, provider: str, factor: float) -> tuple[_Pool, _Pool]:
    """The template pool of ``pool`` generated production calls, and its slowed copy."""
    from ..sample import generate

    templates = generate("production", seed=seed, n=pool)
    templates = [c for c in templates if c.get("status") in ("completed", "failed")]
    return _Pool(to_frames(templates)), _Pool(to_frames(_slowed(templates, provider, factor)))


def _ids(rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` fresh UUID4 call ids."""
    return np.array(
        [str(uuid.UUID(bytes=b, version=4)) for b in _random_bytes(rng, n)], dtype=object
    )


def _write_run(store: Store, seed: int, n: int, day: pd.Timestamp) -> tuple[str, int]:
    """Write a load-test run of ``n`` generated calls starting on ``day``; returns its run id
    and the calls written."""
    from ..sample import generate

    run_frames = to_frames(generate("load_test", seed=seed, n=n))
    store.write_part(_move(run_frames, day))
    return str(run_frames.calls["meta_run_id"].dropna().iloc[0]), len(run_frames.calls)


def _random_bytes(rng: np.random.Generator, n: int) -> list[bytes]:
    raw = rng.integers(0, 256, size=(n, 16), dtype=np.uint8)
    return [row.tobytes() for row in raw]


def _move(frames: CallFrames, day: pd.Timestamp) -> CallFrames:
    """The frames with every call's times shifted so the first call starts on ``day``."""
    calls = frames.calls.copy()
    delta = day - calls["created_at"].min().floor("D")
    for column in _TIMES:
        calls[column] = calls[column] + delta
    return CallFrames(**{**frames.tables, "calls": calls})
