"""The frames as integer codes: calls, their latency events, turns and providers (private).

Shared plumbing of :mod:`~oneinbox_nb.analysis`: :class:`_Calls` maps every table's ``call_id`` to
integer codes once, so that joins and groupings run on integers; :func:`_events` and
:func:`_turns` give the latency events and turns on those codes with their ``flagged`` (and, for
turns, ``complete``) columns, :func:`_kept` the turns a statistic uses;
:func:`_call_key` and :func:`_providers` give each call's grouping keys. Small converters
(:func:`_floats`, :func:`_gather`, :func:`_factorize`, :func:`_empty`) sit at the top.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from ..frames import ABSURD_MS, RESPONSE_COMPONENTS, CallFrames

#: The latency event components: the six kinds of ``latency.events`` the analysis knows (``tool``
#: gathers ``tool:<name>`` and a bare ``tool``), in the order of a turn's waterfall. Their
#: per-turn sums are the ``<component>_ms`` columns of ``turns``. The server's aggregates cover
#: four of them: :data:`~oneinbox_nb.frames.AGGREGATE_COMPONENTS`; the response sums
#: :data:`~oneinbox_nb.frames.RESPONSE_COMPONENTS`.
EVENT_COMPONENTS: tuple[str, ...] = ("eou_delay", "stt", "kb", "tool", "llm_ttft", "tts_ttfb")


#: Which ``calls`` column holds each component's provider.
_PROVIDER_COLUMNS = {"stt": "provider_stt", "llm_ttft": "provider_llm", "tts_ttfb": "provider_tts"}

_RESPONSE = "response_ms"


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
        self.turns: pd.DataFrame | None = None  # memo of _turns(self)

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
    """Index of each event type in :data:`EVENT_COMPONENTS`, -1 for other types and missing ones."""
    if not isinstance(types.dtype, pd.CategoricalDtype):
        types = types.astype("category")
    categories = list(types.cat.categories)
    lookup = np.array(
        [EVENT_COMPONENTS.index(c) if c in EVENT_COMPONENTS else -1 for c in categories] + [-1]
    )
    return lookup[types.cat.codes.to_numpy()]


def _turn_numbers(values: Any) -> tuple[np.ndarray, np.ndarray]:
    """Turn numbers exactly as int64 (0 where unknown) and whether each is known.

    Integer columns (``Int64``) are read without a detour through float64, so two turns near
    2**63 stay two turns; a non-integral or out-of-range float is unknown.
    """
    series = values if isinstance(values, pd.Series) else pd.Series(values)
    if series.dtype == object:
        series = pd.to_numeric(series, errors="coerce")
    known = series.notna().to_numpy(dtype=bool)
    if pd.api.types.is_integer_dtype(series.dtype):
        return series.to_numpy(dtype=np.int64, na_value=0), known
    floats = series.to_numpy(dtype="float64", na_value=np.nan)
    with np.errstate(invalid="ignore"):
        known &= np.isfinite(floats) & (np.abs(floats) < 2.0**63) & (floats == np.floor(floats))
    return np.where(known, floats, 0).astype(np.int64), known


def _events(calls: _Calls, *, tools: bool = False, rows: np.ndarray | None = None) -> pd.DataFrame:
    """Latency events of a known component (only ``rows`` of ``events`` when given).

    Columns ``call`` (code), ``seq``, ``turn`` (float, NaN when unknown), ``turn_no`` (the exact
    int64 turn, 0 when unknown), ``comp`` (index in :data:`EVENT_COMPONENTS`), ``ms`` and
    ``flagged``; with ``tools``, also ``tool`` (labels). Events the frames mark as duplicates
    (``events.duplicate``: a double-logged value, outside every turn's sums) are left out.
    Memoised on ``calls`` for the default form.
    """
    cacheable = not tools and rows is None
    if cacheable and calls.events is not None:
        return calls.events
    events = calls.frames.events
    if rows is not None:
        events = events.iloc[rows]
    if events.empty:
        columns = ["call", "seq", "turn", "turn_no", "comp", "ms", "flagged"]
        out = pd.DataFrame({c: np.zeros(0, dtype=float) for c in columns + ["tool"] * tools})
        return out.astype(
            {"call": np.int64, "turn_no": np.int64, "comp": np.int64, "flagged": bool}
        )
    comp = _component_codes(events["type"])
    usable = comp >= 0
    if "duplicate" in events.columns:
        usable &= ~_bools(events["duplicate"])
    known = np.flatnonzero(usable)
    ms = _floats(events["ms"])[known]
    flagged = ~np.isfinite(ms) | (ms < 0) | (ms > ABSURD_MS)
    if "has_problem" in events.columns:
        flagged |= _bools(events["has_problem"])[known]
    seq = _floats(events["seq"])[known] if "seq" in events.columns else known.astype(float)
    turn_no, turn_known = (a[known] for a in _turn_numbers(events["turn"]))
    out = pd.DataFrame(
        {
            "call": calls.codes(events["call_id"].iloc[known]),
            "seq": seq,
            "turn": np.where(turn_known, turn_no.astype(float), np.nan),
            "turn_no": turn_no,
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


def _pair_keys(
    call: np.ndarray, turn_no: np.ndarray, known: np.ndarray, *more: np.ndarray
) -> list[np.ndarray]:
    """One int64 key per (call code, exact turn), -1 where the turn is unknown.

    ``more`` holds further ``(call, turn_no, known)`` triples keyed in the same space. The turn
    numbers are factorised (dense codes), never multiplied: a turn near 2**63 is as good as
    turn 1, and two calls' turns never share a key.
    """
    triples = [(call, turn_no, known), *zip(more[0::3], more[1::3], more[2::3], strict=True)]
    present = np.concatenate([t[1][t[2]] for t in triples]) if triples else np.zeros(0)
    codes, uniques = pd.factorize(present)
    width = max(len(uniques), 1)
    out, at = [], 0
    for c, _, ok in triples:
        key = np.full(len(c), -1, dtype=np.int64)
        n = int(ok.sum())
        key[ok] = np.asarray(c, dtype=np.int64)[ok] * width + codes[at : at + n]
        at += n
        out.append(key)
    return out


def _per_turn(keys: np.ndarray, event_keys: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Per turn key: does one of the events selected by ``mask`` belong to that turn?"""
    chosen = event_keys[mask]
    return np.isin(keys, chosen[chosen >= 0]) & (keys >= 0)


def _turns(calls: _Calls) -> pd.DataFrame:
    """The turns table on codes, every turn of ``frames.turns`` (memoised on ``calls``).

    Columns ``call``, ``turn`` (float, NaN when unknown), ``turn_no`` (exact int64),
    ``<component>_ms`` for every :data:`EVENT_COMPONENTS`,
    ``response_ms``; per component ``has_<component>`` (the turn has at least one of its
    non-duplicate events: the component rule, see :func:`_component_rows`) and
    ``flagged_<component>`` (one of those events is flagged: missing, negative or absurd ``ms``,
    or ``has_problem``; two long tool calls may sum past :data:`ABSURD_MS` and still count);
    ``flagged`` (the turn as a whole, for response statistics: ``turns.flagged`` when the frames
    have it, else one of its latency events is flagged, or a response part is out of range) and
    ``complete`` (``turns.complete``, else: the turn has an ``llm_ttft`` and a ``tts_ttfb``
    event). Filter with :func:`_kept` (response) or :func:`_component_rows`.
    """
    if calls.turns is not None:
        return calls.turns
    turns = calls.frames.turns
    n = len(turns)
    turn_no, turn_known = _turn_numbers(turns["turn"]) if n else (np.zeros(0, np.int64),) * 2
    turn_known = np.asarray(turn_known, dtype=bool)
    call = calls.codes(turns["call_id"]) if n else np.zeros(0, dtype=np.int64)
    out: dict[str, Any] = {
        "call": call,
        "turn": np.where(turn_known, turn_no.astype(float), np.nan),
        "turn_no": turn_no,
    }
    for name in (*(f"{c}_ms" for c in EVENT_COMPONENTS), _RESPONSE):
        out[name] = _floats(turns[name]) if name in turns.columns and n else np.zeros(n)
    events = _events(calls)
    comp = events["comp"].to_numpy()
    per_turn = _turn_of_events(call, turn_no, turn_known, events)
    flagged_events = events["flagged"].to_numpy()
    bad = np.zeros(n, dtype=bool)
    for k, c in enumerate(EVENT_COMPONENTS):
        with np.errstate(invalid="ignore"):
            out_of_range = (out[f"{c}_ms"] < 0) | (out[f"{c}_ms"] > ABSURD_MS)
        mine = comp == k
        out[f"has_{c}"] = per_turn(mine)
        out[f"flagged_{c}"] = per_turn(mine & flagged_events)  # its events, as the fleet SQL
        if c in RESPONSE_COMPONENTS:
            bad |= out_of_range
    bad |= _bools(turns["flagged"]) if "flagged" in turns.columns else per_turn(flagged_events)
    out["flagged"] = bad
    if "complete" in turns.columns:
        out["complete"] = _bools(turns["complete"])
    else:
        out["complete"] = out["has_llm_ttft"] & out["has_tts_ttfb"]
    calls.turns = pd.DataFrame(out, copy=False)  # no consolidation copy of ~30 columns
    return calls.turns


def _turn_of_events(
    call: np.ndarray, turn_no: np.ndarray, known: np.ndarray, events: pd.DataFrame
) -> Any:
    """A function ``mask -> per turn: does one of the events selected by mask belong to it?``.

    Each event is matched to its turn's row once (exact keys, :func:`_pair_keys`); a selection
    is then one ``bincount``. Turns repeated in the table fall back to a set lookup.
    """
    keys, event_keys = _pair_keys(
        call,
        turn_no,
        known,
        events["call"].to_numpy(),
        events["turn_no"].to_numpy(),
        np.isfinite(events["turn"].to_numpy()),
    )
    n = len(keys)
    distinct = np.where(keys >= 0, keys, -1 - np.arange(n))  # unknown turns match nothing
    index = pd.Index(distinct)
    if not index.is_unique:
        return lambda mask: _per_turn(keys, event_keys, mask)
    row = np.where(event_keys >= 0, index.get_indexer(event_keys), -1)

    def per_turn(mask: np.ndarray) -> np.ndarray:
        chosen = row[mask & (row >= 0)]
        return np.bincount(chosen, minlength=n)[:n] > 0

    return per_turn


def _turn_array(table: pd.DataFrame) -> Any:
    """The exact turn numbers of an :func:`_events` or :func:`_turns` table, as ``Int64``."""
    known = np.isfinite(table["turn"].to_numpy(dtype=float))
    return pd.arrays.IntegerArray(table["turn_no"].to_numpy(dtype=np.int64), ~known)


def _kept(turns: pd.DataFrame, *, include_flagged: bool, include_incomplete: bool) -> np.ndarray:
    """Which rows of :func:`_turns` a response statistic uses: unflagged, complete ones by default."""
    keep = np.ones(len(turns), dtype=bool)
    if not include_flagged:
        keep &= ~turns["flagged"].to_numpy(dtype=bool)
    if not include_incomplete:
        keep &= turns["complete"].to_numpy(dtype=bool)
    return keep


def _component_rows(
    turns: pd.DataFrame, component: str, *, include_flagged: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """The component rule: which rows of :func:`_turns` are values of ``component``, and which
    candidates were left out.

    A turn is a value of a component when it has at least one (non-duplicate) event of it: its
    value is the sum of those events. A turn without them is *not* a value (never 0 ms); a turn
    flagged for the component is left out (counted in the second mask) unless
    ``include_flagged``. Every turn counts, greeting and incomplete ones included: a component's
    time does not depend on whether the response reached the caller. Returns ``(kept, left_out)``.
    """
    has = turns[f"has_{component}"].to_numpy(dtype=bool)
    values = turns[f"{component}_ms"].to_numpy(dtype=float)
    flagged = turns[f"flagged_{component}"].to_numpy(dtype=bool)
    kept = has & np.isfinite(values)
    if not include_flagged:
        kept &= ~flagged
    return kept, has & ~kept


# --------------------------------------------------------------------------------------------------
# Calls: keys and providers
# --------------------------------------------------------------------------------------------------


def _providers(calls: _Calls) -> np.ndarray:
    """Provider label per (component index, call code), shape ``(len(EVENT_COMPONENTS), n)``; None if unknown.

    The component's server aggregate provider wins over the ``calls.provider_*`` columns.
    """
    table = np.full((len(EVENT_COMPONENTS), calls.n), None, dtype=object)
    for component, column in _PROVIDER_COLUMNS.items():
        if column in calls.frames.calls.columns:
            values = calls.call_values(column)
            table[EVENT_COMPONENTS.index(component)] = np.where(
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
                [
                    table,
                    np.full((len(EVENT_COMPONENTS), calls.n - table.shape[1]), None, dtype=object),
                ],
                axis=1,
            )
        use = present & (comp >= 0) & (code >= 0)
        table[comp[use], code[use]] = provider.astype(object).to_numpy()[use]
    return table


def _setup_labels(providers: np.ndarray) -> np.ndarray:
    """Each call's provider setup ``"stt / llm / tts"`` (None when all three are unknown)."""
    rows = [providers[EVENT_COMPONENTS.index(c)] for c in ("stt", "llm_ttft", "tts_ttfb")]
    known = np.zeros(providers.shape[1], dtype=bool)
    for row in rows:
        known |= row != None  # noqa: E711 (elementwise)
    text = pd.Series(rows[0]).fillna("?").astype(str)
    for row in rows[1:]:
        text = text + " / " + pd.Series(row).fillna("?").astype(str)
    return np.where(known, text.to_numpy(dtype=object), None)


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
