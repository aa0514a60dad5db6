"""The reference pages of docs/ that are derived, not written: from the profile, results and
coverage schemas, the requirement catalog and the command line's own parser.

``points-conformance specs generate`` rewrites them; tests/test_docs.py fails when a committed
page differs from what this module makes of today's sources.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from conformance.paths import specs_dir
from conformance.specs import catalog

REGENERATE = "points-conformance specs generate"
# The verdicts and exit codes a run ends with; tests/test_docs.py keeps them equal to
# report.results.EXIT_CODES (this package may not import report).
EXIT_CODES = (
    ("0", "conformant", "every selected MUST requirement passed or is not applicable to the "
                        "program; SHOULD findings never change it"),
    ("1", "non-conformant", "a selected MUST requirement failed and the baseline does not list "
                            "it, or the total coverage fell below `--min-coverage`"),
    ("2", "—", "usage or configuration error, found before the first test: one line naming "
               "the flag or profile key, no traceback, no report directory left behind"),
    ("3", "aborted", "the target stopped answering usably (no answer within "
                     "`target.timeout_s`, a hang-up, an answer over 5 MB, too many calls in a "
                     "row without a usable answer), or the run got SIGINT/SIGTERM"),
    ("4", "incomplete", "no selected MUST failed, but at least one could not be verified: "
                        "skipped (no OTP source, no hook, the budget spent, mutations not "
                        "allowed) or in error (a hook failing)"),
)
AREA_TITLES = {"redemption": "Redemption (v1.1)", "otp": "Validation code (OTP)",
               "reversal": "Reversal (v2)", "transfer": "Transfer (v2)",
               "goodwill": "Goodwill workflow", "contract": "Contract (every operation)",
               "security": "Security advisories"}


def _banner(source: str) -> str:
    return (f"<!-- Generated from {source} by `{REGENERATE}`: edit the source, "
            f"not this page. -->\n")


def _cell(text: Any) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


def _load(name: str) -> dict[str, Any]:
    return json.loads((specs_dir() / name).read_text(encoding="utf-8"))


# --- schemas ----------------------------------------------------------------------------------

class _Schema:
    """One JSON Schema document, read for people: types in words, ``$ref`` followed."""

    def __init__(self, document: dict[str, Any]) -> None:
        self.document = document

    def resolve(self, node: Any) -> dict[str, Any]:
        while isinstance(node, dict) and "$ref" in node:
            extra = {k: v for k, v in node.items() if k != "$ref"}
            _, container, name = node["$ref"].split("/")  # "#/$defs/x" or "#/definitions/x"
            node = {**self.document[container][name], **extra}
        return node if isinstance(node, dict) else {}

    def kind(self, node: Any) -> str:
        """What a value may be, in words (``${VAR}`` alternatives left out)."""
        node = self.resolve(node)
        if "const" in node:
            return f"`{json.dumps(node['const'])}`"
        if "enum" in node:
            return " \\| ".join(f"`{value}`" for value in node["enum"])
        if "anyOf" in node or "oneOf" in node:
            branches = [b for b in node.get("anyOf", node.get("oneOf"))
                        if not str(b.get("$ref", "")).endswith("/envRef")]
            text = " or ".join(dict.fromkeys(self.kind(b) for b in branches))
            if node.get("examples"):
                text += " such as " + ", ".join(f"`{e}`" for e in node["examples"])
            return text
        kinds = node.get("type", "any")
        words = [self._one_kind(k, node) for k in ([kinds] if isinstance(kinds, str) else kinds)]
        text = " or ".join(words)
        if node.get("writeOnly"):
            text += ", secret"
        return text

    def _one_kind(self, kind: str, node: dict[str, Any]) -> str:
        if kind == "integer":
            low = node.get("minimum")
            return "positive integer" if low == 1 else f"integer ≥ {low}" if low is not None \
                else "integer"
        if kind == "number":
            if node.get("exclusiveMinimum") == 0:
                return "positive number"
            return "number ≥ 0" if node.get("minimum") == 0 else "number"
        if kind == "string":
            return {"date-time": "date-time string", "uri": "URL"}.get(node.get("format"),
                                                                      "string")
        if kind == "array":
            return f"list of {self.kind(node.get('items', {}))}"
        return {"object": "mapping", "boolean": "true/false", "null": "null"}.get(kind, kind)


# --- profile ----------------------------------------------------------------------------------

def profile_markdown() -> str:
    """docs/profile.md: every key of a target profile, from specs/profile.schema.json."""
    schema = _Schema(_load("profile.schema.json"))
    root = schema.document
    out = [_banner("specs/profile.schema.json"), "# Target profile reference\n", _PROFILE_INTRO]
    for section, node in root["properties"].items():
        node = schema.resolve(node)
        required = "required" if section in root["required"] else "optional"
        out.append(f"## `{section}` ({required})\n")
        out.append(_cell(node.get("description", "")) + "\n")
        if section == "customers":
            out.append(_CUSTOMERS_NOTE)
        rows = list(_profile_rows(schema, node, section))
        if rows:
            out.append("| key | value | default | |\n|---|---|---|---|")
            out.extend(rows)
            out.append("")
    return "\n".join(out).rstrip() + "\n"


def _profile_rows(schema: _Schema, node: dict[str, Any], prefix: str) -> Iterator[str]:
    required = set(node.get("required") or ())
    for key, child in (node.get("properties") or {}).items():
        yield from _profile_row(schema, child, f"{prefix}.{key}", key in required)
    extra = node.get("additionalProperties")
    if isinstance(extra, dict):
        yield from _profile_row(schema, extra, f"{prefix}.<name>", False)


def _profile_row(schema: _Schema, child: dict[str, Any], dotted: str,
                 required: bool) -> Iterator[str]:
    resolved = schema.resolve(child)
    ref = child.get("$ref", "")
    nested = not ref and ("properties" in resolved
                          or isinstance(resolved.get("additionalProperties"), dict))
    if ref.endswith("/identifier"):
        kind = "identifier"
    elif ref.endswith("/group"):
        kind = '`{id: "…"}`'
    else:
        kind = "mapping" if nested else schema.kind(child)
    if required:
        kind += ", **required**"
    default = resolved.get("default")
    shown = "" if default is None else f"`{json.dumps(default)}`"
    yield f"| `{dotted}` | {kind} | {shown} | {_cell(resolved.get('description', ''))} |"
    if nested:
        yield from _profile_rows(schema, resolved, dotted)


_PROFILE_INTRO = """\
A target profile is a YAML file that says which Points API a run tests, as whom, and under
which program rules. `points-conformance run` without `--profile` uses the reference server's
own profile, `fixtures/profiles/reference.yaml`; to test another implementation, copy
[`fixtures/profiles/staging-example.yaml`](../fixtures/profiles/staging-example.yaml) (every key
explained in comments) and pass it with `--profile`.

The format is the JSON Schema
[`specs/profile.schema.json`](../specs/profile.schema.json). An editor with a YAML language
server completes and checks keys when the file's first line names it, as the examples do:

    # yaml-language-server: $schema=../../specs/profile.schema.json

(the path is relative to the profile; adjust it where you keep your copy).

- **Environment**: any value may read the environment. `${NAME}` is replaced by the variable
  (an error naming the variable and the key when it is not set); `${NAME:-default}` gives the
  default when the variable is unset or empty; `$${` is a literal `${`. A number or true/false
  key may be written as `${NAME}`: the text is read as the number or boolean it spells. Keep
  secrets in the environment, not in the file.
- **`--base-url`** overrides `target.base_url` (the `target` section may then be left out),
  and a `run` flag wins over the profile key that says the same thing. `--base-url` always
  needs `--profile`: the profile names the credentials and customers of that target.
- **Placeholders** in `otp.url`, `otp.command`, `balance.url` and `clock.url`: `{base_url}`,
  `{identifier}` (the key: `mobile`, `email`, …), `{value}`, `{purpose}` (`redeem` or
  `transfer`) and `{points}`. In URLs every value but `{base_url}` is percent-encoded; a
  command is split into words first and run without a shell.
- **Secrets**: `auth.password`, `auth.ui_token` and the values of `target.headers` that are
  credentials by their name (`X-Api-Key`, `X-Gateway-Token`, …) are masked
  wherever the suite writes (reports, logs, the terminal, error messages); `otp.code` is masked
  in the profile the reports show.
- **Errors**: a profile that cannot be used stops the run before the first test with exit
  code 2 and one line naming the file and the dotted key, for example
  `profile my.yaml: program.points_multiple: expected a positive integer, got "ten"`.
  Unknown keys are errors too (a misspelt key would otherwise be silently ignored); an empty
  key counts as absent.
- Relative file names (`target.tls.*`) are read from the profile's folder.
"""

_CUSTOMERS_NOTE = """\
Each role names one customer by exactly one identifier: `{mobile: "447700900001"}`; the key is
one of `mobile`, `email`, `external_id`, `card_number`, `user_id` (quote numbers, so that a
leading zero survives). Before the first test the preflight checks, read-only, that every role
but `unknown` exists on the target and that `unknown` does not.
"""


# --- results.json and coverage.json -----------------------------------------------------------

def formats_markdown() -> str:
    """docs/formats.md: results.json and coverage.json field by field, from their schemas."""
    out = [_banner("specs/results.schema.json and specs/coverage.schema.json"),
           "# results.json and coverage.json, field by field\n",
           "Every run writes both into its report directory. Each names its JSON Schema in "
           "`$schema`; the schemas are\n[`specs/results.schema.json`](../specs/results.schema.json)"
           " and [`specs/coverage.schema.json`](../specs/coverage.schema.json).\nWhat the "
           "verdicts and statuses mean: [results.md](results.md); what coverage counts: "
           "[coverage.md](coverage.md).\n"]
    for name, heading in (("results.schema.json", "results.json"),
                          ("coverage.schema.json", "coverage.json")):
        schema = _Schema(_load(name))
        doc = schema.document
        out.append(f"## {heading}\n\n{_cell(doc.get('description', ''))}\n")
        out.extend(_object_table(schema, doc, ""))
        for def_name, node in doc.get("$defs", doc.get("definitions", {})).items():
            if "properties" in schema.resolve(node):
                out.append(f"### {heading}: `{def_name}`\n")
                if node.get("description"):
                    out.append(_cell(node["description"]) + "\n")
                out.extend(_object_table(schema, node, ""))
    return "\n".join(out).rstrip() + "\n"


def _object_table(schema: _Schema, node: dict[str, Any], prefix: str) -> list[str]:
    rows = ["| field | value | |", "|---|---|---|"]
    rows.extend(_field_rows(schema, node, prefix))
    return [*rows, ""]


def _field_rows(schema: _Schema, node: dict[str, Any], prefix: str) -> Iterator[str]:
    node = schema.resolve(node)
    required = set(node.get("required") or ())
    for key, child in (node.get("properties") or {}).items():
        dotted = f"{prefix}{key}"
        ref = child.get("$ref", "")
        resolved = schema.resolve(child)
        items = resolved.get("items") if resolved.get("type") == "array" else None
        item_ref = items.get("$ref", "") if isinstance(items, dict) else ""
        if ref and "properties" in schema.resolve({"$ref": ref}):
            kind = f"`{ref.rsplit('/', 1)[1]}` (below)"
        elif item_ref and "properties" in schema.resolve({"$ref": item_ref}):
            kind = f"list of `{item_ref.rsplit('/', 1)[1]}` (below)"
        else:
            kind = schema.kind(child)
        if key not in required:
            kind += ", optional"
        yield f"| `{dotted}` | {kind} | {_cell(resolved.get('description', ''))} |"
        if not ref and "properties" in resolved:
            yield from _field_rows(schema, resolved, f"{dotted}.")
        elif not item_ref and isinstance(items, dict) and "properties" in items:
            yield from _field_rows(schema, items, f"{dotted}[].")


# --- requirement catalog ----------------------------------------------------------------------

def requirements_markdown() -> str:
    """docs/requirements.md: the catalog of specs/requirements.yaml, area by area."""
    reqs = catalog.requirements()
    counts = {level: sum(1 for r in reqs if r.level == level) for level in catalog.LEVELS}
    out = [_banner("specs/requirements.yaml"), "# Requirement catalog\n",
           f"{len(reqs)} requirements: {counts['MUST']} MUST, {counts['SHOULD']} SHOULD. Every "
           "test of the suite carries one of these ids. A failed MUST makes a run "
           "non-conformant; a failed SHOULD is reported as an advisory. \"Unchanged\" means the "
           "customer's balance after the call equals the balance before it. Codes are the "
           "business codes of `specs/error-codes.yaml` the requirement accepts; "
           "`points-conformance requirements --codes` lists every documented code with the "
           "requirements that expect it.\n"]
    for area in catalog.AREAS:
        in_area = [r for r in reqs if r.area == area]
        if not in_area:
            continue
        out.append(f"## {AREA_TITLES.get(area, area)}\n")
        out.append("| id | level | requirement | codes |\n|---|---|---|---|")
        for r in in_area:
            codes = " ".join(str(c) for c in r.codes)
            out.append(f"| {r.id} | {r.level} | **{_cell(r.title)}**. {_cell(r.rule)} | "
                       f"{codes} |")
        out.append("")
    return "\n".join(out).rstrip() + "\n"


# --- command line -----------------------------------------------------------------------------

def cli_markdown(parser: argparse.ArgumentParser) -> str:
    """docs/cli.md: every command and option of ``parser`` (the CLI's own), and the exit codes."""
    out = [_banner("the command line's argument parser (conformance/cli.py, "
                   "conformance/suite/options.py)"),
           "# Command-line reference\n",
           f"`{parser.prog}`: {_cell(parser.description or '')} Every command reports a usage "
           f"error in one line and exits 2.\n",
           "## Exit codes of `run`\n",
           "| exit | verdict | when |\n|---|---|---|"]
    out.extend(f"| {code} | {verdict} | {_cell(when)} |" for code, verdict, when in EXIT_CODES)
    out.append("\nThe other commands exit 0 on success, 1 when what they check is not so "
               "(`verify`: a package that differs; `specs check`: a spec problem; `replay`: a "
               "replayed call not fixed) and 2 on a usage error.\n")
    top = _options(parser)
    if top:
        out.append(f"## `{parser.prog}`\n")
        out.extend(top)
    for _name, command, help_text in _commands(parser):
        out.extend(_command_section("##", command, help_text))
        for _, sub, sub_help in _commands(command):
            out.extend(_command_section("###", sub, sub_help))
    return "\n".join(out).rstrip() + "\n"


def _command_section(heading: str, command: argparse.ArgumentParser,
                     help_text: str | None) -> list[str]:
    """One command's heading, usage, help sentence and options table."""
    out = [f"{heading} `{command.prog}`\n", "```\n" + _usage(command) + "\n```\n"]
    if help_text:
        out.append(_cell(help_text[0].upper() + help_text[1:]) + ".\n")
    return out + _options(command)


def _commands(parser: argparse.ArgumentParser
              ) -> Iterator[tuple[str, argparse.ArgumentParser, str]]:
    for action in parser._actions:  # noqa: SLF001 - argparse has no public walk
        if isinstance(action, argparse._SubParsersAction):  # noqa: SLF001
            helps = {choice.dest: choice.help or "" for choice in action._choices_actions}
            for name, sub in action.choices.items():
                yield name, sub, helps.get(name, "")


def _visible(parser: argparse.ArgumentParser) -> list[argparse.Action]:
    return [a for a in parser._actions  # noqa: SLF001
            if a.help != argparse.SUPPRESS
            and not isinstance(a, argparse._HelpAction | argparse._SubParsersAction)]  # noqa: SLF001


def _argument(action: argparse.Action) -> str:
    if action.nargs == 0:
        return ""
    if action.choices is not None and action.metavar is None:
        shown = "|".join(str(c) for c in action.choices)
    else:
        shown = str(action.metavar or action.dest.upper())
    return f"{shown} ..." if action.nargs in ("+", "*") else shown


def _usage(parser: argparse.ArgumentParser) -> str:
    words = []
    for action in _visible(parser):
        if not action.option_strings:
            words.append(_argument(action))
            continue
        flag = max(action.option_strings, key=len)
        text = f"{flag} {_argument(action)}".strip()
        words.append(text if action.required else f"[{text}]")
    if any(True for _ in _commands(parser)):
        words.append("COMMAND")
    lines = [parser.prog]
    for word in words:  # a bracketed option is never split over two lines
        if len(lines[-1]) + 1 + len(word) > 96:
            lines.append("   ")
        lines[-1] += " " + word
    return "\n".join(lines)


def _options(parser: argparse.ArgumentParser) -> list[str]:
    actions = _visible(parser)
    if not actions:
        return []
    rows = ["| argument | default | |", "|---|---|---|"]
    for action in actions:
        names = ", ".join(action.option_strings) or _argument(action)
        argument = _argument(action) if action.option_strings else ""
        default = action.default
        shown = ("" if default in (None, False, [], (), argparse.SUPPRESS) or
                 not action.option_strings or action.nargs == 0 else f"`{default}`")
        shown_names = f"{names} {argument}".strip().replace("|", "\\|")
        rows.append(f"| `{shown_names}` | {shown} | "
                    f"{_cell(action.help or '')} |")
    return [*rows, ""]


# --- writing ----------------------------------------------------------------------------------

def pages(parser: argparse.ArgumentParser) -> dict[str, Callable[[], str]]:
    """docs/ file name -> the function that makes it."""
    return {"profile.md": profile_markdown, "formats.md": formats_markdown,
            "requirements.md": requirements_markdown, "cli.md": lambda: cli_markdown(parser)}


def write_all(docs: Path, parser: argparse.ArgumentParser) -> list[Path]:
    """Rewrite every generated page under ``docs``; the paths written."""
    written = []
    for name, make in pages(parser).items():
        path = docs / name
        path.write_text(make(), encoding="utf-8")
        written.append(path)
    return written


def stale(docs: Path, parser: argparse.ArgumentParser) -> list[str]:
    """The generated pages under ``docs`` that differ from what the sources make today."""
    out = []
    for name, make in pages(parser).items():
        path = docs / name
        if not path.is_file() or path.read_text(encoding="utf-8") != make():
            out.append(name)
    return out
