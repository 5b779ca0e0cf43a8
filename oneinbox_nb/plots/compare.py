"""Comparing two sets of calls: what changed from a to b?"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from .. import analysis, display
from ..analysis import RESPONSE_COMPONENTS, Knee, compare_knees, compare_values, explain_change
from ..frames import CallFrames
from ._base import (
    COMPONENT_COLORS,
    _axes,
    _check,
    _component_patch,
    _knee_lines,
    _no_data,
    _percentile_lines,
    _percentiles,
)

if TYPE_CHECKING:
    from matplotlib.axes import Axes


#: Colours of the two sides of a comparison (a: before / baseline, b: after / candidate).
GROUP_COLORS: tuple[str, str] = ("#4C72B0", "#DD8452")
_CHANGE_COLORS = {"increase": "#C44E52", "decrease": "#2A9D8F"}
_CHAIN_ORDER = RESPONSE_COMPONENTS  # the order of a turn
# the columns of analysis.COMPARE_COLUMNS that the forest reads
_FOREST_COLUMNS = ("metric", "statistic", "a", "diff", "ci_low", "ci_high", "change")


def _pair(labels: Sequence[str]) -> tuple[str, str]:
    if isinstance(labels, str) or len(labels) != 2:
        raise ValueError(f"labels must be two names, one per group, got {labels!r}")
    return display.label(labels[0]), display.label(labels[1])


def _signed(metric: str, value: float) -> str:
    """A difference in the metric's own unit, with its sign."""
    if metric.endswith("_rate"):
        return display.delta(value, "share")
    if metric == "cents_per_minute":
        return display.delta(value, "cents") + "/min"
    return display.delta(value, "ms")


def compare_forest(
    table: pd.DataFrame,
    *,
    scale: str = "relative",
    ax: Axes | None = None,
    **kwargs: Any,
) -> Axes:
    """A forest plot of :func:`~oneinbox_nb.analysis.compare`: each difference with its interval.

    One row per (metric, statistic), top to bottom in the table's order. Points and interval bars
    are coloured by ``change`` (increase red, decrease teal, otherwise grey); a row without an
    interval (too few calls) is a hollow point. The right margin gives the difference in the
    metric's unit and the verdict.

    Parameters
    ----------
    table : pandas.DataFrame
        The output of :func:`~oneinbox_nb.analysis.compare`.
    scale : {"relative", "absolute"}, default "relative"
        ``"relative"``: ``diff`` and its interval as a percentage of ``a`` (metrics of different
        units share one axis; a row with ``a == 0`` has no point). ``"absolute"``: in the metrics'
        own units (meaningful when they share one, e.g. only latencies).
    ax : matplotlib.axes.Axes, optional
    **kwargs
        Passed to :meth:`~matplotlib.axes.Axes.errorbar`.

    Returns
    -------
    matplotlib.axes.Axes
        Each row's point (the data line of its errorbar) has ``gid="diff:<metric>:<statistic>"``.
    """
    _check("scale", scale, ("relative", "absolute"))
    missing = [c for c in _FOREST_COLUMNS if c not in table]
    if missing:
        raise ValueError(
            f"table must be the output of analysis.compare; missing columns: {', '.join(missing)}"
        )
    ax = _axes(ax, (8.0, max(2.5, 0.32 * len(table) + 1.2)))
    if table.empty:
        return _no_data(ax, "nothing to compare")
    diff, low, high = _forest_scaled(table, scale)
    for y, row in enumerate(table.itertuples(index=False)):
        color = _CHANGE_COLORS.get(row.change, "0.45")
        if np.isfinite(diff[y]):
            _forest_point(
                ax,
                y,
                diff[y],
                low[y],
                high[y],
                color,
                gid=f"diff:{row.metric}:{row.statistic}",
                **kwargs,
            )
        _forest_verdict(ax, y, row.metric, row.diff, row.change, color)
    ax.axvline(0, color="0.3", linewidth=1)
    labels = [
        f"{display.label(m)} {display.label(s)}"
        for m, s in zip(table["metric"], table["statistic"], strict=True)
    ]
    ax.set_yticks(np.arange(len(table)), labels)
    ax.set_ylim(len(table) - 0.5, -0.5)
    ax.set_xlabel("b − a, % of a" if scale == "relative" else "b − a (the metric's unit)")
    ax.set_title("What changed from a to b (intervals: resampled calls)", loc="left")
    return ax


def _forest_scaled(table: pd.DataFrame, scale: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``diff``, ``ci_low`` and ``ci_high`` on the plot's scale: % of ``a`` (NaN where ``a`` is 0)
    or the metric's own unit."""
    base = table["a"].to_numpy(dtype=float) if scale == "relative" else np.ones(len(table))
    with np.errstate(invalid="ignore", divide="ignore"):
        factor = np.where(base != 0, (100.0 if scale == "relative" else 1.0) / base, np.nan)
    return tuple(table[c].to_numpy(dtype=float) * factor for c in ("diff", "ci_low", "ci_high"))


def _forest_verdict(ax: Axes, y: int, metric: str, diff: float, change: str, color: str) -> None:
    """Right of the axes: the difference in the metric's unit and the verdict."""
    verdict = change if change in _CHANGE_COLORS or change == "no clear change" else "no interval"
    ax.text(
        1.01,
        y,
        f"{_signed(metric, diff)}  {verdict}",
        transform=ax.get_yaxis_transform(),
        va="center",
        fontsize=8,
        color=color,
    )


def _forest_point(
    ax: Axes, y: int, diff: float, low: float, high: float, color: str, *, gid: str, **kwargs: Any
) -> None:
    """One difference with its interval bar; hollow when it has no interval."""
    has_ci = np.isfinite(low) and np.isfinite(high)
    options: dict[str, Any] = {
        "fmt": "o",
        "color": color,
        "ecolor": color,
        "capsize": 3,
        "markersize": 6,
        "markerfacecolor": color if has_ci else "white",
    }
    options.update(kwargs)
    err = [[diff - low], [high - diff]] if has_ci else None
    container = ax.errorbar([diff], [y], xerr=err, **options)
    container.lines[0].set_gid(gid)


def compare_ecdf(
    a: CallFrames,
    b: CallFrames,
    *,
    metric: str = "response_ms",
    labels: Sequence[str] = ("a", "b"),
    log: bool = True,
    ax: Axes | None = None,
    **kwargs: Any,
) -> Axes:
    """The empirical distribution (ECDF) of a latency metric in a and in b, overlaid.

    Parameters
    ----------
    a, b : CallFrames
    metric : str, default "response_ms"
        A latency metric of :func:`~oneinbox_nb.analysis.compare_values`.
    labels : pair of str, default ("a", "b")
        Legend names of the groups (escaped for matplotlib).
    log : bool, default True
        Log-scale value axis.
    ax : matplotlib.axes.Axes, optional
    **kwargs
        Passed to :meth:`~matplotlib.axes.Axes.ecdf` for both lines.

    Returns
    -------
    matplotlib.axes.Axes
        The lines have ``gid="ecdf:a"`` and ``gid="ecdf:b"``; the dotted lines at the medians
        ``gid="median:a"`` / ``"median:b"``.
    """
    names = _pair(labels)
    values = compare_values(a, b, metric=metric, labels=("a", "b"))
    ax = _axes(ax)
    ax.set_xlabel(f"{metric} (ms)")
    ax.set_ylabel("share of values at or below")
    ax.set_title(f"{metric}: distribution in a and b", loc="left")
    if values.empty:
        return _no_data(ax, f"no {metric} values")
    for side, name, color in zip(("a", "b"), names, GROUP_COLORS, strict=True):
        v = values.loc[values["group"] == side, "value"].to_numpy(dtype=float)
        if not len(v):
            continue
        options = {
            "color": color,
            "linewidth": 1.6,
            "label": f"{name} ({display.count(len(v))} values)",
        }
        options.update(kwargs)
        line = ax.ecdf(v, **options)
        line.set_gid(f"ecdf:{side}")
        ax.axvline(
            float(np.median(v)), color=color, linestyle=":", linewidth=1, gid=f"median:{side}"
        )
    if log and (values["value"] > 0).any():
        ax.set_xscale("log")
    ax.axhline(0.5, color="0.8", linewidth=0.8)
    ax.axhline(0.95, color="0.8", linewidth=0.8)
    ax.legend(fontsize=8, frameon=False, loc="lower right")
    return ax


def compare_turn_chain(
    a: CallFrames,
    b: CallFrames,
    *,
    statistic: str = "p50",
    labels: Sequence[str] = ("a", "b"),
    ax: Axes | None = None,
    **kwargs: Any,
) -> Axes:
    """The typical turn of a beside that of b: two waterfalls on one time axis.

    Each bar lays the components end to end (end-of-utterance, LLM, knowledge base, tool, TTS), each
    the mean time it adds to the turns around the ``statistic`` (``a_with * a_ms`` of
    :func:`~oneinbox_nb.analysis.explain_change`: a component only some of those turns have adds
    its mean over them times their share); a tick marks the statistic itself.

    Parameters
    ----------
    a, b : CallFrames
    statistic : str, default "p50"
        ``"p50"`` (the median turn), ``"p95"``, ... or ``"mean"``.
    labels : pair of str, default ("a", "b")
    ax : matplotlib.axes.Axes, optional
    **kwargs
        Passed to :meth:`~matplotlib.axes.Axes.barh`.

    Returns
    -------
    matplotlib.axes.Axes
        Segments have ``gid="<group>:<component>"`` (``"a:llm_ttft"``), the ticks
        ``gid="statistic:a"`` / ``"statistic:b"``.
    """
    names = _pair(labels)
    table = explain_change(a, b, statistic=statistic, n_boot=0)
    ax = _axes(ax, (9.0, 3.2))
    parts = table[table["level"] == "component"].set_index("component")
    stat = table[table["level"] == "total"].iloc[0]
    for side, y in (("a", 1.0), ("b", 0.0)):
        _chain_bar(ax, parts, side, y, **kwargs)
        value = float(stat[f"{side}_ms"])
        if np.isfinite(value):
            ax.plot(
                [value, value],
                [y - 0.38, y + 0.38],
                color="black",
                linewidth=2,
                gid=f"statistic:{side}",
            )
            ax.text(value, y + 0.42, f" {statistic} {display.ms(value)}", fontsize=8, va="bottom")
    handles = [
        _component_patch(c)
        for c in _CHAIN_ORDER
        if c in parts.index and (parts.loc[c, ["a_with", "b_with"]].fillna(0) > 0).any()
    ]
    ax.legend(
        handles=handles, fontsize=8, frameon=False, loc="upper right", ncols=len(handles) or 1
    )
    ax.set_yticks([1.0, 0.0], list(names))
    ax.set_ylim(-0.6, 2.1)
    ax.set_xlim(left=0)
    ax.set_xlabel("time since the caller stopped speaking (ms)")
    ax.set_title(f"The {statistic} turn of a and b, component by component", loc="left")
    return ax


def _chain_bar(ax: Axes, parts: pd.DataFrame, side: str, y: float, **kwargs: Any) -> None:
    """One side's components end to end, each ``<side>_ms * <side>_with`` wide (its mean time
    added to the turns around the statistic); segments 120 ms or wider carry their width."""
    left = 0.0
    for component in _CHAIN_ORDER:
        width = (
            float(parts.loc[component, f"{side}_ms"] * parts.loc[component, f"{side}_with"])
            if component in parts.index
            else float("nan")
        )
        if not np.isfinite(width) or width <= 0:
            continue
        options = {"color": COMPONENT_COLORS[component], "height": 0.6, "edgecolor": "white"}
        options.update(kwargs)
        (bar,) = ax.barh([y], [width], left=left, **options).patches
        bar.set_gid(f"{side}:{component}")
        if width >= 120:
            ax.text(
                left + width / 2,
                y,
                display.ms(width, unit=False),
                ha="center",
                va="center",
                fontsize=7,
                color="white",
            )
        left += width


def compare_concurrency(
    a: CallFrames,
    b: CallFrames,
    *,
    metric: str = "response_ms",
    percentiles: Sequence[float] = (50, 95),
    run_a: str | None = None,
    run_b: str | None = None,
    knees: bool | Sequence[Knee] = True,
    bins: int | Sequence[float] = 10,
    labels: Sequence[str] = ("a", "b"),
    log: bool = False,
    key: str = "run_id",
    ax: Axes | None = None,
    **kwargs: Any,
) -> Axes:
    """Two load tests on one figure: binned percentiles against concurrency, and both knees.

    Parameters
    ----------
    a, b : CallFrames
    metric, percentiles, bins, key
        As for :func:`~oneinbox_nb.analysis.concurrency_bins`.
    run_a, run_b : str, optional
        The run of each side; default: every call with a concurrency.
    knees : bool or pair of Knee, default True
        True: find each side's knee of the highest percentile; a pair (e.g.
        ``compare_knees(...).attrs["knees"]``): mark those; False: none. Each knee is a dashed line
        in its group's colour, its interval a shaded span.
    labels : pair of str, default ("a", "b")
    log : bool, default False
    ax : matplotlib.axes.Axes, optional
    **kwargs
        Passed to :meth:`~matplotlib.axes.Axes.plot` for the percentile lines.

    Returns
    -------
    matplotlib.axes.Axes
        Lines are labelled ``"<label> p50"``...; knees have ``gid="knee:a"`` / ``"knee:b"``, their
        intervals ``gid="knee_ci:a"`` / ``"knee_ci:b"``.
    """
    names = _pair(labels)
    pcts = _percentiles(percentiles)
    marks = _knee_marks(a, b, knees, metric=metric, pcts=pcts, run_a=run_a, run_b=run_b, key=key)
    ax = _axes(ax, (10.0, 5.0))
    drawn = False
    for i, (frames, run) in enumerate(((a, run_a), (b, run_b))):
        table = analysis.concurrency_bins(
            frames, metric=metric, run=run, bins=bins, percentiles=pcts, key=key
        )
        prefix = f"{names[i]} "
        _percentile_lines(
            ax, table, pcts, color=GROUP_COLORS[i], linewidth=1.6, prefix=prefix, **kwargs
        )
        drawn = drawn or bool((table["count"] > 0).any())
    for i, (side, knee) in enumerate(zip(("a", "b"), marks, strict=False)):
        if knee.concurrency is None:
            continue
        text = f" {names[i]} knee ≈ {display.concurrency(knee.concurrency)}"
        if np.isfinite(knee.ci_low) and np.isfinite(knee.ci_high):
            text += f" ({display.concurrency(knee.ci_low)}–{display.concurrency(knee.ci_high)})"
        _knee_lines(ax, knee, color=GROUP_COLORS[i], side=f":{side}", text=text, y=0.97 - 0.07 * i)
    ax.set_xlabel("concurrency at dispatch (calls in flight)")
    ax.set_ylabel(f"{metric} (ms)")
    ax.set_title(f"{metric} against concurrency: a and b", loc="left")
    if not drawn:
        return _no_data(ax, "no values with a concurrency_at_dispatch")
    if log:
        ax.set_yscale("log")
    ax.legend(fontsize=8, frameon=False, loc="upper left")
    return ax


def _knee_marks(
    a: CallFrames,
    b: CallFrames,
    knees: bool | Sequence[Knee],
    *,
    metric: str,
    pcts: Sequence[float],
    run_a: str | None,
    run_b: str | None,
    key: str,
) -> Sequence[Knee]:
    """The knees to mark: found on each side (True), none (False) or the pair given."""
    if knees is True:
        found = compare_knees(
            a, b, metric=metric, percentile=max(pcts), run_a=run_a, run_b=run_b, key=key
        )
        return found.attrs["knees"]
    if knees is False:
        return ()
    marks = tuple(knees)
    if len(marks) != 2 or not all(isinstance(k, Knee) for k in marks):
        raise ValueError(f"knees must be True, False or a pair of Knee, got {knees!r}")
    return marks
