"""Reports: parameters, execution errors, self-contained HTML, atomic writes and the planted key."""

from __future__ import annotations

import ast
import html
import math
import os
import re
from pathlib import Path
from types import SimpleNamespace

import nbformat
import pytest

import oneinbox_nb
from oneinbox_nb.exceptions import ConfigurationError, NotebookExecutionError
from oneinbox_nb.report import (
    _make_offline,
    _sanitized_page,
    _scrub_secrets,
    _write_atomically,
    available_notebooks,
    build,
    export_html,
    parameterize,
    resolve_notebook,
    sanitize_html,
)

NOTEBOOKS = Path(__file__).parent / "notebooks"
# A planted secret key (fake, 24 hex digits after the marker): it must reach no output byte.
PLANTED = "oi_sk_PLANTED" + "0123456789abcdef01234567"


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    """The toy report, built once with the planted key in the kernel's environment."""
    out_dir = tmp_path_factory.mktemp("reports")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("ONEINBOX_API_KEY", PLANTED)
        # the caller's matplotlib backend must not keep figures out of the report
        mp.setenv("MPLBACKEND", "Agg")
        path = build(
            NOTEBOOKS / "toy_report.ipynb",
            out_dir / "toy.html",
            save_notebook=True,
            seed=3,
            tags=["a", "b"],
        )
    return SimpleNamespace(
        dir=out_dir,
        path=path,
        html=path.read_text(encoding="utf-8"),
        nb=nbformat.read(path.with_suffix(".ipynb"), as_version=4),
    )


# ---------------------------------------------------------------------------------------------
# Built report (one kernel run shared by these tests)
# ---------------------------------------------------------------------------------------------


@pytest.mark.notebook
def test_writes_exactly_the_report_and_notebook(toy):
    assert toy.path == toy.dir / "toy.html"
    assert sorted(p.name for p in toy.dir.iterdir()) == ["toy.html", "toy.ipynb"]  # no temp files


@pytest.mark.notebook
def test_planted_key_reaches_no_output_byte(toy):
    for path in toy.dir.iterdir():
        data = path.read_bytes()
        assert PLANTED.encode() not in data, path.name
        assert b"PLANTED" not in data, path.name
    # ...although the kernel did see it and print it (scrubbed on the way out)
    printed = "".join(
        o.get("text", "") for c in toy.nb.cells if c.cell_type == "code" for o in c.outputs
    )
    assert "the key is ***" in printed
    assert "key in html: ***" in toy.html


@pytest.mark.notebook
def test_header(toy):
    match = re.search(r'<header class="oi-report-header".*?</header>', toy.html, re.DOTALL)
    header = match.group(0)
    assert "<h1>Toy call report</h1>" in header  # the first markdown heading, without emphasis
    assert "<title>Toy call report</title>" in toy.html
    assert re.search(r'<time datetime="\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ">', header)
    # the source rule: ONEINBOX_API_KEY is set (the planted key), base_url is None
    assert "<dt>Data source</dt><dd>OneInbox API at https://api.oneinbox.ai</dd>" in header
    assert f"oneinbox_nb {oneinbox_nb.__version__}" in header
    assert "Redaction</dt><dd>on (phone region US): masked are phone numbers" in header
    assert "caller details the platform holds" in header and "Not masked: names" in header
    # the parameter table is at the end of the report, after the last cell
    footer = re.search(r'<footer class="oi-report-footer".*?</footer>', toy.html, re.DOTALL)
    assert footer and toy.html.index("</footer>") > toy.html.rindex("jp-Cell")
    assert "<table" not in header
    rows = re.findall(
        r"<tr><td><code>(\w+)</code></td><td><code>(.*?)</code></td></tr>", footer.group(0)
    )
    params = {k: html.unescape(v) for k, v in rows}
    # only the parameters that applied, formatted: no unset base_url shown as None (issue 19)
    assert params == {"scenario": "production", "seed": "3", "n": "4", "tags": "a, b"}
    # the heading is shown once, in the header
    assert toy.html.count("<h1") == 1


@pytest.mark.notebook
def test_code_and_prompts_hidden(toy):
    assert "CODE-MARKER" not in toy.html
    assert not re.search(r'class="[^"]*jp-InputArea-editor', toy.html)
    assert 'class="jp-Cell jp-CodeCell jp-Notebook-cell jp-mod-noInput"' in toy.html
    body = toy.html[toy.html.index("<body") :]
    assert not re.search(r"In&nbsp;\[|Out\[|jp-InputPrompt|jp-OutputPrompt", body)


@pytest.mark.notebook
def test_figure_and_table_inline(toy):
    assert re.search(r'<img [^>]*src="data:image/png;base64,[A-Za-z0-9+/]{100}', toy.html)
    assert 'class="dataframe' in toy.html
    # the notebook received redact=True and masked its table; the raw contact never appears
    assert "Call ***-***-0123 or mail j***@***.com" in toy.html
    assert "jane.doe@example.com" not in toy.html
    assert "done: seed=3" in toy.html


@pytest.mark.notebook
def test_self_contained(toy):
    page = toy.html
    assert not re.search(r"<script\b[^>]*\bsrc=", page, re.IGNORECASE)
    assert not re.search(r"<link\b[^>]*href=[\"']?(https?:)?//", page, re.IGNORECASE)
    assert not re.search(r"@import", page, re.IGNORECASE)
    assert not re.search(r"url\([\"']?(https?:)?//", page, re.IGNORECASE)
    for needle in (
        "unpkg",
        "jsdelivr",
        "cdnjs",
        "require.min.js",
        "mathjax",
        "fonts.googleapis",
        "widget-state",
    ):
        assert needle not in page.lower(), needle


@pytest.mark.notebook
def test_widget_views_dropped_from_html_but_state_kept_in_notebook(toy):
    assert "IntSlider(" not in toy.html
    assert "VBox(" not in toy.html
    assert "application/vnd.jupyter.widget-view+json" not in toy.html
    assert "application/vnd.jupyter.widget-state+json" in toy.nb.metadata.widgets


@pytest.mark.notebook
def test_saved_notebook_is_papermill_shaped(toy):
    cells = toy.nb.cells
    index = next(i for i, c in enumerate(cells) if "parameters" in c.metadata.get("tags", []))
    injected = cells[index + 1]
    assert injected.metadata.tags == ["injected-parameters"]
    assert injected.source == "# Parameters\nseed = 3\ntags = ['a', 'b']\nredact = True\n"
    assert all(c.get("execution_count") for c in cells if c.cell_type == "code")
    meta = toy.nb.metadata.oneinbox_nb["report"]
    assert meta["parameters"]["seed"] == 3 and meta["redact"] is True
    nbformat.validate(toy.nb)


@pytest.mark.notebook
def test_show_code(toy):
    page = export_html(toy.nb, hide_code=False, title="t")
    assert "CODE-MARKER" in page
    assert "<title>t</title>" in page


# ---------------------------------------------------------------------------------------------
# Failures and other kernel runs
# ---------------------------------------------------------------------------------------------


@pytest.mark.notebook
def test_failing_cell_raises_and_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ONEINBOX_API_KEY", PLANTED)
    with pytest.raises(NotebookExecutionError) as info:
        build(NOTEBOOKS / "failing.ipynb", n=5, save_notebook=True)
    exc = info.value
    assert exc.cell_index == 3  # markdown, parameters, print, raise: the index in the file
    assert exc.ename == "ValueError"
    assert exc.evalue.startswith("boom 5")
    assert exc.source.startswith("raise ValueError")
    assert "ValueError" in exc.traceback
    assert exc.notebook == "failing.ipynb"
    for text in (str(exc), exc.evalue, exc.traceback, repr(exc)):
        assert "PLANTED" not in text
    assert list(tmp_path.iterdir()) == []  # not even reports/


@pytest.mark.notebook
def test_notebook_without_parameters_cell_gets_redact_and_default_out(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = build(NOTEBOOKS / "no_parameters.ipynb", redact=False)
    assert path == tmp_path / "reports" / "no_parameters.html"
    page = path.read_text()
    assert "redact is False" in page
    assert "Redaction</dt><dd>OFF" in page
    assert "with its default parameters" in page


def test_parameters_for_a_notebook_without_parameters_cell():
    with pytest.raises(ConfigurationError, match="no cell tagged 'parameters'.*seed"):
        build(NOTEBOOKS / "no_parameters.ipynb", seed=1)


# ---------------------------------------------------------------------------------------------
# Parameters (no kernel)
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "parameters",
    [
        {"api_key": "abc"},
        {"ONEINBOX_TOKEN": "abc"},
        {"client_secret": None},
        {"note": "oi_sk_" + "a" * 20},
        {"filters": {"nested": ["x", {"k": "oi_pk_" + "b" * 20}]}},
        {"headers": {"oi_sk_" + "c" * 20: 1}},
    ],
)
def test_refuses_secrets_as_parameters(parameters):
    with pytest.raises(ConfigurationError) as info:
        build(NOTEBOOKS / "toy_report.ipynb", **parameters)
    message = str(info.value)
    assert "ONEINBOX_API_KEY" in message and "written into the report" in message
    assert "aaaa" not in message and "bbbb" not in message and "cccc" not in message


def test_refuses_the_environment_key_even_when_not_key_shaped(monkeypatch):
    monkeypatch.setenv("ONEINBOX_API_KEY", "custom-credential-9f8e7d6c")
    with pytest.raises(ConfigurationError, match="ONEINBOX_API_KEY"):
        build(NOTEBOOKS / "toy_report.ipynb", scenario="x custom-credential-9f8e7d6c")


@pytest.mark.parametrize("value", [object(), {1, 2}, b"bytes", {(1, 2): "tuple key"}])
def test_refuses_values_that_are_not_literals(value):
    with pytest.raises(ConfigurationError, match="parameter 'p'"):
        build(NOTEBOOKS / "toy_report.ipynb", p=value)


def test_parameter_literals_round_trip():
    values = {
        "s": 'it\'s "quoted"\nnew line é',
        "i": -3,
        "f": 0.1,
        "b": False,
        "none": None,
        "one": ("x",),
        "empty": (),
        "nested": {"a": [1, 2.5, None], 3: {"deep": (True,)}},
    }
    nb = parameterize(nbformat.read(NOTEBOOKS / "toy_report.ipynb", as_version=4), values)
    source = next(c.source for c in nb.cells if "injected-parameters" in c.metadata.get("tags", []))
    namespace: dict = {}
    exec(compile(ast.parse(source), "<injected>", "exec"), namespace)
    assert {k: namespace[k] for k in values} == values
    special = parameterize(nb, {"nan": float("nan"), "inf": float("-inf")})
    source = next(
        c.source for c in special.cells if "injected-parameters" in c.metadata.get("tags", [])
    )
    exec(source, namespace)
    assert math.isnan(namespace["nan"]) and namespace["inf"] == float("-inf")
    # re-parameterising replaces the injected cell rather than adding a second one
    assert sum("injected-parameters" in c.metadata.get("tags", []) for c in special.cells) == 1


def test_unknown_notebook_lists_the_available_ones():
    with pytest.raises(ConfigurationError, match="'toy_report'") as info:
        resolve_notebook("no_such_notebook", directory=NOTEBOOKS)
    assert "'failing'" in str(info.value)
    assert available_notebooks(NOTEBOOKS) == ["failing", "no_parameters", "slider", "toy_report"]
    assert resolve_notebook("toy_report", directory=NOTEBOOKS) == NOTEBOOKS / "toy_report.ipynb"
    with pytest.raises(ConfigurationError, match="available notebooks"):
        build("no_such_notebook")
    with pytest.raises(ConfigurationError, match="does not exist"):
        build("missing/elsewhere.ipynb")


# ---------------------------------------------------------------------------------------------
# Last line of defence, offline HTML, atomic writes (no kernel)
# ---------------------------------------------------------------------------------------------


def test_scrub_removes_environment_key_and_key_shaped_strings(monkeypatch):
    monkeypatch.setenv("ONEINBOX_API_KEY", "custom-credential-9f8e7d6c")
    text = _scrub_secrets("a custom-credential-9f8e7d6c b oi_pk_abcdef1234 c oi_sk_" + "9" * 30)
    assert "custom-credential" not in text and "abcdef1234" not in text and "999" not in text
    monkeypatch.setenv("ONEINBOX_API_KEY", "abc")  # too short to search for verbatim
    assert _scrub_secrets("abc abcdef") == "abc abcdef"


def test_make_offline_removes_everything_that_fetches():
    page = """<html><head>
<script src="https://cdnjs.cloudflare.com/ajax/libs/require.js/2.1.10/require.min.js"></script>
<script src='//unpkg.com/x.js' defer></script>
<link rel="stylesheet" href="https://fonts.googleapis.com/css?family=Roboto">
<style>@import url("https://fonts.googleapis.com/css2?family=Inter"); body { background: url(https://x.test/bg.png); }</style>
<script type="module">const m = (await import("https://cdnjs.cloudflare.com/mermaid.mjs")).default;</script>
<script type="application/vnd.jupyter.widget-state+json">{"state": {}}</script>
<script>var local = 1;</script>
</head><body>
<img src="https://x.test/remote.png" alt="remote"><img src="data:image/png;base64,AAAA" alt="inline">
<audio controls src="https://rec.example.com/c1.wav?sig=1"></audio>
<div style="background-image: url('http://x.test/a.png')">styled</div>
<a href="https://docs.oneinbox.ai">docs link stays</a>
<p>text mentioning url(https://example.com) stays as text</p>
</body></html>"""
    out = _make_offline(page)
    assert "require.min.js" not in out and "unpkg" not in out and "fonts.googleapis" not in out
    assert "mermaid" not in out and "widget-state" not in out and "x.test/bg.png" not in out
    assert not re.search(r"\s(src|href)=[\"']?(https?:)?//(?!docs\.oneinbox)", out)
    assert 'data-blocked-src="https://x.test/remote.png"' in out
    assert 'src="data:image/png;base64,AAAA"' in out
    assert "var local = 1;" in out
    assert '<a href="https://docs.oneinbox.ai">' in out
    assert "url(https://example.com) stays as text" in out


HOSTILE_BODY = """
<main><div class="jp-Cell"><p>kept <strong>bold</strong> <code>code</code></p>
<img src="x" onerror="document.title='PWNED'">
<img src=" http://127.0.0.1:9/x" alt="leading space"><img src="\thttps://x.test/t.png">
<img src="data:image/png;base64,AAAA" alt="inline">
<img src="data:image/svg+xml;base64,PHN2Zz4=" alt="svg">
<a href="javascript:alert(1)">js</a><a href=" javascript:alert(1)">js2</a>
<a href="https://x.test/">ext</a><a href="#Load-the-calls">anchor</a>
<script>document.title='SCRIPT'</script><style>body{background:url(https://x.test/b.png)}</style>
<iframe src="https://x.test/"></iframe><svg onload="alert(1)"><circle/></svg>
<div style="background-image:url(https://x.test/a.png);color:red">styled</div>
<div style="color:#666;padding:0 8px" onclick="alert(1)">card</div>
<table class="dataframe"><tr><td rowspan="2">1</td></tr></table></div></main>
"""


def test_sanitize_html_keeps_report_markup_and_drops_everything_live():
    out = sanitize_html(HOSTILE_BODY)
    assert "<strong>bold</strong>" in out and "<code>code</code>" in out
    assert '<img src="data:image/png;base64,AAAA" alt="inline">' in out
    assert '<a href="#Load-the-calls">anchor</a>' in out
    assert '<td rowspan="2">1</td>' in out and '<table class="dataframe">' in out
    assert '<div style="color:#666;padding:0 8px">card</div>' in out
    for gone in (
        "onerror",
        "onclick",
        "onload",
        "javascript",
        "http",
        "<script",
        "SCRIPT",
        "<style",
        "<iframe",
        "<svg",
        "url(",
        "svg+xml",
        "PWNED",
    ):
        assert gone not in out, gone
    assert out.count("<img") == 5  # the images stay, without their addresses


def test_sanitized_page_keeps_template_css_and_adds_a_csp():
    page = (
        "<html><head><title>t</title><script>var x=1</script>"
        '<style>.a { color: red; } @import url("https://x.test/f.css");</style>'
        '<link rel="stylesheet" href="x.css"></head>'
        '<body class="jp-Notebook" onload="alert(1)">' + HOSTILE_BODY + "</body></html>"
    )
    out = _sanitized_page(page, "A <b>title</b>")
    assert "<title>A &lt;b&gt;title&lt;/b&gt;</title>" in out
    assert ".a { color: red; }" in out and "x.test/f.css" not in out and "x.css" not in out
    assert "Content-Security-Policy" in out and "default-src 'none'" in out
    assert "var x=1" not in out and "onload" not in out
    assert '<body class="jp-Notebook"' in out


def test_atomic_write_leaves_nothing_behind_on_failure(tmp_path, monkeypatch):
    target = tmp_path / "r.html"
    target.write_text("old report")

    def refuse(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", refuse)
    with pytest.raises(OSError, match="disk full"):
        _write_atomically([(target, b"new report"), (tmp_path / "r.ipynb", b"{}")])
    monkeypatch.undo()
    assert target.read_text() == "old report"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.html"]
    # a destination whose directory vanished: the first temporary file is removed too
    with pytest.raises(OSError):
        _write_atomically([(target, b"new"), (tmp_path / "gone" / "r.ipynb", b"{}")])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.html"]
    _write_atomically([(target, b"new report")])
    assert target.read_bytes() == b"new report"
    assert target.stat().st_mode & 0o777 == 0o644


@pytest.mark.notebook
def test_cell_timeout_is_a_notebook_execution_error(tmp_path):
    slow = nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_code_cell("import time\ntime.sleep(60)")],
        metadata={
            "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}
        },
    )
    nbformat.write(slow, tmp_path / "slow.ipynb")
    with pytest.raises(NotebookExecutionError, match="did not finish within 1 s") as info:
        build(tmp_path / "slow.ipynb", tmp_path / "slow.html", timeout=1)
    assert (info.value.cell_index, info.value.ename) == (0, "CellTimeoutError")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["slow.ipynb"]


def test_refuses_to_write_html_over_a_notebook(tmp_path):
    with pytest.raises(ConfigurationError, match="names a notebook"):
        build(NOTEBOOKS / "toy_report.ipynb", tmp_path / "toy.ipynb")


def test_an_unknown_parameter_is_refused_before_anything_runs(tmp_path):
    from oneinbox_nb.report import build

    with pytest.raises(ConfigurationError) as caught:
        build(NOTEBOOKS / "toy_report.ipynb", tmp_path / "x.html", sede=3)
    assert str(caught.value) == (
        "toy_report has no parameter 'sede' (did you mean 'seed'?); its parameters: "
        "scenario=production, seed=0, n=4, redact=True, base_url=None, tags=[]"
    )
    assert not any(tmp_path.iterdir())


def test_the_header_names_the_source_by_the_rule(monkeypatch):
    from oneinbox_nb.report import _source_line

    params = {"source": "auto", "base_url": None, "scenario": "production", "seed": 3}
    assert _source_line(params) == (
        "embedded sample API (production, seed 3): sample data, generated because "
        "ONEINBOX_API_KEY is not set"
    )
    monkeypatch.setenv("ONEINBOX_API_KEY", PLANTED)
    monkeypatch.setenv("ONEINBOX_BASE_URL", "https://eu.example.test")
    assert _source_line(params) == "OneInbox API at https://eu.example.test"
    assert _source_line({**params, "source": "sample"}).endswith("asked for explicitly")
    assert _source_line({"n": 4}) == (
        "not recorded: the notebook takes no source or base_url parameter"
    )
