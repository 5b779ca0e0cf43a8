"""CompareExplorer: pick two sides (run, agent, days) and a metric; the figure and the table follow.

Each side is a :class:`~oneinbox_nb.scope.Scope`: a side with a run is that run's calls; a side
chosen by agent or days follows the traffic rule (load tests left out unless the ``traffic``
control includes them), and the explorer opens with both sides' scope sentences.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

import ipywidgets as widgets
import pandas as pd

from .. import display, plots
from ..analysis import COMPARE_METRICS, compare, explain_change, load_test_runs
from ..frames import CallFrames
from ..scope import Scope
from ..stories.compare import explained_table, readable_table
from ._base import _Explorer, dropdown, frame_html
from ._views import agent_names

__all__ = ["SIDE_TRAFFIC", "CompareExplorer"]

_SIDES = ("a", "b")

#: The ``traffic`` control: which calls a side chosen by agent or days (not by run) holds.
SIDE_TRAFFIC: dict[str, str] = {
    "production calls (load tests left out)": "production",
    "production and load-test calls": "all",
    "load-test calls": "load_test",
}


class CompareExplorer(_Explorer):
    """Two sides of the same calls compared: by run, agent and/or days, one metric at a time.

    A thin view over :meth:`Scope.select <oneinbox_nb.scope.Scope.select>`,
    :func:`~oneinbox_nb.analysis.compare` and :func:`~oneinbox_nb.analysis.explain_change`.
    A side with a run holds that run's calls; a side chosen by agent and/or days follows the
    traffic rule (:mod:`oneinbox_nb.scope`): production calls only, load tests left out and said
    so, unless ``traffic`` includes them.

    Parameters
    ----------
    frames : CallFrames
        Every call either side may be drawn from.
    a, b : dict, optional
        Initial selection of each side: ``run_id``, ``agent_id``, ``since``, ``until`` (as for
        :func:`~oneinbox_nb.analysis.select_calls`; missing keys mean "any").
    n_boot : int, default 200
        Resamples of each side for the intervals; modest to stay responsive.
    key : str, default "run_id"
        The metadata key naming runs (the traffic rule's run key).
    traffic : {"production", "all", "load_test"}, default "production"
        The calls of a side without a run (see :data:`SIDE_TRAFFIC`).

    Attributes
    ----------
    controls : dict
        ``a_run``, ``b_run`` (Dropdown: any run, or one), ``a_agent``, ``b_agent`` (Dropdown: any
        agent, or one), ``a_days``, ``b_days`` (SelectionRangeSlider over the UTC days of
        ``created_at``), ``traffic`` (Dropdown of :data:`SIDE_TRAFFIC`: the calls of a side
        without a run), ``metric`` (Dropdown of :data:`~oneinbox_nb.analysis.COMPARE_METRICS`).
    scope_text : ipywidgets.HTML
        What the explorer opens with: each side's :meth:`Scope.sentence
        <oneinbox_nb.scope.Scope.sentence>` ("a: 150 calls of load-test run lt-42, 19 Nov 2026";
        "b: 60 production calls, 13–19 Nov 2026, load tests left out"), HTML-escaped.
    scopes : dict of Scope
        The scope of ``"a"`` and ``"b"`` last compared.
    sides : dict of CallFrames
        The calls of ``"a"`` and ``"b"`` last compared.
    result : pandas.DataFrame or None
        :func:`~oneinbox_nb.analysis.compare` for the chosen metric.
    explained : pandas.DataFrame or None
        :func:`~oneinbox_nb.analysis.explain_change` (p50), when the metric is ``response_ms``.
    figure : matplotlib.figure.Figure or None
        ``axes["distribution"]`` (:func:`~oneinbox_nb.plots.compare_ecdf`; for a rate, unused and
        hidden) and ``axes["difference"]`` (:func:`~oneinbox_nb.plots.compare_forest`).
    error : Exception or None
    """

    def __init__(
        self,
        frames: CallFrames,
        *,
        a: Mapping[str, Any] | None = None,
        b: Mapping[str, Any] | None = None,
        n_boot: int = 200,
        key: str = "run_id",
        traffic: str = "production",
    ) -> None:
        super().__init__(frames)
        if traffic not in SIDE_TRAFFIC.values():
            raise ValueError(
                f"traffic must be one of {', '.join(map(repr, SIDE_TRAFFIC.values()))}, "
                f"got {traffic!r}"
            )
        self.n_boot = n_boot
        self.key = key
        self.scopes: dict[str, Scope] = {}
        self.sides: dict[str, CallFrames] = {}
        self.explained: pd.DataFrame | None = None
        runs = load_test_runs(frames, key=key)
        run_options: list[tuple[str, Any]] = [("any run", None)] + [
            (f"{r}  ·  {n:,} calls", str(r))
            for r, n in zip(runs[key], runs["n_calls"], strict=True)
        ]
        named = frames.calls.assign(_name=agent_names(frames.calls))
        named = named.dropna(subset=["agent_id"]).drop_duplicates("agent_id")
        agents = sorted(zip(named["agent_id"].astype(str), named["_name"], strict=True))
        agent_options: list[tuple[str, Any]] = [("any agent", None)] + [
            (display.agent(x, name or None), x) for x, name in agents
        ]
        created = pd.to_datetime(frames.calls["created_at"], utc=True)
        self._days = sorted(created.dt.floor("D").dropna().unique())
        day_options = [(d.strftime("%a %d %b %Y"), d) for d in self._days] or [("no dates", None)]
        self.controls = {}
        for side, chosen in (("a", dict(a or {})), ("b", dict(b or {}))):
            run = chosen.get("run_id")
            agent = chosen.get("agent_id")
            valid_runs = [v for _, v in run_options]
            valid_agents = [v for _, v in agent_options]
            self.controls[f"{side}_run"] = dropdown(
                run_options, run if run in valid_runs else None, f"{side}: run", "420px"
            )
            self.controls[f"{side}_agent"] = dropdown(
                agent_options, agent if agent in valid_agents else None, "agent", "340px"
            )
            self.controls[f"{side}_days"] = widgets.SelectionRangeSlider(
                options=day_options,
                index=self._day_index(chosen.get("since"), chosen.get("until")),
                description="days",
                disabled=len(self._days) <= 1,
                continuous_update=False,
                layout=widgets.Layout(width="460px"),
            )
        self.controls["traffic"] = dropdown(
            list(SIDE_TRAFFIC.items()), traffic, "sides without a run", "460px"
        )
        self.controls["metric"] = dropdown(list(COMPARE_METRICS), "response_ms", "metric", "300px")
        self.scope_text = widgets.HTML()
        self.table = widgets.HTML()
        self._views = [self.table]
        c = self.controls
        self.widget = widgets.VBox(
            [
                self.scope_text,
                *(widgets.HBox([c[f"{s}_run"], c[f"{s}_agent"], c[f"{s}_days"]]) for s in _SIDES),
                widgets.HBox([c["traffic"], c["metric"]]),
                self.message,
                self.output,
                self.table,
            ]
        )
        self._watch(*self.controls)
        self.refresh()

    def _day_index(self, since: Any, until: Any) -> tuple[int, int]:
        last = max(len(self._days) - 1, 0)
        if not self._days:
            return 0, 0
        lo, hi = 0, last
        if since is not None:
            start = pd.Timestamp(since)
            start = start.tz_localize("UTC") if start.tzinfo is None else start.tz_convert("UTC")
            lo = next((i for i, d in enumerate(self._days) if d >= start.floor("D")), last)
        if until is not None:
            end = pd.Timestamp(until)
            end = end.tz_localize("UTC") if end.tzinfo is None else end.tz_convert("UTC")
            hi = max((i for i, d in enumerate(self._days) if d < end), default=lo)
        return lo, max(lo, hi)

    def _scope(self, side: str) -> Scope:
        """The side's scope from its controls: its run, or the traffic control's calls."""
        c = self.controls
        since = until = None
        if self._days:
            first, last = c[f"{side}_days"].value
            if (first, last) != (self._days[0], self._days[-1]):
                since, until = first, last + timedelta(days=1)
        run, agent = c[f"{side}_run"].value, c[f"{side}_agent"].value
        return Scope(
            traffic="load_test" if run is not None else c["traffic"].value,
            run_ids=(run,) if run is not None else (),
            agents=(agent,) if agent is not None else (),
            since=since,
            until=until,
            run_key=self.key,
        )

    def _render(self) -> None:
        self.scopes = {side: self._scope(side) for side in _SIDES}
        self.sides = {side: scope.select(self.frames) for side, scope in self.scopes.items()}
        # the explorer opens with its scope, as the compare report's "In short" does
        self.scope_text.value = "".join(
            f"<p><b>{side}</b>: {display.html(scope.sentence(self.frames))}</p>"
            for side, scope in self.scopes.items()
        )
        empty = [side for side in _SIDES if self.sides[side].calls.empty]
        if empty:
            self.explained = None
            self.table.value = ""
            self._show(None, None, None, f"side {' and '.join(empty)} has no calls: widen it")
            return
        a, b = self.sides["a"], self.sides["b"]
        metric = self.controls["metric"].value
        table = compare(a, b, metrics=metric, n_boot=self.n_boot, seed=0)
        rate = metric.endswith("_rate") or metric == "cents_per_minute"
        fig, axes = self._draw((12.0, 4.2), (1, 2), ("distribution", "difference"))
        with self._figure_guard(fig):
            if rate:
                axes["distribution"].set_visible(False)
            else:
                plots.compare_ecdf(a, b, metric=metric, ax=axes["distribution"])
            plots.compare_forest(table, ax=axes["difference"])
        parts = [frame_html(readable_table(table).frame)]  # as the compare report reads it
        self.explained = None
        if metric == "response_ms":
            self.explained = explain_change(a, b, n_boot=self.n_boot, seed=0)
            parts.append("<p><b>Which component moved the median response</b></p>")
            parts.append(frame_html(explained_table(self.explained, "p50").frame))
        self.table.value = "".join(parts)
        reasons = table.loc[table["change"].str.startswith("not enough calls"), "change"]
        self._show(fig, axes, table, str(reasons.iloc[0]) if len(reasons) else "")
