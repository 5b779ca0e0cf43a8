"""The asynchronous client, :class:`AsyncOneInboxClient`: the same endpoints, awaited.

It defaults to the aiohttp transport from ``httpx-aiohttp``: httpx's own async pool slows down
sharply as concurrency grows (encode/httpx#3215), and ``benchmarks/`` measures the difference.
Pass ``transport=`` (e.g. ``httpx.MockTransport``) to replace it; that is the test seam.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import AsyncIterator, Callable, Mapping
from typing import TYPE_CHECKING, Any

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

if TYPE_CHECKING:
    from .sync import OneInboxClient

__all__ = ["AsyncOneInboxClient"]

log = logging.getLogger("oneinbox_nb.client")


class AsyncOneInboxClient(ClientBase):
    """Asynchronous OneInbox API client; the same methods as :class:`OneInboxClient`, awaited.

    Parameters are those of :class:`OneInboxClient`, plus ``max_connections`` for the pool. Without
    ``transport=``, requests go through ``httpx_aiohttp.AiohttpTransport``.
    """

    def __init__(
        self,
        api_key: str | APIKey | None = None,
        base_url: str | None = None,
        timeout: float | httpx.Timeout = DEFAULT_TIMEOUT,
        transport: httpx.AsyncBaseTransport | None = None,
        retry: RetryPolicy | None = None,
        *,
        max_connections: int = 100,
        sleep: Callable[[float], Any] = asyncio.sleep,
    ) -> None:
        headers = self._configure(api_key, base_url, timeout, retry)
        self._sleep = sleep
        limits = httpx.Limits(
            max_connections=max_connections, max_keepalive_connections=max_connections
        )
        if transport is None:
            from httpx_aiohttp import AiohttpTransport

            transport = AiohttpTransport(limits=limits)
        self._http = httpx.AsyncClient(
            base_url=self.base_url,
            headers=headers,
            timeout=timeout,
            transport=transport,
            limits=limits,
        )

        # requests go straight to the transport: the API sets no cookies and never redirects, so
        # the client's per-request URL merging and cookie handling (about half the CPU of a
        # request at concurrency 50) buy nothing; headers, timeouts and the pool are the client's
        self._transport = transport
        self._root = str(self._http.base_url).rstrip("/") + "/"
        self._extensions = {"timeout": self._http.timeout.as_dict()}

    @classmethod
    def like(cls, client: OneInboxClient, *, max_connections: int = 100) -> AsyncOneInboxClient:
        """An async client with the key, base URL, timeout and retry policy of ``client``.

        Parameters
        ----------
        client : OneInboxClient
            The sync client to copy the settings of (it stays open and usable).
        max_connections : int
            Size of the new client's connection pool.
        """
        return cls(
            client.api_key,
            client.base_url,
            timeout=client.timeout,
            retry=client.retry,
            max_connections=max_connections,
        )

    async def _send(self, request: httpx.Request) -> httpx.Response:
        started = time.perf_counter()
        try:
            response = await self._transport.handle_async_request(request)
            response.request = request
            try:
                await response.aread()
            finally:
                await response.aclose()
        except httpx.HTTPError as exc:
            log_request(request, None, started, exc)
            raise
        log_request(request, response, started)
        return response

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> AsyncOneInboxClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def _get(
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
            request = httpx.Request(
                "GET",
                self._root + path.lstrip("/"),
                params=params,
                headers=self._http.headers,
                extensions=self._extensions,
            )
            try:
                try:
                    response = await self._send(request)
                except httpx.HTTPError as exc:
                    raise errors.transport_error(exc, request, self._redact) from exc
                return self._read(response, call_id, attempt)
            except OneInboxError as error:
                delay = policy.next_delay(error, attempt, time.monotonic() - started)
                if delay is None:
                    raise
                log.info("retrying in %.2f s after: %s", delay, error)
                await self._sleep(delay)

    async def get_call(self, call_id: str | uuid.UUID, *, retry: RetryPolicy | None = None) -> dict:
        """Fetch one call (``GET /v1/calls/{call_id}``); see :meth:`OneInboxClient.get_call`."""
        call_id = validate_call_id(call_id)
        body = await self._get(call_path(call_id), call_id=call_id, retry=retry)
        return self._check_call(body, call_id)

    async def iter_calls(
        self,
        agent_id: str | None = None,
        status: str | None = None,
        page_size: int = 100,
        *,
        retry: RetryPolicy | None = None,
    ) -> AsyncIterator[dict]:
        """Yield every call, newest first (cursor endpoint, offset fallback); see the sync client."""
        walker = PageWalker(self._page_params(agent_id, status, page_size))
        while (request := walker.next_request()) is not None:
            path, page_params = request
            try:
                page = await self._get(path, page_params, retry=retry)
            except APIStatusError as exc:
                if not walker.fallback(exc):
                    raise
                continue
            for call in walker.take(page, self):
                yield call

    async def iter_agents(
        self, page_size: int = 100, *, retry: RetryPolicy | None = None
    ) -> AsyncIterator[dict]:
        """Yield every agent (``GET /v1/agents``); see :meth:`OneInboxClient.iter_agents`.

        ``retry`` overrides the client's :class:`RetryPolicy` for these requests.
        """
        pager = OffsetPager("/v1/agents", page_size)
        while (request := pager.next_request()) is not None:
            for agent in pager.take(await self._get(*request, retry=retry), self):
                yield agent

    async def list_agents(self, page_size: int = 100) -> list[dict]:
        """Every agent of the workspace as a list of dicts."""
        return [agent async for agent in self.iter_agents(page_size)]

    async def get_agent(self, agent_id: str) -> dict:
        """One agent (``GET /v1/agents/{agent_id}``); see :meth:`OneInboxClient.get_agent`."""
        path = agent_path(agent_id)
        return self._check_agent(await self._get(path), path)

    async def usage(self) -> dict:
        """``GET /v1/usage``: the workspace's daily call limits."""
        return await self._get("/v1/usage")
