"""Target profile: loading, ${VAR} substitution, defaults, and one-line errors naming the key."""

from __future__ import annotations

import hashlib
import textwrap
from pathlib import Path

import pytest

from conformance.target.profile import (
    Identifier,
    ProfileError,
    format_placeholders,
    load_profile,
)
from conformance.target.redaction import MASK, REDACTOR

REPO = Path(__file__).resolve().parent.parent
ENV = {"POINTS_API_USER": "qa-user", "POINTS_API_PASSWORD": "Pr0file-Secret!",
       "POINTS_UI_TOKEN": "ui-token-abcdef"}

MINIMAL = """\
target:
  base_url: http://127.0.0.1:8080
auth:
  username: ${POINTS_API_USER}
  password: ${POINTS_API_PASSWORD}
program:
  points_multiple: 10
  min_redeem: 50
  max_redeem: 1000
customers:
  spender: {mobile: "447700900001"}
"""

FULL = """\
target:
  base_url: http://127.0.0.1:8080/
  timeout_s: 2.5
auth:
  username: ${POINTS_API_USER}
  password: ${POINTS_API_PASSWORD}
  password_md5: true
  org_id: 100458
  ui_token: ${POINTS_UI_TOKEN}
program:
  id: 504
  points_multiple: 10
  min_redeem: 50
  max_redeem: 1000
  otp_validity_s: 60
  reversal_enabled: false
customers:
  spender: {mobile: 447700900001}
  receiver: {email: "r+1@example.com"}
  fraud: {external_id: "EXT-3"}
  not_enrolled: {card_number: "CARD4"}
  low_balance: {user_id: 5}
  unknown: {mobile: "447700999999"}
groups:
  source: {id: 2626}
otp:
  source: hook
  url: "{base_url}/_test/otp?{identifier}={value}&purpose={purpose}"
balance:
  url: "{base_url}/_test/balance?{identifier}={value}"
clock:
  url: "{base_url}/_test/clock"
budget:
  max_points: 3000
"""


def write(tmp_path: Path, text: str, name: str = "p.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def load_error(path: Path, env: dict | None = None, **kwargs) -> str:
    with pytest.raises(ProfileError) as info:
        load_profile(path, env=ENV if env is None else env, **kwargs)
    message = str(info.value)
    assert "\n" not in message, message
    assert message.startswith(f"profile {path}: "), message
    return message


# --- loading ----------------------------------------------------------------------------------

def test_full_profile_loads_every_key(tmp_path):
    profile = load_profile(write(tmp_path, FULL), env=ENV)
    assert profile.base_url == "http://127.0.0.1:8080"  # trailing slash dropped for joining
    assert profile.timeout_s == 2.5
    assert profile.auth.username == "qa-user" and profile.auth.password == "Pr0file-Secret!"
    assert profile.auth.password_md5 is True
    assert profile.auth.basic_password == hashlib.md5(b"Pr0file-Secret!").hexdigest()
    assert profile.auth.org_id == "100458" and profile.auth.ui_token == "ui-token-abcdef"
    program = profile.program
    assert (program.id, program.points_multiple, program.min_redeem, program.max_redeem,
            program.otp_validity_s, program.reversal_enabled) == (504, 10, 50, 1000, 60, False)
    assert profile.customers == {
        "spender": Identifier("mobile", "447700900001"),
        "receiver": Identifier("email", "r+1@example.com"),
        "fraud": Identifier("external_id", "EXT-3"),
        "not_enrolled": Identifier("card_number", "CARD4"),
        "low_balance": Identifier("user_id", "5"),
        "unknown": Identifier("mobile", "447700999999"),
    }
    assert profile.groups["source"].id == "2626"
    assert profile.otp is not None and profile.otp.source == "hook"
    assert profile.otp.url == "{base_url}/_test/otp?{identifier}={value}&purpose={purpose}"
    assert profile.balance_url == "{base_url}/_test/balance?{identifier}={value}"
    assert profile.clock_url == "{base_url}/_test/clock"
    assert profile.budget_max_points == 3000
    assert profile.path == tmp_path / "p.yaml"


def test_defaults_for_optional_keys(tmp_path):
    profile = load_profile(write(tmp_path, MINIMAL), env=ENV)
    assert profile.timeout_s == 10
    assert profile.auth.password_md5 is False
    assert profile.auth.basic_password == "Pr0file-Secret!"
    assert profile.auth.org_id is None and profile.auth.ui_token is None
    assert profile.program.otp_validity_s == 900 and profile.program.reversal_enabled is True
    assert profile.program.id is None
    assert profile.budget_max_points == 5000
    # Absent hooks and otp mean "not available": scenarios skip with a reason.
    assert profile.otp is None and profile.balance_url is None and profile.clock_url is None
    assert profile.groups == {}


def test_staging_example_documents_every_key_and_loads(tmp_path):
    path = REPO / "fixtures" / "profiles" / "staging-example.yaml"
    profile = load_profile(path, env=ENV)
    assert profile.base_url.startswith("https://")
    assert profile.otp is not None and profile.otp.source == "command"
    assert profile.balance_url is None and profile.clock_url is None
    assert set(profile.customers) == {"spender", "receiver", "fraud", "not_enrolled",
                                      "low_balance", "outsider", "unknown"}
    text = path.read_text()
    for key in ("base_url", "timeout_s", "username", "password", "password_md5", "org_id",
                "ui_token", "points_multiple", "min_redeem", "max_redeem", "otp_validity_s",
                "reversal_enabled", "groups", "source", "url", "code", "command", "balance",
                "clock", "max_points", "${POINTS_API_USER}", "${POINTS_API_PASSWORD}",
                "${POINTS_UI_TOKEN}"):
        assert key in text, key


def test_secrets_are_registered_and_never_in_repr(tmp_path):
    profile = load_profile(write(tmp_path, FULL), env=ENV)
    password, token = ENV["POINTS_API_PASSWORD"], ENV["POINTS_UI_TOKEN"]
    md5 = hashlib.md5(password.encode()).hexdigest()
    for secret in (password, md5, token):
        assert REDACTOR.text(f"x {secret} y") == f"x {MASK} y"
        assert secret not in repr(profile)
    redacted = profile.redacted_dict()
    assert redacted["auth"]["password"] == MASK and redacted["auth"]["ui_token"] == MASK
    assert redacted["auth"]["username"] == "qa-user"
    assert redacted["customers"]["spender"] == {"mobile": "447700900001"}
    for secret in (password, md5, token):
        assert secret not in repr(redacted)


def test_fixed_code_is_masked_in_reports(tmp_path):
    text = MINIMAL + 'otp:\n  source: fixed\n  code: "424242"\n'
    profile = load_profile(write(tmp_path, text), env=ENV)
    assert profile.otp is not None and profile.otp.code == "424242"
    assert profile.redacted_dict()["otp"]["code"] == MASK
    assert "424242" not in repr(profile)


# --- environment ------------------------------------------------------------------------------

def test_env_substitution_with_defaults(tmp_path):
    text = MINIMAL.replace("http://127.0.0.1:8080", "http://${HOST:-127.0.0.1}:${PORT}/api")
    text = text.replace("points_multiple: 10", "points_multiple: ${MULT:-10}")
    text += "budget:\n  max_points: ${BUDGET:-700}\n"
    env = {**ENV, "PORT": "9000", "MULT": "", "BUDGET": "1200"}
    profile = load_profile(write(tmp_path, text), env=env)
    assert profile.base_url == "http://127.0.0.1:9000/api"
    assert profile.program.points_multiple == 10  # empty counts as unset for :-, as in a shell
    assert profile.budget_max_points == 1200  # substituted strings still become numbers


def test_env_variable_without_default_missing_names_variable_and_key(tmp_path):
    path = write(tmp_path, MINIMAL)
    message = load_error(path, env={"POINTS_API_USER": "qa"})
    assert "auth.password:" in message and "POINTS_API_PASSWORD" in message
    assert "is not set" in message


def test_env_booleans_and_escaped_dollar(tmp_path):
    text = MINIMAL.replace("  password: ${POINTS_API_PASSWORD}",
                           "  password: pa$${literal}\n  password_md5: ${MD5:-false}")
    profile = load_profile(write(tmp_path, text), env={**ENV, "MD5": "true"})
    assert profile.auth.password == "pa${literal}"
    assert profile.auth.password_md5 is True


def test_malformed_reference_is_an_error(tmp_path):
    text = MINIMAL.replace("${POINTS_API_USER}", "${POINTS_API_USER")
    message = load_error(write(tmp_path, text))
    assert "auth.username: malformed ${" in message


def test_base_url_override_wins_and_needs_no_target(tmp_path):
    text = MINIMAL.replace("  base_url: http://127.0.0.1:8080", "  base_url: ${UNSET_TARGET}")
    profile = load_profile(write(tmp_path, text), env=ENV, base_url="https://other.example:8443/")
    assert profile.base_url == "https://other.example:8443"
    no_target = MINIMAL.split("auth:", 1)[1]
    profile = load_profile(write(tmp_path, "auth:" + no_target, "n.yaml"), env=ENV,
                           base_url="http://127.0.0.1:1")
    assert profile.base_url == "http://127.0.0.1:1"


def test_base_url_override_is_validated(tmp_path):
    message = load_error(write(tmp_path, MINIMAL), base_url="ftp://x")
    assert "--base-url: expected an http:// or https:// URL" in message


# --- errors -----------------------------------------------------------------------------------

def replace(old: str, new: str, base: str = MINIMAL) -> str:
    assert old in base, old
    return base.replace(old, new)


ERRORS = [
    ("unknown top-level", MINIMAL + "targets: {}\n", "targets: unknown top-level key"),
    ("unknown nested", replace("  password_md5", "  pasword_md5", FULL),
     "auth.pasword_md5: unknown key"),
    ("no target", MINIMAL.split("auth:", 1)[1].join(["auth:", ""]),
     "target: required section is missing"),
    ("no base_url", replace("  base_url: http://127.0.0.1:8080\n", "  timeout_s: 3\n"),
     "target.base_url: required key is missing"),
    ("base_url scheme", replace("http://127.0.0.1:8080", "ftp://127.0.0.1"),
     'target.base_url: expected an http:// or https:// URL with a host, got "ftp://127.0.0.1"'),
    ("base_url host", replace("http://127.0.0.1:8080", "http://"), "target.base_url: expected"),
    ("base_url creds", replace("http://127.0.0.1:8080", "http://u:p@127.0.0.1"),
     "target.base_url: must not carry credentials"),
    ("base_url query", replace("http://127.0.0.1:8080", "http://127.0.0.1/?a=1"),
     "target.base_url: must not have a query"),
    ("base_url port", replace("http://127.0.0.1:8080", "http://127.0.0.1:99999"),
     "target.base_url: malformed port"),
    ("timeout text", replace("  base_url: http://127.0.0.1:8080\n",
                             "  base_url: http://127.0.0.1:8080\n  timeout_s: soon\n"),
     'target.timeout_s: expected a positive number of seconds, got "soon"'),
    ("timeout zero", replace("  base_url: http://127.0.0.1:8080\n",
                             "  base_url: http://127.0.0.1:8080\n  timeout_s: 0\n"),
     "target.timeout_s: expected a positive number"),
    ("no auth", replace("auth:\n  username: ${POINTS_API_USER}\n  password: "
                        "${POINTS_API_PASSWORD}\n", ""), "auth: required section is missing"),
    ("no username", replace("  username: ${POINTS_API_USER}\n", ""),
     "auth.username: required key is missing"),
    ("no password", replace("  password: ${POINTS_API_PASSWORD}\n", ""),
     "auth.password: required key is missing"),
    ("empty password", replace("${POINTS_API_PASSWORD}", '""'), "auth.password: must not be empty"),
    ("md5 not bool", replace("  password: ${POINTS_API_PASSWORD}\n",
                             "  password: ${POINTS_API_PASSWORD}\n  password_md5: maybe\n"),
     'auth.password_md5: expected true or false, got "maybe"'),
    ("auth not mapping", replace("auth:\n  username: ${POINTS_API_USER}\n  password: "
                                 "${POINTS_API_PASSWORD}\n", "auth: [a, b]\n"),
     "auth: expected a mapping, got a list"),
    ("multiple text", replace("points_multiple: 10", "points_multiple: ten"),
     'program.points_multiple: expected a positive integer, got "ten"'),
    ("multiple zero", replace("points_multiple: 10", "points_multiple: 0"),
     "program.points_multiple: expected a positive integer, got 0"),
    ("multiple float", replace("points_multiple: 10", "points_multiple: 2.5"),
     "program.points_multiple: expected a positive integer, got 2.5"),
    ("no min", replace("  min_redeem: 50\n", ""), "program.min_redeem: required key is missing"),
    ("no max", replace("  max_redeem: 1000\n", ""), "program.max_redeem: required key is missing"),
    ("max below min", replace("max_redeem: 1000", "max_redeem: 20"),
     "program.max_redeem: must be at least min_redeem (50), got 20"),
    ("program id", replace("program:\n", "program:\n  id: abc\n"),
     'program.id: expected an integer, got "abc"'),
    ("reversal flag", replace("  max_redeem: 1000\n",
                              "  max_redeem: 1000\n  reversal_enabled: 3\n"),
     "program.reversal_enabled: expected true or false, got 3"),
    ("no program", replace("program:\n  points_multiple: 10\n  min_redeem: 50\n"
                           "  max_redeem: 1000\n", ""), "program: required section is missing"),
    ("no spender", replace("  spender:", "  receiver:"), "customers.spender: required role"),
    ("two identifiers", replace('{mobile: "447700900001"}',
                                '{mobile: "447700900001", email: "a@b.c"}'),
     "customers.spender: expected exactly one identifier, got 2 (mobile, email)"),
    ("no identifier", replace('{mobile: "447700900001"}', "{}"),
     "customers.spender: expected exactly one identifier, got 0"),
    ("bad identifier key", replace("{mobile:", "{phone:"),
     "customers.spender.phone: unknown identifier; expected one of mobile, email, external_id"),
    ("identifier not mapping", replace('{mobile: "447700900001"}', '"447700900001"'),
     "customers.spender: expected one identifier"),
    ("empty identifier", replace('"447700900001"', '""'),
     "customers.spender.mobile: must not be empty"),
    ("bad role name", MINIMAL + '  Low-Balance: {mobile: "1"}\n',
     "customers.Low-Balance: a role name is"),
    ("group without id", MINIMAL + "groups:\n  source: {name: x}\n",
     "groups.source.name: unknown key; expected id"),
    ("group not mapping", MINIMAL + "groups:\n  source: 2626\n",
     "groups.source: expected a mapping"),
    ("otp source", MINIMAL + "otp:\n  source: sms\n",
     'otp.source: expected one of hook | fixed | command | prompt, got "sms"'),
    ("otp no source", MINIMAL + "otp:\n  url: http://x/\n", "otp.source: required key is missing"),
    ("hook without url", MINIMAL + "otp:\n  source: hook\n",
     "otp.url: required when otp.source is hook"),
    ("fixed without code", MINIMAL + "otp:\n  source: fixed\n",
     "otp.code: required when otp.source is fixed"),
    ("command without command", MINIMAL + "otp:\n  source: command\n",
     "otp.command: required when otp.source is command"),
    ("leftover companion", MINIMAL + 'otp:\n  source: fixed\n  code: "1"\n  url: "http://x/"\n',
     "otp.url: not used when otp.source is fixed"),
    ("unquoted code", MINIMAL + "otp:\n  source: fixed\n  code: 012345\n",
     "otp.code: expected a quoted string, got a number"),
    ("unknown placeholder", MINIMAL + 'otp:\n  source: hook\n  url: "{base_url}/otp?m={user}"\n',
     "otp.url: unknown placeholder {user}"),
    ("url template not a url", MINIMAL + 'otp:\n  source: hook\n  url: "/_test/otp"\n',
     "otp.url: expected a URL starting with {base_url}"),
    ("unbalanced quote", MINIMAL + "otp:\n  source: command\n  command: \"get-otp '{value}\"\n",
     "otp.command: cannot be split into words"),
    ("balance without url", MINIMAL + "balance: {}\n", "balance.url: required key is missing"),
    ("clock not http", MINIMAL + 'clock:\n  url: "ftp://x/clock"\n', "clock.url: expected a URL"),
    ("balance unknown key", MINIMAL + 'balance:\n  uri: "{base_url}/b"\n',
     "balance.uri: unknown key; expected url"),
    ("budget text", MINIMAL + "budget:\n  max_points: lots\n",
     'budget.max_points: expected a positive integer, got "lots"'),
    ("duplicate key", MINIMAL + "program: {}\n", "not valid YAML: duplicate key 'program'"),
]


@pytest.mark.parametrize("text, expected", [e[1:] for e in ERRORS], ids=[e[0] for e in ERRORS])
def test_invalid_profile_gives_one_line_naming_the_key(tmp_path, text, expected):
    path = write(tmp_path, text)
    assert expected in load_error(path)


def test_the_documented_example_message_exactly(tmp_path):
    path = write(tmp_path, replace("points_multiple: 10", "points_multiple: ten"))
    assert load_error(path) == (f'profile {path}: program.points_multiple: expected a positive '
                                f'integer, got "ten"')


def test_unquoted_password_is_refused_without_showing_it(tmp_path):
    message = load_error(write(tmp_path, replace("${POINTS_API_PASSWORD}", "0123456")))
    assert "auth.password: expected a quoted string, got a number" in message
    assert "0123456" not in message and "42798" not in message  # YAML read it as octal


@pytest.mark.parametrize("content, expected", [
    (b"target: [unclosed\n", "not valid YAML: "),
    (b"- a\n- b\n", "expected a mapping with sections target, auth"),
    (b"", "customers…, got nothing"),
    (b"just text\n", 'got "just text"'),
    (b"\xff\xfe\x00bad", "not a UTF-8 text file"),
])
def test_unusable_file_names_the_file(tmp_path, content, expected):
    path = tmp_path / "p.yaml"
    path.write_bytes(content)
    assert expected in load_error(path)


def test_yaml_error_points_at_the_line(tmp_path):
    path = write(tmp_path, "target:\n  base_url: x\n   bad: indent\n")
    assert "(line 3, column" in load_error(path)


def test_missing_file_and_directory(tmp_path):
    assert "cannot read the file: No such file" in load_error(tmp_path / "absent.yaml")
    assert "cannot read the file:" in load_error(tmp_path)


# --- placeholders -----------------------------------------------------------------------------

def test_placeholders_encode_values_not_base_url(tmp_path):
    profile = load_profile(write(tmp_path, FULL), env=ENV)
    assert profile.otp is not None and profile.otp.url is not None
    customer = Identifier("email", "r+1@example.com")
    url = format_placeholders(profile.otp.url, profile, customer, "redeem")
    assert url == ("http://127.0.0.1:8080/_test/otp?email=r%2B1%40example.com&purpose=redeem")
    path_value = format_placeholders("{base_url}/x/{value}/{points}", profile,
                                     Identifier("external_id", "a/b c"), points=20)
    assert path_value == "http://127.0.0.1:8080/x/a%2Fb%20c/20"
    raw = format_placeholders("get {identifier} {value} {purpose}", profile, customer,
                              "transfer", for_url=False)
    assert raw == "get email r+1@example.com transfer"


def test_placeholders_missing_value_or_unknown_name(tmp_path):
    profile = load_profile(write(tmp_path, MINIMAL), env=ENV)
    with pytest.raises(ValueError, match=r"needs \{value\}"):
        format_placeholders("{base_url}?m={value}", profile)
    with pytest.raises(ValueError, match=r"unknown placeholder \{nope\}"):
        format_placeholders("{nope}", profile)
