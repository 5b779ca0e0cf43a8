"""Turns and connect: where does a call's time go, per turn, component and provider?"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from .. import analysis, display
from ..analysis import EVENT_COMPONENTS
from ..frames import CallFrames
from ._base import (
    _FLAG_COLOR,
    _OTHER_COLOR,
    COMPONENT_COLORS,
    CONNECT_COLORS,
    _axes,
    _check,
    _component_patch,
    _no_data,
    _short,
)

if TYPE_CHECKING:
    from matplotlib.axes import Axes

_CONNECT_LABELS = {
    "dispatch_to_answer_ms": "dispatch → answer",
    "answer_to_active_ms": "answer → active",
    "active_to_greeting_ms": "active → greeting",
}


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
    chain = _turn_chain(frames, call_id, turn)
    ax = _axes(ax)
    response = chain[chain["in_response"]].reset_index(drop=True)
    stt = chain[~chain["in_response"]].reset_index(drop=True)
    y_response = np.arange(len(response))
    y_stt = len(response) + np.arange(len(stt))
    _waterfall_bars(ax, response, y_response, stt, y_stt, **kwargs)
    total = float(response["end_ms"].iloc[-1]) if len(response) else 0.0
    right = max(total, float(chain["end_ms"].max()), 1.0)
    _waterfall_values(ax, response, y_response, stt, y_stt, right)
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


def _turn_chain(frames: CallFrames, call_id: str, turn: int) -> pd.DataFrame:
    """The turn's chain of steps; a ValueError listing the call's turns when it has none."""
    chain = analysis.turn_chain(frames, call_id=call_id, turn=turn)
    if chain.empty:
        available = analysis.turn_chain(frames, call_id=call_id)["turn"].dropna().unique()
        if len(available) == 0:
            raise ValueError(f"call {call_id!r} has no latency events to draw")
        listed = ", ".join(str(int(t)) for t in sorted(available))
        raise ValueError(f"call {call_id!r} has no turn {turn!r}; valid turns: {listed}")
    return chain


def _waterfall_bars(
    ax: Axes,
    response: pd.DataFrame,
    y_response: np.ndarray,
    stt: pd.DataFrame,
    y_stt: np.ndarray,
    **kwargs: Any,
) -> None:
    """The response steps (flagged ones edged red), then the faded, hatched stt rows."""
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


def _waterfall_values(
    ax: Axes,
    response: pd.DataFrame,
    y_response: np.ndarray,
    stt: pd.DataFrame,
    y_stt: np.ndarray,
    right: float,
) -> None:
    """Each step's duration in a column right of every bar (``right``: the furthest bar end)."""
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
    turns = _call_turns(frames, call_id, highlight_turn)
    numbers = turns["turn"].astype(int).to_numpy()
    ax = _axes(ax)
    flagged = turns["flagged"].to_numpy(dtype=bool)
    highlighted = numbers == highlight_turn
    alpha = np.where(highlighted | (highlight_turn is None), 1.0, 0.35)
    bottom = np.zeros(len(turns))
    for component in ("eou_delay", "kb", "tool", "llm_ttft", "tts_ttfb"):
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
        _style_turn_bars(bars.patches, alpha, highlighted, flagged)
        bottom = bottom + heights
    total = turns["response_ms"].to_numpy(dtype=float)
    _cut_flagged_turns(ax, numbers, total, flagged)
    ax.set_xticks(numbers, ["greeting" if n == 0 else str(n) for n in numbers])
    ax.set_xlabel("turn")
    ax.set_ylabel("response time (ms)")
    title = f"response time per turn, call {_short(call_id)}"
    if highlight_turn is not None:
        value = total[highlighted][0]
        title += f" (turn {highlight_turn}: {display.ms(value)})"
    ax.set_title(title, loc="left", pad=30 if flagged.any() else 6)
    handles = [_component_patch(c.get_label()) for c in ax.containers]
    ax.legend(
        handles=handles, fontsize=8, frameon=False, loc="upper left", bbox_to_anchor=(1.0, 1.0)
    )
    return ax


def _call_turns(frames: CallFrames, call_id: str, highlight_turn: int | None) -> pd.DataFrame:
    """The call's turns in order; a ValueError when it has none or ``highlight_turn`` is not one."""
    turns = analysis.turn_latency(frames, call_id=call_id)
    if turns.empty:
        raise ValueError(f"call {call_id!r} has no turns with latency events")
    turns = turns.sort_values("turn").reset_index(drop=True)
    numbers = turns["turn"].astype(int).tolist()
    if highlight_turn is not None and highlight_turn not in set(numbers):
        listed = ", ".join(map(str, numbers))
        raise ValueError(f"invalid highlight_turn {highlight_turn!r}; valid turns: {listed}")
    return turns


def _style_turn_bars(
    patches: Any, alpha: np.ndarray, highlighted: np.ndarray, flagged: np.ndarray
) -> None:
    """Fade the turns not highlighted, edge the highlighted one, hatch the flagged ones."""
    for patch, a, hi, bad in zip(patches, alpha, highlighted, flagged, strict=True):
        patch.set_alpha(float(a))
        if hi:
            patch.set_edgecolor("black")
            patch.set_linewidth(1.8)
        if bad:
            patch.set_hatch("xx")


def _cut_flagged_turns(
    ax: Axes, numbers: np.ndarray, total: np.ndarray, flagged: np.ndarray
) -> None:
    """Cut the axis above the highest clean turn; write each flagged turn's total above it."""
    clean = total[~flagged]
    if not (flagged.any() and len(clean) and np.isfinite(clean).any()):
        return
    ax.set_ylim(0, float(np.nanmax(clean)) * 1.25)
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
    the worst value a report mentions is always in view. One box per component present (its
    per-turn sums over the turns that have its events: the component rule of
    :mod:`oneinbox_nb.analysis`, as :func:`~oneinbox_nb.analysis.latency_values` gives them) and
    one for ``response_ms`` (per complete answered turn), coloured by :data:`COMPONENT_COLORS`,
    with the count in the tick label.

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
    for component in (*EVENT_COMPONENTS, "response_ms"):
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
