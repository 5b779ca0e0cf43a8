"""Packaging invariants: conda env == pyproject, the public surface, layering, stripped notebooks."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib
from packaging.requirements import Requirement

import oneinbox_nb

ROOT = Path(__file__).resolve().parents[1]
# conda-forge names that differ from PyPI's
CONDA_NAMES = {}


def _pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def _runtime_requirements() -> dict[str, str]:
    project = _pyproject()["project"]
    reqs = list(project["dependencies"])
    for extra in ("report", "dashboard", "spark"):
        reqs += project["optional-dependencies"][extra]
    parsed = [Requirement(r) for r in reqs]
    return {r.name.lower(): str(r.specifier) for r in parsed}


def _environment_requirements() -> dict[str, str]:
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    found: dict[str, str] = {}
    for dep in env["dependencies"]:
        items = dep["pip"] if isinstance(dep, dict) else [dep]
        for item in items:
            if item.startswith("-e") or item in ("pip",) or item.startswith("python"):
                continue
            req = Requirement(item.replace(" ", ""))
            found[CONDA_NAMES.get(req.name.lower(), req.name.lower())] = str(req.specifier)
    return found


def test_environment_yml_matches_pyproject():
    assert _environment_requirements() == _runtime_requirements()


def test_environment_yml_installs_the_package_itself():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    assert "-e ." in pip


def _imported_distributions(package: Path) -> dict[str, set[str]]:
    """Every third-party distribution the modules under ``package`` import (at any depth: lazy
    imports inside functions count), each with the modules that import it."""
    from importlib.metadata import packages_distributions

    providers = packages_distributions()
    found: dict[str, set[str]] = {}
    for path in sorted(package.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if top in sys.stdlib_module_names or top == "oneinbox_nb":
                    continue
                for dist in providers.get(top, [top]):
                    found.setdefault(dist.lower(), set()).add(path.name)
    return found


def test_the_dataset_engines_are_in_the_base_install():
    """Issue 19: the dataset's engines (DuckDB, ruptures for change points, pyarrow) come with
    ``pip install oneinbox_nb``; only Spark stays an extra."""
    base = {Requirement(r).name.lower() for r in _pyproject()["project"]["dependencies"]}
    imported = _imported_distributions(ROOT / "oneinbox_nb" / "dataset")
    assert {"duckdb", "ruptures", "pyarrow"} <= imported.keys()
    missing = {d: sorted(m) for d, m in imported.items() if d not in base and d != "pyspark"}
    assert missing == {}


def test_python_floor_is_the_same():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    python = next(d for d in env["dependencies"] if isinstance(d, str) and d.startswith("python"))
    assert python.removeprefix("python") == _pyproject()["project"]["requires-python"]


def test_public_names():
    assert oneinbox_nb.__all__ == sorted(oneinbox_nb.__all__)
    for name in oneinbox_nb.__all__:
        assert getattr(oneinbox_nb, name) is not None, name
    expected = {
        "AsyncOneInboxClient",
        "CallFrames",
        "FetchResult",
        "OneInboxClient",
        "OneInboxError",
        "fetch_calls",
        "load_call",
        "to_frames",
    }
    assert expected <= set(oneinbox_nb.__all__)


def test_import_is_light():
    """`import oneinbox_nb` must not pull in the heavy optional stacks."""
    code = (
        "import sys, oneinbox_nb; heavy = [m for m in ('matplotlib.pyplot', 'ipywidgets', "
        "'nbclient', 'nbconvert', 'voila', 'playwright', 'papermill') if m in sys.modules]; "
        "print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


@pytest.mark.parametrize("name", ["analysis", "display", "plots", "report", "sample", "widgets"])
def test_submodules_resolve_lazily(name):
    """`import oneinbox_nb as oi; oi.analysis` works without importing the submodule first."""
    code = (
        "import sys, oneinbox_nb as oi; "
        f"assert 'oneinbox_nb.{name}' not in sys.modules; "
        f"m = oi.{name}; assert m is sys.modules['oneinbox_nb.{name}']; "
        f"assert '{name}' in dir(oi); print(m.__name__)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == f"oneinbox_nb.{name}"


def test_unknown_attribute_still_raises():
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        oneinbox_nb.nope  # noqa: B018


# Lower layers never import higher ones (style.md, guideline 1). A room is a top-level module or a
# package of oneinbox_nb; every module of a package belongs to its room.
LAYERS = [
    "exceptions",
    "config",
    "account",
    "matching",
    "display",
    "client",
    "cache",
    "frames",
    "scope",
    "fetch",
    "redact",
    "analysis",
    "plots",
    "stories",
    "widgets",
]
TOP = {
    "dataset",
    "source",
    "kernel_client",
    "sample",
    "report",
    "dashboard",
    "cli",
    "demo",
    "thresholds",
    "gate",
    "live",
    "options",
    "__main__",
    "__init__",
}
PACKAGE = ROOT / "oneinbox_nb"


def _room_files(room: str) -> list[Path]:
    module = PACKAGE / f"{room}.py"
    return [module] if module.exists() else sorted((PACKAGE / room).rglob("*.py"))


def _rooms() -> set[str]:
    return {p.stem for p in PACKAGE.glob("*.py")} | {
        p.parent.name for p in PACKAGE.glob("*/__init__.py")
    }


def _imports(path: Path) -> set[str]:
    """The rooms of oneinbox_nb that the module at ``path`` imports (its own room included)."""
    package = list(path.relative_to(ROOT).with_suffix("").parts[:-1])  # e.g. oneinbox_nb/analysis
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level >= 1:
            base = package[: len(package) - node.level + 1]
            target = base + (node.module.split(".") if node.module else [])
            if len(target) >= 2:
                found.add(target[1])
            else:
                found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("oneinbox_nb."):
            found.add(node.module.split(".")[1])
        elif isinstance(node, ast.Import):
            found.update(
                a.name.split(".")[1] for a in node.names if a.name.startswith("oneinbox_nb.")
            )
    return found


def test_every_room_has_a_layer():
    assert _rooms() - set(LAYERS) - TOP == set()


@pytest.mark.parametrize("layer", LAYERS)
def test_layering(layer):
    files = _room_files(layer)
    assert files, f"{layer} not present"
    higher = set(LAYERS[LAYERS.index(layer) + 1 :]) | TOP
    for path in files:
        bad = _imports(path) & higher
        assert not bad, f"{path.relative_to(ROOT)} imports higher layers {bad}"


def test_layering_sees_package_imports(tmp_path):
    """The import scan resolves relative imports inside packages to rooms."""
    module = tmp_path / "oneinbox_nb" / "analysis" / "latency.py"
    module.parent.mkdir(parents=True)
    module.write_text("from ..plots import x\nfrom . import _stats\nfrom .load import y\n")
    global ROOT
    saved, ROOT = ROOT, tmp_path
    try:
        assert _imports(module) == {"plots", "analysis"}
    finally:
        ROOT = saved


def test_client_and_sample_do_not_import_pandas():
    for rel in [
        str(p.relative_to(PACKAGE))
        for room in ("client", "config", "exceptions", "cache", "display", "sample")
        for p in _room_files(room)
    ]:
        assert "pandas" not in _imports(ROOT / "oneinbox_nb" / rel) | {
            n.names[0].name
            for n in ast.walk(ast.parse((ROOT / "oneinbox_nb" / rel).read_text()))
            if isinstance(n, ast.Import)
        }, rel


def test_notebooks_are_committed_stripped_with_one_parameters_cell():
    notebooks = sorted((ROOT / "notebooks").glob("*.ipynb"))
    assert notebooks, "no notebooks found"
    for path in notebooks:
        nb = json.loads(path.read_text())
        code = [c for c in nb["cells"] if c["cell_type"] == "code"]
        assert all(not c.get("outputs") and c.get("execution_count") is None for c in code), (
            path.name
        )
        tagged = [c for c in code if "parameters" in c.get("metadata", {}).get("tags", [])]
        assert len(tagged) == 1, f"{path.name}: exactly one parameters cell"


def test_vendored_openapi_matches_shared_contract():
    shared = ROOT.parent / "shared" / "openapi" / "get-call.yaml"
    if not shared.exists():
        pytest.skip("shared/ is not beside this checkout")
    assert (ROOT / "oneinbox_nb" / "openapi" / "get-call.yaml").read_text() == shared.read_text()


def test_staging_a_notebook_saved_with_outputs_strips_them(tmp_path):
    """`make lab` installs nbstripout as a git filter: what is staged has no outputs."""
    import shutil
    import subprocess

    import nbformat

    nbstripout = Path(sys.executable).with_name("nbstripout")
    if shutil.which("git") is None or not nbstripout.exists():
        pytest.skip("needs git and nbstripout (the dev extra)")

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", *args], cwd=tmp_path, check=True, capture_output=True, text=True
        ).stdout

    git("init", "-q")
    (tmp_path / "notebooks").mkdir()
    shutil.copy(ROOT / ".gitattributes", tmp_path / ".gitattributes")
    subprocess.run([str(nbstripout), "--install"], cwd=tmp_path, check=True)
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("1 + 1")])
    nb.cells[0].outputs = [
        nbformat.v4.new_output("execute_result", data={"text/plain": "2"}, execution_count=1)
    ]
    nb.cells[0].execution_count = 1
    nbformat.write(nb, tmp_path / "notebooks" / "saved.ipynb")
    git("add", "notebooks/saved.ipynb")
    staged = nbformat.reads(git("show", ":notebooks/saved.ipynb"), as_version=4)
    assert staged.cells[0].outputs == [] and staged.cells[0].execution_count is None
    # the working copy keeps what JupyterLab saved
    assert nbformat.read(tmp_path / "notebooks" / "saved.ipynb", as_version=4).cells[0].outputs


# Size and privacy (style.md; issue 18): no module over 800 lines, no function whose code (its
# docstring aside) runs over 80 lines, and no room imports another room's private names or modules.
MAX_MODULE_LINES = 800
MAX_FUNCTION_LINES = 80


def _code_lines(function: ast.FunctionDef | ast.AsyncFunctionDef) -> int:
    body = function.body
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        body = body[1:]  # the docstring
    if not body:
        return 0
    start = min([function.lineno, *(d.lineno for d in function.decorator_list)])
    docstring = function.body[0] if body is not function.body else None
    skipped = docstring.end_lineno - docstring.lineno + 1 if docstring else 0
    return function.end_lineno - start + 1 - skipped


def _private_imports(path: Path) -> set[str]:
    """``room.module:name`` for each private name or module of another room that ``path``
    imports (dunders such as ``__version__`` are public)."""
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    own = parts[1]  # the room: a top-level module or a package
    package = parts[:-1]

    def private(name: str) -> bool:
        return name.startswith("_") and not name.startswith("__")

    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if not isinstance(node, ast.ImportFrom):
            continue
        if node.level >= 1:
            target = package[: len(package) - node.level + 1] + (
                node.module.split(".") if node.module else []
            )
        elif (node.module or "").startswith("oneinbox_nb"):
            target = node.module.split(".")
        else:
            continue
        names = [a.name for a in node.names]
        room = target[1] if len(target) >= 2 else None
        for name in names:
            where = room or name  # `from .. import x`: x is the room
            if where == own:
                continue
            if private(name) or any(private(p) for p in target[1:]):
                found.add(f"{'.'.join(target)}:{name}")
    return found


MODULES = sorted(PACKAGE.rglob("*.py"))


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_modules_and_functions_are_short_and_keep_to_public_names(path):
    source = path.read_text()
    assert len(source.splitlines()) <= MAX_MODULE_LINES
    tree = ast.parse(source)
    long = {
        f.name: _code_lines(f)
        for f in ast.walk(tree)
        if isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef))
        and _code_lines(f) > MAX_FUNCTION_LINES
    }
    assert long == {}, f"functions over {MAX_FUNCTION_LINES} lines of code: {long}"
    assert _private_imports(path) == set()


def test_the_size_and_privacy_checks_see_what_they_look_for(tmp_path):
    module = tmp_path / "oneinbox_nb" / "dataset" / "read.py"
    module.parent.mkdir(parents=True)
    body = "\n".join(f"    x{i} = {i}" for i in range(81))
    module.write_text(
        "from ..frames._columns import conform\nfrom ._engine import _arrow\n"
        "from .. import __version__\nfrom ..analysis import _stats\n\n"
        f'def f():\n    """Doc."""\n{body}\n'
    )
    global ROOT
    saved, ROOT = ROOT, tmp_path
    try:
        assert _private_imports(module) == {
            "oneinbox_nb.frames._columns:conform",
            "oneinbox_nb.analysis:_stats",
        }
    finally:
        ROOT = saved
    (function,) = [
        n for n in ast.walk(ast.parse(module.read_text())) if isinstance(n, ast.FunctionDef)
    ]
    assert _code_lines(function) == 82  # the def line and 81 statements; the docstring aside
