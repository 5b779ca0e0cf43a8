"""Fleet-level questions over a whole call dataset, as SQL that DuckDB and Spark both run.

The queries are written once, in the SQL that both engines share (``TRY_CAST``, ``date_trunc``,
``CASE``, ``NULLIF``, ``coalesce``, window-free aggregates); the only dialect difference, the exact
percentile function, is filled in per engine (DuckDB ``quantile_cont``, Spark ``percentile``; both
interpolate linearly between order statistics, as :func:`numpy.percentile` and
:mod:`oneinbox_nb.analysis` do). Why plain SQL rather than Ibis: four aggregate queries with one
dialect difference do not justify a dependency that pins both backends' versions; the test
``tests/test_dataset_spark.py`` runs every query on both engines and compares the numbers.

Every query reads the views ``calls``, ``events`` and ``turns`` (de-duplicated by the engine, see
:mod:`oneinbox_nb.dataset.read`), whose ``date`` column is the UTC day of the call's ``created_at``
(the hive partition, ``unknown`` when missing), and aggregates inside the engine: nothing but the
result reaches pandas.

Exclusion rules (as :func:`oneinbox_nb.analysis.latency_percentiles`)
--------------------------------------------------------------------
* Component values are the events whose ``type`` is one of :data:`~oneinbox_nb.analysis.EVENT_COMPONENTS`,
  without duplicates (``events.duplicate``) and flagged ones: ``ms`` missing, negative or above
  :data:`~oneinbox_nb.frames.ABSURD_MS`, or ``has_problem``.
* ``response_ms`` values are the complete, unflagged turns ``>= 1`` (``turns.complete`` and not
  ``turns.flagged``) with a ``response_ms`` whose response components' sums are neither negative nor
  absurd.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import pandas as pd

from ..frames import ABSURD_MS

__all__ = ["ENGINES", "FREQS", "FleetQueries"]

#: Query engines: ``duckdb`` (embedded, the default) and ``spark`` (a ``SparkSession``).
ENGINES: tuple[str, ...] = ("duckdb", "spark")

#: Period lengths of the fleet time series.
FREQS: tuple[str, ...] = ("day", "week")

_QUANTILE = {"duckdb": "quantile_cont({x}, {q})", "spark": "percentile({x}, {q})"}
_BY = ("agent_id", "provider")


def _list(values: Sequence[str]) -> str:
    return ", ".join(f"'{v}'" for v in values)  # our own constants, never data


def _period(freq: str, table: str = "") -> str:
    day = f"TRY_CAST({table}date AS DATE)"
    if freq == "day":
        return day
    if freq == "week":
        return f"CAST(date_trunc('week', {day}) AS DATE)"
    raise ValueError(f"invalid freq {freq!r}; valid values: {', '.join(FREQS)}")


def _flagged_event(table: str = "") -> str:
    """An event whose value analysis leaves out (``table``: an alias with its dot, or "")."""
    ms = f"{table}ms"
    return (
        f"({ms} IS NULL OR {ms} < 0 OR {ms} > {ABSURD_MS!r} OR coalesce({table}has_problem, false))"
    )


class FleetQueries:
    """The fleet functions of a dataset on one engine.

    Parameters
    ----------
    run : callable
        Takes a SQL string and returns a pandas DataFrame (the engine's answer).
    engine : {"duckdb", "spark"}
        Which dialect to write.
    """

    def __init__(self, run: Callable[[str], pd.DataFrame], engine: str) -> None:
        if engine not in ENGINES:
            raise ValueError(f"invalid engine {engine!r}; valid values: {', '.join(ENGINES)}")
        self._run = run
        self.engine = engine

    def _q(self, x: str, q: float) -> str:
        return _QUANTILE[self.engine].format(x=x, q=repr(float(q)))

    # ---------------------------------------------------------------------------------------------

    def call_volume(self, *, freq: str = "day", by: str | None = None) -> pd.DataFrame:
        """Calls per period: how many, completed, failed, and the failure rate.

        Parameters
        ----------
        freq : {"day", "week"}
            UTC days, or ISO weeks (starting Monday) of ``created_at``.
        by : {"agent_id"}, optional
            Also group by agent.

        Returns
        -------
        pandas.DataFrame
            ``period, [agent_id], n_calls, n_completed, n_failed, failure_rate`` (``failed`` status
            over all calls of the group, a share 0-1), sorted; ``period`` is
            ``datetime64[ns, UTC]`` (NaT for calls without ``created_at``).
        """
        keys = self._keys(by, allowed=("agent_id",))
        sql = f"""
            SELECT {_period(freq)} AS period{keys.select},
                   count(*) AS n_calls,
                   sum(CASE WHEN status = 'completed' THEN 1 ELSE 0 END) AS n_completed,
                   sum(CASE WHEN status = 'failed' THEN 1 ELSE 0 END) AS n_failed
            FROM calls
            GROUP BY {_period(freq)}{keys.group}
        """
        out = self._frame(sql, ["period", *keys.names])
        out["failure_rate"] = out["n_failed"] / out["n_calls"]
        return out

    def latency(
        self,
        *,
        freq: str = "day",
        by: str | None = None,
        percentiles: Sequence[float] = (50, 95),
    ) -> pd.DataFrame:
        """Percentiles of each latency component and of ``response_ms`` per period.

        The same values and exclusions as :func:`oneinbox_nb.analysis.latency_percentiles` with
        ``by="day"`` (see the module docstring).

        Parameters
        ----------
        freq : {"day", "week"}
        by : {"agent_id", "provider"}, optional
            Also group by agent, or by provider: each event component's own provider (the server
            aggregate's, else ``calls.provider_stt/llm/tts``); ``kb``, ``tool`` and
            ``response_ms`` have none and are left out.
        percentiles : sequence of float, default (50, 95)

        Returns
        -------
        pandas.DataFrame
            ``period, [by], component, count, p50, p95, mean`` (ms), sorted by period, key, then
            components in the order of :data:`~oneinbox_nb.analysis.EVENT_COMPONENTS` and
            ``response_ms`` last.
        """
        # imported here so that `import oneinbox_nb` does not load analysis
        from ..analysis import EVENT_COMPONENTS, percentile_label
        from ..analysis._options import _percentiles

        pcts = _percentiles(percentiles)
        keys = self._keys(by, allowed=_BY)
        _period(freq)  # validates freq
        if by == "provider":
            values = self._provider_values(freq)
        else:
            extra = ", c.agent_id AS agent_id" if by else ""
            join = "LEFT JOIN calls c ON v.call_id = c.call_id" if by else ""
            values = f"""
                SELECT v.period, v.component, v.value{extra}
                FROM ({self._component_values(freq)}) v {join}
            """
        stats = ", ".join(f"{self._q('value', p / 100)} AS q{i}" for i, p in enumerate(pcts))
        sql = f"""
            SELECT period{keys.select}, component, count(*) AS count, {stats},
                   avg(value) AS mean
            FROM ({values}) x
            GROUP BY period{keys.group}, component
        """
        out = self._frame(sql, ["period", *keys.names])
        out = out.rename(columns={f"q{i}": percentile_label(p) for i, p in enumerate(pcts)})
        order = {c: i for i, c in enumerate((*EVENT_COMPONENTS, "response_ms"))}
        out = out.sort_values(
            ["period", *keys.names, "component"],
            key=lambda s: s.map(order) if s.name == "component" else s,
            na_position="last",
            kind="stable",
        ).reset_index(drop=True)
        return out[
            ["period", *keys.names, "component", "count", *map(percentile_label, pcts), "mean"]
        ]

    def cost(self, *, freq: str = "day", by: str | None = "agent_id") -> pd.DataFrame:
        """Calls, minutes, cost and credits per period (and agent).

        The columns and rules of :func:`oneinbox_nb.analysis.cost_by`: ``cost_cents`` sums the
        known costs (see ``n_with_cost``), rates use only calls whose cost and duration (credits)
        are known, ``p50/p95_cost_cents`` are over known costs.

        Parameters
        ----------
        freq : {"day", "week"}
        by : {"agent_id"} or None, default "agent_id"

        Returns
        -------
        pandas.DataFrame
            ``period, [agent_id], n_calls, n_with_cost, minutes, cost_cents (cents),
            credits_used (credits), cents_per_minute, cents_per_credit, mean_cost_cents,
            p50_cost_cents, p95_cost_cents``, sorted.
        """
        keys = self._keys(by, allowed=("agent_id",))
        period = _period(freq)
        rate_m = "cost_cents IS NOT NULL AND duration_seconds IS NOT NULL"
        rate_c = "cost_cents IS NOT NULL AND credits_used IS NOT NULL"
        sql = f"""
            SELECT {period} AS period{keys.select},
                   count(*) AS n_calls,
                   count(cost_cents) AS n_with_cost,
                   coalesce(sum(duration_seconds / 60.0), 0.0) AS minutes,
                   coalesce(sum(CAST(cost_cents AS DOUBLE)), 0.0) AS cost_cents,
                   coalesce(sum(credits_used), 0.0) AS credits_used,
                   sum(CASE WHEN {rate_m} THEN CAST(cost_cents AS DOUBLE) END)
                     / NULLIF(sum(CASE WHEN {rate_m} THEN duration_seconds / 60.0 END), 0.0)
                     AS cents_per_minute,
                   sum(CASE WHEN {rate_c} THEN CAST(cost_cents AS DOUBLE) END)
                     / NULLIF(sum(CASE WHEN {rate_c} THEN credits_used END), 0.0)
                     AS cents_per_credit,
                   avg(CAST(cost_cents AS DOUBLE)) AS mean_cost_cents,
                   {self._q("CAST(cost_cents AS DOUBLE)", 0.5)} AS p50_cost_cents,
                   {self._q("CAST(cost_cents AS DOUBLE)", 0.95)} AS p95_cost_cents
            FROM calls
            GROUP BY {period}{keys.group}
        """
        return self._frame(sql, ["period", *keys.names])

    # ---------------------------------------------------------------------------------------------

    def _component_values(self, freq: str) -> str:
        from ..analysis import EVENT_COMPONENTS, RESPONSE_COMPONENTS

        period = _period(freq)
        flagged_response = " OR ".join(
            f"coalesce({c}_ms < 0 OR {c}_ms > {ABSURD_MS!r}, false)" for c in RESPONSE_COMPONENTS
        )
        return f"""
            SELECT call_id, {period} AS period, type AS component, ms AS value
            FROM events
            WHERE type IN ({_list(EVENT_COMPONENTS)}) AND NOT {_flagged_event()}
              AND NOT coalesce(duplicate, false)
            UNION ALL
            SELECT t.call_id, {_period(freq, "t.")} AS period,
                   'response_ms' AS component, t.response_ms AS value
            FROM turns t
            WHERE t.turn >= 1 AND t.response_ms IS NOT NULL
              AND coalesce(t.complete, false) AND NOT coalesce(t.flagged, false)
              AND NOT ({flagged_response})
        """

    def _provider_values(self, freq: str) -> str:
        fallback = " ".join(
            f"WHEN '{component}' THEN c.provider_{column}"
            for component, column in (("stt", "stt"), ("llm_ttft", "llm"), ("tts_ttfb", "tts"))
        )
        return f"""
            SELECT {_period(freq, "e.")} AS period, e.type AS component,
                   e.ms AS value,
                   coalesce(a.provider, CASE e.type {fallback} END, 'unknown') AS provider
            FROM events e
            LEFT JOIN components a ON e.call_id = a.call_id AND e.type = a.component
            LEFT JOIN calls c ON e.call_id = c.call_id
            WHERE e.type IN ('eou_delay', 'stt', 'llm_ttft', 'tts_ttfb')
              AND NOT {_flagged_event("e.")} AND NOT coalesce(e.duplicate, false)
        """

    class _Keys:
        def __init__(self, names: list[str]) -> None:
            self.names = names
            self.select = "".join(f", {n}" for n in names)
            self.group = self.select

    def _keys(self, by: str | None, *, allowed: Sequence[str]) -> FleetQueries._Keys:
        if by is None:
            return self._Keys([])
        if by not in allowed:
            raise ValueError(f"invalid by {by!r}; valid values: None, {', '.join(allowed)}")
        return self._Keys([by])

    def _frame(self, sql: str, keys: list[str]) -> pd.DataFrame:
        out = self._run(sql)
        out["period"] = pd.to_datetime(out["period"]).dt.tz_localize("UTC")
        for key in keys[1:]:
            out[key] = out[key].astype(object).where(out[key].notna(), None)
        for column in out.columns:
            if column not in keys and column != "component":
                out[column] = pd.to_numeric(out[column]).astype(
                    "int64" if column.startswith("n_") or column == "count" else "float64"
                )
        return out.sort_values(keys, na_position="last", kind="stable").reset_index(drop=True)
