"""``oneinbox-nb``: a thin command line over the library.

Commands: ``demo`` (the main job), ``serve`` (the embedded sample API), ``fetch`` (calls into the
cache), ``export`` (the store as Parquet), ``report`` (a notebook as shareable HTML) and
``dashboard`` (the explorers live in Voila).

Where calls come from follows one rule (:func:`oneinbox_nb.source.choose_source`): with
``ONEINBOX_API_KEY`` set, the OneInbox API (``ONEINBOX_BASE_URL`` or ``--base-url``); the embedded
sample API only without a key, or with ``--sample``. Before a command reads the API it sends one
request without retries, so a wrong URL, an unreachable host or a rejected key is one clear line.

Every error is one line on stderr, ``oneinbox-nb COMMAND: what went wrong; what to do``, in the
terms of this command line (flags, environment variables), and exit status 1; bad usage exits 2.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from .config import API_KEY_ENV, BASE_URL_ENV, parse_value, scrub
from .exceptions import (
    APIStatusError,
    AuthenticationError,
    ConfigurationError,
    MissingAPIKeyError,
    OneInboxError,
    PermissionDeniedError,
    TransportError,
)

__all__ = ["main"]

_VALUES = (
    'VALUE is read as JSON when it parses as JSON (7, 0.5, true, null, \'["a", "b"]\', '
    "'\"007\"' for the text 007), else as text (lt-42, 2026-11-20)."
)
_ENVIRONMENT = (
    f"environment: {API_KEY_ENV} (your secret key, oi_sk_...) selects the OneInbox API; "
    f"{BASE_URL_ENV} (default https://api.oneinbox.ai) its root. Without a key, or with --sample, "
    "the embedded sample API is used."
)


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose epilog may be computed only when help is shown."""

    epilog_factory: Callable[[], str] | None = None

    def format_help(self) -> str:
        if self.epilog_factory is not None:
            self.epilog = self.epilog_factory()
        return super().format_help()


def _key_value(text: str) -> tuple[str, str]:
    if "=" not in text:
        raise argparse.ArgumentTypeError(f"{text!r} is not KEY=VALUE")
    key, value = text.split("=", 1)
    return key.strip(), value


def _add_fault_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--latency-ms", type=float, default=0, help="latency added to every request")
    p.add_argument(
        "--max-concurrency",
        type=int,
        default=None,
        help="answer 429 beyond this many requests in flight",
    )
    p.add_argument("--retry-after", type=float, default=1, help="Retry-After seconds sent with 429")
    p.add_argument("--error-rate", type=float, default=0.0, help="fraction answered 500/502/503")
    p.add_argument("--drop-rate", type=float, default=0.0, help="fraction of connections dropped")
    p.add_argument("--truncate-rate", type=float, default=0.0, help="fraction of bodies cut short")
    p.add_argument("--fault-seed", type=int, default=0, help="seed of the fault draws")


def _notebook_listing() -> str:
    """``report --help``'s epilog: every packaged notebook with its parameters and defaults."""
    lines = ["notebooks and their parameters (-p NAME=VALUE; defaults shown):"]
    try:
        import nbformat

        from .report import _default_parameters, available_notebooks, resolve_notebook

        for name in available_notebooks():
            nb = nbformat.read(resolve_notebook(name), as_version=4)
            params = ", ".join(
                f"{k}={v!r}" for k, v in _default_parameters(nb).items() if k != "redact"
            )
            lines.append(f"  {name}: {params or '(no parameters)'}")
    except Exception as exc:  # help must always print; say why the list is missing
        lines.append(f"  (cannot list them: {type(exc).__name__}: {exc})")
    lines += [
        "",
        _VALUES,
        "",
        "examples:",
        "  oneinbox-nb report 04_postmortem -p call_ids='[\"3f2b8c1e-9d4a-4e57-b1c2-7a8d9e0f1a2b\"]'",
        "  oneinbox-nb report 03_load_test_correlation -p run_id=lt-42 --out load.html",
        "  oneinbox-nb report 02_costs_and_credits -p since=2026-11-13 -p until=2026-11-20",
        "  oneinbox-nb report 04_postmortem --sample      # the embedded sample API, no key needed",
        "",
        _ENVIRONMENT,
    ]
    return "\n".join(lines)


def _subcommand(sub, name: str, summary: str, description: str, examples: Sequence[str]):
    epilog = "examples:\n" + "\n".join(f"  {line}" for line in examples) + "\n\n" + _ENVIRONMENT
    return sub.add_parser(
        name,
        help=summary,
        description=description,
        epilog=epilog,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )


def build_parser() -> argparse.ArgumentParser:
    from . import __version__

    parser = _Parser(
        prog="oneinbox-nb",
        description="OneInbox voice-agent calls in Jupyter: fetch, explore, report.",
        epilog=_ENVIRONMENT,
    )
    parser.add_argument("--version", action="version", version=f"oneinbox-nb {__version__}")
    parser.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="debug logging on stderr (requests and retries; the API key is never shown)",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = _subcommand(
        sub,
        "demo",
        "the main job: sample API -> fetch -> frames -> HTML reports",
        "Start the embedded sample API (a load test and a production week), fetch its calls over "
        "HTTP, find the worst turn, and write three reports (postmortem, load test, costs).",
        ["oneinbox-nb demo", "oneinbox-nb demo --out /tmp/reports --seed 3"],
    )
    p.add_argument("--out", type=Path, default=Path("reports"), help="directory for the reports")
    p.add_argument("--seed", type=int, default=0)

    p = _subcommand(
        sub,
        "serve",
        "run the embedded sample API in the foreground",
        "Serve generated OneInbox calls on 127.0.0.1 until Ctrl-C, with optional faults (latency, "
        "429s, 5xx, dropped connections, truncated bodies). It prints the two export lines that "
        "point every other command at it.",
        [
            "oneinbox-nb serve --scenario load_test --port 8765",
            "oneinbox-nb serve --scenario production,load_test --error-rate 0.1",
        ],
    )
    p.add_argument(
        "--scenario",
        default="production",
        help="call, production or load_test (comma-separated for several)",
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--n", type=int, default=None, help="number of calls (scenario default if omitted)"
    )
    p.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0 picks a free one)")
    _add_fault_options(p)

    p = _subcommand(
        sub,
        "fetch",
        "fetch calls into the local store",
        "Fetch calls from the OneInbox API into the local store: by id (--ids) or every call "
        "matching the filters. Calls in a terminal status are never fetched again. " + _VALUES,
        [
            "oneinbox-nb fetch --ids ids.txt         # one id per line; # starts a comment",
            "oneinbox-nb fetch --ids - < ids.txt     # ids from standard input",
            "oneinbox-nb fetch --since 2026-11-13 --where run_id=lt-42",
            "oneinbox-nb fetch --sample              # the embedded sample API, no key needed",
        ],
    )
    p.add_argument(
        "--ids",
        metavar="FILE",
        help="file with one call id per line ('-' for stdin; UTF-8 or UTF-16, # comments)",
    )
    p.add_argument("--agent-id")
    p.add_argument("--status")
    p.add_argument("--since", help="created at or after (RFC 3339 date/time; no offset is UTC)")
    p.add_argument("--until", help="created before (RFC 3339 date/time; no offset is UTC)")
    p.add_argument(
        "--where",
        type=_key_value,
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="keep calls whose metadata key (or dotted path) equals VALUE (JSON if it parses, "
        "else text); repeatable",
    )
    p.add_argument("--concurrency", type=int, default=32)
    p.add_argument("--timeout", type=float, default=None, help="seconds per request (default 30)")
    p.add_argument(
        "--cache-dir", type=Path, default=None, help="store root (default: user cache dir)"
    )
    p.add_argument(
        "--refresh", action="store_true", help="fetch every call again, even settled stored ones"
    )
    p.add_argument(
        "--base-url", default=None, help=f"API root (default: {BASE_URL_ENV} or production)"
    )
    p.add_argument(
        "--failures", type=Path, default=None, help="write failed ids and errors to this CSV"
    )
    p.add_argument(
        "--sample",
        action="store_true",
        help="fetch from the embedded sample API (stored only with --cache-dir)",
    )
    p.add_argument("--no-progress", action="store_true")

    p = _subcommand(
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

    # --- sync (issue 13) ---
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
    # --- end sync ---

    p = sub.add_parser(
        "report",
        help="run a notebook and write a self-contained HTML report",
        description="Run a notebook with parameters and write one self-contained HTML file "
        "(figures inline, code hidden, personal data masked unless --no-redact). Parameters "
        "are checked against the notebook's parameters cell before anything runs.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.epilog_factory = _notebook_listing
    p.add_argument("notebook", nargs="?", default="04_postmortem")
    p.add_argument("--out", type=Path, default=None)
    p.add_argument(
        "-p",
        "--param",
        type=_key_value,
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="notebook parameter (JSON if it parses, else text); repeatable",
    )
    p.add_argument("--sample", action="store_true", help="use the embedded sample API")
    p.add_argument(
        "--no-redact", action="store_true", help="do not mask phone numbers, e-mails, cards"
    )
    p.add_argument("--show-code", action="store_true", help="include the code cells")

    p = _subcommand(
        sub,
        "dashboard",
        "serve the explorer notebooks live with Voila",
        "Serve the notebooks with Voila on 127.0.0.1, explorers live, behind a token printed once. "
        "A page's URL query sets its parameters: ?call_id=, ?call_ids=<id>,<id>, ?run_id=, "
        "?since=, ?until=, ?agent_id=.",
        [
            "oneinbox-nb dashboard",
            "oneinbox-nb dashboard --notebook 04_postmortem --port 8866",
            "oneinbox-nb dashboard --sample      # the embedded sample API, no key needed",
        ],
    )
    p.add_argument("--port", type=int, default=0)
    p.add_argument(
        "--notebook", default=None, help="open this notebook (default: the notebook list)"
    )
    p.add_argument("--sample", action="store_true", help="use the embedded sample API")
    _add_check_parser(sub)
    _add_watch_parser(sub)
    return parser


# --------------------------------------------------------------------------------------------
# reading ids


def _decode_text(data: bytes, what: str) -> str:
    """Bytes of a text file: UTF-8 (with or without BOM) or UTF-16/32 (BOM, or UTF-16 without)."""
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


def _read_ids(source: str) -> list[str]:
    """Call ids from a file (or stdin for ``-``): one per line, ``#`` starts a comment anywhere."""
    what = "standard input (--ids -)" if source == "-" else f"--ids {source}"
    if source == "-":
        data = sys.stdin.buffer.read() if hasattr(sys.stdin, "buffer") else sys.stdin.read()
        data = data.encode() if isinstance(data, str) else data
    else:
        path = Path(source).expanduser()
        if path.is_dir():
            raise ConfigurationError(
                f"{what} is a directory; pass a text file with one call id per line"
            )
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise ConfigurationError(
                f"{what}: no such file; pass a text file with one call id per line, or --ids - "
                "to read them from standard input"
            ) from None
        except OSError as exc:
            raise ConfigurationError(f"{what} cannot be read ({exc.strerror})") from None
    ids = []
    for line in _decode_text(data, what).splitlines():
        text = line.split("#", 1)[0].strip().strip("\ufeff").strip()
        if text:
            ids.append(text)
    if not ids:
        raise ConfigurationError(
            f"{what} holds no call ids (blank lines and # comments only); put one id per line"
        )
    return ids


# --------------------------------------------------------------------------------------------
# errors in command-line terms


def _base_url_flags(command: str) -> str:
    return f"--base-url or {BASE_URL_ENV}" if command in ("fetch", "export") else BASE_URL_ENV


def _message(error: OneInboxError, command: str, base_url: str | None) -> str:
    """One line saying what went wrong and what to do, in command-line terms."""
    flags = _base_url_flags(command)
    where = base_url or "the API"
    sample_hint = (
        "add --sample to use the embedded sample API"
        if command in ("report", "dashboard")
        else "run `oneinbox-nb serve` and export the two lines it prints to try the sample API"
    )
    if isinstance(error, MissingAPIKeyError):
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
    # the client classifies transport failures (TransportError.reason); here they get CLI advice
    reason = getattr(error, "reason", "other") if isinstance(error, TransportError) else None
    if reason == "timeout":
        hint = "raise --timeout SECONDS or try again later" if command == "fetch" else "try again"
        return f"{where} did not answer before the timeout; {hint}"
    if reason is not None:
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


def _one_line(text: str) -> str:
    return " ".join(text.split())


# --------------------------------------------------------------------------------------------
# commands


def _preflight(base_url: str | None, timeout: float | None = None) -> None:
    """One request, without retries, that turns a wrong URL or key into one clear error."""
    from .client import OneInboxClient, RetryPolicy

    options: dict[str, Any] = {"retry": RetryPolicy(max_attempts=1)}
    if timeout is not None:
        options["timeout"] = timeout
    with OneInboxClient(base_url=base_url, **options) as client:
        next(iter(client.iter_calls(page_size=1)), None)


def _cmd_serve(args) -> int:
    from .sample import SCENARIOS, server

    names = [name.strip() for name in args.scenario.split(",")]
    unknown = [name for name in names if name not in SCENARIOS]
    if unknown:
        raise ConfigurationError(
            f"--scenario {unknown[0]!r} is not a sample scenario; choose from "
            f"{', '.join(SCENARIOS)} (comma-separated for several)"
        )
    try:
        server.run(
            tuple(names) if len(names) > 1 else names[0],
            seed=args.seed,
            n=args.n,
            port=args.port,
            latency_ms=args.latency_ms,
            max_concurrency=args.max_concurrency,
            retry_after=args.retry_after,
            error_rate=args.error_rate,
            drop_rate=args.drop_rate,
            truncate_rate=args.truncate_rate,
            fault_seed=args.fault_seed,
        )
    except ValueError as exc:  # option values the server refuses, named as flags
        text = str(exc)
        for name in ("latency_ms", "max_concurrency", "retry_after", "error_rate", "drop_rate"):
            text = text.replace(name, "--" + name.replace("_", "-"))
        text = text.replace("truncate_rate", "--truncate-rate")
        raise ConfigurationError(text) from None
    except OSError as exc:
        raise ConfigurationError(
            f"cannot listen on 127.0.0.1 port {args.port} ({exc.strerror}); pass another --port "
            "(0 picks a free one)"
        ) from None
    return 0


def _usage_error(command: str, error: ConfigurationError) -> int:
    """A bad flag value: one line on stderr and exit status 2, as argparse does for a bad flag."""
    print(_one_line(f"oneinbox-nb {command}: {error}"), file=sys.stderr)
    return 2


def _window_flags(command: str, args) -> int | None:
    """Check --since/--until (the one UTC parser, since before until); 2 when they are wrong."""
    from .matching import utc_window

    try:
        utc_window(args.since, args.until, names=("--since", "--until"))
    except ConfigurationError as error:
        return _usage_error(command, error)
    return None


def _sample_or_client(command: str, args, **options: Any):
    """``(client, sample API or None)`` for --sample or the API of --base-url / the environment."""
    from .client import OneInboxClient

    if not args.sample:
        return OneInboxClient(base_url=args.base_url, **options), None
    if args.base_url is not None:
        raise ConfigurationError(
            f"--sample asks for the embedded sample API; drop --base-url (or drop --sample to "
            f"`oneinbox-nb {command}` from that API)"
        )
    from . import sample

    api = sample.serve(("load_test", "production"))
    try:
        return OneInboxClient(api.api_key, api.base_url, **options), api
    except BaseException:
        api.stop()
        raise


def _preflight_ids(client, ids: list[str]) -> None:
    """``GET /v1/calls/{id}`` of the first valid id, one try: a wrong URL or key is one clear
    error, and only the endpoint the fetch itself uses is asked (a 404 for that call is fine)."""
    from .client import RetryPolicy, validate_call_id
    from .exceptions import CallNotFoundError, InvalidCallIdError

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


def _cmd_fetch(args) -> int:
    from .fetch import fetch_calls

    if args.ids is not None and not args.ids.strip():
        raise ConfigurationError(
            "--ids needs a file of call ids (one per line) or '-' for stdin; to list calls by "
            "filter instead, leave --ids out"
        )
    if (status := _window_flags("fetch", args)) is not None:
        return status
    ids = _read_ids(args.ids) if args.ids is not None else None
    options: dict[str, Any] = {} if args.timeout is None else {"timeout": args.timeout}
    client, api = _sample_or_client("fetch", args, **options)
    try:
        if ids is not None:
            _preflight_ids(client, ids)
        elif api is None:  # the sample API needs no check
            _preflight(client.base_url, args.timeout)
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
        _one_line(
            f"oneinbox-nb fetch: {len(result.failures)} of {total} calls could not be fetched "
            f"(first: {first['call_id']}: {first['error']}); {written}"
        ),
        file=sys.stderr,
    )
    return 1


def _cmd_export(args) -> int:
    from .cache import CallCache, source_name
    from .config import resolve_base_url
    from .frames import to_frames

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


def _cmd_sync(args) -> int:
    from .dataset import compact, sync

    if (status := _window_flags("sync", args)) is not None:
        return status
    if args.path.exists() and not args.path.is_dir():
        raise ConfigurationError(
            f"{args.path} is a file; pass a directory for the dataset (it is created if needed)"
        )
    client, api = _sample_or_client("sync", args)
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


def _cmd_report(args) -> int:
    import inspect

    from .report import build
    from .source import choose_source

    params = {k: parse_value(v) for k, v in args.param}
    own = set(inspect.signature(build).parameters) - {"parameters"}
    if clash := sorted(own & params.keys()):
        raise ConfigurationError(
            f"-p {clash[0]}=... names an option of the report itself, not a notebook parameter; "
            "use the notebook argument, --out, --no-redact or --show-code instead"
        )
    args.base_url = params.get("base_url")  # for the error messages
    if args.sample:
        if params.get("source", "sample") != "sample" or "base_url" in params:
            raise ConfigurationError(
                "--sample asks for the embedded sample API; drop -p source=... and -p base_url=..."
            )
        params["source"] = "sample"
    if choose_source(params.get("base_url"), params.get("source", "auto")) == "api":
        _preflight(params.get("base_url"))
    path = build(
        args.notebook, args.out, redact=not args.no_redact, hide_code=not args.show_code, **params
    )
    print(path)
    return 0


def _cmd_dashboard(args) -> int:
    from .dashboard import serve
    from .source import choose_source

    if not args.sample and choose_source() == "api":
        _preflight(None)
    serve(port=args.port, open_notebook=args.notebook, sample=args.sample)
    return 0


def _cmd_demo(args) -> int:
    from .demo import run

    run(out=args.out, seed=args.seed)
    return 0


def _add_check_parser(sub) -> None:
    p = _subcommand(
        sub,
        "check",
        "a release gate: thresholds on a run, a candidate run against a baseline",
        "Judge a load-test run against thresholds (k6 style, each with its interval) and/or a "
        "candidate run against a baseline run (compare's intervals, family-wise 5%). Exit "
        "status: 0 pass; 1 a threshold breached or a metric clearly increased; 2 a usage or API "
        "error, an unknown run, or not enough calls to tell (never a pass). A run still in "
        "progress is judged on its calls so far, and the output says so.",
        [
            "oneinbox-nb check --run lt-42 -t 'response_ms: p(95)<1500' -t 'failure_rate: rate<2%'",
            "oneinbox-nb check --run lt-42 --thresholds slo.toml --junit junit.xml",
            "oneinbox-nb check --baseline-run lt-41 --candidate-run lt-42 --fail-on increase "
            "--summary summary.md --report compare.html",
        ],
    )
    from .options import add_check_arguments as add_arguments

    add_arguments(p)


def _cmd_check(args) -> int:
    """Exit 0/1 from the gate; an error (usage, API, unknown run) exits 2 (see main)."""
    from .gate import check
    from .source import open_source
    from .thresholds import from_arguments

    thresholds = from_arguments(args)
    source = "sample" if args.sample else "auto"
    with open_source(args.base_url, source=source, scenario="load_test") as data:
        if not data.is_sample:
            _preflight(args.base_url)
        result = check(
            thresholds, run_id=args.run_id, baseline_run=args.baseline_run,
            candidate_run=args.candidate_run, fail_on=args.fail_on, metrics=args.metric,
            client=data.client, key=args.key, n_boot=args.n_boot, seed=args.seed,
        )  # fmt: skip
    print(result)
    if args.junit is not None:
        args.junit.write_text(result.junit_xml(), encoding="utf-8")
    if args.summary is not None:
        args.summary.write_text(result.markdown(), encoding="utf-8")
    if args.report is not None and result.baseline_run is not None:
        from .report import build

        where = {"source": "sample"} if args.sample else {"base_url": args.base_url}
        build(
            "05_compare", args.report, a_run_id=result.baseline_run, b_run_id=result.run_id, **where
        )
    return result.exit_code


def _add_watch_parser(sub) -> None:
    p = _subcommand(
        sub,
        "watch",
        "follow a load test live: per-component p50/p95, the knee, thresholds",
        "Follow a run on the API as it happens, in a live table: one line per component (p50 and "
        "p95 of the last --window ended calls, with their dispatch concurrency), the knee with "
        "its interval, and each threshold with a check mark or a cross. Ends with the final "
        "summary when the run is over (no new or changed call for --quiet-period seconds) or on "
        "Ctrl-C; the calls seen stay in the local store, and watching again resumes. Exit status: "
        "0, 1 when a threshold is breached at the end, 2 on an error, 130 after Ctrl-C.",
        [
            "oneinbox-nb watch lt-42",
            "oneinbox-nb watch lt-42 -t 'response_ms: p(95)<1500' --abort-on-fail",
            "oneinbox-nb watch lt-42 --thresholds slo.toml --interval 2",
        ],
    )
    from .options import add_watch_arguments as add_arguments

    add_arguments(p)


def _cmd_watch(args) -> int:
    """The live table (rich) until the run ends or Ctrl-C/SIGTERM, then the final summary."""
    import signal

    from .client import OneInboxClient
    from .live import LiveRun, live_table
    from .thresholds import from_arguments

    def stop(signum, frame):  # SIGTERM ends the watch as Ctrl-C does
        raise KeyboardInterrupt

    thresholds = from_arguments(args)
    _preflight(args.base_url)
    options = ("interval", "quiet_period", "start_timeout", "abort_on_fail", "key", "window")
    run = LiveRun(
        args.run_id, client=OneInboxClient(base_url=args.base_url), thresholds=thresholds,
        cache=args.cache_dir if args.cache_dir is not None else True,
        **{name: getattr(args, name) for name in options},
    )  # fmt: skip
    previous = signal.signal(signal.SIGTERM, stop)
    try:
        return live_table(run)
    finally:
        signal.signal(signal.SIGTERM, previous)


# commands whose exit status 1 means "failed the gate": their errors exit 2
_ERROR_STATUS = {"check": 2, "watch": 2}


COMMANDS = {
    "demo": _cmd_demo,
    "serve": _cmd_serve,
    "fetch": _cmd_fetch,
    "export": _cmd_export,
    "sync": _cmd_sync,
    "report": _cmd_report,
    "dashboard": _cmd_dashboard,
    "check": _cmd_check,
    "watch": _cmd_watch,
}


class _ScrubKey(logging.Filter):
    """Remove the API key (and anything key-shaped) from every log record."""

    def filter(self, record: logging.LogRecord) -> bool:
        secret = os.environ.get(API_KEY_ENV, "").strip()
        text = record.getMessage()
        record.msg, record.args = (scrub(text, secret) if secret else scrub(text)), ()
        return True


def _configure_logging(verbose: bool) -> None:
    if not verbose:
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(_ScrubKey())
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    for noisy in ("asyncio", "matplotlib", "PIL"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def _base_url_of(args) -> str | None:
    from .config import resolve_base_url

    try:
        return resolve_base_url(getattr(args, "base_url", None))
    except ConfigurationError:
        return getattr(args, "base_url", None)


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv == ["--version"]:  # answered before the parser (every sub-command) is built
        from . import __version__

        print(f"oneinbox-nb {__version__}")
        return 0
    args = build_parser().parse_args(argv)
    _configure_logging(args.verbose)
    try:
        return COMMANDS[args.command](args)
    except OneInboxError as error:
        text = _message(error, args.command, _base_url_of(args))
        secret = os.environ.get(API_KEY_ENV, "").strip()
        text = scrub(text, secret) if secret else scrub(text)
        print(_one_line(f"oneinbox-nb {args.command}: {text}"), file=sys.stderr)
        return _ERROR_STATUS.get(args.command, 1)
    except KeyboardInterrupt:
        print(f"oneinbox-nb {args.command}: interrupted", file=sys.stderr)
        return 130
