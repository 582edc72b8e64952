"""The house's import arrows (README, Layout): every import between our packages goes
down, none goes anywhere else, and the product never imports the dev tools."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("cli", "core", "slack_ui", "bot", "workers", "api_client", "sandbox", "devstack")
# Who may import whom (besides itself). core imports none of ours.
ALLOWED: dict[str, set[str]] = {
    "cli": {"core", "bot", "workers", "sandbox", "devstack"},
    "devstack": {"core", "bot", "workers", "sandbox", "slack_ui", "api_client"},
    "bot": {"core", "workers", "slack_ui", "api_client"},
    "workers": {"core", "slack_ui", "api_client"},
    "slack_ui": {"core", "api_client"},
    "sandbox": {"core", "api_client"},
    "api_client": set(),
    "core": set(),
}
DEV_ONLY_LIBRARIES = {"fakeredis", "flask_sock", "yaml", "playwright", "pytest", "hypothesis"}


def _imports(path: Path) -> set[str]:
    """Top-level names of every module ``path`` imports (at any depth, lazily too)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def _files(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


@pytest.mark.parametrize("package", PACKAGES)
def test_imports_flow_down_only(package: str) -> None:
    wrong = {
        f"{path.relative_to(ROOT)} imports {name}"
        for path in _files(package)
        for name in _imports(path)
        if name in PACKAGES and name != package and name not in ALLOWED[package]
    }
    assert not wrong, sorted(wrong)


@pytest.mark.parametrize("package", [p for p in PACKAGES if p not in ("devstack", "cli")])
def test_the_product_never_imports_dev_tools(package: str) -> None:
    wrong = {
        f"{path.relative_to(ROOT)} imports {name}"
        for path in _files(package)
        for name in _imports(path)
        if name in DEV_ONLY_LIBRARIES | {"devstack", "tests"}
    }
    assert not wrong, sorted(wrong)


def test_benchmarks_do_not_import_the_tests() -> None:
    wrong = [str(p) for p in sorted((ROOT / "bench").glob("*.py")) if "tests" in _imports(p)]
    assert not wrong


def test_there_is_no_circle_between_packages() -> None:
    graph = {p: set(ALLOWED[p]) for p in PACKAGES}
    seen: set[str] = set()

    def visit(node: str, path: tuple[str, ...]) -> None:
        assert node not in path, " -> ".join((*path, node))
        if node in seen:
            return
        for nxt in graph[node]:
            visit(nxt, (*path, node))
        seen.add(node)

    for package in PACKAGES:
        visit(package, ())
