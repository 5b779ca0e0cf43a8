"""A dataset's account, and where an account's dataset lives by default.

The account record, its fingerprint and the same-account rule live in :mod:`oneinbox_nb.account`,
shared with the call store; this module is the dataset's use of them: :func:`account_of` builds the
record a sync writes into the marker, :func:`default_dataset_path` names an account's folder. A
record may carry the account's ``run_key`` (``ONEINBOX_RUN_KEY`` at sync time): a scope built on
the dataset (``Scope.parse(...).with_source(dataset)``) then uses it, and so does the dataset's
own SQL (``Dataset.run_key``: its fleet functions and ``frames(run_id=...)``, see
:mod:`oneinbox_nb.dataset.fleet`).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ..account import (
    SAMPLE_ACCOUNT,
    account_record,
    claim_account,
    describe_account,
    key_fingerprint,
    same_account,
)

__all__ = [
    "DATA_DIR_ENV",
    "SAMPLE_ACCOUNT",
    "account_of",
    "claim_account",
    "default_dataset_path",
    "describe_account",
    "key_fingerprint",
    "same_account",
]

#: Environment variable that overrides the base directory of :func:`default_dataset_path`.
DATA_DIR_ENV = "ONEINBOX_NB_DATA_DIR"


def account_of(client: Any, agent_ids: Iterable[str] = ()) -> dict[str, Any]:
    """The account record of a client (see :mod:`oneinbox_nb.account`); never holds the key.

    Parameters
    ----------
    client : OneInboxClient
        Its public :meth:`~oneinbox_nb.OneInboxClient.account_identity` names the account.
    agent_ids : iterable of str
        The organisation's agents (from ``GET /v1/agents``), if known.

    Returns
    -------
    dict
        ``kind``, ``base_url``, ``key_fingerprint``, ``agent_ids`` (sorted), and ``run_key`` when
        ``ONEINBOX_RUN_KEY`` is set.

    Raises
    ------
    ConfigurationError
        ``ONEINBOX_RUN_KEY`` is not a top-level metadata key.
    """
    return account_record(client.account_identity(), agent_ids)


def default_dataset_path(source: Any = None) -> Path:
    """Where the dataset of an account lives unless told otherwise.

    ``$ONEINBOX_NB_DATA_DIR/datasets/<host>-<key fingerprint>``, where the base directory defaults
    to the platform's user data directory (``platformdirs.user_data_path("oneinbox_nb")``: e.g.
    ``~/.local/share/oneinbox_nb`` on Linux). Sample data goes to ``datasets/sample``. After a key
    rotation the account's existing dataset is found (a folder of the same API whose recorded
    account shares an agent with this key's, see :func:`~oneinbox_nb.account.same_account`), so
    the next sync stays incremental.

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
    account = client.account_identity()
    if account["kind"] == "sample":
        return root / "sample"
    name = source_name(account["base_url"])
    if account["key_fingerprint"]:
        name += f"-{account['key_fingerprint']}"
    path = root / name
    if path.exists():
        return path
    return _dataset_under_an_earlier_key(client, root, source_name(account["base_url"])) or path


def _dataset_under_an_earlier_key(client: Any, root: Path, host: str) -> Path | None:
    """An existing dataset of this API whose recorded account is the client's under an earlier
    key (the same-account rule: a shared agent), so a key rotation does not start a new dataset;
    one ``GET /v1/agents`` walk, asked only when such a folder exists."""
    import orjson

    from ..exceptions import OneInboxError
    from .store import MARKER

    held = []
    for folder in sorted(root.glob(f"{host}-*")):
        try:
            held.append((folder, orjson.loads((folder / MARKER).read_bytes())["account"]))
        except (OSError, ValueError, KeyError, TypeError):
            continue
    if not held:
        return None
    try:
        agents = [str(a["id"]) for a in client.iter_agents() if isinstance(a, dict) and "id" in a]
    except OneInboxError:
        return None
    account = account_of(client, agents)
    return next((folder for folder, record in held if same_account(record, account)), None)
