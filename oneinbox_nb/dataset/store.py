"""The on-disk layout of a call dataset: append-only Parquet parts, committed by small markers.

::

    <path>/
      _oneinbox_dataset.json                      format marker
      _commits/part-00000007.json                 one marker per committed part (written last)
      calls/date=2026-11-14/part-00000007.parquet one file per table and UTC day of created_at
      messages/date=2026-11-14/part-00000007.parquet
      ... events, turns, components, problems

Every table is a hive-partitioned Parquet dataset (``date=YYYY-MM-DD``, ``date=unknown`` for calls
without ``created_at``) that DuckDB, Polars, Spark and Dask read as is. Each row carries ``_part``, the
number of the part that wrote it.

Open format (version 2)
-----------------------
Every file of a table has the same schema, :func:`arrow_schema` (the columns of
:data:`~oneinbox_nb.frames.SCHEMA` in their order, then ``_part`` and ``_row``), whatever the calls
in it, so Polars ``pl.scan_parquet(path, hive_partitioning=True)``, Spark ``read.parquet`` (no
``mergeSchema``) and DuckDB ``read_parquet`` (no ``union_by_name``) read every table as it is.
The flattened ``meta_*``, ``var_*`` and ``analysis_*`` columns of the frames, whose set differs
from call to call, are stored in ``calls`` as three JSON text columns, ``metadata``, ``variables``
and ``analysis`` (an object of flattened key -> value per call, null when the call has none; read
them with ``json_extract``/``->>`` in SQL, ``str.json_decode`` in Polars, ``from_json`` in Spark).
The metadata keys of :data:`PROMOTED_KEYS` are also their own text columns ``meta_<key>``
(``meta_run_id`` etc.; null when absent; numbers in decimal, other non-strings as JSON), which the
traffic rule (a call is a load-test call when ``meta_run_id`` is set) and run filters use.
A dataset of format version 1 (``meta_*`` columns per file) is refused with
:class:`DatasetError`; :func:`~oneinbox_nb.dataset.migrate` rewrites it in place.

Account
-------
``_oneinbox_dataset.json`` records where the calls came from (see
:mod:`oneinbox_nb.dataset.account`): ``account`` (``base_url``, ``key_fingerprint``, ``agent_ids``,
``kind`` ``"api"`` or ``"sample"``), ``last_sync`` (UTC, ISO 8601) and ``n_calls``.

Crash safety
------------
A part is written file by file (each to a temporary name, then renamed), and only then committed by
its marker in ``_commits``. Readers use committed files only; :meth:`Store.sweep` deletes what an
interrupted writer left. A call written again (its ``updated_at`` moved) lives in two parts until
:func:`compact`: readers keep, per call, the row with the newest ``updated_at`` (ties: the higher
part), and the child tables' rows of that same part. A compaction commits one part that *replaces*
others; until the replaced files are swept, readers resolve the duplicates the same way.

One writer at a time: run one :func:`~oneinbox_nb.dataset.sync` (or :func:`compact`) per dataset.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable, Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pandas as pd

from ..exceptions import ConfigurationError, OneInboxError
from ..frames import SCHEMA, TABLES, CallFrames, json_text

__all__ = [
    "DATE_COLUMN",
    "EXTRA_JSON",
    "PART_COLUMN",
    "PROMOTED_KEYS",
    "ROW_COLUMN",
    "UNKNOWN_DATE",
    "DatasetError",
    "Store",
    "arrow_schema",
]

FORMAT = "oneinbox-dataset"
VERSION = 2

#: Metadata keys that are also their own text column ``meta_<key>`` of the stored ``calls`` table.
PROMOTED_KEYS: tuple[str, ...] = ("run_id", "test", "script", "virtual_user")

#: Frames column prefix -> the JSON text column of the stored ``calls`` table that holds them.
EXTRA_JSON: dict[str, str] = {"meta_": "metadata", "var_": "variables", "analysis_": "analysis"}


class DatasetError(OneInboxError):
    """A dataset cannot be used as asked: another account's, an old format, an unreadable part,
    or SQL that tries to write or to read outside the dataset."""


MARKER = "_oneinbox_dataset.json"
COMMITS = "_commits"
PART_COLUMN = "_part"
ROW_COLUMN = "_row"
MAX_RUN_IDS = 1000  # a part with more distinct run ids records none (readers then open it)
DATE_COLUMN = "date"
UNKNOWN_DATE = "unknown"


def _atomic_write(target: Path, write: Any) -> None:
    """Write ``target`` through a temporary file in the same directory and a rename."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _part_name(part: int) -> str:
    return f"part-{part:08d}"


def _part_of(file: Path) -> int | None:
    stem = file.name.split(".", 1)[0]
    if stem.startswith("part-") and stem[5:].isdigit():
        return int(stem[5:])
    return None


_DAY_MICROS = 86_400_000_000


def _call_days(calls: Any) -> tuple[np.ndarray, list[str]]:
    """Each ``calls`` row's UTC day of ``created_at`` as a position in the returned sorted list of
    days (``YYYY-MM-DD``, then :data:`UNKNOWN_DATE`, the day of a call without ``created_at``)."""
    import pyarrow as pa

    missing = np.iinfo(np.int64).min
    micros = calls.column("created_at").cast(pa.timestamp("us", tz="UTC")).cast(pa.int64())
    micros = micros.fill_null(missing).to_numpy()
    known = micros != missing
    numbers, codes = np.unique(micros[known] // _DAY_MICROS, return_inverse=True)
    days = np.datetime_as_string(numbers.astype("datetime64[D]")).tolist() + [UNKNOWN_DATE]
    call_day = np.full(len(micros), len(days) - 1, dtype=np.int64)
    call_day[known] = codes.reshape(-1)
    return call_day, days


def _row_days(table: Any, calls: Any, call_day: np.ndarray, days: list[str]) -> np.ndarray:
    """The day position of each row of a child table: its call's, :data:`UNKNOWN_DATE` for a row
    of no call in ``calls``."""
    import pyarrow.compute as pc

    found = pc.index_in(table.column("call_id"), value_set=calls.column("call_id"))
    found = found.fill_null(-1).to_numpy()
    return np.where(found >= 0, call_day[np.maximum(found, 0)], len(days) - 1)


def _by_day(table: Any, row_day: np.ndarray, days: list[str]) -> Iterator[tuple[str, Any]]:
    """``(day, rows)`` for each day that has rows, in the order of ``days``; rows keep their
    order."""
    import pyarrow as pa

    changes = np.count_nonzero(row_day[1:] != row_day[:-1])
    if changes + 1 == np.count_nonzero(np.bincount(row_day, minlength=len(days))):
        yield from _runs(table, row_day, days)  # each day's rows together already (calls
        return  # arrive newest first): slices in place of a copy
    order = np.argsort(row_day, kind="stable")
    grouped = table.take(pa.array(order))
    start = 0
    for code, count in enumerate(np.bincount(row_day, minlength=len(days)).tolist()):
        if count:
            yield days[code], grouped.slice(start, count)
            start += count


def _runs(table: Any, row_day: np.ndarray, days: list[str]) -> Iterator[tuple[str, Any]]:
    """:func:`_by_day` for rows whose days each form one run: ``(day, rows)`` in the order of
    ``days``."""
    starts = np.flatnonzero(np.r_[True, row_day[1:] != row_day[:-1]]).tolist()
    ends = starts[1:] + [len(row_day)]
    runs = sorted(
        (int(row_day[start]), start, end) for start, end in zip(starts, ends, strict=True)
    )
    for code, start, end in runs:
        yield days[code], table.slice(start, end - start)


def _parquet_options(rows: Any) -> dict[str, Any]:
    """How a file's columns are encoded: dictionary pages for the columns whose values repeat
    (text, labels, ids, flags, small integers), plain for floating-point numbers, timestamps and
    ``_row``, whose values are nearly all distinct (a dictionary there only costs time and
    bytes). Any Parquet reader decodes both."""
    import pyarrow as pa

    plain = (pa.types.is_floating, pa.types.is_timestamp)
    return {
        "use_dictionary": [
            f.name
            for f in rows.schema
            if f.name != ROW_COLUMN and not any(is_type(f.type) for is_type in plain)
        ]
    }


def _arrow_type(dtype: Any) -> Any:
    import pyarrow as pa

    if isinstance(dtype, pd.DatetimeTZDtype):
        return pa.timestamp("us", tz="UTC")
    if isinstance(dtype, pd.Int64Dtype):
        return pa.int64()
    if isinstance(dtype, pd.Float64Dtype):
        return pa.float64()
    if isinstance(dtype, pd.BooleanDtype):
        return pa.bool_()
    return pa.string()  # strings, labels (categories) and JSON text


def arrow_schema(name: str) -> Any:
    """The one Arrow schema of every Parquet file of table ``name`` (without ``date``).

    Parameters
    ----------
    name : str
        A table of :data:`~oneinbox_nb.frames.TABLES`.

    Returns
    -------
    pyarrow.Schema
        :data:`~oneinbox_nb.frames.SCHEMA`'s columns in order (timestamps ``timestamp[us, UTC]``,
        ``Int64`` ``int64``, ``Float64`` ``double``, ``boolean`` ``bool``, the rest ``string``);
        for ``calls`` then the promoted ``meta_<key>`` text columns and the ``metadata``,
        ``variables``, ``analysis`` JSON text columns; then ``_part`` and ``_row`` (``int64``).
    """
    import pyarrow as pa

    fields = [pa.field(c, _arrow_type(d)) for c, d in SCHEMA[name].items()]
    if name == "calls":
        fields += [pa.field(f"meta_{k}", pa.string()) for k in PROMOTED_KEYS]
        fields += [pa.field(c, pa.string()) for c in EXTRA_JSON.values()]
    fields += [pa.field(PART_COLUMN, pa.int64()), pa.field(ROW_COLUMN, pa.int64())]
    return pa.schema(fields)


def _plain(values: pd.Series) -> np.ndarray:
    """A column as an ``object`` array of Python values (int, float, bool, str), missing ones
    None."""
    return values.to_numpy(dtype=object, na_value=None)


def _text(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return orjson.dumps(value, default=str).decode()


def extras_text(frame: pd.DataFrame) -> dict[str, list[str | None]]:
    """The flattened extra columns of a ``calls`` frame as the promoted and JSON text columns."""
    n = len(frame)
    out: dict[str, list[str | None]] = {}
    for key in PROMOTED_KEYS:
        column = f"meta_{key}"
        if column in frame:
            out[column] = [_text(v) for v in _plain(frame[column]).tolist()]
        else:
            out[column] = [None] * n
    for prefix, target in EXTRA_JSON.items():
        rows: list[dict[str, Any] | None] = [None] * n
        for column in sorted(c for c in frame.columns if c.startswith(prefix)):
            key = column[len(prefix) :]
            values = frame[column]
            at = np.flatnonzero(values.notna().to_numpy())  # only the calls that have the key
            for i, value in zip(at.tolist(), _plain(values)[at].tolist(), strict=True):
                if value is not None:
                    row = rows[i]
                    if row is None:
                        rows[i] = row = {}
                    row[key] = value
        out[target] = [
            orjson.dumps(r, default=str, option=orjson.OPT_SORT_KEYS).decode() if r else None
            for r in rows
        ]
    return out


def _typed(values: list[Any]) -> Any:
    """Values of one flattened column read back from JSON, with the dtype the frames infer:
    ``boolean``, ``Int64``, ``Float64`` or ``string`` (non-strings among strings as JSON text)."""
    kinds = {type(v) for v in values} - {type(None)}
    if kinds == {bool}:
        return pd.array(values, dtype=pd.BooleanDtype())
    if kinds and kinds <= {int, float}:
        if kinds == {int}:
            try:
                return pd.array(values, dtype=pd.Int64Dtype())
            except (OverflowError, TypeError, ValueError):
                pass
        return pd.array([None if v is None else float(v) for v in values], dtype=pd.Float64Dtype())
    return pd.array([_text(v) for v in values], dtype=pd.StringDtype())


def extra_columns(calls: pd.DataFrame) -> dict[str, Any]:
    """The frames' ``meta_*``/``var_*``/``analysis_*`` columns rebuilt from a stored ``calls``
    table's JSON text columns (the inverse of what :func:`to_arrow` stores), sorted by name.

    Parameters
    ----------
    calls : pandas.DataFrame
        Rows of the stored ``calls`` table, with ``metadata``, ``variables`` and ``analysis``.

    Returns
    -------
    dict
        Column name -> pandas array (``boolean``, ``Int64``, ``Float64`` or ``string``); keys
        without any value are left out.
    """
    n = len(calls)
    found: dict[str, list[Any]] = {}
    for prefix, source in EXTRA_JSON.items():
        if source not in calls:
            continue
        for row, text in enumerate(calls[source].tolist()):
            if text is None or text is pd.NA:
                continue
            for key, value in orjson.loads(text).items():
                found.setdefault(prefix + key, [None] * n)[row] = value
    return {name: _typed(found[name]) for name in sorted(found)}


def to_arrow(name: str, frame: pd.DataFrame) -> Any:
    """One table of a CallFrames as an Arrow table of :func:`arrow_schema` (without ``_part``,
    ``_row``), ready for Parquet.

    Labels (categories) become plain strings, ``object`` columns (e.g. ``messages.tool_arguments``)
    JSON text, timestamps microseconds (what Spark reads); the ``meta_*``/``var_*``/``analysis_*``
    columns of ``calls`` become the promoted and JSON text columns (see the module docstring).
    """
    import pyarrow as pa

    schema = arrow_schema(name)
    columns: dict[str, Any] = {}
    for column, dtype in SCHEMA[name].items():
        values = frame[column]
        if dtype == np.dtype(object):
            columns[column] = pa.array(
                [None if v is None else json_text(v) for v in values],  # exact: big ints too
                type=pa.string(),
            )
            continue
        array = pa.array(values, from_pandas=True)
        if pa.types.is_dictionary(array.type):  # a label (category) column: its plain values
            array = array.dictionary_decode()
        columns[column] = array.cast(schema.field(column).type)
    if name == "calls":
        for column, texts in extras_text(frame).items():
            columns[column] = pa.array(texts, type=pa.string())
    return pa.table(columns, schema=pa.schema(list(schema)[:-2]))


def with_part(table: Any, part: int) -> Any:
    """``table`` with ``_part`` (the part number) and ``_row`` (the row's position, which gives
    each call's rows back in their order) appended."""
    import pyarrow as pa

    n = table.num_rows
    table = table.append_column(PART_COLUMN, pa.array(np.full(n, part, dtype=np.int64)))
    return table.append_column(ROW_COLUMN, pa.array(np.arange(n, dtype=np.int64)))


def empty_table(name: str) -> Any:
    """A table with no rows and the columns of a written file (for views of absent tables)."""
    return arrow_schema(name).empty_table()


class Store:
    """A dataset directory: its committed parts and the files they own.

    Parameters
    ----------
    path : str or path-like
        The dataset's directory.
    create : bool, default False
        Create it (and its format marker) if it does not exist.

    Raises
    ------
    ConfigurationError
        ``path`` is not a dataset (and ``create`` is False), or is a non-empty directory that is not
        a dataset.
    """

    def __init__(
        self, path: str | os.PathLike[str], *, create: bool = False, migrating: bool = False
    ) -> None:
        self.root = Path(path)
        marker = self.root / MARKER
        if self.root.exists() and not self.root.is_dir():
            raise ConfigurationError(
                f"{str(self.root)!r} is a file, not a dataset directory; give a new or empty "
                "directory (or an existing dataset's)"
            )
        if not marker.is_file():
            if not create:
                raise ConfigurationError(
                    f"{str(self.root)!r} is not a call dataset; create one with "
                    f"oneinbox_nb.sync({str(self.root)!r}) or `oneinbox-nb sync PATH`"
                )
            leftovers = f".{MARKER}."  # a creation interrupted before its rename
            if self.root.is_dir() and any(
                not p.name.startswith(leftovers) for p in self.root.iterdir()
            ):
                raise ConfigurationError(
                    f"{str(self.root)!r} is a non-empty directory that is not a call dataset; "
                    "choose a new or empty directory"
                )
            self.write_marker({"format": FORMAT, "version": VERSION})
        self.version = self._check_version(migrating)
        (self.root / COMMITS).mkdir(parents=True, exist_ok=True)

    def _check_version(self, migrating: bool) -> int:
        info = self.marker()
        version = info.get("version")
        if info.get("format") != FORMAT or not isinstance(version, int):
            raise DatasetError(
                f"{str(self.root / MARKER)!r} is not a oneinbox_nb dataset marker; sync into a "
                "new directory"
            )
        if version > VERSION:
            raise DatasetError(
                f"dataset {str(self.root)!r} has format version {version}, newer than this "
                f"oneinbox_nb reads ({VERSION}); upgrade oneinbox_nb"
            )
        if version < VERSION and not migrating:
            raise DatasetError(
                f"dataset {str(self.root)!r} has format version {version} (before the open "
                f"format, version {VERSION}); convert it once with "
                f"oneinbox_nb.dataset.migrate({str(self.root)!r}), or sync into a new directory"
            )
        return version

    def marker(self) -> dict[str, Any]:
        """The dataset's marker ``_oneinbox_dataset.json`` (format, version, account, last sync,
        calls); ``{}`` when it cannot be read."""
        try:
            info = orjson.loads((self.root / MARKER).read_bytes())
        except (OSError, orjson.JSONDecodeError):
            return {}
        return info if isinstance(info, dict) else {}

    def write_marker(self, info: dict[str, Any]) -> None:
        """Replace the marker atomically with ``info``."""
        body = orjson.dumps(info)
        _atomic_write(self.root / MARKER, lambda tmp: Path(tmp).write_bytes(body))

    def __repr__(self) -> str:
        return f"Store({str(self.root)!r})"

    # committed state ------------------------------------------------------------------------------

    def commits(self) -> list[dict[str, Any]]:
        """Every committed part's marker, oldest first (unreadable markers are skipped)."""
        out = []
        for file in sorted((self.root / COMMITS).glob("part-*.json")):
            try:
                commit = orjson.loads(file.read_bytes())
            except (OSError, orjson.JSONDecodeError):
                continue
            if isinstance(commit, dict) and isinstance(commit.get("part"), int):
                out.append(commit)
        return out

    def live(self) -> list[dict[str, Any]]:
        """Committed parts that no compaction replaced."""
        commits = self.commits()
        replaced = {p for c in commits for p in c.get("replaces", ())}
        return [c for c in commits if c["part"] not in replaced]

    def needs_dedup(self, live: list[dict[str, Any]] | None = None) -> bool:
        """Whether some call may have rows in several live parts (re-synced, or mid-compaction)."""
        live = self.live() if live is None else live
        return len(live) != len(self.commits()) or any(c.get("replaced", 0) for c in live)

    def files(
        self, table: str, *, dates: Iterable[str] | None = None, live: list | None = None
    ) -> list[str]:
        """Absolute paths of the live files of ``table`` (only those days when ``dates`` is given)."""
        wanted = None if dates is None else {f"{DATE_COLUMN}={d}" for d in dates}
        out = []
        for commit in self.live() if live is None else live:
            for rel in commit["files"].get(table, ()):
                if wanted is None or Path(rel).parent.name in wanted:
                    out.append(str(self.root / rel))
        return out

    def next_part(self) -> int:
        parts = [c["part"] for c in self.commits()]
        for table in TABLES:
            parts += [p for f in (self.root / table).glob("*/part-*") if (p := _part_of(f))]
        return max(parts, default=0) + 1

    def sweep(self) -> int:
        """Delete temporary files, files of uncommitted parts and of replaced parts.

        Returns
        -------
        int
            Number of files deleted.
        """
        commits = self.commits()
        replaced = {p for c in commits for p in c.get("replaces", ())}
        keep = {c["part"] for c in commits} - replaced
        removed = 0
        for directory in [self.root / t for t in TABLES] + [self.root / COMMITS]:
            if not directory.is_dir():
                continue
            for file in directory.rglob("*"):
                if not file.is_file():
                    continue
                stale = file.name.startswith(".") and file.name.endswith(".tmp")
                if directory.name != COMMITS:
                    stale = stale or _part_of(file) not in keep
                if stale:
                    file.unlink(missing_ok=True)
                    removed += 1
        for part in sorted(replaced):
            (self.root / COMMITS / f"{_part_name(part)}.json").unlink(missing_ok=True)
        for directory in [self.root / t for t in TABLES]:
            if directory.is_dir():
                for sub in directory.iterdir():
                    if sub.is_dir() and not any(sub.iterdir()):
                        sub.rmdir()
        return removed

    # writing --------------------------------------------------------------------------------------

    def write_part(
        self,
        frames: CallFrames,
        *,
        replaced: int = 0,
        part: int | None = None,
        extra: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Write ``frames`` as one part (a file per table and day) and commit it.

        Parameters
        ----------
        frames : CallFrames
            Calls with unique ids.
        replaced : int, default 0
            How many of these calls already have a live version (recorded so readers know to
            de-duplicate).
        part : int, optional
            The part number; default :meth:`next_part`.
        extra : dict, optional
            More fields for the commit marker.

        Returns
        -------
        dict
            The commit marker.
        """
        tables = {name: to_arrow(name, frame) for name, frame in frames.tables.items()}
        return self.write_tables(tables, replaced=replaced, part=part, extra=extra)

    def count_calls(self) -> int:
        """Distinct calls in the live parts (from the files' ``call_id`` columns)."""
        import pyarrow.parquet as pq

        live = self.live()
        if not self.needs_dedup(live):
            return sum(int(c.get("n_calls", 0)) for c in live)
        ids: set[str] = set()
        for file in self.files("calls", live=live):
            ids.update(pq.read_table(file, columns=["call_id"]).column("call_id").to_pylist())
        return len(ids)

    def write_tables(
        self,
        tables: dict[str, Any],
        *,
        replaced: int = 0,
        part: int | None = None,
        extra: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """:meth:`write_part` for tables already made by :func:`to_arrow`."""
        part = self.next_part() if part is None else part
        calls = tables["calls"]
        call_day, days = _call_days(calls)
        files: dict[str, list[str]] = {}
        for name in TABLES:
            table = tables.get(name)
            if table is None or table.num_rows == 0:
                continue
            row_day = call_day if name == "calls" else _row_days(table, calls, call_day, days)
            table = with_part(table, part).select(arrow_schema(name).names)
            table = table.cast(arrow_schema(name))
            for day, rows in _by_day(table, row_day, days):
                files.setdefault(name, []).append(self.write_file(name, day, part, rows))
        updated = calls.column("updated_at").to_pandas().dropna()
        found = calls.column("meta_run_id").drop_null().unique().to_pylist()
        run_ids = sorted(found) if len(found) <= MAX_RUN_IDS else None
        commit = {
            "part": part,
            "n_calls": calls.num_rows,
            "n_load_test": calls.num_rows - calls.column("meta_run_id").null_count,
            "load_test_key": "run_id",  # the run key n_load_test was counted with
            "replaced": int(replaced),
            "max_updated_at": updated.max().isoformat() if len(updated) else None,
            "written_at": datetime.now(timezone.utc).isoformat(),
            "run_ids": run_ids,
            "files": files,
            **(extra or {}),
        }
        self.commit(commit)
        return commit

    def write_file(self, table: str, day: str, part: int, rows: Any) -> str:
        """Write ``rows`` (a ``pyarrow.Table`` of the open format) as ``table``'s file of ``day``
        in ``part``, through a temporary file and a rename.

        The file is not visible to readers until :meth:`commit` lists it.

        Returns
        -------
        str
            Its path relative to the dataset (as commit markers list files).
        """
        import pyarrow.parquet as pq

        rel = f"{table}/{DATE_COLUMN}={day}/{_part_name(part)}.parquet"
        _atomic_write(
            self.root / rel, lambda tmp: pq.write_table(rows, tmp, **_parquet_options(rows))
        )
        return rel

    def replace_file(self, file: str | os.PathLike[str], rows: Any) -> None:
        """Replace the dataset's Parquet ``file`` (a path from :meth:`files`) by ``rows`` (a
        ``pyarrow.Table``), through a temporary file and a rename."""
        import pyarrow.parquet as pq

        _atomic_write(Path(file), lambda tmp: pq.write_table(rows, tmp, **_parquet_options(rows)))

    def commit(self, body: dict[str, Any]) -> None:
        """Write the commit marker ``body`` of part ``body["part"]`` (atomically): from then on
        its files (``body["files"]``) are visible, and the parts in ``body.get("replaces")`` are
        not."""
        data = orjson.dumps(body)
        marker = self.root / COMMITS / f"{_part_name(int(body['part']))}.json"
        _atomic_write(marker, lambda tmp: Path(tmp).write_bytes(data))
