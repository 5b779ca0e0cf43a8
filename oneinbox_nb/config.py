"""Settings read at the edges: the API key, the base URL and the run key, from arguments or the
environment.

``ONEINBOX_API_KEY`` and ``ONEINBOX_BASE_URL`` are read only here, and only when a client is built
without explicit values. The key is wrapped in :class:`APIKey`, whose repr and str never show it.
``ONEINBOX_RUN_KEY`` names the metadata key that marks an account's load-test calls (default
``run_id``, :data:`DEFAULT_RUN_KEY`); :func:`resolve_run_key` reads it, once per account, for
:class:`oneinbox_nb.scope.Scope` and the traffic rule (:func:`oneinbox_nb.scope.traffic_kind`).
"""

from __future__ import annotations

import json
import logging
import os
import re
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from .exceptions import ConfigurationError, MissingAPIKeyError

__all__ = [
    "DEFAULT_BASE_URL",
    "DEFAULT_RUN_KEY",
    "RUN_KEY_ENV",
    "APIKey",
    "configured_run_key",
    "parse_value",
    "resolve_api_key",
    "resolve_base_url",
    "resolve_run_key",
    "scrub",
]

DEFAULT_BASE_URL = "https://api.oneinbox.ai"
log = logging.getLogger(__name__)

API_KEY_ENV = "ONEINBOX_API_KEY"
BASE_URL_ENV = "ONEINBOX_BASE_URL"
#: Environment variable naming the metadata key that marks the account's load-test calls.
RUN_KEY_ENV = "ONEINBOX_RUN_KEY"
#: The run key when the account configures none: a call is a load-test call when its metadata
#: carries ``run_id``.
DEFAULT_RUN_KEY = "run_id"

#: What an OneInbox key looks like (secret ``oi_sk_`` or publishable ``oi_pk_``): what ``scrub`` and
#: :mod:`oneinbox_nb.redact` mask wherever text may hold one.
KEY_PATTERN = re.compile(r"oi_[sp]k_[A-Za-z0-9_\-]{4,}")


class APIKey:
    """An API key that hides itself from repr, str, f-strings and logs.

    Only :meth:`reveal` gives the key, and only the client's auth header calls it.
    """

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        if not isinstance(value, str) or not value.strip():
            raise MissingAPIKeyError(
                "the API key is empty; pass api_key='oi_sk_...' or set ONEINBOX_API_KEY"
            )
        if any(ch.isspace() for ch in value.strip()):
            raise ConfigurationError(
                "the API key contains white space; copy it again from the OneInbox dashboard"
            )
        self._value = value.strip()

    def reveal(self) -> str:
        return self._value

    def appears_in(self, text: str) -> bool:
        """Whether the key occurs in ``text`` (compared without exposing it)."""
        return self._value in text

    @property
    def kind(self) -> str:
        """'secret' for oi_sk_ keys, 'publishable' for oi_pk_, else 'other'."""
        if self._value.startswith("oi_sk_"):
            return "secret"
        if self._value.startswith("oi_pk_"):
            return "publishable"
        return "other"

    def __repr__(self) -> str:
        return "APIKey('***')"

    __str__ = __repr__

    def __format__(self, spec: str) -> str:
        return repr(self)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, APIKey) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __reduce__(self):  # never pickled into a notebook or a cache
        raise TypeError("APIKey cannot be pickled; pass the key again in the other process")


def resolve_api_key(api_key: str | APIKey | None) -> APIKey:
    """The key from the argument, else ``ONEINBOX_API_KEY``; raise if neither is set."""
    if isinstance(api_key, APIKey):
        return api_key
    if api_key is None:
        api_key = os.environ.get(API_KEY_ENV)
    if not api_key:
        raise MissingAPIKeyError(
            "no OneInbox API key: pass api_key='oi_sk_...' or set the ONEINBOX_API_KEY environment "
            "variable. Without a key, use the embedded sample API: "
            "`with oneinbox_nb.sample.serve() as api: OneInboxClient(api.api_key, api.base_url)`."
        )
    return APIKey(api_key)


def resolve_base_url(base_url: str | None, *, api_key: APIKey | None = None) -> str:
    """The base URL from the argument, else ``ONEINBOX_BASE_URL``, else the production host.

    User-info (``https://oi_sk_...@host``), query (``?key=...``) and fragment are dropped before
    the URL is used or shown anywhere (reprs, messages, store names). A path holding a key (the
    client's ``api_key``, or anything shaped like a OneInbox key) is refused: it would be sent and
    shown with every request.

    Raises
    ------
    ConfigurationError
        Not an http(s) URL, or a key in its path (the message does not quote the URL then).
    """
    url = base_url or os.environ.get(BASE_URL_ENV) or DEFAULT_BASE_URL
    if not isinstance(url, str) or not re.match(r"^https?://[^/\s]+", url.strip()):
        shown = scrub(repr(url)) if isinstance(url, str) else type(url).__name__
        raise ConfigurationError(
            f"base URL {shown} is not an http(s) URL; use e.g. {DEFAULT_BASE_URL!r} or the "
            "sample server's api.base_url"
        )
    url = _without_credentials(url.strip()).rstrip("/")
    path = urlsplit(url).path
    if KEY_PATTERN.search(path) or (api_key is not None and api_key.appears_in(path)):
        raise ConfigurationError(
            "the base URL's path holds an API key; give the URL without it (e.g. "
            f"{DEFAULT_BASE_URL!r}) and pass the key as api_key= or {API_KEY_ENV}"
        )
    return url


def configured_run_key(run_key: str | None = None) -> str | None:
    """The run key the account configures: ``run_key`` if given, else ``ONEINBOX_RUN_KEY``, else
    None (not configured: :data:`DEFAULT_RUN_KEY` applies).

    Parameters
    ----------
    run_key : str, optional
        A run key given explicitly.

    Returns
    -------
    str or None
        The key, stripped; None when neither is set (blank counts as not set).

    Raises
    ------
    ConfigurationError
        The key is not a top-level metadata key (blank given explicitly, holds a dot or white
        space); the message names where it came from.
    """
    where = "run_key"
    if run_key is None:
        run_key, where = os.environ.get(RUN_KEY_ENV, "").strip() or None, RUN_KEY_ENV
        if run_key is None:
            return None
    if not isinstance(run_key, str) or not re.fullmatch(r"[^.\s]+", run_key.strip()):
        shown = repr(run_key) if isinstance(run_key, str) else type(run_key).__name__
        raise ConfigurationError(
            f"{where} {shown[:60]} is not a top-level metadata key; use a key such as "
            f"{DEFAULT_RUN_KEY!r} (no dots, no spaces)"
        )
    return run_key.strip()


def resolve_run_key(run_key: str | None = None) -> str:
    """The run key of the traffic rule: ``run_key``, else ``ONEINBOX_RUN_KEY``, else ``run_id``.

    A call is a load-test call when its metadata carries this key (see :mod:`oneinbox_nb.scope`).
    Set ``ONEINBOX_RUN_KEY`` once for an account whose load tests tag their calls otherwise (e.g.
    ``test_run``); a dataset or call store records the key it was written with
    (:mod:`oneinbox_nb.account`).

    Raises
    ------
    ConfigurationError
        See :func:`configured_run_key`.
    """
    return configured_run_key(run_key) or DEFAULT_RUN_KEY


def _without_credentials(url: str) -> str:
    """``url`` without user-info, query and fragment: a key pasted there is never sent or shown."""
    parts = urlsplit(url)
    host = parts.netloc.rsplit("@", 1)[-1]
    if host != parts.netloc or parts.query or parts.fragment:
        log.warning(
            "the base URL's user name/password, query or fragment were dropped; pass the key as "
            "api_key= or ONEINBOX_API_KEY"
        )
    return urlunsplit((parts.scheme.lower(), host, parts.path, "", ""))


def scrub(text: str, *secrets: str) -> str:
    """Remove the given secrets, and anything shaped like a OneInbox key, from ``text``."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return KEY_PATTERN.sub("oi_**_***", text)


def parse_value(text: str) -> Any:
    """A parameter value typed by a person: JSON when it parses as JSON, else the text itself.

    The one rule for ``-p NAME=VALUE`` and ``--where KEY=VALUE`` on the command line and for a
    dashboard's URL query: ``7`` is an int, ``0.5`` a float, ``true``/``false`` booleans, ``null``
    None, ``["a", "b"]`` a list, ``"7"`` (with the quotes) the text 7; anything that is not JSON,
    such as ``lt-42`` or ``2026-11-20``, stays text.

    Parameters
    ----------
    text : str

    Returns
    -------
    object
        str, int, float, bool, None, list or dict.
    """
    try:
        return json.loads(text)
    except ValueError:
        return text
