"""Problem codes: PROBLEM_TABLE documents exactly the codes the builders can emit."""

from __future__ import annotations

import ast
from pathlib import Path

import oneinbox_nb.frames
from oneinbox_nb.frames import PROBLEM_TABLE, PROBLEMS, TABLES, to_frames

from .support import minimal_call, rich_call

PACKAGE = Path(oneinbox_nb.frames.__file__).parent


def test_every_problem_code_is_documented():
    call = rich_call()
    call["latency"]["events"].extend(
        [{"turn": 9, "type": "weird", "ms": -1}, {"turn": -1, "type": "stt", "ms": 1e6}]
    )
    call["messages"].append({"role": "tool_call", "tool_call_id": "t9", "arguments": "{"})
    frames = to_frames([call, minimal_call(credits_used=3, duration_seconds=1)])
    codes = set(frames.problems["problem"])
    assert len(codes) >= 8
    assert codes <= set(PROBLEMS)
    assert set(frames.problems["severity"]) <= {severity for severity, _ in PROBLEMS.values()}
    assert frames.calls["n_problems"].sum() == len(frames.problems)


def _code(node: ast.AST | None) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def emitted_codes(source: str) -> set[str]:
    """Problem codes written as literals where a builder reports them.

    ``found.add(pos, location, CODE, ...)`` (or ``add_many``), a local ``add(i, CODE, ...)``, an issue tuple
    ``(i, CODE, ...)`` appended to or extended into a list, and ``return value, (CODE, ...)``.
    """
    codes: set[str | None] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call):
            func, args = node.func, node.args
            if (
                isinstance(func, ast.Attribute)
                and func.attr in ("add", "add_many")
                and len(args) >= 3
            ):
                codes.add(_code(args[2]))
            elif isinstance(func, ast.Name) and func.id == "add" and len(args) >= 2:
                codes.add(_code(args[1]))
            elif isinstance(func, ast.Attribute) and func.attr in ("append", "extend") and args:
                item = args[0].elt if isinstance(args[0], ast.GeneratorExp) else args[0]
                if isinstance(item, ast.Tuple) and len(item.elts) >= 2:
                    codes.add(_code(item.elts[1]))
        elif isinstance(node, ast.Return) and isinstance(node.value, ast.Tuple):
            for part in node.value.elts:
                if isinstance(part, ast.Tuple) and part.elts:
                    codes.add(_code(part.elts[0]))
    return codes - {None}


def test_the_scanner_finds_codes_in_each_way_they_are_written():
    source = (
        "def f(found, add, issues):\n"
        "    found.add(0, 'where', 'one', 1)\n"
        "    found.add_many([0], ['where'], 'six', [1], [None], section=3, seqs=[0])\n"
        "    add(0, 'two')\n"
        "    issues.append((0, 'three', None))\n"
        "    issues.extend((i, 'four') for i in range(2))\n"
        "    return None, ('five', 1, 'detail')\n"
    )
    assert emitted_codes(source) == {"one", "two", "three", "four", "five", "six"}


def test_the_table_lists_exactly_the_codes_the_builders_emit():
    emitted: set[str] = set()
    for path in sorted(PACKAGE.glob("*.py")):
        if path.name != "problems.py":
            emitted |= emitted_codes(path.read_text())
    assert emitted == set(PROBLEMS)
    assert [p.code for p in PROBLEM_TABLE] == sorted(PROBLEMS)


def test_every_code_in_the_table_is_emitted_by_some_input():
    call = rich_call()
    call["latency"]["events"].extend(
        [
            {"turn": 9, "type": "weird", "ms": -1},  # turn mismatch, unknown type, negative
            {"turn": -1, "type": "stt", "ms": 1e6},  # negative turn, absurd
            {"turn": 1, "type": "stt", "ms": "12"},  # numeric string
            {"turn": 1, "type": "stt"},  # no ms
            {"turn": 1, "type": "tts_ttfb", "ms": 170},  # duplicate of events[7]
            {"turn": 2, "type": "tool:", "ms": 5},  # nameless tool
            {"turn": 4, "type": "eou_delay", "ms": 300},  # partial turn
            {"turn": 5, "type": "llm_ttft", "ms": 300},  # interrupted turn
        ]
    )
    call["messages"] += [
        {"role": "tool_call", "tool_call_id": "t9", "name": "x", "arguments": "{"},
        {"role": "tool_result", "tool_call_id": "nobody", "content": "?"},
        {"role": "agent", "content": 5},
        {"role": "system", "content": "be nice"},  # unknown role
    ]
    call["created_at"] = "2025-03-01T09:59:58"  # naive
    call["metadata"]["concurrency_at_dispatch"] = -3  # negative value
    odd = minimal_call(
        "odd",
        status="completed",
        started_at="yesterday",
        credits_used=3,
        duration_seconds=1,
        cost_cents=2**70,
        messages="not a list",
    )
    odd["metadata"] = {"a.b": 1, "a": {"b": 2}, "big": 2**64}  # collision, number as text
    backwards = minimal_call(
        "backwards", started_at="2025-03-01T10:00:00Z", ended_at="2025-03-01T09:00:00Z"
    )
    frames = to_frames([call, odd, backwards, minimal_call("backwards"), {"id": "bare"}])
    assert set(frames.problems["problem"]) == set(PROBLEMS)


def test_each_row_of_the_table_is_complete():
    assert len({p.code for p in PROBLEM_TABLE}) == len(PROBLEM_TABLE)
    for problem in PROBLEM_TABLE:
        assert problem.severity in {"warning", "info"}, problem.code
        assert problem.tables and set(problem.tables) <= set(TABLES), problem.code
        assert problem.meaning and problem.action, problem.code
        assert PROBLEMS[problem.code] == (problem.severity, problem.meaning)
