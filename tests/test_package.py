"""The certification package, as a vendor and a certifier use it: run → package → verify.

One real run against the embedded reference server is packaged and signed once; the tests then
tamper with copies of the zip and check that `verify` names what changed, and that `package`
refuses runs that cannot be certified, each with its reason.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import shutil
import zipfile
from pathlib import Path

import pytest

from conformance import server
from conformance.report import package
from tests.conftest import REPO, run_cli

REFERENCE_PROFILE = REPO / "fixtures" / "profiles" / "reference.yaml"
PASSWORD, UI_TOKEN = "reference-secret", "reference-ui-token"
ATTEST = """\
vendor: Example Loyalty Ltd
product: PointsHub
product_version: "4.2.0"
environment: staging
authorised_by: Jane Doe
contact: jane.doe@example.invalid
"""


@pytest.fixture(scope="module")
def made(tmp_path_factory, default_run):
    """A full default run (conftest.py: shared with test_run.py), a key pair, and the run
    packaged and signed; ``root / "run"`` is the run's report folder."""
    root = tmp_path_factory.mktemp("certify")
    cwd, ran = default_run
    assert ran.returncode == 0, ran.stdout[-3000:] + ran.stderr[-3000:]
    (root / "run").symlink_to((cwd / "reports" / "latest").resolve())
    keys = run_cli("keygen", "--out", str(root / "keys"))
    assert keys.returncode == 0, keys.stderr
    (root / "attest.yaml").write_text(ATTEST)
    packed = run_cli("package", str(root / "run"), "--attest", str(root / "attest.yaml"),
                     "--sign-key", str(root / "keys" / "private.pem"),
                     "--out", str(root / "pkg.zip"))
    assert packed.returncode == 0, packed.stdout + packed.stderr
    package_id = re.search(r"package id: ([0-9a-f]{64})", packed.stdout).group(1)
    return root, package_id, packed.stdout


def _members(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def _rewrite(path: Path, members: dict[str, bytes]) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    path.write_bytes(buffer.getvalue())


def test_run_package_verify_gives_the_package_id(made):
    root, package_id, _ = made
    checked = run_cli("verify", str(root / "pkg.zip"), "--public-key",
                      str(root / "keys" / "public.pem"))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert checked.stdout.strip() == (f"valid package {package_id}: PointsHub 4.2.0, verdict "
                                      "conformant, signature valid")
    manifest = _members(root / "pkg.zip")["manifest.json"]
    assert hashlib.sha256(manifest).hexdigest() == package_id


def test_the_package_holds_the_run_the_specs_and_a_certificate_showing_its_id(made):
    root, package_id, output = made
    members = _members(root / "pkg.zip")
    for name in ("results.json", "index.html", "junit.xml", "exchanges.ndjson", "coverage.json",
                 "attest.yaml",
                 "environment.json", "certificate.html", "manifest.json", "manifest.sig",
                 "specs/openapi/points-v1.1.yaml", "specs/xsd/redeemPoints.request.xsd"):
        assert name in members, name
    assert "left out" not in output
    assert members["results.json"] == (root / "run" / "results.json").read_bytes()
    page = members["certificate.html"].decode()
    assert package_id in page and "PointsHub" in page and "Conformant" in page
    summary = json.loads(members["results.json"])["summary"]
    must = summary["MUST"]["passed"]
    assert must > 0 and f"{must} of {must} passed" in page, "MUST counts"
    if summary["MUST"]["not-applicable"]:
        assert f"{summary['MUST']['not-applicable']} not applicable" in page
    fingerprint = json.loads(members["manifest.json"])["signature"]["public_key"]
    assert fingerprint in page and fingerprint in output
    environment = json.loads(members["environment.json"])
    assert environment["libraries"]["schemathesis"] and environment["platform"]


def test_no_secret_enters_the_package(made):
    root, _, _ = made
    md5 = hashlib.md5(PASSWORD.encode()).hexdigest()
    for name, data in _members(root / "pkg.zip").items():
        text = data.decode("utf-8", errors="replace")
        for secret in (PASSWORD, UI_TOKEN, md5):
            assert secret not in text, f"{secret[:4]}… in {name}"


def test_one_flipped_byte_in_any_file_is_named(made, tmp_path):
    root, _, _ = made
    members = _members(root / "pkg.zip")
    public = root / "keys" / "public.pem"
    for name, data in members.items():
        changed = bytearray(data)
        changed[len(changed) // 2] ^= 0x01
        copy = tmp_path / "flipped.zip"
        _rewrite(copy, {**members, name: bytes(changed)})
        checked = package.verify(copy, public_key=public)
        assert any(p.startswith(f"{name}:") or name in p for p in checked.problems), \
            (name, checked.problems)
    # The command line says so too, with exit 1.
    result = run_cli("verify", str(copy), "--public-key", str(public))
    assert result.returncode == 1 and "INVALID package" in result.stdout


def test_a_removed_or_added_file_fails_verification(made, tmp_path):
    root, _, _ = made
    members = _members(root / "pkg.zip")
    removed = tmp_path / "removed.zip"
    _rewrite(removed, {k: v for k, v in members.items() if k != "junit.xml"})
    result = run_cli("verify", str(removed))
    assert result.returncode == 1
    assert "differs: junit.xml: listed in manifest.json but missing" in result.stdout
    added = tmp_path / "added.zip"
    _rewrite(added, {**members, "extra.txt": b"trust me"})
    result = run_cli("verify", str(added))
    assert result.returncode == 1
    assert "differs: extra.txt: not listed in manifest.json (added)" in result.stdout


def test_a_wrong_public_key_fails_the_signature(made, tmp_path):
    root, _, _ = made
    assert run_cli("keygen", "--out", str(tmp_path / "other")).returncode == 0
    result = run_cli("verify", str(root / "pkg.zip"), "--public-key",
                     str(tmp_path / "other" / "public.pem"))
    assert result.returncode == 1
    assert "signature does not match" in result.stdout


def test_a_file_that_is_no_package_is_exit_2(made, tmp_path):
    not_zip = tmp_path / "report.zip"
    not_zip.write_text("hello")
    result = run_cli("verify", str(not_zip))
    assert result.returncode == 2 and "not a zip file" in result.stderr
    plain = tmp_path / "plain.zip"
    _rewrite(plain, {"readme.txt": b"hi"})
    result = run_cli("verify", str(plain))
    assert result.returncode == 2 and "no manifest.json" in result.stderr


def test_a_report_changed_after_the_run_is_refused(made, tmp_path):
    root, _, _ = made
    copy = tmp_path / "run"
    shutil.copytree(root / "run", copy)
    page = copy / "index.html"
    page.write_text(page.read_text().replace("Conformant", "Conformant!", 1))
    result = run_cli("package", str(copy), "--attest", str(root / "attest.yaml"))
    assert result.returncode == 2
    assert f"{copy / 'index.html'} changed after the run" in result.stderr


def test_an_attest_file_missing_a_field_is_refused(made, tmp_path):
    root, _, _ = made
    attest = tmp_path / "attest.yaml"
    attest.write_text(ATTEST.replace("contact: jane.doe@example.invalid\n", ""))
    result = run_cli("package", str(root / "run"), "--attest", str(attest))
    assert result.returncode == 2
    assert "missing field 'contact'" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr


def _run_then_package(tmp_path: Path, *run_args: str, profile: Path = REFERENCE_PROFILE):
    (tmp_path / "attest.yaml").write_text(ATTEST)
    with server.run_in_thread() as reference:
        ran = run_cli("run", "--base-url", reference.base_url, "--profile", str(profile),
                      "--report-dir", str(tmp_path / "r"), *run_args)
    assert (tmp_path / "r" / "results.json").is_file(), ran.stdout[-2000:]
    return run_cli("package", str(tmp_path / "r"), "--attest", str(tmp_path / "attest.yaml"))


def test_a_partial_run_is_refused(tmp_path):
    result = _run_then_package(tmp_path, "--only", "RDM-03")
    assert result.returncode == 2
    assert re.search(r"the run was partial \(1 of \d+ MUST requirements selected",
                     result.stderr), result.stderr


def test_a_run_with_a_baseline_is_refused(tmp_path):
    baseline = tmp_path / "baseline.yaml"
    baseline.write_text("known_failures:\n  - id: RDM-04\n    reason: ticket 12\n")
    result = _run_then_package(tmp_path, "--only", "RDM-03", "--baseline", str(baseline))
    assert result.returncode == 2
    assert "the run used a baseline" in result.stderr


def test_an_incomplete_run_is_refused(tmp_path):
    text = REFERENCE_PROFILE.read_text()
    for section in ("otp", "balance", "clock"):
        text = re.sub(rf"\n{section}:\n(  .*\n)+", "\n", text)
    profile = tmp_path / "no-hooks.yaml"
    profile.write_text(text)
    result = _run_then_package(tmp_path, "--suite", "scenarios", profile=profile)
    assert result.returncode == 2
    assert "the run is incomplete: MUST requirements not verified: " in result.stderr
