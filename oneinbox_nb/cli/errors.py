"""Errors in command-line terms: every :class:`~oneinbox_nb.OneInboxError` becomes one line,
``oneinbox-nb COMMAND: what went wrong; what to do``, naming flags and environment variables."""

from __future__ import annotations

import os
import sys
from urllib.parse import urlsplit

from ..config import API_KEY_ENV, BASE_URL_ENV, resolve_base_url, scrub
from ..exceptions import (
    APIStatusError,
    AuthenticationError,
    ConfigurationError,
    MissingAPIKeyError,
    OneInboxError,
    PermissionDeniedError,
    TransportError,
)

__all__ = ["base_url_of", "error_line", "message", "one_line", "usage_error"]


def one_line(text: str) -> str:
    """``text`` with every run of whitespace (newlines included) as one space."""
    return " ".join(text.split())


def usage_error(command: str, error: ConfigurationError) -> int:
    """A bad flag value: one line on stderr and exit status 2, as argparse does for a bad flag."""
    print(one_line(f"oneinbox-nb {command}: {error}"), file=sys.stderr)
    return 2


def base_url_of(args) -> str | None:
    """The API root a command talks to (``--base-url`` or the environment), for error messages."""
    try:
        return resolve_base_url(getattr(args, "base_url", None))
    except ConfigurationError:
        return getattr(args, "base_url", None)


def error_line(error: OneInboxError, command: str, base_url: str | None) -> str:
    """The one line on stderr for ``error``: :func:`message`, prefixed, with the API key scrubbed."""
    text = message(error, command, base_url)
    secret = os.environ.get(API_KEY_ENV, "").strip()
    text = scrub(text, secret) if secret else scrub(text)
    return one_line(f"oneinbox-nb {command}: {text}")


def _base_url_flags(command: str) -> str:
    return f"--base-url or {BASE_URL_ENV}" if command in ("fetch", "export") else BASE_URL_ENV


def _missing_key(command: str) -> str:
    sample_hint = (
        "add --sample to use the embedded sample API"
        if command in ("report", "dashboard")
        else "run `oneinbox-nb serve` and export the two lines it prints to try the sample API"
    )
    if os.environ.get(BASE_URL_ENV) and not os.environ.get(API_KEY_ENV):
        return (
            f"{BASE_URL_ENV} is set but {API_KEY_ENV} is not: export {API_KEY_ENV}=oi_sk_... "
            f"to read that API, or unset {BASE_URL_ENV}"
            + (" (or add --sample)" if command in ("report", "dashboard") else "")
        )
    return (
        f"no OneInbox API key: export {API_KEY_ENV}=oi_sk_... (a secret key from your "
        f"OneInbox dashboard), or {sample_hint}"
    )


def _transport(error: TransportError, command: str, where: str, flags: str) -> str:
    """A transport failure (the client's ``TransportError.reason``) with command-line advice."""
    reason = getattr(error, "reason", "other")
    if reason == "timeout":
        hint = "raise --timeout SECONDS or try again later" if command == "fetch" else "try again"
        return f"{where} did not answer before the timeout; {hint}"
    if reason == "refused":
        return (
            f"cannot connect to {where}: connection refused (nothing listens there); check "
            f"{flags}, or start the sample API with `oneinbox-nb serve`"
        )
    if reason == "dns":
        host = urlsplit(where).hostname or where
        return (
            f"cannot resolve the host {host!r} of {where} (DNS lookup failed); check the "
            f"spelling of {flags}, your network and proxy settings"
        )
    if reason == "tls":
        return (
            f"TLS handshake with {where} failed; if the server speaks plain HTTP write http:// "
            f"in {flags}, else its certificate is not trusted here"
        )
    return f"{error}; check {flags} and your network"


def message(error: OneInboxError, command: str, base_url: str | None) -> str:
    """One line saying what went wrong and what to do, in command-line terms."""
    flags = _base_url_flags(command)
    where = base_url or "the API"
    if isinstance(error, MissingAPIKeyError):
        return _missing_key(command)
    if isinstance(error, TransportError):
        return _transport(error, command, where, flags)
    if isinstance(error, PermissionDeniedError):
        return f"{error} ({API_KEY_ENV})"
    if isinstance(error, AuthenticationError):
        return (
            f"the API key was rejected by {where} (401): check {API_KEY_ENV} (secret keys start "
            "with oi_sk_; copy it again from the OneInbox dashboard)"
        )
    if isinstance(error, APIStatusError) and error.status_code == 404:
        path = urlsplit(base_url or "").path.rstrip("/")
        if path.endswith("/v1"):
            fixed = (base_url or "").rstrip("/")[: -len("/v1")]
            return f"{error} {flags} ends in /v1, but requests add /v1 themselves: use {fixed}"
        return f"{error} Is {where} the API root ({flags}, e.g. https://api.oneinbox.ai)?"
    return str(error)
