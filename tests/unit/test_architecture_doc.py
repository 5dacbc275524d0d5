"""docs/architecture.md's layer table and pyproject.toml's layers contract are one source
of truth: the table the next reader sees is the one lint-imports enforces."""

from __future__ import annotations

import re
import tomllib

from tests.support.environment import ROOT


def layers_in_the_doc() -> list[str]:
    text = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    table = text.split("| layer (top first) | holds |", 1)[1].split("\n\n", 1)[0]
    rows = [row for row in table.splitlines()[2:] if row.startswith("| `")]
    first_cells = [row.split(" | ")[0] for row in rows]
    return [" | ".join(re.findall(r"`(streamchat[\w.]*)`", cell)) for cell in first_cells]


def layers_in_the_contract() -> list[str]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    contracts = config["tool"]["importlinter"]["contracts"]
    (layers,) = [c["layers"] for c in contracts if c["type"] == "layers"]
    return [" | ".join(part.strip() for part in layer.split("|")) for layer in layers]


def test_the_doc_and_the_contract_name_the_same_layers_in_the_same_order():
    doc = layers_in_the_doc()
    assert len(doc) >= 5
    assert doc == layers_in_the_contract()


def test_every_package_of_streamchat_is_in_a_layer():
    named = {name for row in layers_in_the_contract() for name in row.split(" | ")}
    packages = {
        f"streamchat.{path.parent.name if path.name == '__init__.py' else path.stem}"
        for path in (ROOT / "streamchat").glob("*/__init__.py")
    } | {f"streamchat.{path.stem}" for path in (ROOT / "streamchat").glob("*.py")}
    assert packages - {"streamchat.__init__"} == named
