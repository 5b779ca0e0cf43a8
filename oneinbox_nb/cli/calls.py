"""``oneinbox-nb fetch``, ``export`` and ``sync``: calls from the API into the local store, the
store as Parquet tables, and calls into a Parquet dataset.

Each sub-command is its parser (``add_*_parser``) beside its handler (``run_*``), named together by a
:class:`~oneinbox_nb.cli.parser.Command`. The library is imported inside the handlers: building the
parser (``--help``) loads no pandas or duckdb.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from ..config import BASE_URL_ENV, parse_value
from ..exceptions import ConfigurationError, OneInboxError
from .connect import preflight, sample_or_client
from .errors import one_line, usage_error
from .ids import read_ids
from .parser import VALUES, Command, key_value, subcommand

__all__ = ["EXPORT", "FETCH", "SYNC"]


def _window_flags(command: str, args) -> int | None:
    """Check --since/--until (the one UTC parser, since before until); 2 when they are wrong."""
    from ..matching import utc_window

    try:
        utc_window(args.since, args.until, names=("--since", "--until"))
    except ConfigurationError as error:
        return usage_error(command, error)
    return None


def add_fetch_parser(sub) -> None:
    """The flags of ``oneinbox-nb fetch``."""
    p = subcommand(
        sub,
        "fetch",
        "fetch calls into the local store",
        "Fetch calls from the OneInbox API into the local store: by id (--ids) or every call "
        "matching the filters. Calls in a terminal status are never fetched again. " + VALUES,
        [
            "oneinbox-nb fetch --ids ids.txt         # one id per line; # starts a comment",
            "oneinbox-nb fetch --ids - < ids.txt     # ids from standard input",
            "oneinbox-nb fetch --since 2026-11-13 --where run_id=lt-42",
            "oneinbox-nb fetch --sample              # the embedded sample API, no key needed",
        ],
    )
    add = p.add_argument
    add(
        "--ids",
        metavar="FILE",
        help="file with one call id per line ('-' for stdin; UTF-8 or UTF-16, # comments)",
    )
    add("--agent-id")
    add("--status")
    add("--since", help="created at or after (RFC 3339 date/time; no offset is UTC)")
    add("--until", help="created before (RFC 3339 date/time; no offset is UTC)")
    add(
        "--where",
        type=key_value,
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="keep calls whose metadata key (or dotted path) equals VALUE (JSON if it parses, "
        "else text); repeatable",
    )
    add("--concurrency", type=int, default=32)
    add("--timeout", type=float, default=None, help="seconds per request (default 30)")
    add("--cache-dir", type=Path, default=None, help="store root (default: user cache dir)")
    add("--refresh", action="store_true", help="fetch every call again, even settled stored ones")
    add("--base-url", default=None, help=f"API root (default: {BASE_URL_ENV} or production)")
    add("--failures", type=Path, default=None, help="write failed ids and errors to this CSV")
    add(
        "--sample",
        action="store_true",
        help="fetch from the embedded sample API (stored only with --cache-dir)",
    )
    add("--no-progress", action="store_true")


def _preflight_ids(client, ids: list[str]) -> None:
    """``GET /v1/calls/{id}`` of the first valid id, one try: a wrong URL or key is one clear
    error, and only the endpoint the fetch itself uses is asked (a 404 for that call is fine)."""
    from ..client import RetryPolicy, validate_call_id
    from ..exceptions import CallNotFoundError, InvalidCallIdError

    for raw in ids:
        try:
            call_id = validate_call_id(raw)
        except InvalidCallIdError:
            continue
        try:
            client.get_call(call_id, retry=RetryPolicy(max_attempts=1))
        except CallNotFoundError:
            pass
        return


def run_fetch(args) -> int:
    """Fetch into the store; print the result; exit 1 when some calls could not be fetched."""
    from ..fetch import fetch_calls

    if args.ids is not None and not args.ids.strip():
        raise ConfigurationError(
            "--ids needs a file of call ids (one per line) or '-' for stdin; to list calls by "
            "filter instead, leave --ids out"
        )
    if (status := _window_flags("fetch", args)) is not None:
        return status
    ids = read_ids(args.ids) if args.ids is not None else None
    options: dict[str, Any] = {} if args.timeout is None else {"timeout": args.timeout}
    client, api = sample_or_client("fetch", args, **options)
    try:
        if ids is not None:
            _preflight_ids(client, ids)
        elif api is None:  # the sample API needs no check
            preflight(client.base_url, args.timeout)
        result = fetch_calls(
            ids,
            client=client,
            agent_id=args.agent_id,
            status=args.status,
            since=args.since,
            until=args.until,
            where={k: parse_value(v) for k, v in args.where} or None,
            concurrency=args.concurrency,
            # the sample API listens on a new port each time: its calls go to a store only when
            # --cache-dir names one (a store per port would only pile up)
            cache=args.cache_dir or api is None,
            refresh=args.refresh,
            progress=not args.no_progress,
        )
    finally:
        client.close()
        if api is not None:
            api.stop()
    print(result)
    return _fetch_outcome(args, ids, result)


def _fetch_outcome(args, ids: list[str] | None, result) -> int:
    """What ``fetch`` says after the run on stderr, and its exit status."""
    filters = [
        f"--{name.replace('_', '-')} {value}"
        for name, value in (("agent_id", args.agent_id), ("status", args.status))
        + (("since", args.since), ("until", args.until))
        if value is not None
    ] + [f"--where {k}={v}" for k, v in args.where]
    if ids is None and filters and not result.calls and result.failures.empty:
        print(
            "no call matched " + " ".join(filters) + " (metadata values match by value: "
            '42 and "42" alike); check the key and value',
            file=sys.stderr,
        )
    if result.failures.empty:
        return 0
    if args.failures:
        result.failures.to_csv(args.failures, index=False)
    first = result.failures.iloc[0]
    total = len(result.failures) + len(result.calls)
    written = (
        f"all of them are in {args.failures}"
        if args.failures
        else "--failures FILE writes them all"
    )
    print(
        one_line(
            f"oneinbox-nb fetch: {len(result.failures)} of {total} calls could not be fetched "
            f"(first: {first['call_id']}: {first['error']}); {written}"
        ),
        file=sys.stderr,
    )
    return 1


def add_export_parser(sub) -> None:
    """The flags of ``oneinbox-nb export``."""
    p = subcommand(
        sub,
        "export",
        "export stored calls as Parquet tables",
        "Write the calls stored by `oneinbox-nb fetch` as one Parquet file per table (calls, "
        "messages, events, turns, components, problems) into a directory.",
        [
            "oneinbox-nb export --parquet frames/",
            "duckdb -c \"select * from 'frames/turns.parquet'\"",
        ],
    )
    p.add_argument("--parquet", type=Path, required=True, metavar="DIR")
    p.add_argument("--cache-dir", type=Path, default=None)
    p.add_argument("--base-url", default=None, help="which API's store to export")


def run_export(args) -> int:
    """Write the stored calls' frames as Parquet tables; exit status 0."""
    from ..cache import CallCache, source_name
    from ..config import resolve_base_url
    from ..frames import to_frames

    if args.parquet.exists() and not args.parquet.is_dir():
        raise ConfigurationError(
            f"--parquet {args.parquet} is a file; pass a directory (it gets one .parquet file "
            "per table)"
        )
    with CallCache(args.cache_dir, source=source_name(resolve_base_url(args.base_url))) as store:
        calls = store.load_all()
    if not calls:
        raise OneInboxError(
            f"the store {store.path} holds no calls; run `oneinbox-nb fetch` first (or pass "
            "--cache-dir/--base-url for another store)"
        )
    out = to_frames(calls).to_parquet(args.parquet)
    print(f"wrote {len(calls)} calls as Parquet tables to {out}")
    return 0


def add_sync_parser(sub) -> None:
    """The flags of ``oneinbox-nb sync`` (issue 13)."""
    p = sub.add_parser("sync", help="bring calls into a local Parquet dataset (incremental)")
    p.add_argument("path", type=Path, help="dataset directory (created if needed)")
    p.add_argument("--base-url", default=None, help="API root (default: ONEINBOX_BASE_URL)")
    p.add_argument("--agent-id", default=None)
    p.add_argument("--status", default=None)
    p.add_argument("--since", default=None, help="first created_at to keep (ISO, UTC)")
    p.add_argument("--until", default=None, help="created_at before which to stop (ISO, UTC)")
    p.add_argument("--sample", action="store_true", help="sync from the embedded sample API")
    p.add_argument("--compact", action="store_true", help="compact the dataset afterwards")
    p.add_argument(
        "--merge", action="store_true", help="add calls of another account to this dataset"
    )
    p.add_argument("--no-progress", action="store_true")


def run_sync(args) -> int:
    """Sync the dataset (and compact it with --compact); print the counts; exit status 0."""
    from ..dataset import compact, sync

    if (status := _window_flags("sync", args)) is not None:
        return status
    if args.path.exists() and not args.path.is_dir():
        raise ConfigurationError(
            f"{args.path} is a file; pass a directory for the dataset (it is created if needed)"
        )
    client, api = sample_or_client("sync", args)
    try:
        result = sync(
            args.path,
            client=client,
            agent_id=args.agent_id,
            status=args.status,
            since=args.since,
            until=args.until,
            progress=not args.no_progress,
            merge=args.merge,
        )
    finally:
        client.close()
        if api is not None:
            api.stop()
    print(
        f"{args.path}: {result.listed:,} calls listed, {result.new:,} new, "
        f"{result.changed:,} changed, {result.unchanged:,} unchanged"
    )
    if args.compact:
        compact(args.path)
        print(f"{args.path}: compacted")
    return 0


FETCH = Command("fetch", add_fetch_parser, run_fetch)
EXPORT = Command("export", add_export_parser, run_export)
SYNC = Command("sync", add_sync_parser, run_sync)
