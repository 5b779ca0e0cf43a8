"""What did calls cost? Cost, minutes and credits per call and per group, and the credits check."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..frames import CallFrames
from ._calls import _call_key, _Calls, _empty
from ._options import _number_option
from ._stats import _grouped_quantiles

__all__ = [
    "COST_GROUPS",
    "call_costs",
    "cost_by",
    "credits_check",
    "short_and_failed_costs",
]

#: The usual groupings of :func:`cost_by` (any ``calls`` column works too).
COST_GROUPS: tuple[str, ...] = (
    "agent_id",
    "day",
    "outcome",
    "status",
    "provider",
    "type",
    "direction",
)


# --------------------------------------------------------------------------------------------------
# Cost and credits
# --------------------------------------------------------------------------------------------------


def _money(calls: _Calls) -> dict[str, np.ndarray]:
    return {
        "status": calls.call_values("status").astype(object).to_numpy(),
        "seconds": calls.call_floats("duration_seconds"),
        "cost": calls.call_floats("cost_cents"),
        "credits": calls.call_floats("credits_used"),
    }


_COST_STATS = [
    "n_calls",
    "n_with_cost",
    "minutes",
    "cost_cents",
    "credits_used",
    "cents_per_minute",
    "cents_per_credit",
    "mean_cost_cents",
    "p50_cost_cents",
    "p95_cost_cents",
]


def cost_by(frames: CallFrames, by: str = "agent_id") -> pd.DataFrame:
    """Calls, minutes, cost and credits per group.

    Parameters
    ----------
    frames : CallFrames
    by : str, default "agent_id"
        Any ``calls`` column (e.g. ``"provider_llm"``, ``"meta_run_id"``), or ``"day"`` (the UTC
        day of ``created_at``) or ``"provider"`` (the provider setup ``"stt / llm / tts"``); the
        usual ones are :data:`COST_GROUPS`. Calls with a missing key form their own group (key
        ``None``, last).

    Returns
    -------
    pandas.DataFrame
        ``<by>, n_calls, n_with_cost, minutes, cost_cents, credits_used, cents_per_minute,
        cents_per_credit, mean_cost_cents, p50_cost_cents, p95_cost_cents``; with
        ``by="agent_id"`` also ``agent_name`` (string, ``<NA>`` where unknown) after ``agent_id``. ``cost_cents`` sums the
        known costs (calls still running or not yet billed have none, see ``n_with_cost``); the
        per-minute and per-credit rates use only calls whose cost and duration (credits) are known.

    Raises
    ------
    ValueError
        ``by`` is neither a calls column nor ``"day"``/``"provider"`` (the message lists them).
    """
    calls = _Calls(frames)
    columns = list(frames.calls.columns)
    if not isinstance(by, str) or (by not in COST_GROUPS and by not in columns):
        raise ValueError(
            f"invalid by {by!r}; valid values: {', '.join(COST_GROUPS)} or any calls column: "
            f"{', '.join(columns)}"
        )
    if calls.n == 0:
        return _empty([by, *_COST_STATS])
    codes, labels = _call_key(calls, by)
    n_groups = len(labels)
    money = _money(calls)
    minutes = money["seconds"] / 60
    cost, credits = money["cost"], money["credits"]
    has_cost = np.isfinite(cost)

    def total(weights: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
        w = np.nan_to_num(weights) if mask is None else np.where(mask, np.nan_to_num(weights), 0.0)
        return np.bincount(codes, weights=w, minlength=n_groups)

    rate_m = has_cost & np.isfinite(minutes)
    rate_c = has_cost & np.isfinite(credits)
    out = pd.DataFrame({by: np.array(labels, dtype=object)})
    out["n_calls"] = np.bincount(codes, minlength=n_groups)
    out["n_with_cost"] = np.bincount(codes[has_cost], minlength=n_groups)
    out["minutes"] = total(minutes)
    out["cost_cents"] = total(cost)
    out["credits_used"] = total(credits)
    with np.errstate(invalid="ignore", divide="ignore"):
        per_minute = total(cost, rate_m) / total(minutes, rate_m)
        per_credit = total(cost, rate_c) / total(credits, rate_c)
    out["cents_per_minute"] = np.where(np.isfinite(per_minute), per_minute, np.nan)
    out["cents_per_credit"] = np.where(np.isfinite(per_credit), per_credit, np.nan)
    known = codes[has_cost]
    with np.errstate(invalid="ignore", divide="ignore"):
        out["mean_cost_cents"] = total(cost, has_cost) / out["n_with_cost"].to_numpy()
    quantiles = _grouped_quantiles(known, cost[has_cost], n_groups, [0.5, 0.95])
    out["p50_cost_cents"] = quantiles[:, 0]
    out["p95_cost_cents"] = quantiles[:, 1]
    if by == "day":
        out[by] = pd.to_datetime(out[by], utc=True)
    if by == "agent_id" and "agent_name" in frames.calls:
        out.insert(1, "agent_name", _agent_names(frames.calls, out[by]))
    return out


def _agent_names(calls: pd.DataFrame, agent_ids: pd.Series) -> pd.array:
    """``calls.agent_name`` of each of ``agent_ids`` (string dtype, ``<NA>`` where unknown)."""
    known = calls.loc[calls["agent_name"].notna(), ["agent_id", "agent_name"]]
    lookup = dict(zip(known["agent_id"].astype(object), known["agent_name"], strict=True))
    return pd.array([lookup.get(a) for a in agent_ids], dtype="string")


def credits_check(frames: CallFrames, *, tolerance: float = 0.01) -> pd.DataFrame:
    """Each call's ``credits_used`` against ``duration_seconds / 60`` (1 credit = 1 minute).

    Parameters
    ----------
    frames : CallFrames
    tolerance : float, default 0.01
        Largest absolute difference, in credits, still counted as ``ok``.

    Returns
    -------
    pandas.DataFrame
        ``call_id, duration_seconds, credits_used, expected_credits, diff, ok``; ``diff`` is
        ``credits_used - expected_credits``; ``ok`` is a nullable boolean, ``<NA>`` when either
        value is missing (e.g. a call still running).
    """
    tolerance = _number_option("tolerance", tolerance)
    calls = _Calls(frames)
    money = _money(calls)
    expected = money["seconds"] / 60
    diff = money["credits"] - expected
    ok = pd.array(np.abs(np.nan_to_num(diff)) <= tolerance + 1e-12, dtype="boolean")
    ok[~np.isfinite(diff)] = pd.NA
    return pd.DataFrame(
        {
            "call_id": calls.ids(np.arange(calls.n_calls)),
            "duration_seconds": money["seconds"][: calls.n_calls],
            "credits_used": money["credits"][: calls.n_calls],
            "expected_credits": expected[: calls.n_calls],
            "diff": diff[: calls.n_calls],
            "ok": ok[: calls.n_calls],
        }
    )


def short_and_failed_costs(frames: CallFrames, *, short_seconds: float = 30) -> pd.DataFrame:
    """What failed calls and short calls cost, and their share of the total.

    Parameters
    ----------
    frames : CallFrames
    short_seconds : float, default 30
        A call that did not fail and lasted less than this is *short* (hang-ups, voicemail
        drops, wrong numbers).

    Returns
    -------
    pandas.DataFrame
        Rows ``failed``, ``short``, ``short_or_failed`` and ``all``; columns ``group, n_calls,
        minutes, cost_cents, credits_used, share_of_calls, share_of_cost, share_of_credits``
        (fractions of the ``all`` row; NaN when the total is 0).
    """
    short_seconds = _number_option("short_seconds", short_seconds)
    calls = _Calls(frames)
    money = _money(calls)
    failed = money["status"] == "failed"
    with np.errstate(invalid="ignore"):
        short = ~failed & (money["seconds"] < short_seconds)
    groups = {
        "failed": failed,
        "short": short,
        "short_or_failed": failed | short,
        "all": np.ones(len(failed), dtype=bool),
    }
    minutes = np.nan_to_num(money["seconds"] / 60)
    cost = np.nan_to_num(money["cost"])
    credits = np.nan_to_num(money["credits"])
    out = pd.DataFrame(
        {
            "group": list(groups),
            "n_calls": [int(m.sum()) for m in groups.values()],
            "minutes": [float(minutes[m].sum()) for m in groups.values()],
            "cost_cents": [float(cost[m].sum()) for m in groups.values()],
            "credits_used": [float(credits[m].sum()) for m in groups.values()],
        }
    )
    for column, share in (
        ("n_calls", "share_of_calls"),
        ("cost_cents", "share_of_cost"),
        ("credits_used", "share_of_credits"),
    ):
        whole = float(out[column].iloc[-1])
        out[share] = out[column] / whole if whole else np.nan
    return out


def call_costs(frames: CallFrames) -> pd.DataFrame:
    """Cost, credits and minutes of each call.

    Returns
    -------
    pandas.DataFrame
        ``call_id, agent_id, agent_name, status, type, minutes, cost_cents, credits_used,
        cents_per_minute`` (float; NaN where unknown, ``cents_per_minute`` NaN for calls without
        duration; ``agent_name`` string, ``<NA>`` where unknown).
    """
    calls = _Calls(frames)
    money = _money(calls)
    n = calls.n_calls
    minutes = money["seconds"][:n] / 60
    with np.errstate(invalid="ignore", divide="ignore"):
        per_minute = np.where(minutes > 0, money["cost"][:n] / minutes, np.nan)
    out = pd.DataFrame(
        {
            "call_id": calls.ids(np.arange(n)),
            "agent_id": calls.call_values("agent_id").astype(object).to_numpy()[:n],
            "status": money["status"][:n],
            "type": calls.call_values("type").astype(object).to_numpy()[:n],
            "minutes": minutes,
            "cost_cents": money["cost"][:n],
            "credits_used": money["credits"][:n],
            "cents_per_minute": per_minute,
        }
    )
    if "agent_name" in frames.calls:
        out.insert(2, "agent_name", _agent_names(frames.calls, out["agent_id"]))
    return out
