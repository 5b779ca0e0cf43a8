"""What each endpoint asks for and how its answer is checked, shared by both clients.

No I/O happens here: :mod:`.sync` and :mod:`.async_` send the requests and call these to build
paths and parameters, read responses, validate answers and walk pages.

- ``GET /v1/calls/{id}``: the answer must be an object whose ``id`` is the UUID asked for (compared
  in canonical lower-case form; the answer's id is rewritten in that form). Anything else is an
  :class:`~oneinbox_nb.exceptions.InvalidResponseError` for that id.
- ``GET /v1/calls/cursor`` (``/v1/calls`` as the fallback) and ``GET /v1/agents``: pages of
  ``items``; an item without a valid id is skipped and logged, never returned.
"""

from __future__ import annotations

import logging
import time
import uuid
from typing import Any
from urllib.parse import quote

import httpx
import orjson

from ..account import account_identity
from ..config import APIKey, resolve_api_key, resolve_base_url, scrub
from ..exceptions import (
    APIStatusError,
    ConfigurationError,
    InvalidCallIdError,
    InvalidResponseError,
)
from . import errors
from .retry import RetryPolicy

__all__ = [
    "DEFAULT_TIMEOUT",
    "MAX_PAGE_SIZE",
    "TERMINAL_STATUSES",
    "ClientBase",
    "OffsetPager",
    "PageWalker",
    "log_request",
    "validate_call_id",
]

log = logging.getLogger("oneinbox_nb.client")

#: Call statuses after which a call no longer moves on: the documented completed and failed, plus
#: the values the vendor's public dashboard client defends against. Its payload may still be filled in for a few
#: minutes after it ends (see :func:`oneinbox_nb.cache.is_settled`).
TERMINAL_STATUSES = frozenset({"completed", "failed", "no_answer", "busy", "canceled", "cancelled"})

DEFAULT_TIMEOUT = 30.0
MAX_PAGE_SIZE = 100


def validate_call_id(call_id: object) -> str:
    """Return ``call_id`` as a canonical (lower-case) UUID string, or raise
    :class:`InvalidCallIdError`.

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


def canonical_id(value: object) -> str | None:
    """The canonical UUID form of an id from an answer, or None when it is not a UUID string."""
    if not isinstance(value, str) or len(value) > 64:
        return None
    try:
        return str(uuid.UUID(value))
    except ValueError:
        return None


def shown(value: object) -> str:
    """An untrusted value as a short repr for a message."""
    text = scrub(repr(value))
    return text if len(text) <= 60 else text[:57] + "..."


def log_request(
    request: httpx.Request,
    response: httpx.Response | None,
    started: float,
    failure: BaseException | None = None,
) -> None:
    """One DEBUG line on the ``oneinbox_nb.client`` logger per request sent (``-v`` shows them).

    Method, path with query, status (or the transport failure's type) and milliseconds since
    ``started`` (a :func:`time.perf_counter` reading). Never a header: the key is not in it, and a
    base URL cannot carry one (see :func:`oneinbox_nb.config.resolve_base_url`).
    """
    if not log.isEnabledFor(logging.DEBUG):
        return
    outcome = response.status_code if response is not None else type(failure).__name__
    path = scrub(request.url.raw_path.decode("ascii", "replace"))
    ms = (time.perf_counter() - started) * 1000
    log.debug("%s %s %s %.0f ms", request.method, path, outcome, ms)


def call_path(call_id: str) -> str:
    return f"/v1/calls/{call_id}"


def agent_path(agent_id: object) -> str:
    if not isinstance(agent_id, str) or not agent_id.strip() or len(agent_id) > 200:
        raise ConfigurationError(
            f"agent id {shown(agent_id)} is not usable; pass an agent's 'id' from list_agents()"
        )
    return "/v1/agents/" + quote(agent_id.strip(), safe="")


class ClientBase:
    """What the sync and async clients share: settings, headers, answer checks.

    The key lives only in the httpx client's headers (``self._http.headers``, masked in their
    repr): no attribute or local name holds it, so ``vars(client)``, a debugger or a traceback that
    shows locals never prints it. :attr:`api_key` rebuilds the masked :class:`APIKey` on demand.
    """

    _http: httpx.Client | httpx.AsyncClient

    def _configure(
        self,
        api_key: str | APIKey | None,
        base_url: str | None,
        timeout: float | httpx.Timeout,
        retry: RetryPolicy | None,
    ) -> httpx.Headers:
        """Set the settings; return the headers (with the key) the httpx client is built with."""
        key = resolve_api_key(api_key)
        self.base_url = resolve_base_url(base_url, api_key=key)
        self.timeout = timeout
        self.retry = retry or RetryPolicy()
        self._key_kind = key.kind
        return httpx.Headers(
            {
                "Authorization": "Bearer " + key.reveal(),
                "Accept": "application/json",
                "User-Agent": "oneinbox_nb/0.1",
            }
        )

    @property
    def api_key(self) -> APIKey:
        """The client's key, as an :class:`~oneinbox_nb.config.APIKey` (masked in repr)."""
        return APIKey(self._http.headers["authorization"].partition(" ")[2])

    _api_key = api_key  # the name earlier versions used

    def account_identity(self) -> dict[str, Any]:
        """Which account this client reads, without its key (:mod:`oneinbox_nb.account`).

        What a dataset and a call store record to tell accounts apart: the API and a
        non-reversible fingerprint of the key (the API names no organisation).

        Returns
        -------
        dict
            ``kind`` (``"sample"`` for a key the sample server minted, else ``"api"``),
            ``base_url`` and ``key_fingerprint`` (16 hex digits of an HMAC-SHA256 of the key;
            None for sample data).
        """
        return account_identity(self.base_url, self.api_key.reveal())

    @property
    def _redact(self) -> errors.KeyRedactor:
        return errors.KeyRedactor(self._http.headers)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={self.base_url!r}, api_key='***')"

    def _read(self, response: httpx.Response, call_id: str | None, attempt: int) -> Any:
        """The decoded JSON of a 2xx response, else the mapped error (see :mod:`.errors`)."""
        if not response.is_success:
            raise errors.status_error(
                response,
                call_id=call_id,
                attempts=attempt,
                redact=self._redact,
                key_kind=self._key_kind,
            )
        try:
            return orjson.loads(response.content)
        except orjson.JSONDecodeError as exc:
            raise errors.invalid_json(response, self._redact) from exc

    def _invalid(self, path: str, what: str) -> InvalidResponseError:
        return InvalidResponseError(
            f"GET {self.base_url}{path}: {what}. Check the base URL points at the OneInbox API; "
            "the answer was not used.",
            reason="invalid",
        )

    def _check_call(self, body: Any, call_id: str) -> dict:
        """The call asked for, or :class:`InvalidResponseError`; its id made canonical."""
        path = call_path(call_id)
        if not isinstance(body, dict) or "id" not in body:
            raise self._invalid(
                path, f"expected a call object with an 'id', got {type(body).__name__}"
            )
        answered = canonical_id(body["id"])
        if answered is None:
            raise self._invalid(path, f"the answer's id {shown(body['id'])} is not a UUID")
        if answered != call_id:
            raise self._invalid(path, f"asked for call {call_id}, the answer is call {answered}")
        body["id"] = answered
        return body

    def _check_agent(self, body: Any, path: str) -> dict:
        if not isinstance(body, dict) or not isinstance(body.get("id"), str):
            raise self._invalid(
                path, f"expected an agent object with an 'id', got {type(body).__name__}"
            )
        return body

    def _page_params(self, agent_id: str | None, status: str | None, page_size: int) -> dict:
        _check_page_size(page_size)
        params: dict[str, Any] = {"limit": page_size}
        if agent_id is not None:
            params["agent_id"] = agent_id
        if status is not None:
            params["status"] = status
        return params


def _check_page_size(page_size: object) -> None:
    if isinstance(page_size, bool) or not isinstance(page_size, int) or not 1 <= page_size <= 100:
        raise ConfigurationError(
            f"page_size must be an integer from 1 to {MAX_PAGE_SIZE}, got {page_size!r}"
        )


def _items(page: Any, base_url: str) -> list:
    if not isinstance(page, dict) or not isinstance(page.get("items"), list):
        raise InvalidResponseError(
            f"{base_url}: a list page without an 'items' array; check the base URL points at the "
            "OneInbox API.",
            reason="invalid",
        )
    return page["items"]


class PageWalker:
    """The call-listing state machine both clients share: cursor first, offset as the fallback.

    Offset paging can shift while new calls arrive, so ids already yielded are skipped. Items whose
    id is not a UUID are skipped (and counted in :attr:`skipped`), never yielded.
    """

    def __init__(self, params: dict[str, Any]) -> None:
        self.params = params
        self.mode = "cursor"
        self.cursor: str | None = None
        self.offset = 0
        self.done = False
        self.seen: set[str] = set()
        self.skipped: list[str] = []

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

    def take(self, page: Any, client: ClientBase) -> list[dict]:
        raw = _items(page, client.base_url)
        items = []
        for call in raw:
            call_id = canonical_id(call.get("id")) if isinstance(call, dict) else None
            if call_id is None:
                what = shown(call.get("id") if isinstance(call, dict) else call)
                self.skipped.append(what)
                log.warning("skipped a listed call whose id %s is not a UUID", what)
                continue
            if call_id in self.seen:
                continue
            self.seen.add(call_id)
            call["id"] = call_id
            items.append(call)
        if self.mode == "cursor":
            cursor = page.get("next_cursor")
            self.cursor = cursor if isinstance(cursor, str) else None
            self.done = not page.get("has_more") or not self.cursor
        else:
            self.offset += len(raw)
            total = page.get("total")
            self.done = not raw or (isinstance(total, int) and self.offset >= total)
        return items


class OffsetPager:
    """Offset paging over ``{items, total, limit, offset}`` (``GET /v1/agents``)."""

    def __init__(self, path: str, page_size: int) -> None:
        _check_page_size(page_size)
        self.path = path
        self.page_size = page_size
        self.offset = 0
        self.done = False
        self.seen: set[str] = set()

    def next_request(self) -> tuple[str, dict[str, Any]] | None:
        if self.done:
            return None
        return self.path, {"limit": self.page_size, "offset": self.offset}

    def take(self, page: Any, client: ClientBase) -> list[dict]:
        raw = _items(page, client.base_url)
        items = []
        for item in raw:
            item_id = item.get("id") if isinstance(item, dict) else None
            if not isinstance(item_id, str) or item_id in self.seen:
                continue
            self.seen.add(item_id)
            items.append(item)
        self.offset += len(raw)
        total = page.get("total")
        self.done = not raw or (isinstance(total, int) and self.offset >= total)
        return items
