"""LoadTestExplorer: a load-test run, a metric against concurrency, its percentile bands, the knee."""

from __future__ import annotations

import ipywidgets as widgets

from .. import analysis, plots
from .. import display as show
from ..frames import CallFrames
from ..scope import Scope
from . import _views as views
from ._base import _Explorer, dropdown, frame_html

#: Percentile choices of :class:`LoadTestExplorer`.
LOAD_TEST_PERCENTILES: tuple[int, ...] = (50, 90, 95, 99)

# the bins read as in the load-test report (stories/load_test.py): concurrency whole, times in ms
_BIN_FORMATS = {
    "bin_left": show.concurrency,
    "bin_right": show.concurrency,
    "concurrency_mid": show.concurrency,
    **{f"p{q}": show.ms for q in (50, 75, 90, 95, 99)},
    "baseline_ms": show.ms,
}


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
        run_options = [
            (views.run_label(row, key), str(row[key])) for _, row in self.runs.iterrows()
        ]
        metrics = [*analysis.TURN_METRICS, *analysis.CALL_METRICS]
        self.controls = {
            "run": dropdown(run_options, run_options[0][1] if run_options else None, "run", "100%"),
            "metric": dropdown(metrics, "response_ms", "metric", "300px"),
            "percentile": dropdown(
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
        bands = (50,) if percentile == 50 else (50, percentile)
        fig, axes = self._draw((9.0, 5.0), (1, 1), ("scatter",))
        with self._figure_guard(fig):
            plots.concurrency_scatter(
                self.frames,
                metric=metric,
                run=run,
                percentiles=bands,
                knee=knee,
                bins=views.bin_edges(knee.bins),
                key=self.key,
                ax=axes["scatter"],
            )
        self.knee = knee
        # the explorer opens with its scope, as the report's "In short" does
        scope = Scope.for_runs(run, run_key=self.key).sentence(self.frames)
        self.knee_text.value = f"<p>{show.html(scope)}</p><p><b>{show.html(str(knee))}</b></p>"
        self.table.value = frame_html(knee.bins, _BIN_FORMATS)
        self._show(fig, axes, knee.bins)

    def _fail(self, exc: Exception) -> None:
        super()._fail(exc)
        self.knee = None

    def __repr__(self) -> str:
        c = self.controls
        return (
            f"LoadTestExplorer(run={c['run'].value!r}, metric={c['metric'].value!r}, "
            f"percentile={c['percentile'].value})"
        )
