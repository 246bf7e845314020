"""Import contracts: the packages form layers, and nothing imports in a circle.

    staff -> voice -> tutor -> accounts, common

A package may import only the packages below it. ``accounts`` and ``common`` import nothing
of ours; ``standin`` (the local Realtime API) imports nothing of ours, and only the URL
wiring in ``config`` imports it. ``config`` is the wiring and may import anything; nothing
imports ``config``. Imports inside functions count too: hiding one there does not make a
circle go away. The walk reads the source with ``ast``, so it sees every import whether or
not the code runs.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("config", "common", "accounts", "tutor", "voice", "staff", "standin")
ALLOWED = {
    "common": set(),
    "accounts": set(),
    "tutor": {"accounts", "common"},
    "voice": {"tutor", "accounts", "common"},
    "staff": {"voice", "tutor", "accounts", "common"},
    "standin": set(),
    "config": {"common", "accounts", "tutor", "voice", "staff", "standin"},
}
STANDIN_WIRING = {"config.urls", "config.asgi"}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _resolve(module: str, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    package = module.split(".")
    # In a package's __init__ the package itself is level 1's anchor.
    base = package[: len(package) - node.level + (1 if _is_package(module) else 0)]
    return ".".join([*base, node.module] if node.module else base)


def _is_package(module: str) -> bool:
    return (ROOT / module.replace(".", "/") / "__init__.py").exists()


def _imports(path: Path) -> set[str]:
    """Every module of ours that ``path`` imports, anywhere in the file."""
    module = _module_name(path)
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            target = _resolve(module, node)
            # "from voice import hangups" imports the module voice.hangups.
            names = [f"{target}.{alias.name}" for alias in node.names] + [target]
        else:
            continue
        for name in names:
            if name.split(".")[0] in PACKAGES:
                found.add(_known(name))
    found.discard(module)
    return found


def _known(name: str) -> str:
    """``name`` cut back to a module that exists (``voice.sessions.mint_reserve`` ->
    ``voice.sessions``)."""
    parts = name.split(".")
    while parts:
        candidate = ROOT.joinpath(*parts)
        if candidate.with_suffix(".py").exists() or (candidate / "__init__.py").exists():
            return ".".join(parts)
        parts.pop()
    return name


def _graph() -> dict[str, set[str]]:
    graph = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            if "migrations" in path.parts:
                continue
            graph[_module_name(path)] = _imports(path)
    return graph


GRAPH = _graph()


def test_the_walk_sees_the_imports_it_checks():
    # The contract below would pass on an empty graph: make sure the walk finds real edges.
    assert "voice.sessions" in GRAPH["voice.keys"]
    assert "tutor.models" in GRAPH["voice.sessions"]
    assert "voice.tools.quiz" in GRAPH["voice.tools.runner"]
    assert "standin.transcribe" in GRAPH["standin.call"]  # an import inside a function
    assert "voice.routing" in GRAPH["config.asgi"]
    assert len(GRAPH) > 60


@pytest.mark.parametrize("package", PACKAGES)
def test_each_package_imports_only_the_layers_below_it(package):
    upward = sorted(
        f"{module} imports {target}"
        for module, targets in GRAPH.items()
        if module.split(".")[0] == package
        for target in targets
        if target.split(".")[0] != package and target.split(".")[0] not in ALLOWED[package]
    )
    assert upward == []


def test_only_the_url_wiring_imports_the_standin():
    importers = sorted(
        module
        for module, targets in GRAPH.items()
        if not module.startswith("standin")
        and any(target.split(".")[0] == "standin" for target in targets)
    )
    assert set(importers) <= STANDIN_WIRING
    # The wiring mounts it by name, and only when the setting asks for it.
    assert 'include("standin.urls")' in (ROOT / "config" / "urls.py").read_text()


def test_nothing_imports_in_a_circle():
    cycles: list[list[str]] = []
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(module: str) -> None:
        state[module] = 1
        path.append(module)
        for target in sorted(GRAPH.get(module, ())):
            if target not in GRAPH:
                continue
            if state.get(target) == 1:
                cycles.append([*path[path.index(target) :], target])
            elif target not in state:
                visit(target)
        path.pop()
        state[module] = 2

    for module in sorted(GRAPH):
        if module not in state:
            visit(module)
    assert cycles == []


def _lines(package: str) -> int:
    return sum(
        len(path.read_text().splitlines())
        for path in (ROOT / package).rglob("*.py")
        if "migrations" not in path.parts
    )


def test_no_package_holds_more_than_a_third_of_the_product():
    sizes = {package: _lines(package) for package in PACKAGES}
    total = sum(sizes.values())
    biggest = max(sizes, key=sizes.get)
    assert sizes[biggest] <= total / 3, sizes


def test_no_page_script_is_longer_than_300_lines():
    long = {
        str(path.relative_to(ROOT)): n
        for path in (ROOT / "static").rglob("*.js")
        if (n := len(path.read_text().splitlines())) > 300
    }
    assert long == {}
