"""Start-up stays light (issue 21): what ``import oneinbox_nb`` and ``--version``/``--help`` load.

Checked as behaviour, in a fresh interpreter each: the heavy stacks are absent from ``sys.modules``.
How long start-up takes is a figure of ``make bench`` (benchmarks/startup.py), not a test.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = ("pandas", "numpy", "duckdb", "pyarrow", "httpx", "aiohttp", "oneinbox_nb.dataset")


def _loaded_after(code: str) -> list[str]:
    """The modules of HEAVY that a fresh interpreter has loaded after running ``code``."""
    probe = (
        f"{code}\nimport json, sys\nprint(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_import_loads_no_pandas_duckdb_httpx_or_dataset_layer():
    assert _loaded_after("import oneinbox_nb") == []


@pytest.mark.parametrize("argv", [["--version"], ["--help"]])
def test_cli_version_and_help_load_no_heavy_stack(argv):
    code = (
        "import contextlib, io\n"
        "from oneinbox_nb.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    try:\n"
        f"        main({argv!r})\n"
        "    except SystemExit:\n"
        "        pass"
    )
    assert _loaded_after(code) == []


def test_public_names_resolve_on_first_access_to_their_modules():
    import oneinbox_nb as oi
    from oneinbox_nb.dataset import open_dataset
    from oneinbox_nb.frames import CallFrames, to_frames

    assert oi.to_frames is to_frames and oi.CallFrames is CallFrames
    assert oi.open_dataset is open_dataset
    assert set(oi.__all__) <= set(dir(oi))
    with pytest.raises(AttributeError, match="has no attribute 'no_such_name'"):
        oi.no_such_name  # noqa: B018
