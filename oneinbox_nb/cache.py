"""An offline store of raw call JSON, so re-running a notebook does not fetch the calls again.

One file per call, ``<root>/<source>/<id[:2]>/<id>.json``, where ``<source>`` names the API the
calls came from (``api.oneinbox.ai``, ``127.0.0.1_8765``). Each file is written to a temporary
name in its own directory and moved into place with :func:`os.replace`, so a crash or Ctrl-C
leaves either the old entry, the new one, or a stray ``.tmp`` file that is ignored and swept up
on the next open: never a half-written entry. An entry that does not parse, or is not the call its
name says, is reported in :attr:`CallCache.corrupt`, moved aside as ``.corrupt`` and refetched.

Calls in a terminal status (completed, failed, ...) never change again and are served from the
cache; others (queued, in_progress) are refreshed on every fetch.
"""

from __future__ import annotations

import logging
import os
import re
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import orjson

from .client import TERMINAL_STATUSES
from .exceptions import CacheError

__all__ = ["TERMINAL_STATUSES", "CallCache", "default_cache_dir", "is_terminal"]

log = logging.getLogger(__name__)


CACHE_DIR_ENV = "ONEINBOX_NB_CACHE_DIR"


def is_terminal(call: dict) -> bool:
    """True when the call's status is final, so its payload is safe to serve from the cache."""
    return str(call.get("status", "")).lower() in TERMINAL_STATUSES


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
    """A directory name for an API base URL: its host and port, path-safe."""
    host = re.sub(r"^[a-z]+://", "", base_url.lower()).split("@")[-1].rstrip("/")
    return re.sub(r"[^a-z0-9.\-]+", "_", host) or "default"


class CallCache:
    """A directory of raw call payloads for one API source.

    Parameters
    ----------
    directory
        Root of the store; defaults to :func:`default_cache_dir`.
    source
        Sub-directory for the API the calls came from (see :func:`source_name`).
    """

    def __init__(self, directory: str | os.PathLike | None = None, *, source: str = "default"):
        self.root = Path(directory).expanduser() if directory is not None else default_cache_dir()
        self.path = self.root / source
        self.corrupt: list[tuple[str, str]] = []  # (call_id, what was wrong)
        try:
            self.path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise CacheError(
                f"cannot create the call cache at {self.path} ({exc.strerror}); pass "
                "cache=<a writable directory>, set ONEINBOX_NB_CACHE_DIR, or cache=False"
            ) from exc
        self._sweep_temporaries()

    def __repr__(self) -> str:
        return f"CallCache({str(self.path)!r})"

    def _file(self, call_id: str) -> Path:
        if not re.fullmatch(r"[A-Za-z0-9\-]{2,64}", call_id):
            raise CacheError(f"{call_id!r} cannot name a cache entry; call ids are UUIDs")
        return self.path / call_id[:2] / f"{call_id}.json"

    def _sweep_temporaries(self) -> None:
        for stray in self.path.glob("*/.*.tmp"):
            stray.unlink(missing_ok=True)

    def get(self, call_id: str) -> dict | None:
        """The stored payload, or None when absent or corrupt (corrupt ones are recorded)."""
        file = self._file(call_id)
        try:
            raw = file.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            self._set_aside(call_id, file, f"unreadable: {exc.strerror}")
            return None
        try:
            call = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            self._set_aside(call_id, file, f"not valid JSON ({exc})")
            return None
        if not isinstance(call, dict) or call.get("id") != call_id:
            self._set_aside(call_id, file, "not the call its file name says")
            return None
        return call

    def _set_aside(self, call_id: str, file: Path, why: str) -> None:
        self.corrupt.append((call_id, why))
        log.warning("corrupt cache entry %s (%s); it will be fetched again", file, why)
        try:
            os.replace(file, file.with_suffix(".corrupt"))
        except OSError:
            file.unlink(missing_ok=True)

    def put(self, call: dict) -> Path:
        """Store one payload atomically and return its path."""
        call_id = str(call.get("id", ""))
        file = self._file(call_id)
        file.parent.mkdir(exist_ok=True)
        data = orjson.dumps(call)
        fd, tmp = tempfile.mkstemp(dir=file.parent, prefix=f".{call_id}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            os.replace(tmp, file)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return file

    def __contains__(self, call_id: object) -> bool:
        return isinstance(call_id, str) and self._file(call_id).exists()

    def ids(self) -> Iterator[str]:
        """Ids of every stored call (no parsing)."""
        for file in self.path.glob("*/*.json"):
            yield file.stem

    def __len__(self) -> int:
        return sum(1 for _ in self.ids())

    def load_all(self) -> list[dict]:
        """Every valid stored payload (corrupt ones are recorded and skipped)."""
        return [call for call_id in sorted(self.ids()) if (call := self.get(call_id)) is not None]
