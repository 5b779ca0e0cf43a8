"""Keeping a dataset in shape: :func:`compact` (one version per call) and :func:`migrate` (format
version 1 to the open format).

Both are crash-safe: :func:`compact` commits the compacted part before the parts it replaces are
deleted (readers resolve duplicates until then), and :func:`migrate` rewrites each file through a
temporary file and changes the marker's version last.
"""

from __future__ import annotations

import os
from datetime import datetime, timezone
from typing import Any

from ..frames import TABLES
from .read import open_dataset
from .store import (
    EXTRA_JSON,
    PART_COLUMN,
    ROW_COLUMN,
    VERSION,
    Store,
    arrow_schema,
    extras_text,
)

__all__ = ["compact", "migrate"]


def compact(path: str | os.PathLike[str]) -> int:
    """Rewrite the dataset with one version per call and one file per table and day.

    Crash-safe: the compacted part is committed before the parts it replaces are deleted, and
    readers resolve duplicates until then.

    Parameters
    ----------
    path : str or path-like

    Returns
    -------
    int
        Files deleted (those of the replaced parts).
    """
    dataset = open_dataset(path)
    store = Store(path)
    live = store.live()
    if not live:
        return store.sweep()
    part = store.next_part()
    files: dict[str, list[str]] = {}
    n_calls = n_load_test = 0
    try:
        for name in TABLES:
            for day in dataset.dates:
                table = dataset.day_rows(name, day)
                if table.num_rows == 0:
                    continue
                if name == "calls":
                    n_calls += table.num_rows
                    n_load_test += table.num_rows - table.column("meta_run_id").null_count
                table = _renumbered(table, part)
                files.setdefault(name, []).append(store.write_file(name, day, part, table))
    finally:
        dataset.close()
    run_ids = [c.get("run_ids") for c in live]
    store.commit(
        {
            "part": part,
            "n_calls": n_calls,
            "n_load_test": n_load_test,
            "load_test_key": "run_id",  # the run key n_load_test was counted with
            "replaced": 0,
            "replaces": [c["part"] for c in live],
            "run_ids": None if None in run_ids else sorted({r for ids in run_ids for r in ids}),
            "written_at": datetime.now(timezone.utc).isoformat(),
            "files": files,
        }
    )
    return store.sweep()


def _renumbered(table: Any, part: int) -> Any:
    """``table`` with ``_part`` set to ``part`` and ``_row`` to 0..n-1 (int64)."""
    import numpy as np
    import pyarrow as pa

    n = table.num_rows
    table = table.drop_columns([PART_COLUMN, ROW_COLUMN])
    table = table.append_column(PART_COLUMN, pa.array(np.full(n, part, dtype=np.int64)))
    return table.append_column(ROW_COLUMN, pa.array(np.arange(n, dtype=np.int64)))


def migrate(path: str | os.PathLike[str]) -> int:
    """Convert a dataset of format version 1 to the open format (version 2), in place.

    Version 1 stored each part's ``meta_*``/``var_*``/``analysis_*`` columns as they came, so files
    differed in schema. Each file is rewritten with :func:`~oneinbox_nb.dataset.store.arrow_schema`
    (through a temporary file and a rename); the marker's version changes last, so an
    interrupted migration is finished by running it again.

    Parameters
    ----------
    path : str or path-like

    Returns
    -------
    int
        Files rewritten (0 when the dataset already has the open format).

    Raises
    ------
    ConfigurationError
        ``path`` is not a call dataset.
    """
    import pyarrow.parquet as pq

    store = Store(path, migrating=True)
    if store.version == VERSION:
        return 0
    store.sweep()
    rewritten = 0
    for name in TABLES:
        for file in store.files(name):
            table = _open_format(name, pq.read_table(file, partitioning=None))
            store.replace_file(file, table)
            rewritten += 1
    info = store.marker()
    info["version"] = VERSION
    store.write_marker(info)
    return rewritten


def _open_format(name: str, table: Any) -> Any:
    """A table read from a file of either format, with the schema of the open format."""
    import pandas as pd
    import pyarrow as pa

    schema = arrow_schema(name)
    if name == "calls" and "metadata" not in table.column_names:
        extras = [c for c in table.column_names if c.startswith(tuple(EXTRA_JSON))]
        frame = table.select(extras).to_pandas(types_mapper=pd.ArrowDtype)
        for column, texts in extras_text(frame).items():
            if column in table.column_names:
                table = table.drop_columns([column])
            table = table.append_column(column, pa.array(texts, type=pa.string()))
    columns = [
        table.column(f.name).cast(f.type)
        if f.name in table.column_names
        else pa.nulls(table.num_rows, type=f.type)
        for f in schema
    ]
    return pa.table(columns, schema=schema)
