"""The certification package: one finished, clean run as a zip a certifier can keep and check.

``build`` refuses (PackageError, one line) a run that is partial, aborted, incomplete,
non-conformant, made with a baseline, or whose report files or specs changed since the run;
otherwise it writes a zip of the run's outputs, the specs as used, the attest file, the
environment, a printable certificate and ``manifest.json`` (SHA-256 of every file). The package
id is the SHA-256 of manifest.json. With an Ed25519 key the manifest is signed
(``manifest.sig``) and carries the public key's fingerprint.

``verify`` trusts nothing in the zip it does not recompute: every digest, the signature
against the certifier's public key, and the certificate, rendered again from the packaged
results and attest file and compared byte for byte.
"""

from __future__ import annotations

import hashlib
import io
import json
import platform
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from conformance import __version__
from conformance.paths import specs_dir
from conformance.report.results import ResultsError, RunResult

# Files of a report directory whose digests the run writes into results.json (report_files).
REPORT_FILES = ("index.html", "junit.xml", "exchanges.ndjson", "coverage.json")
# Of those, the ones a package must hold (coverage.json joins when the run wrote one).
REQUIRED_FILES = ("results.json", "index.html", "junit.xml", "exchanges.ndjson")
ATTEST_FIELDS = ("vendor", "product", "product_version", "environment", "authorised_by",
                 "contact")
ENVIRONMENTS = ("staging", "production")
MANIFEST = "manifest.json"
SIGNATURE = "manifest.sig"
CERTIFICATE = "certificate.html"
ATTEST = "attest.yaml"
ENVIRONMENT = "environment.json"
# Outside the manifest: the manifest itself, its signature, and the certificate, which shows
# the package id (the manifest's digest) and is checked by rendering it again instead.
UNLISTED = (MANIFEST, SIGNATURE, CERTIFICATE)
FORMAT = "points-conformance package 1"
FIXED_TIME = (2000, 1, 1, 0, 0, 0)  # zip entry times: the same run packs to the same bytes


class PackageError(Exception):
    """The run cannot be packaged, or a file is not a package: one line, exit 2."""


def _dumps(data: Any) -> bytes:
    return (json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode()


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def report_digests(report_dir: Path) -> dict[str, str]:
    """SHA-256 of the report files a run wrote (results.json's ``report_files``)."""
    return {name: sha256((report_dir / name).read_bytes()) for name in REPORT_FILES
            if (report_dir / name).is_file()}


# --- refusing what cannot be certified --------------------------------------------------------

def _load_result(report_dir: Path) -> tuple[RunResult, bytes, dict[str, Any]]:
    """The run's result, results.json as written, and as parsed (the certificate's input)."""
    path = report_dir / "results.json"
    try:
        raw = path.read_bytes()
        data = json.loads(raw)
    except OSError as exc:
        raise PackageError(f"{path}: cannot read it ({exc.strerror}): "
                           "REPORT_DIR must be the folder of one run") from None
    except ValueError:
        raise PackageError(f"{path}: not JSON") from None
    try:
        result = RunResult.from_json(data)
    except ResultsError as exc:
        raise PackageError(f"{path}: {exc}") from None
    return result, raw, data


def refusal(result: RunResult, report_dir: Path) -> str | None:
    """Why this run cannot be certified, or None: the first rule it breaks."""
    options = result.fingerprint.get("options", {})
    if result.verdict == "aborted":
        return f"the run was aborted ({result.aborted_reason}); only a finished run is certified"
    if result.verdict == "incomplete":
        ids = ", ".join(row.id for row in result.unverified)
        return f"the run is incomplete: MUST requirements not verified: {ids}"
    if result.verdict != "conformant":
        ids = ", ".join(row.id for row in result.blocking)
        return f"the run is {result.verdict}: MUST requirements failed: {ids}"
    if options.get("baseline"):
        return (f"the run used a baseline ({options['baseline']}): known failures are not "
                "certified; run again without --baseline")
    if result.partial is not None:
        return (f"the run was partial ({result.partial['selected']} of "
                f"{result.partial['total']} MUST requirements selected by --only, --suite or "
                "--shard); run the whole suite, or merge the shards")
    if not result.report_files:
        return ("results.json has no digests of the report files: the run was not made by "
                "`points-conformance run`")
    now = report_digests(report_dir)
    for name, digest in sorted(result.report_files.items()):
        if now.get(name) != digest:
            state = "is missing" if name not in now else "changed after the run"
            return f"{report_dir / name} {state}"
    for name in REQUIRED_FILES[1:]:
        if name not in now:
            return f"{report_dir / name} is missing"
    used = result.fingerprint.get("specs", {})
    if not used:
        return "results.json does not say which specs the run used (fingerprint.specs)"
    for rel, digest in sorted(used.items()):
        path = specs_dir() / rel
        if not path.is_file() or sha256(path.read_bytes()) != digest:
            return (f"specs/{rel} differs from the one the run used: package with the "
                    "points-conformance that made the run")
    return None


def load_attest(path: Path) -> dict[str, Any]:
    """The attest file: who vouches for what was tested. Any problem names the field."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise PackageError(f"--attest {path}: cannot read it ({exc.strerror})") from None
    except yaml.YAMLError as exc:
        raise PackageError(f"--attest {path}: not YAML ({str(exc).splitlines()[0]})") from None
    if not isinstance(data, dict):
        raise PackageError(f"--attest {path}: must be a mapping of {', '.join(ATTEST_FIELDS)}")
    for name in ATTEST_FIELDS:
        value = data.get(name)
        if value is None or not str(value).strip():
            raise PackageError(f"--attest {path}: missing field {name!r} (needs "
                               f"{', '.join(ATTEST_FIELDS)}; notes is optional)")
    if data["environment"] not in ENVIRONMENTS:
        raise PackageError(f"--attest {path}: environment must be staging or production, "
                           f"not {data['environment']!r}")
    unknown = sorted(set(data) - {*ATTEST_FIELDS, "notes"})
    if unknown:
        raise PackageError(f"--attest {path}: unknown field {unknown[0]!r}")
    return data


# --- signing ----------------------------------------------------------------------------------

def _load_key(path: Path, *, private: bool):
    """An Ed25519 key from a PEM file: ``--sign-key`` (private) or ``--public-key``."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import (
        Ed25519PrivateKey,
        Ed25519PublicKey,
    )
    from cryptography.hazmat.primitives.serialization import (
        load_pem_private_key,
        load_pem_public_key,
    )

    option, kind = ("--sign-key", "an unencrypted PEM private key") if private else \
        ("--public-key", "a PEM public key")
    try:
        data = path.read_bytes()
        key = load_pem_private_key(data, password=None) if private else load_pem_public_key(data)
    except OSError as exc:
        raise PackageError(f"{option} {path}: cannot read it ({exc.strerror})") from None
    except (ValueError, TypeError):
        raise PackageError(f"{option} {path}: not {kind}") from None
    if not isinstance(key, Ed25519PrivateKey if private else Ed25519PublicKey):
        raise PackageError(f"{option} {path}: not an Ed25519 key")
    return key


def key_fingerprint(public_key) -> str:
    """SHA256:<hex> of the raw 32-byte Ed25519 public key."""
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    return "SHA256:" + sha256(public_key.public_bytes(Encoding.Raw, PublicFormat.Raw))


def keygen(out_dir: Path) -> tuple[Path, Path, str]:
    """A new Ed25519 key pair: private.pem (owner-only) and public.pem in ``out_dir``."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import (
        Encoding,
        NoEncryption,
        PrivateFormat,
        PublicFormat,
    )

    out_dir.mkdir(parents=True, exist_ok=True)
    private, public = out_dir / "private.pem", out_dir / "public.pem"
    for path in (private, public):
        if path.exists():
            raise PackageError(f"{path} exists: not overwriting a key")
    key = Ed25519PrivateKey.generate()
    private.touch(mode=0o600)
    private.write_bytes(key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()))
    public.write_bytes(key.public_key().public_bytes(Encoding.PEM,
                                                    PublicFormat.SubjectPublicKeyInfo))
    return private, public, key_fingerprint(key.public_key())


# --- the certificate --------------------------------------------------------------------------

def certificate(results: dict[str, Any], attest: dict[str, Any], package_id: str,
                key: str | None) -> str:
    """The printable page: a function of the packaged files and the package id only, so that
    ``verify`` can render it again and compare."""
    from conformance.report.writer import render_template

    # Out of the requirements that apply: not-applicable ones (the program's own rules make
    # them moot) are shown apart; a certified run has no not-selected one.
    counts = {level: {"passed": values.get("passed", 0),
                      "moot": values.get("not-applicable", 0),
                      "total": sum(values.values()) - values.get("not-selected", 0)
                      - values.get("not-applicable", 0)}
              for level, values in results["summary"].items()}
    return render_template(
        "certificate.html.j2", results=results, attest=attest, package_id=package_id,
        key=key, counts=counts, date=results["started_at"][:10])


# --- building ---------------------------------------------------------------------------------

@dataclass
class Built:
    path: Path
    package_id: str
    key: str | None
    left_out: list[str] = field(default_factory=list)  # why a file is not in the package


def build(report_dir: Path, attest_path: Path, *, sign_key: Path | None = None,
          out: Path | None = None) -> Built:
    """Package the run in ``report_dir`` (PackageError: why it cannot be)."""
    report_dir = Path(report_dir)
    result, results_raw, results_data = _load_result(report_dir)
    why = refusal(result, report_dir)
    if why is not None:
        raise PackageError(f"cannot package {report_dir}: {why}")
    attest = load_attest(Path(attest_path))
    key = _load_key(Path(sign_key), private=True) if sign_key is not None else None
    files: dict[str, bytes] = {"results.json": results_raw}
    for name in REQUIRED_FILES[1:]:
        files[name] = (report_dir / name).read_bytes()
    left_out = []
    if (report_dir / "coverage.json").is_file():
        files["coverage.json"] = (report_dir / "coverage.json").read_bytes()
    else:
        left_out.append("coverage.json: this run wrote none")
    for rel in sorted(result.fingerprint["specs"]):
        files[f"specs/{rel}"] = (specs_dir() / rel).read_bytes()
    files[ATTEST] = Path(attest_path).read_bytes()
    versions = result.fingerprint.get("versions", {})
    files[ENVIRONMENT] = _dumps({
        "suite_version": result.suite_version, "spec_version": result.spec_version,
        "libraries": versions, "python": versions.get("python"),
        "platform": result.fingerprint.get("platform"),
        "packaged_with": {"suite_version": __version__, "python": platform.python_version(),
                          "platform": platform.platform()},
    })
    fingerprint = key_fingerprint(key.public_key()) if key is not None else None
    manifest = _dumps({
        "format": FORMAT,
        "files": {name: sha256(data) for name, data in sorted(files.items())},
        "signature": {"algorithm": "Ed25519", "public_key": fingerprint} if key else None,
    })
    package_id = sha256(manifest)
    files[MANIFEST] = manifest
    files[CERTIFICATE] = certificate(results_data, attest, package_id,
                                     fingerprint).encode()
    if key is not None:
        files[SIGNATURE] = key.sign(manifest).hex().encode() + b"\n"
    out = Path(out) if out is not None else report_dir / f"certification-{package_id[:12]}.zip"
    out.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in sorted(files.items()):
            archive.writestr(zipfile.ZipInfo(name, FIXED_TIME), data,
                             compress_type=zipfile.ZIP_DEFLATED)
    out.write_bytes(buffer.getvalue())
    return Built(out, package_id, fingerprint, left_out)


# --- verifying --------------------------------------------------------------------------------

@dataclass
class Verified:
    package_id: str
    product: str
    verdict: str
    problems: list[str]
    signature: str  # "valid", "not checked (no --public-key)", "none"


def _read_zip(path: Path) -> dict[str, bytes]:
    try:
        with zipfile.ZipFile(path) as archive:
            return {info.filename: archive.read(info) for info in archive.infolist()
                    if not info.is_dir()}
    except OSError as exc:
        raise PackageError(f"{path}: cannot read it ({exc.strerror})") from None
    except (zipfile.BadZipFile, ValueError, EOFError):
        raise PackageError(f"{path}: not a zip file, so no certification package") from None


def verify(path: Path, public_key: Path | None = None) -> Verified:
    """Recompute everything; PackageError only when ``path`` is no package at all."""
    key = _load_key(Path(public_key), private=False) if public_key is not None else None
    files = _read_zip(Path(path))
    if MANIFEST not in files:
        raise PackageError(f"{path}: no {MANIFEST}, so no certification package")
    manifest_raw = files[MANIFEST]
    package_id = sha256(manifest_raw)
    problems: list[str] = []
    manifest = _manifest(manifest_raw, problems)
    listed = manifest.get("files", {})
    for name, digest in sorted(listed.items()):
        if name not in files:
            problems.append(f"{name}: listed in {MANIFEST} but missing")
        elif sha256(files[name]) != digest:
            problems.append(f"{name}: differs from its digest in {MANIFEST}")
    for name in sorted(set(files) - set(listed) - set(UNLISTED)):
        problems.append(f"{name}: not listed in {MANIFEST} (added)")
    if manifest:
        for name in REQUIRED_FILES + (ATTEST, ENVIRONMENT):
            if name not in listed:
                problems.append(f"{name}: not in the package (every package holds one)")
    signature_info = manifest.get("signature")
    if signature_info and SIGNATURE not in files:
        problems.append(f"{SIGNATURE}: missing")
    if key is not None:
        signature = _check_signature(files, manifest_raw, key, signature_info, problems)
    else:
        signature = "none" if not signature_info else "not checked (no --public-key)"
    try:
        results = json.loads(files.get("results.json", b"{}"))
        attest = yaml.safe_load(files.get(ATTEST, b"")) or {}
    except (ValueError, yaml.YAMLError):
        results, attest = {}, {}
    if not isinstance(results, dict) or not isinstance(attest, dict):
        results, attest = {}, {}
    _check_certificate(files, results, attest, package_id, signature_info, problems)
    product = f"{attest.get('product', '?')} {attest.get('product_version', '')}".strip()
    return Verified(package_id, product, str(results.get("verdict", "?")), problems, signature)


def _manifest(raw: bytes, problems: list[str]) -> dict[str, Any]:
    """The manifest, checked to be exactly as ``build`` writes one; {} when it is damaged."""
    try:
        manifest = json.loads(raw)
    except ValueError:
        problems.append(f"{MANIFEST}: damaged (not JSON)")
        return {}
    if not isinstance(manifest, dict) or set(manifest) != {"format", "files", "signature"} \
            or not isinstance(manifest["files"], dict):
        problems.append(f"{MANIFEST}: not a package manifest (changed?)")
        return {}
    if manifest["format"] != FORMAT:
        problems.append(f"{MANIFEST}: unknown format {manifest['format']!r}")
    signature = manifest["signature"]
    if signature is not None and (not isinstance(signature, dict) or signature.get(
            "algorithm") != "Ed25519" or not str(signature.get("public_key", "")).startswith(
            "SHA256:")):
        problems.append(f"{MANIFEST}: its signature entry is not one build writes (changed?)")
    if _dumps(manifest) != raw:
        problems.append(f"{MANIFEST}: not laid out as build writes it (changed after packaging)")
    return manifest


def _check_signature(files, manifest_raw: bytes, key, signature_info,
                     problems: list[str]) -> str:
    from cryptography.exceptions import InvalidSignature

    if SIGNATURE not in files:
        if not signature_info:
            problems.append(f"{SIGNATURE}: the package is not signed")
        return "missing"
    try:
        key.verify(bytes.fromhex(files[SIGNATURE].decode("ascii").strip()), manifest_raw)
    except (InvalidSignature, ValueError, UnicodeDecodeError):
        problems.append(f"{SIGNATURE}: signature does not match (wrong key, or the manifest "
                        "changed)")
        return "does not match"
    return "valid"


def _check_certificate(files, results, attest, package_id: str, signature_info,
                       problems: list[str]) -> None:
    if CERTIFICATE not in files:
        problems.append(f"{CERTIFICATE}: missing")
        return
    made_by = results.get("suite_version")
    if made_by is None:
        return  # results.json is damaged or missing, and said so: nothing to render from
    if made_by != __version__:
        problems.append(f"{CERTIFICATE}: made by points-conformance {made_by}; check it with "
                        f"that version (this is {__version__})")
        return
    key = (signature_info or {}).get("public_key") if isinstance(signature_info, dict) else None
    try:
        expected = certificate(results, attest, package_id, key).encode()
    except Exception:  # noqa: BLE001 - files that cannot make a certificate made none
        expected = b""
    if files[CERTIFICATE] != expected:
        problems.append(f"{CERTIFICATE}: differs from the certificate this package's "
                        f"results.json, {ATTEST} and id give")
