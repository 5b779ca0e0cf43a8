"""``oneinbox-nb report`` and ``oneinbox-nb dashboard``: the packaged notebooks as a shareable HTML
report, and the explorers live in Voila.

Each sub-command is its parser (``add_*_parser``) beside its handler (``run_*``), named together by a
:class:`~oneinbox_nb.cli.parser.Command`. nbformat, papermill and Voila are imported only when help
is shown (the notebook list) or the handler runs.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ..config import parse_value
from ..exceptions import ConfigurationError
from .connect import preflight
from .parser import ENVIRONMENT, VALUES, Command, key_value, subcommand

__all__ = ["DASHBOARD", "REPORT"]


def _notebook_listing() -> str:
    """``report --help``'s epilog: every packaged notebook with its parameters and defaults."""
    lines = ["notebooks and their parameters (-p NAME=VALUE; defaults shown):"]
    try:
        import nbformat

        from ..report import _default_parameters, available_notebooks, resolve_notebook

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
        VALUES,
        "",
        "examples:",
        "  oneinbox-nb report 04_postmortem -p call_ids='[\"3f2b8c1e-9d4a-4e57-b1c2-7a8d9e0f1a2b\"]'",
        "  oneinbox-nb report 03_load_test_correlation -p run_id=lt-42 --out load.html",
        "  oneinbox-nb report 02_costs_and_credits -p since=2026-11-13 -p until=2026-11-20",
        "  oneinbox-nb report 04_postmortem --sample      # the embedded sample API, no key needed",
        "",
        ENVIRONMENT,
    ]
    return "\n".join(lines)


def add_report_parser(sub) -> None:
    """The flags of ``oneinbox-nb report``; its help lists the notebooks and their parameters."""
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
        type=key_value,
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


def run_report(args) -> int:
    """Build the report (:func:`oneinbox_nb.report.build`); print its path; exit status 0."""
    import inspect

    from ..report import build
    from ..source import choose_source

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
        preflight(params.get("base_url"))
    path = build(
        args.notebook, args.out, redact=not args.no_redact, hide_code=not args.show_code, **params
    )
    print(path)
    return 0


def add_dashboard_parser(sub) -> None:
    """The flags of ``oneinbox-nb dashboard``."""
    p = subcommand(
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


def run_dashboard(args) -> int:
    """Serve the dashboard (:func:`oneinbox_nb.dashboard.serve`) until Ctrl-C; exit status 0."""
    from ..dashboard import serve
    from ..source import choose_source

    if not args.sample and choose_source() == "api":
        preflight(None)
    serve(port=args.port, open_notebook=args.notebook, sample=args.sample)
    return 0


REPORT = Command("report", add_report_parser, run_report)
DASHBOARD = Command("dashboard", add_dashboard_parser, run_dashboard)
