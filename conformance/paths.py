"""Where the specs and fixtures live, in a checkout and in an installed package."""

from __future__ import annotations

import importlib.util
from pathlib import Path

_REPO_ROOT = Path(__file__).resolve().parent.parent


def _locate(top_level: str, packaged: str) -> Path:
    # A checkout (or editable install) reads the top-level folder so that edits show at once;
    # a wheel carries a copy inside the package.
    in_repo = _REPO_ROOT / top_level
    if in_repo.is_dir() and (_REPO_ROOT / "pyproject.toml").is_file():
        return in_repo
    # specs/ and fixtures/ have no __init__.py, so the installed copies are namespace packages:
    # their search location is the real folder (resources.files() would give a wrapper object).
    spec = importlib.util.find_spec(packaged)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(f"{top_level}/ is neither in a checkout nor installed")
    return Path(list(spec.submodule_search_locations)[0])


def specs_dir() -> Path:
    return _locate("specs", "conformance._specs")


def fixtures_dir() -> Path:
    return _locate("fixtures", "conformance._fixtures")


def docs_dir() -> Path | None:
    """docs/ of a checkout, where the generated reference pages live; None when installed."""
    docs = _REPO_ROOT / "docs"
    return docs if docs.is_dir() and (_REPO_ROOT / "pyproject.toml").is_file() else None
