"""Where did a turn's time go, how fast is each component, and do the server's stats agree?

=============================  =================================================================
question                       function
=============================  =================================================================
where did a turn's time go?    :func:`turn_chain`, :func:`turn_latency`, :func:`slowest_turns`
how fast is each component?    :func:`latency_values`, :func:`latency_percentiles`,
                               :func:`provider_comparison`
do the server's stats agree?   :func:`server_comparison`
how long did calls take        :func:`connect_summary`
to connect?
=============================  =================================================================

Flagged events and turns, turn numbering and providers follow the conventions of
:mod:`oneinbox_nb.analysis`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from ..frames import ABSURD_MS, AGGREGATE_COMPONENTS, CallFrames
from ._calls import (
    _RESPONSE,
    EVENT_COMPONENTS,
    RESPONSE_COMPONENTS,
    _call_key,
    _Calls,
    _check_keys,
    _column,
    _component_codes,
    _component_rows,
    _empty,
    _events,
    _factorize,
    _floats,
    _gather,
    _kept,
    _providers,
    _setup_labels,
    _turn_array,
    _turns,
)
from ._options import _by_list, _int_option, _number_option, _one_of, percentile_list
from ._stats import _grouped_quantiles, percentile_label

__all__ = [
    "AGGREGATE_COMPONENTS",
    "CONNECT_GROUPS",
    "CONNECT_PHASES",
    "connect_summary",
    "latency_percentiles",
    "latency_values",
    "provider_comparison",
    "server_comparison",
    "slowest_turns",
    "turn_chain",
    "turn_latency",
]


_ORDER = {name: i for i, name in enumerate((*EVENT_COMPONENTS, _RESPONSE))}
_DEFAULT_PERCENTILES = (50, 90, 95, 99)
_PROVIDER_COMPONENTS = ("eou_delay", "stt", "llm_ttft", "tts_ttfb", _RESPONSE)


def _summary(
    names: list[str],
    codes: list[np.ndarray],
    labels: list[list[Any]],
    values: np.ndarray,
    percentiles: tuple[float, ...],
    kept: np.ndarray,
) -> pd.DataFrame:
    """``count``, one column per percentile, ``mean`` and ``n_excluded`` per combination of keys.

    ``codes[k]`` holds each row's code of key ``names[k]`` and ``labels[k]`` the label of each
    code. The statistics use the ``kept`` rows; ``n_excluded`` counts the others of the group
    (a group whose values were all left out keeps its row, with count 0). Groups come out sorted
    by the codes (so by label, and by label order).
    """
    stats = ["count", *(percentile_label(p) for p in percentiles), "mean", "n_excluded"]
    kept = kept & np.isfinite(values)
    if not len(values):
        return _empty([*names, *stats])
    dims = [max(len(label), 1) for label in labels]
    combined = np.ravel_multi_index(codes, dims) if codes else np.zeros(len(values), dtype=np.int64)
    group, uniques = pd.factorize(combined, sort=True)
    group = np.asarray(group, dtype=np.int64)
    n_groups = len(uniques)
    out: dict[str, Any] = {}
    parts = np.unravel_index(np.asarray(uniques), dims) if codes else []
    for name, label, part in zip(names, labels, parts, strict=True):
        out[name] = np.array(label + [None], dtype=object)[part]
    counts = np.bincount(group[kept], minlength=n_groups)
    out["count"] = counts
    quantiles = _grouped_quantiles(
        group[kept], values[kept], n_groups, [p / 100 for p in percentiles]
    )
    for j, p in enumerate(percentiles):
        out[percentile_label(p)] = quantiles[:, j]
    with np.errstate(invalid="ignore", divide="ignore"):
        out["mean"] = np.bincount(group[kept], weights=values[kept], minlength=n_groups) / counts
    out["n_excluded"] = np.bincount(group[~kept], minlength=n_groups)
    return pd.DataFrame(out)


# --------------------------------------------------------------------------------------------------
# Turns: chain and slowest
# --------------------------------------------------------------------------------------------------

_CHAIN_COLUMNS = [
    "call_id",
    "turn",
    "step",
    "component",
    "label",
    "tool",
    "start_ms",
    "duration_ms",
    "end_ms",
    "in_response",
    "flagged",
]


def turn_chain(
    frames: CallFrames,
    *,
    call_id: str | Iterable[str] | None = None,
    turn: int | Iterable[int] | None = None,
) -> pd.DataFrame:
    """Waterfall data: each turn's latency events laid end to end.

    For each ``(call_id, turn)`` the response chain is ``eou_delay`` first, then the ``llm_ttft``,
    ``kb`` and ``tool`` events in the order they were recorded (``llm_ttft -> kb -> llm_ttft``,
    ``llm_ttft -> tool:<name> -> llm_ttft``), then ``tts_ttfb``. Each step starts where the previous
    one ended, so the last ``end_ms`` is the turn's ``response_ms``. ``stt`` events follow as rows with
    ``in_response=False`` starting at 0: speech recognition overlaps the caller's speech.

    Parameters
    ----------
    frames : CallFrames
    call_id : str or iterable of str, optional
        Only these calls (default: all).
    turn : int or iterable of int, optional
        Only these turns (default: all, greeting included).

    Returns
    -------
    pandas.DataFrame
        ``call_id, turn, step, component, label, tool, start_ms, duration_ms, end_ms, in_response,
        flagged``. ``step`` counts the response steps from 0 (``<NA>`` for stt rows); ``label`` is
        the component, ``tool:<name>`` for named tools, with ``" #k"`` appended when the label
        occurs more than once in the turn (``"llm_ttft #2"``). Flagged events keep their value
        (a missing ``ms`` counts 0, as in ``turns.response_ms``).
    """
    calls = _Calls(frames)
    rows = None
    if call_id is not None:
        wanted = [call_id] if isinstance(call_id, str) else list(call_id)
        rows = np.flatnonzero(frames.events["call_id"].isin(wanted).to_numpy(dtype=bool))
    events = _events(calls, tools=True, rows=rows)
    if turn is not None:
        turns = [turn] if isinstance(turn, (int, np.integer)) else list(turn)
        events = events[np.isin(events["turn"].to_numpy(), np.asarray(turns, dtype=float))]
    events = events[np.isfinite(events["turn"].to_numpy())]
    if events.empty:
        return _chain_dtypes(_empty(_CHAIN_COLUMNS))

    events, rank = _in_chain_order(events)
    comp = events["comp"].to_numpy()
    in_response = rank != 3
    duration = np.nan_to_num(events["ms"].to_numpy(dtype=float), nan=0.0)
    names = np.array(EVENT_COMPONENTS, dtype=object)[comp]
    tool = events["tool"].to_numpy(dtype=object)
    named_tool = (comp == EVENT_COMPONENTS.index("tool")) & pd.notna(tool)
    base = pd.Series(names.copy(), dtype=object)  # a copy: pandas 2 would write into names
    named = "tool:" + pd.Series(tool[named_tool], dtype=object).astype(str)
    base[named_tool] = named.to_numpy(dtype=object)

    call, turn_values = events["call"].to_numpy(), events["turn_no"].to_numpy()
    label = _step_labels(call, turn_values, base)

    step_groups = [call, turn_values, in_response]
    end = pd.Series(duration).groupby(step_groups, sort=False).cumsum().to_numpy()
    step = pd.Series(duration).groupby(step_groups, sort=False).cumcount().to_numpy()
    # the sort put each turn's stt rows (rank 3) after its response steps
    out = pd.DataFrame(
        {
            "call_id": calls.ids(call),
            "turn": _turn_array(events),
            "step": np.where(in_response, step, -1),
            "component": names,
            "label": label,
            "tool": tool,
            "start_ms": np.where(in_response, end - duration, 0.0),
            "duration_ms": duration,
            "end_ms": np.where(in_response, end, duration),
            "in_response": in_response,
            "flagged": events["flagged"].to_numpy(dtype=bool),
        }
    )
    return _chain_dtypes(out)


def _in_chain_order(events: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray]:
    """Events sorted by call, turn, then eou_delay, the LLM/kb/tool steps as recorded, tts_ttfb
    and the turn's stt rows last; and each one's rank in that order (3: stt)."""
    comp = events["comp"].to_numpy()
    rank = np.select(
        [
            comp == EVENT_COMPONENTS.index("eou_delay"),
            comp == EVENT_COMPONENTS.index("tts_ttfb"),
            comp == EVENT_COMPONENTS.index("stt"),
        ],
        [0, 2, 3],
        1,
    )
    order = np.lexsort(
        (events["seq"].to_numpy(), rank, events["turn_no"].to_numpy(), events["call"].to_numpy())
    )
    return events.iloc[order].reset_index(drop=True), rank[order]


def _step_labels(call: np.ndarray, turn: np.ndarray, base: pd.Series) -> np.ndarray:
    """Each step's label: ``base``, with ``" #k"`` when it occurs more than once in its turn."""
    groups = pd.Series(np.zeros(len(base))).groupby([call, turn, base.to_numpy()], sort=False)
    occurrence = groups.cumcount().to_numpy() + 1
    repeats = groups.transform("size").to_numpy()
    return np.where(repeats > 1, base + " #" + occurrence.astype(str), base)


def _chain_dtypes(out: pd.DataFrame) -> pd.DataFrame:
    step = _floats(out["step"])
    step_array = pd.array(np.where(step < 0, np.nan, step), dtype="Float64").astype("Int64")
    turn = out["turn"] if out["turn"].dtype == "Int64" else _floats(out["turn"])
    return out.assign(
        turn=pd.array(turn, dtype="Int64"),
        step=step_array,
        component=out["component"].astype(object),
        label=out["label"].astype(object),
        tool=out["tool"].astype(object).where(out["tool"].notna(), None),
        start_ms=_floats(out["start_ms"]),
        duration_ms=_floats(out["duration_ms"]),
        end_ms=_floats(out["end_ms"]),
        in_response=out["in_response"].astype(bool),
        flagged=out["flagged"].astype(bool),
    )[_CHAIN_COLUMNS]


def turn_latency(
    frames: CallFrames,
    *,
    call_id: str | Iterable[str] | None = None,
    include_flagged: bool = True,
    include_incomplete: bool = True,
) -> pd.DataFrame:
    """Per-turn latency: each component's sum and the response time, with ``flagged`` and
    ``complete`` columns to filter on.

    Parameters
    ----------
    frames : CallFrames
    call_id : str or iterable of str, optional
        Only these calls (default: all).
    include_flagged : bool, default True
        Keep flagged turns (one of the turn's values is negative, absurd or missing).
    include_incomplete : bool, default True
        Keep turns that are not complete (greetings, and turns without an LLM or a TTS step).

    Returns
    -------
    pandas.DataFrame
        ``call_id, turn, eou_delay_ms, stt_ms, kb_ms, tool_ms, llm_ttft_ms, tts_ttfb_ms,
        response_ms, flagged, complete``, greeting (turn 0) included, in the order of ``turns``.
        ``attrs["n_excluded"]`` counts the turns the two options left out. The turns that
        response statistics use are ``table.query("complete and not flagged")``.
    """
    calls = _Calls(frames)
    turns = _turns(calls)
    if call_id is not None:
        wanted = [call_id] if isinstance(call_id, str) else list(call_id)
        codes = calls.index.get_indexer(pd.Index(wanted, dtype=object))
        turns = turns[np.isin(turns["call"].to_numpy(), codes[codes >= 0])]
    keep = _kept(turns, include_flagged=include_flagged, include_incomplete=include_incomplete)
    turns = turns[keep]
    out = pd.DataFrame(
        {
            "call_id": calls.ids(turns["call"].to_numpy()),
            "turn": _turn_array(turns),
        }
    )
    for name in (*(f"{c}_ms" for c in EVENT_COMPONENTS), _RESPONSE):
        out[name] = turns[name].to_numpy(dtype=float)
    out["flagged"] = turns["flagged"].to_numpy(dtype=bool)
    out["complete"] = turns["complete"].to_numpy(dtype=bool)
    out.attrs["n_excluded"] = int((~keep).sum())
    return out


def _user_text(frames: CallFrames, call_ids: Any, turns: np.ndarray) -> np.ndarray:
    """The user's words in each ``(call_id, turn)`` (messages joined with a space), or None."""
    messages = frames.messages
    out = np.full(len(turns), None, dtype=object)
    if messages.empty or len(turns) == 0:
        return out
    wanted = pd.Index(call_ids).unique()
    is_user = (messages["role"].astype(object) == "user").to_numpy(dtype=bool)
    user = messages[is_user & messages["call_id"].isin(wanted).to_numpy(dtype=bool)]
    if user.empty:
        return out
    user = pd.DataFrame(
        {
            "call_id": user["call_id"].astype(object).to_numpy(),
            "turn": _floats(user["turn"]),
            "seq": _floats(user["seq"])
            if "seq" in user.columns
            else np.arange(len(user), dtype=float),
            "text": user["content"].astype(object).fillna("").astype(str).to_numpy(),
        }
    ).sort_values(["call_id", "turn", "seq"], kind="stable")
    joined = user.groupby(["call_id", "turn"], sort=False)["text"].agg(" ".join)
    keys = pd.MultiIndex.from_arrays(
        [np.asarray(call_ids, dtype=object), np.asarray(turns, dtype=float)]
    )
    found = joined.reindex(keys)
    return np.where(found.notna().to_numpy(), found.to_numpy(dtype=object), None)


def slowest_turns(frames: CallFrames, n: int = 10) -> pd.DataFrame:
    """The ``n`` slowest complete, unflagged turns across calls.

    Parameters
    ----------
    frames : CallFrames
    n : int, default 10
        How many turns to return.

    Returns
    -------
    pandas.DataFrame
        ``call_id, turn, response_ms``, the per-turn component sums ``eou_delay_ms, stt_ms, kb_ms,
        tool_ms, llm_ttft_ms, tts_ttfb_ms``, ``agent_id``, ``user_text`` (what the caller said in
        that turn, from ``messages``), ``dominant_component`` (the response component with the
        largest share) and ``dominant_share`` (its fraction of ``response_ms``); slowest first.
        Greetings (turn 0) are left out; ``attrs["n_excluded"]`` counts the other turns left out
        (flagged, or not complete: an interrupted turn is short because it was cut off).
    """
    n = _int_option("n", n)
    parts = [f"{c}_ms" for c in EVENT_COMPONENTS]
    columns = [
        "call_id",
        "turn",
        _RESPONSE,
        *parts,
        "agent_id",
        "user_text",
        "dominant_component",
        "dominant_share",
    ]
    calls = _Calls(frames)
    turns = _turns(calls)
    turns = turns[(turns["turn"] >= 1).to_numpy()]
    keep = _kept(turns, include_flagged=False, include_incomplete=False)
    keep &= np.isfinite(turns[_RESPONSE].to_numpy())
    n_excluded = int((~keep).sum())
    turns = turns[keep]
    if turns.empty or n == 0:
        out = _empty(columns)
        out.attrs["n_excluded"] = n_excluded
        return out
    top = turns.nlargest(n, _RESPONSE, keep="first").reset_index(drop=True)
    codes = top["call"].to_numpy()
    ids = calls.ids(codes)
    agents = calls.call_values("agent_id").astype(object)
    shares = top[[f"{c}_ms" for c in RESPONSE_COMPONENTS]].to_numpy(dtype=float)
    best = np.argmax(np.nan_to_num(shares, nan=-np.inf), axis=1)
    total = top[_RESPONSE].to_numpy(dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        share = shares[np.arange(len(top)), best] / total
    out = pd.DataFrame({"call_id": ids, "turn": top["turn_no"].to_numpy(dtype=np.int64)})
    for name in (_RESPONSE, *parts):
        out[name] = top[name].to_numpy()
    out["agent_id"] = _gather(agents.to_numpy(dtype=object), codes, None)
    out["user_text"] = _user_text(frames, np.asarray(ids, dtype=object), top["turn"].to_numpy())
    out["dominant_component"] = np.array(RESPONSE_COMPONENTS, dtype=object)[best]
    out["dominant_share"] = share
    out = out[columns]
    out.attrs["n_excluded"] = n_excluded
    return out


# --------------------------------------------------------------------------------------------------
# Latency percentiles
# --------------------------------------------------------------------------------------------------


def _latency_rows(
    calls: _Calls, by: list[str], *, include_flagged: bool, include_incomplete: bool
) -> tuple[dict[str, np.ndarray], dict[str, list[Any]], np.ndarray, np.ndarray]:
    """Every latency value with its group codes: one row per turn and component it has (the
    component rule: the turn's sum of that component's events), one per answered turn.

    Returns ``(codes, labels, values, kept)``; ``codes``/``labels`` have a ``"component"`` entry
    (labels :data:`EVENT_COMPONENTS` then ``response_ms``) and one per key of ``by``.
    ``"provider"`` is the component's own provider for component rows and the provider setup for
    ``response_ms`` rows. ``kept`` marks the rows the statistics use: component values not
    flagged for that component (unless ``include_flagged``), and complete (unless
    ``include_incomplete``), unflagged (unless ``include_flagged``) answered turns.
    """
    _check_keys(calls, by)
    table = _turns(calls)
    parts = []  # (rows of the turns table, component code, kept)
    for k, component in enumerate(EVENT_COMPONENTS):
        kept, left_out = _component_rows(table, component, include_flagged=include_flagged)
        rows = np.flatnonzero(kept | left_out)
        parts.append((rows, np.full(len(rows), k), kept[rows], f"{component}_ms"))
    rows = np.flatnonzero((table["turn"] >= 1).to_numpy())
    answered = table.iloc[rows]
    kept = _kept(answered, include_flagged=include_flagged, include_incomplete=include_incomplete)
    parts.append((rows, np.full(len(rows), len(EVENT_COMPONENTS)), kept, _RESPONSE))
    ev_comp = np.concatenate([part[1] for part in parts[:-1]]).astype(np.int64)
    ev_call = np.concatenate([table["call"].to_numpy()[part[0]] for part in parts[:-1]])
    tu_call = table["call"].to_numpy()[rows]
    kept = np.concatenate([part[2] for part in parts])
    codes = {"component": np.concatenate([part[1] for part in parts]).astype(np.int64)}
    labels: dict[str, list[Any]] = {"component": [*EVENT_COMPONENTS, _RESPONSE]}
    values = np.concatenate([table[part[3]].to_numpy(dtype=float)[part[0]] for part in parts])
    for key in by:
        if key == "provider" and "provider" not in calls.frames.calls.columns:
            providers = _providers(calls)
            setup = _setup_labels(providers)
            flat, key_labels = _factorize(np.r_[providers.ravel(), setup].astype(object))
            table_codes = flat[: providers.size].reshape(providers.shape)
            setup_codes = flat[providers.size :]
            ev_codes = table_codes[ev_comp, ev_call]
            tu_codes = setup_codes[tu_call]
        else:
            per_call, key_labels = _call_key(calls, key)
            missing = len(key_labels)
            if None not in key_labels:
                key_labels = [*key_labels, None]
            else:
                missing = key_labels.index(None)
            ev_codes = _gather(per_call, ev_call, missing)
            tu_codes = _gather(per_call, tu_call, missing)
        codes[key] = np.r_[ev_codes, tu_codes].astype(np.int64)
        labels[key] = key_labels
    codes["call"] = np.r_[ev_call, tu_call].astype(np.int64)
    return codes, labels, values, kept & np.isfinite(values)


def latency_values(
    frames: CallFrames, *, include_flagged: bool = False, include_incomplete: bool = False
) -> pd.DataFrame:
    """Every latency value in long form: one row per (turn, component) value and one per
    answered turn's response (the component rule of :mod:`oneinbox_nb.analysis`).

    The raw material of :func:`latency_percentiles` (and of distribution plots).

    Parameters
    ----------
    frames : CallFrames
    include_flagged : bool, default False
        Keep flagged events and turns (missing values are never kept).
    include_incomplete : bool, default False
        Keep the ``response_ms`` of turns that are not complete (interrupted: no TTS step;
        partial: no LLM step). Their response is short because it was cut off.

    Returns
    -------
    pandas.DataFrame
        ``call_id, component, value`` (ms); ``component`` is one of :data:`EVENT_COMPONENTS` (one
        row per turn that has that component's events: their sum) or ``response_ms`` (one row per
        turn >= 1). ``attrs["n_excluded"]`` counts the values left out.
    """
    calls = _Calls(frames)
    codes, labels, values, kept = _latency_rows(
        calls, [], include_flagged=include_flagged, include_incomplete=include_incomplete
    )
    out = pd.DataFrame(
        {
            "call_id": calls.ids(codes["call"][kept]),
            "component": np.array(labels["component"], dtype=object)[codes["component"][kept]],
            "value": values[kept],
        }
    )
    out.attrs["n_excluded"] = int((~kept).sum())
    return out


def latency_percentiles(
    frames: CallFrames,
    *,
    by: str | Sequence[str] | None = None,
    percentiles: Sequence[float] = _DEFAULT_PERCENTILES,
    include_flagged: bool = False,
    include_incomplete: bool = False,
) -> pd.DataFrame:
    """Percentiles of each latency component and of the per-turn response time.

    A component's values are its per-turn sums over the turns that have its events (a knowledge-
    base turn's two ``llm_ttft`` events are one value, their sum; a turn without ``kb`` events is
    no ``kb`` value), greeting and incomplete turns included; ``response_ms`` per complete,
    unflagged turn >= 1. This is the component rule of :mod:`oneinbox_nb.analysis`, which
    :func:`~oneinbox_nb.analysis.compare` and :func:`~oneinbox_nb.analysis.explain_change` follow.

    Parameters
    ----------
    frames : CallFrames
    by : str or list of str, optional
        Group by these ``calls`` columns (e.g. ``"agent_id"``, ``"type"``, ``"meta_run_id"``),
        ``"day"`` (UTC day of ``created_at``) or ``"provider"`` (each component's own provider;
        the provider setup ``"stt / llm / tts"`` for ``response_ms``).
    percentiles : sequence of float, default (50, 90, 95, 99)
        Percentiles (0-100) to compute; each gives a column ``p<value>`` (``p50``, ``p99.9``).
    include_flagged : bool, default False
        Include flagged events and turns (negative or absurd values; missing ones never count).
    include_incomplete : bool, default False
        Include the ``response_ms`` of interrupted and partial turns.

    Returns
    -------
    pandas.DataFrame
        ``[*by], component, count, p50, p90, p95, p99, mean, n_excluded`` in ms; sorted by the
        ``by`` keys, then components in the order of :data:`EVENT_COMPONENTS` and ``response_ms`` last.
        ``n_excluded`` counts the group's values left out (flagged or missing values, incomplete
        turns); a group whose values were all left out has ``count`` 0 and NaN statistics.

    Raises
    ------
    ValueError
        An unknown ``by`` column (the message lists the valid ones) or a percentile outside 0-100.

    Examples
    --------
    >>> latency_percentiles(frames, by="agent_id")  # doctest: +SKIP
    """
    by_list = _by_list(by)
    pcts = percentile_list(percentiles)
    calls = _Calls(frames)
    codes, labels, values, kept = _latency_rows(
        calls, by_list, include_flagged=include_flagged, include_incomplete=include_incomplete
    )
    names = [*by_list, "component"]
    return _summary(
        names, [codes[k] for k in names], [labels[k] for k in names], values, pcts, kept
    )


def provider_comparison(
    frames: CallFrames,
    *,
    percentiles: Sequence[float] = _DEFAULT_PERCENTILES,
    include_flagged: bool = False,
    include_incomplete: bool = False,
) -> pd.DataFrame:
    """Latency percentiles of each component by that component's provider.

    ``stt`` by its STT provider, ``llm_ttft`` by the LLM, ``tts_ttfb`` by the TTS, ``eou_delay`` by
    the turn detector's provider when the server reports one, and ``response_ms`` by the provider
    setup ``"stt / llm / tts"``. Providers come from ``components.provider`` or, for calls whose
    aggregates lack one, the ``calls.provider_*`` columns; still unknown ones are ``"unknown"``.
    ``kb`` and ``tool`` have no provider and are left out.

    Parameters
    ----------
    frames : CallFrames
    percentiles : sequence of float, default (50, 90, 95, 99)
    include_flagged, include_incomplete : bool, default False
        As for :func:`latency_percentiles`.

    Returns
    -------
    pandas.DataFrame
        ``component, provider, count, p50, p90, p95, p99, mean, n_excluded``, components in the
        order of :data:`EVENT_COMPONENTS` then ``response_ms``, providers alphabetically.
    """
    pcts = percentile_list(percentiles)
    calls = _Calls(frames)
    codes, labels, values, kept = _latency_rows(
        calls, ["provider"], include_flagged=include_flagged, include_incomplete=include_incomplete
    )
    wanted = [i for i, c in enumerate(labels["component"]) if c in _PROVIDER_COMPONENTS]
    keep = np.isin(codes["component"], wanted)
    providers = ["unknown" if p is None else p for p in labels["provider"]]
    return _summary(
        ["component", "provider"],
        [codes["component"][keep], codes["provider"][keep]],
        [labels["component"], providers],
        values[keep],
        pcts,
        kept[keep],
    )


# --------------------------------------------------------------------------------------------------
# Server aggregates
# --------------------------------------------------------------------------------------------------

_SERVER_FIELDS = ("samples", "avg_ms", "p50_ms", "min_ms", "max_ms")
_SERVER_COLUMNS = [
    "call_id",
    "component",
    *(c for n in _SERVER_FIELDS for c in (n, f"{n}_server")),
    "disagrees",
    "what",
]


def server_comparison(frames: CallFrames, *, tolerance_ms: float = 1.0) -> pd.DataFrame:
    """The server's per-call aggregates against the same statistics recomputed from the events.

    Every event counts here, flagged ones included (not a missing ``ms``): the question is whether
    the server's numbers describe the events it sent.

    Parameters
    ----------
    frames : CallFrames
    tolerance_ms : float, default 1.0
        Largest difference in ``avg_ms``, ``p50_ms``, ``min_ms`` or ``max_ms`` still counted as
        agreement (the server rounds to 0.1 ms). ``samples`` must match exactly.

    Returns
    -------
    pandas.DataFrame
        One row per ``(call_id, component)`` seen in either source, for the aggregated components
        (``eou_delay, stt, llm_ttft, tts_ttfb``): ``samples, avg_ms, p50_ms, min_ms, max_ms`` from
        the events, each followed by its ``*_server`` value, then ``disagrees`` (bool) and ``what``:
        the fields that differ joined by ``", "``, ``"no server aggregate"`` or ``"no events"``
        (``""`` when they agree). Calls in ``calls`` order.
    """
    tolerance_ms = _number_option("tolerance_ms", tolerance_ms)
    calls = _Calls(frames)
    width = len(EVENT_COMPONENTS)
    aggregated = [EVENT_COMPONENTS.index(c) for c in AGGREGATE_COMPONENTS]
    events = _events(calls)
    events = events[
        np.isin(events["comp"].to_numpy(), aggregated) & np.isfinite(events["ms"].to_numpy())
    ]
    key = events["call"].to_numpy() * width + events["comp"].to_numpy()
    ours = (
        pd.Series(events["ms"].to_numpy(dtype=float))
        .groupby(key, sort=False)
        .agg(["count", "mean", "median", "min", "max"])
    )
    ours.columns = list(_SERVER_FIELDS)
    comps = frames.components
    if len(comps):
        comp = _component_codes(comps["component"])
        code = calls.codes(comps["call_id"])
        keep = np.isin(comp, aggregated) & (code >= 0)
        server = pd.DataFrame(
            {f"{n}_server": _floats(_column(comps, n))[keep] for n in _SERVER_FIELDS},
            index=code[keep] * width + comp[keep],
        )
        server = server[~server.index.duplicated()]
    else:
        server = pd.DataFrame({f"{n}_server": np.zeros(0) for n in _SERVER_FIELDS})
    merged = ours.join(server, how="outer")
    if merged.empty:
        return _server_dtypes(_empty(_SERVER_COLUMNS))
    keys = merged.index.to_numpy(dtype=np.int64)
    in_events = np.isin(keys, ours.index.to_numpy())
    in_server = np.isin(keys, server.index.to_numpy())
    what = np.full(len(merged), "", dtype=object)
    for name in _SERVER_FIELDS:
        a = _floats(merged[name])
        b = _floats(merged[f"{name}_server"])
        limit = 0.0 if name == "samples" else tolerance_ms + 1e-9
        with np.errstate(invalid="ignore"):
            differs = (np.abs(a - b) > limit) | (np.isnan(a) != np.isnan(b))
        what = np.where(differs, np.where(what == "", name, what + ", " + name), what)
    what = np.where(~in_server, "no server aggregate", np.where(~in_events, "no events", what))
    order = np.lexsort(
        ([_ORDER[c] for c in np.array(EVENT_COMPONENTS)[keys % width]], keys // width)
    )
    out = merged.iloc[order].reset_index(drop=True)
    out.insert(0, "call_id", calls.ids(keys[order] // width))
    out.insert(1, "component", np.array(EVENT_COMPONENTS, dtype=object)[keys[order] % width])
    out["what"] = what[order]
    out["disagrees"] = out["what"] != ""
    return _server_dtypes(out[_SERVER_COLUMNS])


def _server_dtypes(out: pd.DataFrame) -> pd.DataFrame:
    floats = {c: _floats(out[c]) for c in _SERVER_COLUMNS[2:-2] if not c.startswith("samples")}
    samples = {
        c: pd.array(_floats(out[c]), dtype="Float64").astype("Int64")
        for c in ("samples", "samples_server")
    }
    return out.assign(
        **floats,
        **samples,
        component=out["component"].astype(object),
        disagrees=out["disagrees"].astype(bool),
        what=out["what"].astype(object),
    )


#: The usual groupings of :func:`connect_summary` (``"call"``: one row per call); any ``calls``
#: column works too.
CONNECT_GROUPS: tuple[str, ...] = ("call", "type", "direction", "agent_id", "status")

#: The phases of ``connect.setup_ms``, in order.
CONNECT_PHASES: tuple[str, ...] = (
    "dispatch_to_answer_ms",
    "answer_to_active_ms",
    "active_to_greeting_ms",
)


def connect_summary(frames: CallFrames, *, by: str = "type", stat: str = "median") -> pd.DataFrame:
    """The connect phases (dispatch -> answer -> active -> greeting) per call or per group.

    Parameters
    ----------
    frames : CallFrames
    by : str, default "type"
        ``"call"`` gives one row per call (column ``call_id``); otherwise any ``calls`` column
        (the usual ones are :data:`CONNECT_GROUPS`).
    stat : {"median", "mean"}, default "median"
        How each phase is summarised within a group. Medians of the phases need not add up to
        the median ``setup_ms``; means do (for calls with every phase).

    Returns
    -------
    pandas.DataFrame
        ``<by>, n_calls, dispatch_to_answer_ms, answer_to_active_ms, active_to_greeting_ms,
        setup_ms``; calls without any connect timing are left out, negative or absurd timings
        are ignored.
    """
    columns = list(frames.calls.columns)
    if not isinstance(by, str) or (by not in CONNECT_GROUPS and by not in columns):
        raise ValueError(
            f"invalid by {by!r}; valid values: {', '.join(CONNECT_GROUPS)} or any calls column: "
            f"{', '.join(columns)}"
        )
    _one_of("stat", stat, ("median", "mean"))
    phases = [*CONNECT_PHASES, "setup_ms"]
    key = "call_id" if by == "call" else by
    calls = _Calls(frames)
    n = calls.n_calls
    values = {}
    for phase in phases:
        v = calls.call_floats(f"connect_{phase}")[:n]
        with np.errstate(invalid="ignore"):
            values[phase] = np.where((v >= 0) & (v <= ABSURD_MS), v, np.nan)
    present = np.zeros(n, dtype=bool)
    for v in values.values():
        present |= np.isfinite(v)
    if not present.any():
        return _empty([key, "n_calls", *phases])
    rows = np.flatnonzero(present)
    if by == "call":
        out = pd.DataFrame({"call_id": calls.ids(rows), "n_calls": 1})
        for phase in phases:
            out[phase] = values[phase][rows]
        return out
    codes, labels = _call_key(calls, by)
    codes = codes[rows]
    table = pd.DataFrame({phase: values[phase][rows] for phase in phases})
    grouped = table.groupby(codes, sort=True)
    summary = grouped.median() if stat == "median" else grouped.mean()
    out = pd.DataFrame({key: np.array(labels, dtype=object)[summary.index.to_numpy()]})
    out["n_calls"] = grouped.size().to_numpy()
    for phase in phases:
        out[phase] = summary[phase].to_numpy()
    return out
