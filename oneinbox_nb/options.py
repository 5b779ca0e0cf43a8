"""The command-line options of ``oneinbox-nb check`` and ``oneinbox-nb watch``.

Kept apart from :mod:`oneinbox_nb.gate`, :mod:`oneinbox_nb.thresholds` and
:mod:`oneinbox_nb.live`, which load pandas and the analysis: building the CLI's parser (``--help``)
imports only this module and argparse.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

#: What ``check --fail-on`` fails on: a clear increase, a clear decrease, or either.
FAIL_ON: tuple[str, ...] = ("increase", "decrease", "change")


def add_threshold_arguments(parser: Any) -> None:
    """Add ``-t/--threshold``, ``--thresholds FILE``, ``--key`` and ``--base-url`` to a parser."""
    parser.add_argument(
        "-t", "--threshold", action="append", default=[], metavar="EXPR",
        help="'<metric>: <statistic><op><limit>', e.g. 'response_ms: p(95)<1500'; repeatable",
    )  # fmt: skip
    parser.add_argument("--thresholds", type=Path, default=None, metavar="FILE", help="TOML file")
    parser.add_argument("--key", default="run_id", help="the metadata key naming runs")
    parser.add_argument("--base-url", default=None, help="API root (default: ONEINBOX_BASE_URL)")


def add_check_arguments(parser: Any) -> None:
    """The options of ``oneinbox-nb check`` (see ``oneinbox_nb/cli/load_tests.py``)."""
    add = parser.add_argument
    add("--run", dest="run_id", default=None, help="the run the thresholds judge")
    add("--baseline-run", default=None)
    add("--candidate-run", default=None)
    add("--fail-on", default="increase", choices=list(FAIL_ON))
    add("--metric", action="append", default=None, help="a compared metric; repeatable")
    add("--junit", type=Path, default=None, metavar="FILE", help="write JUnit XML")
    add("--summary", type=Path, default=None, metavar="FILE", help="write Markdown")
    add("--report", type=Path, default=None, metavar="FILE", help="write the 05_compare HTML")
    add("--n-boot", type=int, default=1000)
    add("--seed", type=int, default=0)
    add("--sample", action="store_true", help="use the embedded sample API")
    add_threshold_arguments(parser)


def add_watch_arguments(parser: Any) -> None:
    """The options of ``oneinbox-nb watch`` (see ``oneinbox_nb/cli/load_tests.py``)."""
    add = parser.add_argument
    add("run_id", help="the run to follow (metadata run_id)")
    add("--interval", type=float, default=5.0, help="seconds between refreshes")
    add("--abort-on-fail", action="store_true", help="stop at the first clear breach")
    add("--quiet-period", type=float, default=120.0, help="seconds (default 120)")
    add("--start-timeout", type=float, default=300.0, help="seconds (default 300)")
    add("--window", type=int, default=200, help="ended calls behind p50/p95")
    add("--cache-dir", type=Path, default=None, help="store root (default: user cache)")
    add_threshold_arguments(parser)
