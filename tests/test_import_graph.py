"""The layers are visible in the tree and kept: no module imports a layer above its own, and no
import cycle appears between modules. Read from the source (ast), imports inside functions included.

    core      nianbao/ (models, spec, identities, readings, document, errors, data, contract_input)
    extract   extract/ingest < extract/parse < extract/narrative < extract/llm, then extract/*.py
    rules     rules/
    flow      app/pipeline, app/runner, app/progress
    rooms     review/, eval/
    commands  app/cli, app/summary

`nianbao/__init__.py` is the package's front door (nianbao.extract(path), nianbao.check, …): it
delegates to the flow layer inside its functions, the one sanctioned upward call.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from conftest import ROOT

PACKAGE_DIRS = {"nianbao": ROOT / "nianbao", "nianbao.extract": ROOT / "extract", "nianbao.rules": ROOT / "rules",
                "nianbao.app": ROOT / "app", "nianbao.review": ROOT / "review", "nianbao.eval": ROOT / "eval"}
FRONT_DOOR = "nianbao"


def _modules() -> dict[str, Path]:
    out: dict[str, Path] = {}
    for pkg, folder in PACKAGE_DIRS.items():
        for path in folder.rglob("*.py"):
            rel = path.relative_to(folder).with_suffix("")
            parts = [p for p in rel.parts if p != "__init__"]
            name = ".".join([pkg, *parts]) if parts else pkg
            if pkg == "nianbao" and parts and parts[0] in ("extract", "rules", "app", "review", "eval"):
                continue
            out[name] = path
    return out


def layer(module: str) -> tuple[int, int]:
    """(layer, rank inside the layer) of a module of ours."""
    if module.startswith("nianbao.extract."):
        sub = module.split(".")[2]
        return 1, {"ingest": 0, "parse": 1, "narrative": 2, "llm": 3}.get(sub, 4)
    if module == "nianbao.extract":
        return 1, 4
    if module.startswith("nianbao.rules"):
        return 2, 0
    if module in ("nianbao.app.cli", "nianbao.app.summary"):
        return 5, 0
    if module.startswith("nianbao.app"):
        return 3, 0
    if module.startswith(("nianbao.review", "nianbao.eval")):
        return 4, 0
    return 0, 0


def _imports(path: Path, module: str) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            out.add(target)
            out.update(f"{target}.{a.name}" for a in node.names)
    return {m for m in out if m == "nianbao" or m.startswith("nianbao.")}


def _graph() -> dict[str, set[str]]:
    mods = _modules()
    graph: dict[str, set[str]] = {}
    for name, path in mods.items():
        graph[name] = {m for m in _imports(path, name) if m in mods and m != name}
    return graph


def test_no_module_imports_a_layer_above_its_own():
    bad = []
    for module, deps in _graph().items():
        if module == FRONT_DOOR:
            continue
        for dep in deps:
            if layer(dep) > layer(module) and not (layer(dep)[0] == layer(module)[0] == 4):
                bad.append(f"{module} → {dep}")
    assert not bad, "\n".join(sorted(bad))


@pytest.mark.slow
def test_the_core_imports_nothing_above_it():
    graph = _graph()
    for module, deps in graph.items():
        if layer(module)[0] == 0 and module != FRONT_DOOR:
            assert all(layer(d)[0] == 0 for d in deps), (module, sorted(deps))


@pytest.mark.slow
def test_no_import_cycle():
    graph = _graph()
    state: dict[str, int] = {}
    cycles: list[list[str]] = []

    def visit(node: str, stack: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph.get(node, ())):
            if nxt == FRONT_DOOR:
                continue
            if state.get(nxt) == 1:
                cycles.append(stack[stack.index(nxt):] + [nxt] if nxt in stack else [node, nxt])
            elif nxt not in state:
                visit(nxt, [*stack, nxt])
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    assert not cycles, "\n".join(" → ".join(c) for c in cycles[:10])
