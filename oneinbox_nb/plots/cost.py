"""Cost: what do calls cost, and which agent, day or outcome costs most?"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from .. import analysis, display
from ..frames import CallFrames
from ._base import (
    _axes,
    _check,
    _group_label,
    _no_data,
)

if TYPE_CHECKING:
    from matplotlib.axes import Axes

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
