"""Production history at scale: a local Parquet dataset of calls, synced and queried in place.

* :func:`sync` brings an organisation's calls into a dataset, in bounded memory, incrementally and
  crash-safely (:mod:`.sync`, layout in :mod:`.store`).
* :func:`open_dataset` returns a :class:`Dataset`: selected calls as CallFrames, SQL over the
  tables, and fleet questions (volume, latency percentiles, cost, failures) on DuckDB or Spark
  (:mod:`.read`, :mod:`.fleet`).
* :func:`compact` rewrites a dataset with one version per call; :func:`migrate` converts a dataset
  of format version 1 to the open format (:mod:`.upkeep`, layout in :mod:`.store`).
* A dataset knows its account (:mod:`.account`); :func:`default_dataset_path` is where an
  account's dataset lives unless told otherwise.
"""

from __future__ import annotations

from .account import default_dataset_path
from .read import Dataset, open_dataset
from .store import DatasetError
from .sync import SyncResult, sync
from .upkeep import compact, migrate

__all__ = [
    "Dataset",
    "DatasetError",
    "SyncResult",
    "compact",
    "default_dataset_path",
    "migrate",
    "open_dataset",
    "sync",
]
