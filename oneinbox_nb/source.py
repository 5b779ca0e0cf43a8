"""Where calls come from: the real OneInbox API or the embedded sample API, by one rule.

Every entry point (this module, the notebooks, reports, dashboards and the CLI) applies the same
rule, :func:`choose_source`:

- ``source="sample"`` (``--sample`` on the command line): the embedded sample API, started here;
  with a ``base_url``, a sample server started elsewhere (``oneinbox-nb serve``, ``make demo``);
- ``source="api"``: the OneInbox API, which needs ``ONEINBOX_API_KEY``;
- ``source="auto"`` (the default): the OneInbox API when a ``base_url`` is given or
  ``ONEINBOX_API_KEY`` is set (at ``base_url``, else ``ONEINBOX_BASE_URL``, else
  ``https://api.oneinbox.ai``); the embedded sample API only when no key is configured at all.
  ``ONEINBOX_BASE_URL`` without a key is an error rather than a silent fall-back to sample data.

Every notebook's parameters cell starts with ``source = "auto"`` and ``base_url = None``, and one
line opens the source::

    source = open_source(base_url, source=source, scenario=scenario, seed=seed)

**Sample data is labelled as such however it is served.** :attr:`DataSource.label` (a
:class:`~oneinbox_nb.scope.SourceLabel`) and every description say "sample data" for the embedded
sample API, for ``source="sample"`` with a ``base_url``, and for any server read with a key the sample
server minted (it begins ``oi_sk_sample_``, :data:`~oneinbox_nb.scope.SAMPLE_KEY_PREFIX`); the
sample server's answers themselves look like the real API's.

The key comes from ``ONEINBOX_API_KEY`` only (never from a parameter, so it is never written into a
notebook or a report). :meth:`DataSource.fetch` is :func:`~oneinbox_nb.fetch_calls` with the right
client and cache.

**The account.** :attr:`DataSource.label` carries the account's key fingerprint (never the key,
:mod:`oneinbox_nb.account`); the call store a real API's fetches use records the account it holds
and refuses another's (``fetch(merge=True)`` to mix them, :mod:`oneinbox_nb.cache`), and
:attr:`DataSource.store_description` names that store with its account.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Iterable, Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

from .cache import CallCache, default_cache_dir, source_name
from .client import OneInboxClient
from .config import API_KEY_ENV, BASE_URL_ENV, resolve_base_url, scrub
from .display import count
from .exceptions import CacheError, ConfigurationError, MissingAPIKeyError
from .fetch import FetchResult, fetch_calls
from .scope import Scope, SourceLabel, is_sample_key, resolve_agents

__all__ = ["SOURCES", "DataSource", "choose_source", "describe_source", "open_live", "open_source"]

SOURCES = ("auto", "api", "sample")
"""The values of ``source``: ``"auto"`` (the rule), ``"api"`` (the OneInbox API), ``"sample"``."""


class DataSource:
    """A client plus what it points at; made by :func:`open_source`.

    Attributes
    ----------
    client : OneInboxClient
        The client every fetch uses.
    description : str
        Where the calls come from, for people: ``"embedded sample API (production, seed 0)"`` or
        ``"OneInbox API at https://api.oneinbox.ai"``. Never holds the key.
    is_sample : bool
        True when the calls come from the embedded sample API this object started.
    label : SourceLabel
        What reports call the data: kind ``"sample"`` (``label.text == "sample data"``) for the
        embedded sample API and for sample servers started elsewhere, else ``"api"``;
        ``label.account`` is the key's fingerprint (:mod:`oneinbox_nb.account`), None for sample
        data.
    cache : bool
        Whether :meth:`fetch` uses the user's call store: True for a real API, False for the
        sample and for any loopback URL (a sample server started elsewhere: its port changes every
        run, so its stored calls would never be read again).
    """

    def __init__(
        self,
        client: OneInboxClient,
        *,
        description: str,
        sample_api: Any = None,
        sample_data: bool = False,
    ) -> None:
        self.client = client
        self.description = description
        self._sample_api = sample_api
        self.cache = sample_api is None and not _is_loopback(client.base_url)
        kind = "sample" if sample_data or sample_api is not None else "api"
        fingerprint = None if kind == "sample" else client.account_identity()["key_fingerprint"]
        self.label = SourceLabel(kind, description, account=fingerprint)

    @property
    def is_sample(self) -> bool:
        return self._sample_api is not None

    @property
    def store_description(self) -> str | None:
        """The call store :meth:`fetch` reads and writes, with the account it holds:
        ``"call store api.oneinbox.ai.sqlite3 (OneInbox API at …, account 1a2b…, 3,200 calls)"``
        (:attr:`oneinbox_nb.cache.CallCache.description`); ``"call store … (no calls yet)"``
        before the first fetch; None when this source uses no store (see :attr:`cache`).
        Never holds the key; creates nothing.
        """
        if not self.cache:
            return None
        name = source_name(self.client.base_url)
        if not (default_cache_dir() / f"{name}.sqlite3").exists():
            return f"call store {name}.sqlite3 (no calls yet)"
        try:
            with CallCache(source=name) as store:
                return store.description
        except CacheError:
            return f"call store {name}.sqlite3 (unreadable)"

    def scope(
        self,
        params: Mapping[str, Any] | None = None,
        /,
        *,
        interface: str = "python",
        **kwargs: Any,
    ) -> Scope:
        """The :class:`~oneinbox_nb.scope.Scope` these parameters describe, on this source.

        :meth:`Scope.parse <oneinbox_nb.scope.Scope.parse>` with this source's :attr:`label`;
        agent names are resolved to ids through ``GET /v1/agents`` (asked only when a name is
        given).

        Raises
        ------
        ScopeError
            A malformed value, or an agent name this account does not have (the message lists
            its agents).
        """
        scope = Scope.parse(params, interface=interface, **kwargs).with_source(self.label)
        if scope.needs_agent_names:
            scope = resolve_agents(scope, self.client.list_agents(), interface=interface)
        return scope

    def fetch(
        self,
        ids: Iterable[str] | None = None,
        *,
        scope: Scope | None = None,
        progress: bool = True,
        **filters: Any,
    ) -> FetchResult:
        """Fetch calls with this source's client: by id, every call matching ``filters``, or
        the calls of a ``scope``.

        Parameters
        ----------
        ids : iterable of str, optional
            Call ids; each ends up in ``result.calls`` or ``result.failures``.
        scope : Scope, optional
            Fetch its calls, as :func:`~oneinbox_nb.fetch_calls` ``scope=`` does (agent names
            resolved first; ``result.scope`` is it, labelled with this source when it had no
            source). Not with ``ids`` or the filters ``agent_id``, ``since``, ``until``,
            ``where``.
        progress : bool, default True
            Show a progress bar.
        **filters
            ``agent_id``, ``status``, ``since``, ``until``, ``where``, ``concurrency``, and
            ``merge`` (use a call store that holds another account's calls), as for
            :func:`~oneinbox_nb.fetch_calls`.

        Returns
        -------
        FetchResult

        Notes
        -----
        The real API uses the user's call store, so running a notebook again re-fetches only calls
        that had not settled; the sample API is not stored (see :attr:`cache`).
        """
        if "client" in filters or "cache" in filters:
            raise ConfigurationError(
                "DataSource.fetch sets client and cache itself; call oneinbox_nb.fetch_calls "
                "directly to choose them"
            )
        if scope is not None and scope.source is None:
            scope = scope.with_source(self.label)
        return fetch_calls(
            ids, client=self.client, cache=self.cache, progress=progress, scope=scope, **filters
        )

    def close(self) -> None:
        """Close the client and stop the sample server if this source started one."""
        self.client.close()
        if self._sample_api is not None:
            self._sample_api.stop()

    def __enter__(self) -> DataSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"DataSource({self.description!r})"


def _is_loopback(base_url: str) -> bool:
    host = urlsplit(base_url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _scenario_names(scenario: str | Sequence[str]) -> str | tuple[str, ...]:
    if isinstance(scenario, str):
        return scenario
    names = tuple(scenario)
    if not names or not all(isinstance(name, str) for name in names):
        raise ConfigurationError(
            f"scenario must be a name or a list of names such as ('load_test', 'production'), "
            f"got {scenario!r}"
        )
    return names[0] if len(names) == 1 else names


def choose_source(base_url: str | None = None, source: str = "auto") -> str:
    """Apply the source rule: ``"api"`` (the OneInbox API) or ``"sample"`` (the embedded one).

    Parameters
    ----------
    base_url : str, optional
        An API root given explicitly; it means the OneInbox API.
    source : {"auto", "api", "sample"}, default "auto"
        ``"auto"``: the API when ``base_url`` is given or ``ONEINBOX_API_KEY`` is set, else the
        sample. ``"api"`` and ``"sample"`` choose directly (``"sample"`` with a ``base_url``: a
        sample server already running there).

    Returns
    -------
    str
        ``"api"`` or ``"sample"``. Reads the environment, starts nothing.

    Raises
    ------
    ConfigurationError
        An unknown ``source``.
    MissingAPIKeyError
        ``source="auto"`` with ``ONEINBOX_BASE_URL`` set but no ``ONEINBOX_API_KEY``.

    Notes
    -----
    ``source="sample"`` with a ``base_url`` is ``"sample"`` too: a sample server started elsewhere,
    read with ``ONEINBOX_API_KEY`` (see :func:`open_source`).
    """
    if source not in SOURCES:
        raise ConfigurationError(
            f"source must be one of {', '.join(repr(s) for s in SOURCES)}, got {source!r}"
        )
    if source == "sample":
        return "sample"
    if source == "api" or base_url is not None or os.environ.get(API_KEY_ENV, "").strip():
        return "api"
    if os.environ.get(BASE_URL_ENV, "").strip():
        raise MissingAPIKeyError(
            f"{BASE_URL_ENV} is set but {API_KEY_ENV} is not: export {API_KEY_ENV}=oi_sk_... to "
            f"read that API, or unset {BASE_URL_ENV} (or ask for source='sample') to use the "
            "embedded sample API"
        )
    return "sample"


def _sample_description(
    scenario: str | Sequence[str], seed: int, n: int | None, *, why: str = ""
) -> str:
    names = _scenario_names(scenario)
    shown = names if isinstance(names, str) else " + ".join(names)
    size = "" if n is None else f", n {n}"
    return f"embedded sample API ({shown}, seed {seed}{size}): sample data{why}"


def _served_sample(base_url: str) -> str:
    return f"sample data served at {base_url}"


def _environment_key() -> str:
    return os.environ.get(API_KEY_ENV, "").strip()


def describe_source(
    base_url: str | None = None,
    source: str = "auto",
    *,
    scenario: str | Sequence[str] = "production",
    seed: int = 0,
    n: int | None = None,
) -> str:
    """What :func:`open_source` with these arguments would read, for people; starts nothing.

    Returns
    -------
    str
        ``"OneInbox API at https://api.oneinbox.ai"``; ``"embedded sample API (production, seed
        0): sample data, asked for explicitly"`` (or why the sample was chosen); ``"sample data
        served at http://127.0.0.1:8765"`` for a sample server started elsewhere (``source="sample"``
        with a ``base_url``, or a key the sample server minted). Never holds the key.
    """
    chosen = choose_source(base_url, source)
    if chosen == "sample" and base_url is None:
        why = (
            ", asked for explicitly"
            if source == "sample"
            else f", generated because {API_KEY_ENV} is not set"
        )
        return _sample_description(scenario, seed, n, why=why)
    url = resolve_base_url(base_url)
    secret = _environment_key()
    shown = scrub(url, secret) if secret else scrub(url)
    if chosen == "sample" or is_sample_key(secret):
        return _served_sample(shown)
    return f"OneInbox API at {shown}"


def open_source(
    base_url: str | None = None,
    *,
    source: str = "auto",
    scenario: str | Sequence[str] = "production",
    seed: int = 0,
    n: int | None = None,
    now: Any = None,
    calls: Sequence[dict[str, Any]] | None = None,
) -> DataSource:
    """Open the data source a notebook reads by the source rule: the OneInbox API or the sample.

    Parameters
    ----------
    base_url : str, optional
        The root of a OneInbox API (``"https://api.oneinbox.ai"``). None (default): with a key,
        ``ONEINBOX_BASE_URL`` or the production host. The key is read from ``ONEINBOX_API_KEY``.
    source : {"auto", "api", "sample"}, default "auto"
        See :func:`choose_source`: ``"auto"`` reads the OneInbox API when ``ONEINBOX_API_KEY`` is
        set (or ``base_url`` given), else starts the embedded sample API on ``127.0.0.1``.
        ``"sample"`` with a ``base_url`` reads a sample server running there (key from
        ``ONEINBOX_API_KEY``), labelled sample data.
    scenario : str or sequence of str, default "production"
        Sample only: ``"call"``, ``"production"``, ``"load_test"`` or several of them (their calls
        are served together, e.g. ``("load_test", "production")``).
    seed : int, default 0
        Sample only: the seed of the generated calls.
    n : int, optional
        Sample only: calls per scenario instead of the scenario's default.
    now : datetime or str, optional
        Sample only: the moment the generated calls lead up to (see
        :func:`oneinbox_nb.sample.serve`); default the current hour.
    calls : sequence of dict, optional
        Sample only: serve these payloads instead of a scenario's (e.g.
        :func:`oneinbox_nb.sample.regression_pair`'s two runs).

    Returns
    -------
    DataSource
        Close it (or use ``with``) to stop the sample server.

    Raises
    ------
    MissingAPIKeyError
        The rule chose the API and ``ONEINBOX_API_KEY`` is not set.
    ConfigurationError
        An unknown ``source`` (see :func:`choose_source`).
    ValueError
        An unknown sample scenario (the message lists the valid ones).
    """
    chosen = choose_source(base_url, source)
    if chosen == "api" or base_url is not None:
        client = OneInboxClient(base_url=base_url)
        # a key pasted into the URL must not reach the description either
        secret = _environment_key()
        where = scrub(client.base_url, secret) if secret else scrub(client.base_url)
        if chosen == "sample" or is_sample_key(secret):
            return DataSource(client, description=_served_sample(where), sample_data=True)
        return DataSource(client, description=f"OneInbox API at {where}")

    from . import sample

    names = _scenario_names(scenario)
    api = sample.serve(names, seed=seed, n=n, now=now, calls=calls)
    try:
        client = OneInboxClient(api.api_key, api.base_url)
    except BaseException:
        api.stop()
        raise
    if calls is not None:
        noun = "call" if len(calls) == 1 else "calls"
        described = f"embedded sample API ({count(len(calls))} given {noun}): sample data"
    else:
        described = describe_source(None, source, scenario=names, seed=seed, n=n)
    return DataSource(client, description=described, sample_api=api)


def open_live(
    *, n: int | None = 1000, seed: int = 0, speed: float = 30.0, played: float = 0.0, **options: Any
) -> tuple[DataSource, Any]:
    """A live sample load-test run as a data source, for notebooks: ``(DataSource, LiveLoadTest)``.

    Parameters
    ----------
    n, seed, speed
        As for :func:`oneinbox_nb.sample.live.serve_live`.
    played : float, default 0
        Share of the run already played when it opens (0 to 1).
    **options
        Other keywords of :func:`~oneinbox_nb.sample.live.serve_live` (``ramp``, ``rate``,
        ``knee``, ``regression``...).

    Returns
    -------
    tuple
        A :class:`DataSource` whose ``client`` reads the run (close it to stop
        the server) and the :class:`~oneinbox_nb.sample.live.LiveLoadTest` (its ``run_id``, ``clock``, ``truth``).
    """
    from .sample.live import serve_live

    if not 0 <= played <= 1:
        raise ValueError(f"played must be a share between 0 and 1, got {played!r}")
    api = serve_live(n=n, seed=seed, speed=speed, **options)
    live = api.live
    live.clock.advance(live.duration_s * played)
    client = OneInboxClient(api.api_key, api.base_url)
    size = count(len(live.calls))
    described = f"embedded sample API playing a live load test ({size} calls, seed {seed})"
    return DataSource(client, description=described, sample_api=api), live
