"""Production history at scale: a local Parquet dataset of calls, synced and queried in place.

* :func:`sync` brings an organisation's calls into a dataset, in bounded memory, incrementally and
  crash-safely (:mod:`.sync`, layout in :mod:`.store`).
* :func:`open_dataset` returns a :class:`Dataset`: selected calls as CallFrames, SQL over the
  tables, and fleet questions (volume, latency percentiles, cost, failures) on DuckDB or Spark
  (:mod:`.read`, :mod:`.fleet`).
* :func:`compact` rewrites a dataset with one version per call.
"""

from __future__ import annotations

from .read import Dataset, open_dataset
from .sync import SyncResult, compact, sync

__all__ = ["Dataset", "SyncResult", "compact", "open_dataset", "sync"]
