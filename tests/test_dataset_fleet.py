"""The fleet latency query keeps each component's rule apart within a turn: a turn flagged for one
component loses that component's value only, several events of a component in a turn sum, a
duplicate adds nothing (written out by hand on one call, every component flagged somewhere)."""

from __future__ import annotations

import numpy as np
import pytest

from oneinbox_nb import open_dataset, sample, to_frames
from oneinbox_nb.dataset.store import Store

pytest.importorskip("duckdb")

EVENTS = [
    # turn 1: a knowledge-base turn (two LLM steps, summed) with two calls of one tool (summed)
    (1, "eou_delay", 100.0),
    (1, "stt", 200.0),
    (1, "llm_ttft", 300.0),
    (1, "kb", 50.0),
    (1, "llm_ttft", 310.0),
    (1, "tool:lookup", 40.0),
    (1, "tool:lookup", 60.0),
    (1, "tts_ttfb", 150.0),
    # turn 2: kb absurd (kb flagged, nothing else); stt repeated identically (a duplicate)
    (2, "eou_delay", 110.0),
    (2, "stt", 210.0),
    (2, "stt", 210.0),
    (2, "kb", 70_000.0),
    (2, "llm_ttft", 320.0),
    (2, "tts_ttfb", 160.0),
    # turn 3: stt without ms, llm_ttft negative
    (3, "eou_delay", 120.0),
    (3, "stt", None),
    (3, "llm_ttft", -5.0),
    (3, "tts_ttfb", 170.0),
    # turn 4: eou_delay negative, tool and tts_ttfb absurd
    (4, "eou_delay", -1.0),
    (4, "stt", 230.0),
    (4, "llm_ttft", 330.0),
    (4, "tool:lookup", 90_000.0),
    (4, "tts_ttfb", 65_000.0),
]

EXPECTED = {
    "eou_delay": [100.0, 110.0, 120.0],
    "stt": [200.0, 210.0, 230.0],
    "kb": [50.0],
    "tool": [100.0],
    "llm_ttft": [610.0, 320.0, 330.0],
    "tts_ttfb": [150.0, 160.0, 170.0],
}


@pytest.fixture
def dataset(tmp_path):
    call = sample.generate("production", seed=5, n=1)[0]
    call["metadata"] = {}
    call["latency"]["events"] = [
        {"turn": turn, "type": kind, "ms": ms} for turn, kind, ms in EVENTS
    ]
    Store(tmp_path / "ds", create=True).write_part(to_frames([call]))
    return open_dataset(tmp_path / "ds")


def test_each_component_loses_only_the_turns_flagged_for_it(dataset):
    got = dataset.latency(freq="day")
    got = got[got["component"] != "response_ms"].set_index("component")
    assert list(got.index) == list(EXPECTED)  # analysis's order of components
    for component, values in EXPECTED.items():
        row = got.loc[component]
        assert row["count"] == len(values), component
        assert row["p50"] == pytest.approx(np.percentile(values, 50)), component
        assert row["p95"] == pytest.approx(np.percentile(values, 95)), component
        assert row["mean"] == pytest.approx(np.mean(values)), component


def test_by_provider_keeps_the_same_turns(dataset):
    got = dataset.latency(freq="day", by="provider")
    counts = got.groupby("component")["count"].sum().to_dict()
    assert counts == {c: len(EXPECTED[c]) for c in ("eou_delay", "stt", "llm_ttft", "tts_ttfb")}
