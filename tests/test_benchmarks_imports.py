"""Benchmarks stand on the packages (and each other), never on the test suite."""

from __future__ import annotations

import ast
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


def _imported_modules(path: Path) -> list[str]:
    names = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            names.append(node.module or "")
    return names


def test_benchmarks__never_import_tests():
    scripts = sorted(BENCHMARKS.glob("*.py"))
    assert any(p.name == "app_latency.py" for p in scripts)
    for path in scripts:
        modules = _imported_modules(path)
        assert not [m for m in modules if m == "tests" or m.startswith("tests.")], path.name
