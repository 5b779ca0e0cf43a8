"""The ``calls`` table: one row per call, from its top-level fields, ``latency`` and flattened extras.

:func:`read_latency` reads each call's ``latency`` once (the events and aggregates it finds feed the
events and components builders); :func:`call_columns` builds the row, with the per-call summaries the
other builders computed (message and event counts, turn latency), and checks the call-level fields.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Mapping, Sequence
from itertools import chain
from typing import Any

import numpy as np
import pandas as pd

from ..client import TERMINAL_STATUSES
from ._batch import _Batch, _gather
from ._columns import (
    _NONE,
    _infer_extra,
    _is_mapping,
    _masked,
    _numbers,
    _parse_timestamps,
    _string_array,
    _text,
    json_text,
)
from .schema import (
    _CONNECT,
    _PROVIDER_SOURCES,
    _TIMESTAMPS,
    ABSURD_MS,
    AGGREGATE_COMPONENTS,
    REQUIRED_KEYS,
)

_LEAF_TYPES = frozenset({str, int, float, bool, _NONE, list})
_REQUIRED = frozenset(REQUIRED_KEYS)
_SOURCE_OF = {"meta_": "metadata.", "var_": "variables.", "analysis_": "analysis."}


def read_latency(batch: _Batch) -> dict[str, Any]:
    """Read every call's ``latency``: connect, providers, worker, perceived, events, aggregates.

    Events and aggregates go on to the events and components builders; the rest are calls columns.
    """
    latencies = batch.sections(batch.get("latency"), "latency")
    parts = _gather(latencies, _LATENCY_KEYS)
    events, has_events = _event_lists(batch, parts["events"])
    aggregates, own_provider = _aggregates(batch, parts)
    connects, named, workers, perceived = (
        batch.sections(parts[name], f"latency.{name}")
        for name in ("connect", "providers", "worker", "perceived")
    )
    named_providers = _gather(named, tuple(_PROVIDER_SOURCES))
    providers = {}
    for key, component in _PROVIDER_SOURCES.items():
        providers[key] = [
            p if p is not None else own
            for p, own in zip(named_providers[key], own_provider[component], strict=True)
        ]
    return {
        "connect": _gather(connects, _CONNECT),
        "providers": providers,
        "worker": _gather(workers, ("worker_id", "load1", "mem_pct")),
        "perceived": _gather(perceived, ("avg_ms", "p50_ms")),
        "events": events,
        "has_events": has_events,
        "aggregates": aggregates,
    }


#: The keys of ``latency`` :func:`read_latency` reads, in one pass over the calls.
_LATENCY_KEYS = ("events", *AGGREGATE_COMPONENTS, "connect", "providers", "worker", "perceived")


def _event_lists(batch: _Batch, values: list[Any]) -> tuple[list[Sequence[Any]], np.ndarray]:
    """Each call's ``latency.events`` list (``()`` when absent or not a list, which is reported),
    and which calls have at least one event."""
    events: list[Sequence[Any]] = []
    has_events = np.zeros(batch.n, dtype=bool)
    for pos, value in enumerate(values):
        if type(value) is list:
            events.append(value)
            has_events[pos] = bool(value)
        else:
            if value is not None:
                batch.found.add(pos, "latency.events", "wrong_type", value, "expected a list")
            events.append(())
    return events, has_events


def _aggregates(
    batch: _Batch, parts: dict[str, list[Any]]
) -> tuple[dict[str, list[Any]], dict[str, list[Any]]]:
    """The server aggregates (``latency.stt`` ...) by call, then component: their call position,
    component and mapping; and each component's own ``provider`` per call (None: none)."""
    aggregates: dict[str, list[Any]] = {"pos": [], "component": [], "values": []}
    own_provider: dict[str, list[Any]] = {}
    for component in AGGREGATE_COMPONENTS:
        own_provider[component] = [None] * batch.n
        for pos, value in enumerate(parts[component]):
            if value is None:
                continue
            if not _is_mapping(value):
                batch.found.add(
                    pos, f"latency.{component}", "wrong_type", value, "expected an object"
                )
                continue
            aggregates["pos"].append(pos)
            aggregates["component"].append(component)
            aggregates["values"].append(value)
            own_provider[component][pos] = value.get("provider")
    order = np.argsort(np.asarray(aggregates["pos"], dtype=np.int64), kind="stable")
    for key, column in aggregates.items():  # by call, then component
        aggregates[key] = [column[i] for i in order.tolist()]
    return aggregates, own_provider


def call_columns(
    batch: _Batch,
    latency: dict[str, Any],
    messages: dict[str, Any],
    events: dict[str, Any],
    per_call: dict[str, Any],
) -> dict[str, Any]:
    """The ``calls`` columns (``n_problems`` aside, which the coordinator adds last).

    ``latency`` is :func:`read_latency`'s result; ``messages`` and ``events`` give the per-call
    counts (``_lengths``) and ``per_call`` the turn summaries from the turns builder.
    """
    cols: dict[str, Any] = {"call_id": batch.call_id_array}
    for key in ("agent_id", "status", "type", "direction", "end_reason"):
        cols[key] = _labels(batch, batch.get(key), key)
    for key in ("from_number", "to_number", "room_name", "twilio_call_sid", "recording_url"):
        cols[key] = _labels(batch, batch.get(key), key)
    cols["ai_summary"] = _labels(batch, batch.get("ai_summary"), "ai_summary")

    analyses = batch.sections(batch.get("analysis"), "analysis")
    metadatas = batch.sections(batch.get("metadata"), "metadata")
    variables = batch.sections(batch.get("variables"), "variables")
    outcome = batch.get("outcome")
    outcome = [
        o if o is not None else a.get("outcome") for o, a in zip(outcome, analyses, strict=True)
    ]
    cols["outcome"] = _labels(batch, outcome, "outcome")

    cols.update(_timestamps(batch, {key: batch.get(key) for key in _TIMESTAMPS}))
    cols["duration_seconds"] = _number_column(
        batch, batch.get("duration_seconds"), "duration_seconds", negative="negative_value"
    )
    cols["cost_cents"] = _number_column(
        batch, batch.get("cost_cents"), "cost_cents", integer=True, negative="negative_value"
    )
    cols["credits_used"] = _number_column(
        batch, batch.get("credits_used"), "credits_used", negative="negative_value"
    )
    cols["concurrency_at_dispatch"] = _number_column(
        batch,
        [m.get("concurrency_at_dispatch") for m in metadatas],
        "metadata.concurrency_at_dispatch",
        integer=True,
        negative="negative_value",
    )
    cols.update(_latency_columns(batch, latency))
    cols["n_messages"] = messages["_lengths"]
    cols["n_events"] = events["_lengths"]
    cols["n_turns"] = per_call["n_turns"]
    cols["p50_response_ms"] = per_call["p50_response_ms"]
    cols["max_response_ms"] = per_call["max_response_ms"]
    cols["worst_turn"] = per_call["worst_turn"]
    _check_calls(batch, cols)

    cols.update(_extra_columns(batch, metadatas, variables, analyses))
    return cols


def _latency_columns(batch: _Batch, latency: dict[str, Any]) -> dict[str, Any]:
    """The calls columns read from ``latency`` (:func:`read_latency`'s result): ``connect_*``,
    ``provider_*``, ``worker_*`` and ``perceived_*``, with their problem rows."""
    cols: dict[str, Any] = {}
    for key in _CONNECT:
        cols[f"connect_{key}"] = _number_column(
            batch, latency["connect"][key], f"latency.connect.{key}", negative="negative_ms"
        )
    for key in _PROVIDER_SOURCES:
        cols[f"provider_{key}"] = _labels(
            batch, latency["providers"][key], f"latency.providers.{key}"
        )
    cols["worker_id"] = _labels(
        batch,
        [v if v is None or isinstance(v, str) else str(v) for v in latency["worker"]["worker_id"]],
        "latency.worker.worker_id",
    )
    cols["worker_load1"] = _number_column(batch, latency["worker"]["load1"], "latency.worker.load1")
    cols["worker_mem_pct"] = _number_column(
        batch, latency["worker"]["mem_pct"], "latency.worker.mem_pct"
    )
    for key in ("avg_ms", "p50_ms"):
        cols[f"perceived_{key}"] = _number_column(
            batch,
            latency["perceived"][key],
            f"latency.perceived.{key}",
            negative="negative_ms",
            absurd=True,
        )
    return cols


def _extra_columns(
    batch: _Batch,
    metadatas: list[dict[str, Any]],
    variables: list[dict[str, Any]],
    analyses: list[dict[str, Any]],
) -> dict[str, Any]:
    """The flattened ``meta_``/``var_``/``analysis_`` columns, sorted by name, with their
    ``flattened_key_collision`` and ``number_kept_as_text`` rows."""
    cols: dict[str, Any] = {}
    extras: dict[str, tuple[list[int], list[Any]]] = {}
    for prefix, sources, skip in (
        ("meta_", metadatas, "concurrency_at_dispatch"),
        ("var_", variables, None),
        ("analysis_", analyses, None),
    ):
        where = _SOURCE_OF[prefix]
        for pos, source in enumerate(sources):
            if source:
                for name, value in _flatten_into(extras, pos, source, prefix, skip):
                    batch.found.add(
                        pos,
                        where + name[len(prefix) :],
                        "flattened_key_collision",
                        value,
                        f"another key also flattens to column {name!r}; the shallower one is kept",
                    )
    for name in sorted(extras):
        positions, values = extras[name]
        column: list[Any] = [None] * batch.n
        for pos, value in zip(positions, values, strict=True):
            column[pos] = value
        if name.startswith("meta_") and _is_key(name[5:]):
            cols[name] = _string_array(_key_text(column))
        else:

            def inexact(pos: int, value: Any, name: str = name) -> None:
                batch.found.add(
                    pos,
                    name,
                    "number_kept_as_text",
                    value,
                    "no numeric column holds this whole number exactly; the column is text",
                )

            cols[name] = _infer_extra(column, inexact)
    return cols


def _is_key(key: str) -> bool:
    """Whether a metadata key names an identifier (``run_id``, ``run``, ``*_id``, ``id``)."""
    return key in ("run", "run_id", "id") or key.endswith("_id")


def _key_text(values: list[Any]) -> list[str | None]:
    """Identifier values as text, the same for 42, 42.0 and "42": whole numbers in decimal,
    strings as sent, anything else JSON-encoded."""
    if set(map(type, values)) <= {str, _NONE}:
        return values
    out: list[str | None] = []
    for value in values:
        if value is None or isinstance(value, str):
            out.append(value)
        elif type(value) is int:
            out.append(str(value))
        elif type(value) is float and value.is_integer():
            out.append(str(int(value)))
        elif type(value) is float and value != value:
            out.append(None)
        else:
            out.append(json_text(value))
    return out


def _check_calls(batch: _Batch, cols: dict[str, Any]) -> None:
    if batch.plain:
        has_all = [keys >= _REQUIRED for keys in map(dict.keys, batch.calls)]
    else:
        has_all = [_REQUIRED.issubset(call.keys()) for call in batch.calls]
    if not all(has_all):
        for pos in np.flatnonzero(~np.asarray(has_all, dtype=bool)):
            call = batch.calls[pos]
            missing = [key for key in REQUIRED_KEYS if key not in call]
            batch.found.add(
                pos,
                "call",
                "missing_required_keys",
                missing,
                f"missing {len(missing)} of the {len(REQUIRED_KEYS)} keys the API always sends: "
                + ", ".join(missing),
            )
    duration = np.asarray(cols["duration_seconds"].to_numpy(dtype=float, na_value=np.nan))
    credits = np.asarray(cols["credits_used"].to_numpy(dtype=float, na_value=np.nan))
    with np.errstate(invalid="ignore"):
        off = np.abs(credits - duration / 60.0) > 0.01
    for pos in np.flatnonzero(off):
        batch.found.add(
            pos,
            "credits_used",
            "credits_not_duration_over_60",
            float(credits[pos]),
            f"duration_seconds={duration[pos]:g}, so duration_seconds/60={duration[pos] / 60:.4f}",
        )
    ended = cols["ended_at"]
    started = cols["started_at"]
    ended_missing = np.asarray(ended.isna())
    for pos, value in enumerate(cols["status"]):
        if value in TERMINAL_STATUSES and ended_missing[pos]:
            batch.found.add(pos, "ended_at", "terminal_without_ended_at", None, f"status={value!r}")
    backwards = np.asarray(ended < started, dtype=bool)
    for pos in np.flatnonzero(backwards):
        batch.found.add(
            pos,
            "ended_at",
            "ended_before_started",
            str(ended[pos]),
            f"started_at={started[pos]}",
        )
    seen: dict[str, int] = {}
    for pos, call_id in enumerate(batch.call_ids):
        if call_id in seen:
            batch.found.add(
                pos, "id", "duplicate_call_id", call_id, f"also at position {seen[call_id]}"
            )
        else:
            seen[call_id] = pos


def _labels(batch: _Batch, values: list[Any], where: str) -> list[Any]:
    """Strings as they are; anything else JSON-encoded and reported as ``wrong_type``."""
    text, bad = _text(values)
    for pos in bad:
        batch.found.add(pos, where, "wrong_type", values[pos], "expected a string")
    return text


def _timestamps(batch: _Batch, columns: dict[str, list[Any]]) -> dict[str, pd.arrays.DatetimeArray]:
    """Each column of timestamp strings parsed, all in one pass (pandas' parse has a high fixed
    cost), with its problems reported under the column's name."""
    joined = list(chain.from_iterable(columns.values()))
    parsed, issues = _parse_timestamps(joined)
    names = list(columns)
    n = batch.n
    for index, code in issues:
        where = names[index // n]
        batch.found.add(index % n, where, code, joined[index])
    bad = {index for index, _ in issues}
    for index in _naive(joined):
        if index not in bad:
            batch.found.add(
                index % n,
                names[index // n],
                "naive_timestamp",
                joined[index],
                "no time zone; taken as UTC",
            )
    return {name: parsed[k * n : (k + 1) * n] for k, name in enumerate(names)}


#: The end of an ISO 8601 timestamp that carries its zone: ``hh:mm[:ss[.f]]``, then ``Z`` or ``±hh[:mm]``.
_ZONED = re.compile(r"\d\d:\d\d(?::\d\d(?:[.,]\d+)?)?\s*(?:[zZ]|[+-]\d\d(?::?\d\d)?)\Z")
_UTC_SUFFIXES = ("Z", "+00:00")


def _naive(values: list[Any]) -> list[int]:
    """Positions of timestamp strings without a time zone (date-only ones included)."""
    return [
        pos
        for pos, value in enumerate(values)
        if type(value) is str and not value.endswith(_UTC_SUFFIXES) and _ZONED.search(value) is None
    ]


def _number_column(
    batch: _Batch,
    values: list[Any],
    where: str,
    *,
    integer: bool = False,
    negative: str | None = None,
    absurd: bool = False,
) -> pd.api.extensions.ExtensionArray:
    """A number column; with ``negative`` (``"negative_ms"`` or ``"negative_value"``) the code a
    negative value is reported as, with ``absurd`` values over :data:`ABSURD_MS` are reported."""
    data, mask, issues = _numbers(values, integer=integer)
    for pos, code, detail in issues:
        batch.found.add(pos, where, code, values[pos], detail)
    if absurd:
        for pos in np.flatnonzero((data > ABSURD_MS) & ~mask):
            batch.found.add(pos, where, "absurd_ms", values[pos])
    if negative is not None:
        for pos in np.flatnonzero((data < 0) & ~mask):
            if negative == "negative_ms":
                batch.found.add(pos, where, "negative_ms", values[pos])
            else:
                batch.found.add(pos, where, "negative_value", values[pos])
    return _masked(data, mask)


def _flatten_into(
    columns: dict[str, tuple[list[int], list[Any]]],
    pos: int,
    source: Mapping[str, Any],
    prefix: str,
    skip: str | None = None,
) -> list[tuple[str, Any]]:
    """Add the leaves of nested ``source`` as ``prefix + dotted.key`` -> (positions, values).

    ``skip`` is a top-level key left out; mappings nested deeper than :data:`_MAX_DEPTH` levels
    are kept whole (as JSON). The walk keeps its own queue, so any depth is safe. Returns the
    ``(column, value)`` pairs left out because another key of the same call flattened to the
    same column (``{"a.b": 1, "a": {"b": 2}}``: the shallower key is kept, at equal depth the earlier).
    """
    collisions: list[tuple[str, Any]] = []
    queue: deque[tuple[Mapping[str, Any], str, int]] = deque([(source, prefix, 0)])
    while queue:  # breadth first: of two keys that meet in one column, the shallower wins
        mapping, at, depth = queue.popleft()
        for key, value in mapping.items():
            if depth == 0 and key == skip:
                continue
            if type(key) is not str:
                key = json_text(key)
            if type(value) is dict or (type(value) not in _LEAF_TYPES and _is_mapping(value)):
                if depth < _MAX_DEPTH:
                    queue.append((value, f"{at}{key}.", depth + 1))
                    continue
                value = dict(value)
            name = at + key
            slot = columns.get(name)
            if slot is None:
                columns[name] = ([pos], [value])
            elif slot[0][-1] == pos:
                collisions.append((name, value))
            else:
                slot[0].append(pos)
                slot[1].append(value)
    return collisions


#: How deep nested metadata, variables and analysis are flattened into columns.
_MAX_DEPTH = 32
