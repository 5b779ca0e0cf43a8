"""DuckDB for the dataset modules: import it, run a query to Arrow, explain its errors.

Shared by :mod:`oneinbox_nb.dataset.read` (views, frames, SQL) and
:mod:`oneinbox_nb.dataset.upkeep` (compaction), so neither reaches into the other's private names.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..exceptions import ConfigurationError
from .store import DatasetError

__all__ = ["DUCKDB_MISSING", "arrow_table", "engine_error", "import_duckdb"]

DUCKDB_MISSING = "the dataset needs DuckDB, a dependency of oneinbox_nb: pip install duckdb"

_FILE = re.compile(r"""["']([^"']+\.parquet)["']""")


def import_duckdb() -> Any:
    """The ``duckdb`` module.

    Raises
    ------
    ConfigurationError
        DuckDB is not installed (the message says how to install it).
    """
    try:
        import duckdb
    except ImportError as exc:  # pragma: no cover - the extra is installed in dev
        raise ConfigurationError(DUCKDB_MISSING) from exc
    return duckdb


def engine_error(exc: BaseException, path: Path | None, what: str) -> DatasetError:
    """A DuckDB error as a :class:`DatasetError` that says what to do.

    A refused file access is the read-only rule; an error naming a Parquet file is a damaged
    part (the file is named, with how to drop and re-sync it); anything else is the SQL's error.

    Parameters
    ----------
    exc : BaseException
        The error DuckDB raised.
    path : pathlib.Path or None
        The dataset, named in the message when given.
    what : str
        What was being done, in the words of the interface (``"Dataset.sql"``).

    Returns
    -------
    DatasetError
    """
    message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    kind = type(exc).__name__
    if kind == "PermissionException" or "disabled by configuration" in message:
        return DatasetError(
            f"{what}: the dataset is read-only; SQL may read its tables (calls, messages, events, "
            "turns, components, problems) but not write files, attach databases or read other "
            f"files. DuckDB said: {message}"
        )
    found = _FILE.search(message)
    if found:
        file = Path(found.group(1))
        part = file.stem
        return DatasetError(
            f"{what}: part file {str(file)!r} cannot be read ({message}); delete "
            f"_commits/{part}.json in the dataset and sync again to bring its calls back"
        )
    where = f" on dataset {str(path)!r}" if path is not None else ""
    return DatasetError(f"{what}{where} failed: {message}")


def arrow_table(con: Any, query: str, params: Sequence[Any] | None = None) -> Any:
    """A DuckDB query's result as a ``pyarrow.Table``.

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
    query : str
        SQL built by library code; untrusted values go in ``params``.
    params : sequence, optional
        Values for the ``?`` placeholders.

    Returns
    -------
    pyarrow.Table
        ``to_arrow_table`` in DuckDB 2, ``arrow`` before.

    Raises
    ------
    DatasetError
        The query failed (see :func:`engine_error`).
    """
    duckdb = import_duckdb()
    try:
        relation = con.sql(query, params=list(params) if params else None)
        fetch = getattr(relation, "to_arrow_table", None) or relation.arrow
        return fetch()
    except duckdb.Error as exc:
        raise engine_error(exc, None, "reading the dataset") from None
