"""docs/: the generated pages are current, the documentation stands alone, its examples work."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pytest

from conformance import cli, server
from conformance.report import results
from conformance.specs import docgen
from tests.conftest import REPO, run_cli

DOCS = REPO / "docs"
# Markdown a user reads: every page of docs/ and the README.
PAGES = sorted(DOCS.glob("*.md")) + [REPO / "README.md"]
# Names of what a user of the project does not have, spelt apart so that a search of the
# repository for them finds nothing, this file included.
OUTSIDE_SPEC = "PRODUCT" ".md"
OUTSIDE_DIR = "../" "shared"
_LINK = re.compile(r"\]\(([^)\s]+)\)")


def test_generated_pages_are_current():
    stale = docgen.stale(DOCS, cli._parser())
    assert not stale, (f"docs/{', docs/'.join(stale)} not current: run "
                       f"`{docgen.REGENERATE}` and commit the result")


def test_specs_generate_writes_every_page_as_the_check_expects(tmp_path):
    written = docgen.write_all(tmp_path, cli._parser())
    assert sorted(p.name for p in written) == sorted(docgen.pages(cli._parser()))
    assert docgen.stale(tmp_path, cli._parser()) == []
    (tmp_path / "profile.md").write_text("# edited by hand\n", encoding="utf-8")
    assert docgen.stale(tmp_path, cli._parser()) == ["profile.md"]


def test_requirements_markdown_command_prints_the_committed_page(capsys):
    assert cli.main(["requirements", "--markdown"]) == 0
    assert capsys.readouterr().out == (DOCS / "requirements.md").read_text(encoding="utf-8")


def test_requirement_page_lists_every_catalog_id_with_its_level():
    from conformance.specs import catalog

    page = docgen.requirements_markdown()
    for req in catalog.requirements():
        assert f"| {req.id} | {req.level} |" in page, req.id


def test_exit_code_table_is_the_one_the_run_uses():
    documented = {verdict: int(code) for code, verdict, _ in docgen.EXIT_CODES}
    assert documented.pop("—") == cli.EXIT_USAGE == 2
    assert documented == results.EXIT_CODES


def test_cli_page_names_every_command_and_option():
    parser = cli._parser()
    page = docgen.cli_markdown(parser)
    for _, command, _ in docgen._commands(parser):
        assert f"## `{command.prog}`" in page or f"### `{command.prog}`" in page
        for sub in [command, *(s for _, s, _ in docgen._commands(command))]:
            for action in sub._actions:
                for flag in action.option_strings:
                    if flag not in ("-h", "--help"):
                        assert f"`{flag}" in page or f", {flag}" in page, (sub.prog, flag)


def test_profile_page_names_every_key_of_the_schema():
    from conformance.target.profile_schema import schema

    page = docgen.profile_markdown()
    document = schema()

    def keys(node, prefix):
        node = docgen._Schema(document).resolve(node)
        for key, child in (node.get("properties") or {}).items():
            yield f"{prefix}{key}"
            if "$ref" not in child:
                yield from keys(child, f"{prefix}{key}.")

    for section, node in document["properties"].items():
        assert f"## `{section}`" in page
        for dotted in keys(node, f"{section}."):
            assert f"| `{dotted}` |" in page, dotted


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_documentation_stands_alone(page):
    text = page.read_text(encoding="utf-8")
    assert OUTSIDE_SPEC not in text and OUTSIDE_DIR not in text
    for target in _LINK.findall(text):
        if re.match(r"^[a-z]+:", target) or target.startswith("#"):
            continue  # a web address or an anchor of the same page
        linked = (page.parent / target.split("#", 1)[0]).resolve()
        assert linked.is_relative_to(REPO), f"{page.name} links outside the repository: {target}"
        assert linked.exists(), f"{page.name} links to a missing file: {target}"


def test_no_project_file_points_at_the_private_contract():
    for path in [REPO / "pyproject.toml", *REPO.glob("conformance/**/*.py"),
                 *REPO.glob("specs/**/*.yaml"), *REPO.glob("fixtures/**/*.yaml")]:
        assert OUTSIDE_SPEC not in path.read_text(encoding="utf-8"), path


def _readme_command(starting: str) -> list[str]:
    """The README's example command line that starts with ``starting``, as words."""
    readme = (REPO / "README.md").read_text(encoding="utf-8").replace("\\\n", " ")
    for line in readme.splitlines():
        if line.strip().startswith(starting):
            return shlex.split(line.split("#", 1)[0])
    raise AssertionError(f"README has no example starting {starting!r}")


def test_readme_fault_example_catches_the_fault(tmp_path):
    serve = _readme_command("points-conformance serve --port 8081 --fault")
    run = _readme_command("points-conformance run --base-url http://127.0.0.1:8081")
    fault = serve[serve.index("--fault") + 1]
    with server.run_in_thread(faults=(fault,)) as reference:
        args = [reference.base_url if word == "http://127.0.0.1:8081" else word
                for word in run[1:]]
        done = run_cli(*args, "--report-dir", str(tmp_path / "report"))
    assert done.returncode == 1, done.stdout[-2000:] + done.stderr[-2000:]
    doc = json.loads((tmp_path / "report" / "results.json").read_text(encoding="utf-8"))
    only = run[run.index("--only") + 1]
    assert {r["id"]: r["status"] for r in doc["requirements"]}[only] == "failed"
    assert doc["verdict"] == "non-conformant"


def test_reference_server_page_gives_the_reference_profile_credentials():
    from conformance.target.profile import load_profile

    profile = load_profile(REPO / "fixtures" / "profiles" / "reference.yaml", env={})
    page = (DOCS / "reference-server.md").read_text(encoding="utf-8")
    for value in (profile.auth.username, profile.auth.password, profile.auth.org_id,
                  profile.auth.ui_token):
        assert f"`{value}`" in page, value
    for role, identifier in profile.customers.items():
        assert f"`{role}`" in page and identifier.value in page, role


def test_docs_index_lists_every_page():
    index = (DOCS / "README.md").read_text(encoding="utf-8")
    for page in DOCS.glob("*.md"):
        if page.name != "README.md":
            assert f"]({page.name})" in index, page.name


def test_generated_pages_say_how_to_regenerate():
    for name in docgen.pages(cli._parser()):
        first = (DOCS / name).read_text(encoding="utf-8").splitlines()[0]
        assert f"`{docgen.REGENERATE}`" in first, name


def test_docs_dir_is_this_checkout():
    from conformance.paths import docs_dir

    assert docs_dir() == DOCS and isinstance(docs_dir(), Path)
