"""docs/configuration.md lists every environment variable the code reads, and nothing else.

The code's side is found by parsing its sources with ``ast``, in the ways the code reads
settings: the helpers of streamchat/settings/values.py and their kin called as
``text(source, "NAME", ...)`` (``source`` being the environment merged with create_app's
overrides), ``source.get("NAME")``, and ``os.environ`` / ``os.getenv`` with a name or a
module constant holding one. The docs' side is the first column of every table in
docs/configuration.md whose first header is ``variable``.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

from tests.support.environment import ROOT, settings_read_by_the_code

DOCS = ROOT / "docs" / "configuration.md"
SOURCES = [
    *sorted((ROOT / "streamchat").rglob("*.py")),
    ROOT / "app.py",
    ROOT / "wsgi.py",
    ROOT / "gunicorn.conf.py",
]
# What the settings helpers call the environment mapping they read from (load_settings
# and load_server_settings build it from os.environ plus create_app's overrides).
SETTINGS_MAPPINGS = frozenset({"source", "env"})
ENV_NAME = re.compile(r"[A-Z][A-Z0-9_]*")

# Variables the code reads that are not settings, so docs/configuration.md leaves them
# out. Each entry says why. None today; e.g. a library's internal variable (GEVENT_*)
# that the code reads or sets for its own machinery would go here.
NOT_SETTINGS: frozenset[str] = frozenset()


def module_constants(trees: list[ast.Module]) -> dict[str, str]:
    """Upper-case module-level string constants (``ENV = "PROMETHEUS_MULTIPROC_DIR"``),
    so a read through a constant, even one imported from another module, is found."""
    found: dict[str, set[str]] = {}
    for tree in trees:
        for node in tree.body:
            if (
                isinstance(node, ast.Assign)
                and len(node.targets) == 1
                and isinstance(node.targets[0], ast.Name)
                and node.targets[0].id.isupper()
                and isinstance(node.value, ast.Constant)
                and isinstance(node.value.value, str)
            ):
                found.setdefault(node.targets[0].id, set()).add(node.value.value)
    # A name that means different strings in different modules is not resolved.
    return {name: values.pop() for name, values in found.items() if len(values) == 1}


def os_environ_aliases(tree: ast.Module) -> tuple[set[str], set[str]]:
    """Local names bound by ``from os import environ`` and ``from os import getenv``."""
    environ, getenv = set(), set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module == "os":
            for alias in node.names:
                if alias.name == "environ":
                    environ.add(alias.asname or alias.name)
                if alias.name == "getenv":
                    getenv.add(alias.asname or alias.name)
    return environ, getenv


def names_read_by_the_code() -> set[str]:
    """Every environment variable name the sources read."""
    trees = [ast.parse(path.read_text(), filename=str(path)) for path in SOURCES]
    constants = module_constants(trees)
    return set().union(*(names_read_in(tree, constants) for tree in trees))


def names_read_in(tree: ast.Module, constants: dict[str, str]) -> set[str]:
    """The environment variable names one module reads."""
    environ_aliases, getenv_aliases = os_environ_aliases(tree)

    def string(node: ast.expr) -> str | None:
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            value = node.value
        elif isinstance(node, ast.Name) and node.id.isupper():
            value = constants.get(node.id)
        else:
            return None
        return value if value is not None and ENV_NAME.fullmatch(value) else None

    def is_environment(node: ast.expr) -> bool:
        if isinstance(node, ast.Attribute):  # os.environ
            value = node.value
            return node.attr == "environ" and isinstance(value, ast.Name) and value.id == "os"
        return isinstance(node, ast.Name) and (
            node.id in environ_aliases or node.id in SETTINGS_MAPPINGS
        )

    def is_getenv(func: ast.expr) -> bool:
        if isinstance(func, ast.Attribute):
            return func.attr == "getenv"
        return isinstance(func, ast.Name) and func.id in getenv_aliases

    def key_read(node: ast.AST) -> ast.expr | None:
        """The expression naming the variable ``node`` reads, if it reads one."""
        if isinstance(node, ast.Call):
            func, args = node.func, node.args
            if len(args) >= 2 and is_environment(args[0]):
                return args[1]  # text(source, "NAME", ...), budget(source, "NAME"), ...
            if isinstance(func, ast.Attribute) and func.attr == "get" and args:
                return args[0] if is_environment(func.value) else None  # source.get("NAME")
            if is_getenv(func) and args:
                return args[0]  # os.getenv("NAME")
        if isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Load):
            return node.slice if is_environment(node.value) else None  # os.environ["NAME"]
        if (
            isinstance(node, ast.Compare)
            and len(node.ops) == 1
            and isinstance(node.ops[0], ast.In | ast.NotIn)
            and is_environment(node.comparators[0])
        ):
            return node.left  # "NAME" in os.environ
        return None

    names: set[str] = set()
    for node in ast.walk(tree):
        key = key_read(node)
        if key is not None and (name := string(key)):
            names.add(name)
    return names


def names_documented(path: Path) -> list[str]:
    """The names in the first column of every ``| variable | ...`` table, in order."""
    names: list[str] = []
    in_table = False
    previous = ""
    for line in path.read_text().splitlines():
        if not line.startswith("|"):
            in_table, previous = False, line
            continue
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if not previous.startswith("|"):
            in_table = cells[0] == "variable"  # a header row starts a table
        elif in_table and not set(cells[0]) <= set("-: "):
            quoted = re.findall(r"`([^`]*)`", cells[0])
            assert quoted, f"{path.name}: a row without a `NAME` in its first cell: {line}"
            for name in quoted:
                assert ENV_NAME.fullmatch(name), f"{path.name}: not a variable name: {name!r}"
            names.extend(quoted)
        previous = line
    return names


def test_the_scan_sees_every_way_the_code_reads_settings():
    names = names_read_by_the_code()
    # One name per way of reading: a values.py helper, source.get, an _entries-style
    # helper, budget(), gunicorn's settings, and os.environ through an imported constant.
    assert {
        "OPENAI_API_KEY",
        "RATE_LIMIT",
        "AUTH_USERS",
        "TOKEN_BUDGET",
        "WEB_CONCURRENCY",
        "PROMETHEUS_MULTIPROC_DIR",
    } <= names
    # The simpler scan tests/support uses to keep a developer's settings out of tests
    # finds nothing this one misses.
    assert settings_read_by_the_code() <= names


def test_not_settings_are_still_read():
    assert names_read_by_the_code() >= NOT_SETTINGS, "drop names the code no longer reads"


def test_every_variable_the_code_reads_is_documented():
    missing = names_read_by_the_code() - NOT_SETTINGS - set(names_documented(DOCS))
    assert not missing, f"read by the code, missing from docs/configuration.md: {sorted(missing)}"


def test_every_documented_variable_is_read_by_the_code():
    extra = set(names_documented(DOCS)) - names_read_by_the_code()
    assert not extra, f"in docs/configuration.md, read by nothing: {sorted(extra)}"


def test_each_variable_is_documented_once():
    documented = names_documented(DOCS)
    twice = sorted({name for name in documented if documented.count(name) > 1})
    assert not twice, f"documented more than once: {twice}"


def test_env_example_and_readme_name_only_documented_variables():
    documented = set(names_documented(DOCS))
    example = set(re.findall(r"^# ?([A-Z][A-Z0-9_]*)=", (ROOT / ".env.example").read_text(), re.M))
    readme = set(names_documented(ROOT / "README.md"))
    assert example, "no settings found in .env.example"
    assert readme, "no configuration table found in README.md"
    assert not example - documented, f".env.example names: {sorted(example - documented)}"
    assert not readme - documented, f"README's table names: {sorted(readme - documented)}"
