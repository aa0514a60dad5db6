"""`points-conformance specs check`: everything that keeps the specs honest, in one report."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from openapi_spec_validator import validate as validate_openapi

from conformance.specs import catalog, docsamples, openapi, xsd


@dataclass
class Section:
    title: str
    summary: str
    problems: list[str] = field(default_factory=list)


@dataclass
class SpecReport:
    sections: list[Section] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not any(s.problems for s in self.sections)

    def render(self) -> str:
        lines = []
        for section in self.sections:
            mark = "ok  " if not section.problems else "FAIL"
            lines.append(f"{mark} {section.title}: {section.summary}")
            lines += [f"       - {p}" for p in section.problems]
        failed = sum(1 for s in self.sections if s.problems)
        lines.append(f"specs check: {'passed' if not failed else f'{failed} section(s) failed'}")
        return "\n".join(lines)


def _openapi() -> Section:
    problems, operations = [], 0
    for family in openapi.FAMILIES:
        for strict in (False, True):
            label = f"{family} ({'strict' if strict else 'lenient'})"
            try:
                validate_openapi(openapi.load_family(family, strict))
            except Exception as exc:  # the validator raises several unrelated types
                problems.append(f"{label}: {str(exc).splitlines()[0]}")
    try:
        combined = openapi.load_combined()
        validate_openapi(combined)
        operations = len(list(openapi.iter_operations(combined)))
    except Exception as exc:
        problems.append(f"combined: {str(exc).splitlines()[0]}")
    return Section("OpenAPI", f"{len(openapi.FAMILIES)} families, lenient and strict, "
                              f"{operations} operations", problems)


def _xsd() -> Section:
    problems = []
    targets = xsd.targets()
    for target in targets:
        try:
            xsd.load(target)
        except Exception as exc:  # xmlschema reports parse problems with several types
            problems.append(f"{target.file_name}: {str(exc).splitlines()[0]}")
    problems += [f"{name}: differs from the generator's output; run "
                 "`points-conformance specs generate`" for name in xsd.stale_files()]
    return Section("XSD", f"{len(targets)} files load and are fresh", problems)


def _catalogs() -> Section:
    problems = catalog.check()
    return Section("catalogs", f"{len(catalog.requirements())} requirements, "
                               f"{len(catalog.error_codes())} codes, "
                               f"{len(catalog.conflicts())} conflicts", problems)


def _samples() -> Section:
    results = docsamples.check_all()
    problems = [r.describe() for r in results if not r.ok]
    hit = sum(1 for r in results if r.expected_conflicts)
    return Section("doc samples", f"{len(results)} samples, {hit} hit recorded conflicts "
                                  "(lenient passes, strict names them)", problems)


def _coverage(docs_dir: Path) -> Section:
    from conformance.specs import doccoverage

    report = doccoverage.check_docs(docs_dir, openapi.specs_dir())
    problems = [line for line in doccoverage.format_report(report).splitlines()
                if line.startswith(("  missing", "  stale", "  -"))] if not report.ok else []
    if not report.ok and not problems:
        problems = [doccoverage.format_report(report)]
    documented = len(report.documented)
    return Section(f"docs coverage ({docs_dir})",
                   f"{documented} documented items, {len(report.missing)} missing, "
                   f"{len(report.excepted)} excepted", problems)


def run(docs_dir: Path | None = None) -> SpecReport:
    report = SpecReport()
    for build in (_openapi, _xsd, _catalogs, _samples):
        try:
            report.sections.append(build())
        except openapi.SpecError as exc:
            report.sections.append(Section(build.__name__.strip("_"), "could not run", [str(exc)]))
    if docs_dir is not None:
        report.sections.append(_coverage(docs_dir))
    return report
