"""examples/ci: every `points-conformance` command the CI files call exists, with those flags."""

from __future__ import annotations

import argparse
import contextlib
import io
import re
import shlex

import pytest
import yaml

from conformance import cli
from conformance.suite import options
from tests.conftest import REPO

EXAMPLES = REPO / "examples" / "ci"
GITHUB, GITLAB = EXAMPLES / "github-actions.yml", EXAMPLES / "gitlab-ci.yml"
# ${{ expression }}, ${NAME} and $NAME: each stands for a value the CI fills in ("1" here).
VARIABLE = re.compile(r"\$\{\{[^}]*\}\}|\$\{\w+\}|\$\w+")
# Tokens after which a shell word is a command (not an argument of one, as in pip install …).
COMMAND_START = {"&&", "||", ";", "|", "(", "then", "do", "time", "!", "exec"}
EXIT_CODES = {"0": "conformant", "1": "non-conformant", "2": "usage", "3": "aborted",
              "4": "incomplete"}


# Where the shell scripts are: a GitHub step's run, a GitLab job's script lists.
SCRIPT_KEYS = ("run", "script", "before_script", "after_script")


def _scripts(node, in_script: bool = False):
    if isinstance(node, str):
        if in_script:
            yield node
    elif isinstance(node, dict):
        for key, value in node.items():
            yield from _scripts(value, key in SCRIPT_KEYS)
    elif isinstance(node, list):
        for value in node:
            yield from _scripts(value, in_script)


def commands(document) -> list[list[str]]:
    """The argument lists of every points-conformance command in the document's scripts."""
    found = []
    for text in _scripts(document):
        for line in text.replace("\\\n", " ").splitlines():
            lexer = shlex.shlex(VARIABLE.sub("1", line), posix=True, punctuation_chars=True)
            lexer.whitespace_split = True
            lexer.commenters = "#"
            tokens = list(lexer)
            for i, token in enumerate(tokens):
                if token == "points-conformance" and (i == 0 or tokens[i - 1] in COMMAND_START):
                    args = []
                    for arg in tokens[i + 1:]:
                        if arg in COMMAND_START:
                            break
                        args.append(arg)
                    found.append(args)
    return found


def parse(args: list[str]) -> argparse.Namespace:
    """The command line as the CLI itself parses it; AssertionError naming what it refused."""
    stderr = io.StringIO()
    try:
        with contextlib.redirect_stderr(stderr):
            parsed = cli._parser().parse_args(args)
    except SystemExit:
        raise AssertionError(f"points-conformance {' '.join(args)}: "
                             f"{stderr.getvalue().strip().splitlines()[-1]}") from None
    if parsed.command == "run" and parsed.shard is not None:
        options.parse_shard(parsed.shard)
    return parsed


def _load(path):
    return yaml.safe_load(path.read_text(encoding="utf-8"))


@pytest.mark.parametrize("path", [GITHUB, GITLAB], ids=lambda p: p.name)
def test_every_command_exists_with_its_flags(path):
    found = commands(_load(path))
    assert found, "no points-conformance command found"
    parsed = [parse(args) for args in found]
    runs = [p for p in parsed if p.command == "run"]
    gates = [p for p in runs if p.shard is None]
    deep = [p for p in runs if p.shard is not None]
    merges = [p for p in parsed if p.command == "merge"]
    assert len(gates) == 1 and gates[0].report_dir is not None
    assert len(deep) == 1 and deep[0].max_examples == 500
    assert deep[0].seed is not None  # shards of one run must share the seed
    assert options.parse_shard(deep[0].shard)[1] == 4
    assert len(merges) == 1 and merges[0].report_dir is not None


@pytest.mark.parametrize("path", [GITHUB, GITLAB], ids=lambda p: p.name)
def test_the_comments_explain_every_exit_code(path):
    text = path.read_text(encoding="utf-8")
    for code, meaning in EXIT_CODES.items():
        assert re.search(rf"^#\s+{code}\s+{meaning}", text, re.MULTILINE), (code, meaning)


def test_github_publishes_junit_keeps_the_html_and_runs_four_shards_then_merges():
    jobs = _load(GITHUB)["jobs"]
    gate_dir = str(parse(commands(jobs["gate"])[0]).report_dir)
    steps = jobs["gate"]["steps"]
    junit = [s["with"]["report_paths"] for s in steps if "junit" in s.get("uses", "")]
    kept = [s["with"]["path"] for s in steps if "upload-artifact" in s.get("uses", "")]
    assert junit == [f"{gate_dir}/junit.xml"]
    assert [k.rstrip("/") for k in kept] == [gate_dir]
    assert jobs["deep-shard"]["strategy"]["matrix"]["shard"] == [1, 2, 3, 4]
    assert jobs["deep-merge"]["needs"] == "deep-shard"
    merged_dir = str(parse(commands(jobs["deep-merge"])[0]).report_dir)
    assert any(s.get("with", {}).get("path", "").rstrip("/") == merged_dir
               for s in jobs["deep-merge"]["steps"] if "upload-artifact" in s.get("uses", ""))


def test_gitlab_publishes_junit_keeps_the_html_and_runs_four_shards_then_merges():
    doc = _load(GITLAB)
    gate = doc["conformance-gate"]
    gate_dir = str(parse(commands(gate)[0]).report_dir)
    assert gate["artifacts"]["reports"]["junit"] == f"{gate_dir}/junit.xml"
    assert [p.rstrip("/") for p in gate["artifacts"]["paths"]] == [gate_dir]
    assert gate["artifacts"]["when"] == "always"
    deep = doc["conformance-deep"]
    assert deep["parallel"]["matrix"] == [{"SHARD": ["1", "2", "3", "4"]}]
    assert doc["conformance-merge"]["needs"][0]["job"] == "conformance-deep"
    merge = parse(commands(doc["conformance-merge"])[0])
    assert [str(d) for d in merge.shard_dirs] == [f"reports/shard-{i}" for i in range(1, 5)]


def test_the_check_refuses_a_flag_the_cli_does_not_have():
    with pytest.raises(AssertionError, match="--no-such-flag"):
        parse(commands({"run": "points-conformance run --no-such-flag 1"})[0])
    with pytest.raises(AssertionError, match="invalid choice"):
        parse(commands({"run": "pip install x && points-conformance shard 1/4"})[0])
    assert commands({"run": "pip install points-conformance"}) == []
