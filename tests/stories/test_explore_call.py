"""The one-call report's story on hand-built frames."""

from __future__ import annotations

from analysis.hand_built import AGENT_1, GREETING, KB_TURN, ev, make_call

from oneinbox_nb.frames import to_frames
from oneinbox_nb.stories import to_html
from oneinbox_nb.stories.explore_call import explore_call


def _lines(story) -> list[str]:
    return ["".join(line) for line in story.part("In short").lines]


def test_in_short_names_the_call_its_slowest_turn_and_its_cost(rich_frames):
    story = explore_call(rich_frames, call_id="a")
    assert (
        _lines(story)
        == [
            "1 chosen call, 19 Nov 2026",
            "Call a (completed, outcome unknown) lasted 1 min 0 s with 2 answered turns (the greeting, "
            f"turn 0, is not counted); agent {AGENT_1}.",
            "Turn 2 was the slowest: 2,400 ms, 38% of it tool. The caller had said: “question 2”",
            "Median answered turn: 2,145 ms. Cost: $0.02; 1.00 credits. Data-quality findings: 1.",  # hand-built calls lack keys,
        ]
    )
    assert "Turn <strong>2</strong> was the slowest: <strong>2,400 ms</strong>" in to_html(story)
    assert story.facts == {"call_id": "a", "worst_turn": 2}


def test_without_a_call_id_the_call_with_the_slowest_turn(rich_frames):
    assert explore_call(rich_frames).facts["call_id"] == "a"


def test_the_turns_table_reads_through_display(rich_frames):
    table = explore_call(rich_frames, call_id="a").part("Turns").tables[0].frame
    assert table.index.tolist() == ["0 (greeting)", "1", "2"]
    assert table.loc["1", "response_ms"] == "1,890 ms" and table.loc["2", "tool_ms"] == "900 ms"
    assert table.loc["2", "caller said"] == "question 2"
    assert table.loc["0 (greeting)", "caller said"] == "unknown"  # nobody spoke before the greeting


def test_a_call_without_answered_turns_says_so_and_is_not_billed_yet():
    frames = to_frames(
        [make_call("g", GREETING, cost_cents=None, messages=[{"role": "agent", "content": "Hi"}])]
    )
    story = explore_call(frames, call_id="g")
    lines = _lines(story)
    assert lines[2] == "It has no answered turn with latency events: nothing to lay out."
    assert lines[3].startswith("Median answered turn: unknown. Cost: unknown (not yet billed); ")
    assert story.facts["worst_turn"] is None


def test_every_turn_flagged_still_names_the_slowest():
    events = [ev(1, "eou_delay", -5), ev(1, "llm_ttft", 300), ev(1, "tts_ttfb", 100)]
    story = explore_call(to_frames([make_call("f", GREETING + events)]), call_id="f")
    assert (
        _lines(story)[2] == "Every turn has a data problem; the slowest, turn 1, is shown anyway."
    )
    assert story.facts["worst_turn"] == 1
    assert story.part("Data-quality problems").tables[0].frame["problem"].tolist() != []


def test_transcript_blanks_absent_tools_and_escapes_in_html():
    messages = [{"role": "agent", "content": "Hi"}, {"role": "user", "content": "<b>hi</b>"}]
    story = explore_call(to_frames([make_call("k", KB_TURN, messages=messages)]), call_id="k")
    table = story.part("Transcript").tables[0].frame
    assert table["tool_name"].tolist() == ["", ""]
    assert "&lt;b&gt;hi&lt;/b&gt;" in to_html(story.part("Transcript"))
