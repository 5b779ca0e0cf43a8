"""The :class:`CallFrames` container: six typed tables, select/concat, Parquet I/O and the HTML card."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ._columns import conform, json_text, json_value
from .schema import _CATEGORY, _FLOAT, _INT, _LABELS, _OBJECT, _STRING, SCHEMA, TABLES, _is_extra

__all__ = ["CallFrames"]


@dataclass(frozen=True, repr=False, eq=False)
class CallFrames:
    """Tidy DataFrames for a set of calls; build one with :func:`to_frames`.

    Attributes
    ----------
    calls, messages, events, turns, components, problems : pandas.DataFrame
        The tables described in :data:`SCHEMA`, joined by ``call_id``.
    """

    calls: pd.DataFrame
    messages: pd.DataFrame
    events: pd.DataFrame
    turns: pd.DataFrame
    components: pd.DataFrame
    problems: pd.DataFrame

    @classmethod
    def empty(cls) -> CallFrames:
        """Return frames with no rows and every column of :data:`SCHEMA`."""
        return cls(**{name: conform(name, pd.DataFrame()) for name in TABLES})

    @classmethod
    def concat(cls, frames: Iterable[CallFrames]) -> CallFrames:
        """Stack several :class:`CallFrames` into one (e.g. pages or runs fetched separately).

        Rows keep their order; categoricals get the union of categories; ``meta_``/``var_``/
        ``analysis_`` columns missing from a part are null there. Duplicate call ids are kept.

        Parameters
        ----------
        frames : iterable of CallFrames

        Returns
        -------
        CallFrames
        """
        parts = list(frames)
        for i, part in enumerate(parts):
            if not isinstance(part, CallFrames):
                raise TypeError(
                    f"item {i} is a {type(part).__name__}, not CallFrames; "
                    "pass the results of to_frames()"
                )
        if not parts:
            return cls.empty()
        if len(parts) == 1:
            return parts[0]
        tables = {}
        for name in TABLES:
            others = [getattr(p, name) for p in parts]
            casts, targets = _concat_dtypes(name, others)
            pieces = [_prepare_for_concat(name, frame, casts, targets) for frame in others]
            tables[name] = conform(name, pd.concat(pieces, ignore_index=True))
        return cls(**tables)

    @classmethod
    def read_parquet(cls, path: str | os.PathLike[str]) -> CallFrames:
        """Read frames written by :meth:`to_parquet`, dtypes intact.

        Parameters
        ----------
        path : str or path-like
            The directory holding ``calls.parquet``, ``messages.parquet``, ...

        Returns
        -------
        CallFrames

        Raises
        ------
        FileNotFoundError
            The directory or one of its table files does not exist.
        """
        import pyarrow.parquet as pq

        directory = Path(path)
        if not directory.is_dir():
            raise FileNotFoundError(
                f"no CallFrames directory at {str(directory)!r}; write one first with "
                f"frames.to_parquet({str(directory)!r})"
            )
        missing = [name for name in TABLES if not (directory / f"{name}.parquet").is_file()]
        if missing:
            raise FileNotFoundError(
                f"{str(directory)!r} lacks {', '.join(m + '.parquet' for m in missing)}; it needs "
                f"one file per table ({', '.join(TABLES)}): write it again with "
                "CallFrames.to_parquet()"
            )
        tables = {}
        for name in TABLES:
            frame = pq.read_table(directory / f"{name}.parquet").to_pandas()
            for column, dtype in SCHEMA[name].items():
                if dtype == _OBJECT and column in frame:
                    frame[column] = _from_json_text(frame[column])
            tables[name] = conform(name, frame)
        return cls(**tables)

    def to_parquet(self, path: str | os.PathLike[str]) -> Path:
        """Write one ``<table>.parquet`` per table into a directory, each file atomically.

        Object columns (``messages.tool_arguments``) are stored as JSON text, so plain pyarrow,
        DuckDB, Polars or Spark can read every file; :meth:`read_parquet` decodes them again.

        Parameters
        ----------
        path : str or path-like
            Directory to write into; created if needed. Existing table files are replaced.

        Returns
        -------
        pathlib.Path
            The directory.
        """
        import pyarrow as pa
        import pyarrow.parquet as pq

        directory = Path(path)
        directory.mkdir(parents=True, exist_ok=True)
        for name, frame in self.tables.items():
            frame = frame.copy()
            for column, dtype in SCHEMA[name].items():
                if dtype == _OBJECT:
                    frame[column] = _to_json_text(frame[column])
            table = pa.Table.from_pandas(frame, preserve_index=False)
            fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{name}.", suffix=".parquet.tmp")
            os.close(fd)
            try:
                pq.write_table(table, tmp)
                os.replace(tmp, directory / f"{name}.parquet")
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
        return directory

    @property
    def tables(self) -> dict[str, pd.DataFrame]:
        """The DataFrames by name, in the order of :data:`TABLES`."""
        return {name: getattr(self, name) for name in TABLES}

    def select(self, call_ids: str | Iterable[str]) -> CallFrames:
        """Keep only some calls.

        Parameters
        ----------
        call_ids : str or iterable of str
            One call id or several; rows keep their original order.

        Returns
        -------
        CallFrames
            Unused categories and all-null ``meta_``/``var_``/``analysis_`` columns are dropped.

        Raises
        ------
        KeyError
            An id is not among ``calls.call_id``.
        """
        wanted = [call_ids] if isinstance(call_ids, str) else list(call_ids)
        known = set(self.calls["call_id"].dropna().tolist())
        missing = [c for c in wanted if c not in known]
        if missing:
            shown = ", ".join(repr(c) for c in missing[:5]) + (" ..." if len(missing) > 5 else "")
            raise KeyError(f"call id(s) not in these frames: {shown}")
        tables = {}
        for name, frame in self.tables.items():
            subset = frame[_rows_of(frame["call_id"], wanted)].reset_index(drop=True)
            if name == "calls":
                empty_extras = [
                    c for c in subset.columns if _is_extra(c) and subset[c].isna().all()
                ]
                subset = subset.drop(columns=empty_extras)
            tables[name] = conform(name, subset)
        return CallFrames(**tables)

    def call(self, call_id: str) -> CallFrames:
        """Frames of a single call; ``frames.call(id)`` is ``frames.select([id])``."""
        if not isinstance(call_id, str):
            raise TypeError(f"call_id must be a str, got {type(call_id).__name__}; use select()")
        return self.select([call_id])

    def __len__(self) -> int:
        return len(self.calls)

    def __repr__(self) -> str:
        counts = ", ".join(f"{name}={len(frame)}" for name, frame in self.tables.items())
        return f"CallFrames({counts})"

    def _repr_html_(self) -> str:
        # the card's columns only: a payload's keys name extra columns, and two that differ only
        # in Unicode form (NFKC) would be one field of itertuples' namedtuple, which fails
        shown = self.calls.head(_MAX_CARDS).reindex(columns=_CARD_COLUMNS)
        cards = [_card(row) for row in shown.itertuples(index=False)]
        more = len(self.calls) - _MAX_CARDS
        from .. import display as show  # on first display: `import oneinbox_nb` stays light

        counts = ", ".join(
            f"{show.count(len(frame))} {name}" for name, frame in self.tables.items()
        )
        return (
            '<div class="oneinbox-callframes">'
            f"<p><b>CallFrames</b>: {show.html(counts)}</p>"
            '<div style="display:flex;flex-wrap:wrap;gap:8px">'
            + "".join(cards)
            + "</div>"
            + (f"<p>and {show.count(more)} more calls</p>" if more > 0 else "")
            + "</div>"
        )


_MAX_CARDS = 20
_CARD_COLUMNS = (
    "call_id", "agent_id", "agent_name", "status", "outcome", "started_at", "duration_seconds",
    "cost_cents", "credits_used", "n_turns", "p50_response_ms", "max_response_ms", "worst_turn",
    "n_problems",
)  # fmt: skip


def _rows_of(column: pd.Series, wanted: list[Any]) -> np.ndarray:
    """Which rows of ``column`` hold one of ``wanted``, as ``column.isin(wanted)`` says.

    A pyarrow string column is matched in pyarrow directly: pandas' own ``isin`` there makes a
    pyarrow scalar of every wanted value, for every table (a quarter of :meth:`CallFrames.select`
    on 100 of 2,400 calls).
    """
    array = column.array
    if isinstance(array, pd.arrays.ArrowStringArray) and all(type(c) is str for c in wanted):
        import pyarrow as pa
        import pyarrow.compute as pc

        values = pa.array(array)
        found = pc.is_in(values, value_set=pa.array(wanted, type=values.type))
        return np.array(found, dtype=bool)
    return column.isin(wanted).to_numpy(dtype=bool)


def _card(row: Any) -> str:
    """One call as a small card: every value through :mod:`oneinbox_nb.display` (unknown reads
    ``unknown``), then escaped."""
    from .. import display as show  # on first display: `import oneinbox_nb` stays light

    name = row.agent_name  # NaN without a name lookup: show.agent shows the id
    response = f"{show.ms(row.p50_response_ms, unit=False)} / {show.ms(row.max_response_ms)}"
    fields = [
        ("agent", show.agent(row.agent_id, name)),
        ("status", show.text(row.status)),
        ("outcome", show.text(row.outcome)),
        ("started", show.when(row.started_at)),
        ("duration", show.duration(row.duration_seconds)),
        ("cost", show.money(row.cost_cents)),
        ("credits", show.credits(row.credits_used)),
        ("turns", show.count(row.n_turns)),
        ("response p50 / max", response),
        ("worst turn", show.count(row.worst_turn)),
        ("problems", show.count(row.n_problems)),
    ]
    fields = [(label, show.html(value)) for label, value in fields]
    colour = "#b00020" if pd.notna(row.n_problems) and row.n_problems > 0 else "inherit"
    body = "".join(
        f'<tr><td style="padding:0 8px 0 0;color:#666">{label}</td>'
        f'<td style="padding:0;{"color:" + colour if label == "problems" else ""}">{value}</td></tr>'
        for label, value in fields
    )
    return (
        '<div style="border:1px solid #ccc;border-radius:6px;padding:6px 10px;font-size:12px;'
        'min-width:240px">'
        f'<div style="font-weight:bold;font-family:monospace">{show.html(show.text(row.call_id))}</div>'
        f"<table>{body}</table></div>"
    )


def _concat_dtypes(
    name: str, others: list[pd.DataFrame]
) -> tuple[dict[str, pd.CategoricalDtype], dict[str, Any]]:
    """What table ``name`` of every part is cast to before concat: each categorical column's union
    of categories, and each extra column's dtype (sorted by name), over ``others`` (all parts)."""
    casts: dict[str, pd.CategoricalDtype] = {}
    for column, dtype in SCHEMA[name].items():
        if dtype is _CATEGORY:
            labels = set().union(*(set(other[column].cat.categories) for other in others))
            casts[column] = pd.CategoricalDtype(pd.Index(sorted(labels), dtype=_LABELS))
    wanted: dict[str, set[Any]] = {}
    for other in others:
        for column in other.columns:
            if column not in SCHEMA[name]:
                dtypes = wanted.setdefault(column, set())
                values = other[column]
                # A build types a column of nulls only as text: it says nothing of the others.
                if values.dtype != _STRING or values.notna().any():
                    dtypes.add(values.dtype)
    targets: dict[str, Any] = {}
    for column in sorted(wanted):
        dtypes = wanted[column] or {_STRING}
        if len(dtypes) == 1:
            targets[column] = next(iter(dtypes))
        elif dtypes <= {_INT, _FLOAT} and all(
            _floats_hold(other[column]) for other in others if column in other
        ):
            targets[column] = _FLOAT
        else:
            targets[column] = _STRING
    return casts, targets


def _prepare_for_concat(
    name: str,
    frame: pd.DataFrame,
    casts: dict[str, pd.CategoricalDtype],
    targets: dict[str, Any],
) -> pd.DataFrame:
    """``frame`` cast as :func:`_concat_dtypes` says for all the parts, ready for concat."""
    columns: dict[str, Any] = {}
    for column in SCHEMA[name]:
        values = frame[column]
        columns[column] = values.astype(casts[column]) if column in casts else values
    for column, target in targets.items():
        if column in frame:
            values = frame[column]
            if values.dtype == target:
                columns[column] = values
            elif target is _STRING:  # as a build of all the parts together writes them
                columns[column] = pd.array(
                    [
                        v if v is None or isinstance(v, str) else json_text(v)
                        for v in _values(values)
                    ],
                    dtype=_STRING,
                )
            else:
                columns[column] = values.astype(target)
        else:
            columns[column] = pd.array([None] * len(frame), dtype=target)
    return pd.DataFrame(columns, index=frame.index, copy=False)  # pd.concat copies next


def _floats_hold(values: pd.Series) -> bool:
    """Whether ``Float64`` holds every value of ``values`` exactly (whole numbers up to 2**53)."""
    if values.dtype != _INT:
        return True
    data = values.dropna().to_numpy(dtype=np.int64)
    return bool((np.abs(data) <= 2**53).all())


def _values(values: pd.Series) -> list[Any]:
    """The Python values of ``values``, None where missing."""
    return [
        None if v is pd.NA or v is None or (isinstance(v, float) and v != v) else v
        for v in values.tolist()
    ]


def _to_json_text(values: pd.Series) -> pd.Series:
    return pd.Series(
        [None if v is None else json_text(v) for v in values.tolist()],
        index=values.index,
        dtype=_STRING,
    )


def _from_json_text(values: pd.Series) -> pd.Series:
    out = values.to_numpy(dtype=object, na_value=None)
    for i in np.flatnonzero(pd.notna(out)).tolist():
        out[i] = json_value(out[i], constants=True)  # json_text may have written NaN
    return pd.Series(out, index=values.index, dtype=object)
