"""The ``components`` table: the server's latency aggregates (``latency.stt`` ...), one row each.

Each aggregate is checked against statistics of the call's own events of that component; a
mismatch is ``aggregate_disagrees_with_events``. The aggregates are kept as sent.
"""

from __future__ import annotations

from itertools import repeat
from typing import Any

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
    positions = np.asarray(aggregates["pos"], dtype=np.int64)
    names = aggregates["component"]
    values = [dict(v) if type(v) is not dict else v for v in aggregates["values"]]

    def where(row: int, key: str) -> str:
        return f"latency.{names[row]}.{key}"

    cols: dict[str, Any] = {"call_id": batch.ids(positions), "component": names}
    raw = list(map(dict.get, values, repeat("provider")))
    providers, bad = _text(raw)
    for row in bad:
        batch.found.add(positions[row], where(row, "provider"), "wrong_type", raw[row])
    cols["provider"] = providers
    numbers: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for key in ("avg_ms", "p50_ms", "min_ms", "max_ms", "samples"):
        raw = list(map(dict.get, values, repeat(key)))
        data, mask, issues = _numbers(raw, integer=key == "samples")
        for row, code, detail in issues:
            batch.found.add(positions[row], where(row, key), code, raw[row], detail)
        if key != "samples":
            for row in np.flatnonzero(~mask & (data < 0)):
                batch.found.add(positions[row], where(row, key), "negative_ms", raw[row])
            for row in np.flatnonzero(~mask & (data > ABSURD_MS)):
                batch.found.add(positions[row], where(row, key), "absurd_ms", raw[row])
        numbers[key] = (data, mask)
        cols[key] = _masked(data, mask)

    # The events' own statistics per (call, component), to check the server's aggregates:
    # one slot per (call, component), plus one per call where other event types land.
    width = len(AGGREGATE_COMPONENTS) + 1
    component_of_kind = np.array(
        [
            AGGREGATE_COMPONENTS.index(t)
            if t in AGGREGATE_COMPONENTS
            else len(AGGREGATE_COMPONENTS)
            for t in EVENT_TYPES
        ]
        + [len(AGGREGATE_COMPONENTS)],
        dtype=np.int64,
    )
    key = events["_call_pos"] * width
    key += component_of_kind[events["_kind"]]
    ms = events["_ms"]
    present = ~np.isnan(ms)
    if not present.all():
        key_present, ms_present = key[present], ms[present]
    else:
        key_present, ms_present = key, ms
    slots = batch.n * width
    row_key = positions * width + np.array(
        [AGGREGATE_COMPONENTS.index(n) for n in names], dtype=np.int64
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
    cols["n_events"] = size
    checked = has_events[positions]
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
                positions[row],
                f"latency.{names[row]}",
                "aggregate_disagrees_with_events",
                {k: values[row].get(k) for k in ("samples", "avg_ms", "min_ms", "max_ms")},
                "; ".join(reasons),
            )
    return cols
