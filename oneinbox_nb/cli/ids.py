"""Reading call ids for ``oneinbox-nb fetch --ids FILE``: one per line, ``#`` comments, UTF-8 or
UTF-16 (with or without a byte-order mark), from a file or standard input (``-``)."""

from __future__ import annotations

import sys
from pathlib import Path

from ..exceptions import ConfigurationError

__all__ = ["decode_text", "read_ids"]


def decode_text(data: bytes, what: str) -> str:
    """Bytes of a text file: UTF-8 (with or without BOM) or UTF-16/32 (BOM, or UTF-16 without).

    Raises
    ------
    oneinbox_nb.ConfigurationError
        The bytes are no such text; ``what`` names where they came from.
    """
    boms = (
        (b"\xff\xfe\x00\x00", "utf-32"),
        (b"\x00\x00\xfe\xff", "utf-32"),
        (b"\xef\xbb\xbf", "utf-8-sig"),
        (b"\xff\xfe", "utf-16"),
        (b"\xfe\xff", "utf-16"),
    )
    encoding = next((enc for bom, enc in boms if data.startswith(bom)), None)
    if encoding is None and b"\x00" in data[:200]:
        encoding = "utf-16-le" if data[1:2] == b"\x00" else "utf-16-be"
    try:
        return data.decode(encoding or "utf-8")
    except UnicodeDecodeError:
        raise ConfigurationError(
            f"{what} is not UTF-8 or UTF-16 text; save it as plain text with one call id per line"
        ) from None


def _read_bytes(source: str, what: str) -> bytes:
    """The bytes of ``source``: standard input for ``-``, else the file at that path."""
    if source == "-":
        data = sys.stdin.buffer.read() if hasattr(sys.stdin, "buffer") else sys.stdin.read()
        return data.encode() if isinstance(data, str) else data
    path = Path(source).expanduser()
    if path.is_dir():
        raise ConfigurationError(
            f"{what} is a directory; pass a text file with one call id per line"
        )
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise ConfigurationError(
            f"{what}: no such file; pass a text file with one call id per line, or --ids - "
            "to read them from standard input"
        ) from None
    except OSError as exc:
        raise ConfigurationError(f"{what} cannot be read ({exc.strerror})") from None


def read_ids(source: str) -> list[str]:
    """Call ids from a file (or stdin for ``-``): one per line, ``#`` starts a comment anywhere.

    Returns
    -------
    list of str
        The ids in file order, stripped, as written (not yet validated).

    Raises
    ------
    oneinbox_nb.ConfigurationError
        No such file, a directory, unreadable, not UTF-8/UTF-16 text, or no id at all; the
        message names ``--ids`` and what to pass instead.
    """
    what = "standard input (--ids -)" if source == "-" else f"--ids {source}"
    ids = []
    for line in decode_text(_read_bytes(source, what), what).splitlines():
        text = line.split("#", 1)[0].strip().strip("\ufeff").strip()
        if text:
            ids.append(text)
    if not ids:
        raise ConfigurationError(
            f"{what} holds no call ids (blank lines and # comments only); put one id per line"
        )
    return ids
