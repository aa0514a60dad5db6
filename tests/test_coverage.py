"""Coverage of a run: a known set of calls to a loopback stub gives known figures."""

from __future__ import annotations

import json
import pickle
from datetime import UTC, datetime

from conformance.checks.fuzz import FuzzOutcome
from conformance.report import coverage
from conformance.report.collector import Collector
from conformance.target.client import TargetClient
from conformance.target.seen import Seen as SeenSoFar
from tests.targets import Reply, Seen, json_reply
from tests.test_client import make_profile

ISREDEEMABLE = "GET /v1.1/points/isredeemable"
TRANSFER = "POST /v2/points/transfer"
XML_REFUSAL = (b"<response><status><code>400</code></status><points><redeemable>"
               b"<item_status><code>801</code></item_status></redeemable></points></response>")


def scripted(seen: Seen, _handler) -> Reply:
    """isredeemable: 800 in JSON, or 801 in XML for format=xml; transfer: 418, or 401."""
    if seen.path.startswith("/v1.1/points/isredeemable"):
        if "format=xml" in seen.path:
            return 400, {"Content-Type": "application/xml"}, XML_REFUSAL
        return json_reply(200, {"response": {"status": {"code": 200}, "points": {
            "redeemable": {"item_status": {"code": 800}}}}})
    if b"lots" in seen.body:
        return json_reply(401, {"message": "no"})
    return json_reply(400, {"errors": [{"code": 418, "message": "same customer"}]})


def send_known_calls(stub) -> Collector:
    """Four calls through the client, observed as the suite's plugin observes them."""
    server = stub(scripted)
    collector = Collector()
    client = TargetClient(make_profile(server.url), observer=lambda method, path, response, _:
                          collector.seen.observe_response(f"{method.upper()} {path}", response))
    client.request("GET", "/v1.1/points/isredeemable",
                   params={"mobile": "447700900001", "points": 100})
    client.request("GET", "/v1.1/points/isredeemable",
                   params={"mobile": "447700900001", "points": "abc", "format": "xml"})
    client.request("POST", "/v2/points/transfer",
                   json={"pointsTobeTransferred": 10,
                         "fromCustomerIdentifier": {"type": "MOBILE", "value": "447700900001"},
                         # the documented types are upper case: "mobile" is an invalid value
                         "toCustomerIdentifier": {"type": "mobile", "value": "447700900002"}})
    client.request("POST", "/v2/points/transfer", json={"pointsTobeTransferred": "lots"})
    return collector


def operation(cov: coverage.Coverage, label: str) -> dict:
    return next(op for op in cov.to_json()["operations"] if op["operation"] == label)


def test_each_figure_counts_what_the_stub_was_sent_and_answered(stub):
    cov = coverage.build(send_known_calls(stub).seen)
    data = cov.to_json()
    assert coverage.schema_errors(data) == []

    redeemable = operation(cov, ISREDEEMABLE)
    assert (redeemable["statuses"]["seen"], redeemable["statuses"]["documented"]) == (2, 3)
    assert redeemable["statuses"]["never_seen"] == [401]
    assert (redeemable["formats"]["seen"], redeemable["formats"]["documented"]) == (2, 2)
    # 800 and 801 as item_status codes, 200 and 400 as response.status.code
    seen_codes = {f"{c['family']} {c['code']}" for c in data["codes"]
                  if ISREDEEMABLE in c["seen_on"]}
    assert seen_codes == {"v1.1 800", "v1.1 801", "http 200", "http 400"}
    assert redeemable["codes"]["seen"] == 4
    missing = {c["code"]: c["requirements"] for c in redeemable["codes"]["never_seen"]}
    assert missing[807] == ["RDM-03"] and 800 not in missing
    assert redeemable["parameters"]["seen"] == 4  # mobile valid, points valid and invalid, format
    assert "points (invalid)" not in redeemable["parameters"]["never_seen"]
    assert "email (valid)" in redeemable["parameters"]["never_seen"]

    transfer = operation(cov, TRANSFER)
    assert transfer["statuses"]["never_seen"] == [200]
    assert transfer["codes"]["seen"] == 3  # v2 418, and 400 and 401 as the HTTP status
    assert (transfer["formats"]["seen"], transfer["formats"]["documented"]) == (1, 1)
    assert transfer["parameters"]["seen"] == 6
    assert "fromCustomerIdentifier.type (invalid)" in transfer["parameters"]["never_seen"]
    assert "toCustomerIdentifier.type (valid)" in transfer["parameters"]["never_seen"]
    assert "toCustomerIdentifier.type (invalid)" not in transfer["parameters"]["never_seen"]
    assert "pointsTobeTransferred (invalid)" not in transfer["parameters"]["never_seen"]

    untouched = operation(cov, "POST /v2/points/reverse")
    assert untouched["statuses"]["seen"] == untouched["codes"]["seen"] == 0
    assert untouched["percent"] == 0.0

    assert cov.line() == "coverage: statuses 4/33, codes 6/84, parameters 10/285, formats 2/2"
    assert data["total"]["codes"]["documented"] == 84


def test_every_catalog_code_names_the_requirements_that_expect_it():
    codes = coverage.build(SeenSoFar()).to_json()["codes"]
    by_key = {(c["family"], c["code"]): c["requirements"] for c in codes}
    assert by_key[("v1.1", 812)] == ["REV-02"]  # a v1.1 table code a v2 operation answers
    assert by_key[("v2", 418)] == ["TRF-04"]
    assert by_key[("v1.1", 808)] == ["OTP-03", "OTP-04", "OTP-05", "OTP-07"]
    assert by_key[("v1.1", 822)] == []  # missed-call validation: no requirement expects it


def test_coverage_survives_the_xdist_export_and_the_con08_process_pickle(stub):
    collector = send_known_calls(stub)
    merged = Collector()
    merged.merge(json.loads(json.dumps(collector.export())))
    assert coverage.build(merged.seen).line() == coverage.build(collector.seen).line()
    outcome = pickle.loads(pickle.dumps(FuzzOutcome(seen=collector.seen)))
    assert coverage.build(outcome.seen).line() == coverage.build(collector.seen).line()
    merged.merge(collector.export())  # the same facts twice count once
    assert coverage.build(merged.seen).line() == coverage.build(collector.seen).line()


def build(collector: Collector, min_coverage: float | None):
    now = datetime.now(UTC)
    return collector.build(target="http://stub", started_at=now, finished_at=now,
                           suite_version="0", spec_version="0", strict=False,
                           min_coverage=min_coverage)


def test_min_coverage_makes_a_run_below_it_non_conformant_with_the_reason(stub):
    collector = send_known_calls(stub)
    result = build(collector, None)
    found = result.coverage.percent
    assert 0 < found < 10
    below = build(collector, 80)
    assert below.verdict == "non-conformant" and below.exit_code == 1
    assert below.coverage_shortfall == f"coverage {int(found)}% below --min-coverage 80"
    data = below.to_json()
    assert data["coverage"]["shortfall"] == below.coverage_shortfall
    assert type(below).from_json(data).verdict == "non-conformant"
    assert build(collector, 1).coverage_shortfall is None
    assert build(collector, 1).verdict == result.verdict


def test_the_union_of_shards_coverage_is_the_coverage_of_everything_they_saw(stub):
    seen = send_known_calls(stub).seen.to_dict()
    # Two shards: one saw isredeemable, the other transfer (and a 418 both saw).
    first = SeenSoFar().merge({ISREDEEMABLE: seen[ISREDEEMABLE]})
    second = SeenSoFar().merge({TRANSFER: seen[TRANSFER],
                                ISREDEEMABLE: {"statuses": [200], "codes": [], "formats": [],
                                               "params": []}})
    parts = [coverage.build(first), coverage.build(second)]
    whole = coverage.build(SeenSoFar().merge(first).merge(second))
    joined = coverage.union(parts)
    assert joined.to_json() == whole.to_json()
    assert joined.percent > max(part.percent for part in parts)
