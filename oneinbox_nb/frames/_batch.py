"""The input of one build, shared by the table builders: the calls, their ids and the findings."""

from __future__ import annotations

from collections.abc import Mapping
from itertools import repeat
from typing import Any

import numpy as np
import pandas as pd

from ._columns import _arrow_strings, _is_mapping, _memory_pool, _string_array
from .problems import _Findings
from .schema import _STRING, _TIMESTAMPS

#: The top-level keys the builders read, gathered in one pass over the calls (:meth:`_Batch.get`).
_FIELDS = (
    "messages",
    "latency",
    "agent_id",
    "status",
    "type",
    "direction",
    "end_reason",
    "from_number",
    "to_number",
    "room_name",
    "twilio_call_sid",
    "recording_url",
    "ai_summary",
    "outcome",
    "analysis",
    "metadata",
    "variables",
    *_TIMESTAMPS,
    "duration_seconds",
    "cost_cents",
    "credits_used",
)


class _Batch:
    """A list of call mappings read column-wise, with the problems found so far in ``found``."""

    def __init__(self, calls: list[Mapping[str, Any]]) -> None:
        self.calls = calls
        self.n = len(calls)
        self.found = _Findings()
        self.plain = set(map(type, calls)) <= {dict}
        self.call_ids = [c["id"] for c in calls]  # non-empty strings, checked by to_frames
        self.call_id_array = _string_array(self.call_ids)
        self.call_id_arrow = _arrow_strings(self.call_ids)  # for fast takes, if strings are arrow
        self._fields: dict[str, list[Any]] | None = None

    def ids(self, positions: np.ndarray) -> pd.api.extensions.ExtensionArray:
        """The call id of each position, as a ``string`` array."""
        if self.call_id_arrow is not None:
            import pyarrow.compute as pc

            taken = pc.take(self.call_id_arrow, positions, memory_pool=_memory_pool())
            array = pd.arrays.ArrowStringArray(taken)
            if array.dtype == _STRING:
                return array
        return self.call_id_array.take(positions)

    def get(self, key: str) -> list[Any]:
        """The value at ``key`` of every call (None where absent), a new list."""
        if key in _FIELDS:
            if self._fields is None:
                self._fields = _gather(self.calls, _FIELDS)
            return list(self._fields[key])
        if self.plain:
            return list(map(dict.get, self.calls, repeat(key)))
        return [c.get(key) for c in self.calls]

    def mapping(self, call_pos: int, value: Any, where: str) -> dict[str, Any]:
        """``value`` as a dict: None becomes ``{}``; a non-object is reported and becomes ``{}``."""
        if value is None:
            return {}
        if _is_mapping(value):
            return value if type(value) is dict else dict(value)
        self.found.add(call_pos, where, "wrong_type", value, "expected an object")
        return {}

    def sections(self, values: list[Any], where: str) -> list[dict[str, Any]]:
        """Each value as a dict, as :meth:`mapping` makes it."""
        return [
            v if type(v) is dict else self.mapping(pos, v, where) for pos, v in enumerate(values)
        ]


def _gather(mappings: list[Mapping[str, Any]], keys: tuple[str, ...]) -> dict[str, list[Any]]:
    """The value at each of ``keys`` of every mapping (None where absent): key -> list.

    One pass over the mappings reads all the keys of each while it is in the CPU cache; a pass
    per key would fetch every mapping from memory again (calls lie far apart, between their
    messages and events).
    """
    if not mappings:
        return {key: [] for key in keys}
    rows = [list(map(m.get, keys)) for m in mappings]
    return {key: list(column) for key, column in zip(keys, zip(*rows, strict=True), strict=True)}
