"""What a report reads: a notebook's parameters turned into the frames its story is built from.

The first code cell of a notebook calls one function here, in-process and kernel-free testable
(``tests/test_report_inputs.py``): it opens the source by the source rule
(:func:`oneinbox_nb.source.open_source`), fetches, checks there is something to report on (a
:class:`~oneinbox_nb.exceptions.ConfigurationError` in the notebook's words otherwise), masks
personal data when asked, and returns the frames with the source they came from::

    one_call          notebooks/01_explore_call.ipynb   one call (the worst one on the sample)
    postmortem_calls  notebooks/04_postmortem.ipynb     the listed calls and/or a load-test run
    compare_sides     notebooks/05_compare.ipynb        two sides by run, dates and agent
    fleet_dataset     notebooks/06_fleet.ipynb          which dataset (given, synced, or synthetic)
    dataset_origin    notebooks/06_fleet.ipynb          a dataset named with its account
    fleet_story       notebooks/06_fleet.ipynb          the dataset's per-day results and the story

The returned source is closed (its sample server stopped); its ``description`` and ``label`` say
where the calls came from, and never hold the key.
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from .. import stories
from ..display import count
from ..exceptions import ConfigurationError
from ..frames import CallFrames
from ..redact import DEFAULT_REGION, redact_frames
from ..source import DataSource, choose_source, open_source
from ..stories.compare import side_label

__all__ = [
    "CompareInputs",
    "FleetInputs",
    "Loaded",
    "compare_sides",
    "dataset_origin",
    "fleet_dataset",
    "fleet_story",
    "one_call",
    "postmortem_calls",
]

POSTMORTEM_SCENARIO = ("load_test", "production")


@dataclass(frozen=True)
class Loaded:
    """Calls a report is about, and where they came from.

    Attributes
    ----------
    frames : CallFrames
        The fetched calls (masked when ``redact`` was asked for).
    source : DataSource
        The (closed) source: ``description`` for people, ``label`` for the scope sentence.
    failures : pandas.DataFrame or None
        The listed ids that could not be fetched (``call_id``, ``error``); None when no ids were
        listed.
    call_ids : list of str or None
        The ids asked for, one per list item (a comma-separated string is split).
    """

    frames: CallFrames
    source: DataSource
    failures: pd.DataFrame | None = None
    call_ids: list[str] | None = None

    def failures_note(self) -> str | None:
        """``"2 call id(s) could not be fetched:"``, or None when every listed id was fetched."""
        if self.failures is None or not len(self.failures):
            return None
        return f"{count(len(self.failures))} call id(s) could not be fetched:"


def _id_list(call_ids: Any) -> list[str] | None:
    if isinstance(call_ids, str):  # one id, or ids separated by commas (a dashboard URL)
        return [c.strip() for c in call_ids.split(",") if c.strip()]
    return None if call_ids is None else list(call_ids)


def one_call(
    call_id: str | None,
    *,
    base_url: str | None = None,
    source: str = "auto",
    scenario: str = "call",
    seed: int = 0,
    redact: bool = False,
    redact_region: str = DEFAULT_REGION,
) -> Loaded:
    """The call ``01_explore_call`` looks at (every call of the sample when ``call_id`` is None).

    Parameters
    ----------
    call_id : str or None
        The call's id; None on the sample: every served call (the story picks the worst one).
    base_url, source : optional
        Where to read, by the source rule (:func:`oneinbox_nb.source.open_source`); the key comes
        from ``ONEINBOX_API_KEY`` only.
    scenario, seed : optional
        Sample only: the generated calls served.
    redact, redact_region : optional
        Mask personal data (:func:`oneinbox_nb.redact.redact_frames`) before anything is shown.

    Returns
    -------
    Loaded
        ``failures`` and ``call_ids`` are None.

    Raises
    ------
    ConfigurationError
        No ``call_id`` with the OneInbox API (checked before anything is fetched), or the call
        could not be fetched (the fetch error says why).
    """
    with open_source(base_url, source=source, scenario=scenario, seed=seed) as data:
        if call_id is None and not data.is_sample:
            raise ConfigurationError(
                "this notebook looks at one call: with the OneInbox API set call_id to the call's id "
                "(-p call_id=3f2b8c1e-9d4a-4e57-b1c2-7a8d9e0f1a2b, or ?call_id=... in a dashboard URL)"
            )
        result = data.fetch(None if call_id is None else [call_id], progress=False)
    if not result.calls:
        reason = (
            result.failures["error"].iloc[0] if len(result.failures) else "the source has no calls"
        )
        raise ConfigurationError(f"no call to look at: {reason}")
    frames = redact_frames(result.frames, region=redact_region) if redact else result.frames
    return Loaded(frames, data)


def _nothing_fetched(failures: pd.DataFrame | None) -> ConfigurationError:
    first = failures.iloc[0] if failures is not None and len(failures) else None
    cause = f"{first['call_id']}: {first['error']}" if first is not None else "no calls"
    more = f" (and {len(failures) - 1} more)" if first is not None and len(failures) > 1 else ""
    return ConfigurationError(f"none of the calls could be fetched: {cause}{more}")


def postmortem_calls(
    call_ids: str | Sequence[str] | None = None,
    run_id: Any = None,
    *,
    base_url: str | None = None,
    source: str = "auto",
    scenario: str | Sequence[str] = POSTMORTEM_SCENARIO,
    seed: int = 0,
    redact: bool = False,
    redact_region: str = DEFAULT_REGION,
) -> Loaded:
    """The calls ``04_postmortem`` is about: the run's (``run_id``) and the listed ``call_ids``.

    On the sample with neither given, every served call (the story then picks the call with the
    worst turn).

    Parameters
    ----------
    call_ids : str, sequence of str or None
        The calls in question; a string holds one id or ids separated by commas (a dashboard
        URL's ``?call_ids=``).
    run_id : optional
        A load-test run (``metadata.run_id``): all its calls are fetched.
    base_url, source, scenario, seed, redact, redact_region : optional
        As for :func:`one_call`; ``scenario`` defaults to the load test and production together.

    Returns
    -------
    Loaded
        ``failures`` lists the ids that could not be fetched (None when no ids were given);
        ``call_ids`` is the list of ids asked for.

    Raises
    ------
    ConfigurationError
        Neither given with the OneInbox API; a run without calls in this source; none of the
        listed calls could be fetched (the first failure's cause, and how many more).
    """
    call_ids, parts, failures = _id_list(call_ids), [], None
    with open_source(base_url, source=source, scenario=scenario, seed=seed) as data:
        if call_ids is None and run_id is None and not data.is_sample:
            raise ConfigurationError(
                "a postmortem needs something to be about: pass call_ids (-p call_ids='[\"<id>\"]', "
                "or ?call_ids=<id>,<id> in a dashboard URL) or run_id (-p run_id=<load-test run id>)"
            )
        if run_id is not None:
            parts.append(data.fetch(where={"run_id": run_id}, progress=False))
            if not parts[-1].calls:
                raise ConfigurationError(f"no calls of load-test run {run_id!r} in this source")
        if call_ids is not None:
            have = {c["id"] for part in parts for c in part.calls}
            parts.append(data.fetch([c for c in call_ids if c not in have], progress=False))
            failures = parts[-1].failures
        if not parts:
            parts.append(data.fetch(progress=False))
    frames = CallFrames.concat([part.frames for part in parts])
    if frames.calls.empty:
        raise _nothing_fetched(failures)
    frames = redact_frames(frames, region=redact_region) if redact else frames
    return Loaded(frames, data, failures, call_ids)


@dataclass(frozen=True)
class CompareInputs:
    """The two sides of ``05_compare`` and where they came from.

    Attributes
    ----------
    a, b : CallFrames
        Each side's calls.
    scopes : dict of str to Scope
        ``{"a": ..., "b": ...}``: each side's population.
    pool : CallFrames
        Every call fetched (both sides and what lies between; the explorer chooses from it).
    sides : dict of str to dict
        The sides' filters (``run_id``, ``since``, ``until``, ``agent_id``), with the sample's two
        runs filled in when neither side was chosen.
    source : DataSource
        The (closed) source.
    """

    a: CallFrames
    b: CallFrames
    scopes: dict[str, Any]
    pool: CallFrames
    sides: dict[str, dict[str, Any]]
    source: DataSource


def _chosen_sides(
    sides: Mapping[str, Mapping[str, Any]],
    base_url: str | None,
    source: str,
    seed: int,
    regression: Any,
) -> tuple[dict[str, dict[str, Any]], list[dict] | None]:
    """The sides' filters (the sample's runs filled in) and the payloads the sample serves."""
    sides = {side: dict(filters) for side, filters in sides.items()}
    chosen = {side: any(v is not None for v in f.values()) for side, f in sides.items()}
    if choose_source(base_url, source) != "sample":
        if not all(chosen.values()):
            raise ConfigurationError(
                "a comparison needs two sides: set a_run_id / a_since / a_until / a_agent_id and "
                "the same for b in the parameters cell"
            )
        return sides, None
    from .. import sample

    pair = sample.regression_pair(seed=seed, regression=regression)
    if not any(chosen.values()):
        sides["a"]["run_id"], sides["b"]["run_id"] = pair.a["run_id"], pair.b["run_id"]
    return sides, pair.calls


def compare_sides(
    sides: Mapping[str, Mapping[str, Any]],
    *,
    base_url: str | None = None,
    source: str = "auto",
    include_load_tests: bool = False,
    regression: Any = "slow_llm",
    seed: int = 0,
    redact: bool = False,
) -> CompareInputs:
    """The two sides ``05_compare`` compares, each cut out of one fetch by its scope.

    Parameters
    ----------
    sides : mapping
        ``{"a": {"run_id", "since", "until", "agent_id"}, "b": {...}}``; None values are unset.
        On the sample with neither side chosen: its baseline run against the run with the planted
        ``regression``.
    include_load_tests : bool, default False
        Sides chosen by dates or agent keep load-test calls too.
    base_url, source, seed, redact : optional
        As for :func:`one_call`.
    regression : {"slow_llm", "tts_switch", None}, default "slow_llm"
        Sample only: what is planted in run b (:func:`oneinbox_nb.sample.regression_pair`).

    Returns
    -------
    CompareInputs

    Raises
    ------
    ConfigurationError
        A side unset with the OneInbox API, or a side without calls in this source.
    ScopeError
        A malformed side (the message names the parameter).

    Notes
    -----
    The API filters by agent only: calls are listed once per agent filter, then each side is cut
    out by its scope (a run: its load-test calls; dates or an agent: production calls, load tests
    left out unless ``include_load_tests``).
    """
    sides, served = _chosen_sides(sides, base_url, source, seed, regression)
    with open_source(base_url, source=source, calls=served, seed=seed) as data:
        scopes = {
            side: data.scope(
                {**f, "traffic": "all" if include_load_tests and f["run_id"] is None else None},
                interface="notebook",
            )
            for side, f in sides.items()
        }
        agents = sorted({a for s in scopes.values() for a in s.agents})
        agents = agents if all(s.agents for s in scopes.values()) else [None]
        runs = {r for s in scopes.values() for r in s.run_ids}
        keep = None
        if all(s.run_ids for s in scopes.values()):
            keep = lambda c: (c.get("metadata") or {}).get("run_id") in runs  # noqa: E731
        fetched = [data.fetch(agent_id=a, where=keep, progress=False).frames for a in agents]
    pool = CallFrames.concat(fetched)
    pool = redact_frames(pool) if redact else pool
    frames = {side: scope.select(pool) for side, scope in scopes.items()}
    for side, side_frames in frames.items():
        if side_frames.calls.empty:
            label = side_label(sides[side])
            raise ConfigurationError(f"side {side} ({label}) has no calls in this source")
    return CompareInputs(frames["a"], frames["b"], scopes, pool, sides, data)


def dataset_origin(path: str | Path) -> str:
    """A dataset as the fleet report names it: its folder and the account it was synced from.

    Parameters
    ----------
    path : str or Path
        A dataset folder (``oneinbox-nb sync PATH``).

    Returns
    -------
    str
        ``"dataset PATH (OneInbox API at URL, account 1a2b…)"``, ``"dataset PATH (sample data)"``
        for a dataset synced from the sample (however it was served), ``"… (account unknown)"`` for
        one that records none (see :mod:`oneinbox_nb.dataset.account`).

    Raises
    ------
    ConfigurationError
        ``path`` is not a call dataset.
    """
    from ..dataset import open_dataset
    from ..dataset.account import describe_account

    return f"dataset {path} ({describe_account(open_dataset(path).account)})"


def fleet_dataset(
    dataset: str | Path | None = None,
    *,
    base_url: str | None = None,
    source: str = "auto",
    since: Any = None,
    until: Any = None,
    days: int = 28,
    seed: int = 0,
) -> tuple[Path, str]:
    """The dataset ``06_fleet`` reads, and how to name where it came from.

    ``dataset`` given: that folder. Else with the OneInbox API: the account's own dataset at its
    default place, synced incrementally (``since``/``until`` bound the sync). Else: a synthetic
    history written into a temporary folder by the sample generator, with a planted slowdown.

    Parameters
    ----------
    dataset : str or Path, optional
        A folder written by ``oneinbox-nb sync PATH``.
    base_url, source : optional
        The source rule (:func:`oneinbox_nb.source.choose_source`) when no ``dataset`` is given.
    since, until : optional
        Bound the sync from the API.
    days, seed : int
        Sample only: days and seed of the synthetic history.

    Returns
    -------
    (Path, str)
        The dataset folder and the origin said in the report (:func:`dataset_origin`, or the
        synthetic history's "sample data: ...").

    Raises
    ------
    ConfigurationError
        ``dataset`` is not a call dataset.
    """
    from ..dataset import default_dataset_path, sync

    if dataset is not None:
        return Path(dataset), dataset_origin(dataset)
    if choose_source(base_url, source) == "api":
        from ..client import OneInboxClient

        with OneInboxClient(base_url=base_url) as client:
            path = default_dataset_path(client)
            sync(path, client=client, since=since, until=until, progress=False)
        return path, f"{dataset_origin(path)}, synced from the API just now"
    from ..dataset.history import write_history

    path = Path(tempfile.mkdtemp(prefix="oneinbox-fleet-")) / "history"
    truth = write_history(path, days=days, calls_per_day=15, pool=80, seed=seed)
    slowdown = truth["slowdown"]
    return path, (
        f"sample data: a synthetic history from the embedded sample API's generator "
        f"({count(truth['n_calls'])} calls over {count(days)} days, planted slowdown: "
        f"{slowdown['provider']} llm_ttft from {slowdown['start']})"
    )


@dataclass(frozen=True)
class FleetInputs:
    """The fleet story and the per-day results its figures draw.

    Attributes
    ----------
    story : Story
        :func:`oneinbox_nb.stories.fleet`'s story.
    volume : pandas.DataFrame
        Calls per day (``period``, ``n_calls``, ``failure_rate``, ...).
    rows : dict of str to pandas.DataFrame
        Per component (and ``response_ms``): its daily ``p50``/``p95`` by ``period``.
    points : dict of str to list of int
        Per component: positions in ``rows[component]`` where the daily p50's level shifted.
    cost : pandas.DataFrame
        Cost per agent per week (``agent_id``, ``period``, ``cost_cents``, ...).
    """

    story: stories.Story
    volume: pd.DataFrame
    rows: dict[str, pd.DataFrame] = field(default_factory=dict)
    points: dict[str, list[int]] = field(default_factory=dict)
    cost: pd.DataFrame | None = None


def _slower(ds: Any, by: str, window: Any, windows: Any) -> pd.DataFrame:
    """ "Who got slower" by ``by`` inside the shown days, with each group's calls per window."""
    from ..dataset.changes import group_calls, slower

    latency, calls = window(ds.latency(freq="day", by=by)), window(group_calls(ds, by))
    return slower(latency, by=by, since=windows.start, calls=calls, min_calls=windows.min_calls)


def fleet_story(
    ds: Any,
    *,
    since: Any = None,
    until: Any = None,
    recent_days: int = 14,
    origin: str | None = None,
) -> FleetInputs:
    """The fleet report from a dataset: per-day results inside ``[since, until)`` and the story.

    Parameters
    ----------
    ds : Dataset
        From :func:`oneinbox_nb.open_dataset`; every number is computed by DuckDB in its files.
    since, until : optional
        The days shown, ``[since, until)`` (UTC); None: from the first day, up to the last.
    recent_days : int, default 14
        The recent window compared with the days before it.
    origin : str, optional
        Where the dataset came from (:func:`fleet_dataset`), said in the scope sentence.

    Returns
    -------
    FleetInputs

    Raises
    ------
    ConfigurationError
        No calls in the dataset between ``since`` and ``until``.
    """
    from ..analysis import EVENT_COMPONENTS
    from ..dataset.changes import agent_names, component_changes, slowest_calls
    from ..stories.fleet import change_table, fleet_windows, in_window

    def window(frame: pd.DataFrame) -> pd.DataFrame:
        return in_window(frame, since, until)

    volume = window(ds.call_volume(freq="day"))
    if volume.empty:
        raise ConfigurationError(
            f"no calls in the dataset between since={since!r} and until={until!r}"
        )
    windows = fleet_windows(volume, recent_days=recent_days)
    rows, points = component_changes(
        window(ds.latency(freq="day")), (*EVENT_COMPONENTS, "response_ms")
    )
    cost = window(ds.cost(freq="week", by="agent_id"))
    story = stories.fleet(
        volume,
        weekly=window(ds.call_volume(freq="week")),
        found=change_table(rows, points),
        providers=_slower(ds, "provider", window, windows),
        agents=_slower(ds, "agent_id", window, windows),
        cost=cost,
        slowest=slowest_calls(ds, since=windows.start),
        windows=windows,
        origin=origin,
        names=agent_names(ds),
    )  # fmt: skip
    return FleetInputs(story, volume, dict(rows), dict(points), cost)
