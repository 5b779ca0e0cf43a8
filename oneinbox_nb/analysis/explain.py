"""Which component moved the response between two sets of calls: :func:`explain_change`.

A percentile of the response is not the sum of the components' percentiles, so the change in a
response statistic is split over the turns that make the statistic (see :func:`explain_change`),
with intervals from resampling whole calls in each side, as :func:`~oneinbox_nb.analysis.compare`
does.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from .. import display
from ..frames import CallFrames
from ._calls import EVENT_COMPONENTS, RESPONSE_COMPONENTS, _gather, _kept, _providers
from ._options import _check_boot, _one_of
from ._stats import (
    DEFAULT_N_BOOT,
    DEFAULT_SEED,
    MIN_CALLS,
    _multiplicities,
    _percentile_interval,
    _resampled_quantiles,
    _rng,
)
from .compare import _Group

__all__ = ["explain_change"]


_EXPLAIN_COLUMNS = [
    "level",
    "component",
    "provider",
    "a_ms",
    "b_ms",
    "a_with",
    "b_with",
    "contribution_ms",
    "share",
    "ci_low",
    "ci_high",
]
_TEXT_COLUMNS = 3  # level, component, provider; the rest are floats
_PARTS = tuple(f"{c}_ms" for c in RESPONSE_COMPONENTS)
_PROVIDER_COMPONENTS = tuple(
    c for c in RESPONSE_COMPONENTS if c in ("eou_delay", "llm_ttft", "tts_ttfb")
)


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


class _Stats(NamedTuple):
    """One side's statistics per resample (see :meth:`_Explained.stats`)."""

    stat: np.ndarray  # (size,) the response statistic
    added: np.ndarray  # (size, parts): each part's mean time added to a window turn
    with_: np.ndarray  # (size, parts): share of the window turns that have the part's events
    split: dict[tuple[str, Any], tuple[np.ndarray, np.ndarray]]  # provider: (added, with)


class _Explained:
    """One group's complete, unflagged answered turns for :func:`explain_change`, sorted by
    response time, with each response part's time and whether the turn has that part's events."""

    def __init__(self, group: _Group) -> None:
        table = group.table
        response = table["response_ms"].to_numpy(dtype=float)
        keep = _kept(table, include_flagged=False, include_incomplete=False)
        keep &= (table["turn"] >= 1).to_numpy() & np.isfinite(response)
        order = np.flatnonzero(keep)[np.argsort(response[keep], kind="stable")]
        self.call = table["call"].to_numpy()[order]
        self.response = response[order]
        self.parts = np.zeros((len(_PARTS), len(order)))
        self.has = np.zeros((len(_PARTS), len(order)))
        for k, component in enumerate(RESPONSE_COMPONENTS):
            self.parts[k] = np.nan_to_num(table[f"{component}_ms"].to_numpy(dtype=float)[order])
            self.has[k] = table[f"has_{component}"].to_numpy(dtype=bool)[order]
        providers = _providers(group.calls)
        self.providers = {
            c: _gather(providers[EVENT_COMPONENTS.index(c)], self.call, None)
            for c in _PROVIDER_COMPONENTS
        }
        self.n_calls = len(np.unique(self.call))
        self.n_all = group.calls.n

    def stats(
        self, weights: np.ndarray, q: float | None, half: float, splits: dict[str, list[Any]]
    ) -> _Stats:
        """Per resample: the statistic and, over the turns around it, each part's mean added time
        and share of turns with it, also per provider where ``splits`` asks.

        ``weights`` are call multiplicities ``(size, n_calls)``. The turns "around" a percentile
        are those whose mid-rank in the expanded resample lies within ``q ± half``; for the mean,
        every turn.
        """
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
            added = (window @ self.parts.T) / weight[:, None]
            with_ = (window @ self.has.T) / weight[:, None]
            split = {}
            for component, providers in splits.items():
                k = RESPONSE_COMPONENTS.index(component)
                labels = self.providers[component]
                for provider in providers:
                    mask = labels == provider if provider is not None else pd.isna(labels)
                    split[(component, provider)] = (
                        (window[:, mask] @ self.parts[k, mask]) / weight,
                        (window[:, mask] @ self.has[k, mask]) / weight,
                    )
        if not len(self.call):
            stat = np.full(weights.shape[0], np.nan)
        return _Stats(stat, added, with_, split)


def _splits(sides: list[_Explained]) -> dict[str, list[Any]]:
    """The components whose providers differ between a and b, with every provider seen."""
    splits: dict[str, list[Any]] = {}
    for component in _PROVIDER_COMPONENTS:
        seen = [
            {
                None if pd.isna(p) else p
                for p in pd.unique(pd.Series(side.providers[component], dtype=object))
            }
            for side in sides
        ]
        if seen[0] != seen[1]:
            splits[component] = sorted(seen[0] | seen[1], key=lambda p: (p is None, str(p)))
    return splits


def _mean_ms(added: float, with_: float) -> float:
    """The component's mean over the window turns that have its events; NaN: no values."""
    return added / with_ if with_ > 0 else float("nan")


def _rows(
    points: list[_Stats],
    boots: list[list[_Stats]],
    splits: dict[str, list[Any]],
    ci: float,
    metric: str,
) -> list[list[Any]]:
    """The rows of :func:`explain_change`: components, residual, total, provider splits."""
    total = float(points[1].stat[0] - points[0].stat[0])
    rows = []

    def add(level: str, component: str, provider: Any, pick: Any, ms: Any) -> None:
        (added_a, with_a), (added_b, with_b) = (pick(points[g]) for g in (0, 1))
        added_a, added_b = float(np.ravel(added_a)[0]), float(np.ravel(added_b)[0])
        with_a, with_b = float(np.ravel(with_a)[0]), float(np.ravel(with_b)[0])
        contribution = added_b - added_a
        low = high = float("nan")
        if boots[0] and boots[1]:
            values = [np.concatenate([pick(part)[0] for part in boots[g]]) for g in (0, 1)]
            low, high = _percentile_interval(values[1] - values[0], ci)
        share = contribution / total if total != 0 and np.isfinite(total) else float("nan")
        a_ms, b_ms = ms(added_a, with_a), ms(added_b, with_b)
        rows.append(
            [level, component, provider, a_ms, b_ms, with_a, with_b, contribution, share, low, high]
        )

    one = np.ones(1)
    for k, component in enumerate(RESPONSE_COMPONENTS):
        add("component", component, None, lambda s, k=k: (s.added[:, k], s.with_[:, k]), _mean_ms)
    add(
        "residual", "residual", None,
        lambda s: (s.stat - np.nansum(s.added, axis=1), one), lambda v, _: v,
    )  # fmt: skip
    add("total", metric, None, lambda s: (s.stat, one), lambda v, _: v)
    for component, providers in splits.items():
        for provider in providers:
            key = (component, provider)
            add("provider", component, provider, lambda s, key=key: s.split[key], _mean_ms)
    return rows


def explain_change(
    a: CallFrames,
    b: CallFrames,
    *,
    metric: str = "response_ms",
    statistic: str = "p50",
    window: float = 0.05,
    n_boot: int = DEFAULT_N_BOOT,
    ci: float = 0.95,
    seed: int | None = DEFAULT_SEED,
) -> pd.DataFrame:
    """How much of the change in a response statistic each component accounts for.

    A percentile of the response is not the sum of the components' percentiles, so the change is
    split over the turns that make the statistic: in each group, the complete, unflagged answered
    turns whose response rank lies within ``window`` of the percentile (every turn for
    ``"mean"``). A turn's response is the sum of its components, so the change in the mean time
    each component adds to those turns is its contribution; the ``residual`` row holds what the
    window's mean response misses of the statistic itself (small). The ``component`` and
    ``residual`` contributions sum exactly to the ``total`` change. Where a component's providers
    differ between a and b, its contribution is also split by provider (``provider`` rows,
    summing to the component's).

    The component rule of :mod:`oneinbox_nb.analysis` holds: ``a_ms``/``b_ms`` are a component's
    mean over the window turns that *have* its events (a turn without a knowledge-base lookup is
    no ``kb`` value), NaN when none has ("no values", named in ``attrs["note"]``); ``a_with`` /
    ``b_with`` say which share of the window turns have them, and the contribution is
    ``b_with * b_ms - a_with * a_ms`` (a component absent from a side adds nothing there).

    Parameters
    ----------
    a, b : CallFrames
    metric : {"response_ms"}
        The statistic's metric (the one made of components).
    statistic : str, default "p50"
        ``"p<percentile>"`` (``"p50"``, ``"p95"``...) or ``"mean"``.
    window : float, default 0.05
        Half-width of the rank window around the percentile (0.05: turns between p45 and p55).
    n_boot, ci, seed : int, float, int or None
        Resamples of whole calls in each group (default 1000; 0: no intervals), the confidence
        level (0.95) and the seed (default 0; None: fresh randomness).

    Returns
    -------
    pandas.DataFrame
        ``level`` (``"component"``, ``"residual"``, ``"total"``, ``"provider"``), ``component``
        (``eou_delay``, ``llm_ttft``, ``kb``, ``tool``, ``tts_ttfb``; the metric for the total
        row), ``provider`` (None but on provider rows; ``None`` there is an unknown provider),
        ``a_ms``, ``b_ms`` (ms, see above; the statistic on the total row), ``a_with``,
        ``b_with`` (fractions; 1 on the residual and total rows), ``contribution_ms`` (b - a),
        ``share`` (of the total change), ``ci_low``, ``ci_high`` (of ``contribution_ms``).
        ``attrs`` holds ``metric``, ``statistic``, ``window``, ``n_calls_a``, ``n_calls_b`` and
        ``note`` (why intervals are NaN, if they are: "not enough calls (a: 3, b: 600; need 20
        in each)"; and which components have no values on a side).

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
    sides = [_Explained(_Group(a, "a")), _Explained(_Group(b, "b"))]
    splits = _splits(sides)
    points = [side.stats(np.ones((1, side.n_all)), q, window, splits) for side in sides]
    boots, notes = _resampled(sides, points, q, window, splits, n_boot, rng)
    attrs = {"metric": metric, "statistic": statistic, "window": float(window)}
    attrs.update(n_calls_a=sides[0].n_calls, n_calls_b=sides[1].n_calls, note="; ".join(notes))
    return _table(_rows(points, boots, splits, ci, metric), attrs)


def _resampled(
    sides: list[_Explained],
    points: list[_Stats],
    q: float | None,
    window: float,
    splits: dict[str, list[Any]],
    n_boot: int,
    rng: np.random.Generator,
) -> tuple[list[list[_Stats]], list[str]]:
    """Each side's statistics in ``n_boot`` resamples of its calls (none below
    :data:`MIN_CALLS`), and the notes: not enough calls, components without values."""
    n_a, n_b = sides[0].n_calls, sides[1].n_calls
    notes = []
    boots: list[list[_Stats]] = [[], []]
    if n_a < MIN_CALLS or n_b < MIN_CALLS:
        notes.append(
            f"not enough calls (a: {display.count(n_a)}, b: {display.count(n_b)}; "
            f"need {display.count(MIN_CALLS)} in each)"
        )
    elif n_boot:
        for g, side in enumerate(sides):
            budget = 1_500_000 * side.n_all // max(len(side.call), 1)  # cells of (size, turns)
            for weights in _multiplicities(rng, side.n_all, n_boot, budget=max(budget, 1)):
                boots[g].append(side.stats(weights, q, window, splits))
    for name, point in zip(("a", "b"), points, strict=True):
        empty = [c for k, c in enumerate(RESPONSE_COMPONENTS) if not point.with_[0, k] > 0]
        if empty and np.isfinite(point.stat[0]):
            notes.append(f"no values in {name}: {', '.join(empty)}")
    return boots, notes


def _table(rows: list[list[Any]], attrs: dict[str, Any]) -> pd.DataFrame:
    """The rows as :func:`explain_change`'s table (text columns object, the rest float)."""
    columns = list(zip(*rows, strict=True))
    out = pd.DataFrame(
        {
            name: pd.Series(list(values), dtype=object if k < _TEXT_COLUMNS else float)
            for k, (name, values) in enumerate(zip(_EXPLAIN_COLUMNS, columns, strict=True))
        }
    )
    out.attrs.update(attrs)
    return out
