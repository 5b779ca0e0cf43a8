"""Which account a dataset holds, how to say so, and where an account's dataset lives by default.

The OneInbox API has no endpoint that names the organisation behind a key, so an account is
recorded as (see :func:`account_of`):

* ``base_url``: the API it was synced from (no user-info, query or fragment);
* ``key_fingerprint``: HMAC-SHA256 of the key under a fixed, public salt, first 16 hex digits. It
  identifies a key without revealing it (it cannot be turned back into the key; a 64-bit prefix
  tells keys apart, it is not a password hash);
* ``agent_ids``: the ids of the organisation's agents (``GET /v1/agents``), which survive a key
  rotation: two records are the same account when their base URLs match and either their key
  fingerprints match or they share an agent;
* ``kind``: ``"sample"`` for the embedded sample API (its keys start ``oi_sk_sample_`` and change
  every run, as its port does: every sample server is the one sample account) and for synthetic
  histories, else ``"api"``.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

__all__ = [
    "DATA_DIR_ENV",
    "SAMPLE_ACCOUNT",
    "account_of",
    "default_dataset_path",
    "describe_account",
    "key_fingerprint",
    "same_account",
]

#: Environment variable that overrides the base directory of :func:`default_dataset_path`.
DATA_DIR_ENV = "ONEINBOX_NB_DATA_DIR"

#: The account record of sample data (the embedded sample API, synthetic histories).
SAMPLE_ACCOUNT: dict[str, Any] = {
    "kind": "sample",
    "base_url": None,
    "key_fingerprint": None,
    "agent_ids": [],
}

_SALT = b"oneinbox_nb dataset account v1"
_SAMPLE_KEY_PREFIX = "oi_sk_sample_"


def key_fingerprint(api_key: str) -> str:
    """A non-reversible fingerprint of an API key: HMAC-SHA256 under a fixed salt, 16 hex digits.

    Parameters
    ----------
    api_key : str

    Returns
    -------
    str
        16 lower-case hex digits.
    """
    return hmac.new(_SALT, api_key.encode(), hashlib.sha256).hexdigest()[:16]


def _bearer(client: Any) -> str | None:
    """The key the client sends, read from its HTTP client's (masked) headers, where it lives."""
    http = getattr(client, "_http", None)
    value = getattr(http, "headers", {}).get("Authorization") if http is not None else None
    if isinstance(value, str) and value.startswith("Bearer "):
        return value[len("Bearer ") :]
    return None


def account_of(client: Any, agent_ids: Iterable[str] = ()) -> dict[str, Any]:
    """The account record of a client (see the module docstring); never holds the key.

    Parameters
    ----------
    client : OneInboxClient
    agent_ids : iterable of str
        The organisation's agents (from ``GET /v1/agents``), if known.

    Returns
    -------
    dict
        ``kind``, ``base_url``, ``key_fingerprint``, ``agent_ids`` (sorted).
    """
    key = _bearer(client)
    if key is not None and key.startswith(_SAMPLE_KEY_PREFIX):
        return dict(SAMPLE_ACCOUNT)
    return {
        "kind": "api",
        "base_url": str(client.base_url).rstrip("/"),
        "key_fingerprint": None if key is None else key_fingerprint(key),
        "agent_ids": sorted({str(a) for a in agent_ids}),
    }


def same_account(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """Whether two account records are the same account (see the module docstring)."""
    if a.get("kind") == "sample" or b.get("kind") == "sample":
        return a.get("kind") == b.get("kind")
    if a.get("base_url") != b.get("base_url"):
        return False
    if a.get("key_fingerprint") and a.get("key_fingerprint") == b.get("key_fingerprint"):
        return True
    return bool(set(a.get("agent_ids") or ()) & set(b.get("agent_ids") or ()))


def describe_account(account: dict[str, Any] | None) -> str:
    """An account for people: ``"sample data"`` or ``"OneInbox API at …, account 1a2b…"``.

    Parameters
    ----------
    account : dict or None
        A record of :func:`account_of`; None for a dataset that does not know its account.

    Returns
    -------
    str
    """
    if not account:
        return "account unknown"
    if account.get("kind") == "sample":
        return "sample data"
    fingerprint = account.get("key_fingerprint")
    who = f", account {fingerprint}" if fingerprint else ""
    return f"OneInbox API at {account.get('base_url')}{who}"


def default_dataset_path(source: Any = None) -> Path:
    """Where the dataset of an account lives unless told otherwise.

    ``$ONEINBOX_NB_DATA_DIR/datasets/<host>-<key fingerprint>``, where the base directory defaults
    to the platform's user data directory (``platformdirs.user_data_path("oneinbox_nb")``: e.g.
    ``~/.local/share/oneinbox_nb`` on Linux). Sample data goes to ``datasets/sample``.

    Parameters
    ----------
    source : OneInboxClient, DataSource, or str, optional
        The client (or a :class:`~oneinbox_nb.source.DataSource`, whose client is used), or a base
        URL; default a client from ``ONEINBOX_API_KEY`` / ``ONEINBOX_BASE_URL``.

    Returns
    -------
    pathlib.Path
        Not created.

    Raises
    ------
    ConfigurationError
        No source given and no API key configured.
    """
    from ..cache import source_name

    base = os.environ.get(DATA_DIR_ENV)
    if base:
        root = Path(base).expanduser()
    else:
        import platformdirs

        root = platformdirs.user_data_path("oneinbox_nb")
    root = root / "datasets"
    if isinstance(source, str):
        return root / source_name(source)
    if source is None:
        from ..client import OneInboxClient

        with OneInboxClient() as client:
            return default_dataset_path(client)
    client = getattr(source, "client", source)
    account = account_of(client)
    if account["kind"] == "sample":
        return root / "sample"
    name = source_name(account["base_url"])
    if account["key_fingerprint"]:
        name += f"-{account['key_fingerprint']}"
    return root / name
