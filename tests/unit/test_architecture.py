"""The design holds: imports point one way, rooms stay small, names live in one module."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from analyzer.results import (
    CARRIER_FILE,
    CLUSTERS_FILE,
    INVESTIGATION_FILE,
    REPORT_CSV_FILE,
    REPORT_MD_FILE,
    SENSITIVITY_FILE,
    SUMMARY_FILE,
    TICKET_FILE,
)
from analyzer.vocabulary import GAP_PATTERNS, LogFormat, Verdict

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "analyzer"
#: The layers, top-level modules and packages of each; a module imports only its own
#: layer and those before it.
LAYERS = (
    ("vocabulary", "errors", "redact", "atomic", "paths", "phones", "schema", "results"),
    ("feedback", "store", "sources", "logs"),
    ("duplicates", "failures", "optouts", "inbound"),
    ("report",),
    ("options", "analyses", "engines", "pipeline", "nightly", "simulate"),
    ("api", "cli", "__init__", "__main__"),
)
LEVEL = {name: i for i, names in enumerate(LAYERS) for name in names}
SOURCES = sorted(PACKAGE.rglob("*.py"))


def _top(path: Path) -> str:
    return path.relative_to(PACKAGE).parts[0].removesuffix(".py")


def _imported(tree: ast.AST) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            parts = node.module.split(".")
            if parts[0] == "analyzer":
                target = parts[1] if len(parts) > 1 else node.names[0].name
                found.append((node.lineno, target))
    return found


def test_every_top_level_module_has_a_layer() -> None:
    assert {_top(p) for p in SOURCES} <= set(LEVEL)


def test_imports_point_one_way() -> None:
    upward = [
        f"{path.relative_to(ROOT)}:{line} imports analyzer.{target}"
        for path in SOURCES
        for line, target in _imported(ast.parse(path.read_text()))
        if target != _top(path) and LEVEL[target] > LEVEL[_top(path)]
    ]
    assert upward == []


def test_no_module_over_600_lines_and_no_function_over_80() -> None:
    big = []
    for path in SOURCES:
        text = path.read_text()
        if text.count("\n") > 600:
            big.append(f"{path.relative_to(ROOT)}: {text.count(chr(10))} lines")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                length = (node.end_lineno or node.lineno) - node.lineno + 1
                if length > 80:
                    big.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name}: {length}")
    assert big == []


def _string_constants(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    return {
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
        and id(node) not in docstrings
    }


@pytest.mark.parametrize(
    ("owner", "names"),
    [
        ("vocabulary.py", [str(v) for v in Verdict]),
        ("vocabulary.py", [str(f) for f in LogFormat]),
        ("vocabulary.py", [p.name for p in GAP_PATTERNS]),
        (
            "results/files.py",
            [
                CLUSTERS_FILE,
                SENSITIVITY_FILE,
                SUMMARY_FILE,
                CARRIER_FILE,
                INVESTIGATION_FILE,
                REPORT_MD_FILE,
                REPORT_CSV_FILE,
                TICKET_FILE,
            ],
        ),
    ],
    ids=["verdicts", "log formats", "gap patterns", "result files"],
)
def test_names_are_written_in_one_module(owner: str, names: list[str]) -> None:
    elsewhere = {
        f"{path.relative_to(ROOT)}: {name!r}"
        for path in SOURCES
        if path.relative_to(PACKAGE).as_posix() != owner
        for name in set(names) & _string_constants(path)
    }
    assert elsewhere == set()


def test_summaries_are_read_by_attribute_not_by_key() -> None:
    by_key = re.compile(r"""summary\w*(\[["']|\.get\(["'])""")
    elsewhere = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for path in SOURCES
        if "results" not in path.relative_to(PACKAGE).parts
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if by_key.search(line)
    ]
    assert elsewhere == []
