"""CostExplorer: cost, credits or cents per minute by a grouping, over a range of days."""

from __future__ import annotations

from collections.abc import Mapping

import ipywidgets as widgets

from .. import analysis, plots
from .. import display as show
from ..frames import CallFrames
from ..scope import Scope
from . import _views as views
from ._base import _Explorer, dropdown, frame_html

#: Metric choices of :class:`CostExplorer`: label -> column of :func:`~oneinbox_nb.analysis.cost_by`.
COST_METRICS: Mapping[str, str] = {
    "cents": "cost_cents",
    "credits": "credits_used",
    "cents per minute": "cents_per_minute",
}

# every number through oneinbox_nb.display, as the costs report shows it (stories/costs.py)
_COST_FORMATS = {
    "minutes": lambda m: show.duration(float(m) * 60),
    "cost_cents": show.money,
    "credits_used": show.credits,
    "cents_per_minute": show.per_minute,
    "cents_per_credit": lambda c: show.money(c, decimals=4, per="credit"),
    "mean_cost_cents": show.money,
    "p50_cost_cents": show.money,
    "p95_cost_cents": show.money,
}


class CostExplorer(_Explorer):
    """Cost, credits or cents per minute by agent, day, outcome, provider... over a range of days.

    Parameters
    ----------
    frames : CallFrames

    Attributes
    ----------
    controls : dict
        ``by`` (Dropdown of :data:`~oneinbox_nb.analysis.COST_GROUPS`), ``metric`` (Dropdown
        labelled cents / credits / cents per minute, values ``cost_cents`` / ``credits_used`` /
        ``cents_per_minute``), ``days`` (SelectionRangeSlider over the UTC days of
        ``calls.created_at``; values are midnight UTC Timestamps; its own readout is off).
    days_text : ipywidgets.HTML
        The chosen day range in full beside the slider, e.g. "Mon 16 Nov 2026 – Thu 19 Nov 2026
        (4 days, UTC; all days)" (the slider's own readout cut it to "…Thu 19").
    table : ipywidgets.HTML
        The table behind the bars: numbers right-aligned, no wrapping, agent ids shortened with
        the full id on hover, every value HTML-escaped.
    result : pandas.DataFrame or None
        :func:`~oneinbox_nb.analysis.cost_by` of the calls in the day range.
    figure : matplotlib.figure.Figure or None
        ``axes["bars"]`` (:func:`~oneinbox_nb.plots.cost_by`) beside ``axes["distribution"]``
        (:func:`~oneinbox_nb.plots.cost_distribution`).
    error : Exception or None

    Notes
    -----
    The day range keeps the calls created on those days (and the matching rows of every table,
    :meth:`CallFrames.select`). Calls without ``created_at`` are kept only while the range spans
    every day.
    """

    days_text: widgets.HTML
    table: widgets.HTML

    def __init__(self, frames: CallFrames) -> None:
        super().__init__(frames)
        day_options = views.day_options(frames.calls["created_at"])
        self._n_days = len(day_options)
        self.controls = {
            "by": dropdown(list(analysis.COST_GROUPS), "agent_id", "group by", "220px"),
            "metric": dropdown(list(COST_METRICS.items()), "cost_cents", "metric", "220px"),
            "days": widgets.SelectionRangeSlider(
                options=day_options or [("no dates", None)],
                index=(0, max(self._n_days - 1, 0)),
                description="days",
                disabled=self._n_days <= 1,
                continuous_update=False,
                readout=False,
                style={"description_width": "initial"},
                layout=widgets.Layout(width="420px"),
            ),
        }
        self.days_text = widgets.HTML(layout=widgets.Layout(margin="0 0 0 12px"))
        self.table = widgets.HTML()
        self._views = [self.table]
        c = self.controls
        self.widget = widgets.VBox(
            [
                widgets.HBox([c["by"], c["metric"]]),
                widgets.HBox([c["days"], self.days_text]),
                self.message,
                self.output,
                self.table,
            ]
        )
        self._watch("by", "metric", "days")
        self.refresh()

    def _day_range(self) -> tuple:
        """(first, last) day of the slider, or (None, None) when no call has a date."""
        return self.controls["days"].value if self._n_days else (None, None)

    def selected(self) -> CallFrames:
        """The frames of the calls in the current day range (all of them for the full range)."""
        if not self._n_days:
            return self.frames
        lo, hi = self.controls["days"].index
        first, last = self._day_range()
        every_day = (lo, hi) == (0, self._n_days - 1)
        return views.calls_in_days(self.frames, first, last, every_day)

    def _render(self) -> None:
        by, metric = self.controls["by"].value, self.controls["metric"].value
        first, last = self._day_range()
        self.days_text.value = show.html(views.day_range_text(first, last, self._n_days))
        frames = self.selected()
        table = analysis.cost_by(frames, by)
        fig, axes = self._draw((12.0, 4.5), (1, 2), ("bars", "distribution"))
        with self._figure_guard(fig):
            plots.cost_by(frames, by=by, metric=metric, ax=axes["bars"])
            plots.cost_distribution(frames, metric=metric, ax=axes["distribution"])
        span = ""
        if first is not None:
            span = first.strftime("%Y-%m-%d")
            span += f" to {last.strftime('%Y-%m-%d')}" if last != first else ""
            span = f", created {span} (UTC)"
        # the explorer opens with its scope, as the report's "In short" does
        scope = Scope(traffic="all").sentence(frames) if len(frames.calls) else "no calls"
        caption = (
            f"<p>{show.html(scope)}</p><p><b>{show.html(metric)} by {show.html(by)}</b>: "
            f"{show.count(len(frames.calls))} calls{show.html(span)}</p>"
        )
        self.table.value = caption + frame_html(table, _COST_FORMATS)
        self._show(fig, axes, table)

    def __repr__(self) -> str:
        c = self.controls
        return f"CostExplorer(by={c['by'].value!r}, metric={c['metric'].value!r})"
