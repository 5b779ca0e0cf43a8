"""Two load-test runs of one system, the second with a regression planted: material for comparing.

:func:`regression_pair` holds the system fixed (the knee) and varies the draws (the seed), as two
runs of one load-test script a week apart would; run b carries the planted regression, which its
truth records.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .generator import _build

__all__ = ["RegressionPair", "regression_pair"]


@dataclass(frozen=True)
class RegressionPair:
    """What :func:`regression_pair` made.

    Attributes
    ----------
    calls : list of dict
        Both runs' ``CallResponse`` payloads (a's first).
    a, b : dict
        Each run's :func:`~oneinbox_nb.sample.truth` (``run_id``, ``knee_concurrency``,
        ``regression``...).
    """

    calls: list[dict[str, Any]]
    a: dict[str, Any]
    b: dict[str, Any]


def regression_pair(
    *, seed: int = 0, regression: str | None = "slow_llm", n: int | None = None, knee: int = 60
) -> RegressionPair:
    """Run a (``seed``) and run b (``seed + 1``, with ``regression``) of one load-test system.

    Parameters
    ----------
    seed : int, default 0
    regression : str or None, default "slow_llm"
        A name of :data:`~oneinbox_nb.sample.REGRESSIONS` planted in run b; None: an A/A pair.
    n : int, optional
        Calls per run (default 1,000).
    knee : int, default 60
        The knee concurrency of both runs.

    Returns
    -------
    RegressionPair
    """
    options = {"n": n, "turns": None, "knee": knee}
    # one build a run gives its calls and its truth (generate() and truth() would build it twice)
    a = _build("load_test", seed=seed, **options)
    b = _build("load_test", seed=seed + 1, regression=regression, **options)
    return RegressionPair(calls=a.calls + b.calls, a=a.truth, b=b.truth)
