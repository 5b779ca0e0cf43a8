"""The messages table: turn numbering, tool calls and results, odd messages."""

from __future__ import annotations

import pandas as pd

from oneinbox_nb.frames import to_frames

from .support import minimal_call, problems_of, rich_call


def test_each_user_message_opens_the_next_turn(rich):
    messages = rich.messages
    assert messages["seq"].tolist() == list(range(11))
    assert messages["turn"].tolist() == [0, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3]
    assert messages["role"].tolist()[:5] == ["agent", "user", "agent", "user", "tool_call"]


def test_turn_numbering_restarts_for_every_call_and_keeps_odd_roles():
    calls = [
        minimal_call(
            "a",
            messages=[
                {"role": "system", "content": "prompt"},
                {"role": "user", "content": "hi"},
                {"role": "agent", "content": "hello"},
            ],
        ),
        minimal_call(
            "b",
            messages=[
                {"role": "user", "content": "first"},
                {"role": "narrator", "content": "odd"},
                {"role": "user", "content": "second"},
            ],
        ),
    ]
    messages = to_frames(calls).messages
    assert messages["turn"].tolist() == [0, 1, 1, 1, 1, 2]
    assert messages["role"].tolist() == ["system", "user", "agent", "user", "narrator", "user"]
    assert messages["seq"].tolist() == [0, 1, 2, 0, 1, 2]


def test_tool_messages(rich):
    messages = rich.messages
    call = messages.iloc[4]
    assert call["tool_name"] == "lookup_order"
    assert call["tool_call_id"] == "tc_1"
    assert call["tool_arguments"] == {"order_id": "1001"}
    assert call["tool_arguments_raw"] == '{"order_id": "1001"}'
    result = messages.iloc[5]
    assert result["tool_name"] == "lookup_order"  # taken from its tool_call
    assert result["content"] == '{"status": "shipped"}'
    assert messages["is_error"].tolist() == [False] * 9 + [True, False]
    assert messages["tool_arguments"].iloc[0] is None
    assert not messages["has_problem"].any()


def test_unparseable_tool_arguments_are_a_problem():
    call = rich_call()
    call["messages"][4]["arguments"] = '{"order_id": "1001"'
    call["messages"][8]["arguments"] = "[1, 2]"
    frames = to_frames(call)
    found = problems_of(frames, "unparseable_tool_arguments")
    assert found["where"].tolist() == ["messages[4]", "messages[8]"]
    assert found["value"].tolist() == [repr('{"order_id": "1001"'), repr("[1, 2]")]
    messages = frames.messages
    assert messages.loc[4, "tool_arguments"] is None
    assert messages.loc[4, "tool_arguments_raw"] == '{"order_id": "1001"'
    assert messages["has_problem"].tolist() == [False] * 4 + [True] + [False] * 3 + [
        True,
        False,
        False,
    ]


def test_unmatched_tool_calls_and_results_are_problems():
    call = rich_call()
    call["messages"][5]["tool_call_id"] = "tc_other"
    frames = to_frames(call)
    assert problems_of(frames, "tool_call_without_result")["where"].tolist() == ["messages[4]"]
    assert problems_of(frames, "tool_result_without_call")["where"].tolist() == ["messages[5]"]


def test_messages_that_are_not_objects_are_kept_as_empty_rows():
    frames = to_frames(
        minimal_call(
            messages=[
                "hello",
                {"role": "user", "content": {"text": "structured"}},
                {"content": "no role"},
                {"role": "user", "content": "ünïcødé ✓ 你好"},
            ]
        )
    )
    messages = frames.messages
    assert len(messages) == 4
    assert pd.isna(messages.loc[0, "role"])
    assert messages.loc[1, "content"] == '{"text":"structured"}'
    assert messages.loc[3, "content"] == "ünïcødé ✓ 你好"
    problems = frames.problems
    assert problems[["where", "problem"]].values.tolist() == [
        ["messages[0]", "wrong_type"],
        ["messages[1]", "non_string_content"],
        ["messages[2]", "missing_field"],
    ]
    assert problems["severity"].tolist() == ["warning", "info", "warning"]


def test_huge_tool_results_are_kept_whole():
    big = "x" * 2_000_000
    call = rich_call()
    call["messages"][5]["content"] = big
    frames = to_frames(call)
    assert frames.messages.loc[5, "content"] == big
