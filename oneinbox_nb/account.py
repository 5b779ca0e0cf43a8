"""Which account calls come from: the record a dataset and a call store keep, and how to say it.

The OneInbox API has no endpoint that names the organisation behind a key, so an account is
recorded as (:func:`account_record`; :meth:`OneInboxClient.account_identity
<oneinbox_nb.client.OneInboxClient.account_identity>` gives the first three):

* ``kind``: ``"sample"`` for the embedded sample API (its keys start :data:`SAMPLE_KEY_PREFIX` and
  change every run, as its port does: every sample server is the one sample account) and for
  synthetic histories, else ``"api"``;
* ``base_url``: the API the calls came from (no user-info, query or fragment);
* ``key_fingerprint``: HMAC-SHA256 of the key under a fixed, public salt, first 16 hex digits. It
  identifies a key without revealing it (it cannot be turned back into the key; a 64-bit prefix
  tells keys apart, it is not a password hash);
* ``agent_ids``: the ids of the organisation's agents (``GET /v1/agents``), which survive a key
  rotation: two records are the same account when their base URLs match and either their key
  fingerprints match or they share an agent (:func:`same_account`);
* ``run_key``: the metadata key that marks the account's load-test calls, when one was configured
  (``ONEINBOX_RUN_KEY``, :func:`oneinbox_nb.config.resolve_run_key`); absent means ``run_id``.

A dataset (:mod:`oneinbox_nb.dataset`) keeps the record in its marker file, the call store
(:class:`oneinbox_nb.cache.CallCache`) in its ``meta`` table. Writing another account's calls into
either is refused unless asked for with ``merge=True`` (:func:`claim_account`); the record then
lists the other accounts under ``merged``.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable
from typing import Any

from .config import configured_run_key

__all__ = [
    "SAMPLE_ACCOUNT",
    "SAMPLE_KEY_PREFIX",
    "account_identity",
    "account_record",
    "claim_account",
    "describe_account",
    "is_sample_key",
    "key_fingerprint",
    "same_account",
]

SAMPLE_KEY_PREFIX = "oi_sk_sample_"
"""How every key the sample server mints begins (:mod:`oneinbox_nb.sample`; ``oneinbox-nb serve``
prints it, ``make demo`` hands it to its reports). Data read with such a key is sample data, however
the server was reached: the label comes from the key the client holds, never from the answers."""

#: The account record of sample data (the embedded sample API, synthetic histories).
SAMPLE_ACCOUNT: dict[str, Any] = {
    "kind": "sample",
    "base_url": None,
    "key_fingerprint": None,
    "agent_ids": [],
}

_SALT = b"oneinbox_nb dataset account v1"


def is_sample_key(key: str | None) -> bool:
    """Whether ``key`` is one the sample server minted (see :data:`SAMPLE_KEY_PREFIX`)."""
    return isinstance(key, str) and key.startswith(SAMPLE_KEY_PREFIX)


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


def account_identity(base_url: str, api_key: str | None) -> dict[str, Any]:
    """Who a key at a base URL is: ``kind``, ``base_url`` and ``key_fingerprint``; never the key.

    Parameters
    ----------
    base_url : str
        The API root, already cleaned (:func:`oneinbox_nb.config.resolve_base_url`).
    api_key : str or None
        The key the client sends; None when unknown.

    Returns
    -------
    dict
        :data:`SAMPLE_ACCOUNT`'s fields for a sample key, else kind ``"api"``.
    """
    if is_sample_key(api_key):
        return {k: v for k, v in SAMPLE_ACCOUNT.items() if k != "agent_ids"}
    return {
        "kind": "api",
        "base_url": str(base_url).rstrip("/"),
        "key_fingerprint": None if api_key is None else key_fingerprint(api_key),
    }


def account_record(
    identity: dict[str, Any], agent_ids: Iterable[str] = (), *, run_key: str | None = None
) -> dict[str, Any]:
    """The record a dataset or store keeps (see the module docstring).

    Parameters
    ----------
    identity : dict
        :func:`account_identity` (``client.account_identity()``).
    agent_ids : iterable of str
        The organisation's agents (from ``GET /v1/agents``), if known.
    run_key : str, optional
        The account's run key; default ``ONEINBOX_RUN_KEY`` when set. Sample data has none.

    Returns
    -------
    dict
        ``kind``, ``base_url``, ``key_fingerprint``, ``agent_ids`` (sorted), and ``run_key`` when
        one is configured.

    Raises
    ------
    ConfigurationError
        The run key is not a top-level metadata key.
    """
    if identity.get("kind") == "sample":
        return dict(SAMPLE_ACCOUNT)
    record = {**identity, "agent_ids": sorted({str(a) for a in agent_ids})}
    key = configured_run_key(run_key)
    if key is not None:
        record["run_key"] = key
    return record


def same_account(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """Whether two account records are the same account (see the module docstring)."""
    if a.get("kind") == "sample" or b.get("kind") == "sample":
        return a.get("kind") == b.get("kind")
    if a.get("base_url") != b.get("base_url"):
        return False
    if a.get("key_fingerprint") and a.get("key_fingerprint") == b.get("key_fingerprint"):
        return True
    return bool(set(a.get("agent_ids") or ()) & set(b.get("agent_ids") or ()))


def claim_account(
    held: dict[str, Any] | None, account: dict[str, Any], *, merge: bool = False
) -> dict[str, Any] | None:
    """The record to keep after writing ``account``'s calls where ``held``'s are.

    Parameters
    ----------
    held : dict or None
        The record kept so far; None for a new dataset or store.
    account : dict
        The record of the calls about to be written (:func:`account_record`).
    merge : bool, default False
        Allow another account's calls in: ``held`` stays the account, ``account`` joins its
        ``merged`` list (and is let in from then on).

    Returns
    -------
    dict or None
        ``account`` for a new place; for the same account, ``account`` with every agent seen and
        the held run key unless ``account`` configures one; ``held`` with ``account`` under
        ``merged`` when merging, or when ``account`` was merged before (merging is asked once);
        None when ``held`` is another account's and ``merge`` is False (the caller raises its
        own error, see :func:`describe_account`).
    """
    if not held:
        return account
    if same_account(held, account):  # the newest key's fingerprint, every agent seen
        agents = sorted({*held.get("agent_ids", ()), *account.get("agent_ids", ())})
        kept = {**account, "agent_ids": agents, "merged": held.get("merged", [])}
        if "run_key" not in account and "run_key" in held:
            kept["run_key"] = held["run_key"]
        return kept
    merged = [a for a in held.get("merged", []) if not same_account(a, account)]
    if not merge and len(merged) == len(held.get("merged", [])):
        return None  # another account, never merged here
    return {**held, "merged": [*merged, {k: v for k, v in account.items() if k != "merged"}]}


def describe_account(account: dict[str, Any] | None) -> str:
    """An account for people: ``"sample data"`` or ``"OneInbox API at …, account 1a2b…"``.

    Parameters
    ----------
    account : dict or None
        A record of :func:`account_record`; None for a place that does not know its account.

    Returns
    -------
    str
        Never the key (only its fingerprint).
    """
    if not account:
        return "account unknown"
    if account.get("kind") == "sample":
        return "sample data"
    fingerprint = account.get("key_fingerprint")
    who = f", account {fingerprint}" if fingerprint else ""
    return f"OneInbox API at {account.get('base_url')}{who}"
