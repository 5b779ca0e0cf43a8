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


def test_mappings_that_are_not_dicts_are_accepted():
    from types import MappingProxyType

    call = rich_call()
    call["messages"] = [MappingProxyType(m) for m in call["messages"]]
    call["latency"]["events"] = [MappingProxyType(e) for e in call["latency"]["events"]]
    call["latency"] = MappingProxyType(call["latency"])
    frames = to_frames([MappingProxyType(call), {"id": "42"}])
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
        (
            [rich_call("a"), rich_call("b"), rich_call("c"), {"id": 12345}],
            "call #3: id must be a non-empty string, got int 12345",
        ),
        ([{"id": {"x": 1}}], "call #0: id must be a non-empty string, got dict {'x': 1}"),
        ([{"id": ["a"]}], "call #0: id must be a non-empty string, got list ['a']"),
        ([rich_call(), {"id": ""}], "call #1: id must be a non-empty string, got str ''"),
        ({"id": 7}, "call #0: id must be a non-empty string, got int 7"),
    ],
)
def test_input_that_is_not_a_call_raises_a_helpful_error(calls, message):
    with pytest.raises(InvalidCallError) as info:
        to_frames(calls)
    assert message in str(info.value)
    assert isinstance(info.value, OneInboxError)


def test_a_build_runs_no_garbage_collection_pass_and_restores_the_collector():
    import gc
    import sys

    calls = [rich_call() for _ in range(20)]
    for i, call in enumerate(calls):
        call["id"] = f"c{i}"

    def building() -> bool:  # whether a collection pass started inside the build
        frame = sys._getframe(1)
        while frame is not None:
            if frame.f_code.co_name == "_build" and "frames" in frame.f_code.co_filename:
                return True
            frame = frame.f_back
        return False

    inside: list[bool] = []
    threshold = gc.get_threshold()
    gc.callbacks.append(lambda phase, info: inside.append(phase == "start" and building()))
    gc.set_threshold(1)  # with the collector on, every allocation would start a pass
    try:
        frames = to_frames(calls)
        on_after = gc.isenabled()
        gc.disable()
        to_frames(calls[:1])
        off_after = not gc.isenabled()
        gc.enable()
    finally:
        gc.set_threshold(*threshold)
        gc.callbacks.pop()
    assert inside and not any(inside)  # passes ran around the build, none inside it
    assert len(frames.calls) == 20
    assert on_after and off_after  # as the caller had it
