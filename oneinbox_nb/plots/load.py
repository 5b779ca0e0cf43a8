"""Load tests: how does latency grow with concurrency, and where is the knee?"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from .. import analysis, display
from ..analysis import Knee
from ..frames import CallFrames
from ._base import (
    _FLAG_COLOR,
    _axes,
    _color,
    _knee_lines,
    _no_data,
    _percentile_lines,
    _percentiles,
)

if TYPE_CHECKING:
    from matplotlib.axes import Axes


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
    pcts = _percentiles(percentiles)
    ax = _axes(ax)
    ax.set_xlabel("concurrency at dispatch (calls in flight)")
    ax.set_ylabel(f"{metric} (ms)")
    ax.set_title(f"{metric} vs concurrency", loc="left")
    if data.empty:
        return _no_data(ax, "no values with a concurrency_at_dispatch")
    _points_and_band(ax, data, table, pcts, color=_color(metric), **kwargs)
    if knee is True:
        knee = analysis.find_knee(frames, metric=metric, run=run, percentile=max(pcts), key=key)
    if isinstance(knee, Knee):
        _mark_knee(ax, knee)
    if log:
        ax.set_yscale("log")
    ax.legend(fontsize=8, frameon=False, loc="upper left")
    return ax


def _points_and_band(
    ax: Axes,
    data: pd.DataFrame,
    bins: pd.DataFrame,
    pcts: Sequence[float],
    *,
    color: str,
    **kwargs: Any,
) -> None:
    """Every value as a faint point, the percentile lines in black, the band between the lowest
    and the highest percentile shaded."""
    options: dict[str, Any] = {
        "s": 8,
        "alpha": 0.25,
        "color": color,
        "linewidths": 0,
        "label": "per turn" if data["turn"].notna().any() else "per call",
    }
    options.update(kwargs)
    ax.scatter(data["concurrency_at_dispatch"], data["value"], **options)
    _percentile_lines(ax, bins, pcts, color="black", linewidth=1.5)
    if len(pcts) > 1:
        filled = bins[bins["count"] > 0]
        ax.fill_between(
            filled["concurrency_mid"],
            filled[analysis.percentile_label(pcts[0])],
            filled[analysis.percentile_label(pcts[-1])],
            color=color,
            alpha=0.15,
            linewidth=0,
        )


def _mark_knee(ax: Axes, knee: Knee) -> None:
    if np.isfinite(knee.threshold_ms):
        ax.axhline(
            knee.threshold_ms,
            color=_FLAG_COLOR,
            linestyle=":",
            linewidth=1,
            gid="threshold",
            label=f"{analysis.percentile_label(knee.percentile)} threshold"
            f" (+{display.share(knee.margin, digits=0)})",
        )
    if knee.concurrency is None:
        return
    text = f"knee ≈ {display.concurrency(knee.concurrency)}"
    if np.isfinite(knee.ci_low) and np.isfinite(knee.ci_high):
        low, high = display.concurrency(knee.ci_low), display.concurrency(knee.ci_high)
        text += f"\n{display.share(knee.ci, digits=0)} CI {low}–{high}"
    _knee_lines(ax, knee, color=_FLAG_COLOR, text=" " + text.replace("\n", "\n "))
