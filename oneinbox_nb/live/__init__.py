"""Watching a load test while it runs: :func:`watch` returns a :class:`LiveRun`.

``run.py`` follows the calls (listing, store, frames, rolling statistics, knee, thresholds);
``terminal.py`` draws it in a terminal (``oneinbox-nb watch``). The Jupyter explorer is
:mod:`oneinbox_nb.widgets.live`.
"""

from __future__ import annotations

from .run import (
    LOOKBACK_S,
    QUIET_PERIOD_S,
    ROLLING_METRICS,
    SETTLE_S,
    START_TIMEOUT_S,
    LiveRun,
    WatchError,
    watch,
)
from .terminal import live_table

__all__ = [
    "LOOKBACK_S",
    "QUIET_PERIOD_S",
    "ROLLING_METRICS",
    "SETTLE_S",
    "START_TIMEOUT_S",
    "LiveRun",
    "WatchError",
    "live_table",
    "watch",
]
