"""specs/profile.schema.json: the one statement of the profile format, for the loader and editors.

tests/test_profile.py holds the loader's error messages; this file holds the schema itself,
the example profiles against it, and the target section's connection keys.
"""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import jsonschema
import pytest
import yaml

from conformance.target.connection import Connection, Tls
from conformance.target.profile import ProfileError, load_profile
from conformance.target.profile_schema import schema
from conformance.target.redaction import MASK, REDACTOR
from tests.conftest import REPO

PROFILES = sorted((REPO / "fixtures" / "profiles").glob("*.yaml"))
ENV = {"POINTS_API_USER": "qa-user", "POINTS_API_PASSWORD": "Schema-Secret-9",
       "POINTS_UI_TOKEN": "ui-token-xyz"}
BASE = """\
target:
  base_url: http://127.0.0.1:8080
{target}auth:
  username: ${{POINTS_API_USER}}
  password: ${{POINTS_API_PASSWORD}}
program:
  points_multiple: 10
  min_redeem: 50
  max_redeem: 1000
customers:
  spender: {{mobile: "447700900001"}}
"""
_MODELINE = re.compile(r"^# yaml-language-server: \$schema=(\S+)$")


def profile_with(tmp_path: Path, target: str = "", extra: str = "") -> Path:
    path = tmp_path / "p.yaml"
    path.write_text(BASE.format(target=textwrap.indent(textwrap.dedent(target), "  ")) + extra,
                    encoding="utf-8")
    return path


def error_of(path: Path, env: dict | None = None) -> str:
    with pytest.raises(ProfileError) as info:
        load_profile(path, env=ENV if env is None else env)
    message = str(info.value)
    assert "\n" not in message and message.startswith(f"profile {path}: ")
    return message.split(": ", 1)[1]


def test_schema_is_a_valid_json_schema_editors_read():
    document = schema()
    jsonschema.validators.validator_for(document).check_schema(document)
    assert document["$id"].endswith("/profile.schema.json")
    # yaml-language-server reads draft-07 and shows an errorMessage as it is: one text.
    assert document["$schema"] == "http://json-schema.org/draft-07/schema#"

    def messages(node):
        if isinstance(node, dict):
            if "errorMessage" in node:
                yield node["errorMessage"]
            for value in node.values():
                yield from messages(value)
        elif isinstance(node, list):
            for value in node:
                yield from messages(value)

    found = list(messages(document))
    assert found and all(isinstance(text, str) for text in found)


@pytest.mark.parametrize("path", PROFILES, ids=lambda p: p.name)
def test_example_profiles_name_the_schema_for_editors(path):
    first = path.read_text(encoding="utf-8").splitlines()[0]
    match = _MODELINE.match(first)
    assert match, f"{path.name} does not start with the yaml-language-server modeline"
    assert (path.parent / match.group(1)).resolve() == REPO / "specs" / "profile.schema.json"


@pytest.mark.parametrize("path", PROFILES, ids=lambda p: p.name)
def test_example_profiles_as_written_satisfy_the_published_schema(path):
    # What an editor sees: ${VAR} unresolved. The published schema must not flag it.
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    validator = jsonschema.validators.validator_for(schema())(schema())
    assert [e.message for e in validator.iter_errors(data)] == []
    load_profile(path, env=ENV)  # and the loader accepts it


def test_editor_schema_takes_env_references_the_loader_resolves(tmp_path):
    validator = jsonschema.validators.validator_for(schema())(schema())
    text = BASE.format(target="").replace("points_multiple: 10", "points_multiple: ${MULT}")
    assert list(validator.iter_errors(yaml.safe_load(text))) == []
    path = tmp_path / "p.yaml"
    path.write_text(text, encoding="utf-8")
    assert load_profile(path, env={**ENV, "MULT": "5"}).program.points_multiple == 5
    # A value that still reads "${…}" after substitution is no number.
    path.write_text(text.replace("${MULT}", "$${MULT}"), encoding="utf-8")
    assert error_of(path) == 'program.points_multiple: expected a positive integer, got "${MULT}"'


def test_schema_and_loaded_profile_have_the_same_keys(tmp_path):
    """Every key the schema states is one the Profile carries, and the other way round."""
    loaded = load_profile(REPO / "fixtures" / "profiles" / "reference.yaml", env={})
    shown = loaded.redacted_dict()
    shown.pop("path")
    properties = schema()["properties"]
    assert set(shown) == set(properties)
    for section in ("target", "auth", "program"):
        assert set(shown[section]) == set(properties[section]["properties"]), section
    assert set(shown["target"]["tls"]) == set(properties["target"]["properties"]["tls"]
                                              ["properties"])
    assert set(shown["otp"]) == set(properties["otp"]["properties"])


def test_connection_keys_load(tmp_path):
    (tmp_path / "ca.pem").write_text("ca", encoding="utf-8")
    (tmp_path / "me.pem").write_text("cert", encoding="utf-8")
    path = profile_with(tmp_path, """\
        rate_limit: ${RATE:-20/s}
        headers: {X-Env: env-qa-77, X-Api-Key: "${GATEWAY_KEY}", X-Num: 7}
        proxy: http://127.0.0.1:3128
        tls: {verify: "${VERIFY:-yes}", ca_bundle: ca.pem, client_cert: me.pem}
        """)
    profile = load_profile(path, env={**ENV, "GATEWAY_KEY": "gw-key-123", "VERIFY": "off"})
    assert profile.connection == Connection(
        rate_limit=20.0, headers={"X-Env": "env-qa-77", "X-Api-Key": "gw-key-123", "X-Num": "7"},
        proxy="http://127.0.0.1:3128",
        tls=Tls(verify=False, ca_bundle=tmp_path / "ca.pem", client_cert=tmp_path / "me.pem"))
    shown = profile.redacted_dict()["target"]
    # A credential by its name is masked; X-Env and X-Num are shown as they are.
    assert shown["headers"] == {"X-Env": "env-qa-77", "X-Api-Key": MASK, "X-Num": "7"}
    assert "gw-key-123" not in repr(shown)
    # Everything written passes through the redactor, which now knows the header's value.
    assert REDACTOR.text("sent X-Api-Key: gw-key-123") == f"sent X-Api-Key: {MASK}"


def test_without_connection_keys_the_defaults(tmp_path):
    assert load_profile(profile_with(tmp_path), env=ENV).connection == Connection()


CONNECTION_ERRORS = [
    ("rate text", "rate_limit: fast\n",
     'target.rate_limit: expected calls per second such as 20/s, got "fast"'),
    ("rate zero", "rate_limit: 0/s\n",
     'target.rate_limit: expected calls per second such as 20/s, got "0/s"'),
    ("headers list", "headers: [a]\n", "target.headers: expected a mapping, got a list"),
    ("header name", "headers: {'X Key': a}\n",
     "target.headers.X Key: not a valid HTTP header name"),
    ("header name a number", "headers: {1: a}\n",
     "target.headers.1: not a valid HTTP header name"),
    ("header two lines", 'headers: {X-Key: "a\\nb"}\n',
     "target.headers.X-Key: a header value must be one line"),
    ("header empty", 'headers: {X-Key: " "}\n', "target.headers.X-Key: must not be empty"),
    ("proxy scheme", "proxy: ftp://127.0.0.1\n",
     'target.proxy: expected a proxy URL such as http://host:3128, got "ftp://127.0.0.1"'),
    ("tls unknown key", "tls: {verfy: false}\n",
     "target.tls.verfy: unknown key; expected one of verify, ca_bundle, client_cert, "
     "client_key"),
    ("tls verify", "tls: {verify: sometimes}\n",
     'target.tls.verify: expected true or false, got "sometimes"'),
    ("tls not mapping", "tls: strict\n", 'target.tls: expected a mapping, got "strict"'),
    ("key without cert", "tls: {client_key: p.yaml}\n",
     "target.tls.client_key: needs target.tls.client_cert"),
    ("unknown target key", "retries: 3\n", "target.retries: unknown key; expected one of "
                                           "base_url, timeout_s, rate_limit, headers, proxy, tls"),
]


@pytest.mark.parametrize("target, expected", [e[1:] for e in CONNECTION_ERRORS],
                         ids=[e[0] for e in CONNECTION_ERRORS])
def test_connection_key_errors_name_the_key(tmp_path, target, expected):
    assert error_of(profile_with(tmp_path, target)) == expected


def test_tls_file_missing_names_the_path_it_looked_at(tmp_path):
    message = error_of(profile_with(tmp_path, "tls: {ca_bundle: certs/ca.pem}\n"))
    assert message == f"target.tls.ca_bundle: no such file: {tmp_path / 'certs' / 'ca.pem'}"


def test_header_values_are_never_shown(tmp_path):
    secret = "gw-Secret-Key-77"
    for target in (f"headers: {{X-Key: [{secret}]}}\n", f'headers: {{X-Key: "{secret}\\nx"}}\n'):
        message = error_of(profile_with(tmp_path, target))
        assert secret not in message and message.startswith("target.headers.X-Key: ")


def test_a_secret_pasted_into_another_key_is_masked(tmp_path):
    path = profile_with(tmp_path).read_text(encoding="utf-8")
    path_file = tmp_path / "q.yaml"
    path_file.write_text(path.replace("min_redeem: 50", "min_redeem: Schema-Secret-9"),
                         encoding="utf-8")
    message = error_of(path_file)
    assert message == f'program.min_redeem: expected a positive integer, got "{MASK}"'


def test_first_error_in_reading_order(tmp_path):
    # Several problems: the one a reader meets first is reported (sections in the order of
    # the schema, an unknown key before a bad value of its section).
    path = profile_with(tmp_path, "timeout_s: soon\nretries: 3\n",
                        extra="budget:\n  max_points: lots\n")
    assert error_of(path).startswith("target.retries: unknown key")
    path = profile_with(tmp_path, "timeout_s: soon\n", extra="budget:\n  max_points: lots\n")
    assert error_of(path).startswith("target.timeout_s: expected a positive number")


def test_a_number_as_role_name_is_refused_by_name(tmp_path):
    path = profile_with(tmp_path, extra="")
    path.write_text(path.read_text(encoding="utf-8") + '  1: {mobile: "447700900002"}\n',
                    encoding="utf-8")
    assert error_of(path) == "customers.1: a role name is lower-case letters, digits and _"
