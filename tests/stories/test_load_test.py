"""The load-test report's story on a hand-built ramp: one run, one binning, never pooled."""

from __future__ import annotations

import pytest
from analysis.hand_built import ramp_calls

from oneinbox_nb.frames import to_frames
from oneinbox_nb.stories.load_test import load_test


@pytest.fixture(scope="module")
def two_runs():
    second = ramp_calls(120, knee=60, run="run-2", seed=2)
    for call in second:  # ramp_calls numbers its calls r0000...: the second run's are s0000...
        call["id"] = "s" + call["id"][1:]
        call["created_at"] = call["created_at"].replace("T10:", "T12:")
    return to_frames(ramp_calls(120, knee=40, run="run-1") + second)


@pytest.fixture(scope="module")
def story(two_runs):
    return load_test(two_runs, run_id="run-1", n_boot=20)


def test_in_short_is_about_one_run_and_says_the_others_exist(story):
    lines = ["".join(s) for s in story.in_short]
    assert (
        lines[0]
        == "Load-test run run-1: 120 calls (120 completed + 0 failed + 0 other), dispatched at concurrency 1 to 80."
    )
    assert (
        lines[1].startswith("p95 response_ms exceeds the low-load baseline")
        and "from concurrency" in lines[1]
    )
    assert lines[2].startswith("Spearman rho between concurrency and response_ms is 0.")
    assert (
        lines[-1]
        == "The source holds 2 runs; this report is about run-1 only (run_id picks another)."
    )
    assert set(story.facts["run"].calls["meta_run_id"]) == {"run-1"}


def test_without_a_run_id_the_newest_run(two_runs):
    assert load_test(two_runs, n_boot=0).facts["run_id"] == "run-2"


def test_every_table_uses_the_knees_binning(story):
    edges = story.facts["edges"]
    knee_bins = story.facts["knee"].bins["bin_left"].tolist()
    assert knee_bins == edges[:-1]
    for name, table in story.facts["binned"].items():
        assert table["bin_left"].tolist() == knee_bins, name
    shown = story.part("The metric in concurrency bins").tables[0].frame
    assert len(shown) == len(knee_bins)
    assert story.facts["setup_knee"].bins["bin_left"].tolist() == knee_bins


def test_component_table_reads_through_display(story):
    table = story.part("Which component degrades?").tables[0].frame
    assert table.index[0] == "llm_ttft_ms"  # the ramp slows the LLM only
    assert table.loc["llm_ttft_ms", "ratio"].startswith("×")
    assert table.loc["tts_ttfb_ms", "knee concurrency"] == "no knee"  # flat at 100 ms
    assert "e-0" not in story.text()  # no scientific notation anywhere


def test_frames_without_runs_are_a_clear_error(rich_frames):
    with pytest.raises(ValueError, match="no load-test calls"):
        load_test(rich_frames)
