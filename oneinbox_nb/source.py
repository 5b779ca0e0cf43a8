"""Where a notebook's calls come from: the embedded sample API or the real OneInbox API.

Every notebook starts with the same two parameters, ``base_url = None`` and ``seed = 0``, and one
line::

    source = open_source(base_url, scenario=scenario, seed=seed)

``base_url=None`` starts the embedded sample API (:func:`oneinbox_nb.sample.serve`) on a loopback
port, so the notebook runs without a key; any other value is the root of a real OneInbox API, and
the key comes from ``ONEINBOX_API_KEY`` only (never from a parameter, so it is never written into a
notebook or a report). :meth:`DataSource.fetch` is :func:`~oneinbox_nb.fetch_calls` with the right
client and cache.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence
from typing import Any
from urllib.parse import urlsplit

from .client import OneInboxClient
from .config import scrub
from .exceptions import ConfigurationError
from .fetch import FetchResult, fetch_calls

__all__ = ["DataSource", "open_source"]


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
    cache : bool
        Whether :meth:`fetch` uses the user's call store: True for a real API, False for the
        sample and for any loopback URL (a sample server started elsewhere: its port changes every
        run, so its stored calls would never be read again).
    """

    def __init__(self, client: OneInboxClient, *, description: str, sample_api: Any = None) -> None:
        self.client = client
        self.description = description
        self._sample_api = sample_api
        self.cache = sample_api is None and not _is_loopback(client.base_url)

    @property
    def is_sample(self) -> bool:
        return self._sample_api is not None

    def fetch(
        self, ids: Iterable[str] | None = None, *, progress: bool = True, **filters: Any
    ) -> FetchResult:
        """Fetch calls with this source's client: by id, or every call matching ``filters``.

        Parameters
        ----------
        ids : iterable of str, optional
            Call ids; each ends up in ``result.calls`` or ``result.failures``.
        progress : bool, default True
            Show a progress bar.
        **filters
            ``agent_id``, ``status``, ``since``, ``until``, ``where``, ``concurrency``, as for
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
        return fetch_calls(ids, client=self.client, cache=self.cache, progress=progress, **filters)

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


def open_source(
    base_url: str | None = None,
    *,
    scenario: str | Sequence[str] = "production",
    seed: int = 0,
    n: int | None = None,
    calls: Sequence[dict[str, Any]] | None = None,
) -> DataSource:
    """Open the data source a notebook reads: the embedded sample API, or the real API.

    Parameters
    ----------
    base_url : str, optional
        None (default): start the embedded sample API on ``127.0.0.1`` and connect to it with its
        own key. Otherwise the root of a OneInbox API (``"https://api.oneinbox.ai"``); its key is
        read from ``ONEINBOX_API_KEY``.
    scenario : str or sequence of str, default "production"
        Sample only: ``"call"``, ``"production"``, ``"load_test"`` or several of them (their calls
        are served together, e.g. ``("load_test", "production")``).
    seed : int, default 0
        Sample only: the seed of the generated calls.
    n : int, optional
        Sample only: calls per scenario instead of the scenario's default.
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
        ``base_url`` is given and ``ONEINBOX_API_KEY`` is not set.
    ValueError
        An unknown sample scenario (the message lists the valid ones).
    """
    if base_url is not None:
        client = OneInboxClient(base_url=base_url)
        # a key pasted into the URL must not reach the description either
        where = scrub(client.base_url, client._api_key.reveal())
        return DataSource(client, description=f"OneInbox API at {where}")

    from . import sample

    names = _scenario_names(scenario)
    api = sample.serve(names, seed=seed, n=n, calls=calls)
    try:
        client = OneInboxClient(api.api_key, api.base_url)
    except BaseException:
        api.stop()
        raise
    shown = names if isinstance(names, str) else " + ".join(names)
    if calls is not None:
        shown = f"{len(calls):,} given calls"
    size = "" if n is None else f", n {n}"
    return DataSource(
        client,
        description=f"embedded sample API ({shown}, seed {seed}{size})",
        sample_api=api,
    )
