"""OneInbox calls as tidy pandas DataFrames.

:func:`to_frames` turns call dicts (what ``OneInboxClient.get_call`` and ``iter_calls`` return) into a
:class:`CallFrames`: six DataFrames that share the key ``call_id``.

=============  ==========================================================================================
table          one row per
=============  ==========================================================================================
``calls``      call: ids, status, timestamps (UTC), duration, cost, credits, connect timings, providers,
               per-call response-latency summary, and flattened ``meta_``/``var_``/``analysis_`` columns
``messages``   item of ``messages``, in order (``seq``), with its conversation ``turn``
``events``     item of ``latency.events``: ``type`` (``tool:<name>`` split into ``type="tool"`` and
               ``tool="<name>"``) and ``ms``
``turns``      (call_id, turn) seen in the events: per-component sums and ``response_ms``
``components`` server aggregate in ``latency`` (``stt``, ``llm_ttft``, ``tts_ttfb``, ``eou_delay``)
``problems``   data-quality finding (see :data:`PROBLEMS`); findings never stop the build
=============  ==========================================================================================

Column names and dtypes are fixed by :data:`SCHEMA`, the single source of truth, applied at the end of
every build (also for empty input): timestamps are ``datetime64[ns, UTC]``, numbers that can be missing
are ``Int64``/``Float64``, ids and free text are ``string``, low-cardinality labels are ``category``
(categories: the values present, sorted) and flags are ``boolean``. ``messages.tool_arguments`` holds
the parsed arguments (dicts) in an ``object`` column.

Turn numbering
--------------
Messages carry no timestamps, so turns are counted: every ``user`` message opens the next turn and
everything before the first user message (the greeting) is turn 0. Turn ``k >= 1`` is the k-th user
utterance plus the agent, tool and other messages that answer it. ``latency.events`` use the same numbers
(turn 0 may hold the greeting's ``llm_ttft``/``tts_ttfb``); an event turn beyond the number of user
messages is reported as ``turn_numbering_mismatch``. ``calls.n_turns`` counts turns >= 1: the larger of
the number of user messages and the highest event turn.

Response latency
----------------
``turns.response_ms = eou_delay_ms + llm_ttft_ms + kb_ms + tool_ms + tts_ttfb_ms``, each the sum of that
turn's events of the type (a knowledge-base turn reads ``llm_ttft -> kb -> llm_ttft``, so both LLM calls
count). ``stt`` is excluded: it runs while the caller speaks. This is LiveKit's documented formula and the
vendor dashboard's; e.g. eou 340 + llm 420 + kb 260 + llm 700 + tts 170 = 1890 ms. A component a turn has
no event for counts 0 (turns exist only where at least one event exists); an event with a missing ``ms``
counts 0 too (and is reported); events without a usable turn number are in no turn. Absurd
(> :data:`ABSURD_MS`) and negative values stay in ``events`` and in the ``turns`` sums, flagged in
``problems`` and in the ``has_problem`` columns of ``events``, ``messages`` and ``turns``, so analysis
can drop them. ``calls.p50_response_ms``, ``max_response_ms`` and ``worst_turn`` summarise turns >= 1
without problems (the greeting answers no one).

Messages
--------
Every role is kept, odd ones too. ``tool_call_id``, ``tool_name`` (the item's ``name``),
``is_error`` and ``tool_arguments`` are read from messages that are not ``agent`` or ``user`` speech;
a ``tool_result`` without a name takes its ``tool_call``'s (matched by call and ``tool_call_id``).
``is_error`` is False unless the item says true (null when it is not a boolean). Content that is not a
string is JSON-encoded.

Flattened columns
-----------------
``metadata``, ``variables`` and ``analysis`` become ``meta_<key>``, ``var_<key>`` and
``analysis_<key>`` columns; nested dicts are joined with ``.`` (``analysis_extracted_data.post_call.
follow_up_needed``). Lists (and values of mixed types in one column) are JSON-encoded strings; empty
dicts produce no column. Dtypes are inferred per column: ``boolean``, ``Int64``, ``Float64`` or
``string``. ``metadata.concurrency_at_dispatch`` is promoted to ``calls.concurrency_at_dispatch`` and not
repeated as a ``meta_`` column.

Strings that cannot be stored as UTF-8 (lone surrogates, possible in Python but not in JSON from the
API) have the offending characters replaced by ``?``.
"""

from __future__ import annotations

import html
import json
import numbers
import os
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import chain, repeat
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np
import orjson
import pandas as pd

from .client import TERMINAL_STATUSES
from .exceptions import InvalidCallError

__all__ = [
    "ABSURD_MS",
    "COMPONENTS",
    "EVENT_TYPES",
    "PROBLEMS",
    "RESPONSE_COMPONENTS",
    "SCHEMA",
    "TABLES",
    "CallFrames",
    "to_frames",
]

#: Milliseconds above which a latency value is reported as ``absurd_ms``.
ABSURD_MS = 60_000.0

#: Tables of a :class:`CallFrames`, in display and file order.
TABLES = ("calls", "messages", "events", "turns", "components", "problems")

#: Known event types, in the order they happen within a turn.
EVENT_TYPES = ("stt", "eou_delay", "llm_ttft", "kb", "tool", "tts_ttfb")

#: Event types summed into ``turns.response_ms`` (``stt`` excluded: it overlaps the caller's speech).
RESPONSE_COMPONENTS = ("eou_delay", "llm_ttft", "kb", "tool", "tts_ttfb")

#: Server-side aggregates found in ``latency``.
COMPONENTS = ("stt", "llm_ttft", "tts_ttfb", "eou_delay")

#: Every problem code, with its severity and meaning.
PROBLEMS: Mapping[str, tuple[str, str]] = MappingProxyType(
    {
        "absurd_ms": ("warning", f"a latency value over {ABSURD_MS:,.0f} ms"),
        "aggregate_disagrees_with_events": (
            "warning",
            "a latency aggregate's samples, avg, min or max do not match the call's events",
        ),
        "credits_not_duration_over_60": (
            "warning",
            "credits_used differs from duration_seconds / 60",
        ),
        "duplicate_call_id": ("warning", "the same call id appears more than once in the input"),
        "ended_before_started": ("warning", "ended_at is earlier than started_at"),
        "missing_field": ("warning", "a field the row needs is absent or null"),
        "negative_ms": ("warning", "a negative latency value"),
        "negative_turn": ("warning", "an event with a negative turn number"),
        "non_numeric_value": (
            "warning",
            "a number given as a string (coerced) or not a number (null)",
        ),
        "non_string_content": ("info", "message content that is not a string (JSON-encoded)"),
        "out_of_range": ("warning", "a number or timestamp too large for its column (null)"),
        "terminal_without_ended_at": ("warning", "status is terminal but ended_at is missing"),
        "tool_call_without_result": ("warning", "a tool_call message with no tool_result"),
        "tool_result_without_call": ("warning", "a tool_result message with no matching tool_call"),
        "turn_numbering_mismatch": (
            "warning",
            "an event turn is greater than the number of user messages",
        ),
        "unknown_event_type": ("info", "an event type outside EVENT_TYPES (kept as is)"),
        "unparseable_timestamp": ("warning", "a timestamp that is not ISO 8601 (null)"),
        "unparseable_tool_arguments": (
            "warning",
            "tool_call arguments that are not a JSON object (tool_arguments is null)",
        ),
        "wrong_type": (
            "warning",
            "a value of the wrong JSON type (row kept, value null or encoded)",
        ),
    }
)


_STRING = pd.StringDtype()
_CATEGORY = pd.CategoricalDtype()
_UTC = pd.DatetimeTZDtype(unit="ns", tz="UTC")
_INT = pd.Int64Dtype()
_FLOAT = pd.Float64Dtype()
_BOOL = pd.BooleanDtype()
_OBJECT = np.dtype(object)
# The dtype pandas gives an Index of strings: ``str`` on pandas 3, ``object`` on pandas 2.
_LABELS = pd.Index(["x"]).dtype

_CONNECT = ("setup_ms", "dispatch_to_answer_ms", "answer_to_active_ms", "active_to_greeting_ms")
_TIMESTAMPS = ("created_at", "updated_at", "scheduled_at", "started_at", "ended_at")
_PROVIDER_SOURCES = {"stt": "stt", "llm": "llm_ttft", "tts": "tts_ttfb"}
_EXTRA_PREFIXES = ("meta_", "var_", "analysis_")
_NONE = type(None)
_LEAF_TYPES = frozenset({str, int, float, bool, _NONE, list})
_NO_VALUE = object()

#: Table -> column -> dtype. ``category`` means a ``pd.CategoricalDtype`` whose categories are the
#: values present, sorted. ``calls`` also has inferred ``meta_*``, ``var_*`` and ``analysis_*`` columns.
SCHEMA: Mapping[str, Mapping[str, Any]] = MappingProxyType(
    {
        "calls": MappingProxyType(
            {
                "call_id": _STRING,
                "agent_id": _CATEGORY,
                "status": _CATEGORY,
                "type": _CATEGORY,
                "direction": _CATEGORY,
                "outcome": _CATEGORY,
                "end_reason": _CATEGORY,
                "created_at": _UTC,
                "updated_at": _UTC,
                "scheduled_at": _UTC,
                "started_at": _UTC,
                "ended_at": _UTC,
                "duration_seconds": _FLOAT,
                "cost_cents": _INT,
                "credits_used": _FLOAT,
                "concurrency_at_dispatch": _INT,
                "from_number": _STRING,
                "to_number": _STRING,
                "room_name": _STRING,
                "twilio_call_sid": _STRING,
                "recording_url": _STRING,
                "ai_summary": _STRING,
                "connect_setup_ms": _FLOAT,
                "connect_dispatch_to_answer_ms": _FLOAT,
                "connect_answer_to_active_ms": _FLOAT,
                "connect_active_to_greeting_ms": _FLOAT,
                "provider_stt": _CATEGORY,
                "provider_llm": _CATEGORY,
                "provider_tts": _CATEGORY,
                "worker_id": _STRING,
                "worker_load1": _FLOAT,
                "worker_mem_pct": _FLOAT,
                "perceived_avg_ms": _FLOAT,
                "perceived_p50_ms": _FLOAT,
                "n_messages": _INT,
                "n_events": _INT,
                "n_turns": _INT,
                "p50_response_ms": _FLOAT,
                "max_response_ms": _FLOAT,
                "worst_turn": _INT,
                "n_problems": _INT,
            }
        ),
        "messages": MappingProxyType(
            {
                "call_id": _STRING,
                "seq": _INT,
                "turn": _INT,
                "role": _CATEGORY,
                "content": _STRING,
                "tool_name": _CATEGORY,
                "tool_call_id": _STRING,
                "tool_arguments": _OBJECT,
                "tool_arguments_raw": _STRING,
                "is_error": _BOOL,
                "has_problem": _BOOL,
            }
        ),
        "events": MappingProxyType(
            {
                "call_id": _STRING,
                "seq": _INT,
                "turn": _INT,
                "type": _CATEGORY,
                "tool": _CATEGORY,
                "ms": _FLOAT,
                "has_problem": _BOOL,
            }
        ),
        "turns": MappingProxyType(
            {
                "call_id": _STRING,
                "turn": _INT,
                "stt_ms": _FLOAT,
                "eou_delay_ms": _FLOAT,
                "llm_ttft_ms": _FLOAT,
                "kb_ms": _FLOAT,
                "tool_ms": _FLOAT,
                "tts_ttfb_ms": _FLOAT,
                "response_ms": _FLOAT,
                "n_events": _INT,
                "n_llm_calls": _INT,
                "n_tool_calls": _INT,
                "has_kb": _BOOL,
                "has_tool": _BOOL,
                "has_problem": _BOOL,
            }
        ),
        "components": MappingProxyType(
            {
                "call_id": _STRING,
                "component": _CATEGORY,
                "provider": _CATEGORY,
                "avg_ms": _FLOAT,
                "p50_ms": _FLOAT,
                "min_ms": _FLOAT,
                "max_ms": _FLOAT,
                "samples": _INT,
                "n_events": _INT,
            }
        ),
        "problems": MappingProxyType(
            {
                "call_id": _STRING,
                "where": _STRING,
                "problem": _CATEGORY,
                "severity": _CATEGORY,
                "value": _STRING,
                "detail": _STRING,
            }
        ),
    }
)


# --------------------------------------------------------------------------------------------------
# The container
# --------------------------------------------------------------------------------------------------


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
        return cls(**{name: _conform(name, pd.DataFrame()) for name in TABLES})

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
            pieces = [_prepare_for_concat(name, getattr(p, name), parts) for p in parts]
            tables[name] = _conform(name, pd.concat(pieces, ignore_index=True))
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
            tables[name] = _conform(name, frame)
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
        known = set(self.calls["call_id"].dropna())
        missing = [c for c in wanted if c not in known]
        if missing:
            shown = ", ".join(repr(c) for c in missing[:5]) + (" ..." if len(missing) > 5 else "")
            raise KeyError(f"call id(s) not in these frames: {shown}")
        tables = {}
        for name, frame in self.tables.items():
            subset = frame[frame["call_id"].isin(wanted).to_numpy(dtype=bool)].reset_index(
                drop=True
            )
            if name == "calls":
                empty_extras = [
                    c for c in subset.columns if _is_extra(c) and subset[c].isna().all()
                ]
                subset = subset.drop(columns=empty_extras)
            tables[name] = _conform(name, subset)
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
        cards = [_card(row) for row in self.calls.head(_MAX_CARDS).itertuples(index=False)]
        more = len(self.calls) - _MAX_CARDS
        counts = ", ".join(f"{len(frame):,} {name}" for name, frame in self.tables.items())
        return (
            '<div class="oneinbox-callframes">'
            f"<p><b>CallFrames</b>: {html.escape(counts)}</p>"
            '<div style="display:flex;flex-wrap:wrap;gap:8px">'
            + "".join(cards)
            + "</div>"
            + (f"<p>and {more:,} more calls</p>" if more > 0 else "")
            + "</div>"
        )


_MAX_CARDS = 20


def _card(row: Any) -> str:
    def show(value: Any, fmt: str = "{}") -> str:
        if value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value)):
            return "&mdash;"
        if value is pd.NaT:
            return "&mdash;"
        return html.escape(fmt.format(value))

    started = row.started_at
    fields = [
        ("agent", show(row.agent_id)),
        ("status", show(row.status)),
        ("outcome", show(row.outcome)),
        ("started", show(None if pd.isna(started) else started.strftime("%Y-%m-%d %H:%M:%S UTC"))),
        ("duration", show(row.duration_seconds, "{:,.1f} s")),
        ("cost", show(row.cost_cents, "{:,} cents")),
        ("credits", show(row.credits_used, "{:,.2f}")),
        ("turns", show(row.n_turns)),
        (
            "response p50 / max",
            f"{show(row.p50_response_ms, '{:,.0f}')} / {show(row.max_response_ms, '{:,.0f}')} ms",
        ),
        ("worst turn", show(row.worst_turn)),
        ("problems", show(row.n_problems)),
    ]
    colour = "#b00020" if pd.notna(row.n_problems) and row.n_problems > 0 else "inherit"
    body = "".join(
        f'<tr><td style="padding:0 8px 0 0;color:#666">{label}</td>'
        f'<td style="padding:0;{"color:" + colour if label == "problems" else ""}">{value}</td></tr>'
        for label, value in fields
    )
    return (
        '<div style="border:1px solid #ccc;border-radius:6px;padding:6px 10px;font-size:12px;'
        'min-width:240px">'
        f'<div style="font-weight:bold;font-family:monospace">{show(row.call_id)}</div>'
        f"<table>{body}</table></div>"
    )


# --------------------------------------------------------------------------------------------------
# Building
# --------------------------------------------------------------------------------------------------


def to_frames(calls: Iterable[Mapping[str, Any]] | Mapping[str, Any]) -> CallFrames:
    """Build tidy DataFrames from OneInbox call dicts.

    Parameters
    ----------
    calls : iterable of dict, or dict
        Call payloads as returned by ``OneInboxClient.get_call`` or ``iter_calls`` (one dict is
        wrapped). Only ``id`` is required; anything else may be missing, null or odd, and is reported
        in ``problems`` rather than raised.

    Returns
    -------
    CallFrames
        ``calls``, ``messages``, ``events``, ``turns``, ``components`` and ``problems``, typed as in
        :data:`SCHEMA`.

    Raises
    ------
    InvalidCallError
        An item is not a call: not a mapping, or a mapping without ``id`` (e.g. a list page
        ``{"items": [...]}``, whose ``["items"]`` should be passed instead).

    Examples
    --------
    >>> frames = to_frames(client.iter_calls(agent_id=agent))  # doctest: +SKIP
    >>> frames.turns.groupby("call_id")["response_ms"].median()  # doctest: +SKIP
    """
    return _Build(_call_list(calls)).frames()


def _call_list(calls: Any) -> list[Mapping[str, Any]]:
    how = "pass the dicts returned by OneInboxClient.get_call or iter_calls"
    if isinstance(calls, Mapping):
        if calls.get("id") is not None:
            return [calls]
        raise InvalidCallError(_not_a_call(calls, "the argument", how))
    if isinstance(calls, (str, bytes, bytearray)):
        raise InvalidCallError(
            f"got {type(calls).__name__} text, not call dicts; parse it first "
            "(orjson.loads / json.loads) and pass the resulting dicts"
        )
    if isinstance(calls, pd.DataFrame):
        raise InvalidCallError(f"got a DataFrame, not call dicts; {how}")
    try:
        items = iter(calls)
    except TypeError:
        raise InvalidCallError(
            f"expected call dicts (one, or an iterable of them), got {type(calls).__name__}; {how}"
        ) from None
    out = []
    for i, item in enumerate(items):
        if not isinstance(item, Mapping):
            raise InvalidCallError(f"item {i} is a {type(item).__name__}, not a call dict; {how}")
        if item.get("id") is None:
            raise InvalidCallError(_not_a_call(item, f"item {i}", how))
        out.append(item)
    return out


def _not_a_call(mapping: Mapping[str, Any], what: str, how: str) -> str:
    if "items" in mapping:
        return (
            f"{what} is a list page ({{'items': [...], ...}}), not a call; "
            "pass resp['items'] (or use client.iter_calls(), which yields the calls)"
        )
    keys = list(mapping)
    shown = ", ".join(repr(k) for k in keys[:8]) + (", ..." if len(keys) > 8 else "")
    state = "has id None" if "id" in mapping else f"has no 'id' (keys: {shown or 'none'})"
    return f"{what} {state}, so it is not a call dict; {how}"


class _Findings:
    """Problem rows collected during a build, kept column-wise.

    ``section`` and ``seq`` order a call's rows: call-level fields (0), then messages (1) and
    events (2), each by position.
    """

    def __init__(self) -> None:
        self.pos: list[int] = []
        self.section: list[int] = []
        self.seq: list[int] = []
        self.where: list[str] = []
        self.code: list[str] = []
        self.value: list[str | None] = []
        self.detail: list[str | None] = []

    def add(
        self,
        pos: int,
        where: str,
        code: str,
        value: Any = _NO_VALUE,
        detail: str | None = None,
        *,
        section: int = 0,
        seq: int = 0,
    ) -> None:
        self.pos.append(int(pos))
        self.section.append(section)
        self.seq.append(int(seq))
        self.where.append(where)
        self.code.append(code)
        self.value.append(None if value is _NO_VALUE else _short_repr(value))
        self.detail.append(detail)


def _short_repr(value: Any, limit: int = 200) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


class _Build:
    """One build of :class:`CallFrames` from a list of call mappings, column-wise across calls."""

    def __init__(self, calls: list[Mapping[str, Any]]) -> None:
        self.calls = calls
        self.n = len(calls)
        self.found = _Findings()
        self.plain = set(map(type, calls)) <= {dict}
        self.call_ids = [c["id"] if type(c["id"]) is str else str(c["id"]) for c in calls]
        self.call_id_array = _string_array(self.call_ids)
        self.call_id_arrow = _arrow_strings(self.call_ids)  # for fast takes, if strings are arrow

    def _ids(self, positions: np.ndarray) -> pd.api.extensions.ExtensionArray:
        """The call id of each position, as a ``string`` array."""
        if self.call_id_arrow is not None:
            import pyarrow.compute as pc

            taken = pc.take(self.call_id_arrow, positions, memory_pool=_memory_pool())
            array = pd.arrays.ArrowStringArray(taken)
            if array.dtype == _STRING:
                return array
        return self.call_id_array.take(positions)

    def frames(self) -> CallFrames:
        latency = self._latency_parts()
        messages = self._messages()
        events = self._events(latency["events"], latency["has_events"])
        turns, per_call = self._turns(events)
        components = self._components(latency["aggregates"], events, latency["has_events"])
        calls = self._calls(latency, messages, events, per_call)
        problems = self._problems()
        n_problems = np.bincount(np.asarray(self.found.pos, dtype=np.int64), minlength=self.n)
        calls["n_problems"] = n_problems
        events["has_problem"] = events.pop("_flag")
        messages["has_problem"] = messages.pop("_flag")
        tables = {
            "calls": calls,
            "messages": messages,
            "events": events,
            "turns": turns,
            "components": components,
            "problems": problems,
        }
        return CallFrames(**{name: _frame(name, cols) for name, cols in tables.items()})

    # -- calls ------------------------------------------------------------------------------------

    def _get(self, key: str) -> list[Any]:
        if self.plain:
            return list(map(dict.get, self.calls, repeat(key)))
        return [c.get(key) for c in self.calls]

    def _mapping(self, call_pos: int, value: Any, where: str) -> dict[str, Any]:
        if value is None:
            return {}
        if _is_mapping(value):
            return value if type(value) is dict else dict(value)
        self.found.add(call_pos, where, "wrong_type", value, "expected an object")
        return {}

    def _sections(self, values: list[Any], where: str) -> list[dict[str, Any]]:
        """Each value as a dict: None becomes ``{}``; a non-object is reported and becomes ``{}``."""
        return [
            v if type(v) is dict else self._mapping(pos, v, where) for pos, v in enumerate(values)
        ]

    def _latency_parts(self) -> dict[str, Any]:
        latencies = self._sections(self._get("latency"), "latency")

        def section(name: str) -> list[dict[str, Any]]:
            return self._sections([lat.get(name) for lat in latencies], f"latency.{name}")

        events: list[Sequence[Any]] = []
        has_events = np.zeros(self.n, dtype=bool)
        for pos, value in enumerate(lat.get("events") for lat in latencies):
            if type(value) is list:
                events.append(value)
                has_events[pos] = bool(value)
            else:
                if value is not None:
                    self.found.add(pos, "latency.events", "wrong_type", value, "expected a list")
                events.append(())

        aggregates: dict[str, list[Any]] = {"pos": [], "component": [], "values": []}
        own_provider: dict[str, list[Any]] = {}
        for component in COMPONENTS:
            values = [lat.get(component) for lat in latencies]
            own_provider[component] = [None] * self.n
            for pos, value in enumerate(values):
                if value is None:
                    continue
                if not _is_mapping(value):
                    self.found.add(
                        pos, f"latency.{component}", "wrong_type", value, "expected an object"
                    )
                    continue
                aggregates["pos"].append(pos)
                aggregates["component"].append(component)
                aggregates["values"].append(value)
                own_provider[component][pos] = value.get("provider")

        order = np.argsort(np.asarray(aggregates["pos"], dtype=np.int64), kind="stable")
        for key, column in aggregates.items():  # by call, then component
            aggregates[key] = [column[i] for i in order.tolist()]

        connects, named, workers, perceived = (
            section(name) for name in ("connect", "providers", "worker", "perceived")
        )
        providers = {}
        for key, component in _PROVIDER_SOURCES.items():
            providers[key] = [
                p if p is not None else own
                for p, own in zip(
                    map(dict.get, named, repeat(key)), own_provider[component], strict=True
                )
            ]
        return {
            "connect": {k: list(map(dict.get, connects, repeat(k))) for k in _CONNECT},
            "providers": providers,
            "worker": {
                k: list(map(dict.get, workers, repeat(k)))
                for k in ("worker_id", "load1", "mem_pct")
            },
            "perceived": {
                k: list(map(dict.get, perceived, repeat(k))) for k in ("avg_ms", "p50_ms")
            },
            "events": events,
            "has_events": has_events,
            "aggregates": aggregates,
        }

    def _calls(
        self,
        latency: dict[str, Any],
        messages: dict[str, Any],
        events: dict[str, Any],
        per_call: dict[str, Any],
    ) -> dict[str, Any]:
        cols: dict[str, Any] = {"call_id": self.call_id_array}
        for key in ("agent_id", "status", "type", "direction", "end_reason"):
            cols[key] = self._labels(self._get(key), key)
        for key in ("from_number", "to_number", "room_name", "twilio_call_sid", "recording_url"):
            cols[key] = self._labels(self._get(key), key)
        cols["ai_summary"] = self._labels(self._get("ai_summary"), "ai_summary")

        analyses = self._sections(self._get("analysis"), "analysis")
        metadatas = self._sections(self._get("metadata"), "metadata")
        variables = self._sections(self._get("variables"), "variables")
        outcome = self._get("outcome")
        outcome = [
            o if o is not None else a.get("outcome") for o, a in zip(outcome, analyses, strict=True)
        ]
        cols["outcome"] = self._labels(outcome, "outcome")

        for key in _TIMESTAMPS:
            cols[key] = self._timestamps(self._get(key), key)
        cols["duration_seconds"] = self._number_column(
            self._get("duration_seconds"), "duration_seconds"
        )
        cols["cost_cents"] = self._number_column(
            self._get("cost_cents"), "cost_cents", integer=True
        )
        cols["credits_used"] = self._number_column(self._get("credits_used"), "credits_used")
        cols["concurrency_at_dispatch"] = self._number_column(
            [m.get("concurrency_at_dispatch") for m in metadatas],
            "metadata.concurrency_at_dispatch",
            integer=True,
        )
        for key in _CONNECT:
            cols[f"connect_{key}"] = self._number_column(
                latency["connect"][key], f"latency.connect.{key}", negative_check=True
            )
        for key in _PROVIDER_SOURCES:
            cols[f"provider_{key}"] = self._labels(
                latency["providers"][key], f"latency.providers.{key}"
            )
        cols["worker_id"] = self._labels(
            [
                v if v is None or isinstance(v, str) else str(v)
                for v in latency["worker"]["worker_id"]
            ],
            "latency.worker.worker_id",
        )
        cols["worker_load1"] = self._number_column(
            latency["worker"]["load1"], "latency.worker.load1"
        )
        cols["worker_mem_pct"] = self._number_column(
            latency["worker"]["mem_pct"], "latency.worker.mem_pct"
        )
        for key in ("avg_ms", "p50_ms"):
            cols[f"perceived_{key}"] = self._number_column(
                latency["perceived"][key], f"latency.perceived.{key}"
            )
        cols["n_messages"] = messages["_lengths"]
        cols["n_events"] = events["_lengths"]
        cols["n_turns"] = per_call["n_turns"]
        cols["p50_response_ms"] = per_call["p50_response_ms"]
        cols["max_response_ms"] = per_call["max_response_ms"]
        cols["worst_turn"] = per_call["worst_turn"]
        self._check_calls(cols)

        extras: dict[str, tuple[list[int], list[Any]]] = {}
        for prefix, sources, skip in (
            ("meta_", metadatas, "concurrency_at_dispatch"),
            ("var_", variables, None),
            ("analysis_", analyses, None),
        ):
            for pos, source in enumerate(sources):
                if source:
                    _flatten_into(extras, pos, source, prefix, skip)
        for name in sorted(extras):
            positions, values = extras[name]
            column: list[Any] = [None] * self.n
            for pos, value in zip(positions, values, strict=True):
                column[pos] = value
            cols[name] = _infer_extra(column)
        return cols

    def _check_calls(self, cols: dict[str, Any]) -> None:
        duration = np.asarray(cols["duration_seconds"].to_numpy(dtype=float, na_value=np.nan))
        credits = np.asarray(cols["credits_used"].to_numpy(dtype=float, na_value=np.nan))
        with np.errstate(invalid="ignore"):
            off = np.abs(credits - duration / 60.0) > 0.01
        for pos in np.flatnonzero(off):
            self.found.add(
                pos,
                "credits_used",
                "credits_not_duration_over_60",
                float(credits[pos]),
                f"duration_seconds={duration[pos]:g}, so duration_seconds/60={duration[pos] / 60:.4f}",
            )
        ended = cols["ended_at"]
        started = cols["started_at"]
        ended_missing = np.asarray(ended.isna())
        for pos, value in enumerate(cols["status"]):
            if value in TERMINAL_STATUSES and ended_missing[pos]:
                self.found.add(
                    pos, "ended_at", "terminal_without_ended_at", None, f"status={value!r}"
                )
        backwards = np.asarray(ended < started, dtype=bool)
        for pos in np.flatnonzero(backwards):
            self.found.add(
                pos,
                "ended_at",
                "ended_before_started",
                str(ended[pos]),
                f"started_at={started[pos]}",
            )
        seen: dict[str, int] = {}
        for pos, call_id in enumerate(self.call_ids):
            if call_id in seen:
                self.found.add(
                    pos, "id", "duplicate_call_id", call_id, f"also at position {seen[call_id]}"
                )
            else:
                seen[call_id] = pos

    def _labels(self, values: list[Any], where: str) -> list[Any]:
        """Strings as they are; anything else JSON-encoded and reported as ``wrong_type``."""
        text, bad = _text(values)
        for pos in bad:
            self.found.add(pos, where, "wrong_type", values[pos], "expected a string")
        return text

    def _timestamps(self, values: list[Any], where: str) -> pd.arrays.DatetimeArray:
        parsed, issues = _parse_timestamps(values)
        for pos, code in issues:
            self.found.add(pos, where, code, values[pos])
        return parsed

    def _number_column(
        self, values: list[Any], where: str, *, integer: bool = False, negative_check: bool = False
    ) -> pd.api.extensions.ExtensionArray:
        data, mask, issues = _numbers(values, integer=integer)
        for pos, code, detail in issues:
            self.found.add(pos, where, code, values[pos], detail)
        if negative_check:
            for pos in np.flatnonzero((data < 0) & ~mask):
                self.found.add(pos, where, "negative_ms", values[pos])
        return _masked(data, mask)

    # -- messages ---------------------------------------------------------------------------------

    def _messages(self) -> dict[str, Any]:
        found = self.found
        lists: list[Sequence[Any]] = []
        self.has_messages = np.zeros(self.n, dtype=bool)
        for pos, call in enumerate(self.calls):
            value = call.get("messages")
            if isinstance(value, list):
                lists.append(value)
                self.has_messages[pos] = True
            else:
                if value is not None:
                    found.add(pos, "messages", "wrong_type", value, "expected a list")
                lists.append(())
        items, call_pos, seq, lengths, starts = _flatten_lists(lists)
        total = len(items)
        flag = np.zeros(total, dtype=bool)

        def add(i: int, code: str, value: Any = _NO_VALUE, detail: str | None = None) -> None:
            found.add(
                call_pos[i], f"messages[{seq[i]}]", code, value, detail, section=1, seq=seq[i]
            )
            flag[i] = True

        role_cat, replaced = _label_field(
            items,
            "role",
            lambda i, item: add(i, "wrong_type", item, "expected an object"),
            lambda i, value: add(i, "wrong_type", value, "role is not a string"),
        )
        codes = role_cat.codes
        role_code = {name: k for k, name in enumerate(role_cat.categories)}
        for i in np.flatnonzero((codes < 0) & ~replaced):
            add(i, "missing_field", detail="no 'role'")
        is_user = codes == role_code.get("user", -2)
        running = np.cumsum(is_user, dtype=np.int64)
        before = np.concatenate(([0], running))[starts]
        turn = running - np.repeat(before, lengths)

        contents = list(map(dict.get, items, repeat("content")))
        contents, bad = _text(contents)
        for i in bad:
            add(i, "non_string_content", items[i]["content"])

        # Tool fields are read from every message that is not agent or user speech.
        speech = np.isin(codes, [role_code.get("agent", -2), role_code.get("user", -2)])
        rows = np.flatnonzero(~speech)
        tool_rows = [items[i] for i in rows.tolist()]
        columns = {}
        for key in ("tool_call_id", "name"):
            raw = list(map(dict.get, tool_rows, repeat(key)))
            text, bad = _text(raw)
            for k in bad:
                add(rows[k], "wrong_type", raw[k], f"{key} is not a string")
            column = np.full(total, None, dtype=object)
            column[rows] = _objects(text)
            columns[key] = column
        tool_call_ids, names = columns["tool_call_id"], columns["name"]
        errors = list(map(dict.get, tool_rows, repeat("is_error")))
        error_values = np.zeros(total, dtype=bool)
        error_values[rows] = [e is True for e in errors]
        error_mask = np.zeros(total, dtype=bool)
        if not set(map(type, errors)) <= {bool, _NONE}:
            for k, error in enumerate(errors):
                if error is not None and type(error) is not bool:
                    add(rows[k], "wrong_type", error, "is_error is not a boolean")
                    error_mask[rows[k]] = True

        # tool_call <-> tool_result, matched by (call, tool_call_id) as one integer key.
        tool_call = np.flatnonzero(codes == role_code.get("tool_call", -2))
        tool_result = np.flatnonzero(codes == role_code.get("tool_result", -2))
        both = np.concatenate([tool_call, tool_result])
        id_codes = pd.factorize(tool_call_ids[both])[0].astype(np.int64)
        keys = np.where(
            id_codes >= 0, call_pos[both] * (id_codes.max(initial=0) + 1) + id_codes, -1
        )
        call_key, result_key = keys[: len(tool_call)], keys[len(tool_call) :]
        for i in tool_call[call_key < 0]:
            add(i, "missing_field", detail="tool_call without tool_call_id")
        for i in tool_call[(call_key >= 0) & ~np.isin(call_key, result_key)]:
            add(i, "tool_call_without_result", tool_call_ids[i], f"tool {names[i]!r}")
        for i in tool_call[pd.isna(names[tool_call])]:
            add(i, "missing_field", detail="tool_call without name")
        for i in tool_result[result_key < 0]:
            add(i, "missing_field", detail="tool_result without tool_call_id")
        unique_keys, first = np.unique(call_key, return_index=True)
        slot = np.minimum(np.searchsorted(unique_keys, result_key), max(len(unique_keys) - 1, 0))
        matched = (result_key >= 0) & (
            unique_keys[slot] == result_key if len(unique_keys) else np.zeros(len(result_key), bool)
        )
        for i in tool_result[(result_key >= 0) & ~matched]:
            add(i, "tool_result_without_call", tool_call_ids[i])
        fill = matched & pd.isna(names[tool_result])
        names[tool_result[fill]] = names[tool_call[first[slot[fill]]]]

        # tool_call arguments: a JSON string, parsed once per call.
        arguments = np.full(total, None, dtype=object)
        arguments_raw = np.full(total, None, dtype=object)
        raw_arguments = [items[i].get("arguments") for i in tool_call.tolist()]
        try:
            parsed = [orjson.loads(raw) for raw in raw_arguments]
            clean = set(map(type, parsed)) <= {dict}
        except (orjson.JSONDecodeError, TypeError):
            clean = False
        if clean:
            arguments[tool_call] = _objects(parsed)
            arguments_raw[tool_call] = _objects(raw_arguments)
        else:
            for i, raw in zip(tool_call.tolist(), raw_arguments, strict=True):
                value, problem = _tool_arguments(raw)
                arguments[i] = value
                arguments_raw[i] = raw if raw is None or type(raw) is str else _json_text(raw)
                if problem is not None:
                    add(i, *problem)

        self.message_turns = (call_pos, turn, is_user)
        return {
            "call_id": self._ids(call_pos),
            "seq": seq,
            "turn": turn,
            "role": role_cat,
            "content": contents,
            "tool_name": names.tolist(),
            "tool_call_id": tool_call_ids.tolist(),
            "tool_arguments": arguments,
            "tool_arguments_raw": arguments_raw.tolist(),
            "is_error": pd.arrays.BooleanArray(error_values, error_mask),
            "_flag": flag,
            "_lengths": lengths,
        }

    # -- events -----------------------------------------------------------------------------------

    def _events(self, lists: list[Sequence[Any]], has_events: np.ndarray) -> dict[str, Any]:
        found = self.found
        items, call_pos, seq, lengths, _ = _flatten_lists(lists)
        flag = np.zeros(len(items), dtype=bool)

        def add(i: int, code: str, value: Any = _NO_VALUE, detail: str | None = None) -> None:
            found.add(call_pos[i], f"events[{seq[i]}]", code, value, detail, section=2, seq=seq[i])
            flag[i] = True

        # type: parse the distinct values once, then map the categorical codes.
        raw_cat, replaced = _label_field(
            items,
            "type",
            lambda i, item: add(i, "wrong_type", item, "expected an object"),
            lambda i, value: add(i, "wrong_type", value, "type is not a string"),
        )
        raw_labels = list(raw_cat.categories) + [None]  # code -1 -> None
        parsed_types: list[str] = []
        tool_names: list[str | None] = []
        unknown: list[bool] = []
        for raw in raw_cat.categories:
            if raw in EVENT_TYPES:
                parsed_types.append(raw)
                tool_names.append(None)
                unknown.append(False)
            elif raw == "tool" or raw.startswith("tool:"):
                parsed_types.append("tool")
                tool_names.append(raw.partition(":")[2] or None)
                unknown.append(False)
            else:
                parsed_types.append(raw)
                tool_names.append(None)
                unknown.append(True)
        type_cat = _recode(raw_cat.codes, parsed_types)
        tool_cat = _recode(raw_cat.codes, tool_names)
        unknown_codes = np.flatnonzero(unknown)
        if len(unknown_codes):
            for i in np.flatnonzero(np.isin(raw_cat.codes, unknown_codes)):
                add(i, "unknown_event_type", raw_labels[raw_cat.codes[i]])
        kind = _recode_kinds(raw_cat.codes, parsed_types)

        raw_ms = list(map(dict.get, items, repeat("ms")))
        ms, ms_mask, issues = _numbers(raw_ms, integer=False)
        for i, code, detail in issues:
            add(i, code, raw_ms[i], f"ms: {detail}" if detail else "ms")
        for i in np.flatnonzero(~ms_mask & (ms < 0)):
            add(i, "negative_ms", raw_ms[i], f"{raw_labels[raw_cat.codes[i]]} event")
        for i in np.flatnonzero(~ms_mask & (ms > ABSURD_MS)):
            add(i, "absurd_ms", raw_ms[i], f"{raw_labels[raw_cat.codes[i]]} event")

        raw_turns = list(map(dict.get, items, repeat("turn")))
        turn, turn_mask, issues = _numbers(raw_turns, integer=True)
        for i, code, detail in issues:
            add(i, code, raw_turns[i], f"turn: {detail}" if detail else "turn")
        for i in np.flatnonzero(~turn_mask & (turn < 0)):
            add(i, "negative_turn", raw_turns[i])

        for field, missing in (("type", raw_cat.codes < 0), ("turn", turn_mask), ("ms", ms_mask)):
            for i in np.flatnonzero(missing & ~replaced):
                if items[i].get(field) is None:
                    add(i, "missing_field", detail=f"no '{field}'")

        return {
            "call_id": self._ids(call_pos),
            "seq": seq,
            "turn": _masked(turn, turn_mask),
            "type": type_cat,
            "tool": tool_cat,
            "ms": _masked(ms, ms_mask),
            "_flag": flag,
            "_lengths": lengths,
            "_call_pos": call_pos,
            "_kind": kind,
            "_ms": ms,  # NaN where missing
            "_turn": turn,
            "_turn_mask": turn_mask,
        }

    # -- turns ------------------------------------------------------------------------------------

    def _turns(self, events: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        # Big temporaries are avoided where a view will do: the first large build in a process
        # pays a page fault for every fresh page.
        call_pos, turn, kind, ms, flag = (
            events[k] for k in ("_call_pos", "_turn", "_kind", "_ms", "_flag")
        )
        if events["_turn_mask"].any():
            valid = ~events["_turn_mask"]
            call_pos, turn, kind, ms, flag = (a[valid] for a in (call_pos, turn, kind, ms, flag))
        if np.isnan(ms).any():
            ms = np.nan_to_num(ms, nan=0.0)

        # One integer key per (call, turn): turn numbers are offsets from the smallest one, or
        # (when they span too wide a range) ranks among the distinct ones.
        low = int(turn.min()) if len(turn) else 0
        span = int(turn.max()) - low + 1 if len(turn) else 1
        if span * max(self.n, 1) < 2**62:
            turn_values = np.arange(low, low + span, dtype=np.int64)
            turn_codes = turn - low if low else turn
        else:
            turn_codes, turn_values = pd.factorize(turn, sort=True)
            span = max(len(turn_values), 1)
        key = call_pos * span
        key += turn_codes
        if len(key) and (key[1:] >= key[:-1]).all():  # the usual order: by call, then turn
            new = np.empty(len(key), dtype=bool)
            new[0] = True
            np.not_equal(key[1:], key[:-1], out=new[1:])
            keys = key[new]
            group = np.cumsum(new, out=key)  # key is not needed any more
            group -= 1
        else:
            group, keys = pd.factorize(key, sort=True)
        n_groups = len(keys)
        group_call = (keys // span).astype(np.int64)
        group_turn = np.asarray(turn_values, dtype=np.int64)[keys % span]

        # One pass over (turn, event type) cells: sums and counts, a column per event type.
        width_kind = len(EVENT_TYPES) + 1  # the last slot collects unknown types
        cell = group * width_kind
        cell += kind
        size = n_groups * width_kind
        sums = np.bincount(cell, weights=ms, minlength=size).reshape(n_groups, width_kind)
        counts = np.bincount(cell, minlength=size).reshape(n_groups, width_kind)
        cols: dict[str, Any] = {
            "call_id": self._ids(group_call),
            "turn": group_turn.astype(np.int64),
        }
        for k, name in enumerate(EVENT_TYPES):
            cols[f"{name}_ms"] = sums[:, k]
        cols["response_ms"] = sum(cols[f"{name}_ms"] for name in RESPONSE_COMPONENTS)
        cols["n_events"] = counts.sum(axis=1)
        cols["n_llm_calls"] = counts[:, EVENT_TYPES.index("llm_ttft")]
        cols["n_tool_calls"] = counts[:, EVENT_TYPES.index("tool")]
        cols["has_kb"] = counts[:, EVENT_TYPES.index("kb")] > 0
        cols["has_tool"] = cols["n_tool_calls"] > 0
        cols["has_problem"] = np.bincount(group[flag], minlength=n_groups) > 0

        # Per-call summary over answered turns (>= 1) without problems.
        eligible = (group_turn >= 1) & ~cols["has_problem"]
        summary = pd.DataFrame(
            {
                "call": group_call[eligible],
                "turn": group_turn[eligible],
                "ms": cols["response_ms"][eligible],
            }
        )
        p50 = np.full(self.n, np.nan)
        worst_ms = np.full(self.n, np.nan)
        worst_turn = np.zeros(self.n, dtype=np.int64)
        if len(summary):
            by_call = summary.groupby("call", sort=True)["ms"]
            stats = by_call.agg(["median", "max", "idxmax"])
            where = stats.index.to_numpy()
            p50[where] = stats["median"].to_numpy()
            worst_ms[where] = stats["max"].to_numpy()
            worst_turn[where] = summary["turn"].to_numpy()[stats["idxmax"].to_numpy()]
        has_turn = ~np.isnan(worst_ms)

        # Turn numbering: the events' highest turn against the number of user messages.
        max_event_turn = np.full(self.n, -1, dtype=np.int64)
        if n_groups:
            np.maximum.at(max_event_turn, group_call, group_turn)
        msg_call_pos, _, is_user = self.message_turns
        n_user = np.bincount(msg_call_pos[is_user], minlength=self.n).astype(np.int64)
        has_messages = self.has_messages
        for pos in np.flatnonzero(has_messages & (max_event_turn > n_user)):
            self.found.add(
                pos,
                "latency.events",
                "turn_numbering_mismatch",
                int(max_event_turn[pos]),
                f"events reach turn {max_event_turn[pos]} but there are {n_user[pos]} user messages",
            )
        per_call = {
            "n_turns": np.maximum(n_user, np.maximum(max_event_turn, 0)),
            "p50_response_ms": _masked(p50, ~has_turn),
            "max_response_ms": _masked(worst_ms, ~has_turn),
            "worst_turn": _masked(worst_turn, ~has_turn),
        }
        return cols, per_call

    # -- components -------------------------------------------------------------------------------

    def _components(
        self,
        aggregates: dict[str, list[Any]],
        events: dict[str, Any],
        has_events: np.ndarray,
    ) -> dict[str, Any]:
        positions = np.asarray(aggregates["pos"], dtype=np.int64)
        names = aggregates["component"]
        values = [dict(v) if type(v) is not dict else v for v in aggregates["values"]]

        def where(row: int, key: str) -> str:
            return f"latency.{names[row]}.{key}"

        cols: dict[str, Any] = {"call_id": self._ids(positions), "component": names}
        raw = list(map(dict.get, values, repeat("provider")))
        providers, bad = _text(raw)
        for row in bad:
            self.found.add(positions[row], where(row, "provider"), "wrong_type", raw[row])
        cols["provider"] = providers
        numbers: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        for key in ("avg_ms", "p50_ms", "min_ms", "max_ms", "samples"):
            raw = list(map(dict.get, values, repeat(key)))
            data, mask, issues = _numbers(raw, integer=key == "samples")
            for row, code, detail in issues:
                self.found.add(positions[row], where(row, key), code, raw[row], detail)
            if key != "samples":
                for row in np.flatnonzero(~mask & (data < 0)):
                    self.found.add(positions[row], where(row, key), "negative_ms", raw[row])
            numbers[key] = (data, mask)
            cols[key] = _masked(data, mask)

        # The events' own statistics per (call, component), to check the server's aggregates:
        # one slot per (call, component), plus one per call where other event types land.
        width = len(COMPONENTS) + 1
        component_of_kind = np.array(
            [COMPONENTS.index(t) if t in COMPONENTS else len(COMPONENTS) for t in EVENT_TYPES]
            + [len(COMPONENTS)],
            dtype=np.int64,
        )
        key = events["_call_pos"] * width
        key += component_of_kind[events["_kind"]]
        ms = events["_ms"]
        present = ~np.isnan(ms)
        if not present.all():
            key_present, ms_present = key[present], ms[present]
        else:
            key_present, ms_present = key, ms
        slots = self.n * width
        row_key = positions * width + np.array([COMPONENTS.index(n) for n in names], dtype=np.int64)
        size = np.bincount(key, minlength=slots)[row_key].astype(np.int64)
        count = np.bincount(key_present, minlength=slots)[row_key]
        total = np.bincount(key_present, weights=ms_present, minlength=slots)[row_key]
        lowest = np.full(slots, np.inf)
        np.minimum.at(lowest, key_present, ms_present)
        highest = np.full(slots, -np.inf)
        np.maximum.at(highest, key_present, ms_present)
        with np.errstate(invalid="ignore", divide="ignore"):
            stats = {
                "mean": np.where(count > 0, total / count, np.nan),
                "min": np.where(count > 0, lowest[row_key], np.nan),
                "max": np.where(count > 0, highest[row_key], np.nan),
            }
        cols["n_events"] = size
        checked = has_events[positions]
        samples, samples_missing = numbers["samples"]
        off = {"samples": checked & ~samples_missing & (samples != size)}
        references = {}
        for stat, event_stat in (("avg_ms", "mean"), ("min_ms", "min"), ("max_ms", "max")):
            value, missing = numbers[stat]
            reference = stats[event_stat]
            references[stat] = reference
            with np.errstate(invalid="ignore"):
                far = np.abs(value - reference) > np.maximum(1.0, 0.01 * np.abs(reference))
            off[stat] = checked & ~missing & ~np.isnan(reference) & far
        for row in np.flatnonzero(np.logical_or.reduce(list(off.values()))):
            reasons = []
            if off["samples"][row]:
                reasons.append(f"samples={samples[row]} but {size[row]} events")
            for stat, reference in references.items():
                if off[stat][row]:
                    reasons.append(
                        f"{stat}={numbers[stat][0][row]:g} but events give {reference[row]:g}"
                    )
            if reasons:
                self.found.add(
                    positions[row],
                    f"latency.{names[row]}",
                    "aggregate_disagrees_with_events",
                    {k: values[row].get(k) for k in ("samples", "avg_ms", "min_ms", "max_ms")},
                    "; ".join(reasons),
                )
        return cols

    # -- problems ---------------------------------------------------------------------------------

    def _problems(self) -> dict[str, Any]:
        found = self.found
        order = np.lexsort(
            (
                np.arange(len(found.pos)),
                np.asarray(found.seq, dtype=np.int64),
                np.asarray(found.section, dtype=np.int64),
                np.asarray(found.pos, dtype=np.int64),
            )
        )
        pos = np.asarray(found.pos, dtype=np.int64)[order]
        codes = [found.code[i] for i in order]
        return {
            "call_id": self._ids(pos),
            "where": [found.where[i] for i in order],
            "problem": codes,
            "severity": [PROBLEMS[c][0] for c in codes],
            "value": [found.value[i] for i in order],
            "detail": [found.detail[i] or PROBLEMS[found.code[i]][1] for i in order],
        }


# --------------------------------------------------------------------------------------------------
# Column helpers
# --------------------------------------------------------------------------------------------------


def _flatten_lists(
    lists: list[Sequence[Any]],
) -> tuple[list[Any], np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Concatenate per-call lists; return items, call position, position in call, lengths, starts."""
    lengths = np.fromiter(map(len, lists), dtype=np.int64, count=len(lists))
    items = list(chain.from_iterable(lists))
    starts = np.cumsum(lengths) - lengths
    call_pos = np.repeat(np.arange(len(lists), dtype=np.int64), lengths)
    seq = np.arange(len(items), dtype=np.int64)
    seq -= starts[call_pos]
    return items, call_pos, seq, lengths, starts


def _label_field(
    items: list[Any], key: str, not_an_object: Any, not_a_string: Any
) -> tuple[pd.Categorical, np.ndarray]:
    """The string at ``key`` of every item, as a Categorical, and which items were not objects.

    Items that are not mappings become ``{}`` (in place) and go to ``not_an_object(i, item)``;
    values that are not strings become null and go to ``not_a_string(i, value)``.
    """
    try:
        return _categorical_from(map(dict.get, items, repeat(key)), len(items)), np.zeros(
            len(items), dtype=bool
        )
    except TypeError:  # an item that is not a dict, or a value that is not a string
        pass
    replaced = _ensure_dicts(items, not_an_object)
    values = list(map(dict.get, items, repeat(key)))
    for i, value in enumerate(values):
        if value is not None and not isinstance(value, str):
            not_a_string(i, value)
            values[i] = None
    return _categorical_from(values, len(values)), replaced


def _ensure_dicts(items: list[Any], report: Any) -> np.ndarray:
    """Make every item a dict in place; non-mappings become ``{}`` and are passed to ``report``."""
    replaced = np.zeros(len(items), dtype=bool)
    for i, item in enumerate(items):
        if type(item) is not dict:
            if isinstance(item, Mapping):
                items[i] = dict(item)
            else:
                report(i, item)
                items[i] = {}
                replaced[i] = True
    return replaced


def _recode(codes: np.ndarray, labels: list[str | None]) -> pd.Categorical:
    """Map categorical codes through ``labels`` (one per old category) into a new Categorical."""
    present = sorted({label for label in labels if label is not None})
    index = {label: k for k, label in enumerate(present)}
    lookup = np.array(
        [index.get(label, -1) if label is not None else -1 for label in labels] + [-1],
        dtype=_code_dtype(len(present)),
    )
    return pd.Categorical.from_codes(lookup[codes], categories=pd.Index(present, dtype=_LABELS))


def _code_dtype(n_categories: int) -> np.dtype:
    """The integer dtype pandas keeps codes in for this many categories (so it need not copy)."""
    for dtype in (np.int8, np.int16, np.int32):
        if n_categories < np.iinfo(dtype).max:
            return np.dtype(dtype)
    return np.dtype(np.int64)


def _recode_kinds(codes: np.ndarray, labels: list[str]) -> np.ndarray:
    """Position of each code's label in :data:`EVENT_TYPES`, or len(EVENT_TYPES) when unknown/null."""
    other = len(EVENT_TYPES)
    lookup = np.array(
        [EVENT_TYPES.index(x) if x in EVENT_TYPES else other for x in labels] + [other],
        dtype=np.int8,
    )
    return lookup[codes]


def _masked(data: np.ndarray, mask: np.ndarray) -> pd.api.extensions.ExtensionArray:
    if data.dtype.kind == "f":
        return pd.arrays.FloatingArray(data.astype(np.float64, copy=False), mask.copy())
    return pd.arrays.IntegerArray(data.astype(np.int64, copy=False), mask.copy())


def _numbers(
    values: list[Any], *, integer: bool
) -> tuple[np.ndarray, np.ndarray, list[tuple[int, str, str | None]]]:
    """Coerce JSON numbers to float64 (or int64) data plus a missing mask.

    Returns ``(data, mask, issues)``; ``issues`` lists ``(index, problem code, detail)`` for values
    that are not plain numbers: numeric strings are coerced, anything else becomes null.
    """
    n = len(values)
    kinds = set(map(type, values))
    if integer and kinds == {int}:
        try:
            return np.fromiter(values, dtype=np.int64, count=n), np.zeros(n, dtype=bool), []
        except OverflowError:
            pass
    if kinds <= {int, float, _NONE}:
        try:
            data = np.array(values, dtype=np.float64) if n else np.zeros(0)
        except OverflowError:
            data = None
        if data is not None:
            mask = np.isnan(data)  # None became NaN: the data already holds NaN where missing
            if not np.isinf(data).any():
                if not integer:
                    return data, mask, []
                whole = np.where(mask, 0.0, data)
                if (whole == np.trunc(whole)).all() and (np.abs(whole) <= 2.0**53).all():
                    return whole.astype(np.int64), mask, []
    data = np.zeros(n, dtype=np.int64) if integer else np.full(n, np.nan)
    mask = np.zeros(n, dtype=bool)
    issues: list[tuple[int, str, str | None]] = []
    for i, value in enumerate(values):
        if value is None:
            mask[i] = True
            continue
        if isinstance(value, str):
            try:
                number: Any = float(value)
            except ValueError:
                number = None
            if number is None or not np.isfinite(number):
                issues.append((i, "non_numeric_value", "not a number"))
                mask[i] = True
                continue
            issues.append((i, "non_numeric_value", "a string, coerced to a number"))
        elif isinstance(value, bool) or not isinstance(value, numbers.Real):
            issues.append((i, "wrong_type", f"expected a number, got {type(value).__name__}"))
            mask[i] = True
            continue
        else:
            number = value
        try:
            as_float = float(number)
        except OverflowError:
            issues.append((i, "out_of_range", None))
            mask[i] = True
            continue
        if not np.isfinite(as_float):
            issues.append((i, "non_numeric_value", "not a finite number"))
            mask[i] = True
            continue
        if integer:
            if isinstance(number, float) and not number.is_integer():
                issues.append((i, "wrong_type", "expected a whole number"))
                mask[i] = True
                continue
            whole = int(number)
            if not -(2**63) <= whole < 2**63:
                issues.append((i, "out_of_range", None))
                mask[i] = True
                continue
            data[i] = whole
        else:
            data[i] = as_float
    return data, mask, issues


def _text(values: list[Any]) -> tuple[list[Any], list[int]]:
    """Strings and None as they are; other values JSON-encoded, their positions returned."""
    if set(map(type, values)) <= {str, _NONE}:
        return values, []
    out = list(values)
    bad = []
    for i, value in enumerate(values):
        if value is None or type(value) is str:
            continue
        if isinstance(value, str):
            out[i] = str(value)
            continue
        out[i] = _json_text(value)
        bad.append(i)
    return out, bad


def _json_text(value: Any) -> str:
    try:
        return orjson.dumps(value).decode()
    except (TypeError, orjson.JSONEncodeError):  # e.g. ints over 64 bits, non-str keys, sets
        return json.dumps(value, ensure_ascii=False, default=str)


def _tool_arguments(raw: Any) -> tuple[dict[str, Any] | None, tuple[str, Any, str] | None]:
    """Parse tool_call arguments: a dict, or None plus ``(problem code, value, detail)``."""
    if type(raw) is str:
        try:
            parsed = orjson.loads(raw)
        except orjson.JSONDecodeError:
            pass
        else:
            if type(parsed) is dict:
                return parsed, None
    if type(raw) is not str and _is_mapping(raw):
        return dict(raw), None
    if raw is None:
        return None, ("missing_field", _NO_VALUE, "tool_call without arguments")
    if not isinstance(raw, str):
        return None, ("wrong_type", raw, "arguments are neither a JSON string nor an object")
    try:
        parsed = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        return None, ("unparseable_tool_arguments", raw, f"invalid JSON: {exc}")
    if not isinstance(parsed, dict):
        kind = type(parsed).__name__
        return None, ("unparseable_tool_arguments", raw, f"JSON {kind}, not an object")
    return parsed, None


def _parse_timestamps(values: list[Any]) -> tuple[pd.arrays.DatetimeArray, list[tuple[int, str]]]:
    """ISO 8601 strings to ``datetime64[ns, UTC]``; returns the array and ``(index, code)`` issues."""
    issues: list[tuple[int, str]] = []
    texts = values
    if not set(map(type, values)) <= {str, _NONE}:
        texts = list(values)
        for i, value in enumerate(values):
            if value is not None and not isinstance(value, str):
                issues.append((i, "wrong_type"))
                texts[i] = None
    series = pd.Series(texts, dtype=object)
    parsed = pd.to_datetime(series, utc=True, errors="coerce", format="ISO8601")
    if parsed.dt.unit != "ns":
        too_far = (parsed < pd.Timestamp.min.tz_localize("UTC")) | (
            parsed > pd.Timestamp.max.tz_localize("UTC")
        )
        too_far = too_far.to_numpy(dtype=bool)
        if too_far.any():
            parsed = parsed.mask(too_far)
            issues.extend((int(i), "out_of_range") for i in np.flatnonzero(too_far))
        else:
            too_far = np.zeros(len(texts), dtype=bool)
        parsed = parsed.astype(_UTC)
    else:
        too_far = np.zeros(len(texts), dtype=bool)
    failed = series.notna().to_numpy(dtype=bool) & parsed.isna().to_numpy(dtype=bool) & ~too_far
    issues.extend((int(i), "unparseable_timestamp") for i in np.flatnonzero(failed))
    issues.sort()
    return parsed.array, issues


def _flatten_into(
    columns: dict[str, tuple[list[int], list[Any]]],
    pos: int,
    source: Mapping[str, Any],
    prefix: str,
    skip: str | None = None,
    depth: int = 0,
) -> None:
    """Add the leaves of nested ``source`` as ``prefix + dotted.key`` -> (positions, values).

    ``skip`` is a key left out; mappings nested deeper than 32 levels are kept whole (as JSON).
    """
    for key, value in source.items():
        if key == skip:
            continue
        if type(value) is dict or (type(value) not in _LEAF_TYPES and _is_mapping(value)):
            if depth < 32:
                _flatten_into(columns, pos, value, f"{prefix}{key}.", None, depth + 1)
                continue
            value = dict(value)
        name = f"{prefix}{key}"
        slot = columns.get(name)
        if slot is None:
            slot = columns[name] = ([], [])
        slot[0].append(pos)
        slot[1].append(value)


def _infer_extra(values: list[Any]) -> pd.api.extensions.ExtensionArray:
    """A flattened column: ``boolean``, ``Int64``, ``Float64`` or ``string`` (JSON for the rest)."""
    kinds = set(map(type, values)) - {_NONE}
    if kinds == {bool}:
        return pd.array(values, dtype=_BOOL)
    if kinds and kinds <= {int, float}:
        data, mask, issues = _numbers(values, integer=kinds == {int})
        if not issues:
            return _masked(data, mask)
        if kinds == {int}:
            data, mask, issues = _numbers(values, integer=False)
            if not issues:
                return _masked(data, mask)
    if kinds <= {str}:
        return _string_array(values)
    return _string_array([v if v is None or isinstance(v, str) else _json_text(v) for v in values])


def _is_extra(column: str) -> bool:
    return column.startswith(_EXTRA_PREFIXES)


# --------------------------------------------------------------------------------------------------
# Applying SCHEMA
# --------------------------------------------------------------------------------------------------


def _frame(name: str, columns: dict[str, Any]) -> pd.DataFrame:
    """Assemble a table from built columns, typed by :data:`SCHEMA` (extra columns as they are)."""
    schema = SCHEMA[name]
    data = {
        column: _coerce(columns[column], dtype, prune=False) for column, dtype in schema.items()
    }
    data.update((c, v) for c, v in columns.items() if c not in schema and not c.startswith("_"))
    length = len(data["call_id"])
    return pd.DataFrame(data, index=pd.RangeIndex(length), copy=False)


def _conform(name: str, frame: pd.DataFrame) -> pd.DataFrame:
    """Give an existing frame exactly the :data:`SCHEMA` columns and dtypes (extras kept after)."""
    schema = SCHEMA[name]
    length = len(frame)
    data: dict[str, Any] = {}
    for column, dtype in schema.items():
        if column in frame:
            data[column] = _coerce(frame[column].array, dtype)
        else:
            data[column] = _coerce([None] * length, dtype)
    for column in frame.columns:
        if column not in schema:
            values = frame[column]
            loose_text = isinstance(values.dtype, pd.StringDtype) and values.dtype != _STRING
            if values.dtype == _OBJECT or loose_text:
                data[column] = _infer_extra([None if _is_null(v) else v for v in values.tolist()])
            else:
                data[column] = values.array
    return pd.DataFrame(data, index=pd.RangeIndex(length), copy=False)


def _coerce(values: Any, dtype: Any, *, prune: bool = True) -> Any:
    """``values`` (list, ndarray or array) as an array of ``dtype`` from :data:`SCHEMA`.

    ``prune=False`` is for fresh builds: it trusts a Categorical to use all its categories and
    an object array to hold None for missing values.
    """
    if dtype is _CATEGORY:
        return _categorical(values, prune=prune)
    if dtype is _OBJECT:
        if not prune and isinstance(values, np.ndarray) and values.dtype == _OBJECT:
            return values
        array = (
            _objects(list(values)) if isinstance(values, list) else np.array(values, dtype=object)
        )
        array[pd.isna(array)] = None  # NaN, NA, NaT -> None; dicts are never null
        return array
    if getattr(values, "dtype", None) == dtype:
        return values
    if dtype is _STRING and isinstance(values, list):
        return _string_array(values)
    if dtype is _UTC:
        series = pd.Series(values)
        if isinstance(series.dtype, pd.DatetimeTZDtype):
            series = series.dt.tz_convert("UTC")
        else:
            series = pd.to_datetime(series.astype(object), utc=True)
        return series.astype(dtype).array
    if dtype is _BOOL and isinstance(values, np.ndarray) and values.dtype == bool:
        return pd.arrays.BooleanArray(values, np.zeros(len(values), dtype=bool))
    if isinstance(values, np.ndarray) and values.dtype.kind in "iuf" and dtype in (_INT, _FLOAT):
        mask = np.isnan(values) if values.dtype.kind == "f" else np.zeros(len(values), dtype=bool)
        data = np.where(mask, 0, values).astype(np.int64 if dtype is _INT else np.float64)
        return _masked(data, mask)
    if isinstance(values, pd.Categorical) or isinstance(
        getattr(values, "dtype", None), pd.CategoricalDtype
    ):
        values = np.asarray(values, dtype=object)
    return pd.array(values, dtype=dtype)


def _categorical(values: Any, *, prune: bool = True) -> pd.Categorical:
    """A Categorical whose categories are exactly the values present, sorted, as string labels."""
    if isinstance(values, pd.Categorical):
        categorical = values
        if prune:
            codes = values.codes
            used = np.bincount(codes[codes >= 0], minlength=len(values.categories)) > 0
            if not used.all():
                categorical = values.remove_unused_categories()
    elif isinstance(values, list) and set(map(type, values)) <= {str, _NONE}:
        return _categorical_from(values, len(values))
    else:
        values = [None if _is_null(v) else v for v in np.asarray(values, dtype=object)]
        categorical = pd.Categorical(values)
    categories = categorical.categories
    wanted = pd.Index(sorted(str(c) for c in categories), dtype=_LABELS)
    if categories.dtype != _LABELS or not categories.equals(wanted):
        if len(categories) and categories.dtype != _LABELS:
            categorical = categorical.rename_categories([str(c) for c in categories])
        categorical = categorical.set_categories(wanted)
    return categorical


class _CodeBook(dict):
    """Distinct values -> consecutive codes, assigned on first sight."""

    def __missing__(self, key: Any) -> int:
        code = self[key] = len(self)
        return code


def _categorical_from(values: Iterable[str | None], count: int) -> pd.Categorical:
    """Strings (None = missing) as a Categorical with sorted categories, in one pass.

    Raises TypeError when a value is neither a string nor None.
    """
    book = _CodeBook()
    codes = np.fromiter(map(book.__getitem__, values), dtype=np.int32, count=count)
    labels = list(book)
    if not all(v is None or isinstance(v, str) for v in labels):
        raise TypeError("categorical values must be strings")
    present = sorted(v for v in labels if v is not None)
    try:
        categories = pd.Index(present, dtype=_LABELS)
    except UnicodeError:  # lone surrogates: valid in Python, not in the UTF-8 pandas stores
        safe = _utf8_safe(labels)
        return _categorical_from((safe[c] for c in codes.tolist()), count)
    rank = {v: k for k, v in enumerate(present)}
    lookup = np.array(
        [-1 if v is None else rank[v] for v in labels] + [-1], dtype=_code_dtype(len(present))
    )
    return pd.Categorical.from_codes(lookup[codes], categories=categories)


def _arrow_strings(values: list[str | None]) -> Any:
    """A pyarrow ``large_string`` array when pandas stores strings in pyarrow, else None."""
    if _STRING.storage != "pyarrow":
        return None
    import pyarrow as pa

    pool = _memory_pool()
    try:
        return pa.array(values, type=pa.large_string(), memory_pool=pool)
    except UnicodeError:
        return pa.array(_utf8_safe(values), type=pa.large_string(), memory_pool=pool)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return None


def _string_array(values: list[str | None]) -> pd.api.extensions.ExtensionArray:
    """Strings (None = missing) as a ``string`` array; straight through pyarrow when it stores them."""
    arrow = _arrow_strings(values)
    if arrow is not None:
        array = pd.arrays.ArrowStringArray(arrow)
        if array.dtype == _STRING:
            return array
    try:
        return pd.array(values, dtype=_STRING)
    except UnicodeError:
        return pd.array(_utf8_safe(values), dtype=_STRING)


def _objects(values: list[Any]) -> np.ndarray:
    """A 1-d object array of ``values`` (numpy would turn a list of str into a '<U' array)."""
    array = np.empty(len(values), dtype=object)
    array[:] = values
    return array


def _memory_pool() -> Any:
    """pyarrow's system (malloc) pool for the arrays a build makes.

    The default jemalloc pool hands freed memory back to the OS eagerly, so the first large build
    in a process spends about a third of its time in page faults; malloc keeps the pages.
    """
    import pyarrow as pa

    return pa.system_memory_pool()


def _utf8_safe(values: list[Any]) -> list[Any]:
    """Strings with lone surrogates (valid in Python, not in UTF-8) get them replaced by '?'."""
    return [
        v.encode("utf-8", "replace").decode("utf-8") if isinstance(v, str) else v for v in values
    ]


def _is_mapping(value: Any) -> bool:
    return type(value) is dict or isinstance(value, Mapping)


def _is_null(value: Any) -> bool:
    return (
        value is None
        or value is pd.NA
        or value is pd.NaT
        or (isinstance(value, float) and value != value)
    )


def _prepare_for_concat(name: str, frame: pd.DataFrame, parts: list[CallFrames]) -> pd.DataFrame:
    """``frame`` with categories and extra columns aligned across ``parts``, ready for concat."""
    others = [getattr(part, name) for part in parts]
    casts: dict[str, Any] = {}
    for column, dtype in SCHEMA[name].items():
        if dtype is _CATEGORY:
            labels = set().union(*(set(other[column].cat.categories) for other in others))
            casts[column] = pd.CategoricalDtype(pd.Index(sorted(labels), dtype=_LABELS))
    wanted: dict[str, set[Any]] = {}
    for other in others:
        for column in other.columns:
            if column not in SCHEMA[name]:
                wanted.setdefault(column, set()).add(other[column].dtype)
    columns: dict[str, Any] = {}
    for column in SCHEMA[name]:
        values = frame[column]
        columns[column] = values.astype(casts[column]) if column in casts else values
    for column in sorted(wanted):
        dtypes = wanted[column]
        if len(dtypes) == 1:
            target = next(iter(dtypes))
        elif dtypes <= {_INT, _FLOAT}:
            target = _FLOAT
        else:
            target = _STRING
        if column in frame:
            values = frame[column]
            columns[column] = values if values.dtype == target else values.astype(target)
        else:
            columns[column] = pd.array([None] * len(frame), dtype=target)
    return pd.DataFrame(columns, index=frame.index)


def _to_json_text(values: pd.Series) -> pd.Series:
    return pd.Series(
        [None if v is None else _json_text(v) for v in values.tolist()],
        index=values.index,
        dtype=_STRING,
    )


def _from_json_text(values: pd.Series) -> pd.Series:
    out = values.to_numpy(dtype=object, na_value=None)
    for i in np.flatnonzero(pd.notna(out)).tolist():
        try:
            out[i] = orjson.loads(out[i])
        except orjson.JSONDecodeError:  # written by json.dumps: big ints, NaN
            out[i] = json.loads(out[i])
    return pd.Series(out, index=values.index, dtype=object)
