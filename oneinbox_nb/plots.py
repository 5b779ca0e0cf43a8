"""Matplotlib views of :class:`~oneinbox_nb.frames.CallFrames`, drawn from :mod:`oneinbox_nb.analysis`.

Every function takes the frames first and keyword-only options, draws on ``ax`` (a new figure when
None), passes ``**kwargs`` to its main artist and returns the Axes; none calls ``plt.show()``.
Colours are fixed per component (:data:`COMPONENT_COLORS`) so a waterfall, a strip and a
distribution of the same data read alike. Invalid options raise :class:`ValueError` naming the
valid ones.

=============================  ==================================================================
plot                           shows
=============================  ==================================================================
:func:`turn_waterfall`         one turn's chain of latency steps (stt hatched: overlaps speech)
:func:`turn_strip`             every turn of a call as a stacked response bar
:func:`component_distributions`  per-component latency distributions (log scale)
:func:`provider_comparison`    a latency percentile per component and provider
:func:`cost_distribution`      per-call cost, credits or cents per minute
:func:`cost_by`                cost, credits or cents per minute by agent, day, outcome...
:func:`concurrency_scatter`    a load test: values vs concurrency, percentile bands, the knee
:func:`connect_breakdown`      the connect phases dispatch -> answer -> active -> greeting
=============================  ==================================================================
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from . import analysis, display
from .analysis import COMPONENTS, Knee
from .frames import CallFrames

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = [
    "COMPONENT_COLORS",
    "CONNECT_COLORS",
    "component_distributions",
    "concurrency_scatter",
    "connect_breakdown",
    "cost_by",
    "cost_distribution",
    "provider_comparison",
    "turn_strip",
    "turn_waterfall",
]

#: One fixed colour per latency component (and for the whole response), used by every plot.
COMPONENT_COLORS: Mapping[str, str] = {
    "eou_delay": "#8172B3",
    "stt": "#937860",
    "kb": "#DA8BC3",
    "tool": "#CCB974",
    "llm_ttft": "#4C72B0",
    "tts_ttfb": "#55A868",
    "response_ms": "#C44E52",
}

#: Colours of the connect phases (``connect_*_ms``).
CONNECT_COLORS: Mapping[str, str] = {
    "dispatch_to_answer_ms": "#64B5CD",
    "answer_to_active_ms": "#8C8C8C",
    "active_to_greeting_ms": "#DD8452",
}

_FLAG_COLOR = "#B00020"
_OTHER_COLOR = "#4D4D4D"
_COST_METRICS = ("cost_cents", "credits_used", "cents_per_minute")
_COST_UNITS = {
    "cost_cents": "cost ($)",
    "credits_used": "credits (1 credit = 1 minute)",
    "cents_per_minute": "cost per minute ($/min)",
}
# How a reader sees each cost metric (the data stay in cents): one formatter per kind.
_COST_FORMAT = {
    "cost_cents": display.money,
    "credits_used": display.credits,
    "cents_per_minute": lambda v: display.money(v, decimals=4, per="min"),
}


def _cost_axis(axis: Any, metric: str) -> None:
    """Tick labels of a cost axis in dollars, though the values are cents."""
    if metric == "credits_used":
        return
    from matplotlib.ticker import FuncFormatter, MaxNLocator

    decimals = 2 if metric == "cost_cents" else 4
    axis.set_major_locator(MaxNLocator(nbins=4))  # dollar labels are wide: few, so none overlap
    axis.set_major_formatter(FuncFormatter(lambda v, _: display.money(v, decimals=decimals)))


_CONNECT_LABELS = {
    "dispatch_to_answer_ms": "dispatch → answer",
    "answer_to_active_ms": "answer → active",
    "active_to_greeting_ms": "active → greeting",
}


def _axes(ax: Axes | None, size: tuple[float, float] = (8.0, 4.5)) -> Axes:
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt

    _, ax = plt.subplots(figsize=size, layout="constrained")
    return ax


def _short(value: Any, width: int = 8) -> str:
    """A readable, plain-text label: missing -> "unknown", dates as days, long ids (UUIDs) cut to
    ``width``; ``$`` escaped so data never parses as mathtext (:func:`oneinbox_nb.display.label`)."""
    if display.is_unknown(value) and not isinstance(value, str):
        return display.UNKNOWN
    if isinstance(value, pd.Timestamp):
        return value.strftime("%a %d %b")
    text = str(value)
    if len(text) == 36 and text.count("-") == 4:
        text = text[:width] + "…"
    return display.label(text)


def _group_label(by: str, value: Any, name: Any = None) -> str:
    """A group's tick label: agents through :func:`oneinbox_nb.display.agent` (their ``name`` when
    known, escaped for matplotlib), everything else through :func:`_short`."""
    if by == "agent_id" and not display.is_unknown(value):
        return display.label(display.agent(value, name))
    return _short(value)


def _color(metric: str) -> str:
    name = metric[: -len("_ms")] if metric.endswith("_ms") and metric != "response_ms" else metric
    return COMPONENT_COLORS.get(name, _OTHER_COLOR)


def _check(name: str, value: Any, valid: Sequence[str]) -> None:
    if not isinstance(value, str) or value not in valid:
        raise ValueError(f"invalid {name} {value!r}; valid values: {', '.join(valid)}")


def _no_data(ax: Axes, message: str) -> Axes:
    ax.text(0.5, 0.5, message, ha="center", va="center", transform=ax.transAxes, color="0.4")
    return ax


# --------------------------------------------------------------------------------------------------
# Turns
# --------------------------------------------------------------------------------------------------


def turn_waterfall(
    frames: CallFrames, call_id: str, turn: int, *, ax: Axes | None = None, **kwargs: Any
) -> Axes:
    """One turn's latency as a waterfall of horizontal bars.

    Each response step (:func:`~oneinbox_nb.analysis.turn_chain`) starts where the previous one
    ended; the dashed line marks the total response time. ``stt`` rows are hatched and faded: speech
    recognition overlaps the caller's speech and is not part of the response. Flagged steps get a
    red edge.

    Parameters
    ----------
    frames : CallFrames
    call_id : str
    turn : int
        0 is the greeting.
    ax : matplotlib.axes.Axes, optional
    **kwargs
        Passed to :meth:`~matplotlib.axes.Axes.barh` for the response steps.

    Returns
    -------
    matplotlib.axes.Axes

    Raises
    ------
    ValueError
        The call has no events for that turn (the message lists the turns it has).
    """
    chain = analysis.turn_chain(frames, call_id=call_id, turn=turn)
    if chain.empty:
        available = analysis.turn_chain(frames, call_id=call_id)["turn"].dropna().unique()
        if len(available) == 0:
            raise ValueError(f"call {call_id!r} has no latency events to draw")
        listed = ", ".join(str(int(t)) for t in sorted(available))
        raise ValueError(f"call {call_id!r} has no turn {turn!r}; valid turns: {listed}")
    ax = _axes(ax)
    response = chain[chain["in_response"]].reset_index(drop=True)
    stt = chain[~chain["in_response"]].reset_index(drop=True)
    y_response = np.arange(len(response))
    y_stt = len(response) + np.arange(len(stt))
    flagged = response["flagged"].to_numpy(dtype=bool)
    options = {
        "color": [COMPONENT_COLORS.get(c, _OTHER_COLOR) for c in response["component"]],
        "edgecolor": [_FLAG_COLOR if f else "white" for f in flagged],
        "linewidth": [2.0 if f else 0.5 for f in flagged],
        "height": 0.7,
    }
    options.update(kwargs)
    ax.barh(y_response, response["duration_ms"], left=response["start_ms"], **options)
    if len(stt):
        ax.barh(
            y_stt,
            stt["duration_ms"],
            left=stt["start_ms"],
            height=0.7,
            color=COMPONENT_COLORS["stt"],
            alpha=0.35,
            hatch="//",
            edgecolor=COMPONENT_COLORS["stt"],
            label="stt (overlaps the caller's speech)",
        )
    total = float(response["end_ms"].iloc[-1]) if len(response) else 0.0
    right = max(total, float(chain["end_ms"].max()), 1.0)
    # the value labels sit in a column right of every bar and of the response line, so they
    # never overlap either; the axis keeps a quarter of its width free for them
    ax.set_xlim(0, right / 0.75)
    column = right + 0.01 * right / 0.75
    for y, row in zip(y_response, response.itertuples(index=False), strict=True):
        note = display.ms(row.duration_ms) + (" (flagged)" if row.flagged else "")
        ax.text(column, y, note, va="center", fontsize=8, color="0.2", gid="value")
    for y, row in zip(y_stt, stt.itertuples(index=False), strict=True):
        ax.text(
            column,
            y,
            display.ms(row.duration_ms),
            va="center",
            fontsize=8,
            color="0.4",
            gid="value",
        )
    ax.axvline(
        total,
        color=COMPONENT_COLORS["response_ms"],
        linestyle="--",
        linewidth=1.2,
        gid="total",
        label=f"response {display.ms(total)}",
    )
    ax.set_yticks(
        np.r_[y_response, y_stt], [display.label(t) for t in [*response["label"], *stt["label"]]]
    )
    ax.set_ylim(len(response) + len(stt) - 0.5, -0.5)
    ax.set_xlabel("time since the caller stopped speaking (ms)")
    what = "greeting" if turn == 0 else f"turn {turn}"
    note = " (includes a flagged value)" if chain["flagged"].any() else ""
    ax.set_title(
        f"{what} of call {_short(call_id)}: response {display.ms(total)}{note}", loc="left"
    )
    # outside the axes: inside, it would cover a bar or a value label
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8, frameon=False)
    return ax


def turn_strip(
    frames: CallFrames,
    call_id: str,
    *,
    highlight_turn: int | None = None,
    ax: Axes | None = None,
    **kwargs: Any,
) -> Axes:
    """Every turn of one call as a stacked bar of its response components.

    Parameters
    ----------
    frames : CallFrames
    call_id : str
    highlight_turn : int, optional
        Draw this turn fully opaque with a dark edge and fade the others.
    ax : matplotlib.axes.Axes, optional
    **kwargs
        Passed to every :meth:`~matplotlib.axes.Axes.bar` call (one per component).

    Returns
    -------
    matplotlib.axes.Axes
        One bar container per response component present in the call, in the order eou_delay,
        kb, tool, llm_ttft, tts_ttfb (bottom to top). Flagged turns are hatched and their bars
        cut at the top of the axis with their total written above.

    Raises
    ------
    ValueError
        The call has no turns, or ``highlight_turn`` is not one of them.
    """
    turns = analysis.turn_latency(frames, call_id=call_id)
    if turns.empty:
        raise ValueError(f"call {call_id!r} has no turns with latency events")
    turns = turns.sort_values("turn").reset_index(drop=True)
    numbers = turns["turn"].astype(int).to_numpy()
    if highlight_turn is not None and highlight_turn not in set(numbers.tolist()):
        listed = ", ".join(map(str, numbers))
        raise ValueError(f"invalid highlight_turn {highlight_turn!r}; valid turns: {listed}")
    ax = _axes(ax)
    flagged = turns["flagged"].to_numpy(dtype=bool)
    highlighted = numbers == highlight_turn
    alpha = np.where(highlighted | (highlight_turn is None), 1.0, 0.35)
    bottom = np.zeros(len(turns))
    order = ("eou_delay", "kb", "tool", "llm_ttft", "tts_ttfb")
    for component in order:
        heights = np.nan_to_num(turns[f"{component}_ms"].to_numpy(dtype=float))
        if not heights.any():
            continue
        options = {
            "color": COMPONENT_COLORS[component],
            "edgecolor": "white",
            "linewidth": 0.5,
            "label": component,
            "width": 0.8,
        }
        options.update(kwargs)
        bars = ax.bar(numbers, heights, bottom=bottom, **options)
        for patch, a, hi, bad in zip(bars.patches, alpha, highlighted, flagged, strict=True):
            patch.set_alpha(float(a))
            if hi:
                patch.set_edgecolor("black")
                patch.set_linewidth(1.8)
            if bad:
                patch.set_hatch("xx")
        bottom = bottom + heights
    total = turns["response_ms"].to_numpy(dtype=float)
    clean = total[~flagged]
    if flagged.any() and len(clean) and np.isfinite(clean).any():
        top = float(np.nanmax(clean)) * 1.25
        ax.set_ylim(0, top)
        for x, value in zip(numbers[flagged], total[flagged], strict=True):
            # above the axes: the flagged bar runs off the top, a label inside would cover it
            ax.text(
                x,
                1.01,
                f"{display.ms(value)}\n(flagged)",
                transform=ax.get_xaxis_transform(),
                ha="center",
                va="bottom",
                fontsize=7,
                color=_FLAG_COLOR,
                bbox={"facecolor": "white", "edgecolor": _FLAG_COLOR, "boxstyle": "round,pad=0.2"},
            )
    ax.set_xticks(numbers, ["greeting" if n == 0 else str(n) for n in numbers])
    ax.set_xlabel("turn")
    ax.set_ylabel("response time (ms)")
    title = f"response time per turn, call {_short(call_id)}"
    if highlight_turn is not None:
        value = total[highlighted][0]
        title += f" (turn {highlight_turn}: {display.ms(value)})"
    ax.set_title(title, loc="left", pad=30 if flagged.any() else 6)
    from matplotlib.patches import Patch

    handles = [
        Patch(color=COMPONENT_COLORS[c.get_label()], label=c.get_label()) for c in ax.containers
    ]
    ax.legend(
        handles=handles, fontsize=8, frameon=False, loc="upper left", bbox_to_anchor=(1.0, 1.0)
    )
    return ax


# --------------------------------------------------------------------------------------------------
# Distributions and providers
# --------------------------------------------------------------------------------------------------


def _boxplot(ax: Axes, data: list[np.ndarray], labels: list[str], **kwargs: Any) -> dict[str, Any]:
    import matplotlib

    major, minor = (int(x) for x in matplotlib.__version__.split(".")[:2])
    orientation: dict[str, Any]
    if (major, minor) >= (3, 10):
        orientation = {"orientation": "horizontal", "tick_labels": labels}
    elif (major, minor) >= (3, 9):
        orientation = {"vert": False, "tick_labels": labels}
    else:
        orientation = {"vert": False, "labels": labels}
    options = {
        "whis": (0, 100),  # min to max: the extremes a report talks about stay in view
        "showfliers": False,
        "patch_artist": True,
        "widths": 0.6,
        "medianprops": {"color": "black"},
    }
    options.update(kwargs)
    return ax.boxplot(data, **orientation, **options)


def component_distributions(
    frames: CallFrames,
    *,
    ax: Axes | None = None,
    log: bool = True,
    include_flagged: bool = False,
    **kwargs: Any,
) -> Axes:
    """Box plots of each component's latency and of the per-turn response time.

    Boxes span p25-p75 with the median marked; whiskers reach the minimum and the maximum, so
    the worst value a report mentions is always in view. One box per component
    present (per event) and one for ``response_ms`` (per answered turn), coloured by
    :data:`COMPONENT_COLORS`, with the count in the tick label.

    Parameters
    ----------
    frames : CallFrames
    ax : matplotlib.axes.Axes, optional
    log : bool, default True
        Log-scale latency axis (the distributions are heavy-tailed).
    include_flagged : bool, default False
    **kwargs
        Passed to :meth:`~matplotlib.axes.Axes.boxplot`.

    Returns
    -------
    matplotlib.axes.Axes
    """
    values = analysis.latency_values(frames, include_flagged=include_flagged)
    ax = _axes(ax)
    if log:
        values = values[values["value"] > 0]
    data, labels, colors = [], [], []
    for component in (*COMPONENTS, "response_ms"):
        v = values.loc[values["component"] == component, "value"].to_numpy(dtype=float)
        if len(v):
            data.append(v)
            labels.append(f"{component} (n={len(v):,})")
            colors.append(COMPONENT_COLORS[component])
    if not data:
        return _no_data(ax, "no latency values")
    boxes = _boxplot(ax, data, labels, **kwargs)
    for patch, color in zip(boxes["boxes"], colors, strict=True):
        patch.set_facecolor(color)
        patch.set_alpha(0.85)
    if log:
        ax.set_xscale("log")
    ax.set_ylim(len(data) + 0.5, 0.5)
    ax.set_xlabel("latency (ms" + (", log scale)" if log else ")"))
    ax.set_title("latency by component (box p25–p75, whiskers min–max)", loc="left")
    ax.grid(axis="x", alpha=0.3)
    return ax


def provider_comparison(
    frames: CallFrames,
    *,
    component: str | None = None,
    percentile: float = 95,
    ax: Axes | None = None,
    **kwargs: Any,
) -> Axes:
    """A latency percentile per component and provider, as horizontal bars (p50 ticked).

    Parameters
    ----------
    frames : CallFrames
    component : {"eou_delay", "stt", "llm_ttft", "tts_ttfb", "response_ms"}, optional
        One component only; default: all of them (``response_ms`` by provider setup).
    percentile : float, default 95
    ax : matplotlib.axes.Axes, optional
    **kwargs
        Passed to :meth:`~matplotlib.axes.Axes.barh`.

    Returns
    -------
    matplotlib.axes.Axes
        One bar per (component, provider) row of
        :func:`~oneinbox_nb.analysis.provider_comparison`; bar width = the percentile.
    """
    if component is not None:
        _check("component", component, ("eou_delay", "stt", "llm_ttft", "tts_ttfb", "response_ms"))
    pcts = (50.0,) if float(percentile) == 50 else (50.0, float(percentile))
    table = analysis.provider_comparison(frames, percentiles=pcts)
    column = analysis.percentile_label(percentile)
    if component is not None:
        table = table[table["component"] == component]
    if table.empty:
        return _no_data(_axes(ax), "no latency values with a provider")
    table = table.reset_index(drop=True)
    ax = _axes(ax, (8.0, 1.2 + 0.32 * len(table)))
    y = np.arange(len(table))
    options: dict[str, Any] = {
        "color": [COMPONENT_COLORS[c] for c in table["component"]],
        "height": 0.7,
    }
    options.update(kwargs)
    ax.barh(y, table[column], **options)
    ax.plot(table["p50"], y, linestyle="none", marker="|", markersize=14, color="black", gid="p50")
    for yy, row in zip(y, table.itertuples(index=False), strict=True):
        ax.text(
            getattr(row, column),
            yy,
            f" {display.ms(getattr(row, column))} (n={display.count(row.count)})",
            va="center",
            fontsize=8,
        )
    labels = [
        f"{c} · {_short(p)}" if component is None else _short(p)
        for c, p in zip(table["component"], table["provider"], strict=True)
    ]
    ax.set_yticks(y, labels)
    ax.set_ylim(len(table) - 0.5, -0.5)
    ax.set_xlim(0, float(np.nanmax(table[column])) * 1.3)
    ax.set_xlabel(f"{column} latency (ms)")
    subject = component or "each component"
    ax.set_title(f"{column} of {subject} by provider (black tick: p50)", loc="left")
    return ax


# --------------------------------------------------------------------------------------------------
# Cost
# --------------------------------------------------------------------------------------------------


def cost_distribution(
    frames: CallFrames,
    *,
    metric: str = "cost_cents",
    bins: int = 30,
    ax: Axes | None = None,
    **kwargs: Any,
) -> Axes:
    """Histogram of a per-call cost metric, with its median and mean marked.

    Parameters
    ----------
    frames : CallFrames
    metric : {"cost_cents", "credits_used", "cents_per_minute"}, default "cost_cents"
    bins : int, default 30
    ax : matplotlib.axes.Axes, optional
    **kwargs
        Passed to :meth:`~matplotlib.axes.Axes.hist`.

    Returns
    -------
    matplotlib.axes.Axes
    """
    _check("metric", metric, _COST_METRICS)
    costs = analysis.call_costs(frames)
    values = costs[metric].to_numpy(dtype=float)
    values = values[np.isfinite(values)]
    ax = _axes(ax)
    if not len(values):
        return _no_data(ax, f"no calls with a known {metric}")
    options = {"bins": bins, "color": "#4C72B0", "alpha": 0.85, "edgecolor": "white"}
    options.update(kwargs)
    ax.hist(values, **options)
    median, mean = float(np.median(values)), float(np.mean(values))
    shown = _COST_FORMAT[metric]
    ax.axvline(median, color="black", linewidth=1.2, label=f"median {shown(median)}", gid="median")
    ax.axvline(
        mean, color="black", linestyle="--", linewidth=1.2, label=f"mean {shown(mean)}", gid="mean"
    )
    _cost_axis(ax.xaxis, metric)
    ax.set_xlabel(
        f"{_COST_UNITS[metric]} per call" if metric != "cents_per_minute" else _COST_UNITS[metric]
    )
    ax.set_ylabel("calls")
    ax.set_title(f"{metric} across {display.count(len(values))} calls", loc="left")
    ax.legend(fontsize=8, frameon=False)
    return ax


def cost_by(
    frames: CallFrames,
    *,
    by: str = "agent_id",
    metric: str = "cost_cents",
    ax: Axes | None = None,
    **kwargs: Any,
) -> Axes:
    """Total cost or credits, or cents per minute, per group as horizontal bars.

    Parameters
    ----------
    frames : CallFrames
    by : str, default "agent_id"
        As for :func:`~oneinbox_nb.analysis.cost_by`: any calls column, ``"day"`` or ``"provider"``.
    metric : {"cost_cents", "credits_used", "cents_per_minute"}, default "cost_cents"
    ax : matplotlib.axes.Axes, optional
    **kwargs
        Passed to :meth:`~matplotlib.axes.Axes.barh`.

    Returns
    -------
    matplotlib.axes.Axes
        One bar per row of :func:`~oneinbox_nb.analysis.cost_by`, labelled with its call count.
    """
    _check("metric", metric, _COST_METRICS)
    table = analysis.cost_by(frames, by)
    ax = _axes(ax)
    if table.empty:
        return _no_data(ax, "no calls")
    y = np.arange(len(table))
    values = table[metric].to_numpy(dtype=float)
    if metric != "credits_used":  # a group with no billed call has an unknown cost, not $0.00
        values = np.where(table["n_with_cost"].to_numpy() > 0, values, np.nan)
    options: dict[str, Any] = {"color": "#4C72B0", "height": 0.7}
    options.update(kwargs)
    ax.barh(y, np.nan_to_num(values), **options)
    for yy, value, n in zip(y, values, table["n_calls"], strict=True):
        text = _COST_FORMAT[metric](value)
        ax.text(
            np.nan_to_num(value), yy, f" {text} ({display.count(n)} calls)", va="center", fontsize=8
        )
    names = table["agent_name"] if "agent_name" in table else [None] * len(table)
    ax.set_yticks(y, [_group_label(by, v, n) for v, n in zip(table[by], names, strict=True)])
    ax.set_ylim(len(table) - 0.5, -0.5)
    top = np.nanmax(values) if np.isfinite(values).any() else 0.0
    # room right of the longest bar for its label (rates print wider than totals)
    ax.set_xlim(0, max(float(top), 1e-9) * (1.75 if metric == "cents_per_minute" else 1.45))
    _cost_axis(ax.xaxis, metric)
    total = "total " if metric != "cents_per_minute" else ""
    ax.set_xlabel(f"{total}{_COST_UNITS[metric]}")
    ax.set_title(f"{metric} by {by}", loc="left")
    return ax


# --------------------------------------------------------------------------------------------------
# Load tests
# --------------------------------------------------------------------------------------------------


def concurrency_scatter(
    frames: CallFrames,
    *,
    metric: str = "response_ms",
    run: str | None = None,
    percentiles: Sequence[float] = (50, 95),
    knee: bool | Knee = True,
    bins: int | Sequence[float] = 10,
    log: bool = True,
    key: str = "run_id",
    ax: Axes | None = None,
    **kwargs: Any,
) -> Axes:
    """A metric against ``concurrency_at_dispatch``: points, binned percentiles and the knee.

    Parameters
    ----------
    frames : CallFrames
    metric : str, default "response_ms"
        As for :func:`~oneinbox_nb.analysis.concurrency_frame`.
    run : str, optional
        One load-test run (``metadata[key]``); default: every call with a concurrency.
    percentiles : sequence of float, default (50, 95)
        Drawn as lines per concurrency bin (:func:`~oneinbox_nb.analysis.concurrency_bins`), the
        band between the lowest and highest shaded.
    knee : bool or Knee, default True
        True: find the knee of the highest percentile (:func:`~oneinbox_nb.analysis.find_knee`)
        and mark it with a dashed line, its confidence interval as a shaded span and its
        threshold as a dotted line; a :class:`~oneinbox_nb.analysis.Knee`: mark that one;
        False: no knee.
    bins : int or sequence of float, default 10
        Bins of the percentile lines.
    log : bool, default True
        Log-scale value axis.
    key : str, default "run_id"
    ax : matplotlib.axes.Axes, optional
    **kwargs
        Passed to :meth:`~matplotlib.axes.Axes.scatter`.

    Returns
    -------
    matplotlib.axes.Axes
        The knee line has ``gid="knee"``, its interval ``gid="knee_ci"``, the threshold
        ``gid="threshold"``; percentile lines are labelled ``p50``, ``p95``...
    """
    if not isinstance(knee, (bool, Knee)):
        raise ValueError(f"knee must be True, False or a Knee, got {knee!r}")
    # concurrency_bins validates metric, run, bins and percentiles before anything is drawn
    table = analysis.concurrency_bins(
        frames, metric=metric, run=run, bins=bins, percentiles=percentiles, key=key
    )
    data = analysis.concurrency_frame(frames, metric=metric, run=run, key=key)
    pcts = [float(p) for p in ([percentiles] if np.isscalar(percentiles) else percentiles)]
    ax = _axes(ax)
    ax.set_xlabel("concurrency at dispatch (calls in flight)")
    ax.set_ylabel(f"{metric} (ms)")
    ax.set_title(f"{metric} vs concurrency", loc="left")
    if data.empty:
        return _no_data(ax, "no values with a concurrency_at_dispatch")
    color = _color(metric)
    options: dict[str, Any] = {
        "s": 8,
        "alpha": 0.25,
        "color": color,
        "linewidths": 0,
        "label": "per turn" if data["turn"].notna().any() else "per call",
    }
    options.update(kwargs)
    ax.scatter(data["concurrency_at_dispatch"], data["value"], **options)
    filled = table[table["count"] > 0]
    labels = [analysis.percentile_label(p) for p in pcts]
    styles = ["-", "--", "-.", ":"]
    for i, label in enumerate(labels):
        ax.plot(
            filled["concurrency_mid"],
            filled[label],
            color="black",
            linestyle=styles[i % len(styles)],
            linewidth=1.5,
            marker="o",
            markersize=3,
            label=label,
        )
    if len(labels) > 1:
        ax.fill_between(
            filled["concurrency_mid"],
            filled[labels[0]],
            filled[labels[-1]],
            color=color,
            alpha=0.15,
            linewidth=0,
        )
    if knee is True:
        knee = analysis.find_knee(frames, metric=metric, run=run, percentile=max(pcts), key=key)
    if isinstance(knee, Knee):
        _mark_knee(ax, knee)
    if log:
        ax.set_yscale("log")
    ax.legend(fontsize=8, frameon=False, loc="upper left")
    return ax


def _mark_knee(ax: Axes, knee: Knee) -> None:
    if np.isfinite(knee.threshold_ms):
        ax.axhline(
            knee.threshold_ms,
            color=_FLAG_COLOR,
            linestyle=":",
            linewidth=1,
            gid="threshold",
            label=f"{analysis.percentile_label(knee.percentile)} threshold (+{knee.margin:.0%})",
        )
    if knee.concurrency is None:
        return
    if np.isfinite(knee.ci_low) and np.isfinite(knee.ci_high):
        ax.axvspan(
            knee.ci_low, knee.ci_high, color=_FLAG_COLOR, alpha=0.12, linewidth=0, gid="knee_ci"
        )
    ax.axvline(knee.concurrency, color=_FLAG_COLOR, linestyle="--", linewidth=1.5, gid="knee")
    text = f"knee ≈ {knee.concurrency:,.0f}"
    if np.isfinite(knee.ci_low) and np.isfinite(knee.ci_high):
        text += f"\n{knee.ci:.0%} CI {knee.ci_low:,.0f}–{knee.ci_high:,.0f}"
    ax.text(
        knee.concurrency,
        0.97,
        " " + text.replace("\n", "\n "),
        transform=ax.get_xaxis_transform(),
        ha="left",
        va="top",
        fontsize=8,
        color=_FLAG_COLOR,
    )


def connect_breakdown(
    frames: CallFrames,
    *,
    by: str = "type",
    stat: str = "median",
    ax: Axes | None = None,
    **kwargs: Any,
) -> Axes:
    """The connect phases dispatch → answer → active → greeting as stacked horizontal bars.

    Parameters
    ----------
    frames : CallFrames
    by : {"type", "call", "direction", "agent_id", "status"}, default "type"
        One bar per group, or per call with ``"call"``.
    stat : {"median", "mean"}, default "median"
        How each phase is summarised per group; a black tick marks the group's ``setup_ms``
        (same statistic).
    ax : matplotlib.axes.Axes, optional
    **kwargs
        Passed to every :meth:`~matplotlib.axes.Axes.barh` call (one per phase).

    Returns
    -------
    matplotlib.axes.Axes
        Three bar containers, one per phase, coloured by :data:`CONNECT_COLORS`.
    """
    table = analysis.connect_summary(frames, by=by, stat=stat)
    key = "call_id" if by == "call" else by
    ax = _axes(ax)
    if table.empty:
        return _no_data(ax, "no connect timings")
    y = np.arange(len(table))
    left = np.zeros(len(table))
    for phase in analysis.CONNECT_PHASES:
        widths = np.nan_to_num(table[phase].to_numpy(dtype=float))
        options: dict[str, Any] = {
            "color": CONNECT_COLORS[phase],
            "height": 0.7,
            "label": _CONNECT_LABELS[phase],
        }
        options.update(kwargs)
        ax.barh(y, widths, left=left, **options)
        left = left + widths
    ax.plot(
        table["setup_ms"],
        y,
        linestyle="none",
        marker="|",
        markersize=16,
        color="black",
        label=f"{stat} setup_ms",
    )
    labels = [
        f"{_short(v)} (n={display.count(n)})" if by != "call" else _short(v)
        for v, n in zip(table[key], table["n_calls"], strict=True)
    ]
    ax.set_yticks(y, labels)
    ax.set_ylim(len(table) - 0.5, -0.5)
    ax.set_xlabel(f"{stat} time from dispatch (ms)")
    ax.set_title(f"call connect phases by {by}", loc="left")
    ax.legend(fontsize=8, frameon=False, loc="lower right")
    return ax
