"""The ``messages`` table: one row per item of a call's ``messages``, numbered into turns.

Every ``user`` message opens the next turn (the greeting is turn 0); tool fields are read from every
message that is not agent or user speech, and ``tool_call``/``tool_result`` pairs are matched by
``(call, tool_call_id)``.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import repeat
from typing import Any

import numpy as np
import orjson
import pandas as pd

from ._batch import _Batch
from ._columns import (
    _NONE,
    _flatten_lists,
    _is_mapping,
    _json_text,
    _label_field,
    _objects,
    _text,
)
from .problems import _NO_VALUE


def message_columns(batch: _Batch) -> dict[str, Any]:
    """The ``messages`` columns, plus ``_``-prefixed parts the turns and calls builders read.

    ``_lengths`` (messages per call), ``_call_pos`` and ``_is_user`` (per message) and
    ``_has_messages`` (per call: ``messages`` is a list) are not columns of the table.
    """
    found = batch.found
    lists: list[Sequence[Any]] = []
    has_messages = np.zeros(batch.n, dtype=bool)
    for pos, call in enumerate(batch.calls):
        value = call.get("messages")
        if isinstance(value, list):
            lists.append(value)
            has_messages[pos] = True
        else:
            if value is not None:
                found.add(pos, "messages", "wrong_type", value, "expected a list")
            lists.append(())
    items, call_pos, seq, lengths, starts = _flatten_lists(lists)
    total = len(items)
    flag = np.zeros(total, dtype=bool)

    def add(i: int, code: str, value: Any = _NO_VALUE, detail: str | None = None) -> None:
        found.add(call_pos[i], f"messages[{seq[i]}]", code, value, detail, section=1, seq=seq[i])
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
    keys = np.where(id_codes >= 0, call_pos[both] * (id_codes.max(initial=0) + 1) + id_codes, -1)
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

    return {
        "call_id": batch.ids(call_pos),
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
        "_call_pos": call_pos,
        "_is_user": is_user,
        "_has_messages": has_messages,
    }


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
