"""The compare report's story: the sample's planted regression, numbers through display."""

from __future__ import annotations

import re

import pytest

from oneinbox_nb import analysis, sample
from oneinbox_nb.frames import CallFrames, to_frames
from oneinbox_nb.stories.compare import compare, production_only


@pytest.fixture(scope="module")
def slow_llm():
    pair = sample.regression_pair(seed=0, regression="slow_llm")
    frames = to_frames(pair.calls)
    a = analysis.select_calls(frames, run_id=pair.a["run_id"])
    b = analysis.select_calls(frames, run_id=pair.b["run_id"])
    labels = {"a": f"run {pair.a['run_id']}", "b": f"run {pair.b['run_id']}"}
    return compare(a, b, labels=labels, n_boot=100, seed=0), pair


def test_in_short_names_the_planted_llm_change_and_its_share(slow_llm):
    story, pair = slow_llm
    lines = ["".join(s) for s in story.in_short]
    assert (
        lines[0]
        == f"b (run {pair.b['run_id']}; 1,000 calls) against a (run {pair.a['run_id']}; 1,000 calls)."
    )
    assert re.fullmatch(r"\d+ clear change\(s\):", lines[1])
    llm = next(line for line in lines if line.startswith("llm_ttft_ms p50: "))
    assert re.fullmatch(
        r"llm_ttft_ms p50: [\d,]+ ms → [\d,]+ ms \(\+[\d,]+ ms; 95% CI \+[\d,]+ ms to \+[\d,]+ ms\): increase",
        llm,
    )
    assert any(line.startswith("response_ms p50: ") for line in lines)
    explained = next(
        line for line in lines if line.startswith("Of the change in the median response")
    )
    assert "llm_ttft accounts for " in explained
    assert story.scope == "side a: 1,000 calls; side b: 1,000 calls"


def test_tables_hold_no_raw_floats(slow_llm):
    story, _ = slow_llm
    text = story.text()
    assert not re.search(r"(?<![$\d,.])\d\.\d{3,}", text), "a raw float in a table"
    assert "e-0" not in text
    readable = story.part("What changed, metric by metric").tables[0].frame
    cost = readable.loc[readable["metric"] == "cents_per_minute"].iloc[0]
    assert cost["a"].endswith("/min") and cost["a"].startswith(
        "$"
    )  # the one unit for cost per minute
    knees = story.part("Load tests: where does each side degrade?").tables[0].frame
    assert list(knees.index) == ["a", "b"] and re.fullmatch(
        r"\d+", knees.loc["a", "knee_concurrency"]
    )


def test_a_period_leaves_load_tests_out_and_says_so(slow_llm):
    _, pair = slow_llm
    frames = to_frames(pair.calls[:60] + sample.generate("production", seed=0, n=60))
    kept, n_left_out = production_only(frames)
    assert n_left_out == 60 and len(kept.calls) == 60
    assert "meta_run_id" not in kept.calls or kept.calls["meta_run_id"].isna().all()
    half = list(kept.calls["call_id"])
    story = compare(
        kept.select(half[:30]),
        kept.select(half[30:]),
        labels={"a": "week 1", "b": "week 2"},
        left_out={"b": n_left_out},
        n_boot=50,
    )
    assert (
        "".join(story.in_short[0])
        == "b (week 2; 30 calls, 60 load-test calls left out) against a (week 1; 30 calls)."
    )
    assert "".join(story.part("Load tests: where does each side degrade?").lines[0]).startswith(
        "The sides are not both load-test runs"
    )


def test_production_only_without_runs_keeps_everything(rich_frames):
    kept, n = production_only(rich_frames)
    assert n == 0 and len(kept.calls) == 3
    assert isinstance(kept, CallFrames)


def test_side_labels_say_how_a_side_was_chosen():
    from oneinbox_nb.stories.compare import side_label

    assert (
        side_label({"run_id": "lt-42", "since": None, "until": None, "agent_id": None})
        == "run lt-42"
    )
    assert (
        side_label({"since": "2026-11-29", "agent_id": "Ava"})
        == "agent Ava, created 2026-11-29 to …"
    )
    assert side_label({}) == "every call"


def test_side_scopes_say_each_sides_population(slow_llm):
    from oneinbox_nb.scope import Scope

    _, pair = slow_llm  # the same sample.regression_pair(seed=0, regression="slow_llm")
    frames = to_frames(pair.calls[:40] + sample.generate("production", seed=0, n=40))
    scopes = {"a": Scope(), "b": Scope(traffic="all")}
    a, b = scopes["a"].select(frames), scopes["b"].select(frames)
    story = compare(a, b, scopes=scopes, pool=frames, n_boot=20)
    head = story.scope  # the sides' sentence is the scope sentence, said once (issue 19)
    assert head.startswith("b (80 calls: 40 production and 40 of load-test run ")
    assert "against a (40 production calls, " in head and head.endswith("load tests left out)")
    assert not any("against a (" in "".join(line) for line in story.in_short)
