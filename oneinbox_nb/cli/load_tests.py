"""``oneinbox-nb check`` and ``oneinbox-nb watch``: the release gate on a run, and a load test
followed live.

Each sub-command is its parser (``add_*_parser``) beside its handler (``run_*``), named together by a
:class:`~oneinbox_nb.cli.parser.Command`; their flags are in :mod:`oneinbox_nb.options` (shared with
the library, and light). Their status 1 means "failed the gate", so their errors exit 2.
"""

from __future__ import annotations

from .connect import preflight
from .parser import Command, subcommand

__all__ = ["CHECK", "WATCH"]


def add_check_parser(sub) -> None:
    """The flags of ``oneinbox-nb check`` (:func:`oneinbox_nb.options.add_check_arguments`)."""
    from ..options import add_check_arguments

    p = subcommand(
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
    add_check_arguments(p)


def run_check(args) -> int:
    """Exit 0/1 from the gate; an error (usage, API, unknown run) exits 2 (see main)."""
    from ..gate import check
    from ..source import open_source
    from ..thresholds import from_arguments

    thresholds = from_arguments(args)
    source = "sample" if args.sample else "auto"
    with open_source(args.base_url, source=source, scenario="load_test") as data:
        if not data.is_sample:
            preflight(args.base_url)
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
        from ..report import build

        where = {"source": "sample"} if args.sample else {"base_url": args.base_url}
        build(
            "05_compare", args.report, a_run_id=result.baseline_run, b_run_id=result.run_id, **where
        )
    return result.exit_code


def add_watch_parser(sub) -> None:
    """The flags of ``oneinbox-nb watch`` (:func:`oneinbox_nb.options.add_watch_arguments`)."""
    from ..options import add_watch_arguments

    p = subcommand(
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
    add_watch_arguments(p)


def run_watch(args) -> int:
    """The live table (rich) until the run ends or Ctrl-C/SIGTERM, then the final summary."""
    import signal

    from ..client import OneInboxClient
    from ..live import LiveRun, live_table
    from ..thresholds import from_arguments

    def stop(signum, frame):  # SIGTERM ends the watch as Ctrl-C does
        raise KeyboardInterrupt

    thresholds = from_arguments(args)
    preflight(args.base_url)
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


CHECK = Command("check", add_check_parser, run_check, error_status=2)
WATCH = Command("watch", add_watch_parser, run_watch, error_status=2)
