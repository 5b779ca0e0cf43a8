"""The page: nbconvert export, offline CSS, the nh3 sanitizer, header and footer, secrets scrub.

:func:`export_html` turns an executed notebook into one self-contained page: figures as inline PNGs,
no reference that a browser would fetch (:func:`_make_offline`), a body allow-listed by
:func:`sanitize_html` under a strict CSP (:func:`_sanitized_page`). :func:`_header_html` writes the
report's header (title, data source, redaction) and its parameter footer; :func:`_scrub_secrets` is
the last line of defence applied to every file written.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .. import display
from ..config import scrub
from ..exceptions import ConfigurationError, OneInboxError
from .notebooks import (
    _INSTALL_HINT,
    _environment_key,
    _shown,
    _source_text,
    applied_parameters,
    resolve_notebook,
    sample_only_parameters,
)

if TYPE_CHECKING:
    from nbformat import NotebookNode

__all__ = ["export_html", "sanitize_html"]

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"

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
        f"<title>{display.html(title)}</title>\n{styles}\n</head>\n"
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


def _source_line(parameters: Mapping[str, Any]) -> str:
    """Where the notebook's calls come from: a ``dataset`` parameter's dataset with its account
    (:attr:`oneinbox_nb.dataset.Dataset.description`), else by the rule of
    :func:`oneinbox_nb.source.choose_source`. A ``dataset`` that is not one raises
    :class:`~oneinbox_nb.exceptions.ConfigurationError`."""
    from ..source import describe_source

    if parameters.get("dataset") is not None:
        from ..dataset import open_dataset

        return open_dataset(parameters["dataset"]).description
    if "source" not in parameters and "base_url" not in parameters:
        return "not recorded: the notebook takes no source or base_url parameter"
    options = {k: parameters[k] for k in ("scenario", "seed", "n") if k in parameters}
    return describe_source(parameters.get("base_url"), parameters.get("source", "auto"), **options)


def _applied(parameters: Mapping[str, Any], notebook_name: str) -> dict[str, Any]:
    """The parameters that applied: set ones, sample-only ones only when the sample was read, and
    no source parameters when a ``dataset`` was read."""
    import nbformat

    from ..source import choose_source

    try:
        path = resolve_notebook(notebook_name.removesuffix(".ipynb"))
        sample_only = sample_only_parameters(nbformat.read(path, as_version=4))
    except (OneInboxError, OSError, ValueError):
        sample_only = set()
    try:
        # a dataset is read as it is: the parameters that would generate sample data do not apply
        is_sample = parameters.get("dataset") is None and (
            choose_source(parameters.get("base_url"), parameters.get("source", "auto")) == "sample"
        )
    except OneInboxError:
        is_sample = False
    applied = applied_parameters(parameters, sample_only=sample_only, is_sample=is_sample)
    if parameters.get("dataset") is not None:  # read from the dataset, not from a source
        applied = {k: v for k, v in applied.items() if k not in ("source", "base_url")}
    return applied


def _value_text(value: Any, redact: bool) -> str:
    """A parameter value as the table shows it: lists as ``a, b``; booleans and numbers through
    :func:`oneinbox_nb.display.setting` (``yes``, ``0.0000001``); text as given (redacted if asked,
    no URL credentials)."""
    if isinstance(value, (list, tuple)):
        return ", ".join(_value_text(v, redact) for v in value)
    if value is None or isinstance(value, (bool, int, float)):
        return display.setting(value)
    return _shown(value, redact)


def _header_html(
    *,
    title: str,
    parameters: Mapping[str, Any],
    generated_at: str,
    redact: bool,
    notebook_name: str,
) -> str:
    from .. import __version__

    esc = display.html
    source = _source_line(parameters)
    parameters = _applied(parameters, notebook_name)
    if redact:
        from ..redact import DEFAULT_REGION, MASKED

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
        f"<tr><td><code>{esc(k)}</code></td><td><code>{esc(_value_text(v, redact))}</code></td></tr>"
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


def _scrub_secrets(text: str) -> str:
    """Remove the value of ONEINBOX_API_KEY and anything key-shaped (the last line of defence)."""
    env_key = _environment_key()
    return scrub(text, env_key) if env_key else scrub(text)
