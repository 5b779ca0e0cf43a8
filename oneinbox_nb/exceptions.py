"""Every error oneinbox_nb raises, in one tree.

::

    OneInboxError
    ├── ConfigurationError              bad settings: fix the argument or environment variable
    │   ├── MissingAPIKeyError          no key given and ONEINBOX_API_KEY unset
    │   ├── ThresholdError              a threshold expression or file that does not parse (thresholds)
    │   └── GateError                   the gate cannot judge: unknown or empty run, bad options (gate)
    ├── ScopeError                      a scope that cannot be read or resolved (scope; also ValueError)
    ├── RunChoiceError                  several runs (or none) where one is needed (analysis; ValueError)
    ├── DatasetError                    a dataset that cannot be read, written or queried (dataset)
    ├── WatchError                      a watched run that never starts or cannot be followed (live)
    ├── InvalidCallIdError              a call id that is not a UUID (checked before any request)
    ├── InvalidCallError                input to the frames that is not a call payload
    ├── TransportError                  the request never got an HTTP answer we could read
    │   ├── RequestTimeoutError         connect/read/write/pool timeout
    │   ├── APIConnectionError          refused, DNS, TLS, reset or dropped connection
    │   └── InvalidResponseError        a 2xx body that is not the JSON we expect (e.g. truncated)
    ├── APIStatusError                  the server answered with an error status
    │   ├── AuthenticationError         401: missing, wrong or revoked key
    │   │   └── PermissionDeniedError   403: e.g. a publishable key (oi_pk_) used server-side
    │   ├── CallNotFoundError           404 for a call id (carries .call_id)
    │   ├── RequestValidationError      422 with FastAPI's .detail list
    │   ├── RateLimitError              429 (carries .retry_after in seconds, or None)
    │   └── ServerError                 5xx (a 503 carries .retry_after too)
    ├── CacheError                      the cache directory cannot be used
    │   └── StoreAccountError           the call store holds another account's calls
    └── NotebookExecutionError          a notebook cell failed (carries .cell_index, .ename, .evalue)

The errors marked with a module are defined there, beside what raises them.
Status errors carry ``.status_code``, ``.request`` and ``.response``. Transport errors carry
``.reason``: ``"refused"``, ``"dns"``, ``"tls"``, ``"timeout"``, ``"dropped"`` or ``"other"``. Messages say what to do next and
never contain the API key: requests are described by method and URL only, and the key travels in a
header that no message, repr or log line includes.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "APIConnectionError",
    "APIStatusError",
    "AuthenticationError",
    "CacheError",
    "StoreAccountError",
    "CallNotFoundError",
    "ConfigurationError",
    "InvalidCallError",
    "InvalidCallIdError",
    "InvalidResponseError",
    "MissingAPIKeyError",
    "NotebookExecutionError",
    "OneInboxError",
    "PermissionDeniedError",
    "RateLimitError",
    "RequestTimeoutError",
    "RequestValidationError",
    "ServerError",
    "TransportError",
]


class OneInboxError(Exception):
    """Base class of every error raised by oneinbox_nb."""


class ConfigurationError(OneInboxError, ValueError):
    """A setting (argument or environment variable) is missing or malformed."""


class MissingAPIKeyError(ConfigurationError):
    """No API key was passed and ``ONEINBOX_API_KEY`` is not set."""


class InvalidCallIdError(OneInboxError, ValueError):
    """A call id is not a UUID; raised locally, before any request is sent."""

    def __init__(self, call_id: object, *, shown: str | None = None) -> None:
        self.call_id = call_id
        shown = shown if shown is not None else repr(call_id)
        shown = shown if len(shown) <= 80 else shown[:77] + "..."
        super().__init__(
            f"call id {shown} is not a UUID; OneInbox call ids look like "
            "'3f2b8c1e-9d4a-4e57-b1c2-7a8d9e0f1a2b'. Copy the id from the dashboard or from "
            "client.iter_calls()."
        )


class InvalidCallError(OneInboxError, ValueError):
    """Input handed to the frames is not a OneInbox call payload."""


class TransportError(OneInboxError):
    """The request did not produce an HTTP response that could be read."""

    def __init__(self, message: str, *, request: Any = None, reason: str = "other") -> None:
        super().__init__(message)
        self.request = request
        self.reason = reason


class RequestTimeoutError(TransportError):
    """The request timed out (connect, read, write or pool)."""


class APIConnectionError(TransportError):
    """The connection failed, was refused, reset or dropped mid-response."""


class InvalidResponseError(TransportError):
    """The server answered 2xx with a body that is not the JSON the API documents."""


class APIStatusError(OneInboxError):
    """The API answered with an error status code."""

    def __init__(self, message: str, *, request: Any = None, response: Any = None) -> None:
        super().__init__(message)
        self.request = request
        self.response = response
        self.status_code: int | None = getattr(response, "status_code", None)


class AuthenticationError(APIStatusError):
    """401: the API key is missing, wrong or revoked."""


class PermissionDeniedError(AuthenticationError):
    """403: the key may not do this (publishable keys are refused server-side)."""


class CallNotFoundError(APIStatusError):
    """404 for a call id."""

    def __init__(self, message: str, *, call_id: str | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.call_id = call_id


class RequestValidationError(APIStatusError):
    """422: the server rejected a parameter; ``.detail`` is FastAPI's list of problems."""

    def __init__(self, message: str, *, detail: Any = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.detail = detail


class RateLimitError(APIStatusError):
    """429: too many requests; ``.retry_after`` is the server's hint in seconds (or None)."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class ServerError(APIStatusError):
    """5xx: the API failed; retried automatically, raised once retries are exhausted.

    ``.retry_after`` is the server's ``Retry-After`` in seconds (sent with 503), or None.
    """

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class CacheError(OneInboxError):
    """The call cache directory cannot be created, read or written."""


class StoreAccountError(CacheError):
    """The store holds another account's calls; a fetch stops rather than mix the two.

    ``failure`` says what is wrong without the advice, so each interface adds its own words
    (Python keywords here, flags on the command line).
    """

    def __init__(self, failure: str) -> None:
        self.failure = failure
        super().__init__(
            f"{failure}; pass cache=<another directory>, or merge=True to add these calls to it "
            "(also for a new key of the same account)"
        )


class NotebookExecutionError(OneInboxError):
    """A notebook cell raised; carries the failing cell so the report can point at it."""

    def __init__(
        self,
        notebook: str,
        *,
        cell_index: int,
        ename: str,
        evalue: str,
        source: str = "",
        traceback: str = "",
    ) -> None:
        self.notebook = notebook
        self.cell_index = cell_index
        self.ename = ename
        self.evalue = evalue
        self.source = source
        self.traceback = traceback
        super().__init__(
            f"{self.failure}. Fix the cell or the parameters and build again; no output file was "
            "written."
        )

    @property
    def failure(self) -> str:
        """What failed, without advice: notebook, cell index, exception name and value, and the
        cell's first line; each interface adds its own advice (the CLI speaks of ``-p``)."""
        first = self.source.strip().splitlines()[0] if self.source.strip() else ""
        return f"{self.notebook}: cell {self.cell_index} raised {self.ename}: {self.evalue}" + (
            f" (cell starts: {first[:80]!r})" if first else ""
        )

    def __reduce__(self):
        """Picklable, so a report built in a worker process fails with this error, not a broken pool."""
        fields = ("cell_index", "ename", "evalue", "source", "traceback")
        return (_rebuild_notebook_error, (self.notebook, {f: getattr(self, f) for f in fields}))


def _rebuild_notebook_error(notebook: str, fields: dict) -> NotebookExecutionError:
    return NotebookExecutionError(notebook, **fields)
