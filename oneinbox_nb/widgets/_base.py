"""What every explorer shares: the :class:`_Explorer` contract and the HTML table under a figure."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import ipywidgets as widgets
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from IPython.display import display
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from .. import display as show
from ..frames import CallFrames
from ._views import MUTED, RED, is_missing, looks_like_uuid, short


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
        """Publish a finished render: put the figure (or nothing) in ``output``, keep the result.

        The Output's ``outputs`` are set directly rather than captured with ``display``: a render
        without a figure then empties the Output on screen too (``clear_output(wait=True)`` would
        keep the old figure until new output came, which never does).
        """
        self.output.outputs = () if figure is None else (_figure_output(figure),)
        if figure is not None:
            plt.close(figure)
        self.figure = figure
        self.axes = dict(axes or {})
        self.result = result
        self.message.value = (
            f'<div style="color:{MUTED};font-style:italic">{show.html(note)}</div>' if note else ""
        )

    def _fail(self, exc: Exception) -> None:
        self.error = exc
        self.result = None
        self.figure = None
        self.axes = {}
        self.output.outputs = ()
        for view in self._views:
            view.value = ""
        self.message.value = (
            f'<div style="color:{RED};border-left:3px solid {RED};padding:2px 8px">'
            f"<b>{show.html(type(exc).__name__)}</b>: {show.html(str(exc))}"
            f'<br><span style="color:{MUTED};font-size:90%">the exception is on '
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


def _in_kernel() -> bool:
    """True inside a Jupyter kernel (a notebook or Voila), where a front end can show a PNG."""
    from IPython import get_ipython

    shell = get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None


def _figure_output(figure: Figure) -> dict[str, Any]:
    """``figure`` as one display_data output of an Output widget.

    In a kernel, a PNG as the inline backend makes it; elsewhere (plain Python, the tests) only the
    ``text/plain`` line, as ``display(figure)`` would print there: no front end shows a PNG, and
    making one is most of the cost of a redraw.
    """
    data = {"text/plain": repr(figure)}
    if _in_kernel():
        from IPython.core.pylabtools import print_figure

        data["image/png"] = print_figure(figure, "png", bbox_inches="tight", base64=True)
    return {"output_type": "display_data", "data": data, "metadata": {}}


def note_panel(ax: Axes, message: str) -> None:
    """An empty panel carrying a short grey note instead of a plot."""
    ax.set_axis_off()
    ax.text(0.5, 0.5, message, ha="center", va="center", transform=ax.transAxes, color="0.4")


def dropdown(options: Any, value: Any, description: str, width: str = "auto") -> widgets.Dropdown:
    return widgets.Dropdown(
        options=options,
        value=value,
        description=description,
        style={"description_width": "initial"},
        layout=widgets.Layout(width=width),
    )


# -- the table under a figure --------------------------------------------------------------------

_CELL = "padding:2px 10px;white-space:nowrap;border-bottom:1px solid #e5e5e5"
_HEAD = "padding:2px 10px;border-bottom:1px solid #999;vertical-align:bottom"


def format_cell(value: Any, fmt: str | Callable[[Any], str]) -> str:
    """A value as table text: unknown as "unknown", dates as days, booleans as a tick.

    ``fmt`` is a :mod:`oneinbox_nb.display` formatter (or a format string for text).
    """
    if is_missing(value):
        return "unknown"
    if isinstance(value, (float, np.floating)) and not np.isfinite(value):
        return "unknown"
    if isinstance(value, pd.Timestamp):
        return value.strftime("%Y-%m-%d")
    if isinstance(value, (bool, np.bool_)):
        return "✓" if value else ""
    if callable(fmt):
        return fmt(value)
    try:
        return fmt.format(value)
    except (TypeError, ValueError):
        return str(value)


def _cell_html(value: Any, fmt: str, numeric: bool) -> str:
    shown = format_cell(value, fmt)
    align = "right" if numeric else "left"
    style = f"{_CELL};text-align:{align}" + (";color:#888" if shown == "unknown" else "")
    if not numeric and not is_missing(value) and looks_like_uuid(str(value)):
        full = show.html(str(value))
        inner = f'<span title="{full}"><code>{show.html(short(value))}</code></span>'
    else:
        inner = show.html(shown)
    return f'<td style="{style}">{inner}</td>'


def frame_html(
    frame: pd.DataFrame, formats: Mapping[str, str | Callable[[Any], str]] | None = None
) -> str:
    """A DataFrame as a styled, escaped HTML table.

    Numeric columns are right-aligned in tabular figures and read through :mod:`oneinbox_nb.display`
    (counts, ``*_ms`` columns in ms, other floats as plain decimals) unless ``formats`` names a
    formatter for the column; no cell
    wraps; UUIDs (agent and call ids) show their first 8 characters with the full id as the
    ``title`` (on hover); a missing value reads "unknown". Every header and value is
    HTML-escaped: ids and names come from the API and are untrusted.
    """
    formats = dict(formats or {})
    columns = []
    for column in frame.columns:
        dtype = frame[column].dtype
        numeric = pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype)
        if column in formats:
            fmt = formats[column]
        elif pd.api.types.is_integer_dtype(dtype) and numeric:
            fmt = show.count
        elif numeric and str(column).endswith("_ms"):
            fmt = show.ms
        elif pd.api.types.is_float_dtype(dtype):
            fmt = show.number
        else:
            fmt = "{}"
        columns.append((column, fmt, numeric))
    head = "".join(
        f'<th style="{_HEAD};text-align:{"right" if numeric else "left"}">'
        f"{show.html(str(column))}</th>"
        for column, _, numeric in columns
    )
    body = "".join(
        "<tr>"
        + "".join(
            _cell_html(value, fmt, numeric)
            for value, (_, fmt, numeric) in zip(row, columns, strict=True)
        )
        + "</tr>"
        for row in frame.itertuples(index=False, name=None)
    )
    return (
        '<table class="oneinbox-table" style="border-collapse:collapse;font-size:90%;'
        f'font-variant-numeric:tabular-nums"><thead><tr>{head}</tr></thead>'
        f"<tbody>{body}</tbody></table>"
    )
