""":func:`to_frames`, the one entry point: check the input, then run each table's builder in turn.

The builders read one :class:`~._batch._Batch` column-wise and add what they find to its problems;
the order matters only where one table needs another's parts (turns need events and messages, calls
need all of them, problems come last so that every finding is in).
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import numpy as np
import pandas as pd

from ..exceptions import InvalidCallError
from ._batch import _Batch
from ._columns import _frame
from .callframes import CallFrames
from .calls import call_columns, read_latency
from .components import component_columns
from .events import event_columns, turn_columns
from .messages import message_columns
from .problems import problem_columns

__all__ = ["to_frames"]


def to_frames(
    calls: Iterable[Mapping[str, Any]] | Mapping[str, Any],
    *,
    agents: Iterable[Mapping[str, Any]] | Mapping[str, Any] | None = None,
) -> CallFrames:
    """Build tidy DataFrames from OneInbox call dicts.

    Parameters
    ----------
    calls : iterable of dict, or dict
        Call payloads as returned by ``OneInboxClient.get_call`` or ``iter_calls`` (one dict is
        wrapped). Only ``id`` (a non-empty string) is required; anything else may be missing, null
        or odd, and is reported in ``problems`` rather than raised.
    agents : iterable of dict, or mapping of str to str, optional
        Agent names for ``calls.agent_name``: the agent dicts of ``OneInboxClient.iter_agents``
        (``id`` and ``name``) or a mapping agent id -> name. Names are kept as plain text (never
        markup). Agents not found, items without a string ``id``/``name`` and a missing
        ``agents`` give ``<NA>``.

    Returns
    -------
    CallFrames
        ``calls``, ``messages``, ``events``, ``turns``, ``components`` and ``problems``, typed as in
        :data:`SCHEMA`.

    Raises
    ------
    InvalidCallError
        An item is not a call: not a mapping, a mapping without ``id`` (e.g. a list page
        ``{"items": [...]}``, whose ``["items"]`` should be passed instead), or one whose ``id`` is
        not a non-empty string (the message names its position: ``call #3: id must be ...``).
    TypeError
        ``agents`` is neither a mapping nor an iterable of agent dicts.

    Examples
    --------
    >>> frames = to_frames(client.iter_calls(agent_id=agent))  # doctest: +SKIP
    >>> frames.turns.groupby("call_id")["response_ms"].median()  # doctest: +SKIP
    """
    with _without_gc_passes():
        return _build(_Batch(_call_list(calls)), agent_names(agents))


@contextlib.contextmanager
def _without_gc_passes() -> Iterator[None]:
    """Pause the cyclic garbage collector for one build (restored afterwards, if it was on).

    A build makes no reference cycles, but it allocates lists of up to one entry per event; each
    collection pass traverses every young list entry by entry (about 30 ms a pass at 10,000 calls,
    5 % of the build, even with the thresholds :func:`~oneinbox_nb.client.loop.fewer_gc_passes`
    sets). Reference counting still frees every temporary at once.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def agent_names(agents: Iterable[Mapping[str, Any]] | Mapping[str, Any] | None) -> dict[str, str]:
    """Agent id -> name from agent dicts (``{"id", "name"}``) or a mapping id -> name.

    Entries whose id or name is not a non-empty string are skipped (their calls get ``<NA>``).

    Raises
    ------
    TypeError
        ``agents`` is text, or neither a mapping nor an iterable.
    """
    if agents is None:
        return {}
    if isinstance(agents, (str, bytes, bytearray)) or not isinstance(agents, Iterable):
        raise TypeError(
            f"agents must be agent dicts (client.list_agents()) or a mapping id -> name, "
            f"got {type(agents).__name__}"
        )
    if isinstance(agents, Mapping):
        pairs: Iterable[tuple[Any, Any]] = agents.items()
    else:
        pairs = ((item.get("id"), item.get("name")) for item in agents if isinstance(item, Mapping))
    return {
        key: name.strip()
        for key, name in pairs
        if isinstance(key, str) and key and isinstance(name, str) and name.strip()
    }


def _build(batch: _Batch, names: Mapping[str, str] | None = None) -> CallFrames:
    """Run the table builders over ``batch`` and type the result by SCHEMA."""
    latency = read_latency(batch)
    messages = message_columns(batch)
    events = event_columns(batch, latency["events"])
    turns, per_call = turn_columns(batch, events, messages)
    components = component_columns(batch, latency["aggregates"], events, latency["has_events"])
    calls = call_columns(batch, latency, messages, events, per_call)
    lookup = (names or {}).get
    calls["agent_name"] = [lookup(a) if type(a) is str else None for a in calls["agent_id"]]
    problems = problem_columns(batch.found, batch.ids)
    n_problems = np.bincount(np.asarray(batch.found.pos, dtype=np.int64), minlength=batch.n)
    calls["n_problems"] = n_problems
    events["duplicate"] = events.pop("_duplicate")
    events["flagged"] = events.pop("_odd")
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


def _call_list(calls: Any) -> list[Mapping[str, Any]]:
    how = "pass the dicts returned by OneInboxClient.get_call or iter_calls"
    if isinstance(calls, Mapping):
        if calls.get("id") is not None:
            return _call_list([calls])
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
        call_id = item.get("id")
        if type(call_id) is not str or not call_id:
            if call_id is None:
                raise InvalidCallError(_not_a_call(item, f"item {i}", how))
            if not isinstance(call_id, str) or not call_id:
                raise InvalidCallError(_bad_id(i, call_id))
        out.append(item)
    return out


def _bad_id(i: int, call_id: Any) -> str:
    shown = repr(call_id)
    shown = shown if len(shown) <= 60 else shown[:57] + "..."
    return (
        f"call #{i}: id must be a non-empty string, got {type(call_id).__name__} {shown}; "
        "pass the calls as the API returns them (ids are UUID strings)"
    )


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
