"""The shape of the code: functions short enough to read in one go."""

from __future__ import annotations

import ast
import pathlib

MAX_LINES = 100  # from the `def` line to the last line of the body
PARTS = ("runtime", "trainer", "export")
ROOT = pathlib.Path(__file__).resolve().parents[1]


def function_lengths() -> dict[str, int]:
    lengths = {}
    for part in PARTS:
        for path in sorted((ROOT / part).rglob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
            for node in ast.walk(tree):
                if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    where = f"{path.relative_to(ROOT)}:{node.lineno} {node.name}"
                    lengths[where] = node.end_lineno - node.lineno + 1
    return lengths


def test_no_function_is_longer_than_100_lines():
    lengths = function_lengths()
    assert len(lengths) > 300  # the three parts were found
    too_long = {where: n for where, n in lengths.items() if n > MAX_LINES}
    assert too_long == {}, "cut these into named steps"
