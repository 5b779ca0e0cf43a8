"""The ``components`` table: the server's latency aggregates (``latency.stt`` ...), one row each.

Each aggregate is checked against statistics of the call's own events of that component; a
mismatch is ``aggregate_disagrees_with_events``. The aggregates are kept as sent.
"""

from __future__ import annotations

from itertools import repeat
from typing import Any, NamedTuple

import numpy as np

from ._batch import _Batch
from ._columns import _masked, _numbers, _text
from .schema import ABSURD_MS, AGGREGATE_COMPONENTS, EVENT_TYPES


def component_columns(
    batch: _Batch,
    aggregates: dict[str, list[Any]],
    events: dict[str, Any],
    has_events: np.ndarray,
) -> dict[str, Any]:
    """The ``components`` columns: one row per server aggregate, checked against the events.

    ``aggregates`` holds each aggregate's call position, component and mapping (from
    ``read_latency``); ``events`` are the events builder's columns and ``has_events`` says which
    calls have any events to check against.
    """
    rows = _Aggregates(
        np.asarray(aggregates["pos"], dtype=np.int64),
        aggregates["component"],
        [dict(v) if type(v) is not dict else v for v in aggregates["values"]],
    )
    cols: dict[str, Any] = {"call_id": batch.ids(rows.positions), "component": rows.names}
    raw = list(map(dict.get, rows.values, repeat("provider")))
    providers, bad = _text(raw)
    for row in bad:
        batch.found.add(rows.positions[row], rows.where(row, "provider"), "wrong_type", raw[row])
    cols["provider"] = providers
    numbers = _aggregate_numbers(batch, rows)
    for key, (data, mask) in numbers.items():
        cols[key] = _masked(data, mask)
    size, stats = _event_statistics(batch.n, rows, events)
    cols["n_events"] = size
    _check_aggregates(batch, rows, numbers, size, stats, has_events[rows.positions])
    return cols


class _Aggregates(NamedTuple):
    """The aggregates, one per row: call position, component name and the mapping as sent."""

    positions: np.ndarray
    names: list[str]
    values: list[dict[str, Any]]

    def where(self, row: int, key: str) -> str:
        """The location of ``key`` of row ``row``'s aggregate, as a problem row names it."""
        return f"latency.{self.names[row]}.{key}"


def _aggregate_numbers(
    batch: _Batch, rows: _Aggregates
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """``avg_ms``, ``p50_ms``, ``min_ms``, ``max_ms`` and ``samples`` as (data, missing mask);
    odd values are reported, and negative or absurd milliseconds."""
    numbers: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for key in ("avg_ms", "p50_ms", "min_ms", "max_ms", "samples"):
        raw = list(map(dict.get, rows.values, repeat(key)))
        data, mask, issues = _numbers(raw, integer=key == "samples")
        for row, code, detail in issues:
            batch.found.add(rows.positions[row], rows.where(row, key), code, raw[row], detail)
        if key != "samples":
            for row in np.flatnonzero(~mask & (data < 0)):
                batch.found.add(rows.positions[row], rows.where(row, key), "negative_ms", raw[row])
            for row in np.flatnonzero(~mask & (data > ABSURD_MS)):
                batch.found.add(rows.positions[row], rows.where(row, key), "absurd_ms", raw[row])
        numbers[key] = (data, mask)
    return numbers


#: Each event kind's slot among the aggregate components (the last slot: every other type).
_COMPONENT_OF_KIND = np.array(
    [
        AGGREGATE_COMPONENTS.index(t) if t in AGGREGATE_COMPONENTS else len(AGGREGATE_COMPONENTS)
        for t in EVENT_TYPES
    ]
    + [len(AGGREGATE_COMPONENTS)],
    dtype=np.int64,
)


def _event_statistics(
    n_calls: int, rows: _Aggregates, events: dict[str, Any]
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Per aggregate row, the number of the call's events of its component, and their mean, min
    and max (NaN without values): one slot per (call, component), plus one per call where other
    event types land."""
    width = len(AGGREGATE_COMPONENTS) + 1
    key = events["_call_pos"] * width
    key += _COMPONENT_OF_KIND[events["_kind"]]
    ms = events["_ms"]
    present = ~np.isnan(ms)
    if not present.all():
        key_present, ms_present = key[present], ms[present]
    else:
        key_present, ms_present = key, ms
    slots = n_calls * width
    row_key = rows.positions * width + np.array(
        [AGGREGATE_COMPONENTS.index(n) for n in rows.names], dtype=np.int64
    )
    size = np.bincount(key, minlength=slots)[row_key].astype(np.int64)
    count = np.bincount(key_present, minlength=slots)[row_key]
    total = np.bincount(key_present, weights=ms_present, minlength=slots)[row_key]
    lowest = np.full(slots, np.inf)
    np.minimum.at(lowest, key_present, ms_present)
    highest = np.full(slots, -np.inf)
    np.maximum.at(highest, key_present, ms_present)
    with np.errstate(invalid="ignore", divide="ignore"):
        stats = {
            "mean": np.where(count > 0, total / count, np.nan),
            "min": np.where(count > 0, lowest[row_key], np.nan),
            "max": np.where(count > 0, highest[row_key], np.nan),
        }
    return size, stats


def _check_aggregates(
    batch: _Batch,
    rows: _Aggregates,
    numbers: dict[str, tuple[np.ndarray, np.ndarray]],
    size: np.ndarray,
    stats: dict[str, np.ndarray],
    checked: np.ndarray,
) -> None:
    """An ``aggregate_disagrees_with_events`` row for each aggregate (of a call with events,
    ``checked``) whose samples, avg, min or max do not match the events' own statistics."""
    samples, samples_missing = numbers["samples"]
    off = {"samples": checked & ~samples_missing & (samples != size)}
    references = {}
    for stat, event_stat in (("avg_ms", "mean"), ("min_ms", "min"), ("max_ms", "max")):
        value, missing = numbers[stat]
        reference = stats[event_stat]
        references[stat] = reference
        with np.errstate(invalid="ignore"):
            far = np.abs(value - reference) > np.maximum(1.0, 0.01 * np.abs(reference))
        off[stat] = checked & ~missing & ~np.isnan(reference) & far
    for row in np.flatnonzero(np.logical_or.reduce(list(off.values()))):
        reasons = []
        if off["samples"][row]:
            reasons.append(f"samples={samples[row]} but {size[row]} events")
        for stat, reference in references.items():
            if off[stat][row]:
                reasons.append(
                    f"{stat}={numbers[stat][0][row]:g} but events give {reference[row]:g}"
                )
        if reasons:
            batch.found.add(
                rows.positions[row],
                f"latency.{rows.names[row]}",
                "aggregate_disagrees_with_events",
                {k: rows.values[row].get(k) for k in ("samples", "avg_ms", "min_ms", "max_ms")},
                "; ".join(reasons),
            )
