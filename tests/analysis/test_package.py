"""The analysis package: every public name re-exported from ``oneinbox_nb.analysis``, rooms kept small."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

from oneinbox_nb import analysis
from oneinbox_nb.analysis import _calls, _stats, cost, explain, latency, load

# the function analysis.compare shadows its module's name on the package
compare_module = importlib.import_module("oneinbox_nb.analysis.compare")
QUESTIONS = [latency, cost, load, compare_module, explain]


def test_all_is_sorted_and_names_exist():
    assert analysis.__all__ == sorted(analysis.__all__, key=lambda n: (not n.isupper(), n))
    for name in analysis.__all__:
        assert hasattr(analysis, name), name


def test_every_public_name_of_the_question_modules_is_re_exported_as_the_same_object():
    exported = {n for module in QUESTIONS for n in module.__all__}
    shared = {
        "AGGREGATE_COMPONENTS",
        "DEFAULT_N_BOOT",
        "DEFAULT_SEED",
        "EVENT_COMPONENTS",
        "MIN_CALLS",
        "RESPONSE_COMPONENTS",
        "percentile_label",
        "percentile_list",
        "quantile_interval",
        "ratio_interval",
    }
    assert set(analysis.__all__) == exported | shared
    for module in QUESTIONS:
        for name in module.__all__:
            assert getattr(analysis, name) is getattr(module, name), name
    assert analysis.EVENT_COMPONENTS is _calls.EVENT_COMPONENTS
    assert analysis.percentile_label is _stats.percentile_label
    for name in ("DEFAULT_N_BOOT", "DEFAULT_SEED", "quantile_interval", "ratio_interval"):
        assert getattr(analysis, name) is getattr(_stats, name), name  # the one resampler


def test_each_component_list_is_defined_once_and_says_what_it_holds():
    """Server aggregates and event types are two lists with two names; the response's parts are
    defined once, in the frames, in the order of a turn."""
    import oneinbox_nb.frames as frames

    assert not hasattr(analysis, "COMPONENTS") and not hasattr(frames, "COMPONENTS")
    assert analysis.AGGREGATE_COMPONENTS is frames.AGGREGATE_COMPONENTS
    assert analysis.RESPONSE_COMPONENTS is frames.RESPONSE_COMPONENTS
    assert set(frames.AGGREGATE_COMPONENTS) == {"stt", "llm_ttft", "tts_ttfb", "eou_delay"}
    assert set(analysis.EVENT_COMPONENTS) == {*frames.AGGREGATE_COMPONENTS, "kb", "tool"}
    assert frames.RESPONSE_COMPONENTS == ("eou_delay", "llm_ttft", "kb", "tool", "tts_ttfb")
    assert analysis.MIN_CALLS is _stats.MIN_CALLS
    assert analysis.percentile_label is _stats.percentile_label
    for name in ("DEFAULT_N_BOOT", "DEFAULT_SEED", "quantile_interval", "ratio_interval"):
        assert getattr(analysis, name) is getattr(_stats, name), name  # the one resampler


@pytest.mark.parametrize(
    "path", sorted(Path(analysis.__file__).parent.glob("*.py")), ids=lambda p: p.name
)
def test_no_module_is_over_800_lines(path):
    assert len(path.read_text().splitlines()) <= 800


@pytest.mark.parametrize(
    "path", sorted(Path(analysis.__file__).parent.glob("*.py")), ids=lambda p: p.name
)
def test_no_function_is_over_80_lines(path):
    """Docstring included: a function that needs more is two questions (issue 18)."""
    tree = ast.parse(path.read_text())
    long = {
        node.name: node.end_lineno - node.lineno + 1
        for node in ast.walk(tree)
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
        and node.end_lineno - node.lineno + 1 > 80
    }
    assert long == {}
