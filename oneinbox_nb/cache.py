"""The local store of raw call JSON, so re-running a notebook does not fetch settled calls again.

One SQLite database per API source, ``<root>/<source>.sqlite3``, where ``<source>`` names the API
the calls came from (``api.oneinbox.ai``, ``127.0.0.1_8765``). SQLite (the stdlib ``sqlite3``)
runs in WAL mode with a busy timeout, so several processes and threads can read and write one
store at once; writes go in batched transactions (:meth:`CallCache.put_many`), and a crash or
Ctrl-C leaves either the old rows or the new ones, never half a row. Each thread gets its own
connection.

A call is *settled* (served from the store without asking the API again) when it is in a terminal
status, the post-call fields are filled (for a completed call: ``messages``, ``analysis``,
``latency`` and ``cost_cents``), and it was last seen more than the settle window (default 10
minutes) after it ended: ``max(updated_at, fetched_at) - ended_at > settle_s``. The platform fills
``cost_cents``, ``analysis`` and ``latency`` after a call ends, so a call fetched moments after it
ended is fetched again next time.

Bodies are stored as orjson bytes. zlib level 1 shrinks them to about 37 % but costs about 0.1 ms
of CPU per call, the whole write budget of ``make bench``, so compression is off unless
``compress=True``; both forms are read back.

A row that does not decode, or is not the call its key says, is reported in
:attr:`CallCache.corrupt`, deleted and fetched again. A database file that is not a database is
moved aside (``.corrupt-<time>``) and rebuilt, and then one :class:`StoreWarning` says so; when it
cannot be moved (a read-only directory), the :class:`~oneinbox_nb.exceptions.CacheError` says that
instead, and :func:`open_store` turns it into the one warning. The one-JSON-file-per-
call caches of earlier versions (``<root>/<source>/<id[:2]>/<id>.json``) are imported on first open
and left in place.

**A store knows its account.** One host may serve several organisations, so a store records the
account its calls came from (:mod:`oneinbox_nb.account`: the base URL, a non-reversible
fingerprint of the key, the run key when ``ONEINBOX_RUN_KEY`` is set) in its ``meta`` table, the
same record a dataset keeps. A fetch claims the store for its client's account
(:meth:`CallCache.claim`); another account's store is a :class:`StoreAccountError` unless the
fetch says ``merge=True``, as ``sync(..., merge=True)`` does for a dataset: the record then lists
the other account under ``merged`` (a rotated key of the same account is merged once that way).
:attr:`CallCache.description` names the account wherever a store is described.
"""

from __future__ import annotations

import logging
import os
import re
import sqlite3
import sys
import threading
import time
import warnings
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import orjson

from .account import claim_account, describe_account
from .client import TERMINAL_STATUSES
from .client.endpoints import canonical_id
from .display import count
from .exceptions import CacheError, StoreAccountError

__all__ = [
    "SETTLE_WINDOW_S",
    "TERMINAL_STATUSES",
    "CallCache",
    "StoreAccountError",
    "StoreWarning",
    "StoreWriter",
    "StoredCall",
    "default_cache_dir",
    "is_settled",
    "is_terminal",
    "open_store",
    "source_name",
    "store_failed",
]

log = logging.getLogger(__name__)

CACHE_DIR_ENV = "ONEINBOX_NB_CACHE_DIR"
#: Calls handed to a :class:`StoreWriter` are written in batches of this many, or after this many
#: seconds.
STORE_BATCH, STORE_BATCH_S = 200, 0.5
#: Seconds after its end before a call's payload is taken as final.
SETTLE_WINDOW_S = 600.0
#: Fields a completed call must have filled before it is final.
POST_CALL_FIELDS = ("messages", "analysis", "latency", "cost_cents")
BUSY_TIMEOUT_S = 30.0
_SCHEMA_VERSION = 1
_PUT_CALL = "INSERT OR REPLACE INTO calls VALUES (?, ?, ?, ?, ?, ?)"
_CHUNK = 500  # ids per SELECT ... IN (...)


class StoreWarning(UserWarning):
    """The store could not be used as asked (read-only, corrupt, locked); the fetch went on."""


def is_terminal(call: dict) -> bool:
    """True when the call's status is final (completed, failed, ...)."""
    return str(call.get("status", "")).lower() in TERMINAL_STATUSES


def _epoch(value: Any) -> float | None:
    if not isinstance(value, str):
        return None
    try:
        stamp = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=timezone.utc)
    return stamp.timestamp()


def is_settled(
    call: dict, *, fetched_at: float | None = None, settle_s: float = SETTLE_WINDOW_S
) -> bool:
    """True when the call will not change any more, so the store may serve it.

    Parameters
    ----------
    call
        The call payload.
    fetched_at
        When it was fetched (seconds since the epoch); None counts ``updated_at`` alone.
    settle_s
        The settle window in seconds (default 600).
    """
    if not is_terminal(call):
        return False
    if str(call.get("status")).lower() == "completed" and any(
        call.get(name) is None for name in POST_CALL_FIELDS
    ):
        return False
    # a call that never started may have no ended_at: its last update stands in for it
    raw_end = call.get("ended_at")
    ended = _epoch(raw_end) if raw_end is not None else _epoch(call.get("updated_at"))
    if ended is None:
        return False
    seen = max(_epoch(call.get("updated_at")) or 0.0, fetched_at or 0.0)
    return seen - ended > settle_s


def default_cache_dir() -> Path:
    """``$ONEINBOX_NB_CACHE_DIR``, else the platform's user cache directory + ``oneinbox_nb``."""
    if os.environ.get(CACHE_DIR_ENV):
        return Path(os.environ[CACHE_DIR_ENV]).expanduser()
    if sys.platform == "win32":
        base = Path(os.environ.get("LOCALAPPDATA", Path.home() / "AppData" / "Local"))
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Caches"
    else:
        base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "oneinbox_nb"


def source_name(base_url: str) -> str:
    """A file name for an API base URL: its host and port, path-safe, never its user-info."""
    host = re.sub(r"^[a-z]+://", "", base_url.lower()).split("/")[0].split("@")[-1]
    return re.sub(r"[^a-z0-9.\-]+", "_", host).strip("._") or "default"


@dataclass(frozen=True)
class StoredCall:
    """A call read from the store: its payload and whether it had settled when stored."""

    call: dict
    settled: bool
    fetched_at: float


class CallCache:
    """The SQLite store of raw call payloads for one API source.

    Parameters
    ----------
    directory
        Root of the store; defaults to :func:`default_cache_dir`.
    source
        Name of the API the calls came from (see :func:`source_name`); the database is
        ``<directory>/<source>.sqlite3``.
    settle_s
        Settle window in seconds (see :func:`is_settled`).
    compress
        Store bodies zlib-compressed (level 1): about 37 % of the size, about 0.1 ms CPU per call.
    account
        Claim the store for this account record (:meth:`claim`); None leaves the record as it is.
    merge
        With ``account``: allow another account's store (:meth:`claim`).

    Raises
    ------
    StoreAccountError
        ``account`` is not the store's and ``merge`` is False.
    CacheError
        The directory cannot be created, or the database cannot be opened or written
        (read-only, locked for longer than 30 s). :func:`~oneinbox_nb.fetch_calls` turns this
        into one :class:`StoreWarning` and goes on without the store.
    """

    def __init__(
        self,
        directory: str | os.PathLike | None = None,
        *,
        source: str = "default",
        settle_s: float = SETTLE_WINDOW_S,
        compress: bool = False,
        account: Mapping[str, Any] | None = None,
        merge: bool = False,
    ) -> None:
        if not re.fullmatch(r"[A-Za-z0-9._\-]{1,200}", source) or source.strip(".") == "":
            raise CacheError(f"source {source!r} cannot name a store; use source_name(base_url)")
        self.root = Path(directory).expanduser() if directory is not None else default_cache_dir()
        self.source = source
        self.path = self.root / f"{source}.sqlite3"
        self.settle_s = float(settle_s)
        self.compress = compress
        self.corrupt: list[tuple[str, str]] = []  # (call_id, what was wrong)
        self._local = threading.local()
        self._lock = threading.Lock()
        self._connections: list[sqlite3.Connection] = []
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise CacheError(
                f"cannot create the call store at {self.root} ({exc.strerror}); pass "
                "cache=<a writable directory>, set ONEINBOX_NB_CACHE_DIR, or cache=False"
            ) from exc
        self._open()
        self._import_json_files()
        if account is not None:
            try:
                self.claim(account, merge=merge)
            except CacheError:
                self.close()
                raise

    def __repr__(self) -> str:
        return f"CallCache({str(self.path)!r})"

    # -- connections ------------------------------------------------------------------------

    def _fail(self, exc: sqlite3.Error, doing: str) -> CacheError:
        if isinstance(exc, sqlite3.DatabaseError) and not isinstance(exc, sqlite3.OperationalError):
            # found corrupt in use ("malformed"): set aside and rebuild, so the next run is clean
            try:
                aside = self._set_aside_database(exc, warn=False)
            except CacheError as again:
                return again
            return CacheError(
                f"the call store {self.path} turned out corrupt when it was {doing} ({exc}); it was "
                f"moved to {aside} and a new one started, so its calls will be fetched again"
            )
        return CacheError(
            f"the call store {self.path} could not be {doing} ({exc}); check that the directory "
            "is writable and not full, pass cache=<another directory>, or cache=False"
        )

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(
            self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False
        )
        try:
            conn.execute("PRAGMA page_size=16384")  # a new file only: fewer overflow pages per call
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
        except sqlite3.Error:
            conn.close()
            raise
        with self._lock:
            self._connections.append(conn)
        return conn

    @property
    def _db(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            try:
                conn = self._local.conn = self._connect()
            except sqlite3.Error as exc:
                raise self._fail(exc, "opened") from exc
        return conn

    def _open(self) -> None:
        try:
            self._local.conn = self._connect()
            self._create_schema(self._local.conn)
        except sqlite3.OperationalError as exc:  # read-only, locked, cannot open
            self.close()
            raise self._fail(exc, "opened for writing") from exc
        except sqlite3.DatabaseError as exc:  # "file is not a database", "malformed"
            self._set_aside_database(exc)

    def _set_aside_database(self, exc: sqlite3.Error, *, warn: bool = True) -> str:
        """Move the corrupt database aside and start a new one; then, if ``warn``, say so.

        The warning comes after the move, so it reports what happened; a move or rebuild that
        fails is a :class:`CacheError` (and no warning here) saying that.
        """
        self.close()
        aside = self.path.with_name(f"{self.path.name}.corrupt-{time.time_ns()}")
        try:
            os.replace(self.path, aside)
            for suffix in ("-wal", "-shm"):
                Path(f"{self.path}{suffix}").unlink(missing_ok=True)
            self._create_schema(self._db)
        except (OSError, sqlite3.Error, CacheError) as again:
            self.close()
            reason = getattr(again, "strerror", None) or again
            raise CacheError(
                f"the call store {self.path} is corrupt ({exc}) and could not be moved aside and "
                f"rebuilt ({reason}); delete it, pass cache=<a writable directory>, or cache=False"
            ) from again
        if warn:
            warnings.warn(
                f"the call store {self.path} was corrupt ({exc}); it was moved to {aside.name} and "
                "a new one started, so its calls will be fetched again",
                StoreWarning,
                stacklevel=4,
            )
        return aside.name

    @staticmethod
    def _create_schema(conn: sqlite3.Connection) -> None:
        conn.executescript(
            """
            CREATE TABLE IF NOT EXISTS calls (
                id TEXT PRIMARY KEY,
                status TEXT,
                settled INTEGER NOT NULL,
                fetched_at REAL NOT NULL,
                codec TEXT NOT NULL,
                body BLOB NOT NULL
            );
            CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
            CREATE TABLE IF NOT EXISTS agents (
                id TEXT PRIMARY KEY,
                name TEXT NOT NULL,
                fetched_at REAL NOT NULL
            );
            """
        )
        conn.execute(f"PRAGMA user_version={_SCHEMA_VERSION}")

    def close(self) -> None:
        """Close every connection this object opened (any thread's)."""
        with self._lock:
            connections, self._connections = self._connections, []
        for conn in connections:
            try:
                conn.close()
            except sqlite3.Error:
                pass
        self._local = threading.local()

    def __enter__(self) -> CallCache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- writing ----------------------------------------------------------------------------

    def _row(self, call: dict, fetched_at: float) -> tuple | None:
        call_id = canonical_id(call.get("id")) if isinstance(call, dict) else None
        if call_id is None:
            return None
        data = orjson.dumps(call)
        codec = "json"
        if self.compress:
            data, codec = zlib.compress(data, 1), "zlib"
        settled = is_settled(call, fetched_at=fetched_at, settle_s=self.settle_s)
        status = call.get("status") if isinstance(call.get("status"), str) else None
        return (call_id, status, int(settled), fetched_at, codec, data)

    def put_many(self, calls: Iterable[dict], *, fetched_at: float | None = None) -> int:
        """Store payloads in one transaction; returns how many were stored.

        A payload whose ``id`` is not a UUID is skipped (it cannot be the key of a call).
        """
        now = time.time() if fetched_at is None else fetched_at
        rows = [row for call in calls if (row := self._row(call, now)) is not None]
        if not rows:
            return 0
        self._write(lambda conn: conn.executemany(_PUT_CALL, rows))
        return len(rows)

    def _write(self, statements: Callable[[sqlite3.Connection], Any]) -> None:
        """Run ``statements(conn)`` in one write transaction (rolled back if it raises)."""
        conn = self._db
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                statements(conn)
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            raise self._fail(exc, "written") from exc

    def put(self, call: dict) -> None:
        """Store one payload (see :meth:`put_many`)."""
        self.put_many([call])

    # -- the account ------------------------------------------------------------------------

    def claim(self, account: Mapping[str, Any], *, merge: bool = False) -> dict[str, Any]:
        """Record that this store holds ``account``'s calls, and refuse another account's.

        Parameters
        ----------
        account : mapping
            An account record (:func:`oneinbox_nb.account.account_record`) or the identity
            ``client.account_identity()``; never holds the key.
        merge : bool, default False
            Allow a store that holds another account's calls: that account stays the store's and
            ``account`` is listed under ``merged`` (once: a merged account is let in again).

        Returns
        -------
        dict
            The record now kept (see :attr:`account`).

        Raises
        ------
        StoreAccountError
            The store holds another account's calls and ``merge`` is False (one line: which
            accounts, and what to pass).
        CacheError
            The store cannot be written.
        """
        record = {"agent_ids": [], **account}
        kept: list[dict[str, Any]] = []

        def write(conn: sqlite3.Connection) -> None:
            row = conn.execute("SELECT value FROM meta WHERE key = 'account'").fetchone()
            held = _account_of_row(row)
            claimed = claim_account(held, record, merge=merge)
            if claimed is None:
                raise StoreAccountError(
                    f"the call store {self.path} holds the calls of another account "
                    f"({describe_account(held)}), not of this one ({describe_account(record)})"
                )
            kept.append(claimed)
            if claimed != held:
                conn.execute(
                    "INSERT OR REPLACE INTO meta VALUES ('account', ?)",
                    (orjson.dumps(claimed).decode(),),
                )

        self._write(write)
        return kept[0]

    @property
    def account(self) -> dict[str, Any] | None:
        """The account record the store keeps (see :mod:`oneinbox_nb.account`): ``kind``,
        ``base_url``, ``key_fingerprint``, ``agent_ids``, ``run_key`` when one was configured,
        ``merged``; None for a store no fetch has claimed (an earlier version's).

        Raises
        ------
        CacheError
            The store cannot be read.
        """
        try:
            row = self._db.execute("SELECT value FROM meta WHERE key = 'account'").fetchone()
        except sqlite3.Error as exc:
            raise self._fail(exc, "read") from exc
        return _account_of_row(row)

    @property
    def description(self) -> str:
        """The store in one line, for reports and sources: ``call store api.oneinbox.ai.sqlite3
        (OneInbox API at …, account 1a2b…, 3,200 calls)``; never the key.

        Raises
        ------
        CacheError
            The store cannot be read.
        """
        account = self.account
        who = describe_account(account)
        merged = (account or {}).get("merged") or []
        if merged:
            who += f" and {count(len(merged))} more merged"
        return f"call store {self.path.name} ({who}, {count(len(self))} calls)"

    # -- reading ----------------------------------------------------------------------------

    def _decode(self, call_id: str, codec: str, body: bytes) -> dict | None:
        try:
            raw = zlib.decompress(body) if codec == "zlib" else body
            call = orjson.loads(raw)
        except (zlib.error, orjson.JSONDecodeError) as exc:
            return self._set_aside(call_id, f"unreadable ({type(exc).__name__})")
        if not isinstance(call, dict) or canonical_id(call.get("id")) != call_id:
            return self._set_aside(call_id, "not the call its key says")
        return call

    def _set_aside(self, call_id: str, why: str) -> None:
        self.corrupt.append((call_id, why))
        log.warning("corrupt store entry %s (%s); it will be fetched again", call_id, why)
        try:
            self._db.execute("DELETE FROM calls WHERE id = ?", (call_id,))
        except sqlite3.Error:
            pass

    def lookup(self, ids: Iterable[str]) -> dict[str, StoredCall]:
        """The stored calls among ``ids`` (canonical UUID strings), keyed by id."""
        wanted = list(dict.fromkeys(ids))
        found: dict[str, StoredCall] = {}
        conn = self._db
        try:
            for start in range(0, len(wanted), _CHUNK):
                chunk = wanted[start : start + _CHUNK]
                marks = ",".join("?" * len(chunk))
                rows = conn.execute(
                    f"SELECT id, settled, fetched_at, codec, body FROM calls WHERE id IN ({marks})",
                    chunk,
                ).fetchall()
                for call_id, settled, fetched_at, codec, body in rows:
                    if (call := self._decode(call_id, codec, body)) is not None:
                        found[call_id] = StoredCall(call, bool(settled), fetched_at)
        except sqlite3.Error as exc:
            raise self._fail(exc, "read") from exc
        return found

    def put_agents(self, names: Mapping[str, str], *, fetched_at: float | None = None) -> None:
        """Replace the stored agent names (id -> name) with ``names``, stamped ``fetched_at``.

        Raises
        ------
        CacheError
            The store cannot be written.
        """
        stamp = time.time() if fetched_at is None else float(fetched_at)
        rows = [(str(k), str(v), stamp) for k, v in names.items()]

        def replace(conn: sqlite3.Connection) -> None:
            conn.execute("DELETE FROM agents")
            conn.executemany("INSERT OR REPLACE INTO agents VALUES (?, ?, ?)", rows)

        self._write(replace)

    def agent_names(self) -> tuple[dict[str, str], float | None]:
        """The stored agent names (id -> name) and when they were fetched (epoch s; None if never).

        Raises
        ------
        CacheError
            The store cannot be read.
        """
        try:
            rows = self._db.execute("SELECT id, name, fetched_at FROM agents").fetchall()
        except sqlite3.Error as exc:
            raise self._fail(exc, "read") from exc
        names = {agent_id: name for agent_id, name, _ in rows}
        return names, (min(row[2] for row in rows) if rows else None)

    def get(self, call_id: str) -> dict | None:
        """The stored payload, or None when absent, corrupt (recorded) or not a UUID."""
        key = canonical_id(call_id)
        if key is None:
            return None
        hit = self.lookup([key]).get(key)
        return hit.call if hit else None

    def __contains__(self, call_id: object) -> bool:
        key = canonical_id(call_id)
        if key is None:
            return False
        try:
            row = self._db.execute("SELECT 1 FROM calls WHERE id = ?", (key,)).fetchone()
        except sqlite3.Error as exc:
            raise self._fail(exc, "read") from exc
        return row is not None

    def ids(self) -> Iterator[str]:
        """Ids of every stored call (no decoding)."""
        try:
            rows = self._db.execute("SELECT id FROM calls ORDER BY id").fetchall()
        except sqlite3.Error as exc:
            raise self._fail(exc, "read") from exc
        yield from (row[0] for row in rows)

    def __len__(self) -> int:
        try:
            return self._db.execute("SELECT count(*) FROM calls").fetchone()[0]
        except sqlite3.Error as exc:
            raise self._fail(exc, "read") from exc

    def load_all(self) -> list[dict]:
        """Every valid stored payload, by id (corrupt ones are recorded and skipped)."""
        return [hit.call for _, hit in sorted(self.lookup(list(self.ids())).items())]

    # -- the JSON files of earlier versions -----------------------------------------------

    def _import_json_files(self) -> None:
        folder = self.root / self.source
        if not folder.is_dir():
            return
        conn = self._db
        try:
            if conn.execute("SELECT 1 FROM meta WHERE key = 'json_imported'").fetchone():
                return
            rows, skipped = [], 0
            for file in folder.glob("*/*.json"):
                try:
                    call = orjson.loads(file.read_bytes())
                    fetched_at = file.stat().st_mtime
                except (OSError, orjson.JSONDecodeError):
                    skipped += 1
                    continue
                if not isinstance(call, dict) or canonical_id(call.get("id")) != canonical_id(
                    file.stem
                ):
                    skipped += 1
                    continue
                if (row := self._row(call, fetched_at)) is not None:
                    rows.append(row)
            conn.execute("BEGIN IMMEDIATE")
            if conn.execute("SELECT 1 FROM meta WHERE key = 'json_imported'").fetchone():
                conn.execute("ROLLBACK")  # another process imported meanwhile
                return
            conn.executemany("INSERT OR IGNORE INTO calls VALUES (?, ?, ?, ?, ?, ?)", rows)
            conn.execute(
                "INSERT INTO meta VALUES ('json_imported', ?)", (f"{len(rows)} ok, {skipped} bad",)
            )
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            raise self._fail(exc, "written") from exc
        log.info(
            "imported %d calls from the JSON cache %s (%d unusable)", len(rows), folder, skipped
        )


def _account_of_row(row: tuple | None) -> dict[str, Any] | None:
    """The account record in a ``meta`` row; None when absent or unreadable."""
    if row is None:
        return None
    try:
        held = orjson.loads(row[0])
    except orjson.JSONDecodeError:
        return None
    return held if isinstance(held, dict) else None


# -- what a fetch does with the store -----------------------------------------------------------


def store_failed(error: CacheError) -> None:
    """The one :class:`StoreWarning` of a fetch whose store failed; the fetch goes on without it."""
    warnings.warn(f"{error}. This fetch goes on without the store.", StoreWarning, stacklevel=3)


def open_store(
    cache: bool | str | os.PathLike | CallCache | None,
    base_url: str,
    *,
    account: Mapping[str, Any] | None = None,
    merge: bool = False,
) -> CallCache | None:
    """The store a fetch asked for: ``cache`` as :func:`oneinbox_nb.fetch_calls` takes it.

    Parameters
    ----------
    cache
        True for the user store, a directory, a :class:`CallCache` (used as is), or
        False/None for none.
    base_url
        The API the calls come from; it names the database (:func:`source_name`).
    account
        The fetch's account record (:func:`oneinbox_nb.account.account_record`): the store is
        claimed for it (:meth:`CallCache.claim`).
    merge
        Allow a store that holds another account's calls.

    Returns
    -------
    CallCache or None
        None when no store was asked for, or when it cannot be used (read-only, locked, corrupt
        and not rebuildable): then one :class:`StoreWarning` said why.

    Raises
    ------
    StoreAccountError
        The store holds another account's calls and ``merge`` is False: an error, not a
        warning, so that nothing is read from or written into another account's store.
    """
    if cache is None or cache is False:
        return None
    try:
        if isinstance(cache, CallCache):
            if account is not None:
                cache.claim(account, merge=merge)
            return cache
        where = None if cache is True else cache
        return CallCache(where, source=source_name(base_url), account=account, merge=merge)
    except StoreAccountError:
        raise
    except CacheError as error:  # read-only, locked, unusable: warn once, fetch without it
        store_failed(error)
        return None


class StoreWriter:
    """Calls written to a store in batches (:data:`STORE_BATCH` calls or :data:`STORE_BATCH_S`
    seconds); a store that fails is warned about once (:func:`store_failed`) and dropped.

    Parameters
    ----------
    store
        Where to write; None writes nothing.
    """

    def __init__(self, store: CallCache | None) -> None:
        self.store = store
        self.pending: list[dict] = []
        self.last = time.monotonic()

    def add(self, call: dict) -> None:
        """Queue ``call``; write the batch when it is full or old enough."""
        if self.store is None:
            return
        self.pending.append(call)
        if len(self.pending) >= STORE_BATCH or time.monotonic() - self.last > STORE_BATCH_S:
            self.flush()

    def flush(self) -> None:
        """Write what is queued (also on Ctrl-C, so a rerun resumes)."""
        batch, self.pending, self.last = self.pending, [], time.monotonic()
        if self.store is None or not batch:
            return
        try:
            self.store.put_many(batch)
        except CacheError as error:
            store_failed(error)
            self.store = None

    def lookup(self, ids: list[str]) -> dict[str, StoredCall]:
        """What the store holds of ``ids``; {} (and the store dropped, warned once) if it fails."""
        if self.store is None or not ids:
            return {}
        try:
            return self.store.lookup(ids)
        except CacheError as error:
            store_failed(error)
            self.store = None
            return {}
