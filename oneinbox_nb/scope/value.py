"""The :class:`Scope` value: build it, select with it, say it; and :func:`resolve_agents`."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from typing import Any

import pandas as pd

from ..config import resolve_run_key
from ..frames import CallFrames
from ..frames.build import agent_names
from ..matching import value_key
from . import words
from .rules import (
    ALIASES,
    RUN_KEY,
    TRAFFIC,
    ScopeError,
    SourceLabel,
    carries,
    id_list,
    parse_run_key,
    parse_traffic,
    parse_utc,
    run_column,
    said,
    source_label,
    spelling,
    traffic_kind,
)

__all__ = ["Scope", "parse_scope", "resolve_agents"]

# --------------------------------------------------------------------------------------------------
# The Scope value
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Scope:
    """Which calls a question is about; see the module docstring for the rules.

    Build one with :meth:`parse` (or :meth:`for_production`, :meth:`for_runs`); the constructor
    takes the fields already normalised (tuples of text ids, UTC datetimes).

    Attributes
    ----------
    source : SourceLabel or None
        Where the calls come from; None until the data is opened.
    traffic : {"production", "load_test", "all"}
        Default: ``"load_test"`` with ``run_ids``, ``"all"`` with only ``call_ids``, else
        ``"production"``.
    run_ids, agents, call_ids : tuple of str
        Empty means "any".
    since, until : datetime or None
        UTC; ``created_at`` in ``[since, until)``.
    run_key : str
        The metadata key of the traffic rule. Not given (None): the run key :attr:`source`
        records for its account (a dataset synced with ``ONEINBOX_RUN_KEY`` set), else
        ``ONEINBOX_RUN_KEY``, else :data:`RUN_KEY` (``run_id``); :meth:`with_source` looks
        again when it sets the source.

    Raises
    ------
    ScopeError
        A malformed field (traffic, run ids with production traffic, since not before until).
    ConfigurationError
        ``ONEINBOX_RUN_KEY`` is needed and is not a top-level metadata key.
    """

    source: SourceLabel | None = None
    traffic: str | None = None
    run_ids: tuple[str, ...] = ()
    agents: tuple[str, ...] = ()
    since: datetime | None = None
    until: datetime | None = None
    call_ids: tuple[str, ...] = ()
    run_key: str | None = None
    _agent_names: tuple[tuple[str, str], ...] = field(default=(), repr=False, compare=False)
    _run_key_given: bool | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self._run_key_given is None:
            object.__setattr__(self, "_run_key_given", self.run_key is not None)
        if self.run_key is None:
            recorded = self.source.run_key if self.source is not None else None
            object.__setattr__(self, "run_key", recorded or resolve_run_key())
        if self.traffic is None:
            kind = "load_test" if self.run_ids else "all" if self.call_ids else "production"
            object.__setattr__(self, "traffic", kind)
        if self.traffic not in TRAFFIC:
            raise ScopeError(
                f"traffic must be one of {', '.join(map(repr, TRAFFIC))}, got {self.traffic!r}"
            )
        for name in ("run_ids", "agents", "call_ids"):
            if isinstance(getattr(self, name), str):
                object.__setattr__(self, name, (getattr(self, name),))
            else:
                object.__setattr__(self, name, tuple(getattr(self, name)))
        if self.run_ids and self.traffic == "production":
            raise ScopeError(
                "a scope with run ids is about load-test calls; drop traffic='production' or the "
                "run ids"
            )
        if self.since and self.until and self.since >= self.until:
            raise ScopeError(
                f"since ({_when(self.since)}) must be before until ({_when(self.until)})"
            )

    # -- building -------------------------------------------------------------------------------

    @classmethod
    def parse(
        cls, params: Mapping[str, Any] | None = None, /, *, interface: str = "python", **kwargs: Any
    ) -> Scope:
        """Build a scope from Python keywords, notebook parameters or command-line values.

        Parameters
        ----------
        params : mapping, optional
            Parameters by name (e.g. a notebook's), merged with ``kwargs``. Names outside
            :data:`PARAMETERS` are an error; pass only the scope's (see :meth:`parameters_of`).
        interface : {"python", "notebook", "cli"}, default "python"
            Where the values came from: errors spell names as that interface does.
        **kwargs
            ``source``, ``traffic``, ``run_ids``/``run_id``, ``agents``/``agent``/``agent_id``,
            ``since``, ``until``, ``call_ids``/``call_id``, ``run_key``. Ids may be lists,
            comma-separated text or JSON text; ``None`` and ``""`` mean "not given".

        Returns
        -------
        Scope

        Raises
        ------
        ScopeError
            An unknown parameter, a malformed value, a time that is not one, ``since`` not before
            ``until``, run ids with ``traffic="production"``.
        """
        spell = spelling(interface)
        given = {**(params or {}), **kwargs}
        unknown = sorted(set(given) - set(ALIASES))
        if unknown:
            raise ScopeError(
                f"{spell(unknown[0])} is not a scope parameter; use one of {', '.join(ALIASES)}"
            )
        merged: dict[str, list[Any]] = {}
        for name, value in given.items():
            merged.setdefault(ALIASES[name], []).append((name, value))
        fields: dict[str, Any] = {}
        for target, pairs in merged.items():
            if target in ("run_ids", "agents", "call_ids"):
                ids: list[str] = []
                for name, value in pairs:
                    ids += [i for i in id_list(value, name, spell) if i not in ids]
                fields[target] = tuple(ids)
                continue
            name, value = pairs[0]  # one spelling each: a mapping holds it once
            if target == "source":
                fields[target] = source_label(value, spell)
            elif target == "traffic":
                fields[target] = parse_traffic(value, spell)
            elif target in ("since", "until"):
                fields[target] = parse_utc(value, name, spell)
            else:
                fields[target] = parse_run_key(value, spell)
        if fields.get("run_ids") and fields.get("traffic") == "production":
            raise ScopeError(
                f"{spell('run_ids')} names load-test runs but {spell('traffic')} is "
                "'production'; drop one of them"
            )
        since, until = fields.get("since"), fields.get("until")
        if since and until and since >= until:
            raise ScopeError(
                f"{spell('since')} ({_when(since)}) must be before {spell('until')} "
                f"({_when(until)})"
            )
        return cls(**fields)

    @staticmethod
    def parameters_of(params: Mapping[str, Any], *, prefix: str = "") -> dict[str, Any]:
        """The entries of ``params`` (e.g. a notebook's parameters) that :meth:`parse` reads.

        ``prefix`` picks one side of a comparison: ``parameters_of(params, prefix="a_")`` reads
        ``a_since``, ``a_run_id``, ... as ``since``, ``run_id``, ...
        """
        out = {}
        for name, value in params.items():
            if name.startswith(prefix) and name[len(prefix) :] in ALIASES:
                out[name[len(prefix) :]] = value
        return out

    @classmethod
    def for_production(cls, **kwargs: Any) -> Scope:
        """A production scope (load tests left out): :meth:`parse` with ``traffic="production"``."""
        return cls.parse(traffic="production", **kwargs)

    @classmethod
    def for_runs(cls, run_ids: Any, **kwargs: Any) -> Scope:
        """A load-test scope over ``run_ids``: :meth:`parse` with ``traffic="load_test"``."""
        return cls.parse(run_ids=run_ids, traffic="load_test", **kwargs)

    def with_source(self, source: Any) -> Scope:
        """This scope with its :attr:`source` set (a SourceLabel, a DataSource, a Dataset or a
        kind); a scope not given a run key takes the one the source records for its account."""
        run_key = self.run_key if self._run_key_given else None
        return replace(self, source=source_label(source, spelling("python")), run_key=run_key)

    def baseline(self) -> Scope:
        """What chosen calls are compared against: this scope without its ``call_ids`` (their
        run, agents and window), e.g. a postmortem's "the run's other calls"; select it and
        drop the chosen calls so the two populations never mix. A scope of chosen calls alone
        has the production traffic of the same window as its baseline."""
        traffic = None if self.traffic == "all" and not self.run_ids else self.traffic
        return replace(self, call_ids=(), traffic=traffic)

    # -- reading --------------------------------------------------------------------------------

    @property
    def is_sample(self) -> bool:
        """True when the calls are sample data."""
        return self.source is not None and self.source.is_sample

    @property
    def source_label(self) -> str:
        """What reports say the data is: ``"sample data"``, ``"OneInbox API at …"``, or
        ``"unknown"`` before a source is set."""
        from ..display import UNKNOWN

        return self.source.text if self.source is not None else UNKNOWN

    @property
    def needs_agent_names(self) -> bool:
        """True when some of :attr:`agents` are names, not ids (see :func:`resolve_agents`)."""
        return any(not _looks_like_id(agent) for agent in self.agents)

    def matches(self, call: Mapping[str, Any]) -> bool:
        """Whether one call payload (a dict from the API) is in the scope.

        The same rule as :meth:`select` on frames: traffic by the run key in ``metadata``,
        ``run_ids`` by value (``42`` matches ``"42"``), ``agents`` by ``agent_id`` (names must be
        resolved first, see :func:`resolve_agents`), ``created_at`` in ``[since, until)``
        (a call without a readable ``created_at`` is outside any window), ``call_ids``.
        """
        if self.call_ids and str(call.get("call_id", call.get("id"))) not in self.call_ids:
            return False
        if self.agents and str(call.get("agent_id")) not in self.agents:
            return False
        metadata = call.get("metadata")
        run = metadata.get(self.run_key) if isinstance(metadata, Mapping) else None
        if not self._traffic_ok(carries(run)):
            return False
        if self.run_ids and value_key(run) not in self.run_ids:
            return False
        if self.since or self.until:
            created = _created(call.get("created_at"))
            if created is None:
                return False
            if (self.since and created < self.since) or (self.until and created >= self.until):
                return False
        return True

    def _traffic_ok(self, load_test: bool) -> bool:
        return self.traffic == "all" or (self.traffic == "load_test") == load_test

    def fetch_kwargs(self) -> dict[str, Any]:
        """Filters for :func:`oneinbox_nb.fetch_calls` (and ``DataSource.fetch``) that select this
        scope: ``agent_id`` (server-side, when the scope names exactly one agent), ``since``,
        ``until`` and ``where`` (:meth:`matches`), or the ids to fetch under ``ids``.

        Returns
        -------
        dict
            ``fetch_calls(**scope.fetch_kwargs())`` (``ids`` is the first positional argument).
            A scope with ``call_ids`` gives the ids alone (every id asked for is fetched or
            listed as a failure); ``fetch_calls(scope=...)`` applies the rest itself (calls
            outside it become ``OutOfScope`` failures), else :meth:`select` the fetched frames.

        Raises
        ------
        ScopeError
            The scope holds agent names not yet resolved to ids.
        """
        self._check_agents_are_ids()
        if self.call_ids:
            return {"ids": list(self.call_ids)}
        kwargs: dict[str, Any] = {"since": self.since, "until": self.until, "where": self.matches}
        if len(self.agents) == 1:
            kwargs["agent_id"] = self.agents[0]
        return kwargs

    def dataset_kwargs(self) -> dict[str, Any]:
        """What :meth:`oneinbox_nb.Dataset.frames` can select itself (one run, one agent, the
        window, the call ids); finish with :meth:`select`, which applies the rest::

            frames = scope.select(ds.frames(**scope.dataset_kwargs()))
        """
        self._check_agents_are_ids()
        kwargs: dict[str, Any] = {"since": self.since, "until": self.until}
        if self.call_ids:
            kwargs["call_ids"] = list(self.call_ids)
        if len(self.run_ids) == 1 and self.run_key == RUN_KEY:
            kwargs["run_id"] = self.run_ids[0]
        if len(self.agents) == 1:
            kwargs["agent_id"] = self.agents[0]
        return kwargs

    def _check_agents_are_ids(self) -> None:
        if self.needs_agent_names:
            names = [a for a in self.agents if not _looks_like_id(a)]
            raise ScopeError(
                f"agent {names[0]!r} is a name; resolve names to ids first with "
                "oneinbox_nb.scope.resolve_agents(scope, agents) (agents from GET /v1/agents)"
            )

    def mask(self, calls: pd.DataFrame) -> pd.Series:
        """Which rows of ``frames.calls`` are in the scope (a boolean Series on its index)."""
        keep = pd.Series(True, index=calls.index)
        if self.call_ids:
            keep &= calls["call_id"].isin(self.call_ids).fillna(False).astype(bool)
        if self.agents:
            ids = calls["agent_id"].astype("string").isin(self.agents).fillna(False)
            names = calls.get("agent_name")
            if names is not None:  # names as resolve_agents reads them: case and spaces aside
                wanted = {agent.strip().casefold() for agent in self.agents}
                ids |= names.astype("string").str.strip().str.casefold().isin(wanted).fillna(False)
            keep &= ids.astype(bool)
        kinds = traffic_kind(calls, run_key=self.run_key)
        if self.traffic != "all":
            keep &= (kinds == self.traffic).fillna(False).astype(bool)
        if self.run_ids:
            column = run_column(self.run_key)
            if column in calls.columns:
                runs = pd.Series(
                    [value_key(v) in self.run_ids for v in calls[column].tolist()],
                    index=calls.index,
                )
                keep &= runs
            else:
                keep &= False
        if self.since or self.until:
            created = pd.to_datetime(calls["created_at"], utc=True)
            if self.since:
                keep &= (created >= pd.Timestamp(self.since)).fillna(False).astype(bool)
            if self.until:
                keep &= (created < pd.Timestamp(self.until)).fillna(False).astype(bool)
        return keep.astype(bool)

    def select(self, frames: CallFrames) -> CallFrames:
        """The calls of ``frames`` in this scope (every table), rows in their original order.

        Agents match ``calls.agent_id``, or ``calls.agent_name`` whatever the case (as
        :func:`resolve_agents` reads names); everything else as :meth:`matches`.

        Parameters
        ----------
        frames : CallFrames

        Returns
        -------
        CallFrames
            Possibly empty (every column kept).
        """
        keep = self.mask(frames.calls)
        if bool(keep.all()):
            return frames
        ids = frames.calls.loc[keep.to_numpy(), "call_id"].dropna().tolist()
        return frames.select(ids) if ids else CallFrames.empty()

    def runs(self, frames: CallFrames) -> list[str]:
        """The load-test run ids among this scope's calls in ``frames``, in order of appearance."""
        return words.runs_in(self.select(frames).calls, self.run_key)

    def per_run(self, frames: CallFrames) -> list[Scope]:
        """One scope per load-test run among this scope's calls: how a load-test question
        (knee, correlation) answers frames that hold several runs instead of pooling them."""
        return [
            replace(self, run_ids=(run,), traffic="load_test", call_ids=())
            for run in self.runs(frames)
        ]

    # -- saying it ------------------------------------------------------------------------------

    def sentence(self, frames: CallFrames) -> str:
        """This scope as one plain sentence, counted on ``frames`` (selected here).

        Examples: ``"1,000 calls of load-test run lt-42, 14–15 Nov 2026, agent Ava"``;
        ``"413 production calls, 29 Nov – 7 Dec 2026, load tests left out"``; a sample source
        opens with ``"Sample data: "``. Plain text (not escaped: run ids and agent names come
        from the API; escape for the output context with :mod:`oneinbox_nb.display`).

        Parameters
        ----------
        frames : CallFrames
            The calls the question was asked of (all of them, or already selected).

        Returns
        -------
        str
        """
        chosen = self.select(frames)
        calls = chosen.calls
        population = words.population(
            calls,
            traffic=str(self.traffic),
            run_key=self.run_key,
            run_ids=self.run_ids,
            chosen=bool(self.call_ids),
        )
        parts = [population, words.span(calls, self.since, self.until)]
        parts.append(words.agents_text(self.agents, frames.calls, dict(self._agent_names)))
        if self.traffic == "production" and self._load_tests_left_out(frames.calls):
            parts.append("load tests left out")
        text = ", ".join(part for part in parts if part)
        return f"Sample data: {text}" if self.is_sample else text

    def _load_tests_left_out(self, calls: pd.DataFrame) -> int:
        """How many load-test calls the traffic rule alone kept out of this scope."""
        wider = replace(self, traffic="all").mask(calls)
        loads = traffic_kind(calls, run_key=self.run_key).eq("load_test").fillna(False)
        return int((wider & loads.astype(bool)).sum())

    def describe(self, frames: CallFrames) -> str:
        """Same as :meth:`sentence`."""
        return self.sentence(frames)


def _when(moment: datetime) -> str:
    from ..display import when

    return when(moment)


def _looks_like_id(value: str) -> bool:
    """Agent ids are UUIDs; anything else given as an agent is a name."""
    import uuid

    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def _created(value: Any) -> datetime | None:
    try:
        created = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return created.replace(tzinfo=timezone.utc) if created.tzinfo is None else created


# --------------------------------------------------------------------------------------------------
# Agents by name
# --------------------------------------------------------------------------------------------------


def resolve_agents(
    scope: Scope,
    agents: Mapping[str, str] | Iterable[Mapping[str, Any]],
    *,
    interface: str = "python",
) -> Scope:
    """``scope`` with its agent names replaced by ids, looked up in ``agents``.

    Parameters
    ----------
    scope : Scope
    agents : mapping of str to str, or iterable of dict
        Agent id -> name (``FetchResult.agents`` holds it), or the agent dicts of
        ``GET /v1/agents`` (``OneInboxClient.list_agents()``).
    interface : {"python", "notebook", "cli"}, default "python"
        How the error spells the parameter.

    Returns
    -------
    Scope
        Same fields, ``agents`` all ids (an id given stays as it is, known or not); the names
        are kept for :meth:`Scope.sentence`.

    Raises
    ------
    ScopeError
        A name matches no agent (the message lists the agents), or matches several.
    """
    spell = spelling(interface)
    agents = agent_names(agents)
    by_name: dict[str, list[str]] = {}
    for agent_id, name in agents.items():
        if isinstance(name, str) and name.strip():
            by_name.setdefault(name.strip().casefold(), []).append(agent_id)
    ids: list[str] = []
    names: dict[str, str] = dict(scope._agent_names)
    for given in scope.agents:
        if given in agents or _looks_like_id(given):
            found = [given]
        else:
            found = by_name.get(given.strip().casefold(), [])
        if not found:
            listed = ", ".join(
                f"{name} ({agent_id})" for agent_id, name in sorted(agents.items(), key=_by_name)
            )
            raise ScopeError(
                f"{said(spell, 'agent', given)} names no agent of this account; the agents are: "
                f"{listed or 'none (GET /v1/agents listed no agents)'}"
            )
        if len(found) > 1:
            raise ScopeError(
                f"{said(spell, 'agent', given)} names {len(found)} agents ({', '.join(found)}); "
                "give the id of the one you mean"
            )
        if found[0] not in ids:
            ids.append(found[0])
        if found[0] in agents:
            names[found[0]] = agents[found[0]]
    return replace(scope, agents=tuple(ids), _agent_names=tuple(sorted(names.items())))


def _by_name(item: tuple[str, str]) -> tuple[str, str]:
    agent_id, name = item
    return (str(name).casefold(), agent_id)


def parse_scope(
    params: Mapping[str, Any] | None = None, /, *, interface: str = "python", **kwargs: Any
) -> Scope:
    """:meth:`Scope.parse`: one parser for Python keywords, notebook parameters and CLI values."""
    return Scope.parse(params, interface=interface, **kwargs)
