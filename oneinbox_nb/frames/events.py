"""The ``events`` table (one row per item of ``latency.events``) and the ``turns`` built from it.

An event ``type`` of ``tool:<name>`` becomes ``type="tool"``, ``tool="<name>"``. ``turns`` sums each
(call, turn)'s events per type in one pass; ``response_ms`` adds :data:`RESPONSE_COMPONENTS`.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import repeat
from typing import Any

import numpy as np
import pandas as pd

from ._batch import _Batch
from ._columns import _flatten_lists, _label_field, _masked, _numbers, _recode
from .problems import _NO_VALUE
from .schema import ABSURD_MS, EVENT_TYPES, RESPONSE_COMPONENTS


def event_columns(batch: _Batch, lists: list[Sequence[Any]]) -> dict[str, Any]:
    """The ``events`` columns from each call's ``latency.events`` list (``lists``).

    ``_``-prefixed entries are parts the turns, components and calls builders read: ``_lengths``
    (events per call), ``_call_pos``, ``_kind`` (position in EVENT_TYPES, or its length when
    unknown), ``_ms`` (NaN where missing), ``_turn``/``_turn_mask`` and ``_flag`` (has a problem).
    """
    found = batch.found
    items, call_pos, seq, lengths, _ = _flatten_lists(lists)
    flag = np.zeros(len(items), dtype=bool)

    def add(i: int, code: str, value: Any = _NO_VALUE, detail: str | None = None) -> None:
        found.add(call_pos[i], f"events[{seq[i]}]", code, value, detail, section=2, seq=seq[i])
        flag[i] = True

    # type: parse the distinct values once, then map the categorical codes.
    raw_cat, replaced = _label_field(
        items,
        "type",
        lambda i, item: add(i, "wrong_type", item, "expected an object"),
        lambda i, value: add(i, "wrong_type", value, "type is not a string"),
    )
    raw_labels = list(raw_cat.categories) + [None]  # code -1 -> None
    parsed_types: list[str] = []
    tool_names: list[str | None] = []
    unknown: list[bool] = []
    for raw in raw_cat.categories:
        if raw in EVENT_TYPES:
            parsed_types.append(raw)
            tool_names.append(None)
            unknown.append(False)
        elif raw == "tool" or raw.startswith("tool:"):
            parsed_types.append("tool")
            tool_names.append(raw.partition(":")[2] or None)
            unknown.append(False)
        else:
            parsed_types.append(raw)
            tool_names.append(None)
            unknown.append(True)
    type_cat = _recode(raw_cat.codes, parsed_types)
    tool_cat = _recode(raw_cat.codes, tool_names)
    unknown_codes = np.flatnonzero(unknown)
    if len(unknown_codes):
        for i in np.flatnonzero(np.isin(raw_cat.codes, unknown_codes)):
            add(i, "unknown_event_type", raw_labels[raw_cat.codes[i]])
    kind = _recode_kinds(raw_cat.codes, parsed_types)

    raw_ms = list(map(dict.get, items, repeat("ms")))
    ms, ms_mask, issues = _numbers(raw_ms, integer=False)
    for i, code, detail in issues:
        add(i, code, raw_ms[i], f"ms: {detail}" if detail else "ms")
    for i in np.flatnonzero(~ms_mask & (ms < 0)):
        add(i, "negative_ms", raw_ms[i], f"{raw_labels[raw_cat.codes[i]]} event")
    for i in np.flatnonzero(~ms_mask & (ms > ABSURD_MS)):
        add(i, "absurd_ms", raw_ms[i], f"{raw_labels[raw_cat.codes[i]]} event")

    raw_turns = list(map(dict.get, items, repeat("turn")))
    turn, turn_mask, issues = _numbers(raw_turns, integer=True)
    for i, code, detail in issues:
        add(i, code, raw_turns[i], f"turn: {detail}" if detail else "turn")
    for i in np.flatnonzero(~turn_mask & (turn < 0)):
        add(i, "negative_turn", raw_turns[i])

    for field, missing in (("type", raw_cat.codes < 0), ("turn", turn_mask), ("ms", ms_mask)):
        for i in np.flatnonzero(missing & ~replaced):
            if items[i].get(field) is None:
                add(i, "missing_field", detail=f"no '{field}'")

    return {
        "call_id": batch.ids(call_pos),
        "seq": seq,
        "turn": _masked(turn, turn_mask),
        "type": type_cat,
        "tool": tool_cat,
        "ms": _masked(ms, ms_mask),
        "_flag": flag,
        "_lengths": lengths,
        "_call_pos": call_pos,
        "_kind": kind,
        "_ms": ms,  # NaN where missing
        "_turn": turn,
        "_turn_mask": turn_mask,
    }


def turn_columns(
    batch: _Batch, events: dict[str, Any], messages: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The ``turns`` columns, one row per (call, turn) seen in ``events``, and per-call summaries.

    The summaries (``n_turns``, ``p50_response_ms``, ``max_response_ms``, ``worst_turn``) are
    calls columns; ``messages`` gives the user messages that ``n_turns`` and the
    ``turn_numbering_mismatch`` check count.
    """
    # Big temporaries are avoided where a view will do: the first large build in a process
    # pays a page fault for every fresh page.
    call_pos, turn, kind, ms, flag = (
        events[k] for k in ("_call_pos", "_turn", "_kind", "_ms", "_flag")
    )
    if events["_turn_mask"].any():
        valid = ~events["_turn_mask"]
        call_pos, turn, kind, ms, flag = (a[valid] for a in (call_pos, turn, kind, ms, flag))
    if np.isnan(ms).any():
        ms = np.nan_to_num(ms, nan=0.0)

    # One integer key per (call, turn): turn numbers are offsets from the smallest one, or
    # (when they span too wide a range) ranks among the distinct ones.
    low = int(turn.min()) if len(turn) else 0
    span = int(turn.max()) - low + 1 if len(turn) else 1
    if span * max(batch.n, 1) < 2**62:
        turn_values = np.arange(low, low + span, dtype=np.int64)
        turn_codes = turn - low if low else turn
    else:
        turn_codes, turn_values = pd.factorize(turn, sort=True)
        span = max(len(turn_values), 1)
    key = call_pos * span
    key += turn_codes
    if len(key) and (key[1:] >= key[:-1]).all():  # the usual order: by call, then turn
        new = np.empty(len(key), dtype=bool)
        new[0] = True
        np.not_equal(key[1:], key[:-1], out=new[1:])
        keys = key[new]
        group = np.cumsum(new, out=key)  # key is not needed any more
        group -= 1
    else:
        group, keys = pd.factorize(key, sort=True)
    n_groups = len(keys)
    group_call = (keys // span).astype(np.int64)
    group_turn = np.asarray(turn_values, dtype=np.int64)[keys % span]

    # One pass over (turn, event type) cells: sums and counts, a column per event type.
    width_kind = len(EVENT_TYPES) + 1  # the last slot collects unknown types
    cell = group * width_kind
    cell += kind
    size = n_groups * width_kind
    sums = np.bincount(cell, weights=ms, minlength=size).reshape(n_groups, width_kind)
    counts = np.bincount(cell, minlength=size).reshape(n_groups, width_kind)
    cols: dict[str, Any] = {
        "call_id": batch.ids(group_call),
        "turn": group_turn.astype(np.int64),
    }
    for k, name in enumerate(EVENT_TYPES):
        cols[f"{name}_ms"] = sums[:, k]
    cols["response_ms"] = sum(cols[f"{name}_ms"] for name in RESPONSE_COMPONENTS)
    cols["n_events"] = counts.sum(axis=1)
    cols["n_llm_calls"] = counts[:, EVENT_TYPES.index("llm_ttft")]
    cols["n_tool_calls"] = counts[:, EVENT_TYPES.index("tool")]
    cols["has_kb"] = counts[:, EVENT_TYPES.index("kb")] > 0
    cols["has_tool"] = cols["n_tool_calls"] > 0
    cols["has_problem"] = np.bincount(group[flag], minlength=n_groups) > 0

    # Per-call summary over answered turns (>= 1) without problems.
    eligible = (group_turn >= 1) & ~cols["has_problem"]
    summary = pd.DataFrame(
        {
            "call": group_call[eligible],
            "turn": group_turn[eligible],
            "ms": cols["response_ms"][eligible],
        }
    )
    p50 = np.full(batch.n, np.nan)
    worst_ms = np.full(batch.n, np.nan)
    worst_turn = np.zeros(batch.n, dtype=np.int64)
    if len(summary):
        by_call = summary.groupby("call", sort=True)["ms"]
        stats = by_call.agg(["median", "max", "idxmax"])
        where = stats.index.to_numpy()
        p50[where] = stats["median"].to_numpy()
        worst_ms[where] = stats["max"].to_numpy()
        worst_turn[where] = summary["turn"].to_numpy()[stats["idxmax"].to_numpy()]
    has_turn = ~np.isnan(worst_ms)

    # Turn numbering: the events' highest turn against the number of user messages.
    max_event_turn = np.full(batch.n, -1, dtype=np.int64)
    if n_groups:
        np.maximum.at(max_event_turn, group_call, group_turn)
    msg_call_pos, is_user = messages["_call_pos"], messages["_is_user"]
    n_user = np.bincount(msg_call_pos[is_user], minlength=batch.n).astype(np.int64)
    has_messages = messages["_has_messages"]
    for pos in np.flatnonzero(has_messages & (max_event_turn > n_user)):
        batch.found.add(
            pos,
            "latency.events",
            "turn_numbering_mismatch",
            int(max_event_turn[pos]),
            f"events reach turn {max_event_turn[pos]} but there are {n_user[pos]} user messages",
        )
    per_call = {
        "n_turns": np.maximum(n_user, np.maximum(max_event_turn, 0)),
        "p50_response_ms": _masked(p50, ~has_turn),
        "max_response_ms": _masked(worst_ms, ~has_turn),
        "worst_turn": _masked(worst_turn, ~has_turn),
    }
    return cols, per_call


def _recode_kinds(codes: np.ndarray, labels: list[str]) -> np.ndarray:
    """Position of each code's label in :data:`EVENT_TYPES`, or len(EVENT_TYPES) when unknown/null."""
    other = len(EVENT_TYPES)
    lookup = np.array(
        [EVENT_TYPES.index(x) if x in EVENT_TYPES else other for x in labels] + [other],
        dtype=np.int8,
    )
    return lookup[codes]
