"""``oneinbox-nb demo`` and ``oneinbox-nb serve``: the commands of the embedded sample API.

Each sub-command is its parser (``add_*_parser``) beside its handler (``run_*``), named together by a
:class:`~oneinbox_nb.cli.parser.Command`; a new ``serve`` flag goes in :func:`add_serve_parser`
(or :func:`add_fault_options`, :func:`add_live_options` for ``--live``) and is read in
:func:`run_serve`.
"""

from __future__ import annotations

import argparse
import functools
from pathlib import Path
from typing import Any

from ..exceptions import ConfigurationError
from .parser import Command, subcommand

__all__ = ["DEMO", "SERVE", "add_fault_options", "add_live_options"]


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
            "oneinbox-nb serve --live --ramp 2m:20,10m:100 --speed 60",
        ],
    )
    p.add_argument(
        "--scenario",
        default=None,
        help="call, production or load_test (comma-separated for several; default production)",
    )
    add_live_options(p)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--n", type=int, default=None, help="number of calls (scenario default if omitted)"
    )
    p.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0 picks a free one)")
    add_fault_options(p)


def add_live_options(p: argparse.ArgumentParser) -> None:
    """``serve --live``: play one load-test run live, and the flags of its load tester."""
    live = p.add_argument_group(
        "a live load test (--live)",
        "Calls start, run, end and settle on a fast clock; watch it with `oneinbox-nb watch RUN_ID`.",
    )
    live.add_argument("--live", action="store_true", help="serve one load-test run as it happens")
    live.add_argument(
        "--ramp",
        default=None,
        metavar="DURATION:TARGET,...",
        help="calls in flight over the run, k6-style stages (60:10 or 10m:100; s/m/h); "
        "default: 1 -> 100 over --n calls",
    )
    live.add_argument(
        "--rate", type=float, default=None, help="calls started per run-second (never above --ramp)"
    )
    live.add_argument(
        "--speed", type=float, default=60.0, help="run-seconds per real second (default 60)"
    )
    live.add_argument("--knee", type=int, default=None, help="the planted knee (calls in flight)")
    live.add_argument(
        "--regression", default=None, help="plant a regression: slow_llm or tts_switch"
    )


#: ``serve``'s flags that only mean something with ``--live`` (their defaults).
_LIVE_ONLY = {"ramp": None, "rate": None, "speed": 60.0, "knee": None, "regression": None}


def _live_options(args) -> dict:
    """``serve --live``'s keywords for :func:`~oneinbox_nb.sample.live.run_live`, checked."""
    from ..sample import REGRESSIONS, Ramp

    if args.scenario is not None:
        raise ConfigurationError(
            "--scenario and --live do not go together: --live serves one load-test run "
            "(shape it with --ramp, --rate, --n)"
        )
    if args.regression is not None and args.regression not in REGRESSIONS:
        raise ConfigurationError(
            f"--regression {args.regression!r} is not a planted regression; choose from "
            f"{', '.join(REGRESSIONS)}"
        )
    if not args.speed > 0:
        raise ConfigurationError(
            f"--speed must be above 0 run-seconds per real second, got {args.speed:g}"
        )
    if args.n is not None and args.n < 1:
        raise ConfigurationError(f"--n must be at least 1 call, got {args.n}")
    if args.knee is not None and args.knee < 1:
        raise ConfigurationError(f"--knee must be at least 1 call in flight, got {args.knee}")
    try:
        ramp = None if args.ramp is None else Ramp.parse(args.ramp)
    except ConfigurationError as exc:
        raise ConfigurationError(f"--{exc}") from None  # "ramp: stage 1 ..." -> "--ramp: ..."
    if args.rate is not None and not (args.rate > 0 and args.rate < float("inf")):
        raise ConfigurationError(
            f"--rate must be a number of calls started per run-second above 0, got {args.rate:g}"
        )
    return {
        "n": args.n, "seed": args.seed, "knee": args.knee, "regression": args.regression,
        "ramp": ramp, "rate": args.rate, "speed": args.speed,
    }  # fmt: skip


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
    from ..sample import live, server

    if args.live:
        options = _live_options(args)
        start: Any = live.run_live
    else:
        given = [f"--{k}" for k, default in _LIVE_ONLY.items() if getattr(args, k) != default]
        if given:
            raise ConfigurationError(f"{given[0]} needs --live (a live load-test run)")
        options = {"seed": args.seed, "n": args.n}
        scenario = _scenarios(args.scenario or "production")
        start = functools.partial(server.run, scenario)
    try:
        start(
            **options,
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
