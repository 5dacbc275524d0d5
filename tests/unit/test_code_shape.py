"""The house rules that keep the code readable, checked on every run: modules of one job
(at most 300 lines, page JS and CSS included), functions that fit on a screen (at most
60 lines), tests at most 400 lines a file, every route in the web layer, and the wire
shape of an error built only where docs/architecture.md says ("The error map")."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.support.environment import ROOT

PACKAGE = ROOT / "streamchat"
MAX_MODULE_LINES = 300
MAX_FUNCTION_LINES = 60
MAX_TEST_FILE_LINES = 400


def lines_of(path: Path) -> int:
    return len(path.read_text(encoding="utf-8").splitlines())


def python_sources() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def page_sources() -> list[Path]:
    return sorted(
        p
        for p in (ROOT / "static").rglob("*")
        if p.suffix in {".js", ".css"} and "vendor" not in p.relative_to(ROOT / "static").parts
    )


def test_no_module_of_the_app_or_the_page_is_over_300_lines():
    long = {
        str(path.relative_to(ROOT)): lines_of(path)
        for path in [*python_sources(), *page_sources(), ROOT / "app.py"]
        if lines_of(path) > MAX_MODULE_LINES
    }
    assert long == {}


def test_no_function_is_over_60_lines():
    long = {}
    for path in [*python_sources(), ROOT / "app.py"]:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                length = node.end_lineno - node.lineno + 1
                if length > MAX_FUNCTION_LINES:
                    long[f"{path.relative_to(ROOT)}:{node.name}"] = length
    assert long == {}


def test_no_test_file_is_over_400_lines():
    tests = ROOT / "tests"
    long = {
        str(path.relative_to(ROOT)): lines_of(path)
        for path in [*tests.rglob("*.py"), *tests.rglob("*.mjs")]
        if lines_of(path) > MAX_TEST_FILE_LINES
    }
    assert long == {}


def calls_to(name: str) -> set[str]:
    """The app's modules that call ``name(...)``."""
    found = set()
    for path in [*python_sources(), ROOT / "app.py"]:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == name:
                found.add(str(path.relative_to(ROOT)))
    return found


def test_every_blueprint_is_in_the_web_layer():
    blueprints = calls_to("Blueprint")
    assert blueprints and all(path.startswith("streamchat/web/") for path in blueprints)


def test_the_wire_shape_of_an_error_is_built_only_in_the_web_layer():
    built = calls_to("ApiError")
    assert built and all(
        path.startswith("streamchat/web/") or path == "streamchat/errors.py" for path in built
    ), built
