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
from collections.abc import Iterable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pandas as pd

from ..exceptions import ConfigurationError
from ..frames import SCHEMA, TABLES, CallFrames

__all__ = ["DATE_COLUMN", "PART_COLUMN", "ROW_COLUMN", "UNKNOWN_DATE", "Store"]

FORMAT = "oneinbox-dataset"
VERSION = 1
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


def call_dates(created_at: pd.Series) -> np.ndarray:
    """``YYYY-MM-DD`` (UTC) of each timestamp, :data:`UNKNOWN_DATE` where it is missing."""
    days = created_at.dt.strftime("%Y-%m-%d").astype(object).to_numpy()
    return np.where(pd.isna(days), UNKNOWN_DATE, days)


def to_arrow(name: str, frame: pd.DataFrame) -> Any:
    """One table of a CallFrames as an Arrow table ready for Parquet.

    Labels (categories) become plain strings, ``messages.tool_arguments`` JSON text, timestamps
    microseconds (what Spark reads).
    """
    import pyarrow as pa

    columns: dict[str, Any] = {}
    for column in frame.columns:
        values = frame[column]
        dtype = SCHEMA[name].get(column)
        if dtype is not None and dtype == np.dtype(object):
            columns[column] = pa.array(
                [None if v is None else orjson.dumps(v, default=str).decode() for v in values],
                type=pa.string(),
            )
            continue
        if isinstance(values.dtype, pd.CategoricalDtype):
            values = values.astype(object)
        array = pa.array(values, from_pandas=True)
        if pa.types.is_timestamp(array.type):
            array = array.cast(pa.timestamp("us", tz="UTC"))
        elif pa.types.is_large_string(array.type) or pa.types.is_null(array.type):
            array = array.cast(pa.string())
        columns[column] = array
    return pa.table(columns)


def with_part(table: Any, part: int) -> Any:
    """``table`` with ``_part`` (the part number) and ``_row`` (the row's position, which gives
    each call's rows back in their order) appended."""
    import pyarrow as pa

    n = table.num_rows
    table = table.append_column(PART_COLUMN, pa.array(np.full(n, part, dtype=np.int64)))
    return table.append_column(ROW_COLUMN, pa.array(np.arange(n, dtype=np.int64)))


def empty_table(name: str) -> Any:
    """A table with no rows and the columns of a written file (for views of absent tables)."""
    return with_part(to_arrow(name, CallFrames.empty().tables[name]), 0)


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

    def __init__(self, path: str | os.PathLike[str], *, create: bool = False) -> None:
        self.root = Path(path)
        marker = self.root / MARKER
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
            body = orjson.dumps({"format": FORMAT, "version": VERSION})
            _atomic_write(marker, lambda tmp: Path(tmp).write_bytes(body))
        (self.root / COMMITS).mkdir(parents=True, exist_ok=True)

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

    def write_tables(
        self,
        tables: dict[str, Any],
        *,
        replaced: int = 0,
        part: int | None = None,
        extra: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """:meth:`write_part` for tables already made by :func:`to_arrow`."""
        import pyarrow.parquet as pq

        part = self.next_part() if part is None else part
        calls = tables["calls"]
        created = calls.column("created_at").to_pandas()
        dates = call_dates(created)
        index = pd.Index(calls.column("call_id").to_pandas().astype(object))
        files: dict[str, list[str]] = {}
        for name in TABLES:
            table = tables.get(name)
            if table is None or table.num_rows == 0:
                continue
            if name == "calls":
                row_dates = dates
            else:
                found = index.get_indexer(table.column("call_id").to_pandas().astype(object))
                row_dates = np.where(found >= 0, dates[np.maximum(found, 0)], UNKNOWN_DATE)
            table = with_part(table, part)
            for day in sorted(set(row_dates.tolist())):
                rows = np.flatnonzero(row_dates == day)
                rel = f"{name}/{DATE_COLUMN}={day}/{_part_name(part)}.parquet"
                piece = table.take(rows)
                _atomic_write(self.root / rel, lambda tmp, p=piece: pq.write_table(p, tmp))
                files.setdefault(name, []).append(rel)
        updated = calls.column("updated_at").to_pandas().dropna()
        run_ids: list[str] | None = []
        if "meta_run_id" in calls.column_names:
            found = calls.column("meta_run_id").drop_null().cast("string").unique().to_pylist()
            run_ids = sorted(found) if len(found) <= MAX_RUN_IDS else None
        commit = {
            "part": part,
            "n_calls": calls.num_rows,
            "replaced": int(replaced),
            "max_updated_at": updated.max().isoformat() if len(updated) else None,
            "written_at": datetime.now(timezone.utc).isoformat(),
            "run_ids": run_ids,
            "files": files,
            **(extra or {}),
        }
        body = orjson.dumps(commit)
        marker = self.root / COMMITS / f"{_part_name(part)}.json"
        _atomic_write(marker, lambda tmp: Path(tmp).write_bytes(body))
        return commit
