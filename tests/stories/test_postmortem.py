"""The postmortem's story on hand-built frames: exact sentences and tables, no kernel."""

from __future__ import annotations

from analysis.hand_built import KB_TURN, make_call

from oneinbox_nb.frames import to_frames
from oneinbox_nb.stories import postmortem, to_html


def _lines(section) -> list[str]:
    return ["".join(line) for line in section.lines]


def test_one_call_story_says_what_happened(rich_frames):
    story = postmortem(rich_frames.select(["a"]))
    assert _lines(story.part("In short")) == [
        "1 chosen call, 19 Nov 2026",
        "This postmortem is about call a: 1 completed, 0 failed, 2 answered turns (the greeting, "
        "turn 0, is not counted).",
        "The worst answered turn was turn 2 of call a: the caller waited 2,400 ms for the agent to "
        "start speaking, 38% of it in tool. The median answered turn took 2,145 ms.",
        "Cost: $0.02 over 1 call; 1.00 credits (1 credit = 1 minute).",
    ]
    numbers = dict(story.key_numbers)
    assert numbers["response p50"] == "2,145 ms" and numbers["worst response"] == "2,400 ms"
    assert numbers["calls"] == "1 (1 completed, 0 failed)"
    assert story.facts["worst_call"] == "a" and story.facts["top"] == [("a", 2), ("a", 1)]
    assert "".join(story.advice[0]) == (
        "The worst turn waited mostly on the tool call: the backend it calls, its timeout and its errors."
    )


def test_without_call_ids_or_run_the_story_is_about_the_call_with_the_worst_turn(rich_frames):
    story = postmortem(rich_frames)
    assert story.facts["focus_ids"] == ["a"]
    assert story.scope == "1 chosen call, 19 Nov 2026"


def test_several_calls_name_their_statuses_and_unknown_costs(rich_frames):
    story = postmortem(rich_frames, call_ids=["A", "b", "c"])
    assert _lines(story.part("In short"))[1].startswith(
        "This postmortem is about 3 calls: 2 completed, 1 failed, 4 answered turns"
    )
    numbers = dict(story.key_numbers)
    assert numbers["cost"] == "$0.04 over 2 calls; 1 not yet billed"
    # fewer calls than the minimum: no percentile claim, the worst turn is still a fact
    assert numbers["response p95"] == "not enough calls (3)"
    assert numbers["worst response"] == "2,400 ms"
    caption = "".join(story.part("The worst turns").tables[0].caption)
    assert caption == "The 4 slowest answered turns of these calls."


def test_ten_slowest_turns_say_when_they_come_from_few_calls(run_frames):
    story = postmortem(run_frames, call_ids=["r0100", "r0101", "p1"])
    caption = "".join(story.part("The worst turns").tables[0].caption)
    assert caption == "The 7 slowest answered turns of these calls."  # every call is among them
    twelve = [f"r{i:04d}" for i in range(100, 112)]
    story = postmortem(run_frames, call_ids=twelve)
    slowest = story.part("The worst turns").tables[0].frame
    n_calls = slowest["call_id"].nunique()
    assert n_calls < 10
    caption = "".join(story.part("The worst turns").tables[0].caption)
    assert (
        caption == f"The 10 slowest answered turns of these calls; they come from {n_calls} calls."
    )
    story = postmortem(run_frames, run_id="run-1", n_boot=20)
    caption = "".join(story.part("The worst turns").tables[0].caption)
    assert caption.startswith("The 10 slowest answered turns of the run; they come from ")


def test_call_ids_and_a_run_keep_the_two_populations_apart(run_frames):
    story = postmortem(run_frames, call_ids=["r0005"], run_id="run-1", n_boot=20)
    lines = _lines(story.part("In short"))
    assert lines[0] == "1 chosen call of load-test run run-1, 19 Nov 2026"  # the call, not the run
    assert lines[1].startswith("This postmortem is about call r0005: 1 completed")
    assert lines[2].startswith("The worst answered turn of this call was turn ")
    assert lines[3].startswith(
        "For comparison, the run's other 119 calls (run run-1): response p50 "
    )
    assert lines[4].startswith(
        "Under load, over the whole of load-test run run-1 (120 calls): p95 response_ms"
    )
    numbers = dict(story.key_numbers)
    assert numbers["calls"] == "1 (1 completed, 0 failed)"
    # the key numbers are the call's only; the run's other calls have a table of their own
    assert not any("run" in label for label in numbers)
    card, base = story.part("What happened").tables
    assert "".join(base.caption) == (
        "The comparison baseline: the run's other 119 calls (run run-1)."
    )
    baseline = base.frame["value"]
    assert baseline["calls"].startswith("119 (")
    # the call's own rows are about the call: its worst turn, not the run's
    call_worst = float(numbers["worst response"].replace(",", "").removesuffix(" ms"))
    run_worst = float(baseline["worst response"].replace(",", "").removesuffix(" ms"))
    assert call_worst < run_worst
    assert story.part("Load: the knee").tables[0].caption == (
        "Concurrency bins of load-test run run-1 (120 calls).",
    )
    assert (
        "".join(story.part("What happened").tables[0].caption) == "This call, one column per call."
    )


def test_a_run_postmortem_reports_the_knee_and_advice(run_frames):
    story = postmortem(
        run_frames.select([c for c in run_frames.calls["call_id"] if c.startswith("r")]),
        run_id="run-1",
        n_boot=20,
    )
    lines = _lines(story.part("In short"))
    assert lines[1].startswith(
        "This postmortem is about load-test run run-1 (120 calls): 120 completed, 0 failed"
    )
    knee = story.facts["knee"]
    assert knee.concurrency is not None and 30 <= knee.concurrency <= 55
    advice = ["".join(a) for a in story.advice]
    assert f"Latency degrades from about {round(knee.concurrency)} concurrent calls" in advice[-1]


def test_a_call_of_a_run_points_at_the_run_without_one(run_frames):
    story = postmortem(run_frames, call_ids=["r0010"])
    assert _lines(story.part("In short"))[3] == (
        "The call was dispatched at concurrency 7 during load-test run run-1; run this postmortem "
        "with that run_id for the run's knee."
    )
    assert (
        _lines(story.part("Load: the knee"))[0]
        == "Call r0010 was dispatched at concurrency 7 during load-test run run-1."
    )


def test_api_text_is_escaped_in_the_rendered_story():
    hostile = "<script>alert(1)</script>"
    messages = [
        {"role": "agent", "content": "Hi"},
        {"role": "user", "content": hostile},
        {"role": "agent", "content": "ok"},
    ]
    frames = to_frames([make_call("h", KB_TURN, messages=messages)])
    story = postmortem(frames)
    assert hostile in story.text()  # the story holds the words as they were said...
    html = to_html(story)
    assert (
        "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    )  # ...escaped once


def test_every_table_listing_calls_names_them_in_its_caption():
    """Found on the real-data run's hostile call: findings, disagreeing aggregates and credits."""
    odd = [*KB_TURN, {"turn": 1, "type": "stt", "ms": -5.0}]  # a negative duration: a finding
    frames = to_frames([make_call("h", odd, credits_used=5.0)])  # 60 s billed as 5 credits
    story = postmortem(frames)
    listing = [
        (section.title, table)
        for section in story.sections
        for table in section.tables
        if "call_id" in table.frame.columns
    ]
    assert {title for title, _ in listing} >= {
        "Latency percentiles and the server's own numbers",
        "Data-quality problems",
        "What the calls cost",
    }
    for _, table in listing:
        assert set(table.frame["call_id"]) == {"h"}
        assert "this call" in "".join(table.caption), table.caption


def test_a_call_of_a_run_with_keys_that_differ_only_in_unicode_form():
    """Found by `make fuzz` (the frames' HTML card): two metadata keys that are one Python
    identifier once NFKC-normalised ("tier", "ｔier") are two columns, and the story reads them."""
    metadata = {"concurrency_at_dispatch": 7, "run_id": "run-1", "tier": "a", "ｔier": "b"}
    story = postmortem(to_frames([make_call("h", KB_TURN, metadata=metadata)]), call_ids=["h"])
    lines = "".join("".join(line) for line in story.part("Load: the knee").lines)
    assert "Call h was dispatched at concurrency 7 during load-test run run-1." in lines
