"""The frames as integer codes: calls, their latency events, turns and providers (private).

Shared plumbing of :mod:`~oneinbox_nb.analysis`: :class:`_Calls` maps every table's ``call_id`` to
integer codes once, so that joins and groupings run on integers; :func:`_events` and
:func:`_turns` give the latency events and turns on those codes with their ``flagged`` column;
:func:`_call_key` and :func:`_providers` give each call's grouping keys. Small converters
(:func:`_floats`, :func:`_gather`, :func:`_factorize`, :func:`_empty`) sit at the top.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from ..frames import ABSURD_MS, CallFrames

#: Latency components, in the order they appear in a turn's waterfall.
COMPONENTS: tuple[str, ...] = ("eou_delay", "stt", "kb", "tool", "llm_ttft", "tts_ttfb")

#: Components summed into a turn's ``response_ms`` (``stt`` overlaps the caller's speech).
RESPONSE_COMPONENTS: tuple[str, ...] = ("eou_delay", "kb", "tool", "llm_ttft", "tts_ttfb")


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
