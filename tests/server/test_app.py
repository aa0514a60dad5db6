"""Routing: every operation of the specs (both goodwill paths too) answers where documented."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import conformance.server
from conformance.specs import openapi

from .support import Api

DOCUMENTED = sorted({(op.method.upper(), op.path)
                     for family in openapi.FAMILIES
                     for op in openapi.iter_operations(openapi.load_family(family), family)})


def test_every_family_is_served() -> None:
    assert len(DOCUMENTED) == 11


@pytest.mark.parametrize(("method", "path"), DOCUMENTED, ids=[f"{m} {p}" for m, p in DOCUMENTED])
def test_documented_operation_is_routed(shared_api: Api, method: str, path: str) -> None:
    # Without credentials a routed operation answers 401; a missing route would be 404/405.
    assert shared_api.request(method, path, auth=None).status_code == 401


def test_unknown_paths_are_404(shared_api: Api) -> None:
    for path in ("/v1.1/points", "/v2/points/transferx", "/_test/unknown"):
        response = shared_api.session.get(shared_api.base_url + path, timeout=10)
        assert response.status_code == 404


def test_the_server_imports_nothing_of_the_suite_but_paths() -> None:
    package = Path(conformance.server.__file__).parent
    for module in package.glob("*.py"):
        for node in ast.walk(ast.parse(module.read_text())):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            for name in names:
                if name.startswith("conformance"):
                    assert name == "conformance.paths" or name.startswith("conformance.server"), (
                        f"{module.name} imports {name}")
