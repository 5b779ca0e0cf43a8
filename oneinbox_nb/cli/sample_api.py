"""``oneinbox-nb demo`` and ``oneinbox-nb serve``: the commands of the embedded sample API.

Each sub-command is its parser (``add_*_parser``) beside its handler (``run_*``), named together by a
:class:`~oneinbox_nb.cli.parser.Command`; a new ``serve`` flag goes in :func:`add_serve_parser`
(or :func:`add_fault_options`) and is read in :func:`run_serve`.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ..exceptions import ConfigurationError
from .parser import Command, subcommand

__all__ = ["DEMO", "SERVE", "add_fault_options"]


def add_demo_parser(sub) -> None:
    """The flags of ``oneinbox-nb demo``."""
    p = subcommand(
        sub,
        "demo",
        "the main job: sample API -> fetch -> frames -> HTML reports",
        "Start the embedded sample API (a load test and a production week), fetch its calls over "
        "HTTP, find the worst turn, and write three reports (postmortem, load test, costs).",
        ["oneinbox-nb demo", "oneinbox-nb demo --out /tmp/reports --seed 3"],
    )
    p.add_argument("--out", type=Path, default=Path("reports"), help="directory for the reports")
    p.add_argument("--seed", type=int, default=0)


def run_demo(args) -> int:
    """Run :func:`oneinbox_nb.demo.run`; exit status 0."""
    from ..demo import run

    run(out=args.out, seed=args.seed)
    return 0


def add_fault_options(p: argparse.ArgumentParser) -> None:
    """The sample server's fault flags (latency, 429s, 5xx, dropped connections, cut bodies)."""
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


def add_serve_parser(sub) -> None:
    """The flags of ``oneinbox-nb serve``."""
    p = subcommand(
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
    add_fault_options(p)


def _scenarios(text: str) -> str | tuple[str, ...]:
    """``--scenario``'s names, checked: one name, or a tuple of several."""
    from ..sample import SCENARIOS

    names = [name.strip() for name in text.split(",")]
    unknown = [name for name in names if name not in SCENARIOS]
    if unknown:
        raise ConfigurationError(
            f"--scenario {unknown[0]!r} is not a sample scenario; choose from "
            f"{', '.join(SCENARIOS)} (comma-separated for several)"
        )
    return tuple(names) if len(names) > 1 else names[0]


def run_serve(args) -> int:
    """Serve the sample API until Ctrl-C; option values it refuses are named as flags."""
    from ..sample import server

    scenario = _scenarios(args.scenario)
    try:
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


DEMO = Command("demo", add_demo_parser, run_demo)
SERVE = Command("serve", add_serve_parser, run_serve)
