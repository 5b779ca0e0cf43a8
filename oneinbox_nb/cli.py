"""``oneinbox-nb``: a thin command line over the library.

Commands: ``demo`` (the main job), ``serve`` (the embedded sample API), ``fetch`` (calls into the
local store), ``export`` (the store as Parquet), ``report`` (a notebook as shareable HTML) and
``dashboard`` (the explorers live in Voila). Any :class:`~oneinbox_nb.OneInboxError` becomes one
line on stderr and exit status 1; bad usage exits 2.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from .exceptions import OneInboxError

__all__ = ["main"]


def _key_value(text: str) -> tuple[str, str]:
    if "=" not in text:
        raise argparse.ArgumentTypeError(f"{text!r} is not KEY=VALUE")
    key, value = text.split("=", 1)
    return key.strip(), value


def _parse_value(value: str):
    """Parameter values from the command line: JSON when it parses (numbers, lists), else text."""
    import orjson

    try:
        return orjson.loads(value)
    except orjson.JSONDecodeError:
        return value


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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="oneinbox-nb",
        description="OneInbox voice-agent calls in Jupyter: fetch, explore, report.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("demo", help="the main job: sample API -> fetch -> frames -> HTML reports")
    p.add_argument("--out", type=Path, default=Path("reports"), help="directory for the reports")
    p.add_argument("--seed", type=int, default=0)

    p = sub.add_parser("serve", help="run the embedded sample API in the foreground")
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

    p = sub.add_parser("fetch", help="fetch calls into the local store")
    p.add_argument("--ids", metavar="FILE", help="file with one call id per line ('-' for stdin)")
    p.add_argument("--agent-id")
    p.add_argument("--status")
    p.add_argument("--since", help="created at or after (ISO date/time)")
    p.add_argument("--until", help="created before (ISO date/time)")
    p.add_argument(
        "--where",
        type=_key_value,
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="keep calls whose metadata key (or dotted path) equals VALUE; repeatable",
    )
    p.add_argument("--concurrency", type=int, default=32)
    p.add_argument(
        "--cache-dir", type=Path, default=None, help="store root (default: user cache dir)"
    )
    p.add_argument(
        "--refresh", action="store_true", help="fetch every call again, even settled stored ones"
    )
    p.add_argument(
        "--base-url", default=None, help="API root (default: ONEINBOX_BASE_URL or production)"
    )
    p.add_argument(
        "--failures", type=Path, default=None, help="write failed ids and errors to this CSV"
    )
    p.add_argument("--no-progress", action="store_true")

    p = sub.add_parser("export", help="export stored calls as Parquet tables")
    p.add_argument("--parquet", type=Path, required=True, metavar="DIR")
    p.add_argument("--cache-dir", type=Path, default=None)
    p.add_argument("--base-url", default=None, help="which API's store to export")

    p = sub.add_parser("report", help="run a notebook and write a self-contained HTML report")
    p.add_argument("notebook", nargs="?", default="04_postmortem")
    p.add_argument("--out", type=Path, default=None)
    p.add_argument(
        "-p",
        "--param",
        type=_key_value,
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="notebook parameter (JSON values parsed); repeatable",
    )
    p.add_argument(
        "--no-redact", action="store_true", help="do not mask phone numbers, e-mails, cards"
    )
    p.add_argument("--show-code", action="store_true", help="include the code cells")

    p = sub.add_parser("dashboard", help="serve the explorer notebooks live with Voila")
    p.add_argument("--port", type=int, default=0)
    p.add_argument(
        "--notebook", default=None, help="open this notebook (default: the notebook list)"
    )
    return parser


def _read_ids(source: str) -> list[str]:
    text = sys.stdin.read() if source == "-" else Path(source).read_text()
    return [line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")]


def _cmd_serve(args) -> int:
    from .sample import server

    scenario = tuple(args.scenario.split(",")) if "," in args.scenario else args.scenario
    server.run(
        scenario,
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
    return 0


def _cmd_fetch(args) -> int:
    from .client import OneInboxClient
    from .exceptions import ConfigurationError
    from .fetch import fetch_calls

    if args.ids is not None and not args.ids.strip():
        raise ConfigurationError(
            "--ids needs a file of call ids (one per line) or '-' for stdin; to list calls by "
            "filter instead, leave --ids out"
        )
    client = OneInboxClient(base_url=args.base_url)
    ids = _read_ids(args.ids) if args.ids is not None else None
    where = {k: _parse_value(v) for k, v in args.where} or None
    result = fetch_calls(
        ids,
        client=client,
        agent_id=args.agent_id,
        status=args.status,
        since=args.since,
        until=args.until,
        where=where,
        concurrency=args.concurrency,
        cache=args.cache_dir or True,
        refresh=args.refresh,
        progress=not args.no_progress,
    )
    print(result)
    if not result.failures.empty:
        if args.failures:
            result.failures.to_csv(args.failures, index=False)
        for row in result.failures.head(10).itertuples():
            print(f"failed {row.call_id}: {row.error}", file=sys.stderr)
        return 1
    return 0


def _cmd_export(args) -> int:
    from .cache import CallCache, source_name
    from .config import resolve_base_url
    from .frames import to_frames

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


def _cmd_report(args) -> int:
    import inspect

    from .exceptions import ConfigurationError
    from .report import build

    params = {k: _parse_value(v) for k, v in args.param}
    own = set(inspect.signature(build).parameters) - {"parameters"}
    if clash := sorted(own & params.keys()):
        raise ConfigurationError(
            f"-p {clash[0]}=... names an option of the report itself, not a notebook parameter; "
            "use the notebook argument, --out, --no-redact or --show-code instead"
        )
    path = build(
        args.notebook, args.out, redact=not args.no_redact, hide_code=not args.show_code, **params
    )
    print(path)
    return 0


def _cmd_dashboard(args) -> int:
    from .dashboard import serve

    serve(port=args.port, open_notebook=args.notebook)
    return 0


def _cmd_demo(args) -> int:
    from .demo import run

    run(out=args.out, seed=args.seed)
    return 0


COMMANDS = {
    "demo": _cmd_demo,
    "serve": _cmd_serve,
    "fetch": _cmd_fetch,
    "export": _cmd_export,
    "report": _cmd_report,
    "dashboard": _cmd_dashboard,
}


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except OneInboxError as error:
        print(f"oneinbox-nb {args.command}: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"oneinbox-nb {args.command}: interrupted", file=sys.stderr)
        return 130
