"""oneinbox_nb: OneInbox voice-agent calls in Jupyter, as tidy pandas frames.

>>> import oneinbox_nb as oi                                      # doctest: +SKIP
>>> frames = oi.load_call("3f2b8c1e-9d4a-4e57-b1c2-7a8d9e0f1a2b")  # key from ONEINBOX_API_KEY
>>> frames.turns[["turn", "response_ms"]]

Layers point one way: exceptions/config/matching/display <- client <- cache <- frames <- scope <-
fetch <- redact <- analysis <- plots <- stories <- widgets, with source, dataset, sample, report,
dashboard, thresholds, gate, live and the CLI on top. ``import oneinbox_nb`` loads the exception tree
only (pandas, httpx, DuckDB and the dataset layer stay unloaded, so the CLI's ``--version`` and
``--help`` answer at once): each public name (``oi.to_frames``, ``oi.OneInboxClient``, ...) is
imported from its module on first access, and so are ``oi.analysis``, ``oi.plots``,
``oi.widgets``, ``oi.sample``, ``oi.report`` and ``oi.display`` (PEP 562).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from .exceptions import OneInboxError

if TYPE_CHECKING:  # what the lazy names below resolve to, for type checkers and IDEs
    from .client import AsyncOneInboxClient, OneInboxClient, RetryPolicy
    from .dataset import Dataset, SyncResult, compact, open_dataset, sync
    from .fetch import FetchResult, fetch_calls, fetch_calls_async, load_call
    from .frames import CallFrames, to_frames
    from .gate import GateResult, check
    from .live import LiveRun, watch
    from .scope import Scope, ScopeError, traffic_kind

__version__ = "0.1.0"

# Public names and the module each comes from, imported on first access (PEP 562): the client needs
# httpx, the frames pandas, the dataset DuckDB and pyarrow; none of them is loaded by the import.
_LAZY_NAMES = {
    "AsyncOneInboxClient": "client",
    "OneInboxClient": "client",
    "RetryPolicy": "client",
    "Dataset": "dataset",
    "SyncResult": "dataset",
    "compact": "dataset",
    "open_dataset": "dataset",
    "sync": "dataset",
    "FetchResult": "fetch",
    "fetch_calls": "fetch",
    "fetch_calls_async": "fetch",
    "load_call": "fetch",
    "CallFrames": "frames",
    "to_frames": "frames",
    "Scope": "scope",
    "ScopeError": "scope",
    "traffic_kind": "scope",
    "GateResult": "gate",
    "check": "gate",
    "LiveRun": "live",
    "watch": "live",
}
# Submodules that load on first attribute access, so `oi.analysis.find_knee(...)` works without a
# separate import.
_LAZY_SUBMODULES = frozenset({"analysis", "display", "plots", "report", "sample", "widgets"})


def __getattr__(name: str):
    if name in _LAZY_NAMES:
        value = getattr(importlib.import_module(f".{_LAZY_NAMES[name]}", __name__), name)
        globals()[name] = value  # resolved once; later lookups skip this function
        return value
    if name in _LAZY_SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY_NAMES) | _LAZY_SUBMODULES)


__all__ = [
    "AsyncOneInboxClient",
    "CallFrames",
    "Dataset",
    "FetchResult",
    "GateResult",
    "LiveRun",
    "OneInboxClient",
    "OneInboxError",
    "RetryPolicy",
    "Scope",
    "ScopeError",
    "SyncResult",
    "__version__",
    "check",
    "compact",
    "fetch_calls",
    "fetch_calls_async",
    "load_call",
    "open_dataset",
    "sync",
    "to_frames",
    "traffic_kind",
    "watch",
]
