"""The rules a scope follows: the traffic rule, the minimum for a claim, source labels, and how
one parameter value (from Python, a notebook or the command line) is read.

Pure functions over values and ``frames.calls``; :mod:`oneinbox_nb.scope` draws the whole picture.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pandas as pd

from ..account import SAMPLE_KEY_PREFIX, is_sample_key
from ..config import DEFAULT_RUN_KEY, resolve_run_key
from ..exceptions import ConfigurationError, OneInboxError
from ..matching import utc_time, value_key

__all__ = [
    "ALIASES",
    "INTERFACES",
    "MIN_CALLS",
    "PARAMETERS",
    "RUN_KEY",
    "SAMPLE_KEY_PREFIX",
    "SOURCE_KINDS",
    "TRAFFIC",
    "ScopeError",
    "SourceLabel",
    "carries",
    "decoded",
    "id_list",
    "is_sample_key",
    "parse_run_key",
    "parse_traffic",
    "parse_utc",
    "run_column",
    "said",
    "shown",
    "source_label",
    "spelling",
    "traffic_kind",
]

RUN_KEY = DEFAULT_RUN_KEY
"""The metadata key that marks a load-test call unless the account configures another, once:
``ONEINBOX_RUN_KEY`` (:func:`oneinbox_nb.config.resolve_run_key`), or the run key a dataset
recorded when it was synced."""

MIN_CALLS = 20
"""Fewest calls a window, agent, provider, run or side of a comparison needs before a claim
(a percentile, a change, a percentage) is made about it; below it a reader sees
"not enough calls (n)". Analysis uses this one value (``oneinbox_nb.analysis.MIN_CALLS``)."""

TRAFFIC = ("production", "load_test", "all")
"""The values of :attr:`Scope.traffic`."""

SOURCE_KINDS = ("api", "sample", "dataset")
"""The values of :attr:`SourceLabel.kind`."""

INTERFACES = ("python", "notebook", "cli")
"""Where a scope's values came from; errors name the value the way that interface spells it."""

#: Parameter names :meth:`Scope.parse` understands, with the field each one fills.
ALIASES: Mapping[str, str] = {
    "source": "source",
    "traffic": "traffic",
    "run_ids": "run_ids",
    "run_id": "run_ids",
    "runs": "run_ids",
    "run": "run_ids",
    "agents": "agents",
    "agent": "agents",
    "agent_id": "agents",
    "agent_ids": "agents",
    "since": "since",
    "until": "until",
    "call_ids": "call_ids",
    "call_id": "call_ids",
    "run_key": "run_key",
}

PARAMETERS = tuple(sorted(ALIASES))
"""Every parameter name :meth:`Scope.parse` accepts (singular and plural spellings)."""


class ScopeError(OneInboxError, ValueError):
    """A scope value (traffic, run, agent, window, call id) is malformed or names nothing known."""


# --------------------------------------------------------------------------------------------------
# Source labels
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SourceLabel:
    """Where a scope's calls come from, as readers must be told.

    Attributes
    ----------
    kind : {"api", "sample", "dataset"}
        ``"sample"`` for generated calls however they were served (the embedded sample API, a
        sample server started by ``make demo``, a dataset synced from one).
    description : str
        For people: ``"OneInbox API at https://api.oneinbox.ai"``, ``"dataset history/"``.
        Never holds the key.
    account : str, optional
        An account identity or fingerprint, when known (never the key).
    run_key : str, optional
        The run key the source records for its account (a dataset synced with
        ``ONEINBOX_RUN_KEY`` set); a :class:`Scope` on this source uses it unless given one.
    """

    kind: str
    description: str = ""
    account: str | None = None
    run_key: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in SOURCE_KINDS:
            raise ScopeError(
                f"source kind must be one of {', '.join(map(repr, SOURCE_KINDS))}, "
                f"got {self.kind!r}"
            )

    @property
    def is_sample(self) -> bool:
        """True for generated calls."""
        return self.kind == "sample"

    @property
    def text(self) -> str:
        """What a report says its data is: always ``"sample data"`` for generated calls."""
        if self.is_sample:
            return "sample data"
        return self.description or ("a dataset" if self.kind == "dataset" else "the OneInbox API")

    def __str__(self) -> str:
        return self.text


def source_label(value: Any, spell: Callable[[str], str]) -> SourceLabel | None:
    if value is None or isinstance(value, SourceLabel):
        return value
    label = getattr(value, "label", None)  # a DataSource carries its own
    if isinstance(label, SourceLabel):
        return label
    if hasattr(value, "account") and isinstance(getattr(value, "description", None), str):
        return _dataset_label(value)
    if isinstance(value, str):
        kind = value.strip().lower()
        if kind == "auto":
            return None  # not chosen yet: the source rule decides when the data is opened
        if kind in SOURCE_KINDS:
            return SourceLabel(kind)
    raise ScopeError(
        f"{spell('source')} must be one of 'api', 'sample', 'dataset' (or a DataSource), "
        f"got {shown(value)}"
    )


def _dataset_label(dataset: Any) -> SourceLabel:
    """The label of a :class:`~oneinbox_nb.Dataset`: its description, the account it records
    (sample data stays sample data) and that account's run key."""
    account = dataset.account if isinstance(dataset.account, Mapping) else {}
    kind = "sample" if account.get("kind") == "sample" else "dataset"
    run_key = account.get("run_key")
    return SourceLabel(
        kind,
        dataset.description,
        account=account.get("key_fingerprint"),
        run_key=run_key if isinstance(run_key, str) and run_key else None,
    )


# --------------------------------------------------------------------------------------------------
# The traffic rule
# --------------------------------------------------------------------------------------------------


def carries(value: Any) -> bool:
    """Whether one run-key value marks a load-test call: present and not blank text."""
    key = value_key(value)
    return key is not None and key.strip() != ""


def run_column(run_key: str) -> str:
    return f"meta_{run_key}"


def traffic_kind(calls: pd.DataFrame, *, run_key: str | None = None) -> pd.Series:
    """The traffic rule applied to ``frames.calls``: ``"load_test"`` or ``"production"`` per call.

    A call is a load-test call when its metadata carries the run key (column ``meta_<run_key>``
    holds a value that is neither missing nor blank); every other call is production.

    Parameters
    ----------
    calls : pandas.DataFrame
        ``frames.calls`` (any frame with the ``meta_<run_key>`` column, or without it).
    run_key : str, optional
        The metadata key that marks a load-test call; default the account's,
        ``ONEINBOX_RUN_KEY``, else :data:`RUN_KEY` (``run_id``).

    Returns
    -------
    pandas.Series
        dtype ``string``, same index as ``calls``, named ``"traffic"``.

    Raises
    ------
    ConfigurationError
        ``ONEINBOX_RUN_KEY`` is not a top-level metadata key.
    """
    column = run_column(resolve_run_key(run_key))
    if column in calls.columns:
        loaded = [carries(v) for v in calls[column].tolist()]
    else:
        loaded = [False] * len(calls)
    kinds = ["load_test" if flag else "production" for flag in loaded]
    return pd.Series(kinds, index=calls.index, dtype="string", name="traffic")


# --------------------------------------------------------------------------------------------------
# Parsing values
# --------------------------------------------------------------------------------------------------


def spelling(interface: str) -> Callable[[str], str]:
    if interface not in INTERFACES:
        raise ScopeError(
            f"interface must be one of {', '.join(map(repr, INTERFACES))}, got {interface!r}"
        )
    if interface == "cli":
        return lambda name: "--" + name.replace("_", "-")
    if interface == "notebook":
        return lambda name: f"-p {name}="
    return lambda name: f"{name}="


def said(spell: Callable[[str], str], name: str, value: Any) -> str:
    """A parameter with its value as the interface writes it: ``since='x'`` (Python),
    ``-p since='x'`` (notebook), ``--since 'x'`` (command line)."""
    flag = spell(name)
    return f"{flag}{shown(value)}" if flag.endswith("=") else f"{flag} {shown(value)}"


def shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def decoded(value: Any) -> Any:
    """Text that is a JSON list or string becomes that value (as ``-p NAME=VALUE`` reads it)."""
    if isinstance(value, str) and value.strip()[:1] in ("[", '"'):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def id_list(value: Any, name: str, spell: Callable[[str], str]) -> tuple[str, ...]:
    """A tuple of ids from a list, a comma-separated string or JSON text; numbers as value keys."""
    value = decoded(value)
    if value is None:
        return ()
    if isinstance(value, str):
        items: Iterable[Any] = value.split(",")
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        items = [value]
    elif isinstance(value, Iterable) and not isinstance(value, (bytes, Mapping)):
        items = list(value)
    else:
        raise ScopeError(
            f"{spell(name)} must be an id, a list of ids or ids separated by commas, "
            f"got {shown(value)}"
        )
    out: list[str] = []
    for item in items:
        if isinstance(item, bool) or isinstance(item, (Mapping, list, tuple, set)):
            raise ScopeError(
                f"{spell(name)} holds {shown(item)}, which is not an id; give ids such as 'lt-42'"
            )
        key = value_key(item.strip() if isinstance(item, str) else item)
        if key and key not in out:
            out.append(key)
    return tuple(out)


def parse_utc(value: Any, name: str, spell: Callable[[str], str]) -> datetime | None:
    """A user-given date or time as aware UTC, read by :func:`oneinbox_nb.matching.utc_time`
    (the project's one parser: lower-case ``t``/``z``, leap seconds; naive means UTC); a value
    that is not one is a :class:`ScopeError` spelled as the interface spells ``name``. None and
    blank text mean "not given"."""
    value = decoded(value)
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        return utc_time(value, name)
    except ConfigurationError as error:
        raise ScopeError(
            f"{said(spell, name, value)} is not a date or time (or lies outside the years 1 to 9999 "
            "in UTC); use e.g. '2026-11-20' or '2026-11-20T09:00Z' (without an offset it is UTC)"
        ) from error


def parse_traffic(value: Any, spell: Callable[[str], str]) -> str | None:
    value = decoded(value)
    if value is None:
        return None
    word = str(value).strip().lower().replace("-", "_").replace(" ", "_")
    word = {"load_tests": "load_test", "loadtest": "load_test", "both": "all"}.get(word, word)
    if word not in TRAFFIC:
        raise ScopeError(
            f"{spell('traffic')} must be one of {', '.join(map(repr, TRAFFIC))}, got {shown(value)}"
        )
    return word


def parse_run_key(value: Any, spell: Callable[[str], str]) -> str | None:
    """A run key given to :meth:`Scope.parse`; None (not given) leaves the account's."""
    value = decoded(value)
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip() or "." in value:
        raise ScopeError(
            f"{spell('run_key')} must be a top-level metadata key such as 'run_id', "
            f"got {shown(value)}"
        )
    return value.strip()
