"""When did a fleet time series shift, and what got slower: small pure functions on fleet results.

Change points
-------------
:func:`change_points` finds shifts in the mean level of a daily series (e.g. a component's daily
p50) with PELT (``ruptures``, least-squares cost). The penalty is a BIC-style
``3 * sigma**2 * log(n)``, where ``sigma`` is the series' noise estimated robustly from day-to-day
differences (median absolute deviation / 0.6745 / sqrt(2)), so a shift must stand well clear of the
day-to-day noise; segments are at least ``min_size`` days long.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from ..scope.rules import MIN_CALLS
from .fleet import traffic_conditions

__all__ = [
    "agent_names",
    "change_points",
    "component_changes",
    "group_calls",
    "slower",
    "slowest_calls",
]


def change_points(
    values: Sequence[float] | pd.Series, *, min_size: int = 3, penalty: float | None = None
) -> list[int]:
    """Positions where the mean level of ``values`` shifts.

    Parameters
    ----------
    values : sequence of float or Series
        One value per period, in time order; missing values are skipped (positions still refer
        to ``values``).
    min_size : int, default 3
        Shortest segment, in periods.
    penalty : float, optional
        PELT penalty; default ``3 * sigma**2 * log(n)`` (see the module docstring).

    Returns
    -------
    list of int
        Positions ``i`` such that a new level starts at ``values[i]``; empty when the series is
        too short (fewer than ``2 * min_size`` known values) or flat.
    """
    import ruptures as rpt

    x = np.asarray(pd.Series(values, dtype="float64").to_numpy(dtype=float, na_value=np.nan))
    known = np.flatnonzero(np.isfinite(x))
    if len(known) < 2 * min_size:
        return []
    signal = x[known]
    if penalty is None:
        diffs = np.diff(signal)
        mad = np.median(np.abs(diffs - np.median(diffs)))
        sigma = mad / 0.6745 / np.sqrt(2)
        if sigma == 0:
            sigma = np.std(diffs) / np.sqrt(2)
        if sigma == 0:
            return []
        penalty = 3 * sigma**2 * np.log(len(signal))
    breaks = rpt.Pelt(model="l2", min_size=min_size, jump=1).fit(signal).predict(pen=penalty)
    return [int(known[b]) for b in breaks[:-1]]


def slower(
    latency: pd.DataFrame,
    *,
    by: str,
    since: Any,
    stat: str = "p50",
    calls: pd.DataFrame | None = None,
    min_calls: int = MIN_CALLS,
) -> pd.DataFrame:
    """Compare each group's latency from ``since`` on with before it.

    Parameters
    ----------
    latency : DataFrame
        A daily result of :meth:`~oneinbox_nb.dataset.Dataset.latency` with ``by``.
    by : str
        The grouping column (``"provider"``, ``"agent_id"``).
    since : date-like
        Start of the recent window (UTC).
    stat : str, default "p50"
        Which statistic of ``latency`` to compare.
    calls : DataFrame, optional
        Calls per day and group: ``period, <by>, [component], n_calls`` (:func:`group_calls`, or
        ``Dataset.call_volume(freq="day", by="agent_id")``). With it, a group whose window holds
        fewer than ``min_calls`` calls (on either side) gets no ratio: a claim needs enough calls.
    min_calls : int, default :data:`~oneinbox_nb.scope.MIN_CALLS`
        Fewest calls each window of a group needs.

    Returns
    -------
    pandas.DataFrame
        ``<by>, component, before, after, n_before, n_after, ratio``: the median over days of
        ``stat`` before ``since`` and from ``since`` on (ms), the calls in each window (``<NA>``
        without ``calls``; 0 for a window without any), and ``after / before``; NaN where a side
        has no day or too few calls. Sorted by ``ratio``, largest first.
    """
    start = _utc(since)
    if stat not in latency.columns or by not in latency.columns:
        raise ValueError(f"latency needs columns {by!r} and {stat!r}; pass Dataset.latency(by=...)")
    recent = latency["period"] >= start
    before = latency[~recent].groupby([by, "component"])[stat].median()
    after = latency[recent].groupby([by, "component"])[stat].median()
    out = pd.concat({"before": before, "after": after}, axis=1).reset_index()
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = out["after"] / out["before"]
    if calls is None:
        out["n_before"] = out["n_after"] = pd.array([pd.NA] * len(out), dtype="Int64")
    else:
        keys = [by, "component"] if "component" in calls.columns else [by]
        in_recent = calls["period"] >= start
        sizes = pd.concat(
            {
                "n_before": calls[~in_recent].groupby(keys)["n_calls"].sum(),
                "n_after": calls[in_recent].groupby(keys)["n_calls"].sum(),
            },
            axis=1,
        )
        out = out.join(sizes, on=keys)
        out[["n_before", "n_after"]] = out[["n_before", "n_after"]].fillna(0).astype("Int64")
        ratio = ratio.where(out[["n_before", "n_after"]].min(axis=1).to_numpy() >= min_calls)
    out["ratio"] = ratio.where(np.isfinite(ratio.astype(float)))
    out = out[[by, "component", "before", "after", "n_before", "n_after", "ratio"]]
    return out.sort_values("ratio", ascending=False, na_position="last").reset_index(drop=True)


def _utc(value: Any) -> pd.Timestamp:
    stamp = pd.Timestamp(value)
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")


def group_calls(dataset: Any, by: str = "provider") -> pd.DataFrame:
    """Production calls per day and group, for :func:`slower`'s minimum per group.

    Parameters
    ----------
    dataset : Dataset
        From :func:`oneinbox_nb.open_dataset`; counted by DuckDB in its files.
    by : {"provider", "agent_id"}
        ``"provider"``: per provider and event component (``eou_delay``, ``stt``, ``llm_ttft``,
        ``tts_ttfb``), the calls with a turn of that component's events, the provider taken as
        :meth:`~oneinbox_nb.dataset.Dataset.latency` takes it (the server aggregate's, else
        ``calls.provider_stt/llm/tts``). ``"agent_id"``: each agent's calls
        (``Dataset.call_volume(freq="day", by="agent_id")``).

    Returns
    -------
    pandas.DataFrame
        ``period`` (UTC day), ``<by>``, [``component``], ``n_calls``; load-test calls (the traffic
        rule) are not counted.

    Raises
    ------
    ValueError
        ``by`` is neither ``"provider"`` nor ``"agent_id"``.
    """
    if by == "agent_id":
        return dataset.call_volume(freq="day", by="agent_id")[["period", "agent_id", "n_calls"]]
    if by != "provider":
        raise ValueError(f"invalid by {by!r}; valid values: provider, agent_id")
    columns = set(dataset.sql("SELECT * FROM calls LIMIT 0").columns)
    key = dataset.run_key
    needed = "meta_run_id" if key == "run_id" else "metadata"
    production = traffic_conditions(key, table="c.")["production"] if needed in columns else "true"
    fallback = " ".join(
        f"WHEN '{component}' THEN c.provider_{column}"  # our own constants, never data
        for component, column in (("stt", "stt"), ("llm_ttft", "llm"), ("tts_ttfb", "tts"))
    )
    out = dataset.sql(
        f"""
        SELECT TRY_CAST(e.date AS DATE) AS period, e.type AS component,
               coalesce(a.provider, CASE e.type {fallback} END, 'unknown') AS provider,
               count(DISTINCT e.call_id) AS n_calls
        FROM events e JOIN calls c ON e.call_id = c.call_id
        LEFT JOIN components a ON e.call_id = a.call_id AND e.type = a.component
        WHERE e.type IN ('eou_delay', 'stt', 'llm_ttft', 'tts_ttfb') AND e.turn IS NOT NULL
          AND NOT coalesce(e.duplicate, false) AND {production}
        GROUP BY 1, 2, 3
        """
    )
    out["period"] = pd.to_datetime(out["period"]).dt.tz_localize("UTC")
    out["n_calls"] = out["n_calls"].astype("int64")
    return out[["period", "provider", "component", "n_calls"]]


def component_changes(
    latency: pd.DataFrame, components: Sequence[str]
) -> tuple[dict[str, pd.DataFrame], dict[str, list[int]]]:
    """Each component's daily rows of a :meth:`Dataset.latency` result, and its p50 change points.

    Parameters
    ----------
    latency : DataFrame
        ``period, component, count, p50, p95, mean`` rows.
    components : sequence of str
        The order to keep; components without rows are left out.

    Returns
    -------
    rows : dict of str to DataFrame
        Per component, its rows with a fresh index (so change points index them).
    points : dict of str to list of int
        Per component, :func:`change_points` of its ``p50``.
    """
    present = set(latency["component"])
    rows = {
        c: latency[latency["component"] == c].reset_index(drop=True)
        for c in components
        if c in present
    }
    return rows, {c: list(change_points(r["p50"])) for c, r in rows.items()}


def slowest_calls(dataset: Any, since: pd.Timestamp, n: int = 50) -> pd.DataFrame:
    """The ``n`` calls created from ``since`` on with the slowest turn, slowest first.

    Columns ``call_id, agent_id, created_at, max_response_ms, n_turns`` and ``meta_run_id`` when
    the dataset has it, and ``meta_<run key>`` (the metadata value, text) when the dataset's run
    key is another (so a reader can tell load-test calls apart). ``dataset`` is a
    :class:`~oneinbox_nb.dataset.Dataset`.
    """
    columns = set(dataset.sql("SELECT * FROM calls LIMIT 0").columns)
    run = ", meta_run_id" if "meta_run_id" in columns else ""
    key = dataset.run_key
    if key != "run_id" and "metadata" in columns:
        traffic_conditions(key)  # validates the key: a plain identifier, before it is put in SQL
        run += f", json_extract_string(metadata, '$.{key}') AS meta_{key}"
    return dataset.sql(
        f"SELECT call_id, agent_id, created_at, max_response_ms, n_turns{run} FROM calls "
        "WHERE created_at >= ? AND max_response_ms IS NOT NULL "
        f"ORDER BY max_response_ms DESC, call_id LIMIT {int(n)}",
        [since.to_pydatetime()],
    )


def agent_names(dataset: Any) -> dict[str, str]:
    """``agent_id -> agent_name`` as the dataset's calls recorded them."""
    sql = "SELECT DISTINCT agent_id, agent_name FROM calls WHERE agent_name IS NOT NULL"
    return dict(dataset.sql(sql).itertuples(index=False))
