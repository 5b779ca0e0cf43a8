"""Pure analyses of :class:`~oneinbox_nb.frames.CallFrames`: DataFrames in, DataFrames out.

Every function here is stateless, vectorised (groupby and numpy, no per-call Python loops) and
returns a DataFrame with fixed columns, empty (never an error) when there is no data. Invalid
options raise :class:`ValueError` naming the valid ones.

=============================  =================================================================
question                       function
=============================  =================================================================
where did a turn's time go?    :func:`turn_chain`, :func:`turn_latency`, :func:`slowest_turns`
how fast is each component?    :func:`latency_values`, :func:`latency_percentiles`,
                               :func:`provider_comparison`
do the server's stats agree?   :func:`server_comparison`
what did calls cost?           :func:`call_costs`, :func:`cost_by`, :func:`credits_check`,
                               :func:`short_and_failed_costs`
how long did calls take        :func:`connect_summary`
to connect?
what happens under load?       :func:`load_test_runs`, :func:`concurrency_frame`,
                               :func:`concurrency_bins`, :func:`concurrency_correlation`,
                               :func:`find_knee` (returns a :class:`Knee`)
=============================  =================================================================

Conventions
-----------
* **Flagged values.** An event is *flagged* when the frames report a problem with it
  (``events.has_problem``: negative or absurd ``ms``, missing or non-numeric values...) or its
  ``ms`` is missing, negative or above :data:`~oneinbox_nb.frames.ABSURD_MS`. A turn's
  ``response_ms`` is flagged when one of its response-component events is (a per-turn component
  sum such as ``llm_ttft_ms``: when one of that component's events is); an event of an unknown type
  never flags its turn (unlike ``turns.has_problem``). Flagged events and turns stay in :func:`turn_chain` (with
  ``flagged=True``) but are left out of every percentile, mean, bin and correlation unless
  ``include_flagged=True``; an absurd 88-second end-of-utterance delay must never be averaged in.
* **Turns.** Turn 0 is the greeting (nothing to respond to); turn ``k >= 1`` answers the k-th user
  message. Per-turn response statistics (``response_ms``, :func:`slowest_turns`, the load-test
  metrics) use turns ``>= 1``. Per-component event statistics use every event, greeting included
  (as the server's aggregates do).
* **Response time** of a turn is ``eou_delay + llm_ttft + kb + tool + tts_ttfb`` (``turns.response_ms``);
  ``stt`` is excluded because it overlaps the caller's speech.
* **Providers.** A component's provider comes from its server aggregate (``components.provider``),
  else from ``calls.provider_stt`` / ``provider_llm`` / ``provider_tts``. Grouping calls "by
  provider" uses the provider *setup* ``"<stt> / <llm> / <tts>"``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from .frames import ABSURD_MS, CallFrames

__all__ = [
    "AGGREGATE_COMPONENTS",
    "CALL_METRICS",
    "COMPONENTS",
    "CONNECT_GROUPS",
    "CONNECT_PHASES",
    "COST_GROUPS",
    "RESPONSE_COMPONENTS",
    "TURN_METRICS",
    "Knee",
    "call_costs",
    "concurrency_bins",
    "concurrency_correlation",
    "concurrency_frame",
    "connect_summary",
    "cost_by",
    "credits_check",
    "find_knee",
    "latency_percentiles",
    "latency_values",
    "load_test_runs",
    "percentile_label",
    "provider_comparison",
    "server_comparison",
    "short_and_failed_costs",
    "slowest_turns",
    "turn_chain",
    "turn_latency",
]

#: Latency components, in the order they appear in a turn's waterfall.
COMPONENTS: tuple[str, ...] = ("eou_delay", "stt", "kb", "tool", "llm_ttft", "tts_ttfb")

#: Components summed into a turn's ``response_ms`` (``stt`` overlaps the caller's speech).
RESPONSE_COMPONENTS: tuple[str, ...] = ("eou_delay", "kb", "tool", "llm_ttft", "tts_ttfb")

#: Components with a server-side aggregate in ``latency`` (compared by :func:`server_comparison`).
AGGREGATE_COMPONENTS: tuple[str, ...] = ("stt", "llm_ttft", "tts_ttfb", "eou_delay")

#: Per-turn metrics for the load-test functions (one value per answered turn).
TURN_METRICS: tuple[str, ...] = ("response_ms", *(f"{c}_ms" for c in COMPONENTS))

#: Per-call metrics for the load-test functions (one value per call).
CALL_METRICS: tuple[str, ...] = (
    "connect_setup_ms",
    "connect_dispatch_to_answer_ms",
    "connect_answer_to_active_ms",
    "connect_active_to_greeting_ms",
)

#: Groupings accepted by :func:`cost_by`.
COST_GROUPS: tuple[str, ...] = (
    "agent_id",
    "day",
    "outcome",
    "status",
    "provider",
    "type",
    "direction",
)

#: Which ``calls`` column holds each component's provider.
_PROVIDER_COLUMNS = {"stt": "provider_stt", "llm_ttft": "provider_llm", "tts_ttfb": "provider_tts"}

_RESPONSE = "response_ms"
_ORDER = {name: i for i, name in enumerate((*COMPONENTS, _RESPONSE))}
_DEFAULT_PERCENTILES = (50, 90, 95, 99)
_PROVIDER_COMPONENTS = ("eou_delay", "stt", "llm_ttft", "tts_ttfb", _RESPONSE)


# --------------------------------------------------------------------------------------------------
# Small shared pieces
# --------------------------------------------------------------------------------------------------


def _floats(values: Any) -> np.ndarray:
    """Any numeric Series/array (nullable or not) as float64 with NaN for missing."""
    series = values if isinstance(values, pd.Series) else pd.Series(values)
    if series.dtype == object:
        series = pd.to_numeric(series, errors="coerce")
    return series.to_numpy(dtype="float64", na_value=np.nan)


def _bools(values: pd.Series) -> np.ndarray:
    return values.fillna(False).to_numpy(dtype=bool)


def _column(frame: pd.DataFrame, name: str) -> pd.Series:
    if name in frame.columns:
        return frame[name]
    return pd.Series([None] * len(frame), index=frame.index, dtype=object)


def _empty(columns: Sequence[str]) -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=object) for c in columns})


def _int_option(name: str, value: Any, *, minimum: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        kind = "positive" if minimum == 1 else "non-negative"
        raise ValueError(f"{name} must be a {kind} integer, got {value!r}")
    return int(value)


def _number_option(name: str, value: Any, *, positive: bool = False) -> float:
    ok = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)
    if not ok or not np.isfinite(value) or value < 0 or (positive and value == 0):
        kind = "positive" if positive else "non-negative"
        raise ValueError(f"{name} must be a {kind} number, got {value!r}")
    return float(value)


def _one_of(name: str, value: Any, valid: Sequence[str]) -> None:
    if not isinstance(value, str) or value not in valid:
        raise ValueError(f"invalid {name} {value!r}; valid values: {', '.join(map(str, valid))}")


def _percentiles(percentiles: Any) -> tuple[float, ...]:
    """Validate percentiles (numbers in [0, 100]) and return them as floats."""
    if isinstance(percentiles, (int, float, np.integer, np.floating)):
        percentiles = (percentiles,)
    try:
        out = tuple(float(p) for p in percentiles if not isinstance(p, bool))
        complete = len(out) == len(list(percentiles))
    except (TypeError, ValueError):
        out, complete = (), False
    if not complete or not out or any(not 0 <= p <= 100 for p in out):
        raise ValueError(f"percentiles must be numbers between 0 and 100, got {percentiles!r}")
    return out


def percentile_label(p: float) -> str:
    """Column name of a percentile: ``50 -> "p50"``, ``99.9 -> "p99.9"``."""
    return f"p{float(p):g}"


def _factorize(values: Any) -> tuple[np.ndarray, list[Any]]:
    """Sorted codes of ``values`` with missing values as their own, last, code (label None)."""
    codes, uniques = pd.factorize(values, sort=True)
    labels = list(uniques)
    codes = np.asarray(codes, dtype=np.int64)
    if (codes < 0).any():
        codes = np.where(codes < 0, len(labels), codes)
        labels.append(None)
    return codes, labels


def _gather(array: np.ndarray, codes: np.ndarray, fill: Any) -> np.ndarray:
    """``array[codes]``, with ``fill`` where a code is out of range."""
    ok = (codes >= 0) & (codes < len(array))
    if ok.all():
        return array[codes]
    out = np.full(len(codes), fill, dtype=array.dtype if fill is not None else object)
    out[ok] = array[codes[ok]]
    return out


def _grouped_quantiles(
    codes: np.ndarray, values: np.ndarray, n_groups: int, qs: Sequence[float]
) -> np.ndarray:
    """Quantiles of ``values`` within each group code, shape ``(n_groups, len(qs))``.

    Linear interpolation, as :func:`numpy.percentile` and pandas' default; NaN for empty groups.
    ``values`` must hold no NaN. One sort for all groups and quantiles.
    """
    out = np.full((n_groups, len(qs)), np.nan)
    if n_groups == 0 or len(values) == 0:
        return out
    order = np.lexsort((values, codes))
    ordered = values[order]
    counts = np.bincount(codes, minlength=n_groups)
    starts = np.cumsum(counts) - counts
    present = counts > 0
    for j, q in enumerate(qs):
        pos = starts[present] + (counts[present] - 1) * q
        lo = np.floor(pos).astype(np.int64)
        hi = np.minimum(lo + 1, starts[present] + counts[present] - 1)
        out[present, j] = ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)
    return out


def _summary(
    names: list[str],
    codes: list[np.ndarray],
    labels: list[list[Any]],
    values: np.ndarray,
    percentiles: tuple[float, ...],
) -> pd.DataFrame:
    """``count``, one column per percentile and ``mean`` of ``values`` per combination of keys.

    ``codes[k]`` holds each row's code of key ``names[k]`` and ``labels[k]`` the label of each
    code. Groups come out sorted by the codes (so by label, and by label order).
    """
    stats = ["count", *(percentile_label(p) for p in percentiles), "mean"]
    keep = np.isfinite(values)
    if not keep.any():
        return _empty([*names, *stats])
    values = values[keep]
    codes = [c[keep] for c in codes]
    dims = [max(len(label), 1) for label in labels]
    combined = np.ravel_multi_index(codes, dims) if codes else np.zeros(len(values), dtype=np.int64)
    group, uniques = pd.factorize(combined, sort=True)
    group = np.asarray(group, dtype=np.int64)
    n_groups = len(uniques)
    out: dict[str, Any] = {}
    parts = np.unravel_index(np.asarray(uniques), dims) if codes else []
    for name, label, part in zip(names, labels, parts, strict=True):
        out[name] = np.array(label + [None], dtype=object)[part]
    counts = np.bincount(group, minlength=n_groups)
    out["count"] = counts
    quantiles = _grouped_quantiles(group, values, n_groups, [p / 100 for p in percentiles])
    for j, p in enumerate(percentiles):
        out[percentile_label(p)] = quantiles[:, j]
    out["mean"] = np.bincount(group, weights=values, minlength=n_groups) / counts
    return pd.DataFrame(out)


# --------------------------------------------------------------------------------------------------
# Call ids as integer codes
# --------------------------------------------------------------------------------------------------


class _Calls:
    """The calls of a CallFrames as integer codes ``0..n-1`` (``calls`` order, duplicates merged).

    Every table's ``call_id`` is mapped to these codes once, so that joins and groupings run on
    integers. Ids found in another table but not in ``calls`` get codes after the calls'.
    """

    def __init__(self, frames: CallFrames) -> None:
        self.frames = frames
        calls = frames.calls
        ids = pd.Index(calls["call_id"].array) if len(calls) else pd.Index([], dtype=object)
        first = ~ids.duplicated()
        self.index = ids[first]
        self.rows = np.flatnonzero(first)  # calls row of each code
        self.n_calls = len(self.index)
        self.events: pd.DataFrame | None = None  # memo of _events(self)

    @property
    def n(self) -> int:
        return len(self.index)

    def codes(self, ids: pd.Series) -> np.ndarray:
        """Code of each id (-1 for a missing id); unknown ids are appended."""
        if len(ids) == 0:
            return np.zeros(0, dtype=np.int64)
        # factorize first: hashing the few distinct ids against the index is cheap
        local, uniques = pd.factorize(ids.array)
        mapped = np.asarray(self.index.get_indexer(uniques), dtype=np.int64)
        if (mapped < 0).any():
            self.index = self.index.append(pd.Index(uniques[mapped < 0]))
            mapped = np.asarray(self.index.get_indexer(uniques), dtype=np.int64)
        return (
            np.where(local >= 0, mapped[np.maximum(local, 0)], -1)
            if len(mapped)
            else np.full(len(local), -1)
        )

    def ids(self, codes: np.ndarray) -> Any:
        """The call ids of ``codes`` (the frames' id dtype)."""
        return self.index.array.take(np.asarray(codes, dtype=np.int64))

    def call_values(self, column: str) -> pd.Series:
        """A ``calls`` column, one value per code (missing for codes without a calls row)."""
        calls = self.frames.calls
        values = _column(calls, column).iloc[self.rows].reset_index(drop=True)
        if self.n > self.n_calls:
            values = values.reindex(range(self.n))
        return values

    def call_floats(self, column: str) -> np.ndarray:
        return _floats(self.call_values(column))


# --------------------------------------------------------------------------------------------------
# Events, turns and their flags
# --------------------------------------------------------------------------------------------------


def _component_codes(types: pd.Series) -> np.ndarray:
    """Index of each event type in :data:`COMPONENTS`, -1 for other types and missing ones."""
    if not isinstance(types.dtype, pd.CategoricalDtype):
        types = types.astype("category")
    categories = list(types.cat.categories)
    lookup = np.array([COMPONENTS.index(c) if c in COMPONENTS else -1 for c in categories] + [-1])
    return lookup[types.cat.codes.to_numpy()]


def _events(calls: _Calls, *, tools: bool = False, rows: np.ndarray | None = None) -> pd.DataFrame:
    """Latency events of a known component (only ``rows`` of ``events`` when given).

    Columns ``call`` (code), ``seq``, ``turn``, ``comp`` (index in :data:`COMPONENTS`), ``ms`` and
    ``flagged``; with ``tools``, also ``tool`` (labels). Memoised on ``calls`` for the default form.
    """
    cacheable = not tools and rows is None
    if cacheable and calls.events is not None:
        return calls.events
    events = calls.frames.events
    if rows is not None:
        events = events.iloc[rows]
    if events.empty:
        columns = ["call", "seq", "turn", "comp", "ms", "flagged"] + (["tool"] if tools else [])
        return pd.DataFrame({c: np.zeros(0, dtype=float) for c in columns}).astype(
            {"call": np.int64, "comp": np.int64, "flagged": bool}
        )
    comp = _component_codes(events["type"])
    known = np.flatnonzero(comp >= 0)
    ms = _floats(events["ms"])[known]
    flagged = ~np.isfinite(ms) | (ms < 0) | (ms > ABSURD_MS)
    if "has_problem" in events.columns:
        flagged |= _bools(events["has_problem"])[known]
    seq = _floats(events["seq"])[known] if "seq" in events.columns else known.astype(float)
    out = pd.DataFrame(
        {
            "call": calls.codes(events["call_id"].iloc[known]),
            "seq": seq,
            "turn": _floats(events["turn"])[known],
            "comp": comp[known],
            "ms": ms,
            "flagged": flagged,
        }
    )
    if tools:
        out["tool"] = np.asarray(_column(events, "tool").astype(object), dtype=object)[known]
    if cacheable:
        calls.events = out
    return out


def _turn_keys(call: np.ndarray, turn: np.ndarray, stride: int) -> np.ndarray:
    """One int64 per (call code, turn); -1 where the turn is missing."""
    ok = np.isfinite(turn)
    return np.where(ok, call * stride + np.nan_to_num(turn, nan=0).astype(np.int64), -1)


def _turns(calls: _Calls, *, include_flagged: bool, components: Sequence[str]) -> pd.DataFrame:
    """The turns table on codes: ``call, turn, <component>_ms..., response_ms, has_kb, has_tool,
    flagged``.

    A turn is flagged when one of its events of ``components`` is flagged, or when one of those
    components' sums is negative or absurd (for frames built without events). With
    ``include_flagged=False`` flagged turns are dropped.
    """
    turns = calls.frames.turns
    parts = [f"{c}_ms" for c in COMPONENTS]
    out = pd.DataFrame(
        {
            "call": calls.codes(turns["call_id"]) if len(turns) else np.zeros(0, dtype=np.int64),
            "turn": _floats(turns["turn"]) if len(turns) else np.zeros(0),
        }
    )
    for name in (*parts, _RESPONSE):
        out[name] = _floats(turns[name]) if name in turns.columns and len(turns) else 0.0
    for extra, source in (("has_kb", "kb_ms"), ("has_tool", "tool_ms")):
        if extra in turns.columns and len(turns):
            out[extra] = _bools(turns[extra])
        else:
            out[extra] = np.nan_to_num(out[source].to_numpy()) != 0
    bad = np.zeros(len(out), dtype=bool)
    for c in components:
        values = out[f"{c}_ms"].to_numpy()
        with np.errstate(invalid="ignore"):
            bad |= (values < 0) | (values > ABSURD_MS)
    events = _events(calls)
    wanted = [COMPONENTS.index(c) for c in components]
    flagged = events[events["flagged"].to_numpy() & np.isin(events["comp"].to_numpy(), wanted)]
    if len(flagged) and len(out):
        turn_max = np.nanmax(np.r_[out["turn"].to_numpy(), flagged["turn"].to_numpy(), 0])
        stride = int(turn_max) + 2
        flagged_keys = _turn_keys(flagged["call"].to_numpy(), flagged["turn"].to_numpy(), stride)
        keys = _turn_keys(out["call"].to_numpy(), out["turn"].to_numpy(), stride)
        bad |= np.isin(keys, flagged_keys[flagged_keys >= 0]) & (keys >= 0)
    out["flagged"] = bad
    if not include_flagged:
        out = out[~bad].reset_index(drop=True)
    return out


# --------------------------------------------------------------------------------------------------
# Calls: keys and providers
# --------------------------------------------------------------------------------------------------


def _providers(calls: _Calls) -> np.ndarray:
    """Provider label per (component index, call code), shape ``(len(COMPONENTS), n)``; None if unknown.

    The component's server aggregate provider wins over the ``calls.provider_*`` columns.
    """
    table = np.full((len(COMPONENTS), calls.n), None, dtype=object)
    for component, column in _PROVIDER_COLUMNS.items():
        if column in calls.frames.calls.columns:
            values = calls.call_values(column)
            table[COMPONENTS.index(component)] = np.where(
                values.notna().to_numpy(dtype=bool), values.astype(object).to_numpy(), None
            )
    comps = calls.frames.components
    if len(comps) and "provider" in comps.columns:
        provider = comps["provider"]
        present = provider.notna().to_numpy(dtype=bool)
        comp = _component_codes(comps["component"])
        code = calls.codes(comps["call_id"])
        if calls.n > table.shape[1]:
            table = np.concatenate(
                [table, np.full((len(COMPONENTS), calls.n - table.shape[1]), None, dtype=object)],
                axis=1,
            )
        use = present & (comp >= 0) & (code >= 0)
        table[comp[use], code[use]] = provider.astype(object).to_numpy()[use]
    return table


def _setup_labels(providers: np.ndarray) -> np.ndarray:
    """Each call's provider setup ``"stt / llm / tts"`` (None when all three are unknown)."""
    rows = [providers[COMPONENTS.index(c)] for c in ("stt", "llm_ttft", "tts_ttfb")]
    known = np.zeros(providers.shape[1], dtype=bool)
    for row in rows:
        known |= row != None  # noqa: E711 (elementwise)
    text = pd.Series(rows[0]).fillna("?").astype(str)
    for row in rows[1:]:
        text = text + " / " + pd.Series(row).fillna("?").astype(str)
    return np.where(known, text.to_numpy(dtype=object), None)


def _by_list(by: str | Sequence[str] | None) -> list[str]:
    if by is None:
        return []
    if isinstance(by, str):
        return [by]
    return list(by)


def _check_keys(calls: _Calls, by: list[str]) -> None:
    columns = list(calls.frames.calls.columns)
    valid = set(columns) | {"day", "provider"}
    for key in by:
        if not isinstance(key, str) or key not in valid:
            raise ValueError(
                f"invalid by {key!r}; valid values: 'day', 'provider' or a calls column: "
                f"{', '.join(columns)}"
            )


def _call_key(
    calls: _Calls, key: str, providers: np.ndarray | None = None
) -> tuple[np.ndarray, list[Any]]:
    """Per-call codes and labels of a grouping key (``day``, ``provider`` or a calls column)."""
    if key == "day":
        created = calls.call_values("created_at")
        if not isinstance(created.dtype, pd.DatetimeTZDtype):
            created = pd.to_datetime(created, utc=True)
        return _factorize(created.dt.floor("D"))
    if key == "provider" and "provider" not in calls.frames.calls.columns:
        table = _providers(calls) if providers is None else providers
        return _factorize(_setup_labels(table))
    values = calls.call_values(key)
    if isinstance(values.dtype, pd.CategoricalDtype):
        values = values.astype(object)
    return _factorize(values)


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

    comp = events["comp"].to_numpy()
    rank = np.select(
        [
            comp == COMPONENTS.index("eou_delay"),
            comp == COMPONENTS.index("tts_ttfb"),
            comp == COMPONENTS.index("stt"),
        ],
        [0, 2, 3],
        1,
    )
    order = np.lexsort(
        (events["seq"].to_numpy(), rank, events["turn"].to_numpy(), events["call"].to_numpy())
    )
    events = events.iloc[order].reset_index(drop=True)
    rank = rank[order]
    comp = comp[order]
    in_response = rank != 3
    duration = np.nan_to_num(events["ms"].to_numpy(dtype=float), nan=0.0)
    names = np.array(COMPONENTS, dtype=object)[comp]
    tool = events["tool"].to_numpy(dtype=object)
    named_tool = (comp == COMPONENTS.index("tool")) & pd.notna(tool)
    base = pd.Series(names.copy(), dtype=object)  # a copy: pandas 2 would write into names
    named = "tool:" + pd.Series(tool[named_tool], dtype=object).astype(str)
    base[named_tool] = named.to_numpy(dtype=object)

    call, turn_values = events["call"].to_numpy(), events["turn"].to_numpy()
    label_keys = [call, turn_values, base.to_numpy()]
    label_groups = pd.Series(np.zeros(len(base))).groupby(label_keys, sort=False)
    occurrence = label_groups.cumcount().to_numpy() + 1
    repeats = label_groups.transform("size").to_numpy()
    label = np.where(repeats > 1, base + " #" + occurrence.astype(str), base)

    step_groups = [call, turn_values, in_response]
    end = pd.Series(duration).groupby(step_groups, sort=False).cumsum().to_numpy()
    step = pd.Series(duration).groupby(step_groups, sort=False).cumcount().to_numpy()
    # the sort put each turn's stt rows (rank 3) after its response steps
    out = pd.DataFrame(
        {
            "call_id": calls.ids(call),
            "turn": turn_values,
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


def _chain_dtypes(out: pd.DataFrame) -> pd.DataFrame:
    step = _floats(out["step"])
    step_array = pd.array(np.where(step < 0, np.nan, step), dtype="Float64").astype("Int64")
    return out.assign(
        turn=pd.array(_floats(out["turn"]), dtype="Float64").astype("Int64"),
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
) -> pd.DataFrame:
    """Per-turn latency: each component's sum and the response time, with a ``flagged`` column.

    Parameters
    ----------
    frames : CallFrames
    call_id : str or iterable of str, optional
        Only these calls (default: all).
    include_flagged : bool, default True
        Keep flagged turns (a response component's event is negative, absurd or missing).

    Returns
    -------
    pandas.DataFrame
        ``call_id, turn, eou_delay_ms, stt_ms, kb_ms, tool_ms, llm_ttft_ms, tts_ttfb_ms,
        response_ms, flagged``, greeting (turn 0) included, in the order of ``turns``.
    """
    calls = _Calls(frames)
    turns = _turns(calls, include_flagged=include_flagged, components=RESPONSE_COMPONENTS)
    if call_id is not None:
        wanted = [call_id] if isinstance(call_id, str) else list(call_id)
        codes = calls.index.get_indexer(pd.Index(wanted, dtype=object))
        turns = turns[np.isin(turns["call"].to_numpy(), codes[codes >= 0])]
    out = pd.DataFrame(
        {
            "call_id": calls.ids(turns["call"].to_numpy()),
            "turn": pd.array(turns["turn"].to_numpy(), dtype="Float64").astype("Int64"),
        }
    )
    for name in (*(f"{c}_ms" for c in COMPONENTS), _RESPONSE):
        out[name] = turns[name].to_numpy(dtype=float)
    out["flagged"] = turns["flagged"].to_numpy(dtype=bool)
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
    """The ``n`` slowest answered, non-flagged turns across calls.

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
        Greetings (turn 0) are left out.
    """
    n = _int_option("n", n)
    parts = [f"{c}_ms" for c in COMPONENTS]
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
    turns = _turns(calls, include_flagged=False, components=RESPONSE_COMPONENTS)
    turns = turns[(turns["turn"] >= 1).to_numpy() & np.isfinite(turns[_RESPONSE].to_numpy())]
    if turns.empty or n == 0:
        return _empty(columns)
    top = turns.nlargest(n, _RESPONSE, keep="first").reset_index(drop=True)
    codes = top["call"].to_numpy()
    ids = calls.ids(codes)
    agents = calls.call_values("agent_id").astype(object)
    shares = top[[f"{c}_ms" for c in RESPONSE_COMPONENTS]].to_numpy(dtype=float)
    best = np.argmax(np.nan_to_num(shares, nan=-np.inf), axis=1)
    total = top[_RESPONSE].to_numpy(dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        share = shares[np.arange(len(top)), best] / total
    out = pd.DataFrame({"call_id": ids, "turn": top["turn"].to_numpy().astype(np.int64)})
    for name in (_RESPONSE, *parts):
        out[name] = top[name].to_numpy()
    out["agent_id"] = _gather(agents.to_numpy(dtype=object), codes, None)
    out["user_text"] = _user_text(frames, np.asarray(ids, dtype=object), top["turn"].to_numpy())
    out["dominant_component"] = np.array(RESPONSE_COMPONENTS, dtype=object)[best]
    out["dominant_share"] = share
    return out[columns]


# --------------------------------------------------------------------------------------------------
# Latency percentiles
# --------------------------------------------------------------------------------------------------


def _latency_rows(
    calls: _Calls, by: list[str], *, include_flagged: bool
) -> tuple[dict[str, np.ndarray], dict[str, list[Any]], np.ndarray]:
    """Every latency value with its group codes: one row per event, one per answered turn.

    Returns ``(codes, labels, values)``; ``codes``/``labels`` have a ``"component"`` entry (labels
    :data:`COMPONENTS` then ``response_ms``) and one per key of ``by``. ``"provider"`` is the
    component's own provider for event rows and the provider setup for ``response_ms`` rows.
    """
    _check_keys(calls, by)
    events = _events(calls)
    keep = np.isfinite(events["ms"].to_numpy())
    if not include_flagged:
        keep &= ~events["flagged"].to_numpy()
    events = events[keep]
    turns = _turns(calls, include_flagged=include_flagged, components=RESPONSE_COMPONENTS)
    turns = turns[(turns["turn"] >= 1).to_numpy()]
    ev_call, tu_call = events["call"].to_numpy(), turns["call"].to_numpy()
    codes = {"component": np.r_[events["comp"].to_numpy(), np.full(len(turns), len(COMPONENTS))]}
    labels: dict[str, list[Any]] = {"component": [*COMPONENTS, _RESPONSE]}
    values = np.r_[events["ms"].to_numpy(dtype=float), turns[_RESPONSE].to_numpy(dtype=float)]
    for key in by:
        if key == "provider" and "provider" not in calls.frames.calls.columns:
            table = _providers(calls)
            setup = _setup_labels(table)
            flat, key_labels = _factorize(np.r_[table.ravel(), setup].astype(object))
            table_codes = flat[: table.size].reshape(table.shape)
            setup_codes = flat[table.size :]
            ev_codes = table_codes[events["comp"].to_numpy(), ev_call]
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
    return codes, labels, values


def latency_values(frames: CallFrames, *, include_flagged: bool = False) -> pd.DataFrame:
    """Every latency value in long form: one row per event and one per answered turn.

    The raw material of :func:`latency_percentiles` (and of distribution plots).

    Parameters
    ----------
    frames : CallFrames
    include_flagged : bool, default False
        Keep flagged events and turns (negative, absurd or missing values are never kept).

    Returns
    -------
    pandas.DataFrame
        ``call_id, component, value`` (ms); ``component`` is one of :data:`COMPONENTS` (one row
        per event) or ``response_ms`` (one row per turn >= 1).
    """
    calls = _Calls(frames)
    codes, labels, values = _latency_rows(calls, [], include_flagged=include_flagged)
    keep = np.isfinite(values)
    return pd.DataFrame(
        {
            "call_id": calls.ids(codes["call"][keep]),
            "component": np.array(labels["component"], dtype=object)[codes["component"][keep]],
            "value": values[keep],
        }
    )


def latency_percentiles(
    frames: CallFrames,
    *,
    by: str | Sequence[str] | None = None,
    percentiles: Sequence[float] = _DEFAULT_PERCENTILES,
    include_flagged: bool = False,
) -> pd.DataFrame:
    """Percentiles of each latency component and of the per-turn response time.

    Components are counted per event (a knowledge-base turn's two ``llm_ttft`` events are two
    values; ``kb`` and ``tool`` per event); ``response_ms`` per answered turn (turn >= 1).

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
        Include flagged events and turns (negative, absurd or missing values).

    Returns
    -------
    pandas.DataFrame
        ``[*by], component, count, p50, p90, p95, p99, mean`` in ms; sorted by the ``by`` keys,
        then components in the order of :data:`COMPONENTS` and ``response_ms`` last.

    Raises
    ------
    ValueError
        An unknown ``by`` column (the message lists the valid ones) or a percentile outside 0-100.

    Examples
    --------
    >>> latency_percentiles(frames, by="agent_id")  # doctest: +SKIP
    """
    by_list = _by_list(by)
    pcts = _percentiles(percentiles)
    calls = _Calls(frames)
    codes, labels, values = _latency_rows(calls, by_list, include_flagged=include_flagged)
    names = [*by_list, "component"]
    return _summary(names, [codes[k] for k in names], [labels[k] for k in names], values, pcts)


def provider_comparison(
    frames: CallFrames,
    *,
    percentiles: Sequence[float] = _DEFAULT_PERCENTILES,
    include_flagged: bool = False,
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
    include_flagged : bool, default False

    Returns
    -------
    pandas.DataFrame
        ``component, provider, count, p50, p90, p95, p99, mean``, components in the order of
        :data:`COMPONENTS` then ``response_ms``, providers alphabetically.
    """
    pcts = _percentiles(percentiles)
    calls = _Calls(frames)
    codes, labels, values = _latency_rows(calls, ["provider"], include_flagged=include_flagged)
    wanted = [i for i, c in enumerate(labels["component"]) if c in _PROVIDER_COMPONENTS]
    keep = np.isin(codes["component"], wanted)
    providers = ["unknown" if p is None else p for p in labels["provider"]]
    return _summary(
        ["component", "provider"],
        [codes["component"][keep], codes["provider"][keep]],
        [labels["component"], providers],
        values[keep],
        pcts,
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
    width = len(COMPONENTS)
    aggregated = [COMPONENTS.index(c) for c in AGGREGATE_COMPONENTS]
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
    order = np.lexsort(([_ORDER[c] for c in np.array(COMPONENTS)[keys % width]], keys // width))
    out = merged.iloc[order].reset_index(drop=True)
    out.insert(0, "call_id", calls.ids(keys[order] // width))
    out.insert(1, "component", np.array(COMPONENTS, dtype=object)[keys[order] % width])
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


# --------------------------------------------------------------------------------------------------
# Cost and credits
# --------------------------------------------------------------------------------------------------


def _money(calls: _Calls) -> dict[str, np.ndarray]:
    return {
        "status": calls.call_values("status").astype(object).to_numpy(),
        "seconds": calls.call_floats("duration_seconds"),
        "cost": calls.call_floats("cost_cents"),
        "credits": calls.call_floats("credits_used"),
    }


_COST_STATS = [
    "n_calls",
    "n_with_cost",
    "minutes",
    "cost_cents",
    "credits_used",
    "cents_per_minute",
    "cents_per_credit",
    "mean_cost_cents",
    "p50_cost_cents",
    "p95_cost_cents",
]


def cost_by(frames: CallFrames, by: str = "agent_id") -> pd.DataFrame:
    """Calls, minutes, cost and credits per group.

    Parameters
    ----------
    frames : CallFrames
    by : {"agent_id", "day", "outcome", "status", "provider", "type", "direction"}
        ``"day"`` is the UTC day of ``created_at``; ``"provider"`` the provider setup
        ``"stt / llm / tts"``. Calls with a missing key form their own group (key ``None``, last).

    Returns
    -------
    pandas.DataFrame
        ``<by>, n_calls, n_with_cost, minutes, cost_cents, credits_used, cents_per_minute,
        cents_per_credit, mean_cost_cents, p50_cost_cents, p95_cost_cents``. ``cost_cents`` sums the
        known costs (calls still running or not yet billed have none, see ``n_with_cost``); the
        per-minute and per-credit rates use only calls whose cost and duration (credits) are known.

    Raises
    ------
    ValueError
        ``by`` is not one of the groupings above.
    """
    _one_of("by", by, COST_GROUPS)
    calls = _Calls(frames)
    if calls.n == 0:
        return _empty([by, *_COST_STATS])
    codes, labels = _call_key(calls, by)
    n_groups = len(labels)
    money = _money(calls)
    minutes = money["seconds"] / 60
    cost, credits = money["cost"], money["credits"]
    has_cost = np.isfinite(cost)

    def total(weights: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
        w = np.nan_to_num(weights) if mask is None else np.where(mask, np.nan_to_num(weights), 0.0)
        return np.bincount(codes, weights=w, minlength=n_groups)

    rate_m = has_cost & np.isfinite(minutes)
    rate_c = has_cost & np.isfinite(credits)
    out = pd.DataFrame({by: np.array(labels, dtype=object)})
    out["n_calls"] = np.bincount(codes, minlength=n_groups)
    out["n_with_cost"] = np.bincount(codes[has_cost], minlength=n_groups)
    out["minutes"] = total(minutes)
    out["cost_cents"] = total(cost)
    out["credits_used"] = total(credits)
    with np.errstate(invalid="ignore", divide="ignore"):
        per_minute = total(cost, rate_m) / total(minutes, rate_m)
        per_credit = total(cost, rate_c) / total(credits, rate_c)
    out["cents_per_minute"] = np.where(np.isfinite(per_minute), per_minute, np.nan)
    out["cents_per_credit"] = np.where(np.isfinite(per_credit), per_credit, np.nan)
    known = codes[has_cost]
    with np.errstate(invalid="ignore", divide="ignore"):
        out["mean_cost_cents"] = total(cost, has_cost) / out["n_with_cost"].to_numpy()
    quantiles = _grouped_quantiles(known, cost[has_cost], n_groups, [0.5, 0.95])
    out["p50_cost_cents"] = quantiles[:, 0]
    out["p95_cost_cents"] = quantiles[:, 1]
    if by == "day":
        out[by] = pd.to_datetime(out[by], utc=True)
    return out


def credits_check(frames: CallFrames, *, tolerance: float = 0.01) -> pd.DataFrame:
    """Each call's ``credits_used`` against ``duration_seconds / 60`` (1 credit = 1 minute).

    Parameters
    ----------
    frames : CallFrames
    tolerance : float, default 0.01
        Largest absolute difference, in credits, still counted as ``ok``.

    Returns
    -------
    pandas.DataFrame
        ``call_id, duration_seconds, credits_used, expected_credits, diff, ok``; ``diff`` is
        ``credits_used - expected_credits``; ``ok`` is a nullable boolean, ``<NA>`` when either
        value is missing (e.g. a call still running).
    """
    tolerance = _number_option("tolerance", tolerance)
    calls = _Calls(frames)
    money = _money(calls)
    expected = money["seconds"] / 60
    diff = money["credits"] - expected
    ok = pd.array(np.abs(np.nan_to_num(diff)) <= tolerance + 1e-12, dtype="boolean")
    ok[~np.isfinite(diff)] = pd.NA
    return pd.DataFrame(
        {
            "call_id": calls.ids(np.arange(calls.n_calls)),
            "duration_seconds": money["seconds"][: calls.n_calls],
            "credits_used": money["credits"][: calls.n_calls],
            "expected_credits": expected[: calls.n_calls],
            "diff": diff[: calls.n_calls],
            "ok": ok[: calls.n_calls],
        }
    )


def short_and_failed_costs(frames: CallFrames, *, short_seconds: float = 30) -> pd.DataFrame:
    """What failed calls and short calls cost, and their share of the total.

    Parameters
    ----------
    frames : CallFrames
    short_seconds : float, default 30
        A call that did not fail and lasted less than this is *short* (hang-ups, voicemail
        drops, wrong numbers).

    Returns
    -------
    pandas.DataFrame
        Rows ``failed``, ``short``, ``short_or_failed`` and ``all``; columns ``group, n_calls,
        minutes, cost_cents, credits_used, share_of_calls, share_of_cost, share_of_credits``
        (fractions of the ``all`` row; NaN when the total is 0).
    """
    short_seconds = _number_option("short_seconds", short_seconds)
    calls = _Calls(frames)
    money = _money(calls)
    failed = money["status"] == "failed"
    with np.errstate(invalid="ignore"):
        short = ~failed & (money["seconds"] < short_seconds)
    groups = {
        "failed": failed,
        "short": short,
        "short_or_failed": failed | short,
        "all": np.ones(len(failed), dtype=bool),
    }
    minutes = np.nan_to_num(money["seconds"] / 60)
    cost = np.nan_to_num(money["cost"])
    credits = np.nan_to_num(money["credits"])
    out = pd.DataFrame(
        {
            "group": list(groups),
            "n_calls": [int(m.sum()) for m in groups.values()],
            "minutes": [float(minutes[m].sum()) for m in groups.values()],
            "cost_cents": [float(cost[m].sum()) for m in groups.values()],
            "credits_used": [float(credits[m].sum()) for m in groups.values()],
        }
    )
    for column, share in (
        ("n_calls", "share_of_calls"),
        ("cost_cents", "share_of_cost"),
        ("credits_used", "share_of_credits"),
    ):
        whole = float(out[column].iloc[-1])
        out[share] = out[column] / whole if whole else np.nan
    return out


def call_costs(frames: CallFrames) -> pd.DataFrame:
    """Cost, credits and minutes of each call.

    Returns
    -------
    pandas.DataFrame
        ``call_id, agent_id, status, type, minutes, cost_cents, credits_used, cents_per_minute``
        (float; NaN where unknown, ``cents_per_minute`` NaN for calls without duration).
    """
    calls = _Calls(frames)
    money = _money(calls)
    n = calls.n_calls
    minutes = money["seconds"][:n] / 60
    with np.errstate(invalid="ignore", divide="ignore"):
        per_minute = np.where(minutes > 0, money["cost"][:n] / minutes, np.nan)
    return pd.DataFrame(
        {
            "call_id": calls.ids(np.arange(n)),
            "agent_id": calls.call_values("agent_id").astype(object).to_numpy()[:n],
            "status": money["status"][:n],
            "type": calls.call_values("type").astype(object).to_numpy()[:n],
            "minutes": minutes,
            "cost_cents": money["cost"][:n],
            "credits_used": money["credits"][:n],
            "cents_per_minute": per_minute,
        }
    )


#: Groupings accepted by :func:`connect_summary` (``"call"``: one row per call).
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
    by : {"type", "call", "direction", "agent_id", "status"}, default "type"
        ``"call"`` gives one row per call (column ``call_id``).
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
    _one_of("by", by, CONNECT_GROUPS)
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


# --------------------------------------------------------------------------------------------------
# Load tests
# --------------------------------------------------------------------------------------------------


def _key_column(frames: CallFrames, key: str) -> str | None:
    """The ``calls`` column of a metadata key (``meta_<key>``, or ``key`` itself), if any."""
    if not isinstance(key, str) or not key:
        raise ValueError(f"key must be a metadata key such as 'run_id', got {key!r}")
    for name in (f"meta_{key}", key):
        if name in frames.calls.columns:
            return name
    return None


def _concurrency(calls: _Calls) -> np.ndarray:
    """``concurrency_at_dispatch`` per call code (NaN when unknown)."""
    columns = calls.frames.calls.columns
    for name in ("concurrency_at_dispatch", "meta_concurrency_at_dispatch"):
        if name in columns:
            return calls.call_floats(name)
    return np.full(calls.n, np.nan)


_RUN_COLUMNS = [
    "n_calls",
    "n_completed",
    "n_failed",
    "concurrency_min",
    "concurrency_max",
    "first_created_at",
    "last_created_at",
]


def load_test_runs(frames: CallFrames, *, key: str = "run_id") -> pd.DataFrame:
    """One row per load-test run: the calls whose ``metadata[key]`` is set, grouped by its value.

    Parameters
    ----------
    frames : CallFrames
    key : str, default "run_id"
        The metadata key that tags a run (column ``meta_<key>``).

    Returns
    -------
    pandas.DataFrame
        ``<key>, n_calls, n_completed, n_failed, concurrency_min, concurrency_max,
        first_created_at, last_created_at``, oldest run first; empty when no call carries the key.
    """
    column = _key_column(frames, key)
    calls = _Calls(frames)
    if column is None or calls.n_calls == 0:
        return _empty([key, *_RUN_COLUMNS])
    runs = calls.call_values(column)
    tagged = runs.notna().to_numpy(dtype=bool)
    if not tagged.any():
        return _empty([key, *_RUN_COLUMNS])
    status = calls.call_values("status").astype(object).to_numpy()
    data = pd.DataFrame(
        {
            key: runs.astype(object).to_numpy()[tagged],
            "completed": (status == "completed")[tagged].astype(int),
            "failed": (status == "failed")[tagged].astype(int),
            "concurrency": _concurrency(calls)[tagged],
            "created_at": calls.call_values("created_at")[tagged].to_numpy(),
        }
    )
    grouped = data.groupby(key, sort=False)
    out = pd.DataFrame(
        {
            "n_calls": grouped.size(),
            "n_completed": grouped["completed"].sum(),
            "n_failed": grouped["failed"].sum(),
            "concurrency_min": grouped["concurrency"].min(),
            "concurrency_max": grouped["concurrency"].max(),
            "first_created_at": grouped["created_at"].min(),
            "last_created_at": grouped["created_at"].max(),
        }
    ).reset_index()
    out = out.sort_values("first_created_at", kind="stable").reset_index(drop=True)
    return out[[key, *_RUN_COLUMNS]]


def _metric_name(metric: Any) -> str:
    if isinstance(metric, str) and metric in COMPONENTS:
        metric = f"{metric}_ms"
    elif isinstance(metric, str) and f"connect_{metric}" in CALL_METRICS:
        metric = f"connect_{metric}"
    _one_of("metric", metric, (*TURN_METRICS, *CALL_METRICS))
    return metric


def _run_mask(calls: _Calls, run: str | None, key: str) -> np.ndarray:
    """Per call code: belongs to ``run`` (every call when None) and has a concurrency."""
    mask = np.isfinite(_concurrency(calls))
    if run is None:
        return mask
    column = _key_column(calls.frames, key)
    runs = calls.call_values(column).astype(object) if column else pd.Series([None] * calls.n)
    valid = sorted({str(r) for r in runs.dropna()})
    if run not in valid:
        shown = ", ".join(valid[:20]) + (" ..." if len(valid) > 20 else "")
        raise ValueError(
            f"invalid run {run!r}: no call has metadata {key}={run!r}; "
            f"valid runs: {shown or 'none'}"
        )
    return mask & (runs.to_numpy() == run)


def _concurrency_rows(
    calls: _Calls, metric: str, run: str | None, key: str, include_flagged: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(call codes, turns, concurrency, values)`` of :func:`concurrency_frame`."""
    metric = _metric_name(metric)
    if metric in CALL_METRICS:
        in_run = _run_mask(calls, run, key)
        values = calls.call_floats(metric)
        keep = in_run & np.isfinite(values)
        if not include_flagged:
            with np.errstate(invalid="ignore"):
                keep &= (values >= 0) & (values <= ABSURD_MS)
        codes = np.flatnonzero(keep)
        return codes, np.full(len(codes), np.nan), _concurrency(calls)[codes], values[codes]
    components = RESPONSE_COMPONENTS if metric == _RESPONSE else (metric[: -len("_ms")],)
    turns = _turns(calls, include_flagged=include_flagged, components=components)
    in_run = _run_mask(calls, run, key)
    keep = (turns["turn"] >= 1).to_numpy() & np.isfinite(turns[metric].to_numpy())
    if metric == "kb_ms":
        keep &= turns["has_kb"].to_numpy()
    elif metric == "tool_ms":
        keep &= turns["has_tool"].to_numpy()
    codes = turns["call"].to_numpy()
    keep &= _gather(in_run, codes, False)
    codes = codes[keep]
    conc = _concurrency(calls)
    return codes, turns["turn"].to_numpy()[keep], conc[codes], turns[metric].to_numpy()[keep]


def concurrency_frame(
    frames: CallFrames,
    *,
    metric: str = "response_ms",
    run: str | None = None,
    key: str = "run_id",
    include_flagged: bool = False,
) -> pd.DataFrame:
    """A metric's values joined with their call's ``concurrency_at_dispatch``.

    Parameters
    ----------
    frames : CallFrames
    metric : str, default "response_ms"
        Per turn (turns >= 1): ``response_ms`` or a component's per-turn sum ``eou_delay_ms``,
        ``stt_ms``, ``kb_ms``, ``tool_ms``, ``llm_ttft_ms``, ``tts_ttfb_ms`` (the bare component
        name works too; ``kb_ms``/``tool_ms`` only for turns that used the knowledge base / a
        tool). Per call: ``connect_setup_ms``, ``connect_dispatch_to_answer_ms``,
        ``connect_answer_to_active_ms``, ``connect_active_to_greeting_ms``.
    run : str, optional
        Only the calls of this run (``metadata[key] == run``); default: every call with a
        ``concurrency_at_dispatch``.
    key : str, default "run_id"
        The metadata key naming runs.
    include_flagged : bool, default False
        Keep turns whose events of the metric's components are flagged (and negative or absurd
        connect timings).

    Returns
    -------
    pandas.DataFrame
        ``call_id, turn, concurrency_at_dispatch, value`` (ms; ``turn`` is ``<NA>`` for per-call
        metrics).

    Raises
    ------
    ValueError
        An unknown metric, or a run no call belongs to (the message lists the valid ones).
    """
    calls = _Calls(frames)
    codes, turns, conc, values = _concurrency_rows(calls, metric, run, key, include_flagged)
    return pd.DataFrame(
        {
            "call_id": calls.ids(codes),
            "turn": pd.array(turns, dtype="Float64").astype("Int64"),
            "concurrency_at_dispatch": conc.astype(float),
            "value": values.astype(float),
        }
    )


def _edges(concurrency: np.ndarray, bins: Any) -> np.ndarray:
    """Bin edges: ``bins`` equal-width bins over the observed range, or the given edges."""
    message = f"bins must be a positive integer or increasing bin edges, got {bins!r}"
    if isinstance(bins, (int, np.integer)) and not isinstance(bins, bool):
        if bins < 1:
            raise ValueError(message)
        if len(concurrency) == 0:
            return np.zeros(0)
        lo, hi = float(np.min(concurrency)), float(np.max(concurrency))
        if lo == hi:
            lo, hi = lo - 0.5, hi + 0.5
        return np.linspace(lo, hi, int(bins) + 1)
    try:
        edges = np.asarray(list(bins), dtype=float)
    except (TypeError, ValueError):
        raise ValueError(message) from None
    if len(edges) < 2 or not np.all(np.diff(edges) > 0) or not np.isfinite(edges).all():
        raise ValueError(message)
    return edges


def _bin_index(concurrency: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Bin of each value (the last bin includes its right edge); -1 outside the edges."""
    if len(edges) < 2:
        return np.full(len(concurrency), -1, dtype=np.int64)
    index = np.searchsorted(edges, concurrency, side="right") - 1
    index = np.where(concurrency == edges[-1], len(edges) - 2, index)
    outside = ~((concurrency >= edges[0]) & (concurrency <= edges[-1]))
    return np.where(outside, -1, index).astype(np.int64)


def _bins_table(
    codes: np.ndarray,
    conc: np.ndarray,
    values: np.ndarray,
    edges: np.ndarray,
    percentiles: tuple[float, ...],
) -> pd.DataFrame:
    n_bins = max(len(edges) - 1, 0)
    index = _bin_index(conc, edges)
    inside = index >= 0
    index, values, codes = index[inside], values[inside], codes[inside]
    out = pd.DataFrame(
        {"bin_left": edges[:-1], "bin_right": edges[1:]}
        if n_bins
        else {"bin_left": np.zeros(0), "bin_right": np.zeros(0)}
    )
    out["concurrency_mid"] = (out["bin_left"] + out["bin_right"]) / 2
    out["count"] = np.bincount(index, minlength=n_bins)[:n_bins].astype(np.int64)
    pairs = (
        np.unique(np.c_[index, codes], axis=0) if len(index) else np.zeros((0, 2), dtype=np.int64)
    )
    out["n_calls"] = np.bincount(pairs[:, 0], minlength=n_bins)[:n_bins].astype(np.int64)
    quantiles = _grouped_quantiles(index, values, n_bins, [p / 100 for p in percentiles])
    for j, p in enumerate(percentiles):
        out[percentile_label(p)] = quantiles[:, j]
    return out


def concurrency_bins(
    frames: CallFrames,
    *,
    metric: str = "response_ms",
    run: str | None = None,
    bins: int | Sequence[float] = 10,
    percentiles: Sequence[float] = (50, 95),
    key: str = "run_id",
    include_flagged: bool = False,
) -> pd.DataFrame:
    """Percentiles of a metric in bins of ``concurrency_at_dispatch``.

    Parameters
    ----------
    frames : CallFrames
    metric, run, key, include_flagged
        As for :func:`concurrency_frame`.
    bins : int or sequence of float, default 10
        Number of equal-width bins over the observed concurrency range, or the bin edges. Bins
        hold ``left <= concurrency < right``; the last one also its right edge.
    percentiles : sequence of float, default (50, 95)

    Returns
    -------
    pandas.DataFrame
        One row per bin, empty bins included: ``bin_left, bin_right, concurrency_mid, count``
        (values), ``n_calls`` and one ``p<value>`` column per percentile (NaN for empty bins).
    """
    pcts = _percentiles(percentiles)
    calls = _Calls(frames)
    codes, _, conc, values = _concurrency_rows(calls, metric, run, key, include_flagged)
    edges = _edges(conc, bins)
    return _bins_table(codes, conc, values, edges, pcts)


# --------------------------------------------------------------------------------------------------
# Bootstrap over calls
# --------------------------------------------------------------------------------------------------
#
# A resample of calls gives each call a multiplicity (how often it was drawn) and each row its
# call's multiplicity as a weight. Ranks, percentiles and correlations of the resample are then
# weighted statistics of the original rows, computed for a batch of resamples at once with one
# sort done up front: no per-resample sorting or Python loop over calls.


def _call_weights(rng: np.random.Generator, n_calls: int, size: int) -> np.ndarray:
    """Multiplicities of ``size`` resamples (with replacement) of ``n_calls`` calls."""
    picks = rng.integers(0, n_calls, size=(size, n_calls))
    flat = (np.arange(size)[:, None] * n_calls + picks).ravel()
    return np.bincount(flat, minlength=size * n_calls).reshape(size, n_calls).astype(float)


def _chunks(n_rows: int, n_boot: int, budget: int = 1_500_000) -> list[int]:
    per = max(1, budget // max(n_rows, 1))
    return [min(per, n_boot - i) for i in range(0, n_boot, per)]


def _rank_plan(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sort order, start of each run of ties, and each sorted row's tie group."""
    order = np.argsort(x, kind="stable")
    xs = x[order]
    new = np.r_[True, xs[1:] != xs[:-1]] if len(xs) else np.zeros(0, dtype=bool)
    return order, np.flatnonzero(new), np.cumsum(new) - 1


def _weighted_ranks(
    weights: np.ndarray, plan: tuple[np.ndarray, np.ndarray, np.ndarray]
) -> np.ndarray:
    """Average ranks (ties averaged) of every row in each weighted resample, shape of ``weights``."""
    order, starts, tie = plan
    per_value = np.add.reduceat(weights[:, order], starts, axis=1)
    below = np.cumsum(per_value, axis=1) - per_value
    ranks = np.empty_like(weights)
    ranks[:, order] = (below + (per_value + 1) / 2)[:, tie]
    return ranks


def _weighted_pearson(weights: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    total = weights.sum(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        da = a - (weights * a).sum(axis=1, keepdims=True) / total
        db = b - (weights * b).sum(axis=1, keepdims=True) / total
        r = (weights * da * db).sum(axis=1) / np.sqrt(
            (weights * da * da).sum(axis=1) * (weights * db * db).sum(axis=1)
        )
    r[~np.isfinite(r)] = np.nan
    return np.clip(r, -1.0, 1.0)


def _spearman(weights: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Spearman's rho (Pearson on average ranks) of each weighted resample."""
    return _weighted_pearson(
        weights, _weighted_ranks(weights, _rank_plan(x)), _weighted_ranks(weights, _rank_plan(y))
    )


def _segment_quantiles(
    weights: np.ndarray, segment: np.ndarray, values: np.ndarray, n_segments: int, q: float
) -> tuple[np.ndarray, np.ndarray]:
    """Weighted ``q``-quantile and weight of each segment in each resample.

    Row ``j`` of resample ``b`` counts ``weights[b, j]`` times; the quantile interpolates linearly
    as :func:`numpy.quantile` would on the expanded sample. Rows with ``segment < 0`` are ignored.
    Returns two arrays of shape ``(n_resamples, n_segments)`` (quantile NaN where a segment is empty).
    """
    size = weights.shape[0]
    use = np.flatnonzero(segment >= 0)
    order = use[np.lexsort((values[use], segment[use]))]
    seg, vals = segment[order], values[order]
    w = weights[:, order]
    n = len(order)
    cum = np.concatenate([np.zeros((size, 1)), np.cumsum(w, axis=1)], axis=1)  # weight before j
    first = np.searchsorted(seg, np.arange(n_segments), side="left")
    last = np.searchsorted(seg, np.arange(n_segments), side="right")
    base = cum[:, first]
    count = cum[:, last] - base
    quantile = np.full((size, n_segments), np.nan)
    if n == 0:
        return quantile, count
    present = count > 0
    pos = np.where(present, (count - 1) * q, 0.0)
    lo = np.floor(pos)
    frac = pos - lo
    hi = np.minimum(lo + 1, np.maximum(count - 1, 0))
    # expanded index k sits at the first row whose cumulative weight exceeds k
    stride = float(cum[:, -1].max()) + 1.0
    flat = (cum[:, 1:] + np.arange(size)[:, None] * stride).ravel()
    shift = np.arange(size)[:, None] * stride

    def at(k: np.ndarray) -> np.ndarray:
        where = np.searchsorted(flat, (base + k + shift).ravel(), side="right")
        column = np.clip(where.reshape(size, n_segments) - np.arange(size)[:, None] * n, 0, n - 1)
        return vals[column]

    v_lo, v_hi = at(lo), at(hi)
    quantile[present] = (v_lo + (v_hi - v_lo) * frac)[present]
    return quantile, count


def _check_boot(n_boot: Any, ci: Any) -> int:
    n_boot = _int_option("n_boot", n_boot)
    ok = isinstance(ci, (int, float, np.floating)) and not isinstance(ci, bool)
    if not ok or not 0 < ci < 1:
        raise ValueError(f"ci must be a confidence level between 0 and 1 (e.g. 0.95), got {ci!r}")
    return n_boot


def concurrency_correlation(
    frames: CallFrames,
    *,
    metric: str = "response_ms",
    run: str | None = None,
    n_boot: int = 1000,
    seed: int = 0,
    ci: float = 0.95,
    key: str = "run_id",
    include_flagged: bool = False,
) -> pd.DataFrame:
    """Spearman correlation between ``concurrency_at_dispatch`` and a metric, with a bootstrap CI.

    Spearman's rho is Pearson's correlation of the average ranks. The confidence interval is a
    percentile bootstrap that resamples *calls* (with all their turns), since the turns of one call
    share its load and are not independent.

    Parameters
    ----------
    frames : CallFrames
    metric, run, key, include_flagged
        As for :func:`concurrency_frame`.
    n_boot : int, default 1000
        Bootstrap resamples (0: no interval).
    seed : int, default 0
        Seed of the resampling.
    ci : float, default 0.95
        Confidence level of the interval.

    Returns
    -------
    pandas.DataFrame
        One row: ``metric, n`` (values), ``n_calls, spearman_rho, ci_low, ci_high, ci``.
    """
    n_boot = _check_boot(n_boot, ci)
    metric = _metric_name(metric)
    calls = _Calls(frames)
    codes, _, x, y = _concurrency_rows(calls, metric, run, key, include_flagged)
    n_rows = len(codes)
    local, unique = pd.factorize(codes)
    rho = low = high = float("nan")
    if n_rows >= 2:
        rho = float(_spearman(np.ones((1, n_rows)), x, y)[0])
    if n_boot and n_rows >= 2 and np.isfinite(rho):
        rng = np.random.default_rng(seed)
        plan_x, plan_y = _rank_plan(x), _rank_plan(y)
        boots = []
        for size in _chunks(n_rows, n_boot):
            weights = _call_weights(rng, len(unique), size)[:, local]
            boots.append(
                _weighted_pearson(
                    weights, _weighted_ranks(weights, plan_x), _weighted_ranks(weights, plan_y)
                )
            )
        values = np.concatenate(boots)
        values = values[np.isfinite(values)]
        if len(values):
            alpha = (1 - ci) / 2
            low, high = (float(v) for v in np.quantile(values, [alpha, 1 - alpha]))
    return pd.DataFrame(
        {
            "metric": [metric],
            "n": [n_rows],
            "n_calls": [len(unique)],
            "spearman_rho": [rho],
            "ci_low": [low],
            "ci_high": [high],
            "ci": [float(ci)],
        }
    )


# --------------------------------------------------------------------------------------------------
# The knee
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Knee:
    """Where a load test's latency percentile leaves its low-load baseline; see :func:`find_knee`.

    Attributes
    ----------
    concurrency : float or None
        The knee, in concurrent calls; None when the percentile does not exceed the threshold for
        good (or there is too little data).
    ci_low, ci_high : float
        Bootstrap confidence interval of the knee (NaN without one).
    baseline_ms : float
        The percentile of the metric over the low-load bins.
    threshold_ms : float
        ``baseline_ms * (1 + margin)``.
    percentile : float
    margin : float
    metric : str
    ci : float
        Confidence level of ``ci_low``/``ci_high``.
    n_boot : int
        Bootstrap resamples drawn.
    n_boot_with_knee : int
        Resamples in which a knee was found; the interval is taken over those.
    bins : pandas.DataFrame
        :func:`concurrency_bins`' table for the percentile, plus ``baseline`` (the bin is part of
        the low-load baseline) and ``above`` (its percentile exceeds the threshold).
    """

    concurrency: float | None
    ci_low: float
    ci_high: float
    baseline_ms: float
    threshold_ms: float
    percentile: float
    margin: float
    metric: str
    ci: float = 0.95
    n_boot: int = 0
    n_boot_with_knee: int = 0
    bins: pd.DataFrame = field(default_factory=pd.DataFrame, compare=False, repr=False)

    def __str__(self) -> str:
        name = f"{percentile_label(self.percentile)} {self.metric}"
        if not np.isfinite(self.baseline_ms):
            return f"{name}: not enough data to find a knee"
        baseline = f"the low-load baseline ({self.baseline_ms:,.0f} ms)"
        if self.concurrency is None:
            top = float(self.bins["bin_right"].max()) if len(self.bins) else float("nan")
            upto = f" up to concurrency {top:,.0f}" if np.isfinite(top) else ""
            return f"{name} stays within {self.margin:.0%} of {baseline}{upto}: no knee"
        text = (
            f"{name} exceeds {baseline} by {self.margin:.0%} "
            f"from concurrency {self.concurrency:,.0f}"
        )
        if np.isfinite(self.ci_low) and np.isfinite(self.ci_high):
            text += f" ({self.ci:.0%} CI {self.ci_low:,.0f}–{self.ci_high:,.0f})"
        return text


def _knee_in(
    p: np.ndarray,
    counts: np.ndarray,
    mids: np.ndarray,
    lefts: np.ndarray,
    is_base: np.ndarray,
    threshold: float,
    min_count: int,
) -> float | None:
    """The knee of binned percentiles ``p`` against ``threshold`` (see :func:`find_knee`)."""
    usable = (counts >= min_count) & np.isfinite(p)
    candidates = np.flatnonzero(usable & ~is_base)
    if not len(candidates) or not np.isfinite(threshold):
        return None
    above = p[candidates] > threshold
    if not above[-1]:
        return None
    below = np.flatnonzero(~above)
    i = candidates[below[-1] + 1 if len(below) else 0]
    previous = np.flatnonzero(usable[:i])
    if not len(previous):
        return float(lefts[i])
    k = previous[-1]
    if p[i] <= p[k]:
        return float(mids[i])
    frac = min(max((threshold - p[k]) / (p[i] - p[k]), 0.0), 1.0)
    return float(mids[k] + frac * (mids[i] - mids[k]))


def find_knee(
    frames: CallFrames,
    *,
    metric: str = "response_ms",
    percentile: float = 95,
    margin: float = 0.5,
    run: str | None = None,
    bins: int | Sequence[float] | None = None,
    baseline_fraction: float = 0.25,
    min_count: int = 5,
    n_boot: int = 200,
    seed: int = 0,
    ci: float = 0.95,
    key: str = "run_id",
    include_flagged: bool = False,
) -> Knee:
    """The lowest concurrency from which a latency percentile stays above its low-load baseline.

    1. The metric's values (:func:`concurrency_frame`) are binned by ``concurrency_at_dispatch``
       and the ``percentile`` is taken in each bin.
    2. The **baseline** is the same percentile over the pooled values of the low-load bins: those
       whose midpoint lies in the lowest ``baseline_fraction`` of the concurrency range (at least
       the first non-empty bin). The threshold is ``baseline * (1 + margin)``.
    3. The **knee** is where the binned percentile crosses the threshold for good: the first bin
       after the baseline from which every bin (with at least ``min_count`` values) is above the
       threshold. Its concurrency is interpolated linearly, at the threshold, between the
       midpoints of the last bin below and the first bin above.
    4. The confidence interval resamples calls (each with all its turns) ``n_boot`` times, redoes
       2-3 with the same bin edges and takes the percentile interval of the knees found.

    Parameters
    ----------
    frames : CallFrames
    metric : str, default "response_ms"
        As for :func:`concurrency_frame`.
    percentile : float, default 95
    margin : float, default 0.5
        How far above the baseline counts as degraded (0.5 = 50 %).
    run : str, optional
        The load-test run (``metadata[key]``); default: every call with a concurrency.
    bins : int or sequence of float, optional
        Bins or bin edges; default: one bin per ~50 calls, between 5 and 20 bins.
    baseline_fraction : float, default 0.25
        Share of the concurrency range, from the bottom, whose bins form the baseline.
    min_count : int, default 5
        Bins with fewer values are skipped.
    n_boot : int, default 200
        Bootstrap resamples (0: no interval).
    seed : int, default 0
    ci : float, default 0.95
    key : str, default "run_id"
    include_flagged : bool, default False

    Returns
    -------
    Knee
        ``str(knee)`` reads e.g. "p95 response_ms exceeds the low-load baseline (1,420 ms) by 50%
        from concurrency 58 (95% CI 52–64)".

    Raises
    ------
    ValueError
        An invalid option (metric, run, percentile, margin, bins...).
    """
    pcts = _percentiles(percentile)
    if len(pcts) != 1:
        raise ValueError(f"percentile must be one number between 0 and 100, got {percentile!r}")
    pct = pcts[0]
    q = pct / 100
    margin = _number_option("margin", margin, positive=True)
    ok = isinstance(baseline_fraction, (int, float)) and not isinstance(baseline_fraction, bool)
    if not ok or not 0 < baseline_fraction < 1:
        raise ValueError(f"baseline_fraction must be between 0 and 1, got {baseline_fraction!r}")
    min_count = _int_option("min_count", min_count, minimum=1)
    n_boot = _check_boot(n_boot, ci)
    metric = _metric_name(metric)
    calls = _Calls(frames)
    codes, _, conc, values = _concurrency_rows(calls, metric, run, key, include_flagged)
    if bins is None:
        bins = int(min(20, max(5, len(np.unique(codes)) // 50)))
    edges = _edges(conc, bins)
    table = _bins_table(codes, conc, values, edges, (pct,))
    label = percentile_label(pct)
    nan = float("nan")
    if table.empty or not table["count"].any():
        table = table.assign(baseline=False, above=False)
        return Knee(None, nan, nan, nan, nan, pct, margin, metric, float(ci), n_boot, 0, table)

    mids = table["concurrency_mid"].to_numpy()
    lefts = table["bin_left"].to_numpy()
    is_base = mids <= edges[0] + baseline_fraction * (edges[-1] - edges[0])
    is_base[: int(np.flatnonzero(table["count"].to_numpy() > 0)[0]) + 1] = True
    index = _bin_index(conc, edges)
    base_rows = (index >= 0) & is_base[np.maximum(index, 0)]
    baseline = float(np.quantile(values[base_rows], q)) if base_rows.any() else nan
    threshold = baseline * (1 + margin)
    p = table[label].to_numpy()
    knee = _knee_in(p, table["count"].to_numpy(), mids, lefts, is_base, threshold, min_count)

    low = high = nan
    found: list[float] = []
    if n_boot and len(codes) >= 2:
        local, unique = pd.factorize(codes)
        rng = np.random.default_rng(seed)
        n_bins = len(table)
        base_segment = np.where(base_rows, 0, -1)
        for size in _chunks(len(codes), n_boot):
            weights = _call_weights(rng, len(unique), size)[:, local]
            b_p, b_counts = _segment_quantiles(weights, index, values, n_bins, q)
            b_base, _ = _segment_quantiles(weights, base_segment, values, 1, q)
            for j in range(size):
                k = _knee_in(
                    b_p[j],
                    b_counts[j],
                    mids,
                    lefts,
                    is_base,
                    b_base[j, 0] * (1 + margin),
                    min_count,
                )
                if k is not None:
                    found.append(k)
        if found:
            alpha = (1 - ci) / 2
            low, high = (float(v) for v in np.quantile(found, [alpha, 1 - alpha]))
    table = table.assign(baseline=is_base, above=np.nan_to_num(p, nan=-np.inf) > threshold)
    return Knee(
        concurrency=knee,
        ci_low=low,
        ci_high=high,
        baseline_ms=baseline,
        threshold_ms=threshold,
        percentile=pct,
        margin=margin,
        metric=metric,
        ci=float(ci),
        n_boot=n_boot,
        n_boot_with_knee=len(found),
        bins=table,
    )
