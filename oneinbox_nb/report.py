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
"""

from __future__ import annotations

import ast
import copy
import html
import math
import os
import re
import tempfile
from collections.abc import Iterable, Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .config import API_KEY_ENV, scrub
from .exceptions import ConfigurationError, NotebookExecutionError

if TYPE_CHECKING:
    from nbformat import NotebookNode

__all__ = [
    "available_notebooks",
    "build",
    "check_parameters",
    "export_html",
    "notebooks_dir",
    "parameterize",
    "resolve_notebook",
    "sanitize_html",
]

PARAMETERS_TAG = "parameters"
INJECTED_TAG = "injected-parameters"
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
INLINE_MPL_BACKEND = "module://matplotlib_inline.backend_inline"

# Parameter names that suggest a credential, matched anywhere in the name, any case.
_SECRET_NAME = re.compile(r"key|token|secret", re.IGNORECASE)
_KEY_PREFIXES = ("oi_sk_", "oi_pk_")
# An environment key shorter than this is not searched for verbatim: replacing a 3-letter string
# everywhere would wreck the file, and no real key is that short.
_MIN_SECRET_LENGTH = 8
_INSTALL_HINT = "install the report extra: pip install 'oneinbox_nb[report]'"


# --------------------------------------------------------------------------------------------
# Finding notebooks
# --------------------------------------------------------------------------------------------


def notebooks_dir() -> Path:
    """The directory holding the packaged notebooks.

    ``oneinbox_nb/_notebooks`` in an installed wheel (pyproject force-includes ``notebooks/``
    there), else the repository's top-level ``notebooks/`` beside the package (editable installs
    and checkouts).

    Returns
    -------
    pathlib.Path
        The directory; it may not exist in a broken install.
    """
    package = Path(__file__).resolve().parent
    packaged = package / "_notebooks"
    if packaged.is_dir():
        return packaged
    return package.parent / "notebooks"


def available_notebooks(directory: str | os.PathLike[str] | None = None) -> list[str]:
    """Names (without ``.ipynb``) of the notebooks in ``directory`` (default :func:`notebooks_dir`).

    Returns
    -------
    list of str
        Sorted names, e.g. ``["01_call", "04_postmortem"]``.
    """
    root = Path(directory) if directory is not None else notebooks_dir()
    if not root.is_dir():
        return []
    return sorted(p.stem for p in root.glob("*.ipynb") if not p.name.startswith("."))


def resolve_notebook(
    notebook: str | os.PathLike[str], directory: str | os.PathLike[str] | None = None
) -> Path:
    """Turn a notebook name or path into the path of an existing ``.ipynb`` file.

    Parameters
    ----------
    notebook : str or path-like
        A bare name such as ``"04_postmortem"`` (looked up in ``directory``), or a path to any
        ``.ipynb`` file (anything ending in ``.ipynb`` or holding a path separator).
    directory : str or path-like, optional
        Where bare names are looked up; default :func:`notebooks_dir`.

    Returns
    -------
    pathlib.Path

    Raises
    ------
    ConfigurationError
        The file does not exist, or no packaged notebook has that name (the message lists them).
    """
    text = os.fspath(notebook)
    looks_like_path = (
        isinstance(notebook, os.PathLike)
        or text.endswith(".ipynb")
        or "/" in text
        or os.sep in text
    )
    if looks_like_path:
        path = Path(text).expanduser()
        if not path.is_file():
            raise ConfigurationError(f"notebook file {text!r} does not exist")
        return path
    root = Path(directory) if directory is not None else notebooks_dir()
    path = root / f"{text}.ipynb"
    if path.is_file():
        return path
    names = available_notebooks(root)
    listing = ", ".join(repr(n) for n in names) if names else f"none found in {root}"
    raise ConfigurationError(
        f"no notebook named {text!r}; available notebooks: {listing}. Pass a name from that list "
        "or a path to an .ipynb file."
    )


# --------------------------------------------------------------------------------------------
# Parameters
# --------------------------------------------------------------------------------------------


def _environment_key() -> str | None:
    value = os.environ.get(API_KEY_ENV, "").strip()
    return value if len(value) >= _MIN_SECRET_LENGTH else None


def _holds_key(value: Any, env_key: str | None) -> bool:
    if isinstance(value, str):
        return any(p in value for p in _KEY_PREFIXES) or bool(env_key and env_key in value)
    if isinstance(value, Mapping):
        return any(_holds_key(k, env_key) or _holds_key(v, env_key) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return any(_holds_key(v, env_key) for v in value)
    return False


def _literal(value: Any, name: str) -> str:
    """Python source for ``value``; only JSON-like values that round-trip through the source."""
    if value is None or isinstance(value, (bool, int, str)):
        return repr(value)
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else f"float({str(value)!r})"
    if isinstance(value, list):
        return "[" + ", ".join(_literal(v, name) for v in value) + "]"
    if isinstance(value, tuple):
        inner = ", ".join(_literal(v, name) for v in value)
        return f"({inner},)" if len(value) == 1 else f"({inner})"
    if isinstance(value, dict):
        items = []
        for k, v in value.items():
            if not (k is None or isinstance(k, (bool, int, float, str))):
                raise ConfigurationError(
                    f"parameter {name!r}: dictionary key {k!r} is a {type(k).__name__}; use str, int, "
                    "float, bool or None keys"
                )
            items.append(f"{_literal(k, name)}: {_literal(v, name)}")
        return "{" + ", ".join(items) + "}"
    raise ConfigurationError(
        f"parameter {name!r} is a {type(value).__name__}; parameters must be str, int, float, bool, "
        "None, or lists, tuples and dicts of those (they are written into the notebook as code)"
    )


def _check_parameters(parameters: Mapping[str, Any]) -> dict[str, str]:
    """Validate parameters and return their Python source, in order."""
    env_key = _environment_key()
    sources: dict[str, str] = {}
    for name, value in parameters.items():
        if not isinstance(name, str) or not name.isidentifier():
            raise ConfigurationError(f"parameter name {name!r} is not a Python identifier")
        if _SECRET_NAME.search(name) or _holds_key(value, env_key):
            what = "is named like a secret" if _SECRET_NAME.search(name) else "holds an API key"
            raise ConfigurationError(
                f"parameter {name!r} {what}: parameters are written into the report (and the saved "
                f"notebook), so secrets must not be passed as parameters. The API key belongs in "
                f"{API_KEY_ENV}; the notebook's kernel inherits the environment and the client reads "
                "it from there."
            )
        sources[name] = _literal(value, name)
    return sources


def check_parameters(
    nb: NotebookNode, parameters: Mapping[str, Any], *, name: str = "notebook"
) -> None:
    """Refuse parameters that the notebook's ``parameters`` cell does not declare.

    Parameters
    ----------
    nb : nbformat.NotebookNode
    parameters : mapping of str to value
        What the caller passes (``redact`` is always allowed: :func:`build` passes it).
    name : str
        The notebook's name, for the message.

    Raises
    ------
    ConfigurationError
        One line naming the unknown parameter (and the closest valid name) and listing every
        valid one with its default, e.g. ``04_postmortem has no parameter 'call_id' (did you mean
        'call_ids'?); its parameters: base_url=None, call_ids=None, ...``. Nothing runs.
    """
    import difflib

    if not any(PARAMETERS_TAG in _tags(c) for c in nb.cells):
        return  # parameterize() explains that a notebook without the cell takes no parameters
    defaults = _default_parameters(nb)
    unknown = [k for k in parameters if k not in defaults and k != "redact"]
    if not unknown:
        return
    first = unknown[0]
    close = difflib.get_close_matches(str(first), list(defaults), n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    others = f" (and {', '.join(map(repr, unknown[1:]))})" if len(unknown) > 1 else ""
    valid = ", ".join(f"{k}={_shown(v, False)}" for k, v in defaults.items())
    raise ConfigurationError(
        f"{name} has no parameter {first!r}{hint}{others}; its parameters: {valid}"
    )


def _tags(cell: Mapping[str, Any]) -> list[str]:
    return list(cell.get("metadata", {}).get("tags", []))


def parameterize(
    nb: NotebookNode, parameters: Mapping[str, Any], *, name: str = "notebook"
) -> NotebookNode:
    """Return a copy of ``nb`` with an ``injected-parameters`` cell, as papermill writes it.

    The cell goes right after the first cell tagged ``parameters`` and assigns each parameter
    (``name = <Python literal>``). Earlier injected cells are removed. A notebook without a
    ``parameters`` cell gets the cell at the top, which is only allowed when ``parameters`` holds
    nothing but ``redact`` (always passed by :func:`build`).

    Parameters
    ----------
    nb : nbformat.NotebookNode
    parameters : mapping of str to value
        str, int, float, bool, None, or lists/tuples/dicts of those.
    name : str
        The notebook's name, for error messages.

    Returns
    -------
    nbformat.NotebookNode
        A new notebook; ``nb`` is not modified.

    Raises
    ------
    ConfigurationError
        A parameter is not a literal, is named like a secret or holds a OneInbox key, or the
        notebook has no ``parameters`` cell to put real parameters after.
    """
    from nbformat.v4 import new_code_cell

    sources = _check_parameters(parameters)
    nb = copy.deepcopy(nb)
    nb.cells = [c for c in nb.cells if INJECTED_TAG not in _tags(c)]
    index = next((i for i, c in enumerate(nb.cells) if PARAMETERS_TAG in _tags(c)), None)
    if index is None:
        extra = sorted(set(parameters) - {"redact"})
        if extra:
            raise ConfigurationError(
                f"{name} has no cell tagged 'parameters', so it takes no parameters (got "
                f"{', '.join(extra)}). Tag the cell that sets the defaults with 'parameters' "
                "(View > Cell toolbar > Tags in Jupyter), or build without parameters."
            )
        insert_at = 0
    else:
        insert_at = index + 1
    source = "# Parameters\n" + "".join(f"{k} = {v}\n" for k, v in sources.items())
    cell = new_code_cell(source, metadata={"tags": [INJECTED_TAG]})
    if (nb.get("nbformat"), nb.get("nbformat_minor", 0)) < (4, 5):
        cell.pop("id", None)
    nb.cells.insert(insert_at, cell)
    return nb


def _default_parameters(nb: NotebookNode) -> dict[str, Any]:
    """Literal assignments in the ``parameters`` cell (``n = 10``), for the report header."""
    cell = next((c for c in nb.cells if PARAMETERS_TAG in _tags(c)), None)
    if cell is None:
        return {}
    try:
        tree = ast.parse(cell.source)
    except SyntaxError:
        return {}
    found: dict[str, Any] = {}
    for node in tree.body:
        target, value = None, None
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target, value = node.targets[0], node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            target, value = node.target, node.value
        if isinstance(target, ast.Name) and value is not None:
            try:
                found[target.id] = ast.literal_eval(value)
            except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
                found[target.id] = ast.unparse(value)
    return found


# --------------------------------------------------------------------------------------------
# Execution
# --------------------------------------------------------------------------------------------


def _kernel_config():
    """nbclient config: a kernel client that never sleeps through a reply
    (:mod:`oneinbox_nb.kernel_client`), and CurveZMQ keys when possible (silences the plain-TCP
    warning)."""
    from traitlets.config import Config

    from .kernel_client import PatientKernelClient

    config = Config()
    config.KernelManager.client_factory = PatientKernelClient
    try:
        import zmq
        from jupyter_client.manager import KernelManager

        if zmq.has("curve") and "transport_encryption" in KernelManager.class_trait_names():
            config.KernelManager.transport_encryption = "auto"
    except ImportError:  # pragma: no cover - jupyter_client always brings pyzmq
        pass
    return config


def _source_text(cell: Mapping[str, Any]) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else str(source)


def _execute(
    nb: NotebookNode, *, name: str, timeout: int | None, kernel_name: str, cwd: str
) -> NotebookNode:
    """Execute ``nb`` in place, cell by cell; a failing cell raises NotebookExecutionError."""
    try:
        from jupyter_client.kernelspec import NoSuchKernel
        from nbclient import NotebookClient
        from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError
    except ImportError as exc:
        raise ConfigurationError(
            f"building a report needs nbclient and ipykernel: {_INSTALL_HINT}"
        ) from exc

    client = NotebookClient(
        nb,
        timeout=timeout,
        kernel_name=kernel_name,
        store_widget_state=True,  # False breaks nbclient 0.11 once an Output widget captures output
        resources={"metadata": {"path": cwd}},
        config=_kernel_config(),
    )
    env = dict(os.environ)
    # Figures must reach the notebook as PNG outputs, whatever backend the caller's shell selects.
    env["MPLBACKEND"] = INLINE_MPL_BACKEND
    # From a source checkout (not installed), let the kernel import this same oneinbox_nb.
    package_root = Path(__file__).resolve().parents[1]
    if package_root.name not in ("site-packages", "dist-packages"):
        paths = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
        if str(package_root) not in paths:
            env["PYTHONPATH"] = os.pathsep.join([str(package_root), *paths])
    env_key = _environment_key()
    injected = next((i for i, c in enumerate(nb.cells) if INJECTED_TAG in _tags(c)), None)

    def failure(
        index: int, cell: Any, ename: str, evalue: str, traceback: str = ""
    ) -> NotebookExecutionError:
        def clean(text: str) -> str:
            return scrub(text, env_key) if env_key else scrub(text)

        # report the cell's position in the notebook file, not counting the injected cell
        if injected is not None and index > injected:
            index -= 1
        return NotebookExecutionError(
            name,
            cell_index=index,
            ename=clean(ename),
            evalue=clean(evalue),
            source=clean(_source_text(cell)),
            traceback=clean(traceback),
        )

    try:
        with client.setup_kernel(cwd=cwd, env=env):
            msg_id = client.kc.kernel_info()
            reply = client.wait_for_reply(msg_id)
            if reply and "language_info" in reply.get("content", {}):
                nb.metadata["language_info"] = reply["content"]["language_info"]
            for index, cell in enumerate(nb.cells):
                # A failed run's kernel may still be busy: kill it rather than ask it to shut down.
                client.shutdown_kernel = "immediate"
                # `from None` throughout: nbclient's messages quote the cell's printed output, which
                # may hold secrets; ours are scrubbed.
                try:
                    client.execute_cell(cell, index, execution_count=client.code_cells_executed + 1)
                except CellExecutionError as exc:
                    raise failure(index, cell, exc.ename, exc.evalue, exc.traceback) from None
                except CellTimeoutError:
                    raise failure(
                        index,
                        cell,
                        "CellTimeoutError",
                        f"the cell did not finish within {timeout} s",
                    ) from None
                except DeadKernelError as exc:
                    raise failure(
                        index, cell, "DeadKernelError", str(exc) or "the kernel died"
                    ) from None
                client.shutdown_kernel = "graceful"
            client.set_widgets_metadata()
    except NoSuchKernel as exc:
        from jupyter_client.kernelspec import find_kernel_specs

        raise ConfigurationError(
            f"no Jupyter kernel named {kernel_name!r}; installed kernels: "
            f"{', '.join(sorted(find_kernel_specs())) or 'none'}"
        ) from exc
    return nb


# --------------------------------------------------------------------------------------------
# HTML
# --------------------------------------------------------------------------------------------

_TEMPLATE_NAME = "oneinbox_report.html.j2"
# Extends JupyterLab's template, minus every block that loads JavaScript from a CDN.
_TEMPLATE = r"""
{%- extends 'index.html.j2' -%}
{%- block html_head_js -%}{%- endblock html_head_js -%}
{%- block jupyter_widgets -%}{%- endblock jupyter_widgets -%}
{%- block html_head_js_mathjax -%}{%- endblock html_head_js_mathjax -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
{%- block extra_css -%}
<style type="text/css">{{ resources.oneinbox_css }}</style>
{%- endblock extra_css -%}
{%- block body_header -%}
{{ super() }}
{{ resources.oneinbox_header }}
{%- endblock body_header -%}
{%- block body_footer -%}
{{ resources.oneinbox_footer }}
{{ super() }}
{%- endblock body_footer -%}
{%- block data_widget_view scoped -%}{%- endblock data_widget_view -%}
"""

_CSS = """
.oi-report-header { max-width: 1100px; margin: 16px auto 8px auto; padding: 12px 16px 4px 16px;
  border-bottom: 2px solid #d0d7de; font-family: system-ui, -apple-system, "Segoe UI", Roboto,
  "Helvetica Neue", Arial, sans-serif; color: #1f2328; }
.oi-report-header h1 { font-size: 1.7em; margin: 0 0 8px 0; }
.oi-report-meta { display: grid; grid-template-columns: max-content auto; gap: 2px 16px; margin: 0 0 10px 0;
  font-size: 0.92em; }
.oi-report-meta dt { font-weight: 600; color: #57606a; }
.oi-report-meta dd { margin: 0; }
.oi-report-params { border-collapse: collapse; font-size: 0.88em; margin: 0 0 10px 0; }
.oi-report-params th, .oi-report-params td { border: 1px solid #d0d7de; padding: 2px 8px; text-align: left;
  vertical-align: top; }
.oi-report-params th { background: #f6f8fa; }
.oi-report-params td code { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
/* pandas tables: compact, zebra rows, numbers right-aligned, header that stays readable */
.jp-RenderedHTMLCommon table.dataframe { border-collapse: collapse; border: none; font-size: 12px;
  font-variant-numeric: tabular-nums; margin: 4px 0; }
.jp-RenderedHTMLCommon table.dataframe th, .jp-RenderedHTMLCommon table.dataframe td {
  padding: 3px 8px; border: none; border-bottom: 1px solid #e1e4e8; text-align: right; }
.jp-RenderedHTMLCommon table.dataframe thead th { border-bottom: 2px solid #8c959f; background: #f6f8fa; }
.jp-RenderedHTMLCommon table.dataframe tbody tr:nth-child(odd) { background: #fafbfc; }
.jp-RenderedHTMLCommon table.dataframe tbody tr:hover { background: #eef4ff; }
.jp-OutputArea-output img { max-width: 100%; height: auto; }
.dataframe tbody tr th:only-of-type { vertical-align: middle; }
.dataframe tbody tr th { vertical-align: top; }
.dataframe thead th { text-align: right; }
"""

# Anything in the exported HTML that would make a browser fetch from the network.
_EXTERNAL_URL = r"""(?:https?:)?//"""
_EXTERNAL_SCRIPT = re.compile(
    r"<script\b[^>]*\bsrc\s*=\s*[\"']?" + _EXTERNAL_URL + r"[^>]*>.*?</script\s*>",
    re.IGNORECASE | re.DOTALL,
)
_WIDGET_SCRIPT = re.compile(
    r"<script\b[^>]*type\s*=\s*[\"']application/vnd\.jupyter\.widget-(?:state|view)\+json[\"'][^>]*>.*?</script\s*>",
    re.IGNORECASE | re.DOTALL,
)
_INLINE_SCRIPT = re.compile(r"<script\b[^>]*>(.*?)</script\s*>", re.IGNORECASE | re.DOTALL)
_FETCHING_JS = re.compile(
    r"""(?:\bimport\s*\(?\s*|\bfrom\s+|\bsrc\s*=\s*|require\.config|\bfetch\s*\(\s*)["']?"""
    + _EXTERNAL_URL,
    re.IGNORECASE,
)
_EXTERNAL_LINK = re.compile(
    r"<link\b[^>]*\bhref\s*=\s*[\"']?" + _EXTERNAL_URL + r"[^>]*>", re.IGNORECASE
)
_CSS_IMPORT = re.compile(
    r"@import\s+(?:url\()?\s*[\"']?" + _EXTERNAL_URL + r"[^;]*;?", re.IGNORECASE
)
_CSS_URL = re.compile(r"url\(\s*[\"']?" + _EXTERNAL_URL + r"[^)]*\)", re.IGNORECASE)
# src/srcset/poster/data attributes of img, audio, video, source, iframe, embed, object...
_FETCHING_ATTR = re.compile(
    r"(<[a-z][a-z0-9-]*\b[^>]*?\s)(src|srcset|poster|data|background)(\s*=\s*[\"']?)(?="
    + _EXTERNAL_URL
    + r")",
    re.IGNORECASE,
)


_STYLE_BLOCK = re.compile(r"(<style\b[^>]*>)(.*?)(</style\s*>)", re.IGNORECASE | re.DOTALL)
_STYLE_ATTR = re.compile(r"(<[a-z][a-z0-9-]*\b[^>]*?\sstyle\s*=\s*\")([^\"]*)(\")", re.IGNORECASE)


def _offline_css(css: str) -> str:
    return _CSS_URL.sub("none", _CSS_IMPORT.sub("", css))


def _make_offline(text: str) -> str:
    """Remove or neutralise every reference that a browser would fetch from the network."""
    text = _EXTERNAL_SCRIPT.sub("", text)
    text = _WIDGET_SCRIPT.sub("", text)
    text = _INLINE_SCRIPT.sub(lambda m: "" if _FETCHING_JS.search(m.group(1)) else m.group(0), text)
    text = _EXTERNAL_LINK.sub("", text)
    text = _STYLE_BLOCK.sub(lambda m: m.group(1) + _offline_css(m.group(2)) + m.group(3), text)
    text = _STYLE_ATTR.sub(lambda m: m.group(1) + _offline_css(m.group(2)) + m.group(3), text)
    # keep the address visible to a reader (data-blocked-*), but never loaded
    return _FETCHING_ATTR.sub(lambda m: f"{m.group(1)}data-blocked-{m.group(2)}{m.group(3)}", text)


# --------------------------------------------------------------------------------------------
# Sanitizing: the page is rebuilt from the template's own CSS and an allow-listed body
# --------------------------------------------------------------------------------------------

# The markup a report is made of: nbconvert's cells, pandas tables, the header, the call card.
_ALLOWED_TAGS = {
    "a",
    "b",
    "blockquote",
    "br",
    "caption",
    "code",
    "col",
    "colgroup",
    "dd",
    "del",
    "details",
    "div",
    "dl",
    "dt",
    "em",
    "footer",
    "figcaption",
    "figure",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "header",
    "hr",
    "i",
    "img",
    "ins",
    "kbd",
    "li",
    "main",
    "mark",
    "ol",
    "p",
    "pre",
    "s",
    "samp",
    "small",
    "span",
    "strong",
    "sub",
    "summary",
    "sup",
    "table",
    "tbody",
    "td",
    "tfoot",
    "th",
    "thead",
    "time",
    "tr",
    "u",
    "ul",
    "var",
}
_ALLOWED_ATTRIBUTES = {
    "*": {"class", "id", "style", "title", "data-mime-type"},
    "a": {"href"},
    "img": {"src", "alt", "width", "height"},
    "td": {"colspan", "rowspan", "valign", "align"},
    "th": {"colspan", "rowspan", "valign", "align", "scope"},
    "time": {"datetime"},
    "ol": {"start"},
}
# Inline style properties kept: layout and colour only; nothing that takes a url().
_ALLOWED_STYLE_PROPERTIES = {
    "align-items",
    "background-color",
    "border",
    "border-bottom",
    "border-collapse",
    "border-color",
    "border-left",
    "border-radius",
    "border-right",
    "border-style",
    "border-top",
    "border-width",
    "color",
    "display",
    "flex-wrap",
    "font-family",
    "font-size",
    "font-style",
    "font-variant-numeric",
    "font-weight",
    "gap",
    "height",
    "justify-content",
    "line-height",
    "margin",
    "margin-bottom",
    "margin-left",
    "margin-right",
    "margin-top",
    "max-width",
    "min-width",
    "overflow",
    "overflow-x",
    "padding",
    "padding-bottom",
    "padding-left",
    "padding-right",
    "padding-top",
    "text-align",
    "text-overflow",
    "vertical-align",
    "white-space",
    "width",
    "word-break",
}
_PNG_DATA_URI = "data:image/png;base64,"
# Belt and braces: even a tag the sanitizer missed could neither run a script nor fetch anything.
_CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'"
_STYLE_ELEMENT = re.compile(r"<style\b[^>]*>.*?</style\s*>", re.IGNORECASE | re.DOTALL)
_BODY = re.compile(r"<body\b([^>]*)>(.*)</body\s*>", re.IGNORECASE | re.DOTALL)
_HEAD = re.compile(r"<head\b[^>]*>(.*?)</head\s*>", re.IGNORECASE | re.DOTALL)


def _keep_attribute(tag: str, attribute: str, value: str) -> str | None:
    """Links only within the page; images only inline PNGs; styles without url()."""
    if tag == "a" and attribute == "href":
        return value if value.startswith("#") else None
    if attribute == "src":
        return value if tag == "img" and value.startswith(_PNG_DATA_URI) else None
    if attribute == "style":
        lowered = value.lower()
        return (
            None
            if any(bad in lowered for bad in ("url(", "expression", "@import", "\\"))
            else value
        )
    return value


def sanitize_html(fragment: str) -> str:
    """Allow-list an HTML fragment (a report's body) with the ``nh3`` sanitizer (Ammonia).

    Kept: the report's own markup (:data:`_ALLOWED_TAGS`), ``class``/``id`` attributes, inline
    styles without ``url()``, in-page ``#`` links and ``data:image/png`` images. Dropped: scripts,
    ``<style>``/``<iframe>``/``<object>``/forms and their content, event handlers, ``javascript:``
    and every other external or relative URL (leading spaces or not), remote images.

    Parameters
    ----------
    fragment : str
        HTML, typically the body of an exported notebook.

    Returns
    -------
    str
        The sanitized HTML.

    Raises
    ------
    ConfigurationError
        ``nh3`` is not installed.
    """
    try:
        import nh3
    except ImportError as exc:
        raise ConfigurationError(f"sanitizing report HTML needs nh3: {_INSTALL_HINT}") from exc
    return nh3.clean(
        fragment,
        tags=_ALLOWED_TAGS,
        clean_content_tags={
            "script",
            "style",
            "iframe",
            "object",
            "embed",
            "noscript",
            "template",
            "svg",
            "math",
            "textarea",
            "select",
            "form",
            "audio",
            "video",
        },
        attributes=_ALLOWED_ATTRIBUTES,
        attribute_filter=_keep_attribute,
        url_schemes={"data"},
        link_rel=None,
        strip_comments=True,
        filter_style_properties=_ALLOWED_STYLE_PROPERTIES,
    )


def _sanitized_page(page: str, title: str) -> str:
    """Rebuild an exported page: the template's CSS (offline), a CSP, and the sanitized body."""
    head = _HEAD.search(page)
    body = _BODY.search(page)
    if head is None or body is None:
        raise ConfigurationError("nbconvert produced a page without <head> or <body>")
    styles = "\n".join(_offline_css(style) for style in _STYLE_ELEMENT.findall(head.group(1)))
    body_class = re.search(r"""\bclass\s*=\s*"([\w\- ]*)\"""", body.group(1))
    return (
        '<!DOCTYPE html>\n<html>\n<head>\n<meta charset="utf-8">\n'
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1.0">\n'
        f"<title>{html.escape(title)}</title>\n{styles}\n</head>\n"
        f'<body class="{body_class.group(1) if body_class else ""}" data-jp-theme-light="true">\n'
        f"{sanitize_html(body.group(2))}\n</body>\n</html>\n"
    )


def _strip_widget_outputs(nb: NotebookNode) -> None:
    """Drop widget views (their text/plain fallback ``IntSlider(value=3)`` is noise) and widget state."""
    nb.metadata.pop("widgets", None)
    for cell in nb.cells:
        if cell.get("cell_type") != "code":
            continue
        kept = []
        for output in cell.get("outputs", []):
            data = output.get("data")
            if data is not None and WIDGET_VIEW in data:
                rich = set(data) - {WIDGET_VIEW, "text/plain"}
                if not rich:
                    continue
                data.pop(WIDGET_VIEW)
                data.pop("text/plain", None)
            kept.append(output)
        cell.outputs = kept


def _first_heading(nb: NotebookNode) -> tuple[int, str] | None:
    for index, cell in enumerate(nb.cells):
        if cell.get("cell_type") != "markdown":
            continue
        for line in _source_text(cell).splitlines():
            match = re.match(r"^\s{0,3}#{1,6}\s+(.+?)\s*#*\s*$", line)
            if match:
                return index, match.group(1)
    return None


def _plain_heading(text: str) -> str:
    """Markdown heading text without emphasis, code ticks or link syntax."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)
    text = re.sub(r"(\*\*|\*|`)(.+?)\1", r"\2", text)
    # underscores emphasise only outside words: 04_postmortem keeps its underscore
    text = re.sub(r"(?<!\w)(__|_)(.+?)\1(?!\w)", r"\2", text)
    return text.strip()


def _shown(value: Any, redact: bool) -> str:
    if redact:
        from .redact import redact_value

        value = redact_value(value)
    text = value if isinstance(value, str) else repr(value)
    # never show credentials embedded in a URL (https://user:pass@host)
    text = re.sub(r"(\w+://)[^/@\s'\"]*@", r"\1", text)
    return text if len(text) <= 200 else text[:197] + "..."


def _source_line(parameters: Mapping[str, Any]) -> str:
    """Where the notebook's calls come from, by the rule of :func:`oneinbox_nb.source.choose_source`."""
    from .source import describe_source

    if "source" not in parameters and "base_url" not in parameters:
        return "not recorded: the notebook takes no source or base_url parameter"
    options = {k: parameters[k] for k in ("scenario", "seed", "n") if k in parameters}
    return describe_source(parameters.get("base_url"), parameters.get("source", "auto"), **options)


def _header_html(
    *,
    title: str,
    parameters: Mapping[str, Any],
    generated_at: str,
    redact: bool,
    notebook_name: str,
) -> str:
    from . import __version__

    esc = html.escape
    source = _source_line(parameters)
    if redact:
        from .redact import DEFAULT_REGION, MASKED

        region = _shown(parameters.get("redact_region") or DEFAULT_REGION, False)
        redaction = (
            f"on (phone region {region}): masked are "
            + "; ".join(MASKED)
            + ". Not masked: names, addresses and ids that the platform does not hold as caller"
            " details, and numbers spoken as words"
        )
    else:
        redaction = "OFF: personal data may appear in this report"
    rows = "".join(
        f"<tr><td><code>{esc(k)}</code></td><td><code>{esc(_shown(v, redact))}</code></td></tr>"
        for k, v in parameters.items()
        if k != "redact"
    )
    params_table = (
        f'<table class="oi-report-params"><thead><tr><th>parameter</th><th>value</th></tr></thead>'
        f"<tbody>{rows}</tbody></table>"
        if rows
        else ""
    )
    header = (
        '<header class="oi-report-header" id="oi-report-header">'
        f"<h1>{esc(title)}</h1>"
        '<dl class="oi-report-meta">'
        f"<dt>Covers</dt><dd>notebook <code>{esc(notebook_name)}</code>"
        f"{' with the parameters at the end' if rows else ' with its default parameters'}</dd>"
        f'<dt>Made</dt><dd><time datetime="{esc(generated_at)}">{esc(generated_at)}</time> (UTC)</dd>'
        f"<dt>Data source</dt><dd>{esc(source)}</dd>"
        f"<dt>Redaction</dt><dd>{esc(redaction)}</dd>"
        f"<dt>Made with</dt><dd>oneinbox_nb {esc(str(__version__))}</dd>"
        "</dl>"
        "</header>"
    )
    footer = (
        '<footer class="oi-report-footer" id="oi-report-parameters">'
        f"<h2>Parameters</h2>{params_table}</footer>"
        if params_table
        else ""
    )
    return header, footer


def export_html(
    nb: NotebookNode,
    *,
    hide_code: bool = True,
    title: str | None = None,
    header_html: str = "",
    footer_html: str = "",
) -> str:
    """Export an executed notebook as one self-contained HTML page.

    Parameters
    ----------
    nb : nbformat.NotebookNode
        An executed notebook; it is not modified.
    hide_code : bool
        Hide code cells (inputs and prompts), showing only outputs and markdown.
    title : str, optional
        The page's ``<title>``.
    header_html : str
        HTML placed at the top of the page's body.
    footer_html : str
        HTML placed after the last cell (the report's parameter table).

    Returns
    -------
    str
        HTML with figures as data URIs, no widget state and no reference to anything outside the
        file. Cells tagged ``remove-cell`` are dropped, ``remove-input`` lose their code and
        ``remove-output`` their outputs.
    """
    try:
        from jinja2 import DictLoader
        from nbconvert import HTMLExporter
        from nbconvert.preprocessors import TagRemovePreprocessor
    except ImportError as exc:
        raise ConfigurationError(f"exporting HTML needs nbconvert: {_INSTALL_HINT}") from exc

    nb = copy.deepcopy(nb)
    _strip_widget_outputs(nb)
    if hide_code:
        nb.cells = [c for c in nb.cells if c.get("cell_type") != "code" or c.get("outputs")]

    exporter = HTMLExporter(
        template_name="lab",
        extra_loaders=[DictLoader({_TEMPLATE_NAME: _TEMPLATE})],
        template_file=_TEMPLATE_NAME,
        exclude_input=hide_code,
        exclude_input_prompt=True,
        exclude_output_prompt=True,
        embed_images=True,
    )
    tags = TagRemovePreprocessor(
        remove_cell_tags={"remove-cell"},
        remove_input_tags={"remove-input"},
        remove_all_outputs_tags={"remove-output"},
    )
    exporter.register_preprocessor(tags, enabled=True)
    resources = {
        "metadata": {"name": title or "Report"},
        "oneinbox_header": header_html,
        "oneinbox_footer": footer_html,
        "oneinbox_css": _CSS,
    }
    body, _ = exporter.from_notebook_node(nb, resources=resources)
    return _sanitized_page(_make_offline(body), title or "Report")


# --------------------------------------------------------------------------------------------
# Writing
# --------------------------------------------------------------------------------------------


def _scrub_secrets(text: str) -> str:
    """Remove the value of ONEINBOX_API_KEY and anything key-shaped (the last line of defence)."""
    env_key = _environment_key()
    return scrub(text, env_key) if env_key else scrub(text)


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

    from . import __version__

    path = resolve_notebook(notebook)
    name = path.stem
    source_nb = nbformat.read(path, as_version=4)
    # secrets and non-literals are refused first (parameterize), then names the notebook lacks
    run_nb = parameterize(source_nb, {**parameters, "redact": bool(redact)}, name=path.name)
    check_parameters(source_nb, parameters, name=name)
    _source_line({**_default_parameters(source_nb), **parameters})  # a bad source fails here

    target = Path(out) if out is not None else Path.cwd() / "reports" / f"{name}.html"
    if target.is_dir():
        target = target / f"{name}.html"
    target = target.expanduser().absolute()
    if target.suffix.lower() == ".ipynb":
        raise ConfigurationError(
            f"out={os.fspath(target)!r} names a notebook; the report is HTML (e.g. {target.stem}.html)"
        )

    with tempfile.TemporaryDirectory(prefix="oneinbox-report-") as scratch:
        _execute(run_nb, name=path.name, timeout=timeout, kernel_name=kernel_name, cwd=scratch)

    generated_at = datetime.now(timezone.utc).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")
    shown_parameters = {**_default_parameters(source_nb), **parameters}
    run_nb.metadata["oneinbox_nb"] = {
        "report": {
            "notebook": path.name,
            "parameters": {k: v for k, v in shown_parameters.items() if k != "redact"},
            "redact": bool(redact),
            "generated_at": generated_at,
            "version": str(__version__),
        }
    }

    html_nb = run_nb
    heading = _first_heading(run_nb)
    if title is None and heading is not None:
        title = _plain_heading(heading[1])
        # the header shows the title: drop the heading line from the page so it is not shown twice
        html_nb = copy.deepcopy(run_nb)
        cell = html_nb.cells[heading[0]]
        lines = _source_text(cell).splitlines()
        first = next(i for i, line in enumerate(lines) if re.match(r"^\s{0,3}#{1,6}\s+", line))
        cell.source = "\n".join(lines[:first] + lines[first + 1 :])
    title = title or name
    header, footer = _header_html(
        title=title,
        parameters={**shown_parameters, "redact": bool(redact)},
        generated_at=generated_at,
        redact=redact,
        notebook_name=path.name,
    )
    page = _scrub_secrets(
        export_html(
            html_nb, hide_code=hide_code, title=title, header_html=header, footer_html=footer
        )
    )

    files = [(target, page.encode("utf-8"))]
    if save_notebook:
        files.append(
            (target.with_suffix(".ipynb"), _scrub_secrets(nbformat.writes(run_nb)).encode("utf-8"))
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    _write_atomically(files)
    return target
