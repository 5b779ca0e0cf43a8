"""oneinbox_nb: OneInbox voice-agent calls in Jupyter, as tidy pandas frames.

>>> import oneinbox_nb as oi                                      # doctest: +SKIP
>>> frames = oi.load_call("3f2b8c1e-9d4a-4e57-b1c2-7a8d9e0f1a2b")  # key from ONEINBOX_API_KEY
>>> frames.turns[["turn", "response_ms"]]

Layers point one way: exceptions/config <- client <- frames <- analysis <- plots <- widgets, with
sample, fetch, report, dashboard and the CLI on top. ``import oneinbox_nb`` loads the client and
the frames only; ``oi.analysis``, ``oi.plots``, ``oi.widgets``, ``oi.sample``, ``oi.report`` and
``oi.display`` are imported on first access.
"""

from __future__ import annotations

from .client import AsyncOneInboxClient, OneInboxClient, RetryPolicy
from .dataset import Dataset, SyncResult, compact, open_dataset, sync
from .exceptions import OneInboxError
from .fetch import FetchResult, fetch_calls, fetch_calls_async, load_call
from .frames import CallFrames, to_frames
from .scope import Scope, ScopeError, traffic_kind

__version__ = "0.1.0"

# Submodules that load on first attribute access (PEP 562), so `import oneinbox_nb as oi` stays light
# and `oi.analysis.find_knee(...)` still works without a separate import.
_LAZY_SUBMODULES = frozenset({"analysis", "display", "plots", "report", "sample", "widgets"})


def __getattr__(name: str):
    if name in _LAZY_SUBMODULES:
        import importlib

        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | _LAZY_SUBMODULES)


__all__ = [
    "AsyncOneInboxClient",
    "CallFrames",
    "Dataset",
    "FetchResult",
    "OneInboxClient",
    "OneInboxError",
    "RetryPolicy",
    "Scope",
    "ScopeError",
    "SyncResult",
    "__version__",
    "compact",
    "fetch_calls",
    "fetch_calls_async",
    "load_call",
    "open_dataset",
    "sync",
    "to_frames",
    "traffic_kind",
]
