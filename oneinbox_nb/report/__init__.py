"""Run a notebook and write it as one self-contained HTML report.

:func:`build` is the whole job: resolve the notebook, inject its parameters (papermill-compatible: a
code cell tagged ``injected-parameters`` right after the cell tagged ``parameters``), execute it cell
by cell with nbclient in a scratch directory, export it with nbconvert, and write the file atomically.

The report can be mailed to someone on an air-gapped laptop: figures are inline PNGs, tables inline
HTML and CSS, and the file loads nothing when opened (no require.js, MathJax, Mermaid or widget
manager from a CDN, no web fonts). Live widgets therefore do not appear in reports (nor does what
an ``ipywidgets.Output`` captured: it lives in the widget state); notebooks show static figures and
tables next to them for that reason. LaTeX in markdown stays as source text (no MathJax).

Secrets: parameters are written into the report, so a parameter that is named like a secret or holds
something shaped like a OneInbox key is refused; the kernel inherits ``ONEINBOX_API_KEY`` from the
environment instead. As a last line of defence, the value of ``ONEINBOX_API_KEY`` and anything
key-shaped is scrubbed from every file before it is written.

Layout (which room answers which question)::

    report/
      notebooks.py  which notebook, which parameters: notebooks_dir, available_notebooks,
                    resolve_notebook, check_parameters, parameterize, default_parameters
      inputs.py     what a notebook's first cell reads: its parameters to frames and the
                    source they came from (one_call, postmortem_calls, compare_sides,
                    fleet_dataset, fleet_story), testable without a kernel
      execute.py    running it: nbclient and the kernel, a failing cell -> NotebookExecutionError
      html.py       the page: nbconvert export, offline CSS, the nh3 sanitizer (sanitize_html),
                    header and footer, the secrets scrub
      __init__.py   build (the whole job) and the atomic write; re-exports the public names
"""

from __future__ import annotations

import copy
import os
import re
import tempfile
from collections.abc import Iterable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ..exceptions import ConfigurationError

# Names other modules, tests and benchmarks import from ``oneinbox_nb.report``; ``x as x`` marks a
# re-export.
from .execute import INLINE_MPL_BACKEND as INLINE_MPL_BACKEND
from .execute import _execute
from .execute import _kernel_config as _kernel_config
from .html import WIDGET_VIEW as WIDGET_VIEW
from .html import (
    _first_heading,
    _header_html,
    _plain_heading,
    _scrub_secrets,
    _source_line,
    export_html,
    sanitize_html,
)
from .html import _make_offline as _make_offline
from .html import _sanitized_page as _sanitized_page
from .notebooks import INJECTED_TAG as INJECTED_TAG
from .notebooks import PARAMETERS_TAG as PARAMETERS_TAG
from .notebooks import (
    _source_text,
    available_notebooks,
    check_parameters,
    default_parameters,
    notebooks_dir,
    parameterize,
    resolve_notebook,
)

__all__ = [
    "available_notebooks",
    "build",
    "check_parameters",
    "default_parameters",
    "export_html",
    "notebooks_dir",
    "parameterize",
    "resolve_notebook",
    "sanitize_html",
]


def _write_atomically(files: Iterable[tuple[Path, bytes]]) -> None:
    """Write every file to a temporary sibling, then move them into place with os.replace."""
    staged: list[tuple[str, Path]] = []
    try:
        for path, data in files:
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
            staged.append((tmp, path))
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.chmod(tmp, 0o644)
        for tmp, path in staged:
            os.replace(tmp, path)
    finally:
        for tmp, _ in staged:
            if os.path.exists(tmp):
                os.unlink(tmp)


def build(
    notebook: str | os.PathLike[str] = "04_postmortem",
    out: str | os.PathLike[str] | None = None,
    *,
    redact: bool = True,
    hide_code: bool = True,
    timeout: int | None = 600,
    kernel_name: str = "python3",
    title: str | None = None,
    save_notebook: bool = False,
    **parameters: Any,
) -> Path:
    """Run a notebook and write it as one self-contained HTML report.

    Parameters
    ----------
    notebook : str or path-like
        A packaged notebook's name (``"04_postmortem"``; see :func:`available_notebooks`) or a path
        to any ``.ipynb`` file.
    out : str or path-like, optional
        The HTML file to write (an existing directory gets ``<notebook>.html`` inside it). Default
        ``reports/<notebook>.html`` under the current directory. Parent directories are created.
    redact : bool
        Passed to the notebook as the ``redact`` parameter (it masks personal data with
        :mod:`oneinbox_nb.redact`) and shown in the header. On by default: reports are shared.
    hide_code : bool
        Show only outputs and markdown (default); ``False`` includes the code cells.
    timeout : int or None
        Seconds each cell may run; ``None`` for no limit.
    kernel_name : str
        The Jupyter kernel; ``python3`` is the interpreter running this function when ipykernel is
        installed beside it.
    title : str, optional
        The report's title; default the notebook's first markdown heading, else its name.
    save_notebook : bool
        Also write the executed notebook next to the HTML (same name, ``.ipynb``).
    **parameters
        Notebook parameters (str, int, float, bool, None, lists/tuples/dicts of those), injected
        after the cell tagged ``parameters`` as papermill does. Never pass secrets: they would be
        written into the report; the kernel reads ``ONEINBOX_API_KEY`` from the environment.

    Returns
    -------
    pathlib.Path
        The absolute path of the HTML report.

    Raises
    ------
    ConfigurationError
        Unknown notebook, a parameter its ``parameters`` cell does not declare (checked before
        anything runs; the one-line message lists the valid ones with their defaults), a bad or
        secret-looking parameter, parameters for a notebook without a ``parameters`` cell, a
        missing kernel or a missing nbclient/nbconvert.
    MissingAPIKeyError
        The source rule chose the OneInbox API (``source="api"``, a ``base_url``, or
        ``ONEINBOX_BASE_URL``) and ``ONEINBOX_API_KEY`` is not set; checked before anything runs.
    NotebookExecutionError
        A cell raised or timed out; it carries the cell's index, error name, value and source.
        Nothing is written in that case.

    Examples
    --------
    >>> build("04_postmortem", scenario="production", seed=7)  # doctest: +SKIP
    PosixPath('/home/me/reports/04_postmortem.html')
    """
    import nbformat

    path = resolve_notebook(notebook)
    source_nb = nbformat.read(path, as_version=4)
    # secrets and non-literals are refused first (parameterize), then names the notebook lacks
    run_nb = parameterize(source_nb, {**parameters, "redact": bool(redact)}, name=path.name)
    check_parameters(source_nb, parameters, name=path.stem)
    shown_parameters = {**default_parameters(source_nb), **parameters}
    _source_line(shown_parameters)  # a bad source fails here
    target = _report_target(out, path.stem)

    with tempfile.TemporaryDirectory(prefix="oneinbox-report-") as scratch:
        _execute(run_nb, name=path.name, timeout=timeout, kernel_name=kernel_name, cwd=scratch)

    options = {"title": title, "hide_code": hide_code, "save_notebook": save_notebook}
    _write_report(run_nb, target, path.name, shown_parameters, bool(redact), **options)
    return target


def _write_report(
    run_nb: Any,
    target: Path,
    notebook_name: str,
    parameters: dict[str, Any],
    redact: bool,
    *,
    title: str | None,
    hide_code: bool,
    save_notebook: bool,
) -> None:
    """The second half of :func:`build`: stamp the executed notebook, render it with its header
    and footer, scrub secrets and write the HTML (and the notebook) atomically."""
    import nbformat

    from .. import __version__

    generated_at = datetime.now(timezone.utc).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")
    run_nb.metadata["oneinbox_nb"] = {
        "report": {
            "notebook": notebook_name,
            "parameters": {k: v for k, v in parameters.items() if k != "redact"},
            "redact": redact,
            "generated_at": generated_at,
            "version": str(__version__),
        }
    }
    html_nb, title = _titled(run_nb, title, Path(notebook_name).stem)
    header, footer = _header_html(
        title=title,
        parameters={**parameters, "redact": redact},
        generated_at=generated_at,
        redact=redact,
        notebook_name=notebook_name,
    )
    page = export_html(
        html_nb, hide_code=hide_code, title=title, header_html=header, footer_html=footer
    )
    files = [(target, _scrub_secrets(page).encode("utf-8"))]
    if save_notebook:
        files.append(
            (target.with_suffix(".ipynb"), _scrub_secrets(nbformat.writes(run_nb)).encode("utf-8"))
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    _write_atomically(files)


def _report_target(out: str | os.PathLike[str] | None, name: str) -> Path:
    """The HTML file :func:`build` writes: ``out`` (a directory gets ``<name>.html``), by default
    ``reports/<name>.html`` under the current directory; never a ``.ipynb``."""
    target = Path(out) if out is not None else Path.cwd() / "reports" / f"{name}.html"
    if target.is_dir():
        target = target / f"{name}.html"
    target = target.expanduser().absolute()
    if target.suffix.lower() == ".ipynb":
        raise ConfigurationError(
            f"out={os.fspath(target)!r} names a notebook; the report is HTML (e.g. {target.stem}.html)"
        )
    return target


def _titled(run_nb: Any, title: str | None, name: str) -> tuple[Any, str]:
    """The notebook to render and the report's title: without ``title``, the first markdown
    heading becomes it and leaves the page (a copy), so it is not shown twice; else ``name``."""
    heading = _first_heading(run_nb)
    if title is not None or heading is None:
        return run_nb, title or name
    html_nb = copy.deepcopy(run_nb)
    cell = html_nb.cells[heading[0]]
    lines = _source_text(cell).splitlines()
    first = next(i for i, line in enumerate(lines) if re.match(r"^\s{0,3}#{1,6}\s+", line))
    cell.source = "\n".join(lines[:first] + lines[first + 1 :])
    return html_nb, _plain_heading(heading[1]) or name
