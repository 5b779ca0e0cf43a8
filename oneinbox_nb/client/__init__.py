"""HTTP clients for the OneInbox REST API: :class:`OneInboxClient` and :class:`AsyncOneInboxClient`.

Both return plain dicts (the API's JSON) and never import pandas; :func:`oneinbox_nb.to_frames`
turns those dicts into DataFrames. The package has one room per concern:

- :mod:`.retry`: when a GET is tried again and how long to wait (:class:`RetryPolicy`,
  ``Retry-After`` parsing, capped exponential backoff with jitter, a time budget).
- :mod:`.errors`: httpx failures and error responses mapped to :mod:`oneinbox_nb.exceptions`,
  one mapping for both clients (refused, DNS, TLS, timeout and dropped told apart).
- :mod:`.endpoints`: paths, parameters, answer validation and paging, with no I/O.
- :mod:`.sync` and :mod:`.async_`: the two clients, each a small send-and-retry loop. The API key
  lives only in their httpx headers (masked in repr); see :class:`.errors.KeyRedactor`.
- :mod:`.bulk`: many ``GET /v1/calls/{id}`` at once (an adaptive bound, a pause gate for outages
  and rate-limit storms, a retry budget per id), the engine of :func:`oneinbox_nb.fetch_calls`.
- :mod:`.loop`: running a coroutine from sync code, ``asyncio.run`` or a notebook cell, and the
  garbage-collector setting of a long run.

Which calls to fetch (ids, filters, a :class:`~oneinbox_nb.scope.Scope`), the store and agent names
are assembled above this package, in :mod:`oneinbox_nb.fetch`.
"""

from __future__ import annotations

from .async_ import AsyncOneInboxClient
from .endpoints import DEFAULT_TIMEOUT, MAX_PAGE_SIZE, TERMINAL_STATUSES, validate_call_id
from .retry import RetryPolicy, parse_retry_after
from .sync import OneInboxClient

__all__ = [
    "DEFAULT_TIMEOUT",
    "MAX_PAGE_SIZE",
    "TERMINAL_STATUSES",
    "AsyncOneInboxClient",
    "OneInboxClient",
    "RetryPolicy",
    "parse_retry_after",
    "validate_call_id",
]
