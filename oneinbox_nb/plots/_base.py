"""Shared by every plot: the fixed colours, axes creation, labels, option checks, the no-data note;
shared by the load-test plots: percentile lines and knee marks."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from .. import analysis, display

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from ..analysis import Knee


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


def _component_patch(component: str) -> Any:
    """A legend handle in the component's colour (:data:`COMPONENT_COLORS`)."""
    from matplotlib.patches import Patch

    return Patch(color=COMPONENT_COLORS[component], label=display.label(component))


#: Line styles of successive percentiles on one plot (p50 solid, p95 dashed, ...).
_PERCENTILE_STYLES = ("-", "--", "-.", ":")


def _percentiles(percentiles: float | Sequence[float]) -> list[float]:
    """One percentile or several, as a list of floats."""
    return [float(p) for p in ([percentiles] if np.isscalar(percentiles) else percentiles)]


def _percentile_lines(
    ax: Axes,
    bins: pd.DataFrame,
    pcts: Sequence[float],
    *,
    color: str,
    linewidth: float,
    prefix: str = "",
    **kwargs: Any,
) -> None:
    """One line per percentile through the filled concurrency bins of
    :func:`~oneinbox_nb.analysis.concurrency_bins`, labelled ``<prefix>p50``..."""
    filled = bins[bins["count"] > 0]
    for j, p in enumerate(pcts):
        column = analysis.percentile_label(p)
        options = {
            "color": color,
            "linestyle": _PERCENTILE_STYLES[j % len(_PERCENTILE_STYLES)],
            "marker": "o",
            "markersize": 3,
            "linewidth": linewidth,
            "label": f"{prefix}{column}",
        }
        options.update(kwargs)
        ax.plot(filled["concurrency_mid"], filled[column], **options)


def _knee_lines(
    ax: Axes, knee: Knee, *, color: str, side: str = "", text: str, y: float = 0.97
) -> None:
    """A knee as a dashed line (``gid="knee<side>"``), its interval as a shaded span
    (``gid="knee_ci<side>"``) when it has one, and ``text`` beside the line at height ``y``."""
    if np.isfinite(knee.ci_low) and np.isfinite(knee.ci_high):
        ax.axvspan(
            knee.ci_low, knee.ci_high, color=color, alpha=0.12, linewidth=0, gid=f"knee_ci{side}"
        )
    ax.axvline(knee.concurrency, color=color, linestyle="--", linewidth=1.5, gid=f"knee{side}")
    ax.text(
        knee.concurrency,
        y,
        text,
        transform=ax.get_xaxis_transform(),
        ha="left",
        va="top",
        fontsize=8,
        color=color,
    )
