"""LiveExplorer: "how is this load test doing right now?" A view over a watched run that redraws.

A thin view over a :class:`oneinbox_nb.live.LiveRun` (duck-typed here: the widgets sit below the
watcher in the layers): every ``interval`` seconds the explorer asks the run to refresh and redraws
in place: the figure (rolling p95 of the response and each component against dispatch concurrency,
one point per refresh), the rolling table, the knee and each threshold. Nothing is re-run; the
figure and the HTML views are replaced where they stand, in Jupyter and in a Voila page alike.

The timer is a task on the kernel's event loop (``asyncio``), so it runs between cell executions
and in Voila; :meth:`LiveExplorer.tick` does one refresh and redraw by hand (the tests use it).
"""

from __future__ import annotations

import asyncio
import math
from typing import Any

import ipywidgets as widgets

from .. import display
from ._base import _Explorer, frame_html, note_panel

__all__ = ["LiveExplorer"]

_SERIES = ("response_ms", "eou_delay_ms", "llm_ttft_ms", "tts_ttfb_ms", "stt_ms")


class LiveExplorer(_Explorer):
    """A watched run, redrawn every ``interval`` seconds.

    Parameters
    ----------
    run : oneinbox_nb.live.LiveRun
        What :func:`oneinbox_nb.watch` returned.
    interval : float or None, default 2
        Seconds between refreshes; None: no timer (call :meth:`tick`).

    Attributes
    ----------
    controls : dict
        ``"pause"`` (ToggleButton: stop refreshing) and ``"refresh"`` (Button: refresh now).
    status : ipywidgets.HTML
        The population sentence and the calls in flight, completed and failed.
    table : ipywidgets.HTML
        The rolling p50/p95 per component as readers see them (``LiveRun.rolling_shown``:
        "not enough calls (n)" below the minimum); ``result`` is ``LiveRun.rolling()``.
    judged : ipywidgets.HTML
        The knee and each threshold with ✓ or ✗.
    ticks : int
        Refreshes the explorer asked for.
    """

    def __init__(self, run: Any, *, interval: float | None = 2.0) -> None:
        super().__init__(run.frames)
        self.run = run
        self.interval = interval
        self.ticks = 0
        self.controls = {
            "pause": widgets.ToggleButton(value=False, description="pause", icon="pause"),
            "refresh": widgets.Button(description="refresh now"),
        }
        self.controls["refresh"].on_click(self._guarded(lambda _: self.tick()))
        self.scope_text = widgets.HTML()
        self.status = widgets.HTML()
        self.table = widgets.HTML()
        self.judged = widgets.HTML()
        self._views += [self.table, self.judged]
        self.widget = widgets.VBox(
            [
                self.scope_text,
                widgets.HBox(list(self.controls.values())),
                self.status,
                self.output,
                self.table,
                self.judged,
                self.message,
            ]
        )
        self._task: asyncio.Task | None = None
        self.refresh()
        if interval is not None:
            self.start()

    # -- the timer --------------------------------------------------------------------------------

    def tick(self) -> None:
        """Refresh the run once (unless paused or over) and redraw."""
        if not self.controls["pause"].value and not self.run.over:
            try:
                self.run.refresh()
            except Exception as exc:  # a failed poll keeps what was seen; shown, not raised
                self._fail(exc)
                return
            self.ticks += 1
        self.refresh()

    async def _every(self, interval: float) -> None:
        while not self.run.over:
            await asyncio.sleep(interval)
            self.tick()

    def start(self) -> None:
        """Start the timer on the running event loop (the kernel's); no loop: no timer."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            try:
                loop = asyncio.get_event_loop()
            except RuntimeError:
                return
        if self._task is None or self._task.done():
            self._task = loop.create_task(self._every(float(self.interval or 2.0)))

    def stop(self) -> None:
        """Stop the timer."""
        if self._task is not None:
            self._task.cancel()
            self._task = None

    # -- drawing ------------------------------------------------------------------------------------

    def _render(self) -> None:
        run = self.run
        table = run.rolling()
        # the explorer opens with its scope (the calls seen so far), as the reports' "In short" does
        self.scope_text.value = f"<p>{display.html(run.scope.sentence(run.frames))}</p>"
        self.status.value = (
            f"<p><b>{display.html(run.summary().splitlines()[0])}</b><br>"
            f"{display.count(run.n_calls)} calls: {display.count(run.in_flight)} in flight, "
            f"{display.count(run.completed)} completed, {display.count(run.failed)} failed"
            + (f"; {display.html(run.reason)}" if run.reason else "")
            + "</p>"
        )
        self.table.value = frame_html(run.rolling_shown())
        lines = [f"<li>knee: {display.html(run.knee_text())}</li>"]
        for row in run.threshold_state.itertuples():
            mark = "✓" if row.verdict == "pass" else "✗" if "breach" in row.verdict else "?"
            lines.append(
                f"<li>{mark} {display.html(row.threshold)}: {display.html(row.verdict)}, "
                f"{display.html(row.shown)}</li>"
            )
        self.judged.value = "<ul>" + "".join(lines) + "</ul>"
        fig, axes = self._draw((9.0, 4.0), (1, 1), ("p95",))
        with self._figure_guard(fig):
            self._plot_history(axes["p95"])
        self._show(fig, axes, table)

    def _plot_history(self, ax: Any) -> None:
        history = [h for h in self.run.history if math.isfinite(h.get("concurrency", math.nan))]
        if not history:
            note_panel(ax, "no ended calls yet")
            return
        x = [h["concurrency"] for h in history]
        for metric in _SERIES:
            y = [h.get(f"{metric}_p95", math.nan) for h in history]
            ax.plot(x, y, marker=".", linewidth=1, label=metric)
        ax.set_xlabel("dispatch concurrency (highest in the rolling window)")
        ax.set_ylabel("rolling p95 (ms)")
        ax.legend(loc="upper left", fontsize="small")
        ax.set_title(display.label(self.run.scope_text))
