"""Which component moved the response between two sets of calls: :func:`explain_change`.

A percentile of the response is not the sum of the components' percentiles, so the change in a
response statistic is split over the turns that make the statistic (see :func:`explain_change`),
with intervals from resampling whole calls in each side, as :func:`~oneinbox_nb.analysis.compare`
does.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from .. import display
from ..frames import CallFrames
from ._calls import COMPONENTS, RESPONSE_COMPONENTS, _providers
from ._options import _check_boot, _one_of
from ._stats import _call_weights, _chunks, _percentile_interval, _resampled_quantiles
from .compare import MIN_CALLS, _Group, _rng

__all__ = ["explain_change"]


_EXPLAIN_COLUMNS = [
    "level",
    "component",
    "provider",
    "a_ms",
    "b_ms",
    "contribution_ms",
    "share",
    "ci_low",
    "ci_high",
]
_PARTS = tuple(f"{c}_ms" for c in RESPONSE_COMPONENTS)


def _statistic_q(statistic: Any) -> float | None:
    """``"p50" -> 0.5``, ``"mean" -> None``; ValueError otherwise."""
    if statistic == "mean":
        return None
    if isinstance(statistic, str) and statistic.startswith("p"):
        try:
            p = float(statistic[1:])
        except ValueError:
            p = -1.0
        if 0 <= p <= 100:
            return p / 100
    raise ValueError(
        f"invalid statistic {statistic!r}; valid values: 'mean' or 'p<0-100>' such as 'p50', 'p95'"
    )


class _Explained:
    """One group's answered turns for :func:`explain_change`, sorted by response time."""

    def __init__(self, group: _Group, components: Sequence[str]) -> None:
        turns = group.turns(RESPONSE_COMPONENTS)
        response = turns["response_ms"].to_numpy(dtype=float)
        keep = np.isfinite(response)
        order = np.argsort(response[keep], kind="stable")
        self.call = turns["call"].to_numpy()[keep][order]
        self.response = response[keep][order]
        self.parts = (
            np.stack([np.nan_to_num(turns[p].to_numpy(dtype=float)[keep][order]) for p in _PARTS])
            if len(order)
            else np.zeros((len(_PARTS), 0))
        )
        table = _providers(group.calls)
        self.providers: dict[str, np.ndarray] = {}
        for component in components:
            labels = table[COMPONENTS.index(component)]
            codes = self.call
            values = np.full(len(codes), None, dtype=object)
            inside = codes < len(labels)
            values[inside] = labels[codes[inside]]
            self.providers[component] = values
        self.n_calls = len(np.unique(self.call))
        self.n_all = group.calls.n

    def stats(
        self, weights: np.ndarray, q: float | None, half: float, splits: dict[str, list[Any]]
    ) -> tuple[np.ndarray, np.ndarray, dict[tuple[str, Any], np.ndarray]]:
        """Per resample: the statistic, each part's mean over the turns around it, provider splits.

        ``weights`` are call multiplicities ``(size, n_calls)``. The turns "around" a percentile
        are those whose mid-rank in the expanded resample lies within ``q ± half``; for the mean,
        every turn.
        """
        size = weights.shape[0]
        w = weights[:, self.call]
        total = w.sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            if q is None:
                stat = (w * self.response).sum(axis=1) / total
                window = w
            else:
                stat = _resampled_quantiles(weights, self.call, self.response, [q])[:, 0]
                rank = (np.cumsum(w, axis=1) - w / 2) / total[:, None]
                window = w * ((rank >= q - half) & (rank <= q + half))
            weight = window.sum(axis=1)
            means = (window @ self.parts.T) / weight[:, None]  # (size, parts)
            split = {}
            for component, providers in splits.items():
                part = self.parts[_PARTS.index(f"{component}_ms")]
                labels = self.providers[component]
                for provider in providers:
                    mask = labels == provider if provider is not None else pd.isna(labels)
                    split[(component, provider)] = (window[:, mask] @ part[mask]) / weight
        if not len(self.call):
            stat = np.full(size, np.nan)
        return stat, means, split


def explain_change(
    a: CallFrames,
    b: CallFrames,
    *,
    metric: str = "response_ms",
    statistic: str = "p50",
    window: float = 0.05,
    n_boot: int = 1000,
    ci: float = 0.95,
    seed: int | None = None,
) -> pd.DataFrame:
    """How much of the change in a response statistic each component accounts for.

    A percentile of the response is not the sum of the components' percentiles, so the change is
    split over the turns that make the statistic: in each group, the answered turns whose response
    rank lies within ``window`` of the percentile (every turn for ``"mean"``). Their response is,
    on average, the sum of their components' means, so the change in each component's mean over
    those turns is its contribution; the ``residual`` row holds what the window's mean response
    misses of the statistic itself (small). The ``component`` and ``residual`` contributions sum
    exactly to the ``total`` change. Where a component's providers differ between a and b, its
    contribution is also split by provider (``provider`` rows, summing to the component's).

    Parameters
    ----------
    a, b : CallFrames
    metric : {"response_ms"}
        The statistic's metric (the one made of components).
    statistic : str, default "p50"
        ``"p<percentile>"`` (``"p50"``, ``"p95"``...) or ``"mean"``.
    window : float, default 0.05
        Half-width of the rank window around the percentile (0.05: turns between p45 and p55).
    n_boot : int, default 1000
        Resamples of whole calls in each group, independently (0: no intervals).
    ci : float, default 0.95
    seed : int, optional
        Seed of the resampling (None: fresh randomness).

    Returns
    -------
    pandas.DataFrame
        ``level`` (``"component"``, ``"residual"``, ``"total"``, ``"provider"``), ``component``
        (``eou_delay``, ``kb``, ``tool``, ``llm_ttft``, ``tts_ttfb``; the metric for the total
        row), ``provider`` (None but on provider rows; ``None`` there is an unknown provider),
        ``a_ms``, ``b_ms`` (the component's mean over the window turns, the statistic on the total
        row), ``contribution_ms`` (b - a), ``share`` (of the total change), ``ci_low``,
        ``ci_high`` (of ``contribution_ms``). ``attrs`` holds ``metric``, ``statistic``,
        ``window``, ``n_calls_a``, ``n_calls_b`` and ``note`` (why intervals are NaN, if they
        are: fewer than :data:`MIN_CALLS` calls with answered turns in a group).

    Raises
    ------
    ValueError
        An invalid metric, statistic, window, n_boot, ci or seed.
    """
    _one_of("metric", metric, ("response_ms",))
    q = _statistic_q(statistic)
    ok = isinstance(window, (int, float)) and not isinstance(window, bool)
    if not ok or not 0 < window <= 0.5:
        raise ValueError(f"window must be a number in (0, 0.5], got {window!r}")
    n_boot = _check_boot(n_boot, ci)
    rng = _rng(seed)
    provider_components = [
        c for c in RESPONSE_COMPONENTS if c in ("eou_delay", "llm_ttft", "tts_ttfb")
    ]
    sides = [
        _Explained(_Group(a, "a"), provider_components),
        _Explained(_Group(b, "b"), provider_components),
    ]

    splits: dict[str, list[Any]] = {}
    for component in provider_components:
        seen = [
            set(pd.unique(pd.Series(side.providers[component], dtype=object)).tolist())
            for side in sides
        ]
        seen = [{None if pd.isna(p) else p for p in s} for s in seen]
        if seen[0] != seen[1]:
            splits[component] = sorted(seen[0] | seen[1], key=lambda p: (p is None, str(p)))

    points = [side.stats(np.ones((1, side.n_all)), q, window, splits) for side in sides]
    note = ""
    n_a, n_b = sides[0].n_calls, sides[1].n_calls
    boots: list[list[Any]] = [[], []]
    if n_a < MIN_CALLS or n_b < MIN_CALLS:
        note = (
            f"too few calls to tell (a: {display.count(n_a)}, b: {display.count(n_b)}; "
            f"need {display.count(MIN_CALLS)} in each)"
        )
    elif n_boot:
        for g, side in enumerate(sides):
            for size in _chunks(max(len(side.call), 1), n_boot):
                boots[g].append(side.stats(_call_weights(rng, side.n_all, size), q, window, splits))

    def interval(pick: Any) -> tuple[float, float]:
        if not boots[0]:
            return float("nan"), float("nan")
        values = [np.concatenate([pick(part) for part in boots[g]]) for g in (0, 1)]
        return _percentile_interval(values[1] - values[0], ci)

    stat_a, stat_b = float(points[0][0][0]), float(points[1][0][0])
    total = stat_b - stat_a
    rows = []

    def add(level: str, component: str, provider: Any, va: float, vb: float, pick: Any) -> None:
        contribution = vb - va
        low, high = interval(pick)
        share = contribution / total if total != 0 and np.isfinite(total) else float("nan")
        rows.append([level, component, provider, va, vb, contribution, share, low, high])

    for k, component in enumerate(RESPONSE_COMPONENTS):
        add(
            "component",
            component,
            None,
            float(points[0][1][0, k]),
            float(points[1][1][0, k]),
            lambda part, k=k: part[1][:, k],
        )
    add(
        "residual",
        "residual",
        None,
        stat_a - float(np.nansum(points[0][1][0])),
        stat_b - float(np.nansum(points[1][1][0])),
        lambda part: part[0] - np.nansum(part[1], axis=1),
    )
    add("total", metric, None, stat_a, stat_b, lambda part: part[0])
    for component, providers in splits.items():
        for provider in providers:
            key = (component, provider)
            add(
                "provider",
                component,
                provider,
                float(points[0][2][key][0]),
                float(points[1][2][key][0]),
                lambda part, key=key: part[2][key],
            )
    columns = list(zip(*rows, strict=True)) if rows else [()] * len(_EXPLAIN_COLUMNS)
    out = pd.DataFrame(
        {
            name: pd.Series(list(values), dtype=object if k < 3 else float)
            for k, (name, values) in enumerate(zip(_EXPLAIN_COLUMNS, columns, strict=True))
        }
    )
    out.attrs.update(
        {
            "metric": metric,
            "statistic": statistic,
            "window": float(window),
            "n_calls_a": n_a,
            "n_calls_b": n_b,
            "note": note,
        }
    )
    return out
