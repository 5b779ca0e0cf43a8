"""The terminal view of a :class:`~oneinbox_nb.live.LiveRun` (``oneinbox-nb watch``), with ``rich``."""

from __future__ import annotations

from typing import Any

from .. import display
from ..thresholds import failed, state_symbol
from .run import LiveRun

__all__ = ["live_table"]


def _table(live: LiveRun) -> Any:
    from rich.table import Table

    table = Table(
        title=f"{live.scope_text}: {display.count(live.n_calls)} calls, "
        f"{display.count(live.in_flight)} in flight, {display.count(live.completed)} completed, "
        f"{display.count(live.failed)} failed",
        caption=live.reason or f"refresh {live.refreshes}, every {live.interval:g} s",
    )
    for name in ("metric", "p50", "p95", "calls", "concurrency"):
        table.add_column(name, justify="left" if name == "metric" else "right")
    for cells in live.rolling_shown().itertuples(index=False):
        table.add_row(*(str(cell) for cell in cells))
    from rich.console import Group

    judged = Table(show_header=False, box=None, pad_edge=False)
    judged.add_column("", width=1)
    judged.add_column("what", no_wrap=True)
    judged.add_column("state")
    judged.add_row("", "knee", live.knee_text())
    for row in live.threshold_state.itertuples():
        judged.add_row(state_symbol(row.verdict), row.threshold, f"{row.verdict}: {row.shown}")
    return Group(table, judged)


def live_table(live: LiveRun, *, console: Any = None) -> int:
    """Follow ``live`` in a live terminal table (``rich``) until the run is over or Ctrl-C.

    Prints the final summary (:meth:`LiveRun.summary`) at the end either way.

    Returns
    -------
    int
        0, or 1 when a threshold is breached at the end (130 after Ctrl-C).
    """
    from rich.console import Console
    from rich.live import Live

    console = console or Console()
    interrupted = False
    with Live(_table(live), console=console, auto_refresh=False, transient=False) as view:
        try:
            live.run(on_update=lambda run: view.update(_table(run), refresh=True))
        except KeyboardInterrupt:
            interrupted = True
        view.update(_table(live), refresh=True)
    console.print()
    console.print(live.summary(), markup=False, highlight=False)
    if interrupted:
        return 130
    return 1 if failed(list(live.threshold_state.get("verdict", []))) else 0
