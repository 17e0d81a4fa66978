"""The engine's layers: a module imports only from layers below its own (or from its own package).

The rule is written in CONTRIBUTING.md; `LAYERS` below is its machine-readable form. An import that goes up
or sideways (load ↔ alerts, extract ↔ store) fails here with the file, line and the way round it. So does an
import of a module named at run time (`importlib.import_module`, `__import__`), which this check could not see.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ENGINE = Path(__file__).resolve().parents[1] / "src" / "octracker"

#: Package under `octracker` -> rank. Modules directly in `octracker/` (errors, periods, ...) are the shared
#: ground floor, rank 0. Equal ranks are siblings and may not import each other.
LAYERS = {
    "content": 1,
    "extract": 2,
    "store": 2,
    "load": 3,
    "alerts": 3,
    "serve": 4,
    "schedule": 5,
    "cli": 6,
}
SHARED = 0


def room(module: str) -> str:
    """`octracker.store.history` -> `store`; a shared module (`octracker.errors`, or a name imported from one,
    `octracker.errors.SpecError`) or the package itself -> ``: the shared modules are one room, the ground floor."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in LAYERS else ""


def rank(room_name: str) -> int:
    return LAYERS.get(room_name, SHARED)


def module_name(path: Path, engine: Path) -> str:
    relative = path.relative_to(engine.parent).with_suffix("")
    parts = list(relative.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imported_modules(tree: ast.AST, importer: str, is_package: bool) -> list[tuple[int, str]]:
    """(line, module) for every import of an `octracker` module, relative imports resolved."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names if a.name.split(".")[0] == "octracker"]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = importer.split(".")
                base = base[: len(base) - node.level + (1 if is_package else 0)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.split(".")[0] != "octracker":
                continue
            # `from octracker.store import lake` imports the module octracker.store.lake.
            found += [
                (node.lineno, f"{target}.{a.name}" if target.count(".") < 2 and a.name != "*" else target)
                for a in node.names
            ]
    return found


def violations(engine: Path) -> list[str]:
    """Every import against the rule, as `file:line: a -> b (why)`."""
    problems = []
    for path in sorted(engine.rglob("*.py")):
        if path == engine / "__main__.py":  # `python -m octracker`: the entry point stands above every layer
            continue
        importer = module_name(path, engine)
        source_room = room(importer)
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for line, target in imported_modules(tree, importer, path.name == "__init__.py"):
            target_room = room(target)
            if target_room == source_room or target == "octracker":
                continue
            if rank(target_room) < rank(source_room):
                continue
            where = f"{path.relative_to(engine.parent)}:{line}"
            direction = "sideways" if rank(target_room) == rank(source_room) else "up"
            problems.append(
                f"{where}: {importer} -> {target} goes {direction} "
                f"({source_room or 'shared'} {rank(source_room)} -> {target_room or 'shared'} "
                f"{rank(target_room)}); move the shared part down, or pass it in as an argument"
            )
    return problems


#: Calls that import a module whose name is a value, not written in the source.
IMPORTS_BY_NAME = ("import_module", "__import__")


def imports_by_name(engine: Path) -> list[str]:
    found = []
    for path in sorted(engine.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
            if name in IMPORTS_BY_NAME:
                found.append(
                    f"{path.relative_to(engine.parent)}:{node.lineno}: {name}() finds a module by name; write the "
                    "import out (inside a function, to load it only when it is used)"
                )
    return found


def test_no_module_finds_another_by_name():
    assert imports_by_name(ENGINE) == []


def test_the_check_finds_an_import_by_name(tmp_path):
    engine = tmp_path / "octracker"
    engine.mkdir()
    (engine / "kinds.py").write_text('import importlib\n\nreader = importlib.import_module(f"octracker.{kind}")\n')
    found = imports_by_name(engine)
    assert len(found) == 1 and found[0].startswith("octracker/kinds.py:3: import_module()")


def test_every_engine_package_has_a_layer():
    packages = {p.name for p in ENGINE.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    assert packages == set(LAYERS), "a new package needs a rank in LAYERS and in CONTRIBUTING.md"


def test_the_engine_imports_only_downward():
    assert violations(ENGINE) == []


def test_shared_modules_stay_few():
    shared = sorted(p.stem for p in ENGINE.glob("*.py") if p.stem not in {"__init__", "__main__"})
    assert len(shared) <= 10, f"{len(shared)} modules at the top of octracker: {shared}; give them a room"


@pytest.mark.parametrize(
    ("importer", "statement", "expected"),
    [
        ("content/specs.py", "from octracker.store.warehouse import open_writer\n", "goes up"),
        ("load/inbox.py", "from octracker.alerts import deliveries\n", "goes sideways"),
        ("store/history.py", "import octracker.extract.validation\n", "goes sideways"),
        ("extract/tables.py", "from ..store import runs\n", "goes sideways"),
        ("errors.py", "from octracker.content.catalog import Catalog\n", "goes up"),
    ],
)
def test_the_check_finds_imports_against_the_rule(tmp_path, importer, statement, expected):
    engine = tmp_path / "octracker"
    for package in LAYERS:
        (engine / package).mkdir(parents=True)
        (engine / package / "__init__.py").write_text("")
    (engine / "__init__.py").write_text("")
    (engine / importer).write_text(statement)
    (engine / "store" / "warehouse.py").write_text("from octracker.errors import OctrackerError\n")
    found = violations(engine)
    assert len(found) == 1 and expected in found[0] and importer in found[0]
