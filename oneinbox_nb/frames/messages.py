"""The ``messages`` table: one row per item of a call's ``messages``, numbered into turns.

Every ``user`` message opens the next turn (the greeting is turn 0); tool fields are read from every
message that is not agent or user speech, and each ``tool_result`` answers the nearest earlier
unanswered ``tool_call`` of the same call and ``tool_call_id`` (ids can be reused within a call).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from itertools import repeat
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from ._batch import _Batch, _gather
from ._columns import (
    _NONE,
    _categorical_from,
    _flatten_lists,
    _is_mapping,
    _label_field,
    _objects,
    _sparse_strings,
    _text,
    json_text,
    json_value,
)
from .problems import _NO_VALUE
from .schema import MESSAGE_ROLES


def message_columns(batch: _Batch) -> dict[str, Any]:
    """The ``messages`` columns, plus ``_``-prefixed parts the turns and calls builders read.

    ``_lengths`` (messages per call), ``_call_pos`` and ``_is_user`` (per message) and
    ``_has_messages`` (per call: ``messages`` is a list) are not columns of the table.
    """
    lists, has_messages = _message_lists(batch)
    items, call_pos, seq, lengths, starts = _flatten_lists(lists)
    flag = np.zeros(len(items), dtype=bool)

    def add(i: int, code: str, value: Any = _NO_VALUE, detail: str | None = None) -> None:
        batch.found.add(
            call_pos[i], f"messages[{seq[i]}]", code, value, detail, section=1, seq=seq[i]
        )
        flag[i] = True

    roles = _Roles(items, add)
    running = np.cumsum(roles.is_user, dtype=np.int64)
    before = np.concatenate(([0], running))[starts]
    turn = running - np.repeat(before, lengths)
    contents, bad = _text(list(map(dict.get, items, repeat("content"))))
    for i in bad:
        add(i, "non_string_content", items[i]["content"])
    tools = _tool_fields(items, roles, add)
    _pair_tool_messages(tools, roles, call_pos, add)
    arguments, arguments_raw = _tool_call_arguments(tools, roles.of("tool_call"), len(items), add)
    return {
        "call_id": batch.ids(call_pos),
        "seq": seq,
        "turn": turn,
        "role": roles.categorical,
        "content": contents,
        "tool_name": _sparse_labels(tools.names, tools.rows),
        "tool_call_id": _sparse_strings(
            tools.call_ids[tools.rows].tolist(), tools.rows, len(items)
        ),
        "tool_arguments": arguments,
        "tool_arguments_raw": arguments_raw,
        "is_error": tools.is_error,
        "_flag": flag,
        "_lengths": lengths,
        "_call_pos": call_pos,
        "_is_user": roles.is_user,
        "_has_messages": has_messages,
    }


#: ``add(i, code, value, detail)``: report a problem of message ``i`` (and flag it).
_Add = Callable[..., None]


def _message_lists(batch: _Batch) -> tuple[list[Sequence[Any]], np.ndarray]:
    """Each call's ``messages`` list (``()`` when absent or not a list), and which calls have one."""
    lists: list[Sequence[Any]] = []
    has_messages = np.zeros(batch.n, dtype=bool)
    for pos, value in enumerate(batch.get("messages")):
        if isinstance(value, list):
            lists.append(value)
            has_messages[pos] = True
        else:
            if value is not None:
                batch.found.add(pos, "messages", "wrong_type", value, "expected a list")
            lists.append(())
    return lists, has_messages


class _Roles:
    """Each message's ``role`` as a Categorical, checked: missing and unknown roles are reported."""

    def __init__(self, items: list[Any], add: _Add) -> None:
        categorical, replaced = _label_field(
            items,
            "role",
            lambda i, item: add(i, "wrong_type", item, "expected an object"),
            lambda i, value: add(i, "wrong_type", value, "role is not a string"),
        )
        codes = categorical.codes
        self.categorical = categorical
        self.codes = codes
        self._code = {name: k for k, name in enumerate(categorical.categories)}
        for i in np.flatnonzero((codes < 0) & ~replaced):
            add(i, "missing_field", detail="no 'role'")
        odd = [k for k, name in enumerate(categorical.categories) if name not in MESSAGE_ROLES]
        if odd:
            for i in np.flatnonzero(np.isin(codes, odd)):
                add(i, "unknown_role", categorical.categories[codes[i]], "kept as is")
        self.is_user = codes == self._code.get("user", -2)

    def of(self, role: str) -> np.ndarray:
        """Positions of the messages with ``role``."""
        return np.flatnonzero(self.codes == self._code.get(role, -2))

    def speech(self) -> np.ndarray:
        """Which messages are agent or user speech."""
        return np.isin(self.codes, [self._code.get("agent", -2), self._code.get("user", -2)])


class _ToolFields(NamedTuple):
    """``tool_call_id``, ``name`` (object arrays, None where absent) and ``is_error``, read from
    ``rows`` (the messages that are not speech)."""

    rows: np.ndarray
    call_ids: np.ndarray
    names: np.ndarray
    is_error: pd.arrays.BooleanArray
    arguments: list[Any]  #: each row's ``arguments`` as sent

    def at(self, where: np.ndarray) -> np.ndarray:
        """Positions in ``rows`` of the messages at ``where`` (all among ``rows``)."""
        return np.searchsorted(self.rows, where)


def _tool_fields(items: list[Any], roles: _Roles, add: _Add) -> _ToolFields:
    """Tool fields, read from every message that is not agent or user speech."""
    total = len(items)
    rows = np.flatnonzero(~roles.speech())
    fields = _gather([items[i] for i in rows.tolist()], _TOOL_KEYS)
    columns = {}
    for key in ("tool_call_id", "name"):
        raw = fields[key]
        text, bad = _text(raw)
        for k in bad:
            add(rows[k], "wrong_type", raw[k], f"{key} is not a string")
        column = np.full(total, None, dtype=object)
        column[rows] = _objects(text)
        columns[key] = column
    errors = fields["is_error"]
    error_values = np.zeros(total, dtype=bool)
    error_values[rows] = [e is True for e in errors]
    error_mask = np.zeros(total, dtype=bool)
    if not set(map(type, errors)) <= {bool, _NONE}:
        for k, error in enumerate(errors):
            if error is not None and type(error) is not bool:
                add(rows[k], "wrong_type", error, "is_error is not a boolean")
                error_mask[rows[k]] = True
    is_error = pd.arrays.BooleanArray(error_values, error_mask)
    return _ToolFields(
        rows, columns["tool_call_id"], columns["name"], is_error, fields["arguments"]
    )


#: The keys read from every message that is not speech, in one pass.
_TOOL_KEYS = ("tool_call_id", "name", "is_error", "arguments")


def _sparse_labels(values: np.ndarray, rows: np.ndarray) -> pd.Categorical:
    """``values`` (strings or None, an object array) as a Categorical, read from ``rows`` only:
    every other value is None (most messages are speech, which has no tool fields)."""
    present = _categorical_from(values[rows].tolist(), len(rows))
    codes = np.full(len(values), -1, dtype=present.codes.dtype)
    codes[rows] = present.codes
    return pd.Categorical.from_codes(codes, dtype=present.dtype)


def _pair_tool_messages(tools: _ToolFields, roles: _Roles, call_pos: np.ndarray, add: _Add) -> None:
    """Match tool_call and tool_result by (call, tool_call_id), report what is left unmatched and
    give a nameless result its call's name (in ``tools.names``)."""
    tool_call_ids, names = tools.call_ids, tools.names
    tool_call, tool_result = roles.of("tool_call"), roles.of("tool_result")
    both = np.concatenate([tool_call, tool_result])
    id_codes = pd.factorize(tool_call_ids[both])[0].astype(np.int64)
    keys = np.where(id_codes >= 0, call_pos[both] * (id_codes.max(initial=0) + 1) + id_codes, -1)
    call_key, result_key = keys[: len(tool_call)], keys[len(tool_call) :]
    for i in tool_call[call_key < 0]:
        add(i, "missing_field", detail="tool_call without tool_call_id")
    for i in tool_call[pd.isna(names[tool_call])]:
        add(i, "missing_field", detail="tool_call without name")
    for i in tool_result[result_key < 0]:
        add(i, "missing_field", detail="tool_result without tool_call_id")
    partner = _pair_tools(both, keys, len(tool_call))  # per tool_result: its tool_call or -1
    answered = np.zeros(len(names), dtype=bool)
    answered[partner[partner >= 0]] = True
    for i in tool_call[(call_key >= 0) & ~answered[tool_call]]:
        add(i, "tool_call_without_result", tool_call_ids[i], f"tool {names[i]!r}")
    for i in tool_result[(result_key >= 0) & (partner < 0)]:
        add(i, "tool_result_without_call", tool_call_ids[i])
    fill = (partner >= 0) & pd.isna(names[tool_result])
    names[tool_result[fill]] = names[partner[fill]]


def _tool_call_arguments(
    tools: _ToolFields, tool_call: np.ndarray, total: int, add: _Add
) -> tuple[np.ndarray, pd.api.extensions.ExtensionArray]:
    """``tool_arguments`` (parsed dicts, an object array) and ``tool_arguments_raw`` (text).

    Each tool_call's ``arguments`` (a JSON string) is parsed once; only the ones that are not a
    JSON object go through :func:`_tool_arguments` for their problem row.
    """
    arguments = np.full(total, None, dtype=object)
    raw_arguments = [tools.arguments[k] for k in tools.at(tool_call).tolist()]
    parsed, odd = _parse_objects(raw_arguments)
    arguments[tool_call] = _objects(parsed)
    if odd or not set(map(type, raw_arguments)) <= {str}:
        for k in odd:
            i = int(tool_call[k])
            value, problem = _tool_arguments(raw_arguments[k])
            arguments[i] = value
            if problem is not None:
                add(i, *problem)
        raw_arguments = [
            raw if raw is None or type(raw) is str else json_text(raw) for raw in raw_arguments
        ]
    return arguments, _sparse_strings(raw_arguments, tool_call, total)


def _parse_objects(raws: list[Any]) -> tuple[list[Any], list[int]]:
    """Each JSON string that holds an object, parsed (None for the rest, whose positions follow)."""
    parsed: list[Any] = []
    odd: list[int] = []
    for k, raw in enumerate(raws):
        if type(raw) is str:
            try:
                value = json_value(raw)
            except ValueError:
                value = None
            if type(value) is dict:
                parsed.append(value)
                continue
        parsed.append(None)
        odd.append(k)
    return parsed, odd


def _pair_tools(rows: np.ndarray, keys: np.ndarray, n_calls: int) -> np.ndarray:
    """The tool_call message each tool_result answers (-1: none), one per result.

    ``rows`` are message positions, the first ``n_calls`` of them tool_calls and the rest
    tool_results; ``keys`` their (call, tool_call_id) keys (-1: no id). A result answers the
    nearest earlier unanswered tool_call of its key, so reused ids and parallel calls answered in
    any order pair correctly.
    """
    partner = np.full(len(rows) - n_calls, -1, dtype=np.int64)
    valid = np.flatnonzero(keys >= 0)
    if not len(valid):
        return partner
    order = valid[np.lexsort((rows[valid], keys[valid]))]  # by key, then message position
    sorted_keys = keys[order]
    starts = np.flatnonzero(np.r_[True, sorted_keys[1:] != sorted_keys[:-1]])
    sizes = np.diff(np.r_[starts, len(order)])
    is_call = order < n_calls
    # The usual key: one tool_call, then its tool_result.
    simple = sizes == 2
    first = starts[simple]
    pair = is_call[first] & ~is_call[first + 1]
    partner[order[first[pair] + 1] - n_calls] = rows[order[first[pair]]]
    # Anything else (reused ids, results before calls): a stack per key.
    complex_starts = np.setdiff1d(starts[sizes > 1], first[pair], assume_unique=True)
    size_of = dict(zip(starts.tolist(), sizes.tolist(), strict=True))
    for start in complex_starts.tolist():
        waiting: list[int] = []
        for k in order[start : start + size_of[start]].tolist():
            if k < n_calls:
                waiting.append(int(rows[k]))
            elif waiting:
                partner[k - n_calls] = waiting.pop()
    return partner


def _tool_arguments(raw: Any) -> tuple[dict[str, Any] | None, tuple[str, Any, str] | None]:
    """Parse tool_call arguments: a dict, or None plus ``(problem code, value, detail)``."""
    if type(raw) is not str and _is_mapping(raw):
        return dict(raw), None
    if raw is None:
        return None, ("missing_field", _NO_VALUE, "tool_call without arguments")
    if not isinstance(raw, str):
        return None, ("wrong_type", raw, "arguments are neither a JSON string nor an object")
    try:
        parsed = json_value(raw)
    except ValueError as exc:
        return None, ("unparseable_tool_arguments", raw, f"invalid JSON: {exc}")
    if not isinstance(parsed, dict):
        kind = type(parsed).__name__
        return None, ("unparseable_tool_arguments", raw, f"JSON {kind}, not an object")
    return parsed, None
