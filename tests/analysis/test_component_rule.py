"""The component rule, tested once against every function that computes a component statistic.

A component's values are the per-turn sums over the turns that have at least one of its events;
a turn without them is no value (never 0 ms), a turn flagged for it is left out, and a side with
no values says so. Response statistics use complete, unflagged answered turns only.
"""

from __future__ import annotations

import matplotlib
import numpy as np
import pytest

from oneinbox_nb import analysis as A
from oneinbox_nb import plots as P
from oneinbox_nb.frames import CallFrames, to_frames

from .hand_built import GREETING, KB_TURN, ev, make_call

matplotlib.use("Agg")

N_CALLS = 25  # copies of the call below: enough for compare (MIN_CALLS = 20)

INTERRUPTED = [ev(2, "eou_delay", 300), ev(2, "llm_ttft", 500)]  # no tts: cut off
NO_STT_NO_KB = [ev(3, "eou_delay", 400), ev(3, "llm_ttft", 450), ev(3, "tts_ttfb", 150)]
BAD_TTS = [ev(4, "eou_delay", 350), ev(4, "llm_ttft", 400), ev(4, "tts_ttfb", -5)]

#: The values the rule gives each component in one call (pooled over the identical calls).
PER_CALL = {
    "llm_ttft": [200, 420 + 700, 500, 450, 400],  # the kb turn's two steps are one value
    "tts_ttfb": [100, 170, 150],  # the interrupted turn has none; the -5 is flagged
    "eou_delay": [340, 300, 400, 350],
    "stt": [300],  # only the kb turn has an stt event: the others are no value, not 0
    "kb": [260],
    "tool": [],  # no tool events at all: "no values"
    "response_ms": [340 + 420 + 260 + 700 + 170, 400 + 450 + 150],  # complete, unflagged
}


def expected(component: str) -> np.ndarray:
    return np.repeat(np.asarray(PER_CALL[component], dtype=float), N_CALLS)


@pytest.fixture(scope="module")
def frames() -> CallFrames:
    events = GREETING + KB_TURN + INTERRUPTED + NO_STT_NO_KB + BAD_TTS
    return to_frames(
        [
            make_call(
                f"c{i:02d}",
                events,
                metadata={"run_id": "r1", "concurrency_at_dispatch": i + 1},
            )
            for i in range(N_CALLS)
        ]
    )


def _latency_values(frames, component):
    table = A.latency_values(frames)
    return table.loc[table["component"] == component, "value"].to_numpy()


def _compare_values(frames, component):
    table = A.compare_values(frames, frames, metric=component)
    return table.loc[table["group"] == "a", "value"].to_numpy()


def _concurrency_frame(frames, component):
    return A.concurrency_frame(frames, metric=component, run="r1")["value"].to_numpy()


@pytest.mark.parametrize("component", list(PER_CALL))
@pytest.mark.parametrize(
    "values_of", [_latency_values, _compare_values, _concurrency_frame], ids=lambda f: f.__name__
)
def test_every_function_takes_the_same_values_of_a_component(frames, component, values_of):
    got = np.sort(values_of(frames, component))
    np.testing.assert_array_equal(got, np.sort(expected(component)))


@pytest.mark.parametrize("component", list(PER_CALL))
def test_percentiles_and_compare_agree_with_the_rule(frames, component):
    values = expected(component)
    p50 = float(np.median(values)) if len(values) else float("nan")
    table = A.latency_percentiles(frames, percentiles=(50,)).set_index("component")
    row = A.compare(frames, frames, metrics=component, n_boot=20).set_index("statistic")
    if len(values):
        assert table.loc[component, "p50"] == p50 and table.loc[component, "count"] == len(values)
        assert row.loc["p50", "a"] == p50 and row.loc["p50", "n_calls_a"] == N_CALLS
        assert row.loc["p50", "change"] == "no clear change"
    else:  # no values: no row in the summary, NaN and "no values" in compare: never 0.0 ms
        assert component not in table.index
        assert np.isnan(row.loc["p50", "a"]) and np.isnan(row.loc["p50", "b"])
        assert row.loc["p50", "change"] == "no values in a and b"


def test_explain_change_takes_component_means_over_the_turns_that_have_them(frames):
    table = A.explain_change(frames, frames, statistic="mean", n_boot=0)
    parts = table[table["level"] == "component"].set_index("component")
    # the response turns are the kb turn (1,890 ms) and the plain one (1,000 ms)
    assert parts.loc["kb", "a_ms"] == 260 and parts.loc["kb", "a_with"] == 0.5
    assert parts.loc["llm_ttft", "a_ms"] == (1120 + 450) / 2
    assert parts.loc["tts_ttfb", "a_ms"] == (170 + 150) / 2
    assert np.isnan(parts.loc["tool", "a_ms"]) and parts.loc["tool", "a_with"] == 0
    assert "no values in a: tool" in table.attrs["note"]
    total = table[table["level"] == "total"].iloc[0]
    assert total["a_ms"] == (1890 + 1000) / 2
    # contributions (share of turns x mean) still add up to the response
    added = (parts["a_with"] * parts["a_ms"]).fillna(0).sum()
    assert added == pytest.approx(total["a_ms"])


def test_interrupted_turns_never_count_as_fast(frames):
    """The interrupted turn (800 ms so far) is in no response statistic, and its missing TTS step
    pulls no TTS value down."""
    response = A.latency_values(frames).query("component == 'response_ms'")["value"]
    assert response.min() == 1000
    tts = A.compare(frames, frames, metrics="tts_ttfb", n_boot=0).set_index("statistic")
    assert tts.loc["p50", "a"] == 150


def test_the_plots_draw_the_rules_values(frames):
    import matplotlib.pyplot as plt

    ax = P.component_distributions(frames, log=False)
    labels = [t.get_text() for t in ax.get_yticklabels()]
    plt.close(ax.figure)
    wanted = [f"{c} (n={len(expected(c)):,})" for c in A.EVENT_COMPONENTS if len(expected(c))]
    assert labels == [*wanted, f"response_ms (n={len(expected('response_ms'))})"]
    ax = P.compare_ecdf(frames, frames, metric="tts_ttfb_ms")
    medians = [line.get_xdata()[0] for line in ax.lines if line.get_gid() == "median:a"]
    plt.close(ax.figure)
    assert medians == [np.median(expected("tts_ttfb"))]
