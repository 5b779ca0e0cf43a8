"""The ``events`` table (one row per item of ``latency.events``) and the ``turns`` built from it.

An event ``type`` of ``tool:<name>`` becomes ``type="tool"``, ``tool="<name>"``. ``turns`` sums each
(call, turn)'s events per type in one pass; ``response_ms`` adds :data:`RESPONSE_COMPONENTS`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from itertools import repeat
from typing import Any

import numpy as np
import pandas as pd

from ._batch import _Batch
from ._columns import _flatten_lists, _label_field, _masked, _numbers, _recode
from .problems import _NO_VALUE
from .schema import _LABELS, ABSURD_MS, EVENT_TYPES, MAX_TURN, RESPONSE_COMPONENTS, TURN_STATUSES


def event_columns(batch: _Batch, lists: list[Sequence[Any]]) -> dict[str, Any]:
    """The ``events`` columns from each call's ``latency.events`` list (``lists``).

    ``_``-prefixed entries are parts the turns, components and calls builders read: ``_lengths``
    (events per call), ``_call_pos``, ``_kind`` (position in EVENT_TYPES, or its length when
    unknown), ``_ms`` (NaN where missing), ``_turn``/``_turn_mask`` and ``_flag`` (has a problem).
    """
    items, call_pos, seq, lengths, starts = _flatten_lists(lists)
    flag = np.zeros(len(items), dtype=bool)
    odd = np.zeros(len(items), dtype=bool)

    def add(i: int, code: str, value: Any = _NO_VALUE, detail: str | None = None) -> None:
        batch.found.add(
            call_pos[i], f"events[{seq[i]}]", code, value, detail, section=2, seq=seq[i]
        )
        flag[i] = True
        if code not in _NOT_ODD:
            odd[i] = True

    types = _EventTypes(items, add)
    raw_ms, ms, ms_mask = _event_ms(items, types, add)
    turn, turn_mask = _event_turns(items, add)
    for field, missing in (("type", types.codes < 0), ("turn", turn_mask), ("ms", ms_mask)):
        for i in np.flatnonzero(missing & ~types.replaced):
            if items[i].get(field) is None:
                add(i, "missing_field", detail=f"no '{field}'")
    usable = ~ms_mask & ~turn_mask & (types.codes >= 0)
    duplicate = _duplicates(call_pos, turn, types.codes, types.kind, ms, usable, starts, lengths)
    for i, j in duplicate.items():
        add(
            i,
            "duplicate_event",
            raw_ms[i],
            f"repeats events[{seq[j]}]: {types.label(i)} {ms[i]:g} ms "
            f"in turn {turn[i]}; left out of the turn",
        )
    is_duplicate = np.zeros(len(items), dtype=bool)
    is_duplicate[list(duplicate)] = True
    return {
        "call_id": batch.ids(call_pos),
        "seq": seq,
        "turn": _masked(turn, turn_mask),
        "type": types.type_cat,
        "tool": types.tool_cat,
        "ms": _masked(ms, ms_mask),
        "_flag": flag,
        "_odd": odd,
        "_duplicate": is_duplicate,
        "_lengths": lengths,
        "_call_pos": call_pos,
        "_kind": types.kind,
        "_ms": ms,  # NaN where missing
        "_turn": turn,
        "_turn_mask": turn_mask,
    }


#: ``add(i, code, value, detail)``: report a problem of event ``i`` (and flag it).
_Add = Callable[..., None]


class _EventTypes:
    """Each event's ``type`` read once: ``tool:<name>`` split into type and tool, unknown and
    nameless ones reported. The distinct values are parsed once, then mapped by their codes."""

    def __init__(self, items: list[Any], add: _Add) -> None:
        raw_cat, self.replaced = _label_field(
            items,
            "type",
            lambda i, item: add(i, "wrong_type", item, "expected an object"),
            lambda i, value: add(i, "wrong_type", value, "type is not a string"),
        )
        self.codes = raw_cat.codes
        self._labels = list(raw_cat.categories) + [None]  # code -1 -> None
        parsed_types: list[str] = []
        tool_names: list[str | None] = []
        unknown: list[bool] = []
        for raw in raw_cat.categories:
            if raw in EVENT_TYPES:
                parsed_types.append(raw)
                tool_names.append(None)
                unknown.append(False)
            elif raw == "tool" or raw.startswith("tool:"):
                name = raw.partition(":")[2]
                parsed_types.append("tool")
                tool_names.append(name if name.strip() else None)
                unknown.append(False)
            else:
                parsed_types.append(raw)
                tool_names.append(None)
                unknown.append(True)
        self.type_cat = _recode(self.codes, parsed_types)
        self.tool_cat = _recode(self.codes, tool_names)
        unknown_codes = np.flatnonzero(unknown)
        if len(unknown_codes):
            for i in np.flatnonzero(np.isin(self.codes, unknown_codes)):
                add(i, "unknown_event_type", self.label(i))
        nameless_codes = [
            k
            for k, (t, n) in enumerate(zip(parsed_types, tool_names, strict=True))
            if t == "tool" and n is None
        ]
        if nameless_codes:
            for i in np.flatnonzero(np.isin(self.codes, nameless_codes)):
                add(i, "nameless_tool", self.label(i), "a tool event without a name")
        self.kind = _recode_kinds(self.codes, parsed_types)

    def label(self, i: int) -> str | None:
        """Event ``i``'s type as sent (None: no type)."""
        return self._labels[self.codes[i]]


def _event_ms(
    items: list[Any], types: _EventTypes, add: _Add
) -> tuple[list[Any], np.ndarray, np.ndarray]:
    """Each event's ``ms`` as sent, as float64 (NaN where missing) and its missing mask; odd,
    negative and absurd values reported."""
    raw_ms = list(map(dict.get, items, repeat("ms")))
    ms, ms_mask, issues = _numbers(raw_ms, integer=False)
    for i, code, detail in issues:
        add(i, code, raw_ms[i], f"ms: {detail}" if detail else "ms")
    for i in np.flatnonzero(~ms_mask & (ms < 0)):
        add(i, "negative_ms", raw_ms[i], f"{types.label(i)} event")
    for i in np.flatnonzero(~ms_mask & (ms > ABSURD_MS)):
        add(i, "absurd_ms", raw_ms[i], f"{types.label(i)} event")
    return raw_ms, ms, ms_mask


def _event_turns(items: list[Any], add: _Add) -> tuple[np.ndarray, np.ndarray]:
    """Each event's ``turn`` as int64 and its missing mask: odd, out-of-range (beyond
    :data:`MAX_TURN`, then in no turn) and negative turn numbers reported."""
    raw_turns = list(map(dict.get, items, repeat("turn")))
    turn, turn_mask, issues = _numbers(raw_turns, integer=True)
    for i, code, detail in issues:
        add(i, code, raw_turns[i], f"turn: {detail}" if detail else "turn")
    beyond = ~turn_mask & ((turn > MAX_TURN) | (turn < -MAX_TURN))
    for i in np.flatnonzero(beyond):
        add(i, "out_of_range", raw_turns[i], f"turn beyond {MAX_TURN:,}; the event is in no turn")
    turn_mask |= beyond
    for i in np.flatnonzero(~turn_mask & (turn < 0)):
        add(i, "negative_turn", raw_turns[i])
    return turn, turn_mask


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
    call_pos, turn, kind, ms, flag, odd, duplicate = (
        events[k] for k in ("_call_pos", "_turn", "_kind", "_ms", "_flag", "_odd", "_duplicate")
    )
    if events["_turn_mask"].any():  # events without a turn are in no turn
        valid = ~events["_turn_mask"]
        call_pos, turn, kind, ms, flag, odd, duplicate = (
            a[valid] for a in (call_pos, turn, kind, ms, flag, odd, duplicate)
        )
    if duplicate.any():  # duplicates go to a slot of their own, outside every sum and count
        kind = np.where(duplicate, len(EVENT_TYPES) + 1, kind)
        ms = np.where(duplicate, 0.0, ms)
    group, group_call, group_turn = _turn_groups(call_pos, turn)
    cols: dict[str, Any] = {
        "call_id": batch.ids(group_call),
        "turn": group_turn.astype(np.int64),
    }
    status = _turn_sums(cols, group, kind, ms, group_turn)
    n_groups = len(group_call)
    cols["flagged"] = np.bincount(group[odd], minlength=n_groups) > 0
    incomplete = (status == _INTERRUPTED) | (status == _PARTIAL)
    cols["has_problem"] = (np.bincount(group[flag], minlength=n_groups) > 0) | incomplete
    _report_incomplete(batch, status, group_call, group_turn)
    per_call = _response_summaries(batch.n, cols, group_call, group_turn)
    per_call["n_turns"] = _turn_count(batch, messages, group_call, group_turn)
    return cols, per_call


def _turn_sums(
    cols: dict[str, Any],
    group: np.ndarray,
    kind: np.ndarray,
    ms: np.ndarray,
    group_turn: np.ndarray,
) -> np.ndarray:
    """Add each turn's per-type sums and counts, ``response_ms``, ``status`` and ``complete`` to
    ``cols`` in one pass over (turn, event type) cells; return the status codes."""
    n_groups = len(group_turn)
    width_kind = len(EVENT_TYPES) + 2  # then a slot for unknown types and one for duplicates
    cell = group * width_kind
    cell += kind
    size = n_groups * width_kind
    sums = np.bincount(cell, weights=ms, minlength=size).reshape(n_groups, width_kind)
    counts = np.bincount(cell, minlength=size).reshape(n_groups, width_kind)
    for k, name in enumerate(EVENT_TYPES):
        cols[f"{name}_ms"] = sums[:, k]
    cols["response_ms"] = sum(cols[f"{name}_ms"] for name in RESPONSE_COMPONENTS)
    cols["n_events"] = counts[:, : len(EVENT_TYPES) + 1].sum(axis=1)
    n_llm = counts[:, EVENT_TYPES.index("llm_ttft")]
    cols["n_llm_calls"] = n_llm
    cols["n_tool_calls"] = counts[:, EVENT_TYPES.index("tool")]
    cols["has_kb"] = counts[:, EVENT_TYPES.index("kb")] > 0
    cols["has_tool"] = cols["n_tool_calls"] > 0
    status = np.where(
        group_turn == 0,
        _GREETING,
        np.where(
            n_llm == 0,
            _PARTIAL,
            np.where(counts[:, EVENT_TYPES.index("tts_ttfb")] == 0, _INTERRUPTED, _COMPLETE),
        ),
    ).astype(np.int8)
    cols["status"] = _status_categorical(status)
    cols["complete"] = status == _COMPLETE
    return status


def _response_summaries(
    n_calls: int, cols: dict[str, Any], group_call: np.ndarray, group_turn: np.ndarray
) -> dict[str, Any]:
    """Per call, over its complete turns without flagged values: ``p50_response_ms``,
    ``max_response_ms`` and ``worst_turn`` (null for a call without such a turn)."""
    eligible = cols["complete"] & ~cols["flagged"]
    summary = pd.DataFrame(
        {
            "call": group_call[eligible],
            "turn": group_turn[eligible],
            "ms": cols["response_ms"][eligible],
        }
    )
    p50 = np.full(n_calls, np.nan)
    worst_ms = np.full(n_calls, np.nan)
    worst_turn = np.zeros(n_calls, dtype=np.int64)
    if len(summary):
        by_call = summary.groupby("call", sort=True)["ms"]
        stats = by_call.agg(["median", "max", "idxmax"])
        where = stats.index.to_numpy()
        p50[where] = stats["median"].to_numpy()
        worst_ms[where] = stats["max"].to_numpy()
        worst_turn[where] = summary["turn"].to_numpy()[stats["idxmax"].to_numpy()]
    no_turn = np.isnan(worst_ms)
    return {
        "p50_response_ms": _masked(p50, no_turn),
        "max_response_ms": _masked(worst_ms, no_turn),
        "worst_turn": _masked(worst_turn, no_turn),
    }


def _turn_count(
    batch: _Batch, messages: dict[str, Any], group_call: np.ndarray, group_turn: np.ndarray
) -> np.ndarray:
    """``calls.n_turns``: the larger of the user messages and the highest event turn; an event
    turn beyond the user messages is a ``turn_numbering_mismatch``."""
    max_event_turn = np.full(batch.n, -1, dtype=np.int64)
    if len(group_call):
        np.maximum.at(max_event_turn, group_call, group_turn)
    msg_call_pos, is_user = messages["_call_pos"], messages["_is_user"]
    n_user = np.bincount(msg_call_pos[is_user], minlength=batch.n).astype(np.int64)
    for pos in np.flatnonzero(messages["_has_messages"] & (max_event_turn > n_user)):
        batch.found.add(
            pos,
            "latency.events",
            "turn_numbering_mismatch",
            int(max_event_turn[pos]),
            f"events reach turn {max_event_turn[pos]} but there are {n_user[pos]} user messages",
        )
    return np.maximum(n_user, np.maximum(max_event_turn, 0))


def _turn_groups(
    call_pos: np.ndarray, turn: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Number the (call, turn) pairs in order: each event's group, and each group's call and turn.

    Work and memory are proportional to the number of events whatever the turn numbers are (no
    table indexed by turn value, no key built by multiplying them): events already in (call,
    turn) order are grouped in one pass, others are sorted first.
    """
    n = len(turn)
    if n == 0:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, empty
    same_call = call_pos[1:] == call_pos[:-1]
    if (~same_call | (turn[1:] >= turn[:-1])).all():  # the usual order: by call, then turn
        order = None
        calls, turns = call_pos, turn
    else:
        order = np.lexsort((turn, call_pos))
        calls, turns = call_pos[order], turn[order]
    new = np.empty(n, dtype=bool)
    new[0] = True
    np.not_equal(calls[1:], calls[:-1], out=new[1:])
    new[1:] |= turns[1:] != turns[:-1]
    ranked = np.cumsum(new, dtype=np.int64)
    ranked -= 1
    if order is None:
        group = ranked
    else:
        group = np.empty(n, dtype=np.int64)
        group[order] = ranked
    first = np.flatnonzero(new)
    return group, calls[first].astype(np.int64), turns[first].astype(np.int64)


#: Problem codes that do not make an event's value doubtful, so do not flag its turn.
_NOT_ODD = frozenset({"duplicate_event", "unknown_event_type", "nameless_tool"})

_KIND = {name: k for k, name in enumerate(EVENT_TYPES)}
#: For each event type, the types whose (kept) event between two identical ones makes the second
#: a legitimate repeat rather than a duplicate; None: the type is never a duplicate (unknown types).
_SEPARATORS: dict[int, frozenset[int] | None] = {
    _KIND["stt"]: frozenset(),  # once per turn: any repeat is a duplicate
    _KIND["eou_delay"]: frozenset(),
    _KIND["llm_ttft"]: frozenset({_KIND["kb"], _KIND["tool"]}),
    _KIND["kb"]: frozenset({_KIND["llm_ttft"]}),
    _KIND["tool"]: frozenset({_KIND["llm_ttft"]}),
    _KIND["tts_ttfb"]: frozenset({_KIND["llm_ttft"]}),
    len(EVENT_TYPES): None,
}


def _duplicates(
    call_pos: np.ndarray,
    turn: np.ndarray,
    type_code: np.ndarray,
    kind: np.ndarray,
    ms: np.ndarray,
    usable: np.ndarray,
    starts: np.ndarray,
    lengths: np.ndarray,
) -> dict[int, int]:
    """Duplicated events: ``{index: index of the event it repeats}``.

    The rule (documented in :mod:`oneinbox_nb.frames`, "Duplicated events"): within one call and turn, an event with the same type (tool
    name included) and ``ms`` as an earlier kept event is a duplicate unless a kept event of a
    *separating* type lies between them: ``kb`` or a tool for ``llm_ttft`` (the LLM is called again
    after a lookup), ``llm_ttft`` for ``kb``, tools and ``tts_ttfb``. ``eou_delay`` and ``stt``
    happen once per turn, so any identical repeat is a duplicate; unknown types are never one.
    Only events with a type, a turn and an ``ms`` are compared.
    """
    if not usable.any():
        return {}
    # Candidates: events whose (call, turn, type, ms) hash occurs more than once; exact checks follow.
    with np.errstate(over="ignore"):
        digest = call_pos.astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15)
        digest ^= turn.astype(np.uint64) * np.uint64(0xC2B2AE3D27D4EB4F)
        digest ^= type_code.astype(np.uint64) * np.uint64(0x165667B19E3779F9)
        digest ^= np.where(usable, ms, 0.0).view(np.uint64)
    ordered = np.sort(digest)  # sorting beats hashing here, and most builds stop at the next line
    repeated = ordered[1:] == ordered[:-1]
    if not repeated.any():
        return {}
    candidate = usable & np.isin(digest, ordered[1:][repeated])
    if not candidate.any():
        return {}
    out: dict[int, int] = {}
    cells = sorted({(int(call_pos[i]), int(turn[i])) for i in np.flatnonzero(candidate)})
    for c, t in cells:
        span = np.arange(starts[c], starts[c] + lengths[c])
        members = span[usable[span] & (turn[span] == t)].tolist()
        kept: list[int] = []
        for i in members:
            separators = _SEPARATORS[int(kind[i])]
            if separators is not None:
                for back in range(len(kept) - 1, -1, -1):
                    j = kept[back]
                    if type_code[j] == type_code[i] and ms[j] == ms[i]:
                        between = kind[kept[back + 1 :]]
                        if not any(int(k) in separators for k in between):
                            out[i] = j
                        break
            if i not in out:
                kept.append(i)
    return out


_COMPLETE, _INTERRUPTED, _PARTIAL, _GREETING = range(4)  # positions in TURN_STATUSES


def _status_categorical(status: np.ndarray) -> pd.Categorical:
    """Status codes (positions in :data:`TURN_STATUSES`) as a Categorical of the values present."""
    used = np.bincount(status, minlength=len(TURN_STATUSES)) > 0
    present = sorted(label for label, on in zip(TURN_STATUSES, used, strict=True) if on)
    lookup = np.array([present.index(s) if s in present else -1 for s in TURN_STATUSES], np.int8)
    return pd.Categorical.from_codes(lookup[status], categories=pd.Index(present, dtype=_LABELS))


def _report_incomplete(
    batch: _Batch, status: np.ndarray, group_call: np.ndarray, group_turn: np.ndarray
) -> None:
    """A problem row for each interrupted and each partial turn."""
    found = batch.found
    for kind, why in (
        (_INTERRUPTED, "an llm_ttft but no tts_ttfb event: the caller barged in, or TTS was lost"),
        (_PARTIAL, "no llm_ttft event: the agent did not answer, or LLM metrics were lost"),
    ):
        rows = np.flatnonzero(status == kind)
        if not len(rows):
            continue
        turns = group_turn[rows].tolist()
        calls = group_call[rows]
        places = [f"latency.events turn {t}" for t in turns]
        details = [f"turn {t}: {why}" for t in turns]
        if kind == _INTERRUPTED:
            found.add_many(calls, places, "interrupted_turn", turns, details, section=3, seqs=turns)
        else:
            found.add_many(calls, places, "partial_turn", turns, details, section=3, seqs=turns)


def _recode_kinds(codes: np.ndarray, labels: list[str]) -> np.ndarray:
    """Position of each code's label in :data:`EVENT_TYPES`, or len(EVENT_TYPES) when unknown/null."""
    other = len(EVENT_TYPES)
    lookup = np.array(
        [EVENT_TYPES.index(x) if x in EVENT_TYPES else other for x in labels] + [other],
        dtype=np.int8,
    )
    return lookup[codes]
