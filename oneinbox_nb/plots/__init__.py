"""Matplotlib views of :class:`~oneinbox_nb.frames.CallFrames`, drawn from :mod:`oneinbox_nb.analysis`.

Every function takes the frames first and keyword-only options, draws on ``ax`` (a new figure when
None), passes ``**kwargs`` to its main artist and returns the Axes; none calls ``plt.show()``.
Colours are fixed per component (:data:`COMPONENT_COLORS`) so a waterfall, a strip and a
distribution of the same data read alike. Invalid options raise :class:`ValueError` naming the
valid ones.

One module per question; import the functions from here::

    plots/
        _base.py     colours, axes creation, labels, option checks, the no-data note;
                     the percentile lines and knee marks the load and compare plots share
        turns.py     where does a call's time go? waterfall, strip, distributions, providers, connect
        cost.py      what do calls cost? distribution, by group
        load.py      how does latency grow with load? scatter, percentile bands, the knee
        compare.py   what changed from a to b? forest, ECDF, turn chain, concurrency

=============================  ==================================================================
plot                           shows
=============================  ==================================================================
:func:`turn_waterfall`         one turn's chain of latency steps (stt hatched: overlaps speech)
:func:`turn_strip`             every turn of a call as a stacked response bar
:func:`component_distributions`  per-component latency distributions (log scale)
:func:`provider_comparison`    a latency percentile per component and provider
:func:`cost_distribution`      per-call cost, credits or cents per minute
:func:`cost_by`                cost, credits or cents per minute by agent, day, outcome...
:func:`concurrency_scatter`    a load test: values vs concurrency, percentile bands, the knee
:func:`connect_breakdown`      the connect phases dispatch -> answer -> active -> greeting
:func:`compare_forest`         two sets of calls: each difference with its interval
:func:`compare_ecdf`           two sets of calls: a metric's distributions overlaid
:func:`compare_turn_chain`     two sets of calls: the typical turn of each, on one time axis
:func:`compare_concurrency`    two load tests: binned percentiles against concurrency, both knees
=============================  ==================================================================
"""

from ._base import COMPONENT_COLORS, CONNECT_COLORS
from .compare import (
    GROUP_COLORS,
    compare_concurrency,
    compare_ecdf,
    compare_forest,
    compare_turn_chain,
)
from .cost import cost_by, cost_distribution
from .load import concurrency_scatter
from .turns import (
    component_distributions,
    connect_breakdown,
    provider_comparison,
    turn_strip,
    turn_waterfall,
)

__all__ = [
    "COMPONENT_COLORS",
    "CONNECT_COLORS",
    "GROUP_COLORS",
    "compare_concurrency",
    "compare_ecdf",
    "compare_forest",
    "compare_turn_chain",
    "component_distributions",
    "concurrency_scatter",
    "connect_breakdown",
    "cost_by",
    "cost_distribution",
    "provider_comparison",
    "turn_strip",
    "turn_waterfall",
]
