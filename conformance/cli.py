"""Command line: ``points-conformance run | serve | replay | specs check|generate | …``."""

from __future__ import annotations

import argparse
import atexit
import logging
import os
import sys
import textwrap
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NoReturn

from conformance import __version__
from conformance.suite import options

EXIT_OK, EXIT_FAIL, EXIT_USAGE, EXIT_ABORTED = 0, 1, 2, 3


def _run_exit_codes() -> str:
    """`run --help`'s epilog: the exit codes as docs/cli.md lists them (one table for both)."""
    from conformance.specs.docgen import EXIT_CODES

    lines = ["exit codes:"]
    for code, verdict, when in EXIT_CODES:
        when = when.replace("`", "")
        label = f"  {code}  {verdict.replace('—', '-'):<16}"
        lines += textwrap.wrap(when, 79, initial_indent=label, subsequent_indent=" " * len(label),
                               break_on_hyphens=False)
    return "\n".join(lines) + "\n"


REPLAY_EXIT_CODES = """\
exit codes:
  0  every replayed call is fixed
  1  at least one is still failing, fails differently, or could not be replayed
  2  usage error: no results.json, an --only id the report did not fail, a bad profile
"""


class UsageError(Exception):
    """Bad input from the user: exit 2 with this message, never a traceback."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="points-conformance",
        description="Contract-test and conformance suite for the loyalty Points API.",
    )
    parser.add_argument("--version", action="version",
                        version=f"%(prog)s {__version__}",
                        help="print the suite's version and exit")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    run = commands.add_parser(
        "run", help="run the suite against a target (default: the embedded reference server)",
        epilog=_run_exit_codes(), formatter_class=argparse.RawDescriptionHelpFormatter)
    options.add_to_argparse(run)
    run.set_defaults(handler=_run)

    serve = commands.add_parser("serve", help="run the embedded reference server")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on")
    serve.add_argument("--port", type=int, default=8080, help="port to listen on (0: a free one)")
    serve.add_argument("--db", type=Path, metavar="PATH",
                       help="SQLite file (default: a temporary file)")
    serve.add_argument("--seed-data", type=Path, metavar="FILE",
                       help="seed data YAML for an empty database")
    serve.add_argument("--fault", action="append", default=[], metavar="NAME",
                       help="turn on a deliberate bug (repeatable)")
    serve.add_argument("--variant", action="append", default=[], metavar="NAME",
                       help="make the other legitimate choice where the documents allow two "
                            "(repeatable)")
    serve.set_defaults(handler=_serve)

    spec = commands.add_parser("specs", help="check or regenerate the specs")
    spec_commands = spec.add_subparsers(dest="specs_command", metavar="ACTION", required=True)
    check = spec_commands.add_parser("check", help="validate specs, XSD, catalogs and samples")
    check.add_argument("--docs", type=Path, metavar="DIR",
                       help="also report what the vendor documents in DIR have that the specs lack")
    check.set_defaults(handler=_specs_check)
    generate = spec_commands.add_parser(
        "generate", help="rewrite the generated XSD files and, in a checkout, the generated "
                         "reference pages of docs/")
    generate.set_defaults(handler=_specs_generate)

    selftest = commands.add_parser(
        "selftest", help="prove the suite: run it against the reference server under each fault")
    selftest.add_argument("--workers", type=int, default=2, metavar="N",
                          help="fault runs at a time (default 2)")
    selftest.add_argument("--seed", type=int, default=None, metavar="N",
                          help="seed of every run's generated data (default 1)")
    selftest.add_argument("--variants-apart", action="store_true",
                          help="run every legitimate variant alone, not in its group "
                               "(slower; the groups are re-run apart anyway when one fails)")
    selftest.set_defaults(handler=_selftest)

    package = commands.add_parser(
        "package", help="turn one finished, conformant run into a certification package (zip)")
    package.add_argument("report_dir", type=Path, metavar="REPORT_DIR",
                         help="the report folder of one `run`")
    package.add_argument("--attest", type=Path, required=True, metavar="FILE",
                         help="attest.yaml: vendor, product, product_version, environment "
                              "(staging or production), authorised_by, contact, notes")
    package.add_argument("--sign-key", type=Path, metavar="PEM",
                         help="Ed25519 private key: sign the manifest (see `keygen`)")
    package.add_argument("--out", type=Path, metavar="FILE",
                         help="where to write the zip (default: REPORT_DIR/certification-<id>.zip)")
    package.set_defaults(handler=_package)

    verify = commands.add_parser(
        "verify", help="check a certification package: every digest, the signature, the "
                       "certificate")
    verify.add_argument("package", type=Path, metavar="FILE.zip",
                        help="the certification package to check")
    verify.add_argument("--public-key", type=Path, metavar="PEM",
                        help="the certifier's Ed25519 public key: check the signature with it")
    verify.set_defaults(handler=_verify)

    merge = commands.add_parser(
        "merge", help="join the report folders of one run's shards (--shard I/N) into one "
                      "verdict and one set of reports")
    merge.add_argument("shard_dirs", type=Path, nargs="+", metavar="REPORT_DIR",
                       help="the report folder of every shard of the run, each once")
    merge.add_argument("--report-dir", type=Path, required=True, metavar="DIR",
                       help="where to write the merged reports")
    merge.set_defaults(handler=_merge)

    keygen = commands.add_parser("keygen", help="make an Ed25519 key pair for signing packages")
    keygen.add_argument("--out", type=Path, required=True, metavar="DIR",
                        help="folder for private.pem (owner-only) and public.pem")
    keygen.set_defaults(handler=_keygen)

    replay = commands.add_parser(
        "replay", help="send a report's failing calls again and judge the new answers",
        description="Send every call that decided a failure of one run again (credentials from "
                    "the profile) and judge each new answer by the check that failed it: FIXED, "
                    "STILL FAILING or CHANGED (fails differently, or cannot be judged the same "
                    "way).",
        epilog=REPLAY_EXIT_CODES, formatter_class=argparse.RawDescriptionHelpFormatter)
    replay.add_argument("report_dir", type=Path, metavar="REPORT_DIR",
                        help="the report folder of one `run` (results.json, exchanges.ndjson)")
    replay.add_argument("--base-url", metavar="URL",
                        help="send to this target (default: the report's target)")
    replay.add_argument("--profile", type=Path, metavar="PATH",
                        help="target profile with the credentials (default: the run's profile, "
                             "when it is still there)")
    replay.add_argument("--only", nargs="+", default=[], metavar="ID",
                        help="replay only these failing requirement ids")
    replay.add_argument("--allow-mutations", action="store_true",
                        help="allow state-changing calls to a target outside loopback")
    replay.set_defaults(handler=_replay)

    reqs = commands.add_parser("requirements", help="print the requirement catalog")
    reqs.add_argument("--codes", action="store_true",
                      help="print every documented code instead: its meaning and the "
                           "requirements that expect it, or why none does")
    reqs.add_argument("--markdown", action="store_true",
                      help="print the catalog as Markdown (docs/requirements.md)")
    reqs.set_defaults(handler=_requirements)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    handler: Callable[[argparse.Namespace], int] = args.handler
    try:
        return handler(args)
    except UsageError as exc:
        print(f"points-conformance: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("points-conformance: interrupted", file=sys.stderr)
        return EXIT_ABORTED


def entry() -> NoReturn:
    """The console entry point: ``main()``, then a prompt exit with its status.

    By the time main returns every report is written and closed; what remains is the
    interpreter tearing down the libraries' objects one by one, which adds half a second to
    every run. The exit handlers still run and the streams are flushed; then the process ends.
    """
    try:
        code = main()
        sys.stdout.flush()
    except BrokenPipeError:
        # The reader went away (`| head`): nothing left to say, and no traceback about it.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        code = EXIT_FAIL
    run_exit_handlers = getattr(atexit, "_run_exitfuncs", None)
    if run_exit_handlers is not None:
        run_exit_handlers()
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


# --- run --------------------------------------------------------------------------------------

def _run(args: argparse.Namespace) -> int:
    from conformance.run import runner

    try:
        return runner.run(options.from_namespace(args))
    except runner.RunUsageError as exc:
        raise UsageError(str(exc)) from None


# --- replay -----------------------------------------------------------------------------------

def _replay(args: argparse.Namespace) -> int:
    from conformance.run import replay

    try:
        report = replay.load(args.report_dir, args.only)
        profile_path = replay.choose_profile(report, args.profile)
        profile = replay.load_target_profile(profile_path, args.base_url or report.target)
    except replay.ReplayError as exc:
        raise UsageError(str(exc)) from None
    from conformance.target.redaction import REDACTOR

    print(REDACTOR.text(f"replaying {len(report.items)} exchange"
                        f"{'s' if len(report.items) != 1 else ''} of {args.report_dir} against "
                        f"{profile.base_url}"))
    outcomes, left = replay.replay(report, profile, allow_mutations=args.allow_mutations,
                                   progress=print)
    for line in left:
        print(REDACTOR.text(f"not undone: {line}"))
    print(replay.summary(outcomes))
    return replay.exit_code(outcomes)


# --- specs ------------------------------------------------------------------------------------

def _specs_check(args: argparse.Namespace) -> int:
    from conformance.specs import speccheck

    if args.docs is not None and not args.docs.is_dir():
        raise UsageError(f"--docs {args.docs}: not a directory")
    report = speccheck.run(docs_dir=args.docs)
    print(report.render())
    return EXIT_OK if report.ok else EXIT_FAIL


def _specs_generate(args: argparse.Namespace) -> int:
    from conformance.paths import docs_dir
    from conformance.specs import docgen, xsd

    for path in xsd.write_all():
        print(f"wrote {path}")
    docs = docs_dir()
    if docs is None:
        print("docs/: not a checkout, reference pages left alone")
        return EXIT_OK
    for path in docgen.write_all(docs, _parser()):
        print(f"wrote {path}")
    return EXIT_OK


def _requirements(args: argparse.Namespace) -> int:
    from conformance.specs import catalog

    if args.codes:
        return _codes()
    if args.markdown:
        from conformance.specs import docgen

        print(docgen.requirements_markdown(), end="")
        return EXIT_OK
    rows = [(r.id, r.level, r.area, r.title) for r in catalog.requirements()]
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    print(f"{'ID':<{widths[0]}}  {'LEVEL':<{widths[1]}}  {'AREA':<{widths[2]}}  TITLE")
    for rid, level, area, title in rows:
        print(f"{rid:<{widths[0]}}  {level:<{widths[1]}}  {area:<{widths[2]}}  {title}")
    counts = {level: sum(1 for r in rows if r[1] == level) for level in ("MUST", "SHOULD")}
    print(textwrap.dedent(f"""
        {len(rows)} requirements: {counts['MUST']} MUST, {counts['SHOULD']} SHOULD."""))
    return EXIT_OK


# --- certification --------------------------------------------------------------------------

def _package(args: argparse.Namespace) -> int:
    from conformance.report import package

    try:
        built = package.build(args.report_dir, args.attest, sign_key=args.sign_key,
                              out=args.out)
    except package.PackageError as exc:
        raise UsageError(str(exc)) from None
    for line in built.left_out:
        print(f"left out: {line}")
    print(f"package: {built.path}")
    print(f"signed: {built.key}" if built.key else "signed: no (give --sign-key to sign)")
    print(f"package id: {built.package_id}")
    return EXIT_OK


def _verify(args: argparse.Namespace) -> int:
    from conformance.report import package

    try:
        checked = package.verify(args.package, public_key=args.public_key)
    except package.PackageError as exc:
        raise UsageError(str(exc)) from None
    if checked.problems:
        for problem in checked.problems:
            print(f"differs: {problem}")
        print(f"INVALID package {checked.package_id}: {len(checked.problems)} problem"
              f"{'s' if len(checked.problems) != 1 else ''}")
        return EXIT_FAIL
    print(f"valid package {checked.package_id}: {checked.product}, verdict {checked.verdict}, "
          f"signature {checked.signature}")
    return EXIT_OK


def _keygen(args: argparse.Namespace) -> int:
    from conformance.report import package

    try:
        private, public, fingerprint = package.keygen(args.out)
    except package.PackageError as exc:
        raise UsageError(str(exc)) from None
    print(f"private key: {private} (keep it secret)\npublic key: {public}\n"
          f"fingerprint: {fingerprint}")
    return EXIT_OK
def _codes() -> int:
    """Every documented code: meaning, the requirement ids that expect it, or the reason."""
    from conformance.specs import catalog

    accounts = catalog.code_accounts()
    print(f"{'CODE':<5}  {'FAMILY':<9}  {'EXPECTED BY / WHY NOT':<24}  MEANING")
    for row in accounts:
        by = " ".join(row["requirements"]) or f"({row['why'] or 'unaccounted'})"
        print(f"{row['code']:<5}  {'/'.join(row['families']):<9}  {by:<24}  {row['meaning']}")
        if not row["requirements"]:
            print(f"{'':<5}  {'':<9}  {'':<24}  why not: {row['reason'] or '-'}")
    judged = sum(1 for row in accounts if row["requirements"])
    reasoned = sum(1 for row in accounts if not row["requirements"] and row["reason"])
    print(f"\n{len(accounts)} codes: {judged} expected by a requirement, {reasoned} with a "
          f"reason in specs/unjudged-codes.yaml, {len(accounts) - judged - reasoned} "
          "unaccounted.")
    rules = catalog.unjudged()["rules"]
    if rules:
        print("\nDocumented rules no requirement judges:")
        for rule in rules:
            print(f"- {rule['rule']}: {' '.join(str(rule['reason']).split())}")
    return EXIT_OK if not catalog.code_problems() else EXIT_FAIL


# --- merge ------------------------------------------------------------------------------------

def _merge(args: argparse.Namespace) -> int:
    from conformance.report import merge

    out = args.report_dir
    if any(out.resolve() == d.resolve() for d in args.shard_dirs):
        raise UsageError(f"--report-dir {out}: is one of the shards' folders; give another")
    try:
        shards = [merge.load(d) for d in args.shard_dirs]
        merge.check(shards)
    except merge.MergeError as exc:
        raise UsageError(str(exc)) from None
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"--report-dir {out}: {exc.strerror}") from None
    result = merge.write(shards, out)
    counts = {level: result.summary[level] for level in ("MUST", "SHOULD")}
    print(f"merged {len(shards)} shards of seed {result.fingerprint.get('seed')}")
    print(f"verdict: {result.verdict}  (" + "; ".join(
        f"{level}: {c['passed']} passed, {c['failed']} failed, {c['error']} errors, "
        f"{c['skipped']} skipped" for level, c in counts.items()) + ")")
    if result.aborted_reason:
        print(f"aborted: {result.aborted_reason}")
    for row in result.blocking:
        print(f"failed: {row.id} {row.title}")
    if result.verdict == "incomplete":
        for row in result.unverified:
            print(f"unverified: {row.id} {row.status}: {' '.join(row.reason.split())[:140]}")
    print(f"report: {out / 'index.html'}")
    return result.exit_code


# --- selftest -----------------------------------------------------------------------------------

def _selftest(args: argparse.Namespace) -> int:
    from conformance.run import selftest

    if args.workers < 1:
        raise UsageError(f"--workers {args.workers}: must be at least 1")
    seed = selftest.SEED if args.seed is None else args.seed
    result = selftest.run_all(workers=args.workers, seed=seed,
                              variants_apart=args.variants_apart,
                              progress=lambda line: print(line, file=sys.stderr, flush=True))
    print(selftest.render(result))
    selftest.save(result)
    return EXIT_OK if result.ok else EXIT_FAIL


# --- serve ------------------------------------------------------------------------------------

def _serve(args: argparse.Namespace) -> int:
    from conformance import server

    if args.seed_data is not None and not args.seed_data.is_file():
        raise UsageError(f"--seed-data {args.seed_data}: no such file")
    if not 0 <= args.port <= 65535:
        raise UsageError(f"--port {args.port}: must be between 0 and 65535")
    try:
        server.serve(host=args.host, port=args.port, db=args.db, seed_data=args.seed_data,
                     faults=tuple(args.fault), variants=tuple(args.variant))
    except server.ServerConfigError as exc:
        raise UsageError(str(exc)) from None
    return EXIT_OK
