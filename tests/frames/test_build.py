"""to_frames input: what it accepts, that it does not mutate it, and what it rejects."""

from __future__ import annotations

import copy

import pandas.testing as tm
import pytest

from oneinbox_nb.exceptions import InvalidCallError, OneInboxError
from oneinbox_nb.frames import TABLES, to_frames

from .support import minimal_call, rich_call


def test_a_single_dict_and_a_generator_are_accepted():
    one = to_frames(rich_call())
    many = to_frames(c for c in [rich_call()])
    for name in TABLES:
        tm.assert_frame_equal(getattr(one, name), getattr(many, name))


def test_mappings_that_are_not_dicts_and_non_string_ids_are_accepted():
    from types import MappingProxyType

    call = rich_call()
    call["messages"] = [MappingProxyType(m) for m in call["messages"]]
    call["latency"]["events"] = [MappingProxyType(e) for e in call["latency"]["events"]]
    call["latency"] = MappingProxyType(call["latency"])
    frames = to_frames([MappingProxyType(call), {"id": 42}])
    expected = to_frames([rich_call(), {"id": "42"}])
    for name in TABLES:
        tm.assert_frame_equal(getattr(frames, name), getattr(expected, name), obj=name)


def test_input_is_not_mutated():
    calls = [rich_call(), minimal_call(messages=[5, {"role": "user"}], latency={"events": [7]})]
    before = copy.deepcopy(calls)
    to_frames(calls)
    assert calls == before


@pytest.mark.parametrize(
    ("calls", "message"),
    [
        (
            [rich_call(), ["a", "list"]],
            "item 1 is a list, not a call dict; pass the dicts returned",
        ),
        ([{"agent_id": "a"}], "item 0 has no 'id' (keys: 'agent_id')"),
        ([{"id": None}], "item 0 has id None"),
        ({"items": [rich_call()], "total": 1}, "pass resp['items']"),
        ([{"items": [], "next_cursor": None}], "item 0 is a list page"),
        ('{"id": "x"}', "parse it first"),
        (42, "got int"),
        (None, "got NoneType"),
        ({"status": "completed"}, "the argument has no 'id'"),
    ],
)
def test_input_that_is_not_a_call_raises_a_helpful_error(calls, message):
    with pytest.raises(InvalidCallError) as info:
        to_frames(calls)
    assert message in str(info.value)
    assert isinstance(info.value, OneInboxError)
