"""Interactive explorers of :class:`~oneinbox_nb.frames.CallFrames` for Jupyter, built on ipywidgets.

Each explorer is a thin view in the manner of ipywidgets' ``interact`` and mpl-interactions: a few
controls wired to the plain functions of :mod:`oneinbox_nb.analysis` and :mod:`oneinbox_nb.plots`.
Explorers compute nothing themselves beyond choosing which calls and turns to show.

=============================  ==================================================================
explorer                       shows
=============================  ==================================================================
:class:`TurnExplorer`          one call, turn by turn: transcript, waterfall, per-turn strip
:class:`CostExplorer`          cost, credits or cents per minute by a grouping, over a day range
:class:`LoadTestExplorer`      a load-test run: metric vs concurrency, percentile bands, the knee
=============================  ==================================================================

Every explorer has

``controls``
    dict of the input widgets by name; setting a control's ``value`` (or clicking a button) redraws.
``output``
    the :class:`ipywidgets.Output` the matplotlib figure is displayed in (shown once, then closed
    in pyplot, so figures never pile up).
``message``
    an :class:`ipywidgets.HTML` for notes ("no turns", "no load-test runs") and errors.
``figure``, ``axes``
    the matplotlib Figure last drawn and its Axes by name (None / empty when nothing is drawn).
``result``
    the DataFrame last drawn (None when nothing is drawn).
``error``
    the exception the last interaction raised, or None. ipywidgets swallows exceptions raised in
    callbacks, so explorers catch them, keep them here and show ``"<Type>: <message>"`` in
    ``message``; the next successful redraw resets ``error`` to None.
``widget``
    the top-level :class:`ipywidgets.VBox`; an explorer displays itself through it.
"""

from __future__ import annotations

import contextlib
import html
import json
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import ipywidgets as widgets
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from IPython.display import display
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from . import analysis, plots
from .frames import CallFrames

__all__ = [
    "CALL_ORDERS",
    "COST_METRICS",
    "LOAD_TEST_PERCENTILES",
    "CostExplorer",
    "LoadTestExplorer",
    "TurnExplorer",
]

_RED = "#b00020"
_MUTED = "#666"


# --------------------------------------------------------------------------------------------------
# The shared contract
# --------------------------------------------------------------------------------------------------


class _Explorer:
    """Controls wired to a render function; the last result, figure and error kept as attributes."""

    controls: dict[str, widgets.Widget]
    output: widgets.Output
    message: widgets.HTML
    widget: widgets.VBox
    frames: CallFrames
    result: pd.DataFrame | None
    figure: Figure | None
    axes: dict[str, Axes]
    error: Exception | None

    def __init__(self, frames: CallFrames) -> None:
        if not isinstance(frames, CallFrames):
            raise TypeError(
                f"frames must be CallFrames, got {type(frames).__name__}; build them with to_frames()"
            )
        self.frames = frames
        self.controls = {}
        self.output = widgets.Output()
        self.message = widgets.HTML()
        self.result = None
        self.figure = None
        self.axes = {}
        self.error = None
        self._views: list[widgets.HTML] = []  # HTML views that go blank when a render fails
        self._quiet_depth = 0

    # -- rendering --------------------------------------------------------------------------------

    def refresh(self) -> None:
        """Redraw from the current control values (what every control change does)."""
        if self._quiet_depth:
            return
        try:
            self._render()
        except Exception as exc:  # ipywidgets would only log it: keep it where tests can see it
            self._fail(exc)
        else:
            self.error = None

    def _render(self) -> None:  # pragma: no cover - every explorer overrides it
        raise NotImplementedError

    def _guarded(self, handler: Callable[..., None]) -> Callable[..., None]:
        """``handler`` with any exception stored on ``.error`` and shown instead of raised."""

        def run(*args: Any) -> None:
            try:
                handler(*args)
            except Exception as exc:
                self._fail(exc)

        return run

    def _watch(self, *names: str, handler: Callable[..., None] | None = None) -> None:
        """Redraw (or call ``handler``) when the ``value`` of these controls changes."""
        callback = self._guarded(handler) if handler is not None else self._on_value
        for name in names:
            self.controls[name].observe(callback, names="value")

    def _on_value(self, change: Mapping[str, Any]) -> None:
        self.refresh()

    @contextlib.contextmanager
    def _quiet(self) -> Iterator[None]:
        """Change several controls without redrawing after each change."""
        self._quiet_depth += 1
        try:
            yield
        finally:
            self._quiet_depth -= 1

    def _draw(
        self, figsize: tuple[float, float], layout: Any, names: tuple[str, ...]
    ) -> tuple[Figure, dict[str, Axes]]:
        """A new figure with one Axes per name (``layout`` as for ``plt.subplots``)."""
        fig, axs = plt.subplots(*layout, figsize=figsize, layout="constrained", squeeze=False)
        return fig, dict(zip(names, axs.ravel(), strict=True))

    def _show(
        self,
        figure: Figure | None,
        axes: Mapping[str, Axes] | None,
        result: pd.DataFrame | None,
        note: str = "",
    ) -> None:
        """Publish a finished render: display the figure once, keep it and the result."""
        with self.output:
            self.output.clear_output(wait=True)
            if figure is not None:
                display(figure)
        if figure is not None:
            plt.close(figure)
        self.figure = figure
        self.axes = dict(axes or {})
        self.result = result
        self.message.value = (
            f'<div style="color:{_MUTED};font-style:italic">{html.escape(note)}</div>'
            if note
            else ""
        )

    def _fail(self, exc: Exception) -> None:
        self.error = exc
        self.result = None
        self.figure = None
        self.axes = {}
        with self.output:
            self.output.clear_output()
        for view in self._views:
            view.value = ""
        self.message.value = (
            f'<div style="color:{_RED};border-left:3px solid {_RED};padding:2px 8px">'
            f"<b>{html.escape(type(exc).__name__)}</b>: {html.escape(str(exc))}"
            f'<br><span style="color:{_MUTED};font-size:90%">the exception is on '
            f"<code>.error</code>; change a control to try again</span></div>"
        )

    @contextlib.contextmanager
    def _figure_guard(self, figure: Figure) -> Iterator[None]:
        """Close ``figure`` if drawing into it fails, so a failed render leaks nothing."""
        try:
            yield
        except BaseException:
            plt.close(figure)
            raise

    # -- display ----------------------------------------------------------------------------------

    def _ipython_display_(self) -> None:
        display(self.widget)

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return self.widget._repr_mimebundle_(**kwargs)


def _short(value: Any, width: int = 8) -> str:
    """None -> "(none)"; UUIDs cut to their first ``width`` characters."""
    if value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value)):
        return "(none)"
    text = str(value)
    if len(text) == 36 and text.count("-") == 4:
        return text[:width] + "…"
    return text


def _text(value: Any) -> str:
    """A cell as text: missing values as the empty string."""
    if value is None or value is pd.NA or value is pd.NaT:
        return ""
    if isinstance(value, float) and np.isnan(value):
        return ""
    return str(value)


def _format_cell(value: Any, fmt: str) -> str:
    if value is None or value is pd.NA or value is pd.NaT:
        return "—"
    if isinstance(value, (float, np.floating)) and not np.isfinite(value):
        return "—"
    if isinstance(value, pd.Timestamp):
        return value.strftime("%Y-%m-%d")
    if isinstance(value, (bool, np.bool_)):
        return "✓" if value else ""
    try:
        return fmt.format(value)
    except (TypeError, ValueError):
        return str(value)


def _frame_html(frame: pd.DataFrame, formats: Mapping[str, str] | None = None) -> str:
    """A DataFrame as an escaped HTML table: thousands separators, dates as days, NaN as a dash."""
    formats = dict(formats or {})
    formatters = {}
    for column in frame.columns:
        dtype = frame[column].dtype
        if column in formats:
            fmt = formats[column]
        elif pd.api.types.is_bool_dtype(dtype):
            fmt = "{}"
        elif pd.api.types.is_integer_dtype(dtype):
            fmt = "{:,}"
        elif pd.api.types.is_float_dtype(dtype):
            fmt = "{:,.2f}"
        else:
            fmt = "{}"
        formatters[column] = lambda v, fmt=fmt: _format_cell(v, fmt)
    return frame.to_html(
        index=False, formatters=formatters, escape=True, border=0, classes="oneinbox-table"
    )


def _dropdown(options: Any, value: Any, description: str, width: str = "auto") -> widgets.Dropdown:
    return widgets.Dropdown(
        options=options,
        value=value,
        description=description,
        style={"description_width": "initial"},
        layout=widgets.Layout(width=width),
    )


# --------------------------------------------------------------------------------------------------
# Turns
# --------------------------------------------------------------------------------------------------

#: Orders of the call list in :class:`TurnExplorer`.
CALL_ORDERS: tuple[str, ...] = ("worst turn first", "newest first", "most problems")


class TurnExplorer(_Explorer):
    """Step through a call's turns: transcript, latency waterfall and the call's per-turn strip.

    Parameters
    ----------
    frames : CallFrames
    call_id : str, optional
        The call shown first; default: the call with the slowest turn. It starts at its slowest
        turn (``calls.worst_turn``), else its first turn.

    Attributes
    ----------
    controls : dict
        ``search`` (Text: substring of call id, agent id, status or outcome), ``order``
        (Dropdown of :data:`CALL_ORDERS`), ``call`` (Dropdown of call ids), ``turn`` (IntSlider
        from the call's first turn to its last), ``prev`` and ``next`` (Buttons; they stop at the
        ends).
    transcript : ipywidgets.HTML
        The current turn's messages: user, agent, tool calls with their arguments and results
        (errors in red). All content is HTML-escaped.
    result : pandas.DataFrame or None
        :func:`~oneinbox_nb.analysis.turn_chain` of the current turn (empty for a turn without
        latency events).
    figure : matplotlib.figure.Figure or None
        ``axes["waterfall"]`` (:func:`~oneinbox_nb.plots.turn_waterfall`, titled "turn N of call
        <id prefix>...") above ``axes["strip"]`` (:func:`~oneinbox_nb.plots.turn_strip` with the
        current turn highlighted). None for a call without turns.
    error : Exception or None

    Examples
    --------
    >>> TurnExplorer(frames)                          # doctest: +SKIP
    >>> TurnExplorer(frames, call_id="3f2b8c1e-...")  # doctest: +SKIP
    """

    transcript: widgets.HTML

    def __init__(self, frames: CallFrames, *, call_id: str | None = None) -> None:
        super().__init__(frames)
        self._catalog = self._build_catalog(frames)
        self._bounds = self._turn_bounds(frames)
        if call_id is not None and call_id not in set(self._catalog["call_id"]):
            shown = ", ".join(_short(c) for c in self._catalog["call_id"].head(5))
            raise ValueError(
                f"call_id {call_id!r} is not in these frames; "
                f"they hold {len(self._catalog):,} calls ({shown}{' ...' if len(self._catalog) > 5 else ''})"
            )
        self._cached: tuple[str, CallFrames] | None = None

        options = self._options(CALL_ORDERS[0], "")
        first = call_id if call_id is not None else (options[0][1] if options else None)
        self.controls = {
            "search": widgets.Text(
                placeholder="id, agent, status or outcome",
                description="search",
                style={"description_width": "initial"},
                layout=widgets.Layout(width="280px"),
            ),
            "order": _dropdown(list(CALL_ORDERS), CALL_ORDERS[0], "order", "220px"),
            "call": _dropdown(options, first, "call", "100%"),
            "turn": widgets.IntSlider(
                value=0, min=0, max=0, description="turn", continuous_update=False
            ),
            "prev": widgets.Button(description="◀ prev", layout=widgets.Layout(width="80px")),
            "next": widgets.Button(description="next ▶", layout=widgets.Layout(width="80px")),
        }
        self.transcript = widgets.HTML()
        self._views = [self.transcript]
        c = self.controls
        self.widget = widgets.VBox(
            [
                widgets.HBox([c["search"], c["order"]]),
                c["call"],
                widgets.HBox([c["prev"], c["turn"], c["next"]]),
                self.message,
                self.transcript,
                self.output,
            ]
        )
        self._watch("search", "order", handler=self._on_filter)
        self._watch("call", handler=self._on_call)
        self._watch("turn")
        c["prev"].on_click(self._guarded(lambda _: self._step(-1)))
        c["next"].on_click(self._guarded(lambda _: self._step(+1)))
        self._sync_turns()
        self.refresh()

    # -- the call list ----------------------------------------------------------------------------

    @staticmethod
    def _build_catalog(frames: CallFrames) -> pd.DataFrame:
        calls = frames.calls.drop_duplicates("call_id").dropna(subset=["call_id"])
        text = {
            name: calls[name].astype(object).map(_text)
            for name in ("call_id", "agent_id", "status", "outcome")
        }
        worst = calls["max_response_ms"].astype(float)
        problems = calls["n_problems"].astype(float).fillna(0)
        labels = [
            f"{_short(i)}  ·  agent {_short(a) if a else '(none)'}  ·  {s or '(no status)'}"
            f"{'  ·  ' + o if o else ''}  ·  "
            + (f"worst {w:,.0f} ms (turn {t})" if np.isfinite(w) else "no answered turns")
            + (f"  ·  {p:,.0f} problems" if p else "")
            for i, a, s, o, w, t, p in zip(
                text["call_id"],
                text["agent_id"],
                text["status"],
                text["outcome"],
                worst,
                calls["worst_turn"].astype(object).map(_text),
                problems,
                strict=True,
            )
        ]
        haystack = (
            text["call_id"]
            + "\n"
            + text["agent_id"]
            + "\n"
            + text["status"]
            + "\n"
            + text["outcome"]
        ).str.lower()
        return pd.DataFrame(
            {
                "call_id": text["call_id"].to_numpy(),
                "label": labels,
                "haystack": haystack.to_numpy(),
                "created_at": calls["created_at"].to_numpy(),
                "max_response_ms": worst.to_numpy(),
                "n_problems": problems.to_numpy(),
                "worst_turn": calls["worst_turn"].astype(object).to_numpy(),
            }
        )

    def _options(self, order: str, search: str) -> list[tuple[str, str]]:
        catalog = self._catalog
        needle = search.strip().lower()
        if needle:
            catalog = catalog[catalog["haystack"].str.contains(needle, regex=False)]
        if order == "worst turn first":
            catalog = catalog.sort_values(
                "max_response_ms", ascending=False, na_position="last", kind="stable"
            )
        elif order == "newest first":
            catalog = catalog.sort_values(
                "created_at", ascending=False, na_position="last", kind="stable"
            )
        elif order == "most problems":
            catalog = catalog.sort_values(
                ["n_problems", "max_response_ms"], ascending=False, na_position="last"
            )
        else:
            raise ValueError(f"invalid order {order!r}; valid values: {', '.join(CALL_ORDERS)}")
        return list(zip(catalog["label"], catalog["call_id"], strict=True))

    def _on_filter(self, change: Mapping[str, Any]) -> None:
        call = self.controls["call"]
        before = call.value
        with self._quiet():
            options = self._options(self.controls["order"].value, self.controls["search"].value)
            call.options = options
            if call.value is None and options:  # from no match back to some: pick the first
                call.value = options[0][1]
        if call.value != before:
            self._sync_turns()
            self.refresh()
        elif before is None:
            self.refresh()

    # -- turns ------------------------------------------------------------------------------------

    @staticmethod
    def _turn_bounds(frames: CallFrames) -> dict[str, tuple[int, int]]:
        """First and last turn of each call, from its latency turns and its messages."""
        both = pd.concat(
            [
                frames.turns[["call_id", "turn"]].astype({"call_id": object, "turn": "Float64"}),
                frames.messages[["call_id", "turn"]].astype({"call_id": object, "turn": "Float64"}),
            ],
            ignore_index=True,
        ).dropna()
        both = both[both["turn"] >= 0]
        if both.empty:
            return {}
        grouped = both.groupby("call_id", sort=False)["turn"].agg(["min", "max"])
        return {
            str(i): (int(lo), int(hi))
            for i, lo, hi in zip(grouped.index, grouped["min"], grouped["max"], strict=True)
        }

    def _sync_turns(self) -> None:
        """Fit the turn slider to the current call; start at its worst turn."""
        call_id = self.controls["call"].value
        slider = self.controls["turn"]
        bounds = self._bounds.get(call_id) if call_id is not None else None
        with self._quiet(), slider.hold_trait_notifications():
            if bounds is None:
                slider.min, slider.max, slider.value = 0, 0, 0
                slider.disabled = True
            else:
                lo, hi = bounds
                worst = self._catalog.loc[self._catalog["call_id"] == call_id, "worst_turn"]
                start = worst.iloc[0] if len(worst) else None
                start = int(start) if start is not None and not pd.isna(start) else lo
                slider.min, slider.max = lo, hi
                slider.value = min(max(start, lo), hi)
                slider.disabled = False
        for name in ("prev", "next"):
            self.controls[name].disabled = bounds is None

    def _on_call(self, change: Mapping[str, Any]) -> None:
        self._sync_turns()
        self.refresh()

    def _step(self, delta: int) -> None:
        slider = self.controls["turn"]
        slider.value = min(max(slider.value + delta, slider.min), slider.max)

    def _call_frames(self, call_id: str) -> CallFrames:
        if self._cached is None or self._cached[0] != call_id:
            self._cached = (call_id, self.frames.call(call_id))
        return self._cached[1]

    # -- drawing ----------------------------------------------------------------------------------

    def _render(self) -> None:
        call_id = self.controls["call"].value
        empty = analysis.turn_chain(CallFrames.empty())
        if call_id is None:
            search = self.controls["search"].value
            note = f"no call matches {search!r}" if search.strip() else "these frames hold no calls"
            self.transcript.value = ""
            self._show(None, None, empty, note)
            return
        one = self._call_frames(call_id)
        if call_id not in self._bounds:
            status = _text(one.calls["status"].iloc[0]) if len(one.calls) else ""
            self.transcript.value = ""
            self._show(
                None,
                None,
                empty,
                f"call {call_id} has no turns: no messages and no latency events"
                + (f" (status {status})" if status else ""),
            )
            return
        turn = int(self.controls["turn"].value)
        chain = analysis.turn_chain(one, call_id=call_id, turn=turn)
        transcript = _transcript_html(one, call_id, turn)
        strip_turns = analysis.turn_latency(one, call_id=call_id)["turn"].dropna().astype(int)
        strip_turns = set(strip_turns.tolist())
        fig, axes = self._draw((9.0, 7.0), (2, 1), ("waterfall", "strip"))
        with self._figure_guard(fig):
            ax = axes["waterfall"]
            if chain.empty:
                _note(ax, f"no latency events in turn {turn}")
                ax.set_title(f"turn {turn} of call {_short(call_id)}", loc="left")
            else:
                plots.turn_waterfall(one, call_id=call_id, turn=turn, ax=ax)
                if turn == 0:  # the plot says "greeting"; the browser tests look for "turn N"
                    title = ax.get_title(loc="left").replace("greeting", "turn 0 (greeting)", 1)
                    ax.set_title(title, loc="left")
            ax = axes["strip"]
            if strip_turns:
                highlight = turn if turn in strip_turns else None
                plots.turn_strip(one, call_id=call_id, highlight_turn=highlight, ax=ax)
            else:
                _note(ax, "this call has no latency events")
        self.transcript.value = transcript
        self._show(fig, axes, chain)

    def __repr__(self) -> str:
        c = self.controls
        return f"TurnExplorer(call_id={c['call'].value!r}, turn={c['turn'].value})"


def _note(ax: Axes, text: str) -> None:
    """An empty panel carrying a short grey note instead of a plot."""
    ax.set_axis_off()
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, color="0.4")


_ROLE_STYLE = {
    "user": ("caller", "#1f4e79", "#eef4fb"),
    "agent": ("agent", "#2d6a2d", "#f1f8f1"),
    "tool_call": ("tool call", "#7a5c00", "#fbf6e6"),
    "tool_result": ("tool result", "#7a5c00", "#fbf6e6"),
}
_MAX_CONTENT = 2_000


def _clip(text: str) -> str:
    return text if len(text) <= _MAX_CONTENT else text[:_MAX_CONTENT] + " …"


def _transcript_html(one: CallFrames, call_id: str, turn: int) -> str:
    """The messages of one turn as escaped HTML; ``is_error`` tool results in red."""
    messages = one.messages
    in_turn = (messages["call_id"] == call_id) & (messages["turn"] == turn)
    rows = messages[in_turn.fillna(False).to_numpy(dtype=bool)].sort_values("seq", kind="stable")
    calls = one.calls[one.calls["call_id"] == call_id]
    head = ""
    if len(calls):
        row = calls.iloc[0]
        bits = [
            f"<b>call</b> <code>{html.escape(call_id)}</code>",
            f"agent <code>{html.escape(_text(row['agent_id']) or '(none)')}</code>",
            html.escape(_text(row["status"]) or "(no status)"),
        ]
        if _text(row["outcome"]):
            bits.append(html.escape(_text(row["outcome"])))
        head = f'<div style="margin-bottom:4px">{" · ".join(bits)}</div>'
    what = "turn 0 (greeting)" if turn == 0 else f"turn {turn}"
    head += f'<div style="font-weight:bold;margin-bottom:4px">{what}</div>'
    if rows.empty:
        return head + f'<div style="color:{_MUTED};font-style:italic">no messages in {what}</div>'
    items = []
    for row in rows.itertuples(index=False):
        role = _text(row.role)
        label, colour, background = _ROLE_STYLE.get(role, (role or "message", "#444", "#f6f6f6"))
        tool = _text(row.tool_name)
        css = f"oneinbox-{role.replace('_', '-') or 'message'}"
        if role == "tool_call":
            arguments = row.tool_arguments
            if isinstance(arguments, Mapping):
                shown = json.dumps(dict(arguments), ensure_ascii=False, default=str)
            else:
                shown = _text(row.tool_arguments_raw)
            body = (
                f"<code>{html.escape(tool or '(unnamed tool)')}</code>"
                f"(<code>{html.escape(_clip(shown))}</code>)"
            )
        elif role == "tool_result":
            body = (
                f"<code>{html.escape(tool)}</code> → " if tool else ""
            ) + f"<code>{html.escape(_clip(_text(row.content)))}</code>"
        else:
            body = html.escape(_clip(_text(row.content)))
        is_error = not pd.isna(row.is_error) and bool(row.is_error)
        if is_error:
            colour, background, css = _RED, "#fdecea", css + " oneinbox-tool-error"
            label += " (error)"
        items.append(
            f'<div class="{css}" style="border-left:3px solid {colour};background:{background};'
            f'padding:2px 8px;margin:2px 0"><span style="color:{colour};font-weight:bold">'
            f"{html.escape(label)}</span> {body}</div>"
        )
    return head + "".join(items)


# --------------------------------------------------------------------------------------------------
# Cost
# --------------------------------------------------------------------------------------------------

#: Metric choices of :class:`CostExplorer`: label -> column of :func:`~oneinbox_nb.analysis.cost_by`.
COST_METRICS: Mapping[str, str] = {
    "cents": "cost_cents",
    "credits": "credits_used",
    "cents per minute": "cents_per_minute",
}

_COST_FORMATS = {
    "minutes": "{:,.1f}",
    "cost_cents": "{:,.0f}",
    "credits_used": "{:,.2f}",
    "mean_cost_cents": "{:,.1f}",
    "p50_cost_cents": "{:,.1f}",
    "p95_cost_cents": "{:,.1f}",
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
        ``calls.created_at``; values are midnight UTC Timestamps).
    table : ipywidgets.HTML
        The table behind the bars, formatted.
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

    table: widgets.HTML

    def __init__(self, frames: CallFrames) -> None:
        super().__init__(frames)
        created = frames.calls["created_at"]
        self._day = created.dt.floor("D")
        days = sorted(self._day.dropna().unique())
        day_options: list[tuple[str, Any]] = [(d.strftime("%a %d %b %Y"), d) for d in days]
        self._n_days = len(day_options)
        self.controls = {
            "by": _dropdown(list(analysis.COST_GROUPS), "agent_id", "group by", "220px"),
            "metric": _dropdown(list(COST_METRICS.items()), "cost_cents", "metric", "220px"),
            "days": widgets.SelectionRangeSlider(
                options=day_options or [("no dates", None)],
                index=(0, max(self._n_days - 1, 0)),
                description="days",
                disabled=self._n_days <= 1,
                continuous_update=False,
                style={"description_width": "initial"},
                layout=widgets.Layout(width="520px"),
            ),
        }
        self.table = widgets.HTML()
        self._views = [self.table]
        c = self.controls
        self.widget = widgets.VBox(
            [widgets.HBox([c["by"], c["metric"]]), c["days"], self.message, self.output, self.table]
        )
        self._watch("by", "metric", "days")
        self.refresh()

    def selected(self) -> CallFrames:
        """The frames of the calls in the current day range (all of them for the full range)."""
        lo, hi = self.controls["days"].index
        if self._n_days == 0 or (lo, hi) == (0, self._n_days - 1):
            return self.frames
        first, last = self.controls["days"].value
        inside = ((self._day >= first) & (self._day <= last)).fillna(False).to_numpy(dtype=bool)
        ids = self.frames.calls["call_id"][inside].dropna().unique()
        return self.frames.select(list(ids))

    def _render(self) -> None:
        by, metric = self.controls["by"].value, self.controls["metric"].value
        frames = self.selected()
        table = analysis.cost_by(frames, by)
        fig, axes = self._draw((12.0, 4.5), (1, 2), ("bars", "distribution"))
        with self._figure_guard(fig):
            plots.cost_by(frames, by=by, metric=metric, ax=axes["bars"])
            plots.cost_distribution(frames, metric=metric, ax=axes["distribution"])
        span = ""
        if self._n_days:
            first, last = self.controls["days"].value
            span = first.strftime("%Y-%m-%d")
            span += f" to {last.strftime('%Y-%m-%d')}" if last != first else ""
            span = f", created {span} (UTC)"
        caption = (
            f"<p><b>{html.escape(metric)} by {html.escape(by)}</b>: "
            f"{len(frames.calls):,} calls{html.escape(span)}</p>"
        )
        self.table.value = caption + _frame_html(table, _COST_FORMATS)
        self._show(fig, axes, table)

    def __repr__(self) -> str:
        c = self.controls
        return f"CostExplorer(by={c['by'].value!r}, metric={c['metric'].value!r})"


# --------------------------------------------------------------------------------------------------
# Load tests
# --------------------------------------------------------------------------------------------------

#: Percentile choices of :class:`LoadTestExplorer`.
LOAD_TEST_PERCENTILES: tuple[int, ...] = (50, 90, 95, 99)

_BIN_FORMATS = {"bin_left": "{:,.1f}", "bin_right": "{:,.1f}", "concurrency_mid": "{:,.1f}"}


class LoadTestExplorer(_Explorer):
    """A load-test run: a metric against concurrency, its percentile bands and the knee.

    Parameters
    ----------
    frames : CallFrames
    key : str, default "run_id"
        The metadata key naming runs (as for :func:`~oneinbox_nb.analysis.load_test_runs`).
    n_boot : int, default 200
        Bootstrap resamples of the knee's confidence interval; modest to stay responsive.

    Attributes
    ----------
    controls : dict
        ``run`` (Dropdown of the runs, oldest first), ``metric`` (Dropdown of
        :data:`~oneinbox_nb.analysis.TURN_METRICS` and :data:`~oneinbox_nb.analysis.CALL_METRICS`),
        ``percentile`` (Dropdown of :data:`LOAD_TEST_PERCENTILES`, default 95) and ``margin``
        (FloatSlider, how far above the low-load baseline counts as degraded, default 0.5).
    knee : Knee or None
        :func:`~oneinbox_nb.analysis.find_knee` for the current controls; its sentence is shown.
    result : pandas.DataFrame or None
        ``knee.bins``: the percentile per concurrency bin, with ``baseline`` and ``above``.
    figure : matplotlib.figure.Figure or None
        ``axes["scatter"]``: :func:`~oneinbox_nb.plots.concurrency_scatter` with bands p50 to
        the chosen percentile, in the knee's bins, and the knee marked.
    error : Exception or None

    Notes
    -----
    Frames without a run (no call carries ``metadata[key]``) show a message and draw nothing;
    that is not an error.
    """

    knee: analysis.Knee | None
    knee_text: widgets.HTML
    table: widgets.HTML

    def __init__(self, frames: CallFrames, *, key: str = "run_id", n_boot: int = 200) -> None:
        super().__init__(frames)
        self.key = key
        self.n_boot = n_boot
        self.knee = None
        self.runs = analysis.load_test_runs(frames, key=key)
        run_options = [(self._run_label(row), str(row[key])) for _, row in self.runs.iterrows()]
        metrics = [*analysis.TURN_METRICS, *analysis.CALL_METRICS]
        self.controls = {
            "run": _dropdown(
                run_options, run_options[0][1] if run_options else None, "run", "100%"
            ),
            "metric": _dropdown(metrics, "response_ms", "metric", "300px"),
            "percentile": _dropdown(
                [(f"p{p}", p) for p in LOAD_TEST_PERCENTILES], 95, "percentile", "160px"
            ),
            "margin": widgets.FloatSlider(
                value=0.5,
                min=0.1,
                max=2.0,
                step=0.05,
                description="margin",
                readout_format=".0%",
                continuous_update=False,
            ),
        }
        self.knee_text = widgets.HTML()
        self.table = widgets.HTML()
        self._views = [self.knee_text, self.table]
        c = self.controls
        self.widget = widgets.VBox(
            [
                c["run"],
                widgets.HBox([c["metric"], c["percentile"], c["margin"]]),
                self.message,
                self.knee_text,
                self.output,
                self.table,
            ]
        )
        if not run_options:
            for control in self.controls.values():
                control.disabled = True
        self._watch("run", "metric", "percentile", "margin")
        self.refresh()

    def _run_label(self, row: pd.Series) -> str:
        lo, hi = row["concurrency_min"], row["concurrency_max"]
        span = (
            f"  ·  concurrency {lo:,.0f}–{hi:,.0f}"
            if pd.notna(lo) and pd.notna(hi)
            else "  ·  no concurrency"
        )
        return f"{row[self.key]}  ·  {row['n_calls']:,} calls{span}"

    def _render(self) -> None:
        run = self.controls["run"].value
        if run is None:
            self.knee = None
            self.knee_text.value = ""
            self.table.value = ""
            self._show(
                None,
                None,
                None,
                f"no load-test runs here: no call has metadata {self.key!r} "
                f"(calls column meta_{self.key})",
            )
            return
        metric = self.controls["metric"].value
        percentile = self.controls["percentile"].value
        knee = analysis.find_knee(
            self.frames,
            metric=metric,
            percentile=percentile,
            margin=self.controls["margin"].value,
            run=run,
            key=self.key,
            n_boot=self.n_boot,
        )
        bins = knee.bins
        edges: Any = (
            [*bins["bin_left"].tolist(), float(bins["bin_right"].iloc[-1])] if len(bins) else 10
        )
        bands = (50,) if percentile == 50 else (50, percentile)
        fig, axes = self._draw((9.0, 5.0), (1, 1), ("scatter",))
        with self._figure_guard(fig):
            plots.concurrency_scatter(
                self.frames,
                metric=metric,
                run=run,
                percentiles=bands,
                knee=knee,
                bins=edges,
                key=self.key,
                ax=axes["scatter"],
            )
        self.knee = knee
        self.knee_text.value = f"<p><b>{html.escape(str(knee))}</b></p>"
        self.table.value = _frame_html(bins, _BIN_FORMATS)
        self._show(fig, axes, bins)

    def _fail(self, exc: Exception) -> None:
        super()._fail(exc)
        self.knee = None

    def __repr__(self) -> str:
        c = self.controls
        return (
            f"LoadTestExplorer(run={c['run'].value!r}, metric={c['metric'].value!r}, "
            f"percentile={c['percentile'].value})"
        )
