"""The package's imports run one way: from the command line down to the instrument and the file formats."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "src" / "dsa110_continuum"

#: The package's parts from the bottom up; a part may import only parts listed before it.
LAYERS = ["data", "instrument", "naming", "records", "config", "casa", "formats", "sky", "ingest", "simulate", "convert",
          "calibrate", "flag", "image", "mosaic", "science", "products", "ops", "cli"]


def part_of(path: Path) -> str:
    relative = path.relative_to(PACKAGE)
    return relative.parts[0] if len(relative.parts) > 1 else relative.stem


def imported_parts(path: Path) -> set[str]:
    """The package parts a module imports, at module level or inside functions."""
    package = list(path.relative_to(PACKAGE).parts[:-1])
    parts = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if not isinstance(node, ast.ImportFrom):
            continue
        if node.level:
            base = package[:len(package) - node.level + 1]
            target = base + (node.module.split(".") if node.module else [])
            parts |= {target[0]} if target else {alias.name for alias in node.names}
        elif node.module and node.module.split(".")[0] == "dsa110_continuum" and "." in node.module:
            parts.add(node.module.split(".")[1])
    return parts - {part_of(path)}


def test_every_part_of_the_package_has_a_layer():
    parts = {part_of(p) for p in PACKAGE.rglob("*.py")} - {"__init__"}
    assert parts <= set(LAYERS), parts - set(LAYERS)


def test_no_module_imports_a_later_stage():
    backwards = [(str(path.relative_to(PACKAGE)), target) for path in PACKAGE.rglob("*.py")
                 for target in imported_parts(path)
                 if target in LAYERS and LAYERS.index(target) >= LAYERS.index(part_of(path))]
    assert not backwards
