"""The layout shows the architecture: the library core imports no study, probe, benchmark, widget or command
line; studies import no probe or benchmark; no module reaches into another's `_private` names; and the
modules import one another without a circle (imports inside functions counted, as they too tie modules)."""
import ast
from pathlib import Path

import pytest

LIB = Path(__file__).resolve().parents[1] / "lib" / "synthrl"
# the layers above the core, each allowed to import the ones before it
STUDIES, PROBES, BENCH = "synthrl.studies", "synthrl.probes", "synthrl.bench"
TOP = ("synthrl.cli", "synthrl.widgets", "synthrl.__main__")


def _name(path: Path) -> str:
    parts = path.relative_to(LIB.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_name(p): p for p in sorted(LIB.rglob("*.py"))}


def _imports(path: Path) -> list[tuple[str, list[str]]]:
    """Every `import synthrl...` / `from synthrl... import names` in a file, at any depth: (module, names)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found += [(a.name, []) for a in node.names if a.name.startswith("synthrl")]
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("synthrl") and not node.level:
            found.append((node.module, [a.name for a in node.names]))
    return found


def _targets(module: str, names: list[str]) -> set[str]:
    """The kit's modules an import statement loads (`from synthrl.studies import x` loads synthrl.studies.x)."""
    out = {module} if module in MODULES else set()
    out |= {f"{module}.{n}" for n in names if f"{module}.{n}" in MODULES}
    return out


GRAPH = {name: set().union(*[_targets(m, ns) for m, ns in _imports(path)] or [set()]) - {name}
         for name, path in MODULES.items()}


def _layer(module: str) -> int:
    if module.startswith(TOP):
        return 3
    for rank, prefix in ((2, PROBES), (2, BENCH), (1, STUDIES)):
        if module == prefix or module.startswith(prefix + "."):
            return rank
    return 0


def test_the_core_imports_no_study_and_studies_no_probe():
    wrong = sorted((a, b) for a, deps in GRAPH.items() for b in deps
                   if _layer(b) > _layer(a) and not b.endswith("__init__"))
    assert not wrong, f"imports from a lower layer into a higher one: {wrong}"


def test_no_module_imports_another_modules_private_names():
    found = []
    for name, path in MODULES.items():
        tree = ast.parse(path.read_text())
        for m, names in _imports(path):
            found += [(name, f"{m}.{n}") for n in names if n.startswith("_") and not n.startswith("__") and m != name]
        aliases = {a.asname or a.name for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
                   and (node.module or "").startswith("synthrl") for a in node.names}
        for node in ast.walk(tree):
            if (isinstance(node, ast.Attribute) and node.attr.startswith("_") and not node.attr.startswith("__")
                    and isinstance(node.value, ast.Name) and node.value.id in aliases):
                found.append((name, f"{node.value.id}.{node.attr}"))
    assert not found, f"private names used across modules: {sorted(set(found))}"


def _cycle() -> list[str] | None:
    state, stack = {}, []

    def visit(node):
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(GRAPH.get(node, ())):
            if state.get(nxt) == "open":
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        state[node] = "done"
        stack.pop()
        return None

    for node in sorted(GRAPH):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_no_import_circle():
    assert _cycle() is None, f"an import circle: {' -> '.join(_cycle())}"


@pytest.mark.parametrize("folder", ["studies", "probes", "bench"])
def test_each_folder_holds_its_kind(folder):
    """studies/ holds the studies (each with run, claims and figures); probes/ and bench/ each module a probe
    with a command line, or a helper the probes share."""
    for path in sorted((LIB / folder).glob("*.py")):
        if path.name == "__init__.py":
            continue
        defined = {n.name for n in ast.parse(path.read_text()).body if isinstance(n, ast.FunctionDef)}
        if folder == "studies":
            assert {"run", "claims", "figures"} <= defined, f"{path.name} is not a study"
        else:
            assert "main" in defined or path.stem in {"cli", "suite", "ct2"}, f"{path.name} has no main(argv)"
