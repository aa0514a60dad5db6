"""The command line's own surface: --version, help for every option, the exit codes table."""

from __future__ import annotations

import argparse
import re

from conformance import __version__, cli
from conformance.report import results
from tests.conftest import run_cli


def _parsers(parser: argparse.ArgumentParser, name: str = "points-conformance"):
    yield name, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub_name, sub in action.choices.items():
                yield from _parsers(sub, f"{name} {sub_name}")


def test_every_option_of_every_subcommand_has_help():
    missing = []
    for name, parser in _parsers(cli._parser()):
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                # Every subcommand is listed with a line saying what it does.
                listed = {choice.dest for choice in action._choices_actions if choice.help}
                missing += [f"{name} {sub}" for sub in action.choices if sub not in listed]
            elif not action.help or action.help == argparse.SUPPRESS:
                missing.append(f"{name} {'/'.join(action.option_strings) or action.dest}")
    assert not missing, f"options without help: {', '.join(missing)}"


def test_the_walk_sees_the_subcommands_and_their_options():
    # The help test above would pass on nothing: it must see nested commands and options.
    seen = {name: parser for name, parser in _parsers(cli._parser())}
    assert {"points-conformance run", "points-conformance replay",
            "points-conformance specs check"} <= set(seen)
    options = {o for a in seen["points-conformance replay"]._actions for o in a.option_strings}
    assert {"--base-url", "--profile", "--only", "--allow-mutations"} <= options


def test_run_help_ends_with_the_exit_codes_of_every_verdict():
    result = run_cli("run", "--help")
    assert result.returncode == 0
    epilog = result.stdout.split("exit codes:", 1)[1]
    for verdict, code in results.EXIT_CODES.items():
        assert re.search(rf"^\s+{code}\s+{verdict}\s", epilog, re.MULTILINE), verdict
    assert re.search(r"^\s+2\s+-\s+usage", epilog, re.MULTILINE)
    # RawDescriptionHelpFormatter: the table keeps its lines, one code a line.
    assert len([line for line in epilog.splitlines() if re.match(r"\s+\d\s", line)]) == 5


def test_version_prints_the_suite_version():
    result = run_cli("--version")
    assert result.returncode == 0
    assert result.stdout.strip() == f"points-conformance {__version__}"
