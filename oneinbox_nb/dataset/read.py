"""Reading a call dataset in place: selected calls as CallFrames, SQL, fleet questions.

:func:`open_dataset` returns a :class:`Dataset`, a lazy handle: nothing is read until asked.
DuckDB (embedded) answers :meth:`Dataset.sql`, :meth:`Dataset.frames` and the fleet functions;
``engine="spark"`` runs the fleet functions on a ``SparkSession`` instead (see
:mod:`oneinbox_nb.dataset.fleet`).

Views
-----
``calls``, ``messages``, ``events``, ``turns``, ``components`` and ``problems``: the tables of
:data:`~oneinbox_nb.frames.SCHEMA` plus ``date`` (the hive partition: UTC day of the call's
``created_at``, or ``unknown``) and ``_part`` (the part that wrote the row). When a call was written
more than once (its ``updated_at`` moved, see :func:`~oneinbox_nb.dataset.sync`), the views keep
the newest version only: the ``calls`` row with the latest ``updated_at`` (ties: the later part)
and the other tables' rows from that same part.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..exceptions import ConfigurationError
from ..frames import SCHEMA, TABLES, CallFrames
from ..frames._columns import _conform
from ..matching import utc_time
from .fleet import ENGINES, FleetQueries
from .store import DATE_COLUMN, PART_COLUMN, ROW_COLUMN, UNKNOWN_DATE, Store, empty_table

__all__ = ["Dataset", "open_dataset"]

_DUCKDB_MISSING = "the dataset needs DuckDB: pip install 'oneinbox_nb[scale]'"
_SPARK_MISSING = "engine='spark' needs pyspark and Java 17: pip install 'oneinbox_nb[spark]'"


def _import_duckdb() -> Any:
    try:
        import duckdb
    except ImportError as exc:  # pragma: no cover - the extra is installed in dev
        raise ConfigurationError(_DUCKDB_MISSING) from exc
    return duckdb


def _utc(value: Any, name: str) -> pd.Timestamp | None:
    """``value`` as a UTC timestamp (zone-less taken as UTC), as ``since``/``until`` of a fetch."""
    stamp = utc_time(value, name)  # the one parser (oneinbox_nb.matching)
    return None if stamp is None else pd.Timestamp(stamp)


def _days(since: pd.Timestamp | None, until: pd.Timestamp | None, known: Iterable[str]) -> list:
    """The partitions that can hold calls created in ``[since, until)``."""
    out = []
    for day in known:
        if day == UNKNOWN_DATE:
            continue
        start = pd.Timestamp(day, tz="UTC")
        if since is not None and start + timedelta(days=1) <= since:
            continue
        if until is not None and start >= until:
            continue
        out.append(day)
    return out


class Dataset:
    """A call dataset on disk (see :mod:`oneinbox_nb.dataset.store`), queried in place.

    Make one with :func:`open_dataset`. The handle reads the list of committed parts when it is
    made; call :meth:`refresh` to see parts written since.

    Attributes
    ----------
    path : pathlib.Path
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._store = Store(self.path)
        self._con: Any = None
        self._bare_con: Any = None
        self._registered: dict[int, set[str]] = {}  # connection -> tables' empty stand-ins
        self._spark: Any = None
        self.refresh()

    def __repr__(self) -> str:
        return f"Dataset({str(self.path)!r}, parts={len(self._live)})"

    def refresh(self) -> Dataset:
        """Re-read the committed parts (after a sync) and rebuild the views."""
        self._live = self._store.live()
        self._dedup = self._store.needs_dedup(self._live)
        if self._con is not None:
            self._registered.pop(id(self._con), None)
            self._con.close()
            self._con = None
        return self

    @property
    def dates(self) -> list[str]:
        """The UTC days (``YYYY-MM-DD``, and ``unknown``) that hold calls, sorted."""
        days = {Path(f).parent.name.split("=", 1)[1] for f in self._files("calls")}
        return sorted(days)

    def _files(
        self, table: str, dates: Iterable[str] | None = None, parts: set[int] | None = None
    ) -> list[str]:
        live = self._live if parts is None else [c for c in self._live if c["part"] in parts]
        return self._store.files(table, dates=dates, live=live)

    # DuckDB -------------------------------------------------------------------------------------

    def _source(self, table: str, files: list[str], con: Any) -> str:
        if not files:  # a typed table with no rows, registered once
            done = self._registered.setdefault(id(con), set())
            if table not in done:
                empty = empty_table(table)
                empty = empty.append_column(DATE_COLUMN, _pa().array([], type=_pa().string()))
                con.register(f"_{table}_empty", empty)
                done.add(table)
            return f"_{table}_empty"
        listed = ", ".join("'" + f.replace("'", "''") + "'" for f in files)
        # only calls has columns that differ between files (meta_*, var_*, analysis_*); the other
        # tables' files all have the same schema, so DuckDB need not read every footer to bind
        union = "true" if table == "calls" else "false"
        return (
            f"read_parquet([{listed}], hive_partitioning = true, union_by_name = {union}, "
            f"hive_types = {{'{DATE_COLUMN}': VARCHAR}})"
        )

    def _bare(self) -> Any:
        """A DuckDB connection without views (UTC), for reads that name their files."""
        if self._bare_con is None:
            con = _import_duckdb().connect()
            con.execute("SET TimeZone = 'UTC'")
            self._bare_con = con
        return self._bare_con

    def connection(self) -> Any:
        """The DuckDB connection holding the views (created on first use; time zone UTC)."""
        if self._con is None:
            duckdb = _import_duckdb()
            con = duckdb.connect()
            con.execute("SET TimeZone = 'UTC'")
            con.execute("SET parquet_metadata_cache = true")
            for name in TABLES:
                source = self._source(name, self._files(name), con)
                con.execute(f"CREATE VIEW {name}_raw AS SELECT * FROM {source}")
            self._views(con.execute)
            self._con = con
        return self._con

    def _views(self, execute: Any) -> None:
        """Create the de-duplicated views over the ``<table>_raw`` ones (any engine's SQL)."""
        if not self._dedup:
            for name in TABLES:
                execute(f"CREATE OR REPLACE TEMP VIEW {name} AS SELECT * FROM {name}_raw")
            return
        execute(
            "CREATE OR REPLACE TEMP VIEW _winners AS SELECT call_id, _part FROM ("
            "SELECT call_id, _part, row_number() OVER (PARTITION BY call_id "
            "ORDER BY updated_at DESC NULLS LAST, _part DESC) AS _rank FROM calls_raw) r "
            "WHERE _rank = 1"
        )
        for name in TABLES:
            execute(
                f"CREATE OR REPLACE TEMP VIEW {name} AS SELECT t.* FROM {name}_raw t "
                "JOIN _winners w ON t.call_id = w.call_id AND t._part = w._part"
            )

    def sql(self, query: str, params: Sequence[Any] | None = None) -> pd.DataFrame:
        """Run a DuckDB query over the views and return the result as a DataFrame.

        Parameters
        ----------
        query : str
            SQL over ``calls``, ``messages``, ``events``, ``turns``, ``components``, ``problems``.
        params : sequence, optional
            Values for ``?`` placeholders (pass untrusted values here, never inside ``query``).

        Returns
        -------
        pandas.DataFrame
        """
        return self.connection().execute(query, params or []).fetchdf()

    # CallFrames ---------------------------------------------------------------------------------

    def frames(
        self,
        call_ids: str | Iterable[str] | None = None,
        *,
        run_id: str | None = None,
        agent_id: str | None = None,
        since: Any = None,
        until: Any = None,
    ) -> CallFrames:
        """The selected calls as :class:`~oneinbox_nb.frames.CallFrames`, reading only them.

        Filters combine with AND. Days outside ``[since, until)`` are not opened (partition
        pruning), and only the rows of the selected calls are read from the others (predicate
        pushdown on ``call_id``).

        Parameters
        ----------
        call_ids : str or iterable of str, optional
        run_id : str, optional
            ``metadata.run_id`` (column ``meta_run_id``).
        agent_id : str, optional
        since, until : str, datetime or Timestamp, optional
            ``created_at`` in ``[since, until)``; naive times are UTC.

        Returns
        -------
        CallFrames
            As :func:`~oneinbox_nb.frames.to_frames` would build from the same calls, in the
            order of ``(created_at, call_id)``.

        Raises
        ------
        ConfigurationError
            ``since``/``until`` is not a time.
        """
        start, end = _utc(since, "since"), _utc(until, "until")
        days = None if start is None and end is None else _days(start, end, self.dates)
        # without duplicates to resolve, no view is needed: only the selected files are opened
        con = self.connection() if self._dedup else self._bare()
        where, params = [], []
        if call_ids is not None:
            ids = [call_ids] if isinstance(call_ids, str) else [str(c) for c in call_ids]
            con.register("_wanted", pd.DataFrame({"call_id": pd.Series(ids, dtype=object)}))
            where.append("call_id IN (SELECT call_id FROM _wanted)")
        if agent_id is not None:
            where.append("agent_id = ?")
            params.append(str(agent_id))
        parts = None
        if run_id is not None:
            # commit markers list their parts' run ids: only those parts are opened
            parts = {
                c["part"]
                for c in self._live
                if c.get("run_ids") is None or str(run_id) in c["run_ids"]
            }
            if not parts:
                return CallFrames.empty()
            source = self._pruned(con, "calls", days, parts)
            columns = {r[0] for r in con.execute(f"DESCRIBE SELECT * FROM {source}").fetchall()}
            if "meta_run_id" not in columns:
                return CallFrames.empty()
            where.append("CAST(meta_run_id AS VARCHAR) = ?")
            params.append(str(run_id))
        if start is not None:
            where.append("created_at >= ?")
            params.append(start.to_pydatetime())
        if end is not None:
            where.append("created_at < ?")
            params.append(end.to_pydatetime())
        if parts is None and not self._dedup:
            parts = {c["part"] for c in self._live}
        calls_source = self._pruned(con, "calls", days, parts)
        clause = " AND ".join(where) if where else "true"
        selected = _arrow(
            con,
            f"SELECT * FROM {calls_source} WHERE {clause} ORDER BY created_at NULLS LAST, call_id",
            params,
        )
        tables = {"calls": selected}
        keys = selected.select(["call_id", PART_COLUMN]).append_column(
            "_order", _pa().array(range(selected.num_rows), type=_pa().int64())
        )
        con.register("_selected", keys)
        days = sorted(set(selected.column(DATE_COLUMN).to_pylist()))
        parts = set(selected.column(PART_COLUMN).to_pylist())
        for name in TABLES[1:]:
            source = self._pruned(con, name, days, parts)
            tables[name] = _arrow(
                con,
                f"SELECT t.* FROM {source} t JOIN _selected s "
                f"ON t.call_id = s.call_id AND t.{PART_COLUMN} = s.{PART_COLUMN} "
                f"ORDER BY s._order, t.{ROW_COLUMN}",
            )
        con.unregister("_selected")
        if call_ids is not None:
            con.unregister("_wanted")
        return _to_frames(tables)

    def _pruned(
        self, con: Any, table: str, days: list[str] | None, parts: set[int] | None = None
    ) -> str:
        """The table restricted to some days' and parts' files, de-duplicated like the views."""
        if days is None and parts is None:
            return table
        source = self._source(table, self._files(table, days, parts), con)
        if not self._dedup:
            return f"(SELECT * FROM {source})"
        return (
            f"(SELECT t.* FROM {source} t JOIN _winners w "
            f"ON t.call_id = w.call_id AND t.{PART_COLUMN} = w.{PART_COLUMN})"
        )

    # fleet --------------------------------------------------------------------------------------

    def fleet(self, engine: str = "duckdb", *, spark: Any = None) -> FleetQueries:
        """The fleet functions on an engine.

        Parameters
        ----------
        engine : {"duckdb", "spark"}
        spark : pyspark.sql.SparkSession, optional
            For ``engine="spark"``; default a local session (``local[2]``, time zone UTC).

        Returns
        -------
        FleetQueries
            With ``call_volume``, ``latency`` and ``cost``.
        """
        if engine not in ENGINES:
            raise ValueError(f"invalid engine {engine!r}; valid values: {', '.join(ENGINES)}")
        if engine == "duckdb":
            con = self.connection()
            return FleetQueries(lambda q: con.execute(q).fetchdf(), "duckdb")
        session = spark or self._spark or _local_spark()
        self._spark = session
        self._spark_views(session)
        return FleetQueries(lambda q: session.sql(q).toPandas(), "spark")

    def _spark_views(self, session: Any) -> None:
        from pyspark.sql.types import StringType, StructField, StructType

        for name in TABLES:
            schema = _spark_schema(name)
            files = self._files(name)
            if files:
                frame = (
                    session.read.schema(schema)
                    .option("basePath", str(self.path / name))
                    .parquet(*files)
                )
            else:
                fields = [*schema.fields, StructField(DATE_COLUMN, StringType())]
                frame = session.createDataFrame([], StructType(fields))
            frame.createOrReplaceTempView(f"{name}_raw")
        self._views(session.sql)

    def call_volume(
        self, *, freq: str = "day", by: str | None = None, engine: str = "duckdb"
    ) -> pd.DataFrame:
        """Calls, completed, failed and failure rate per day or week; see
        :meth:`FleetQueries.call_volume`."""
        return self.fleet(engine).call_volume(freq=freq, by=by)

    def latency(
        self,
        *,
        freq: str = "day",
        by: str | None = None,
        percentiles: Sequence[float] = (50, 95),
        engine: str = "duckdb",
    ) -> pd.DataFrame:
        """Per-component p50/p95 per day or week; see :meth:`FleetQueries.latency`."""
        return self.fleet(engine).latency(freq=freq, by=by, percentiles=percentiles)

    def cost(
        self, *, freq: str = "day", by: str | None = "agent_id", engine: str = "duckdb"
    ) -> pd.DataFrame:
        """Cost and credits per agent per day or week; see :meth:`FleetQueries.cost`."""
        return self.fleet(engine).cost(freq=freq, by=by)

    def close(self) -> None:
        """Close the DuckDB connections (a Spark session passed in is left running)."""
        for con in (self._con, self._bare_con):
            if con is not None:
                con.close()
        self._con = self._bare_con = None
        self._registered.clear()


def _pa() -> Any:
    import pyarrow as pa

    return pa


def _arrow(con: Any, query: str, params: Sequence[Any] | None = None) -> Any:
    """A DuckDB query's result as a pyarrow Table (``to_arrow_table`` in DuckDB 2, ``arrow``
    before)."""
    relation = con.sql(query, params=list(params) if params else None)
    fetch = getattr(relation, "to_arrow_table", None) or relation.arrow
    return fetch()


def _types_mapper() -> Any:
    import pyarrow as pa

    mapping = {
        pa.int64(): pd.Int64Dtype(),
        pa.int32(): pd.Int64Dtype(),
        pa.float64(): pd.Float64Dtype(),
        pa.bool_(): pd.BooleanDtype(),
        pa.string(): pd.StringDtype(),
        pa.large_string(): pd.StringDtype(),
    }
    return mapping.get


def _to_frames(tables: dict[str, Any]) -> CallFrames:
    """Arrow tables read from the dataset as CallFrames with the dtypes of :data:`SCHEMA`."""
    import orjson

    out = {}
    for name, table in tables.items():
        drop = [c for c in (DATE_COLUMN, PART_COLUMN, ROW_COLUMN) if c in table.column_names]
        table = table.drop_columns(drop)
        for column, dtype in SCHEMA[name].items():
            if isinstance(dtype, pd.CategoricalDtype) and column in table.column_names:
                i = table.column_names.index(column)
                table = table.set_column(i, column, table.column(i).dictionary_encode())
        frame = table.to_pandas(types_mapper=_types_mapper())
        if name == "calls":
            extras = [c for c in frame.columns if c not in SCHEMA[name]]
            empty = {c for c in extras if frame[c].isna().all()}
            fixed = [c for c in frame.columns if c in SCHEMA[name]]
            frame = frame[fixed + sorted(set(extras) - empty)]  # to_frames sorts them too
        for column, dtype in SCHEMA[name].items():
            if dtype == np.dtype(object) and column in frame:
                text = frame[column]
                known = np.flatnonzero(text.notna().to_numpy())
                values = np.full(len(frame), None, dtype=object)
                for i, value in zip(known, text.iloc[known].tolist(), strict=True):
                    values[i] = orjson.loads(value)  # JSON text back to its dict/list/scalar
                frame[column] = pd.Series(values, index=frame.index, dtype=object)
        out[name] = _conform(name, frame)
    return CallFrames(**out)


def _local_spark() -> Any:
    try:
        from pyspark.sql import SparkSession
    except ImportError as exc:
        raise ConfigurationError(_SPARK_MISSING) from exc
    return (
        SparkSession.builder.master("local[2]")
        .appName("oneinbox_nb")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.shuffle.partitions", "4")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.sources.partitionColumnTypeInference.enabled", "false")
        .getOrCreate()
    )


def open_dataset(path: str | os.PathLike[str]) -> Dataset:
    """Open a call dataset written by :func:`~oneinbox_nb.dataset.sync` (or the generator).

    Parameters
    ----------
    path : str or path-like

    Returns
    -------
    Dataset
        A lazy handle: ``.frames(...)``, ``.sql(...)``, ``.call_volume()``, ``.latency()``,
        ``.cost()``, ``.fleet(engine)``.

    Raises
    ------
    ConfigurationError
        ``path`` is not a call dataset.
    """
    return Dataset(path)


def _spark_schema(name: str) -> Any:
    """The Spark schema of a table's fixed columns (extras are not read by Spark)."""
    from pyspark.sql import types as T

    utc = pd.DatetimeTZDtype(unit="ns", tz="UTC")
    kinds = {
        pd.Int64Dtype(): T.LongType(),
        pd.Float64Dtype(): T.DoubleType(),
        pd.BooleanDtype(): T.BooleanType(),
        utc: T.TimestampType(),
    }
    fields = [
        T.StructField(column, kinds.get(dtype, T.StringType()))
        for column, dtype in SCHEMA[name].items()
    ]
    extra = [T.StructField(c, T.LongType()) for c in (PART_COLUMN, ROW_COLUMN)]
    return T.StructType([*fields, *extra])
