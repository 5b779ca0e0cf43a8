"""The synchronous client, :class:`OneInboxClient`: the I/O loop around :mod:`.endpoints`."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import httpx

from ..config import APIKey
from ..exceptions import APIStatusError, OneInboxError
from . import errors
from .endpoints import (
    DEFAULT_TIMEOUT,
    ClientBase,
    OffsetPager,
    PageWalker,
    agent_path,
    call_path,
    log_request,
    validate_call_id,
)
from .retry import RetryPolicy

__all__ = ["OneInboxClient"]

log = logging.getLogger("oneinbox_nb.client")


class OneInboxClient(ClientBase):
    """Synchronous OneInbox API client.

    Parameters
    ----------
    api_key
        Secret key (``oi_sk_...``); defaults to ``ONEINBOX_API_KEY``. Never shown in reprs,
        errors or logs; kept only in the httpx client's headers (``vars(client)`` and a traceback
        that shows locals never print it). :attr:`api_key` gives it back, masked.
    base_url
        API root; defaults to ``ONEINBOX_BASE_URL`` or ``https://api.oneinbox.ai``. User-info and
        query are dropped (a key pasted there is never sent nor shown); a key in the path is a
        :class:`~oneinbox_nb.exceptions.ConfigurationError`.
    timeout
        Seconds (or an ``httpx.Timeout``) per request.
    transport
        An ``httpx.BaseTransport`` to use instead of the network, e.g. ``httpx.MockTransport``.
    retry
        A :class:`RetryPolicy`; the default tries four times within 120 s.
    sleep
        How to wait between tries (a test passes a recorder).

    Notes
    -----
    Each request is one DEBUG line on the ``oneinbox_nb.client`` logger: method, path, status
    (or the transport failure's type) and milliseconds; ``oneinbox-nb -v`` shows them.

    Examples
    --------
    >>> with OneInboxClient() as client:                    # doctest: +SKIP
    ...     call = client.get_call("3f2b8c1e-9d4a-4e57-b1c2-7a8d9e0f1a2b")
    """

    def __init__(
        self,
        api_key: str | APIKey | None = None,
        base_url: str | None = None,
        timeout: float | httpx.Timeout = DEFAULT_TIMEOUT,
        transport: httpx.BaseTransport | None = None,
        retry: RetryPolicy | None = None,
        *,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        headers = self._configure(api_key, base_url, timeout, retry)
        self._sleep = sleep
        self._http = httpx.Client(
            base_url=self.base_url, headers=headers, timeout=timeout, transport=transport
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> OneInboxClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _get(
        self,
        path: str,
        params: Mapping[str, Any] | None = None,
        call_id: str | None = None,
        retry: RetryPolicy | None = None,
    ) -> Any:
        policy = retry or self.retry
        started = time.monotonic()
        attempt = 0
        while True:
            attempt += 1
            request = self._http.build_request("GET", path, params=params)
            try:
                sent = time.perf_counter()
                try:
                    response = self._http.send(request)
                except httpx.HTTPError as exc:
                    log_request(request, None, sent, exc)
                    raise errors.transport_error(exc, request, self._redact) from exc
                log_request(request, response, sent)
                return self._read(response, call_id, attempt)
            except OneInboxError as error:
                delay = policy.next_delay(error, attempt, time.monotonic() - started)
                if delay is None:
                    raise
                log.info("retrying in %.2f s after: %s", delay, error)
                self._sleep(delay)

    def get_call(self, call_id: str | uuid.UUID, *, retry: RetryPolicy | None = None) -> dict:
        """Fetch one call (``GET /v1/calls/{call_id}``) as the API's dict.

        Parameters
        ----------
        call_id
            The call's UUID (any case; checked before any request).
        retry
            Overrides the client's :class:`RetryPolicy` for this request.

        Returns
        -------
        dict
            The call, its ``id`` in canonical lower-case form.

        Raises
        ------
        InvalidCallIdError
            ``call_id`` is not a UUID.
        InvalidResponseError
            The answer is not a call, or is another call than the one asked for.
        """
        call_id = validate_call_id(call_id)
        body = self._get(call_path(call_id), call_id=call_id, retry=retry)
        return self._check_call(body, call_id)

    def iter_calls(
        self,
        agent_id: str | None = None,
        status: str | None = None,
        page_size: int = 100,
        *,
        retry: RetryPolicy | None = None,
    ) -> Iterator[dict]:
        """Yield every call, newest first, walking the list endpoints until exhausted.

        Uses ``GET /v1/calls/cursor``; falls back to the offset endpoint ``GET /v1/calls`` when the
        cursor endpoint is absent (404/405). Only ``agent_id`` and ``status`` filter server-side.
        Items whose id is not a UUID are skipped with a logged warning.
        """
        walker = PageWalker(self._page_params(agent_id, status, page_size))
        while (request := walker.next_request()) is not None:
            path, page_params = request
            try:
                page = self._get(path, page_params, retry=retry)
            except APIStatusError as exc:
                if not walker.fallback(exc):
                    raise
                continue
            yield from walker.take(page, self)

    def iter_agents(self, page_size: int = 100) -> Iterator[dict]:
        """Yield every agent of the workspace (``GET /v1/agents``, offset-paged).

        Each item is the API's dict: at least ``id`` and ``name``, plus the agent's configuration.
        """
        pager = OffsetPager("/v1/agents", page_size)
        while (request := pager.next_request()) is not None:
            yield from pager.take(self._get(*request), self)

    def list_agents(self, page_size: int = 100) -> list[dict]:
        """Every agent of the workspace as a list of dicts (see :meth:`iter_agents`)."""
        return list(self.iter_agents(page_size))

    def get_agent(self, agent_id: str) -> dict:
        """One agent (``GET /v1/agents/{agent_id}``) as the API's dict.

        Raises
        ------
        APIStatusError
            404 when no such agent exists in the key's workspace.
        InvalidResponseError
            The answer is not an agent object.
        """
        path = agent_path(agent_id)
        return self._check_agent(self._get(path), path)

    def usage(self) -> dict:
        """``GET /v1/usage``: the workspace's daily call limits."""
        return self._get("/v1/usage")
