"""HTTP clients for the OneInbox REST API: :class:`OneInboxClient` and :class:`AsyncOneInboxClient`.

Both return plain dicts (the API's JSON) and never import pandas; :func:`oneinbox_nb.to_frames`
turns those dicts into DataFrames. Errors are translated into the tree in
:mod:`oneinbox_nb.exceptions`; idempotent GETs are retried on 429, 5xx, timeouts and connection
failures with bounded exponential backoff and full jitter, honouring ``Retry-After``.

The async client defaults to the aiohttp transport from ``httpx-aiohttp``: httpx's own async pool
slows down sharply as concurrency grows (encode/httpx#3215), and ``benchmarks/`` measures the
difference. Pass ``transport=`` (e.g. ``httpx.MockTransport``) to replace it; that is the test seam.
"""

from __future__ import annotations

import asyncio
import email.utils
import logging
import random
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import httpx
import orjson

from .config import APIKey, resolve_api_key, resolve_base_url, scrub
from .exceptions import (
    APIConnectionError,
    APIStatusError,
    AuthenticationError,
    CallNotFoundError,
    ConfigurationError,
    InvalidCallIdError,
    InvalidResponseError,
    OneInboxError,
    PermissionDeniedError,
    RateLimitError,
    RequestTimeoutError,
    RequestValidationError,
    ServerError,
    TransportError,
)

__all__ = [
    "TERMINAL_STATUSES",
    "AsyncOneInboxClient",
    "OneInboxClient",
    "RetryPolicy",
    "validate_call_id",
]

log = logging.getLogger(__name__)

#: Call statuses after which a payload no longer changes: the documented completed and failed, plus
#: the values clients defend against (api-facts.md).
TERMINAL_STATUSES = frozenset({"completed", "failed", "no_answer", "busy", "canceled", "cancelled"})

DEFAULT_TIMEOUT = 30.0
MAX_PAGE_SIZE = 100
_RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


@dataclass(frozen=True)
class RetryPolicy:
    """How GETs are retried.

    Parameters
    ----------
    max_attempts
        Total tries per request, the first included (1 disables retries).
    backoff
        Base delay in seconds; attempt ``k`` waits up to ``backoff * 2**k`` ("full jitter").
    max_backoff
        Cap on one computed delay.
    max_retry_after
        Longest ``Retry-After`` honoured; a server asking for more raises at once instead of
        silently sleeping.
    """

    max_attempts: int = 4
    backoff: float = 0.25
    max_backoff: float = 8.0
    max_retry_after: float = 60.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ConfigurationError("RetryPolicy.max_attempts must be at least 1")
        if self.backoff < 0 or self.max_backoff < 0:
            raise ConfigurationError("RetryPolicy backoff values must not be negative")

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds to wait before retry number ``attempt`` (1-based)."""
        if retry_after is not None:
            return min(retry_after, self.max_retry_after)
        return random.uniform(0, min(self.max_backoff, self.backoff * 2 ** (attempt - 1)))


def validate_call_id(call_id: object) -> str:
    """Return ``call_id`` as a canonical UUID string, or raise :class:`InvalidCallIdError`.

    Checked locally so that a malformed id never reaches the network.
    """
    if isinstance(call_id, uuid.UUID):
        return str(call_id)
    if isinstance(call_id, str):
        try:
            return str(uuid.UUID(call_id.strip()))
        except ValueError:
            pass
    raise InvalidCallIdError(call_id, shown=scrub(repr(call_id)))


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or HTTP-date); None if absent/invalid."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


class _Base:
    """What the sync and async clients share: settings, request building, error mapping."""

    def __init__(
        self,
        api_key: str | APIKey | None,
        base_url: str | None,
        timeout: float | httpx.Timeout,
        retry: RetryPolicy | None,
    ) -> None:
        self._api_key = resolve_api_key(api_key)
        self.base_url = resolve_base_url(base_url)
        self.timeout = timeout
        self.retry = retry or RetryPolicy()
        self._headers = {
            "Authorization": f"Bearer {self._api_key.reveal()}",
            "Accept": "application/json",
            "User-Agent": "oneinbox_nb/0.1",
        }

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={self.base_url!r}, api_key='***')"

    # -- errors ---------------------------------------------------------------------------------

    def _where(self, request: httpx.Request) -> str:
        return scrub(f"{request.method} {request.url}", self._api_key.reveal())

    def _transport_error(self, exc: httpx.HTTPError, request: httpx.Request) -> TransportError:
        where = self._where(request)
        reason = scrub(str(exc) or type(exc).__name__, self._api_key.reveal())
        exc.args = (reason,)  # the chained cause prints in tracebacks: scrub it too
        causes = []
        cause: BaseException | None = exc
        while cause is not None and len(causes) < 5:
            causes.append(type(cause).__name__)
            cause = cause.__cause__ or cause.__context__
        # httpx-aiohttp maps a dropped connection (aiohttp ServerDisconnectedError) to ConnectTimeout.
        disconnected = any("Disconnected" in name or "Payload" in name for name in causes)
        if isinstance(exc, httpx.TimeoutException) and not disconnected:
            return RequestTimeoutError(
                f"{where} timed out ({reason}). The API may be slow or unreachable: raise "
                "`timeout=` on the client or try again later.",
                request=request,
            )
        return APIConnectionError(
            f"{where} failed: could not connect or the connection dropped ({reason}). Check the "
            f"base URL {self.base_url!r} and your network, then try again.",
            request=request,
        )

    def _status_error(
        self, response: httpx.Response, call_id: str | None, attempts: int
    ) -> APIStatusError:
        request = response.request
        where = self._where(request)
        status = response.status_code
        detail = scrub(_detail(response), self._api_key.reveal())
        kw: dict[str, Any] = {"request": request, "response": response}
        tries = f" after {attempts} attempts" if attempts > 1 else ""
        if status == 401:
            return AuthenticationError(
                f"{where}: 401, the API key was rejected (missing, wrong or revoked). Check the "
                "api_key argument or ONEINBOX_API_KEY; secret keys start with oi_sk_.",
                **kw,
            )
        if status == 403:
            hint = (
                " Publishable keys (oi_pk_) only work from allowed browser origins; use a secret "
                "key (oi_sk_)."
                if self._api_key.kind == "publishable"
                else " Check that the key's workspace may read calls."
            )
            return PermissionDeniedError(f"{where}: 403 forbidden ({detail}).{hint}", **kw)
        if status == 404 and call_id is not None:
            return CallNotFoundError(
                f"call {call_id} was not found (404). Check the id, and that the API key belongs "
                "to the workspace that made the call.",
                call_id=call_id,
                **kw,
            )
        if status == 422:
            raw = _json_or_none(response)
            detail_obj = raw.get("detail") if isinstance(raw, dict) else None
            return RequestValidationError(
                f"{where}: 422, the server rejected the request: {detail}. Fix the parameter "
                "named there and call again.",
                detail=detail_obj,
                **kw,
            )
        if status == 429:
            retry_after = parse_retry_after(response.headers.get("Retry-After"))
            wait = f"retry after {retry_after:g} s" if retry_after is not None else "wait"
            return RateLimitError(
                f"{where}: 429, rate limited{tries}. {wait}, or lower the concurrency of "
                "fetch_calls.",
                retry_after=retry_after,
                **kw,
            )
        if status >= 500:
            return ServerError(
                f"{where}: {status}, OneInbox server error{tries} ({detail}). Try again later; "
                "if it persists, contact OneInbox support with the call id.",
                **kw,
            )
        return APIStatusError(f"{where}: unexpected status {status} ({detail}).", **kw)

    def _decode(self, response: httpx.Response) -> Any:
        try:
            return orjson.loads(response.content)
        except orjson.JSONDecodeError as exc:
            raise InvalidResponseError(
                f"{self._where(response.request)}: the response body is not valid JSON "
                f"({len(response.content)} bytes; truncated or not the OneInbox API?). "
                "Try again; check the base URL if it persists.",
                request=response.request,
            ) from exc

    def _call_payload(self, body: Any, path: str) -> dict:
        if not isinstance(body, dict) or "id" not in body:
            raise InvalidResponseError(
                f"GET {self.base_url}{path}: expected a call object with an 'id', got "
                f"{type(body).__name__}. Check the base URL points at the OneInbox API."
            )
        return body

    def _page_params(self, agent_id: str | None, status: str | None, page_size: int) -> dict:
        if not isinstance(page_size, int) or not 1 <= page_size <= MAX_PAGE_SIZE:
            raise ConfigurationError(
                f"page_size must be an integer from 1 to {MAX_PAGE_SIZE}, got {page_size!r}"
            )
        params: dict[str, Any] = {"limit": page_size}
        if agent_id is not None:
            params["agent_id"] = agent_id
        if status is not None:
            params["status"] = status
        return params

    @staticmethod
    def _retryable(error: OneInboxError) -> bool:
        if isinstance(error, TransportError):
            return True
        return isinstance(error, APIStatusError) and error.status_code in _RETRY_STATUSES

    def _retry_delay(self, error: OneInboxError, attempt: int, policy: RetryPolicy) -> float | None:
        """Seconds to sleep before the next attempt, or None to give up and raise."""
        if attempt >= policy.max_attempts or not self._retryable(error):
            return None
        retry_after = getattr(error, "retry_after", None)
        if retry_after is not None and retry_after > policy.max_retry_after:
            return None
        delay = policy.delay(attempt, retry_after)
        log.info("retrying in %.2f s after: %s", delay, error)
        return delay


def _json_or_none(response: httpx.Response) -> Any:
    try:
        return orjson.loads(response.content)
    except orjson.JSONDecodeError:
        return None


def _detail(response: httpx.Response) -> str:
    """A short human reading of an error body (FastAPI's ``detail`` when present)."""
    body = _json_or_none(response)
    detail = body.get("detail") if isinstance(body, dict) else None
    if isinstance(detail, list):
        parts = []
        for item in detail[:5]:
            if isinstance(item, dict):
                loc = ".".join(str(p) for p in item.get("loc", []))
                parts.append(f"{loc}: {item.get('msg', '')}".strip(": "))
            else:
                parts.append(str(item))
        return "; ".join(parts) or "no detail"
    if detail is not None:
        return str(detail)[:300]
    text = response.text[:200].strip()
    return text or response.reason_phrase or "no detail"


def _call_path(call_id: str) -> str:
    return f"/v1/calls/{call_id}"


class OneInboxClient(_Base):
    """Synchronous OneInbox API client.

    Parameters
    ----------
    api_key
        Secret key (``oi_sk_...``); defaults to ``ONEINBOX_API_KEY``. Never shown in reprs,
        errors or logs.
    base_url
        API root; defaults to ``ONEINBOX_BASE_URL`` or ``https://api.oneinbox.ai``.
    timeout
        Seconds (or an ``httpx.Timeout``) per request.
    transport
        An ``httpx.BaseTransport`` to use instead of the network, e.g. ``httpx.MockTransport``.
    retry
        A :class:`RetryPolicy`; the default tries four times.

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
        super().__init__(api_key, base_url, timeout, retry)
        self._sleep = sleep
        self._http = httpx.Client(
            base_url=self.base_url, headers=self._headers, timeout=timeout, transport=transport
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
    ):
        attempt = 0
        while True:
            attempt += 1
            request = self._http.build_request("GET", path, params=params)
            try:
                try:
                    response = self._http.send(request)
                except httpx.HTTPError as exc:
                    raise self._transport_error(exc, request) from exc
                if response.is_success:
                    return self._decode(response)
                raise self._status_error(response, call_id, attempt)
            except OneInboxError as error:
                delay = self._retry_delay(error, attempt, retry or self.retry)
                if delay is None:
                    raise
                self._sleep(delay)

    def get_call(self, call_id: str | uuid.UUID, *, retry: RetryPolicy | None = None) -> dict:
        """Fetch one call (``GET /v1/calls/{call_id}``) as the API's dict.

        ``retry`` overrides the client's :class:`RetryPolicy` for this request.
        """
        call_id = validate_call_id(call_id)
        path = _call_path(call_id)
        return self._call_payload(self._get(path, call_id=call_id, retry=retry), path)

    def iter_calls(
        self, agent_id: str | None = None, status: str | None = None, page_size: int = 100
    ) -> Iterator[dict]:
        """Yield every call, newest first, walking the list endpoints until exhausted.

        Uses ``GET /v1/calls/cursor``; falls back to the offset endpoint ``GET /v1/calls`` when the
        cursor endpoint is absent (404/405). Only ``agent_id`` and ``status`` filter server-side.
        """
        params = self._page_params(agent_id, status, page_size)
        walker = _PageWalker(params)
        while (request := walker.next_request()) is not None:
            path, page_params = request
            try:
                page = self._get(path, page_params)
            except APIStatusError as exc:
                if not walker.fallback(exc):
                    raise
                continue
            yield from walker.take(page, self)

    def usage(self) -> dict:
        """``GET /v1/usage``: the workspace's daily call limits."""
        return self._get("/v1/usage")


class AsyncOneInboxClient(_Base):
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
        super().__init__(api_key, base_url, timeout, retry)
        self._sleep = sleep
        limits = httpx.Limits(
            max_connections=max_connections, max_keepalive_connections=max_connections
        )
        if transport is None:
            from httpx_aiohttp import AiohttpTransport

            transport = AiohttpTransport(limits=limits)
        self._http = httpx.AsyncClient(
            base_url=self.base_url,
            headers=self._headers,
            timeout=timeout,
            transport=transport,
            limits=limits,
        )

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
    ):
        attempt = 0
        while True:
            attempt += 1
            request = self._http.build_request("GET", path, params=params)
            try:
                try:
                    response = await self._http.send(request)
                except httpx.HTTPError as exc:
                    raise self._transport_error(exc, request) from exc
                if response.is_success:
                    return self._decode(response)
                raise self._status_error(response, call_id, attempt)
            except OneInboxError as error:
                delay = self._retry_delay(error, attempt, retry or self.retry)
                if delay is None:
                    raise
                await self._sleep(delay)

    async def get_call(self, call_id: str | uuid.UUID, *, retry: RetryPolicy | None = None) -> dict:
        """Fetch one call (``GET /v1/calls/{call_id}``) as the API's dict.

        ``retry`` overrides the client's :class:`RetryPolicy` for this request.
        """
        call_id = validate_call_id(call_id)
        path = _call_path(call_id)
        return self._call_payload(await self._get(path, call_id=call_id, retry=retry), path)

    async def iter_calls(
        self, agent_id: str | None = None, status: str | None = None, page_size: int = 100
    ) -> AsyncIterator[dict]:
        """Yield every call, newest first (cursor endpoint, offset fallback); see the sync client."""
        params = self._page_params(agent_id, status, page_size)
        walker = _PageWalker(params)
        while (request := walker.next_request()) is not None:
            path, page_params = request
            try:
                page = await self._get(path, page_params)
            except APIStatusError as exc:
                if not walker.fallback(exc):
                    raise
                continue
            for call in walker.take(page, self):
                yield call

    async def usage(self) -> dict:
        """``GET /v1/usage``: the workspace's daily call limits."""
        return await self._get("/v1/usage")


class _PageWalker:
    """The paging state machine both clients share: cursor first, offset as the fallback.

    Offset paging can shift while new calls arrive, so ids already yielded are skipped.
    """

    def __init__(self, params: dict[str, Any]) -> None:
        self.params = params
        self.mode = "cursor"
        self.cursor: str | None = None
        self.offset = 0
        self.done = False
        self.seen: set[str] = set()

    def next_request(self) -> tuple[str, dict[str, Any]] | None:
        if self.done:
            return None
        if self.mode == "cursor":
            params = dict(self.params)
            if self.cursor is not None:
                params["cursor"] = self.cursor
            return "/v1/calls/cursor", params
        return "/v1/calls", {**self.params, "offset": self.offset}

    def fallback(self, exc: APIStatusError) -> bool:
        """Switch to offset paging if the cursor endpoint is missing; False to re-raise."""
        if self.mode == "cursor" and self.cursor is None and exc.status_code in (404, 405):
            log.info("cursor endpoint unavailable (%s); paging by offset", exc.status_code)
            self.mode = "offset"
            return True
        return False

    def take(self, page: Any, client: _Base) -> list[dict]:
        if not isinstance(page, dict) or not isinstance(page.get("items"), list):
            raise InvalidResponseError(
                f"{client.base_url}: a list page without an 'items' array; check the base URL "
                "points at the OneInbox API."
            )
        items = [c for c in page["items"] if isinstance(c, dict) and c.get("id") not in self.seen]
        self.seen.update(c.get("id") for c in items)
        if self.mode == "cursor":
            self.cursor = page.get("next_cursor")
            self.done = not page.get("has_more") or not self.cursor
        else:
            self.offset += len(page["items"])
            total = page.get("total")
            self.done = not page["items"] or (isinstance(total, int) and self.offset >= total)
        return items
