"""Which notebook, with which parameters: finding notebooks and checking and injecting parameters.

A packaged notebook is found by name (:func:`notebooks_dir`, :func:`available_notebooks`,
:func:`resolve_notebook`). Its ``parameters`` cell declares what it accepts
(:func:`check_parameters`); :func:`parameterize` adds the papermill-style ``injected-parameters`` cell
after it. Parameters are written into the report, so anything named like a secret or holding
something shaped like a OneInbox key is refused here.
"""

from __future__ import annotations

import ast
import copy
import math
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..config import API_KEY_ENV
from ..exceptions import ConfigurationError

if TYPE_CHECKING:
    from nbformat import NotebookNode

__all__ = [
    "available_notebooks",
    "check_parameters",
    "default_parameters",
    "notebooks_dir",
    "parameterize",
    "resolve_notebook",
]

PARAMETERS_TAG = "parameters"
INJECTED_TAG = "injected-parameters"
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
    package = Path(__file__).resolve().parents[1]
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
    defaults = default_parameters(nb)
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


def _shown(value: Any, redact: bool) -> str:
    """A parameter value as the report and its errors show it: redacted if asked, no URL credentials."""
    if redact:
        from ..redact import redact_value

        value = redact_value(value)
    text = value if isinstance(value, str) else repr(value)
    # never show credentials embedded in a URL (https://user:pass@host)
    text = re.sub(r"(\w+://)[^/@\s'\"]*@", r"\1", text)
    return text if len(text) <= 200 else text[:197] + "..."


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


def default_parameters(nb: NotebookNode) -> dict[str, Any]:
    """The defaults a notebook's ``parameters`` cell assigns, in order.

    Parameters
    ----------
    nb : nbformat.NotebookNode
        A notebook; its first cell tagged ``parameters`` is read, never run.

    Returns
    -------
    dict of str to value
        Each simple assignment (``n = 10``, ``n: int = 10``) by name: the value when it is a
        Python literal, else its source text (``"float('inf')"``). Empty when the notebook has no
        ``parameters`` cell or the cell is not valid Python.

    Examples
    --------
    >>> from oneinbox_nb.report import default_parameters, resolve_notebook
    >>> import nbformat
    >>> default_parameters(nbformat.read(resolve_notebook("06_fleet"), as_version=4))["recent_days"]
    14
    """
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


def sample_only_parameters(nb: NotebookNode) -> set[str]:
    """Parameters the ``parameters`` cell marks ``# sample only``: they mean nothing on a real account."""
    cell = next((c for c in nb.cells if PARAMETERS_TAG in _tags(c)), None)
    if cell is None:
        return set()
    found = set()
    for line in _source_text(cell).splitlines():
        name, _, comment = line.partition("#")
        if comment.strip().lower().startswith("sample only") and "=" in name:
            found.add(name.split("=", 1)[0].strip())
    return found


def applied_parameters(
    parameters: Mapping[str, Any], *, sample_only: set[str], is_sample: bool
) -> dict[str, Any]:
    """The parameters that applied to a run: no unset (None) ones, no sample-only ones off the sample."""
    return {
        k: v for k, v in parameters.items() if v is not None and (is_sample or k not in sample_only)
    }


def _source_text(cell: Mapping[str, Any]) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else str(source)
