"""The package's shape, checked on its source: no import circles, and a core that imports no feature.

The import graph is read from the source with ``ast`` (nothing is imported), counting imports inside
functions, which hide circles at run time; imports under ``if TYPE_CHECKING:`` are left out because
they never run.
"""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parent.parent / "src"

# The core: what a SentenceTransformer needs to load a folder and encode. It may import only itself
# (and third-party packages); features build on it, never the reverse.
CORE = (
    "sentvec._version",
    "sentvec.types",
    "sentvec.inputs",
    "sentvec.paths",
    "sentvec.config",
    "sentvec.tokenizer",
    "sentvec.similarity",
    "sentvec.quantization",
    "sentvec.encoder",
    "sentvec.modules",
    "sentvec.checkpoint",
    "sentvec.positions",
    "sentvec.layout",
    "sentvec.static_format",
    "sentvec.model_card",
    "sentvec.model_folder",
    "sentvec.encode_batches",
    "sentvec.model_features",
    "sentvec.model_settings",
    "sentvec.model",
    "sentvec.extensions",
    "sentvec.store",
)


def _modules() -> dict[str, Path]:
    found = {}
    for path in SRC.rglob("*.py"):
        parts = list(path.relative_to(SRC).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def _is_type_checking_block(node: ast.AST) -> bool:
    if not isinstance(node, ast.If):
        return False
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imported_names(tree: ast.AST, package: str) -> list[str]:
    """Dotted names of everything ``tree`` imports (relative imports resolved), TYPE_CHECKING blocks skipped."""
    names: list[str] = []
    stack = [tree]
    while stack:
        node = stack.pop()
        if _is_type_checking_block(node):
            stack.extend(node.orelse)  # type: ignore[attr-defined]
            continue
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            # `from a import b`: b is a submodule (a.b) or a name defined in a; _graph keeps whichever exists.
            names.extend(f"{module}.{alias.name}" for alias in node.names)
        stack.extend(ast.iter_child_nodes(node))
    return names


def _graph() -> dict[str, set[str]]:
    modules = _modules()

    def resolve(name: str) -> str | None:
        while name and name not in modules:
            name = name.rpartition(".")[0]
        return name or None

    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        imported = _imported_names(ast.parse(path.read_text()), package)
        targets = {resolve(n) for n in imported if n == "sentvec" or n.startswith("sentvec.")}
        graph[name] = {t for t in targets if t and t != name}
    return graph


def _circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    found: list[list[str]] = []
    counter = 0
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def _in(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def test_the_checker_sees_circles_and_function_level_imports() -> None:
    tree = ast.parse("def f():\n    from sentvec.b import x\n")
    assert "sentvec.b.x" in _imported_names(tree, "sentvec")
    assert _circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    typing_only = ast.parse("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from sentvec.b import x\n")
    assert "sentvec.b.x" not in _imported_names(typing_only, "sentvec")


def test_no_import_circles() -> None:
    graph = _graph()
    circles = _circles(graph)
    described = ["; ".join(f"{m} -> {sorted(graph[m] & set(c))}" for m in c) for c in circles]
    assert not circles, "import circles in src/sentvec:\n" + "\n".join(described)


def test_no_module_imports_the_package_face() -> None:
    # The face (sentvec/__init__.py) lazily exposes everything; a module importing it pulls in the world.
    graph = _graph()
    offenders = sorted(name for name, targets in graph.items() if "sentvec" in targets)
    assert not offenders, f"these modules import the package face `sentvec`: {offenders}"


def test_the_core_imports_no_feature() -> None:
    graph = _graph()
    upward = {
        name: sorted(t for t in targets if not _in(t, CORE)) for name, targets in graph.items() if _in(name, CORE)
    }
    upward = {name: targets for name, targets in upward.items() if targets}
    assert not upward, f"core modules importing features: {upward}"


# The faces users run: nothing below them imports them (the command line may start the server).
FACES = {"sentvec.cli": ("sentvec.__main__",), "sentvec.server": ("sentvec.cli",)}


def test_nothing_below_the_command_line_and_the_server_imports_them() -> None:
    graph = _graph()
    offenders = {
        face: sorted(
            name
            for name, targets in graph.items()
            if not _in(name, (face, *allowed)) and any(_in(t, (face,)) for t in targets)
        )
        for face, allowed in FACES.items()
    }
    assert not any(offenders.values()), f"modules importing a face: {offenders}"
