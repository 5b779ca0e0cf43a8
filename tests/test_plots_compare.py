"""The comparison plots draw the data they are given: artists and numbers, not pixels."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from oneinbox_nb import plots as P  # noqa: E402
from oneinbox_nb import sample, to_frames  # noqa: E402
from oneinbox_nb.analysis import (  # noqa: E402
    compare,
    compare_knees,
    compare_values,
    explain_change,
)
from oneinbox_nb.frames import CallFrames  # noqa: E402


@pytest.fixture(scope="module")
def pair():
    made = sample.regression_pair(seed=3, regression="tts_switch", n=300)
    frames = to_frames(made.calls)
    ids = frames.calls.set_index("call_id")["meta_run_id"]
    a = frames.select(ids.index[ids == made.a["run_id"]].tolist())
    b = frames.select(ids.index[ids == made.b["run_id"]].tolist())
    return a, b


def by_gid(ax, gid):
    found = [a for a in ax.get_children() if a.get_gid() == gid]
    found += [line for line in ax.lines if line.get_gid() == gid and line not in found]
    return found


def test_forest_draws_each_difference_relative_to_a_with_its_interval(pair):
    a, b = pair
    table = compare(a, b, metrics=["tts_ttfb_ms", "failure_rate"], n_boot=100, seed=0)
    ax = P.compare_forest(table)
    assert [t.get_text() for t in ax.get_yticklabels()] == [
        "tts_ttfb_ms p50",
        "tts_ttfb_ms p95",
        "failure_rate rate",
    ]
    (point,) = by_gid(ax, "diff:tts_ttfb_ms:p50")
    r = table.iloc[0]
    assert point.get_xdata()[0] == pytest.approx(100 * r["diff"] / r["a"])
    assert point.get_color() == "#C44E52"  # an increase
    texts = [t.get_text() for t in ax.texts]
    assert any(t.startswith("+") and "ms  increase" in t for t in texts)
    absolute = P.compare_forest(table, scale="absolute")
    (point,) = by_gid(absolute, "diff:tts_ttfb_ms:p50")
    assert point.get_xdata()[0] == pytest.approx(r["diff"])


def test_forest_shows_a_row_without_interval_hollow_and_rejects_other_tables(pair):
    a, b = pair
    few = a.select(a.calls["call_id"].iloc[:5])
    table = compare(few, b, metrics="tts_ttfb_ms", n_boot=50, seed=0)
    ax = P.compare_forest(table)
    (point,) = by_gid(ax, "diff:tts_ttfb_ms:p50")
    assert point.get_markerfacecolor() == "white"
    assert any("no interval" in t.get_text() for t in ax.texts)
    with pytest.raises(ValueError, match="missing columns"):
        P.compare_forest(table.drop(columns=["ci_low"]))
    with pytest.raises(ValueError, match="valid values: relative, absolute"):
        P.compare_forest(table, scale="log")


def test_ecdf_overlays_both_groups_values(pair):
    a, b = pair
    ax = P.compare_ecdf(a, b, metric="tts_ttfb_ms", labels=("before $x$", "after"))
    values = compare_values(a, b, metric="tts_ttfb_ms")
    for side in ("a", "b"):
        (line,) = by_gid(ax, f"ecdf:{side}")
        expected = np.sort(values.loc[values["group"] == side, "value"].to_numpy())
        assert np.nanmax(line.get_xdata()) == pytest.approx(expected[-1])
        (median,) = by_gid(ax, f"median:{side}")
        assert median.get_xdata()[0] == pytest.approx(np.median(expected))
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend[0].startswith(r"before \$x\$ (")  # data never becomes mathtext
    assert ax.get_xscale() == "log"


def test_turn_chain_lays_out_both_groups_components_on_one_axis(pair):
    a, b = pair
    ax = P.compare_turn_chain(a, b)
    table = explain_change(a, b, n_boot=0)
    parts = table[table["level"] == "component"].set_index("component")
    for side, column in (("a", "a_ms"), ("b", "b_ms")):
        (bar,) = by_gid(ax, f"{side}:tts_ttfb")
        assert bar.get_width() == pytest.approx(parts.loc["tts_ttfb", column])
        (eou,) = by_gid(ax, f"{side}:eou_delay")
        assert eou.get_x() == 0
        (tick,) = by_gid(ax, f"statistic:{side}")
        total = table[table["level"] == "total"].iloc[0][column]
        assert tick.get_xdata()[0] == pytest.approx(total)
    assert by_gid(ax, "b:tts_ttfb")[0].get_width() - by_gid(ax, "a:tts_ttfb")[0].get_width() > 100


def test_concurrency_draws_both_runs_and_both_knees():
    a = to_frames(sample.generate("load_test", seed=21, n=500, knee=60))
    b = to_frames(sample.generate("load_test", seed=22, n=500, knee=45))
    knees = compare_knees(a, b, n_boot=50)
    fig, ax = plt.subplots()
    out = P.compare_concurrency(
        a, b, knees=knees.attrs["knees"], labels=("last week", "now"), ax=ax
    )
    assert out is ax
    labels = [line.get_label() for line in ax.lines if not line.get_label().startswith("_")]
    assert labels == ["last week p50", "last week p95", "now p50", "now p95"]
    for side, row in zip(("a", "b"), knees.itertuples(), strict=True):
        (line,) = by_gid(ax, f"knee:{side}")
        assert line.get_xdata()[0] == pytest.approx(row.knee_concurrency)
    assert not by_gid(P.compare_concurrency(a, b, knees=False), "knee:a")
    with pytest.raises(ValueError, match="pair of Knee"):
        P.compare_concurrency(a, b, knees=[1, 2])


@pytest.mark.parametrize("draw", [P.compare_ecdf, P.compare_turn_chain])
def test_empty_groups_do_not_crash(draw):
    ax = draw(CallFrames.empty(), CallFrames.empty())
    assert ax is not None
