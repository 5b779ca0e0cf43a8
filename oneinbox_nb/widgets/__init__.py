"""Interactive explorers of :class:`~oneinbox_nb.frames.CallFrames` for Jupyter, built on ipywidgets.

Each explorer is a thin view in the manner of ipywidgets' ``interact`` and mpl-interactions: a few
controls wired to the plain functions of :mod:`oneinbox_nb.analysis` and :mod:`oneinbox_nb.plots`.
Explorers compute nothing themselves beyond choosing which calls, turns and days to show, and that
choosing lives in pure functions too.

Layout, one room per question::

    widgets/
      __init__.py  the public names below
      turn.py      TurnExplorer      "what happened in this call, turn by turn?"
                                     transcript, latency waterfall, per-turn strip
      cost.py      CostExplorer      "what did these calls cost, by agent/day/outcome...?"
                                     bars and distribution over a day range, styled table
      load.py      LoadTestExplorer  "where does this load test degrade?"
                                     metric vs concurrency, percentile bands, the knee
      compare.py   CompareExplorer   "what changed between these two runs, periods or agents?"
                                     both sides' distributions, the differences, the table
      live.py      LiveExplorer      "how is this load test doing right now?" (a watched run,
                                     redrawn on a timer)
      _base.py     the _Explorer contract (below), the styled HTML table under a figure
      _views.py    pure logic: call list and search, turn bounds, transcript HTML, day range

Every explorer has

``controls``
    dict of the input widgets by name; setting a control's ``value`` (or clicking a button) redraws.
``output``
    the :class:`ipywidgets.Output` holding the matplotlib figure as a PNG (its ``outputs`` are set,
    so a render without a figure empties it; the figure is closed in pyplot, so none pile up).
``message``
    an :class:`ipywidgets.HTML` for notes ("no turns", "no call matches", "no load-test runs") and
    errors.
``figure``, ``axes``
    the matplotlib Figure last drawn and its Axes by name (None / empty when nothing is drawn).
``result``
    the DataFrame last drawn (None when nothing is drawn).
``scope``
    each explorer opens with its population as one plain sentence, the
    :meth:`Scope.sentence <oneinbox_nb.scope.Scope.sentence>` the reports open with (cost: in its
    table's caption; load test: above the knee; compare and turn: ``scope_text``, first).
``error``
    the exception the last interaction raised, or None. ipywidgets swallows exceptions raised in
    callbacks, so explorers catch them, keep them here and show ``"<Type>: <message>"`` in
    ``message``; the next successful redraw resets ``error`` to None.
``widget``
    the top-level :class:`ipywidgets.VBox`; an explorer displays itself through it.
"""

from __future__ import annotations

from ._views import CALL_ORDERS
from .compare import SIDE_TRAFFIC, CompareExplorer
from .cost import COST_METRICS, CostExplorer
from .live import LiveExplorer
from .load import LOAD_TEST_PERCENTILES, LoadTestExplorer
from .turn import TurnExplorer

__all__ = [
    "CALL_ORDERS",
    "COST_METRICS",
    "LOAD_TEST_PERCENTILES",
    "SIDE_TRAFFIC",
    "CompareExplorer",
    "CostExplorer",
    "LiveExplorer",
    "LoadTestExplorer",
    "TurnExplorer",
]
