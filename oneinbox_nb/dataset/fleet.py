"""Fleet-level questions over a whole call dataset, as SQL that DuckDB and Spark both run.

The queries are written once, in the SQL that both engines share (``TRY_CAST``, ``date_trunc``,
``CASE``, ``NULLIF``, ``coalesce``, window-free aggregates); the only dialect difference, the exact
percentile function, is filled in per engine: one list-valued aggregate per query, DuckDB
``quantile_cont(x, [0.5, 0.95])``, Spark ``percentile(x, array(0.5, 0.95))`` (both interpolate
linearly between order statistics, as :func:`numpy.percentile` and :mod:`oneinbox_nb.analysis`
do), so every percentile of a group comes from one sort of its values and each table is scanned
once. Why plain SQL rather than Ibis: four aggregate queries with one
dialect difference do not justify a dependency that pins both backends' versions; the test
``tests/test_dataset_spark.py`` runs every query on both engines and compares the numbers.

Every query reads the views ``calls``, ``events`` and ``turns`` (de-duplicated by the engine, see
:mod:`oneinbox_nb.dataset.read`), whose ``date`` column is the UTC day of the call's ``created_at``
(the hive partition, ``unknown`` when missing), and aggregates inside the engine: nothing but the
result reaches pandas.

Which values count (the component rule, as :mod:`oneinbox_nb.analysis`)
----------------------------------------------------------------------
* A component's values come from TURNS that have at least one event of that component (``type``
  one of :data:`~oneinbox_nb.analysis.EVENT_COMPONENTS`): the turn's value is the sum of its events of
  that type that are not duplicates (``events.duplicate``): ``kb`` and ``tool`` sum, and so do the
  two ``llm_ttft`` steps of a knowledge-base turn. A turn without that component's events gives no
  value (never 0); events without a turn number belong to no turn. A turn flagged for that
  component (one of its events has ``ms`` missing, negative or above
  :data:`~oneinbox_nb.frames.ABSURD_MS`, or ``has_problem``) is left out.
* ``response_ms`` values are the complete, unflagged turns ``>= 1`` (``turns.complete`` and not
  ``turns.flagged``) with a ``response_ms`` whose response components' sums are neither negative
  nor absurd: interrupted turns never count as fast.

Traffic (the traffic rule)
--------------------------
A call is a load-test call when its metadata carries the dataset's run key (the one recorded at
sync, ``Dataset.account["run_key"]``, see :mod:`oneinbox_nb.dataset.account`; ``run_id`` when none
is recorded), otherwise production. For ``run_id`` the condition reads the promoted column
``calls.meta_run_id`` (see :mod:`oneinbox_nb.dataset.store`); for another key it reads the
``calls.metadata`` JSON text (DuckDB ``json_extract_string``, Spark ``get_json_object``), where a
blank value is no run, as in :func:`oneinbox_nb.scope.traffic_kind` (see
:func:`traffic_conditions`). Every fleet
function takes ``traffic``: ``"production"`` (the default: load-test calls left out),
``"load_test"`` or ``"all"``. Results say which in ``attrs``: ``traffic``, ``n_left_out`` (calls of
the dataset left out by the traffic rule) and ``scope`` (a sentence: ``"production calls; 1,000
load-test calls left out"``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence

import numpy as np
import pandas as pd

from ..exceptions import ConfigurationError
from ..frames import ABSURD_MS

__all__ = ["ENGINES", "FREQS", "TRAFFIC", "FleetQueries", "traffic_conditions"]

#: Query engines: ``duckdb`` (embedded, the default) and ``spark`` (a ``SparkSession``).
ENGINES: tuple[str, ...] = ("duckdb", "spark")

#: Period lengths of the fleet time series.
FREQS: tuple[str, ...] = ("day", "week")

#: Which calls each ``traffic`` value keeps (a condition on ``calls``) with the run key ``run_id``.
TRAFFIC: dict[str, str] = {
    "production": "meta_run_id IS NULL",
    "load_test": "meta_run_id IS NOT NULL",
    "all": "true",
}

_JSON_TEXT = {"duckdb": "json_extract_string", "spark": "get_json_object"}


def traffic_conditions(
    run_key: str | None = None, engine: str = "duckdb", table: str = ""
) -> dict[str, str]:
    """Which calls each ``traffic`` value keeps, as SQL conditions on ``calls``, for a run key.

    Parameters
    ----------
    run_key : str, optional
        The metadata key that marks a load-test call; None or ``run_id``: :data:`TRAFFIC` (the
        promoted column ``meta_run_id``). Another key reads the ``metadata`` JSON text column; it
        must be a plain identifier (letters, digits, ``_``) before it is put in SQL.
    engine : {"duckdb", "spark"}
        Which dialect to write (the JSON function differs).
    table : str, optional
        An alias with its dot (``"c."``) to qualify the column with.

    Returns
    -------
    dict of str to str
        ``production``, ``load_test`` and ``all`` (``"true"``).

    Raises
    ------
    ConfigurationError
        ``run_key`` is not a plain identifier.
    ValueError
        ``engine`` is not one of :data:`ENGINES`.
    """
    if engine not in ENGINES:
        raise ValueError(f"invalid engine {engine!r}; valid values: {', '.join(ENGINES)}")
    if run_key is None or run_key == "run_id":
        value = f"{table}meta_run_id"
    elif isinstance(run_key, str) and re.fullmatch(r"[A-Za-z0-9_]+", run_key):
        # a blank value is no run (oneinbox_nb.scope.traffic_kind)
        value = f"nullif(trim({_JSON_TEXT[engine]}({table}metadata, '$.{run_key}')), '')"
    else:
        raise ConfigurationError(
            f"run key {run_key!r} cannot be queried in a dataset: use letters, digits and _ only "
            "(set ONEINBOX_RUN_KEY to such a key and sync the dataset again)"
        )
    return {"production": f"{value} IS NULL", "load_test": f"{value} IS NOT NULL", "all": "true"}


_QUANTILES = {"duckdb": "quantile_cont({x}, [{q}])", "spark": "percentile({x}, array({q}))"}
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
    counts : callable, optional
        Returns the dataset's number of ``production`` and ``load_test`` calls when it knows them
        without a query (from its commit markers), else None; then a query counts them.
    run_key : str, optional
        The dataset's run key (the traffic rule, see :func:`traffic_conditions`); default
        ``run_id``.

    Raises
    ------
    ConfigurationError
        ``run_key`` is not a plain identifier.
    """

    def __init__(
        self,
        run: Callable[[str], pd.DataFrame],
        engine: str,
        counts: Callable[[], dict[str, int] | None] | None = None,
        run_key: str | None = None,
    ) -> None:
        self._where = traffic_conditions(run_key, engine)
        self.run_key = run_key or "run_id"
        self._run = run
        self._counts = counts
        self.engine = engine

    def _q(self, x: str, qs: Sequence[float]) -> str:
        """One list-valued percentile aggregate of ``x`` at the fractions ``qs``."""
        return _QUANTILES[self.engine].format(x=x, q=", ".join(repr(float(q)) for q in qs))

    def _traffic(self, traffic: str) -> str:
        if traffic not in self._where:
            raise ValueError(
                f"invalid traffic {traffic!r}; valid values: {', '.join(self._where)} (a load-test "
                f"call is one whose metadata has {self.run_key})"
            )
        return self._where[traffic]

    def _scoped(self, out: pd.DataFrame, traffic: str) -> pd.DataFrame:
        """``out`` with ``attrs`` saying which calls it is about (see the module docstring)."""
        from .. import display

        left = 0
        if traffic != "all":
            other = "load_test" if traffic == "production" else "production"
            known = self._counts() if self._counts is not None else None
            if known is not None:
                left = known[other]
            else:
                found = self._run(f"SELECT count(*) AS n FROM calls WHERE {self._where[other]}")
                left = int(found["n"].iloc[0])
        kinds = {"production": "production", "load_test": "load-test", "all": "all"}
        sentence = f"{kinds[traffic]} calls"
        if traffic != "all":
            other_kind = "load-test" if traffic == "production" else "production"
            sentence += f"; {display.count(left)} {other_kind} calls left out"
        out.attrs.update(traffic=traffic, n_left_out=left, scope=sentence)
        return self._named(out)

    def _named(self, out: pd.DataFrame) -> pd.DataFrame:
        """``out`` with ``agent_name`` after ``agent_id`` (as ``calls.agent_name`` holds it: the
        name from ``GET /v1/agents`` at sync, ``<NA>`` when unknown), so readers see names."""
        if "agent_id" not in out.columns:
            return out
        names = self._run(
            "SELECT agent_id, max(agent_name) AS agent_name FROM calls "
            "WHERE agent_id IS NOT NULL GROUP BY agent_id"
        )
        lookup = dict(zip(names["agent_id"], names["agent_name"], strict=True))
        named = pd.array(
            [None if pd.isna(a) else lookup.get(a) for a in out["agent_id"]], dtype="string"
        )
        out.insert(out.columns.get_loc("agent_id") + 1, "agent_name", named)
        return out

    # ---------------------------------------------------------------------------------------------

    def call_volume(
        self, *, freq: str = "day", by: str | None = None, traffic: str = "production"
    ) -> pd.DataFrame:
        """Calls per period: how many, completed, failed, and the failure rate.

        Parameters
        ----------
        freq : {"day", "week"}
            UTC days, or ISO weeks (starting Monday) of ``created_at``.
        by : {"agent_id"}, optional
            Also group by agent.
        traffic : {"production", "load_test", "all"}, default "production"
            Which calls (the traffic rule, see the module docstring).

        Returns
        -------
        pandas.DataFrame
            ``period, [agent_id, agent_name], n_calls, n_completed, n_failed, failure_rate`` (``failed`` status
            over all calls of the group, a share 0-1), sorted; ``period`` is
            ``datetime64[ns, UTC]`` (NaT for calls without ``created_at``). ``attrs``: see the
            module docstring.
        """
        keys = self._keys(by, allowed=("agent_id",))
        sql = f"""
            SELECT {_period(freq)} AS period{keys.select},
                   count(*) AS n_calls,
                   sum(CASE WHEN status = 'completed' THEN 1 ELSE 0 END) AS n_completed,
                   sum(CASE WHEN status = 'failed' THEN 1 ELSE 0 END) AS n_failed
            FROM calls
            WHERE {self._traffic(traffic)}
            GROUP BY {_period(freq)}{keys.group}
        """
        out = self._frame(sql, ["period", *keys.names])
        out["failure_rate"] = out["n_failed"] / out["n_calls"]
        return self._scoped(out, traffic)

    def latency(
        self,
        *,
        freq: str = "day",
        by: str | None = None,
        percentiles: Sequence[float] = (50, 95),
        traffic: str = "production",
    ) -> pd.DataFrame:
        """Percentiles of each latency component and of ``response_ms`` per period.

        Per-turn values by the component rule (see the module docstring), as
        :func:`oneinbox_nb.analysis.latency_percentiles` with ``by="day"``.

        Parameters
        ----------
        freq : {"day", "week"}
        by : {"agent_id", "provider"}, optional
            Also group by agent, or by provider: each event component's own provider (the server
            aggregate's, else ``calls.provider_stt/llm/tts``); ``kb``, ``tool`` and
            ``response_ms`` have none and are left out.
        percentiles : sequence of float, default (50, 95)
        traffic : {"production", "load_test", "all"}, default "production"
            Which calls (the traffic rule).

        Returns
        -------
        pandas.DataFrame
            ``period, [by (and agent_name)], component, count, p50, p95, mean`` (ms; ``count`` in turns), sorted by
            period, key, then components in the order of
            :data:`~oneinbox_nb.analysis.EVENT_COMPONENTS` and ``response_ms`` last. ``attrs``: see the
            module docstring.
        """
        # imported here so that `import oneinbox_nb` does not load analysis
        from ..analysis import EVENT_COMPONENTS, percentile_label, percentile_list

        pcts = percentile_list(percentiles)
        keys = self._keys(by, allowed=_BY)
        _period(freq)  # validates freq
        period = "day" if freq == "day" else "CAST(date_trunc('week', day) AS DATE)"
        scoped = self._scope_cte(self._traffic(traffic), by)
        per_turn, values = self._turn_values(by, bool(scoped))
        if by != "provider":
            values += f" UNION ALL {self._response_values(by, bool(scoped))}"
        ctes = [f"scoped AS ({scoped})"] if scoped else []
        ctes.append(f"per_turn AS ({per_turn})")
        stats = self._q("value", [p / 100 for p in pcts])
        sql = f"""
            WITH {", ".join(ctes)}
            SELECT {period} AS period{keys.select}, component, count(*) AS count, {stats} AS q,
                   avg(value) AS mean
            FROM ({values}) x
            GROUP BY {period}{keys.group}, component
        """
        out = self._frame(sql, ["period", *keys.names], lists={"q": map(percentile_label, pcts)})
        order = {c: i for i, c in enumerate((*EVENT_COMPONENTS, "response_ms"))}
        out = out.sort_values(
            ["period", *keys.names, "component"],
            key=lambda s: s.map(order) if s.name == "component" else s,
            na_position="last",
            kind="stable",
        ).reset_index(drop=True)
        columns = ["period", *keys.names, "component", "count", *map(percentile_label, pcts)]
        return self._scoped(out[[*columns, "mean"]], traffic)

    def cost(
        self, *, freq: str = "day", by: str | None = "agent_id", traffic: str = "production"
    ) -> pd.DataFrame:
        """Calls, minutes, cost and credits per period (and agent).

        The columns and rules of :func:`oneinbox_nb.analysis.cost_by`: ``cost_cents`` sums the
        known costs (see ``n_with_cost``), rates use only calls whose cost and duration (credits)
        are known, ``p50/p95_cost_cents`` are over known costs.

        Parameters
        ----------
        freq : {"day", "week"}
        by : {"agent_id"} or None, default "agent_id"
        traffic : {"production", "load_test", "all"}, default "production"
            Which calls (the traffic rule).

        Returns
        -------
        pandas.DataFrame
            ``period, [agent_id, agent_name], n_calls, n_with_cost, minutes, cost_cents (cents),
            credits_used (credits), cents_per_minute, cents_per_credit, mean_cost_cents,
            p50_cost_cents, p95_cost_cents``, sorted. ``attrs``: see the module docstring.
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
                   {self._q("CAST(cost_cents AS DOUBLE)", [0.5, 0.95])} AS q
            FROM calls
            WHERE {self._traffic(traffic)}
            GROUP BY {period}{keys.group}
        """
        out = self._frame(
            sql, ["period", *keys.names], lists={"q": ["p50_cost_cents", "p95_cost_cents"]}
        )
        return self._scoped(out, traffic)

    # ---------------------------------------------------------------------------------------------

    @staticmethod
    def _scope_cte(where: str, by: str | None) -> str:
        """The ``scoped`` CTE body: the ``calls`` that ``where`` keeps, read once (with their
        ``agent_id`` or providers when grouped by them); "" when every call counts and no call
        column is needed."""
        if by == "agent_id":
            columns = "call_id, agent_id"
        elif by == "provider":
            columns = "call_id, provider_stt, provider_llm, provider_tts"
        elif where == TRAFFIC["all"]:
            return ""
        else:
            columns = "call_id"
        return f"SELECT {columns} FROM calls WHERE {where}"

    def _turn_values(self, by: str | None, scoped: bool) -> tuple[str, str]:
        """Per-turn component values by the component rule: ``(per_turn, values)``, the body of
        the ``per_turn`` CTE and a query over it giving ``day`` (a DATE), ``component``,
        ``value`` (and ``agent_id`` or ``provider``) of the calls in ``scoped``.

        ``per_turn`` is one row per (call, turn): each component's sum of its non-duplicate
        events (``FILTER`` per type: null when the turn has none) and ``flagged``, the bit mask
        of the components with a flagged event in the turn (bit ``2**i`` for the ``i``-th of the
        components). The values are its (turn, component) cells with a sum and without the
        component's bit. One group per turn rather than per (turn, type), with seven aggregates
        rather than twelve: the events are grouped once, into about a fifth of the groups.
        """
        from ..analysis import EVENT_COMPONENTS

        provider = by == "provider"
        kinds = ("eou_delay", "stt", "llm_ttft", "tts_ttfb") if provider else EVENT_COMPONENTS
        bits = {k: 1 << i for i, k in enumerate(kinds)}
        day = _period("day")
        sums = ",\n".join(f"sum(ms) FILTER (WHERE type = '{k}') AS {k}_value" for k in kinds)
        bit = " ".join(f"WHEN '{k}' THEN {b}" for k, b in bits.items())
        # the traffic's semi-join filters the events before they are grouped
        condition = "call_id IN (SELECT call_id FROM scoped)" if scoped else "true"
        per_turn = f"""
            SELECT call_id, {day} AS day,
                   {sums},
                   bit_or(CASE WHEN {_flagged_event()} THEN CASE type {bit} END ELSE 0 END)
                     AS flagged
            FROM events
            WHERE type IN ({_list(kinds)}) AND turn IS NOT NULL
              AND NOT coalesce(duplicate, false) AND {condition}
            GROUP BY call_id, {day}, turn
        """
        value = " ".join(f"WHEN '{k}' THEN p.{k}_value" for k in kinds)
        usable = " ".join(
            f"WHEN '{k}' THEN p.{k}_value IS NOT NULL AND (p.flagged & {b}) = 0"
            for k, b in bits.items()
        )
        components = " UNION ALL ".join(f"SELECT '{k}' AS component" for k in kinds)
        join, key = "", ""
        if by is not None:
            join = "JOIN scoped c ON p.call_id = c.call_id"
            key = ", c.agent_id"
        if provider:
            fallback = " ".join(
                f"WHEN '{component}' THEN c.provider_{column}"
                for component, column in (("stt", "stt"), ("llm_ttft", "llm"), ("tts_ttfb", "tts"))
            )
            key = f", coalesce(a.provider, CASE k.component {fallback} END, 'unknown') AS provider"
            join += " LEFT JOIN components a ON p.call_id = a.call_id AND k.component = a.component"
        values = f"""
            SELECT p.day, k.component, CASE k.component {value} END AS value{key}
            FROM per_turn p CROSS JOIN ({components}) k
            {join}
            WHERE CASE k.component {usable} END
        """
        return per_turn, values

    def _response_values(self, by: str | None, scoped: bool) -> str:
        """Complete, unflagged turns' ``response_ms``: ``day, component, value`` (and
        ``agent_id``) of the calls in ``scoped``."""
        from ..analysis import RESPONSE_COMPONENTS

        flagged_response = " OR ".join(
            f"t.{c}_ms < 0 OR t.{c}_ms > {ABSURD_MS!r}" for c in RESPONSE_COMPONENTS
        )
        join, key, condition = "", "", "true"
        if by == "agent_id":
            join, key = "JOIN scoped c ON t.call_id = c.call_id", ", c.agent_id"
        elif scoped:
            condition = "t.call_id IN (SELECT call_id FROM scoped)"
        return f"""
            SELECT {_period("day", "t.")} AS day, 'response_ms' AS component,
                   t.response_ms AS value{key}
            FROM turns t
            {join}
            WHERE t.turn >= 1 AND t.response_ms IS NOT NULL
              AND coalesce(t.complete, false) AND NOT coalesce(t.flagged, false)
              AND NOT coalesce({flagged_response}, false) AND {condition}
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

    def _frame(
        self, sql: str, keys: list[str], lists: dict[str, Iterable[str]] | None = None
    ) -> pd.DataFrame:
        out = self._run(sql)
        for column, names in (lists or {}).items():
            # a group with no values has a null list (None, or pandas.NA from a nullable column)
            values = [
                list(v) if isinstance(v, (list, tuple, np.ndarray)) else None
                for v in out.pop(column)
            ]
            for i, name in enumerate(names):
                out[name] = [None if v is None else v[i] for v in values]
        out["period"] = pd.to_datetime(out["period"]).dt.tz_localize("UTC")
        for key in keys[1:]:
            out[key] = out[key].astype(object).where(out[key].notna(), None)
        for column in out.columns:
            if column not in keys and column != "component":
                out[column] = pd.to_numeric(out[column]).astype(
                    "int64" if column.startswith("n_") or column == "count" else "float64"
                )
        return out.sort_values(keys, na_position="last", kind="stable").reset_index(drop=True)
