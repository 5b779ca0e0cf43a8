"""Tests of oneinbox_nb.plots: artists and data, not pixels (figures are closed by conftest)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.colors import to_rgba  # noqa: E402

from oneinbox_nb import analysis as A  # noqa: E402
from oneinbox_nb import (
    display,  # noqa: E402
    sample,  # noqa: E402
)
from oneinbox_nb import plots as P  # noqa: E402
from oneinbox_nb.frames import CallFrames, to_frames  # noqa: E402

# --------------------------------------------------------------------------------------------------
# Data
# --------------------------------------------------------------------------------------------------


def ev(turn: int, type_: str, ms: float) -> dict:
    return {"turn": turn, "type": type_, "ms": ms}


EVENTS = [
    ev(0, "llm_ttft", 200),
    ev(0, "tts_ttfb", 100),
    ev(1, "eou_delay", 340),
    ev(1, "stt", 300),
    ev(1, "llm_ttft", 420),
    ev(1, "kb", 260),
    ev(1, "llm_ttft", 700),
    ev(1, "tts_ttfb", 170),
    ev(2, "eou_delay", 500),
    ev(2, "stt", 250),
    ev(2, "llm_ttft", 400),
    ev(2, "tool:lookup_order", 900),
    ev(2, "llm_ttft", 450),
    ev(2, "tts_ttfb", 150),
    ev(3, "eou_delay", 75_000),  # absurd: flagged
    ev(3, "llm_ttft", 300),
    ev(3, "tts_ttfb", 100),
]


def make_call(call_id: str, events: list[dict], **fields) -> dict:
    n_user = max((e["turn"] for e in events), default=0)
    messages = [{"role": "agent", "content": "Hi"}]
    for k in range(1, n_user + 1):
        messages += [{"role": "user", "content": f"q{k}"}, {"role": "agent", "content": f"a{k}"}]
    call = {
        "id": call_id,
        "agent_id": "11111111-1111-4111-8111-111111111111",
        "type": "inbound",
        "direction": "inbound",
        "status": "completed",
        "created_at": "2026-11-19T10:00:00Z",
        "duration_seconds": 90.0,
        "cost_cents": 3,
        "credits_used": 1.5,
        "messages": messages,
        "metadata": {"concurrency_at_dispatch": 1},
        "latency": {
            "events": events,
            "providers": {"stt": "deepgram", "llm": "openai", "tts": "cartesia"},
            "connect": {
                "setup_ms": 1800.0,
                "dispatch_to_answer_ms": 1000.0,
                "answer_to_active_ms": 300.0,
                "active_to_greeting_ms": 500.0,
            },
        },
    }
    call.update(fields)
    return call


@pytest.fixture
def one() -> CallFrames:
    return to_frames([make_call("call-1", EVENTS)])


@pytest.fixture(scope="module")
def production() -> CallFrames:
    sample = pytest.importorskip("oneinbox_nb.sample")
    return to_frames(sample.generate("production", seed=0, n=200))


@pytest.fixture(scope="module")
def load_test() -> CallFrames:
    sample = pytest.importorskip("oneinbox_nb.sample")
    return to_frames(sample.generate("load_test", seed=0, n=500))


def rgba(color) -> tuple:
    return tuple(np.round(to_rgba(color), 3))


def test_component_colors_cover_every_component_and_are_distinct():
    assert set(P.COMPONENT_COLORS) == {*A.EVENT_COMPONENTS, "response_ms"}
    assert len(set(P.COMPONENT_COLORS.values())) == len(P.COMPONENT_COLORS)


# --------------------------------------------------------------------------------------------------
# turn_waterfall
# --------------------------------------------------------------------------------------------------


def test_turn_waterfall_bars_are_the_chain(one):
    ax = P.turn_waterfall(one, call_id="call-1", turn=1)
    chain = A.turn_chain(one, call_id="call-1", turn=1)
    response = chain[chain["in_response"]]
    bars = ax.containers[0]
    assert len(bars) == len(response) == 5
    np.testing.assert_allclose([p.get_width() for p in bars], response["duration_ms"])
    np.testing.assert_allclose([p.get_x() for p in bars], response["start_ms"])
    expected = [rgba(P.COMPONENT_COLORS[c]) for c in response["component"]]
    assert [rgba(p.get_facecolor()) for p in bars] == expected
    stt = ax.containers[1]
    assert len(stt) == 1 and stt[0].get_hatch() == "//" and stt[0].get_alpha() < 1
    assert stt[0].get_x() == 0 and stt[0].get_width() == 300
    ticks = [t.get_text() for t in ax.get_yticklabels()]
    assert ticks == ["eou_delay", "llm_ttft #1", "kb", "llm_ttft #2", "tts_ttfb", "stt"]
    total = [line for line in ax.lines if line.get_gid() == "total"]
    assert total and total[0].get_xdata()[0] == 1890
    assert "ms" in ax.get_xlabel()
    assert "1,890 ms" in ax.get_title(loc="left")


def test_turn_waterfall_marks_flagged_steps_and_passes_kwargs(one):
    ax = P.turn_waterfall(one, call_id="call-1", turn=3, alpha=0.5)
    bars = ax.containers[0]
    assert {p.get_alpha() for p in bars} == {0.5}
    assert rgba(bars[0].get_edgecolor())[:3] == rgba("#B00020")[:3]
    assert "flagged" in ax.get_title(loc="left")
    assert any("flagged" in t.get_text() for t in ax.texts)


def test_turn_waterfall_uses_the_given_axes(one):
    _, ax = plt.subplots()
    assert P.turn_waterfall(one, call_id="call-1", turn=2, ax=ax) is ax
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert "tool:lookup_order" in labels


def test_turn_waterfall_rejects_unknown_turn_or_call(one):
    with pytest.raises(ValueError, match="valid turns: 0, 1, 2, 3"):
        P.turn_waterfall(one, call_id="call-1", turn=7)
    with pytest.raises(ValueError, match="no latency events"):
        P.turn_waterfall(one, call_id="nope", turn=1)


# --------------------------------------------------------------------------------------------------
# turn_strip
# --------------------------------------------------------------------------------------------------


def test_turn_strip_stacks_components_per_turn(one):
    ax = P.turn_strip(one, call_id="call-1")
    labels = [c.get_label() for c in ax.containers]
    assert labels == ["eou_delay", "kb", "tool", "llm_ttft", "tts_ttfb"]
    turns = A.turn_latency(one, call_id="call-1").sort_values("turn")
    for container in ax.containers:
        assert len(container) == 4
        np.testing.assert_allclose(
            [p.get_height() for p in container], turns[f"{container.get_label()}_ms"]
        )
        assert {rgba(p.get_facecolor())[:3] for p in container} == {
            rgba(P.COMPONENT_COLORS[container.get_label()])[:3]
        }
    tops = np.sum([[p.get_height() for p in c] for c in ax.containers], axis=0)
    np.testing.assert_allclose(tops, turns["response_ms"])
    assert [t.get_text() for t in ax.get_xticklabels()] == ["greeting", "1", "2", "3"]
    assert "ms" in ax.get_ylabel()
    # the flagged turn is hatched and does not set the scale
    assert ax.containers[0][3].get_hatch() == "xx"
    assert ax.get_ylim()[1] < 75_000


def test_turn_strip_highlights_one_turn(one):
    _, ax = plt.subplots()
    assert P.turn_strip(one, call_id="call-1", highlight_turn=2, ax=ax) is ax
    llm = next(c for c in ax.containers if c.get_label() == "llm_ttft")
    alphas = [p.get_alpha() for p in llm]
    assert alphas[2] == 1.0 and all(a < 1.0 for i, a in enumerate(alphas) if i != 2)
    assert llm[2].get_linewidth() > llm[1].get_linewidth()
    assert "turn 2" in ax.get_title(loc="left")


def test_turn_strip_rejects_unknown_turn(one):
    with pytest.raises(ValueError, match="valid turns: 0, 1, 2, 3"):
        P.turn_strip(one, call_id="call-1", highlight_turn=9)
    with pytest.raises(ValueError, match="no turns"):
        P.turn_strip(one, call_id="nope")


# --------------------------------------------------------------------------------------------------
# Distributions and providers
# --------------------------------------------------------------------------------------------------


def test_component_distributions(production):
    _, ax = plt.subplots()
    assert P.component_distributions(production, ax=ax) is ax
    assert ax.get_xscale() == "log"
    assert "ms" in ax.get_xlabel()
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert labels[-1].startswith("response_ms (n=")
    assert len(labels) == 7
    boxes = [p for p in ax.patches]
    assert [rgba(b.get_facecolor())[:3] for b in boxes] == [
        rgba(P.COMPONENT_COLORS[label.split(" ")[0]])[:3] for label in labels
    ]
    linear = P.component_distributions(production, log=False)
    assert linear.get_xscale() == "linear"


def test_provider_comparison_bars_are_the_percentiles(production):
    ax = P.provider_comparison(production, percentile=90)
    table = A.provider_comparison(production, percentiles=(50, 90))
    bars = ax.containers[0]
    assert len(bars) == len(table)
    np.testing.assert_allclose([p.get_width() for p in bars], table["p90"])
    assert [rgba(p.get_facecolor()) for p in bars] == [
        rgba(P.COMPONENT_COLORS[c]) for c in table["component"]
    ]
    assert "p90" in ax.get_xlabel() and "ms" in ax.get_xlabel()
    p50 = next(line for line in ax.lines if line.get_gid() == "p50")
    np.testing.assert_allclose(p50.get_xdata(), table["p50"])


def test_provider_comparison_one_component(production):
    _, ax = plt.subplots()
    assert P.provider_comparison(production, component="llm_ttft", ax=ax) is ax
    table = A.provider_comparison(production, percentiles=(50, 95))
    assert len(ax.containers[0]) == (table["component"] == "llm_ttft").sum()
    with pytest.raises(ValueError, match="eou_delay, stt, llm_ttft, tts_ttfb, response_ms"):
        P.provider_comparison(production, component="kb")


# --------------------------------------------------------------------------------------------------
# Cost
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("metric", "unit"),
    [("cost_cents", "($)"), ("credits_used", "credits"), ("cents_per_minute", "($/min)")],
)
def test_cost_distribution(production, metric, unit):
    _, ax = plt.subplots()
    assert P.cost_distribution(production, metric=metric, ax=ax, bins=12) is ax
    assert unit in ax.get_xlabel()
    assert len(ax.patches) == 12
    values = A.call_costs(production)[metric].dropna()
    assert sum(p.get_height() for p in ax.patches) == len(values)
    median = next(line for line in ax.lines if line.get_gid() == "median")
    assert median.get_xdata()[0] == pytest.approx(values.median())


def test_cost_distribution_rejects_unknown_metric(production):
    with pytest.raises(ValueError, match="cost_cents, credits_used, cents_per_minute"):
        P.cost_distribution(production, metric="dollars")


@pytest.mark.parametrize("by", A.COST_GROUPS)
def test_cost_by_bars(production, by):
    ax = P.cost_by(production, by=by, metric="cost_cents")
    table = A.cost_by(production, by)
    bars = ax.containers[0]
    assert len(bars) == len(table)
    np.testing.assert_allclose([p.get_width() for p in bars], table["cost_cents"])
    assert ax.get_xlabel() == "total cost ($)"  # the bars are cents, the reader sees dollars
    if by == "agent_id":  # agents by display.agent: the full id until frames carry names
        labels = [t.get_text() for t in ax.get_yticklabels()]
        assert labels == [display.agent(a) for a in table["agent_id"]]
    first = table.iloc[0]
    assert any(
        t.get_text() == f" {display.money(first['cost_cents'])} ({first['n_calls']:,} calls)"
        for t in ax.texts
    )


def test_cost_by_options(production):
    _, ax = plt.subplots()
    assert P.cost_by(production, by="type", metric="cents_per_minute", ax=ax, color="red") is ax
    assert rgba(ax.containers[0][0].get_facecolor()) == rgba("red")
    assert ax.get_xlabel() == "cost per minute ($/min)"
    with pytest.raises(ValueError, match="cost_cents, credits_used, cents_per_minute"):
        P.cost_by(production, metric="minutes")
    with pytest.raises(ValueError, match="agent_id, day, outcome"):
        P.cost_by(production, by="weekday")


# --------------------------------------------------------------------------------------------------
# Load tests and connect
# --------------------------------------------------------------------------------------------------


def test_concurrency_scatter_marks_the_knee(load_test):
    _, ax = plt.subplots()
    assert P.concurrency_scatter(load_test, ax=ax) is ax
    knee = A.find_knee(load_test, percentile=95)
    line = next(line for line in ax.lines if line.get_gid() == "knee")
    assert line.get_xdata()[0] == pytest.approx(knee.concurrency)
    span = next(p for p in ax.patches if p.get_gid() == "knee_ci")
    xs = np.asarray(span.get_xy(), dtype=float).reshape(-1, 2)[:, 0]  # Polygon or Rectangle
    if hasattr(span, "get_width"):
        xs = np.array([span.get_x(), span.get_x() + span.get_width()])
    assert min(xs) == pytest.approx(knee.ci_low) and max(xs) == pytest.approx(knee.ci_high)
    threshold = next(line for line in ax.lines if line.get_gid() == "threshold")
    assert threshold.get_ydata()[0] == pytest.approx(knee.threshold_ms)
    assert any(f"knee ≈ {knee.concurrency:,.0f}" in t.get_text() for t in ax.texts)
    points = ax.collections[0]
    assert len(points.get_offsets()) == len(A.concurrency_frame(load_test))
    bins = A.concurrency_bins(load_test, bins=10, percentiles=(50, 95))
    p95 = next(line for line in ax.lines if line.get_label() == "p95")
    np.testing.assert_allclose(p95.get_ydata(), bins["p95"])
    assert "concurrency" in ax.get_xlabel() and "ms" in ax.get_ylabel()
    assert ax.get_yscale() == "log"


def test_concurrency_scatter_with_a_given_knee_or_none(load_test):
    knee = A.find_knee(load_test, metric="llm_ttft_ms", n_boot=20)
    ax = P.concurrency_scatter(load_test, metric="llm_ttft_ms", knee=knee, log=False, s=3)
    line = next(line for line in ax.lines if line.get_gid() == "knee")
    assert line.get_xdata()[0] == pytest.approx(knee.concurrency)
    assert ax.collections[0].get_sizes()[0] == 3
    assert (
        rgba(ax.collections[0].get_facecolor()[0])[:3] == rgba(P.COMPONENT_COLORS["llm_ttft"])[:3]
    )
    plain = P.concurrency_scatter(load_test, knee=False, percentiles=(90,))
    assert not [line for line in plain.lines if line.get_gid() in ("knee", "threshold")]
    assert [line.get_label() for line in plain.lines] == ["p90"]


def test_concurrency_scatter_rejects_invalid_options(load_test):
    with pytest.raises(ValueError, match="valid values"):
        P.concurrency_scatter(load_test, metric="nope")
    with pytest.raises(ValueError, match="valid runs"):
        P.concurrency_scatter(load_test, run="nope")
    with pytest.raises(ValueError, match="between 0 and 100"):
        P.concurrency_scatter(load_test, percentiles=(50, 200))
    with pytest.raises(ValueError, match="knee must be"):
        P.concurrency_scatter(load_test, knee="yes")


def test_connect_breakdown(production):
    _, ax = plt.subplots()
    assert P.connect_breakdown(production, ax=ax) is ax
    table = A.connect_summary(production, by="type")
    assert len(ax.containers) == 3
    for container, phase in zip(ax.containers, A.CONNECT_PHASES, strict=True):
        assert len(container) == len(table)
        np.testing.assert_allclose([p.get_width() for p in container], table[phase].fillna(0))
        assert rgba(container[0].get_facecolor()) == rgba(P.CONNECT_COLORS[phase])
    second = ax.containers[1]
    np.testing.assert_allclose(
        [p.get_x() for p in second], table["dispatch_to_answer_ms"].fillna(0)
    )
    assert "ms" in ax.get_xlabel()
    timed = production.calls[production.calls["connect_setup_ms"].notna()]["call_id"][:5]
    per_call = P.connect_breakdown(production.select(timed), by="call")
    assert len(per_call.containers[0]) == 5
    with pytest.raises(ValueError, match="call, type, direction, agent_id, status"):
        P.connect_breakdown(production, by="day")


# --------------------------------------------------------------------------------------------------
# Empty frames draw an empty, labelled axes
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "draw",
    [
        P.component_distributions,
        P.provider_comparison,
        P.cost_distribution,
        P.cost_by,
        P.concurrency_scatter,
        P.connect_breakdown,
    ],
)
def test_empty_frames_do_not_crash(draw):
    ax = draw(CallFrames.empty())
    assert ax.texts and not ax.containers


# --------------------------------------------------------------------------------------------------
# Issue 9: data labels are plain text, extremes are shown, value labels overlap nothing
# --------------------------------------------------------------------------------------------------


def _draw(ax):
    ax.figure.canvas.draw()  # raises if any label parsed as broken mathtext
    return ax.figure.canvas.get_renderer()


def test_hostile_tool_names_and_outcomes_are_plain_text():
    events = [ev(1, "eou_delay", 300), ev(1, "tool:$\\frac{$", 500), ev(1, "llm_ttft", 400)]
    frames = to_frames([make_call("call-$x$", events, outcome="$\\undefinedmacro$")])
    ax = P.turn_waterfall(frames, call_id="call-$x$", turn=1)
    _draw(ax)
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert "tool:\\$\\frac{\\$" in labels  # escaped: matplotlib shows it as typed
    assert not any(t._preprocess_math(t.get_text())[1] for t in ax.get_yticklabels())
    ax = P.cost_by(frames, by="outcome")
    _draw(ax)
    assert [t.get_text() for t in ax.get_yticklabels()] == ["\\$\\undefinedmacro\\$"]
    plt.close("all")


def test_component_distributions_whiskers_reach_the_extremes(production):
    ax = P.component_distributions(production, log=False)
    values = A.latency_values(production)
    response = values.loc[values["component"] == "response_ms", "value"]
    whisker_ends = [x for line in ax.lines for x in line.get_xdata()]
    assert max(whisker_ends) == pytest.approx(response.max())
    assert "whiskers min–max" in ax.get_title(loc="left")
    plt.close("all")


def test_waterfall_value_labels_overlap_no_bar_title_or_response_line(one):
    ax = P.turn_waterfall(one, call_id="call-1", turn=2)
    renderer = _draw(ax)
    labels = [t for t in ax.texts if t.get_gid() == "value"]
    assert [t.get_text() for t in labels] == [
        "500 ms",
        "400 ms",
        "900 ms",
        "450 ms",
        "150 ms",
        "250 ms",
    ]
    boxes = [p.get_window_extent(renderer) for p in ax.patches]
    line = next(ln for ln in ax.lines if ln.get_gid() == "total")
    line_x = ax.transData.transform((line.get_xdata()[0], 0))[0]
    title = ax.title._get_xy_display()  # noqa: SLF001
    title_box = ax._left_title.get_window_extent(renderer)  # noqa: SLF001
    for text in labels:
        box = text.get_window_extent(renderer)
        assert not any(box.overlaps(bar) for bar in boxes), text.get_text()
        assert box.x0 > line_x, text.get_text()
        assert not box.overlaps(title_box)
        assert box.x1 <= ax.get_window_extent(renderer).x1 + 1
    assert title is not None
    assert ax.get_legend() is not None
    assert any("response 2,400 ms" in t.get_text() for t in ax.get_legend().get_texts())
    plt.close("all")


def test_turn_plots_take_call_id_and_turn_positionally(rich_call_for_positional):
    frames, call_id = rich_call_for_positional
    ax = P.turn_waterfall(frames, call_id, 1)
    by_keyword = P.turn_waterfall(frames, call_id=call_id, turn=1)
    assert [p.get_width() for p in ax.patches] == [p.get_width() for p in by_keyword.patches]
    assert len(P.turn_strip(frames, call_id).patches) > 0
    plt.close("all")


@pytest.fixture
def rich_call_for_positional():
    frames = to_frames(sample.generate("call", seed=0))
    return frames, frames.calls["call_id"].iloc[0]
