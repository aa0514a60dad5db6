"""The house keeps its rules: the import rules of ARCHITECTURE.md, no import cycle, and a
registry in which every requirement id, test and check points at the others.

The import rules are read from ARCHITECTURE.md's table, so the page and the code cannot drift:
a rule broken in the code fails here, and so does a package the page does not mention.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import re
from pathlib import Path

import pytest

from conformance.checks import contract, judge
from conformance.specs import catalog

REPO = Path(__file__).resolve().parent.parent
PACKAGE = REPO / "conformance"
ARCHITECTURE = REPO / "ARCHITECTURE.md"
ALWAYS_ALLOWED = {"conformance", "paths"}  # __version__ and the files' locations


# --- reading the code's imports ---------------------------------------------------------------

def module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def _type_checking_only(node: ast.AST, parents: dict[ast.AST, ast.AST]) -> bool:
    while node in parents:
        node = parents[node]
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            return True
    return False


def imports(source: str, known: set[str], *, top_level_only: bool = False) -> set[str]:
    """The conformance modules ``source`` imports (``from pkg import module`` names the
    module); with ``top_level_only``, only those imported when the module itself is."""
    tree = ast.parse(source)
    parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
    found: set[str] = set()
    for node in ast.walk(tree):
        if top_level_only and (_type_checking_only(node, parents) or any(
                isinstance(p, (ast.FunctionDef, ast.AsyncFunctionDef))
                for p in _ancestors(node, parents))):
            continue
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("conformance"))
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("conformance"):
            for alias in node.names:
                candidate = f"{node.module}.{alias.name}"
                found.add(candidate if candidate in known else node.module)
    return found


def _ancestors(node: ast.AST, parents: dict[ast.AST, ast.AST]):
    while node in parents:
        node = parents[node]
        yield node


def package_of(module: str) -> str:
    """``conformance.suite.steps.common`` -> ``suite``; ``conformance.cli`` -> ``cli``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "conformance"


# --- the rules, as ARCHITECTURE.md states them ------------------------------------------------

def rules(text: str) -> dict[str, set[str] | None]:
    """package -> the packages it may import (None: any), from the page's import-rule table."""
    table = text.split("## Import rules", 1)[1]
    found: dict[str, set[str] | None] = {}
    for line in table.splitlines():
        match = re.match(r"\|\s*`(\w+)`\s*\|(.*)\|\s*$", line)
        if match:
            allowed = match.group(2)
            found[match.group(1)] = None if "anything" in allowed else set(
                re.findall(r"`(\w+)`", allowed))
    return found


def violations(allowed: dict[str, set[str] | None],
               graph: dict[str, set[str]]) -> list[str]:
    """Every import that breaks a rule, and every package that has no rule."""
    problems = []
    for module, imported in sorted(graph.items()):
        package = package_of(module)
        if module == "conformance":  # the package's __init__: its version
            problems += [f"conformance/__init__.py imports {target}" for target in imported]
            continue
        if package not in allowed:
            problems.append(f"{module}: package {package!r} has no rule in ARCHITECTURE.md")
            continue
        may = allowed[package]
        for target in sorted(imported):
            other = package_of(target)
            if may is None or other in (package, *ALWAYS_ALLOWED) or other in may:
                continue
            problems.append(f"{module} imports {target}: {package} may not import {other}")
        for target in sorted(imported):
            if re.search(r"\.test_\w+$", target) and not module.split(".")[-1].startswith(
                    "test_"):
                problems.append(f"{module} imports the test module {target}")
    return problems


def import_graph(*, top_level_only: bool = False) -> dict[str, set[str]]:
    found = modules()
    known = set(found)
    return {name: imports(path.read_text(encoding="utf-8"), known,
                          top_level_only=top_level_only) for name, path in found.items()}


def cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle of ``graph``, or None."""
    state: dict[str, str] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt == node or nxt not in graph:
                continue
            if state.get(nxt) == "open":
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        stack.pop()
        state[node] = "done"
        return None

    for node in sorted(graph):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def test_every_import_keeps_the_rules_of_architecture_md():
    allowed = rules(ARCHITECTURE.read_text(encoding="utf-8"))
    assert violations(allowed, import_graph()) == []


def test_a_broken_rule_is_caught():
    allowed = rules(ARCHITECTURE.read_text(encoding="utf-8"))
    graph = import_graph()
    graph["conformance.suite.plugin"] = graph["conformance.suite.plugin"] | {
        "conformance.server.launch", "conformance.suite.test_contract"}
    graph["conformance.attic.thing"] = set()
    assert violations(allowed, graph) == [
        "conformance.attic.thing: package 'attic' has no rule in ARCHITECTURE.md",
        "conformance.suite.plugin imports conformance.server.launch: suite may not import "
        "server",
        "conformance.suite.plugin imports the test module conformance.suite.test_contract",
    ]


def test_every_package_of_the_tree_has_a_rule_and_the_rules_form_no_cycle():
    allowed = rules(ARCHITECTURE.read_text(encoding="utf-8"))
    packages = {package_of(name) for name in modules()} - {"conformance"}
    assert packages <= set(allowed), packages - set(allowed)
    assert cycle({package: may or set() for package, may in allowed.items()}) is None


def test_no_import_cycle_between_modules():
    assert cycle(import_graph(top_level_only=True)) is None


def test_a_cycle_is_caught():
    assert cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]


# --- the registry: ids, tests and checks point at each other ----------------------------------

SUITE_MODULES = sorted(name for name in modules()
                       if re.match(r"conformance\.suite\.test_\w+$", name))


def requirement_marks() -> dict[str, set[str]]:
    """test function (module::name) -> the requirement ids its marker names."""
    found: dict[str, set[str]] = {}
    for name in SUITE_MODULES:
        module = importlib.import_module(name)
        for attr, value in vars(module).items():
            if attr.startswith("test_") and callable(value):
                ids = {req_id for mark in getattr(value, "pytestmark", [])
                       if mark.name == "requirement" for req_id in mark.args}
                found[f"{name}::{attr}"] = ids
    return found


def test_every_test_names_requirement_ids_and_every_id_is_in_the_catalog():
    known = {r.id for r in catalog.requirements()}
    marks = requirement_marks()
    assert marks, "no suite test found"
    assert [test for test, ids in marks.items() if not ids] == []
    assert {test: ids - known for test, ids in marks.items() if ids - known} == {}


def test_every_catalog_id_has_a_test():
    tested = set().union(*requirement_marks().values())
    assert [r.id for r in catalog.requirements() if r.id not in tested] == []


def test_every_check_maps_to_a_catalog_id():
    known = {r.id for r in catalog.requirements()}
    mapped = {**contract.CHECK_IDS,
              **{f"stateful {k}": v for k, v in contract.STATEFUL_IDS.items()},
              **{f"judge {k}": v for k, v in judge.CHECK_IDS.items()}}
    assert {check: req_id for check, req_id in mapped.items() if req_id not in known} == {}
    # Every check function the contract module defines is registered under an id ...
    defined = {name for name, value in vars(contract).items() if inspect.isfunction(value)
               and list(inspect.signature(value).parameters) == ["ctx", "response", "case"]}
    assert defined == set(contract.CUSTOM_CHECKS)
    # ... and every built-in check named is one schemathesis has.
    import schemathesis.specs.openapi.checks  # noqa: F401 (registers the built-in checks)
    from schemathesis.checks import CHECKS

    assert set(contract.BUILTIN_CHECKS) <= set(CHECKS.get_all_names()), schemathesis.__version__


@pytest.mark.parametrize("package", ["core", "specs", "target", "checks", "report", "suite",
                                     "run", "server"])
def test_every_package_says_what_it_is_for(package):
    assert ast.get_docstring(ast.parse((PACKAGE / package / "__init__.py").read_text())), package
