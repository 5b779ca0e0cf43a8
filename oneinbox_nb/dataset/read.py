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
from ..frames import SCHEMA, TABLES, CallFrames, conform, json_value
from ..matching import utc_window
from ..scope import SourceLabel
from .account import describe_account
from .engine import arrow_table, engine_error, import_duckdb
from .fleet import ENGINES, FleetQueries, traffic_conditions
from .store import (
    DATE_COLUMN,
    PART_COLUMN,
    ROW_COLUMN,
    UNKNOWN_DATE,
    Store,
    arrow_schema,
    empty_table,
    extra_columns,
)

__all__ = ["Dataset", "open_dataset"]

_SPARK_MISSING = "engine='spark' needs pyspark and Java 17: pip install 'oneinbox_nb[spark]'"


def utc_window_stamps(since: Any, until: Any) -> tuple[pd.Timestamp | None, pd.Timestamp | None]:
    """``since``/``until`` as UTC timestamps through the one parser (:func:`matching.utc_window`).

    Raises
    ------
    ConfigurationError
        Either is not a time, or ``since`` is after ``until``.
    """
    start, end = utc_window(since, until)
    return (None if start is None else pd.Timestamp(start)), (
        None if end is None else pd.Timestamp(end)
    )


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
    def account(self) -> dict[str, Any] | None:
        """The account the calls were synced from (see :mod:`oneinbox_nb.dataset.account`):
        ``kind`` (``"api"`` or ``"sample"``), ``base_url``, ``key_fingerprint``, ``agent_ids``
        and ``merged`` (other accounts added with ``merge=True``); None for a dataset that
        records none."""
        return self._store.marker().get("account")

    @property
    def run_key(self) -> str:
        """The metadata key that marks this dataset's load-test calls (the traffic rule): the run
        key recorded at sync (``account["run_key"]``, see :mod:`oneinbox_nb.dataset.account`),
        else ``run_id``."""
        return (self.account or {}).get("run_key") or "run_id"

    @property
    def description(self) -> str:
        """The dataset in one line, for reports: ``dataset history/ (OneInbox API at …, account
        1a2b…, 3,200 calls, synced 2026-12-07 01:20 UTC)``; sample data says ``sample data``."""
        from .. import display

        info = self._store.marker()
        parts = [describe_account(info.get("account"))]
        merged = (info.get("account") or {}).get("merged") or []
        if merged:
            parts[0] += f" and {display.count(len(merged))} more merged"
        n = info.get("n_calls")
        parts.append(f"{display.count(n)} calls")
        synced = info.get("last_sync")
        parts.append(f"synced {display.when(synced)}" if synced else "never synced")
        return f"dataset {self.path.name}/ ({', '.join(parts)})"

    @property
    def label(self) -> SourceLabel:
        """Where the calls come from, for a :class:`~oneinbox_nb.scope.Scope`
        (``scope.with_source(dataset)``) and the reports built from it.

        Kind ``"sample"`` when the dataset records sample data (reports then say "sample data"),
        else ``"dataset"`` with :attr:`description` (the folder and the account it records, e.g.
        ``dataset history/ (OneInbox API at …, account 1a2b…, …)``) and the account's key
        fingerprint and run key (the one recorded at sync, see :mod:`oneinbox_nb.account`); never
        the key.
        """
        account = self.account or {}
        kind = "sample" if account.get("kind") == "sample" else "dataset"
        return SourceLabel(
            kind, self.description, account.get("key_fingerprint"), account.get("run_key")
        )

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
        # every file of a table has one schema (the open format): no union_by_name
        return (
            f"read_parquet([{listed}], hive_partitioning = true, "
            f"hive_types = {{'{DATE_COLUMN}': VARCHAR}})"
        )

    def _bare(self) -> Any:
        """A DuckDB connection without views (UTC), for reads that name their files."""
        if self._bare_con is None:
            con = import_duckdb().connect()
            con.execute("SET TimeZone = 'UTC'")
            self._bare_con = con
        return self._bare_con

    def connection(self) -> Any:
        """The DuckDB connection holding the views (created on first use; time zone UTC).

        Read-only: once the views exist, DuckDB may open only the dataset's committed files
        (``allowed_paths``), external access is off (``enable_external_access = false``) and the
        configuration is locked (``lock_configuration = true``), so ``COPY ... TO``, ``ATTACH``,
        ``EXPORT DATABASE``, ``INSTALL`` and reading any other file are refused.
        """
        if self._con is None:
            duckdb = import_duckdb()
            con = duckdb.connect()
            con.execute("SET TimeZone = 'UTC'")
            for name in TABLES:
                source = self._source(name, self._files(name), con)
                con.execute(f"CREATE VIEW {name}_raw AS SELECT * FROM {source}")
            self._views(con.execute)
            allowed = sorted({f for name in TABLES for f in self._files(name)})
            con.execute("SET allowed_paths = ?", [allowed])
            con.execute("SET enable_external_access = false")
            con.execute("SET lock_configuration = true")
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

        Raises
        ------
        DatasetError
            The query failed: bad SQL, a part file that cannot be read (named), or a statement
            that writes or reads outside the dataset (the connection is read-only, see
            :meth:`connection`).
        """
        con = self.connection()
        try:
            return con.execute(query, params or []).fetchdf()
        except import_duckdb().Error as exc:
            raise engine_error(exc, self.path, "Dataset.sql") from None

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
            The value of the dataset's run key (:attr:`run_key`): ``metadata.run_id`` (column
            ``meta_run_id``) by default, else that key of the ``metadata`` JSON text.
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
            ``since``/``until`` is not a time; the recorded run key is not a plain identifier.
        """
        start, end = utc_window_stamps(since, until)
        days = None if start is None and end is None else _days(start, end, self.dates)
        parts = self._run_parts(run_id)
        if parts is not None and not parts:
            return CallFrames.empty()
        if parts is None and not self._dedup:
            parts = {c["part"] for c in self._live}
        # without duplicates to resolve, no view is needed: only the selected files are opened
        con = self.connection() if self._dedup else self._bare()
        where, params = _call_filter(agent_id, run_id, start, end, self.run_key)
        if call_ids is not None:
            ids = [call_ids] if isinstance(call_ids, str) else [str(c) for c in call_ids]
            con.register("_wanted", pd.DataFrame({"call_id": pd.Series(ids, dtype=object)}))
            where.append("call_id IN (SELECT call_id FROM _wanted)")
        try:
            selected = arrow_table(
                con,
                f"SELECT * FROM {self._pruned(con, 'calls', days, parts)} "
                f"WHERE {' AND '.join(where) or 'true'} ORDER BY created_at NULLS LAST, call_id",
                params,
            )
        finally:
            if call_ids is not None:
                con.unregister("_wanted")
        return _to_frames({"calls": selected, **self._rows_of(con, selected)})

    def _run_parts(self, run_id: str | None) -> set[int] | None:
        """The parts that may hold calls of ``run_id`` (their commit markers list their run ids);
        None when no run is asked for, or the markers listed another run key's ids."""
        if run_id is None or self.run_key != "run_id":
            return None
        return {
            c["part"] for c in self._live if c.get("run_ids") is None or str(run_id) in c["run_ids"]
        }

    def _rows_of(self, con: Any, selected: Any) -> dict[str, Any]:
        """The child tables' rows of the ``selected`` calls (an Arrow table of ``calls`` rows),
        in the calls' order, reading only their days' and parts' files."""
        keys = selected.select(["call_id", PART_COLUMN]).append_column(
            "_order", _pa().array(range(selected.num_rows), type=_pa().int64())
        )
        days = sorted(set(selected.column(DATE_COLUMN).to_pylist()))
        parts = set(selected.column(PART_COLUMN).to_pylist())
        con.register("_selected", keys)
        tables = {}
        try:
            for name in TABLES[1:]:
                source = self._pruned(con, name, days, parts)
                tables[name] = arrow_table(
                    con,
                    f"SELECT t.* FROM {source} t JOIN _selected s "
                    f"ON t.call_id = s.call_id AND t.{PART_COLUMN} = s.{PART_COLUMN} "
                    f"ORDER BY s._order, t.{ROW_COLUMN}",
                )
        finally:
            con.unregister("_selected")
        return tables

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

    def day_rows(self, table: str, day: str) -> Any:
        """One table's rows of one UTC day, newest version of each call only (as the views).

        Parameters
        ----------
        table : str
            One of :data:`~oneinbox_nb.frames.TABLES`.
        day : str
            A partition of :attr:`dates` (``YYYY-MM-DD`` or ``unknown``).

        Returns
        -------
        pyarrow.Table
            The stored columns without ``date``, ordered by ``_part`` then ``_row`` (the order
            written).

        Raises
        ------
        DatasetError
            A file of that day cannot be read.
        """
        con = self.connection()
        source = self._pruned(con, table, [day])
        return arrow_table(
            con,
            f"SELECT * EXCLUDE ({DATE_COLUMN}) FROM {source} ORDER BY {PART_COLUMN}, {ROW_COLUMN}",
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
            duckdb = import_duckdb()

            def run(query: str) -> pd.DataFrame:
                try:
                    return con.execute(query).fetchdf()
                except duckdb.Error as exc:
                    raise engine_error(exc, self.path, "the fleet query") from None

            return FleetQueries(run, "duckdb", self._traffic_counts, self.run_key)
        session = spark or self._spark or _local_spark()
        self._spark = session
        self._spark_views(session)
        return FleetQueries(
            lambda q: session.sql(q).toPandas(), "spark", self._traffic_counts, self.run_key
        )

    def _traffic_counts(self) -> dict[str, int] | None:
        """Production and load-test calls from the commit markers (each part counts its
        load-test calls); None when a call may be in several parts, a marker lacks the count or
        counted with another run key than :attr:`run_key` (markers without ``load_test_key``
        counted ``run_id``)."""
        key = self.run_key
        if self._dedup or any(
            "n_load_test" not in c or c.get("load_test_key", "run_id") != key for c in self._live
        ):
            return None
        load = sum(int(c["n_load_test"]) for c in self._live)
        total = sum(int(c["n_calls"]) for c in self._live)
        return {"production": total - load, "load_test": load}

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
        self,
        *,
        freq: str = "day",
        by: str | None = None,
        traffic: str = "production",
        engine: str = "duckdb",
    ) -> pd.DataFrame:
        """Calls, completed, failed and failure rate per day or week (production calls unless
        ``traffic`` says otherwise); see :meth:`FleetQueries.call_volume`."""
        return self.fleet(engine).call_volume(freq=freq, by=by, traffic=traffic)

    def latency(
        self,
        *,
        freq: str = "day",
        by: str | None = None,
        percentiles: Sequence[float] = (50, 95),
        traffic: str = "production",
        engine: str = "duckdb",
    ) -> pd.DataFrame:
        """Per-component p50/p95 per day or week, per turn by the component rule (production
        calls unless ``traffic`` says otherwise); see :meth:`FleetQueries.latency`."""
        return self.fleet(engine).latency(
            freq=freq, by=by, percentiles=percentiles, traffic=traffic
        )

    def cost(
        self,
        *,
        freq: str = "day",
        by: str | None = "agent_id",
        traffic: str = "production",
        engine: str = "duckdb",
    ) -> pd.DataFrame:
        """Cost and credits per agent per day or week (production calls unless ``traffic`` says
        otherwise); see :meth:`FleetQueries.cost`."""
        return self.fleet(engine).cost(freq=freq, by=by, traffic=traffic)

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


def _call_filter(
    agent_id: str | None,
    run_id: str | None,
    start: pd.Timestamp | None,
    end: pd.Timestamp | None,
    run_key: str = "run_id",
) -> tuple[list[str], list[Any]]:
    """The ``WHERE`` conditions on ``calls`` (``?`` placeholders) and their values."""
    where: list[str] = []
    params: list[Any] = []
    run = "meta_run_id"
    if run_key != "run_id" and run_id is not None:
        traffic_conditions(
            run_key
        )  # validates the key: a plain identifier, before it is put in SQL
        run = f"json_extract_string(metadata, '$.{run_key}')"
    for condition, value in (
        ("agent_id = ?", agent_id),
        (f"{run} = ?", run_id),
    ):
        if value is not None:
            where.append(condition)
            params.append(str(value))
    if start is not None:
        where.append("created_at >= ?")
        params.append(start.to_pydatetime())
    if end is not None:
        where.append("created_at < ?")
        params.append(end.to_pydatetime())
    return where, params


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
            extras = extra_columns(frame)
            frame = frame[[c for c in frame.columns if c in SCHEMA[name]]]
            if extras:
                rebuilt = pd.DataFrame(extras, index=frame.index)
                frame = pd.concat([frame, rebuilt], axis=1)
        for column, dtype in SCHEMA[name].items():
            if dtype == np.dtype(object) and column in frame:
                text = frame[column]
                known = np.flatnonzero(text.notna().to_numpy())
                values = np.full(len(frame), None, dtype=object)
                for i, value in zip(known, text.iloc[known].tolist(), strict=True):
                    values[i] = json_value(value, constants=True)  # back to its dict/list/...
                frame[column] = pd.Series(values, index=frame.index, dtype=object)
        out[name] = conform(name, frame)
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
    DatasetError
        The dataset has format version 1 (convert it with
        :func:`~oneinbox_nb.dataset.migrate`) or a newer one than this oneinbox_nb reads.
    """
    return Dataset(path)


def _spark_schema(name: str) -> Any:
    """The Spark schema of a table's files: :func:`~oneinbox_nb.dataset.store.arrow_schema`."""
    import pyarrow as pa
    from pyspark.sql import types as T

    def kind(arrow: Any) -> Any:
        if pa.types.is_timestamp(arrow):
            return T.TimestampType()
        if pa.types.is_int64(arrow):
            return T.LongType()
        if pa.types.is_floating(arrow):
            return T.DoubleType()
        if pa.types.is_boolean(arrow):
            return T.BooleanType()
        return T.StringType()

    return T.StructType([T.StructField(f.name, kind(f.type)) for f in arrow_schema(name)])
