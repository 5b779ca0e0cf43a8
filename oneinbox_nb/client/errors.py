"""httpx failures and error responses -> the :mod:`oneinbox_nb.exceptions` tree.

The sync and async clients both call :func:`transport_error` and :func:`status_error`, so a
failure is classified the same way whichever client met it. Transport failures are told apart by
walking the exception chain (httpx, httpcore, aiohttp and the OS error underneath):

========= ========================================== ======================================
reason    what happened                              error
========= ========================================== ======================================
refused   nothing listens at the host and port       APIConnectionError
dns       the host name does not resolve             APIConnectionError (not retried)
tls       the https handshake or certificate failed  APIConnectionError (not retried)
dropped   the connection closed mid-request          APIConnectionError
timeout   connect/read/write/pool timeout            RequestTimeoutError
other     any other transport failure                APIConnectionError
truncated a 2xx body that is not JSON                InvalidResponseError
invalid   JSON that is not the answer asked for      InvalidResponseError (not retried)
========= ========================================== ======================================

``httpx-aiohttp`` reports a refused connection as ``httpx.ConnectTimeout``; the chain still holds
aiohttp's connector error and the ``ConnectionRefusedError``, which decide.

Messages quote at most the status, the content type and a short first line of the body: an HTML
error page never ends up inside an exception.
"""

from __future__ import annotations

import re
import socket
import ssl
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import httpx
import orjson

from ..config import scrub
from ..exceptions import (
    APIConnectionError,
    APIStatusError,
    AuthenticationError,
    CallNotFoundError,
    InvalidResponseError,
    PermissionDeniedError,
    RateLimitError,
    RequestTimeoutError,
    RequestValidationError,
    ServerError,
    TransportError,
)
from .retry import parse_retry_after

__all__ = [
    "KeyRedactor",
    "body_excerpt",
    "classify_transport",
    "invalid_json",
    "status_error",
    "transport_error",
]

#: Removes the client's key (and anything key-shaped) from a text.
Redact = Callable[[str], str]


class KeyRedactor:
    """Removes a client's API key from text, reading it from the client's httpx headers.

    The key lives only in those headers (whose repr masks it): this object holds the headers, not
    the key, and no function here binds the key to a name, so a traceback that shows locals, a
    debugger or ``vars()`` never prints it.

    Parameters
    ----------
    headers : httpx.Headers
        Headers carrying ``Authorization: Bearer <key>``.
    """

    __slots__ = ("_headers",)

    def __init__(self, headers: httpx.Headers) -> None:
        self._headers = headers

    def __call__(self, text: str) -> str:
        """``text`` with the key and anything shaped like a OneInbox key replaced by ``***``."""
        if "authorization" not in self._headers:
            return scrub(text)
        return scrub(text.replace(self._headers["authorization"].partition(" ")[2] or "\0", "***"))

    def __repr__(self) -> str:
        return "KeyRedactor('***')"


EXCERPT_CHARS = 120

_PATTERNS = (
    ("tls", re.compile(r"CERTIFICATE_VERIFY_FAILED|SSL|TLS|certificate", re.I)),
    (
        "dns",
        re.compile(
            r"Name or service not known|nodename nor servname|name resolution|getaddrinfo|"
            r"No address associated|Cannot connect to host .*\[(?:-2|-3|-5|8|11001)\]",
            re.I,
        ),
    ),
    (
        "refused",
        re.compile(r"Connection refused|Errno 111|Errno 61|WinError 10061|actively refused"),
    ),
    ("dropped", re.compile(r"disconnected|reset by peer|without response|closed|Payload", re.I)),
)


def _chain(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    todo: list[BaseException | None] = [exc]
    while todo and len(seen) < 12:
        item = todo.pop(0)
        if item is None or any(item is s for s in seen):
            continue
        seen.append(item)
        todo += [item.__cause__, item.__context__, getattr(item, "os_error", None)]
    return seen


def classify_transport(exc: BaseException) -> str:
    """``"refused"``, ``"dns"``, ``"tls"``, ``"dropped"``, ``"timeout"`` or ``"other"``."""
    chain = _chain(exc)
    names = {type(e).__name__ for e in chain}
    if any(isinstance(e, ssl.SSLError) for e in chain) or names & {
        "ClientSSLError",
        "ClientConnectorCertificateError",
        "ClientConnectorSSLError",
    }:
        return "tls"
    if any(isinstance(e, socket.gaierror) for e in chain) or "ClientConnectorDNSError" in names:
        return "dns"
    if any(isinstance(e, ConnectionRefusedError) for e in chain):
        return "refused"
    if any(isinstance(e, ConnectionResetError | BrokenPipeError) for e in chain) or any(
        "Disconnected" in n or "Payload" in n for n in names
    ):
        return "dropped"
    text = " ".join(str(e) for e in chain)
    for reason, pattern in _PATTERNS:
        if pattern.search(text):
            return reason
    if isinstance(exc, httpx.TimeoutException):
        return "timeout"
    if isinstance(exc, httpx.RemoteProtocolError | httpx.ReadError | httpx.WriteError):
        return "dropped"
    return "other"


def where(request: httpx.Request, redact: Redact) -> str:
    """``GET https://host/v1/calls/...`` with any secret removed."""
    return redact(f"{request.method} {request.url.copy_with(query=None)}")


def transport_error(exc: httpx.HTTPError, request: httpx.Request, redact: Redact) -> TransportError:
    """The :class:`TransportError` for an httpx exception raised while sending ``request``.

    ``redact`` (a :class:`KeyRedactor`) removes the key from every text taken from ``exc``.
    """
    at = where(request, redact)
    host = urlsplit(str(request.url)).netloc.rsplit("@", 1)[-1]
    detail = redact(_one_line(str(exc) or type(exc).__name__, 200))
    exc.args = (detail,)  # the chained cause prints in tracebacks: scrub it too
    reason = classify_transport(exc)
    if reason == "timeout":
        return RequestTimeoutError(
            f"{at} timed out ({detail}). The API is slow or overloaded: try again later, or raise "
            "`timeout=` on the client.",
            request=request,
            reason=reason,
        )
    text = {
        "refused": f"the connection was refused: nothing is accepting connections at {host}. "
        "Check the base URL and that the API is running, then try again.",
        "dns": f"the host name in {host!r} could not be resolved. Check the base URL for typos "
        "and your network or DNS settings, then try again.",
        "tls": f"the secure (https) connection to {host} failed ({detail}). Check the base URL's "
        "scheme and host; behind a proxy that inspects https, install its certificate.",
        "dropped": f"the connection to {host} dropped before a full answer arrived ({detail}). "
        "This is usually brief: try again.",
        "other": f"could not reach {host} ({detail}). Check the base URL and your network, then "
        "try again.",
    }[reason]
    return APIConnectionError(f"{at}: {text}", request=request, reason=reason)


def _one_line(text: str, limit: int) -> str:
    line = next((s.strip() for s in text.splitlines() if s.strip()), "")
    line = "".join(ch if ch.isprintable() else " " for ch in line)
    return line if len(line) <= limit else line[: limit - 3] + "..."


def _json_or_none(response: httpx.Response) -> Any:
    try:
        return orjson.loads(response.content)
    except orjson.JSONDecodeError:
        return None


def body_excerpt(response: httpx.Response) -> str:
    """A short reading of an error body: FastAPI's ``detail``, else content type + first line."""
    body = _json_or_none(response)
    detail = body.get("detail") if isinstance(body, dict) else None
    if isinstance(detail, list):
        parts = []
        for item in detail[:3]:
            if isinstance(item, dict):
                loc = ".".join(str(p) for p in item.get("loc", []) if isinstance(p, str | int))
                parts.append(f"{loc}: {item.get('msg', '')}".strip(": "))
            else:
                parts.append(str(item))
        return _one_line("; ".join(parts), EXCERPT_CHARS) or "no detail"
    if isinstance(detail, str | int | float):
        return _one_line(str(detail), EXCERPT_CHARS) or "no detail"
    kind = response.headers.get("Content-Type", "").split(";")[0].strip() or "no content type"
    first = _one_line(response.content[:2000].decode("utf-8", "replace"), EXCERPT_CHARS // 2)
    return f"{kind} body starting {first!r}" if first else f"empty {kind} body"


def invalid_json(response: httpx.Response, redact: Redact) -> InvalidResponseError:
    """A 2xx whose body does not parse (truncated, or not the OneInbox API)."""
    kind = response.headers.get("Content-Type", "").split(";")[0].strip() or "no content type"
    return InvalidResponseError(
        f"{where(response.request, redact)}: the response body is not valid JSON "
        f"({len(response.content)} bytes of {kind}; truncated, or not the OneInbox API?). "
        "Try again; check the base URL if it persists.",
        request=response.request,
        reason="truncated",
    )


def status_error(
    response: httpx.Response,
    *,
    call_id: str | None,
    attempts: int,
    redact: Redact,
    key_kind: str,
) -> APIStatusError:
    """The :class:`APIStatusError` subclass for a non-2xx response.

    ``redact`` (a :class:`KeyRedactor`) removes the key from the body excerpt quoted.
    """
    request = response.request
    at = where(request, redact)
    status = response.status_code
    detail = redact(body_excerpt(response))
    kw: dict[str, Any] = {"request": request, "response": response}
    tries = f" after {attempts} attempts" if attempts > 1 else ""
    if status == 401:
        return AuthenticationError(
            f"{at}: 401, the API key was rejected (missing, wrong or revoked). Check the "
            "api_key argument or ONEINBOX_API_KEY; secret keys start with oi_sk_.",
            **kw,
        )
    if status == 403:
        hint = (
            " Publishable keys (oi_pk_) only work from allowed browser origins; use a secret "
            "key (oi_sk_)."
            if key_kind == "publishable"
            else " Check that the key's workspace may read calls."
        )
        return PermissionDeniedError(f"{at}: 403 forbidden ({detail}).{hint}", **kw)
    if status == 404 and call_id is not None:
        return CallNotFoundError(
            f"call {call_id} was not found (404). Check the id, and that the API key belongs "
            "to the workspace that made the call.",
            call_id=call_id,
            **kw,
        )
    if status == 422:
        raw = _json_or_none(response)
        return RequestValidationError(
            f"{at}: 422, the server rejected the request: {detail}. Fix the parameter named "
            "there and call again.",
            detail=raw.get("detail") if isinstance(raw, dict) else None,
            **kw,
        )
    retry_after = parse_retry_after(response.headers.get("Retry-After"))
    if status == 429:
        wait = f"retry after {retry_after:g} s" if retry_after is not None else "wait"
        return RateLimitError(
            f"{at}: 429, rate limited{tries}. {wait}, or lower the concurrency of fetch_calls.",
            retry_after=retry_after,
            **kw,
        )
    if status >= 500:
        return ServerError(
            f"{at}: {status}, OneInbox server error{tries} ({detail}). Try again later; if it "
            "persists, contact OneInbox support with the call id.",
            retry_after=retry_after if status == 503 else None,
            **kw,
        )
    return APIStatusError(f"{at}: unexpected status {status} ({detail}).", **kw)
