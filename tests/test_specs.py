"""The OpenAPI specs: valid, complete, linked, and with a strict variant derived from one source."""

from __future__ import annotations

import copy

import pytest
import schemathesis
from openapi_spec_validator import validate

from conformance.specs import openapi

ALL_OPERATIONS = {
    "isRedeemable", "issueValidationCode", "redeemPoints",
    "isTransferrable", "isGroupTransferrable", "transferPoints", "transferGroupPoints",
    "getTransferHistory", "reversePoints",
    "requestGoodwillPoints", "requestGoodwillPointsV2Prefix",
}


@pytest.mark.parametrize("strict", [False, True], ids=["lenient", "strict"])
@pytest.mark.parametrize("family", list(openapi.FAMILIES))
def test_each_family_is_valid_openapi(family, strict):
    validate(openapi.load_family(family, strict))


def _schemathesis_operations(doc: dict) -> dict[str, str]:
    schema = schemathesis.openapi.from_dict(doc)
    found = {}
    for result in schema.get_all_operations():
        op = result.ok()
        found[op.definition.raw["operationId"]] = op.label
    return found


def test_schemathesis_finds_all_eleven_operations():
    found = _schemathesis_operations(openapi.load_combined())
    assert set(found) == ALL_OPERATIONS
    assert "POST /v2/api_gateway/v2/request-workflow/GOODWILL-POINTS" in found.values()
    assert "POST /api_gateway/v2/request-workflow/GOODWILL-POINTS" in found.values()


def test_each_family_loads_in_schemathesis_alone():
    seen = set()
    for family in openapi.FAMILIES:
        seen |= set(_schemathesis_operations(openapi.load_family(family)))
    assert seen == ALL_OPERATIONS


def test_strict_variant_keeps_only_the_goodwill_path_of_the_uri_row():
    strict = _schemathesis_operations(openapi.load_combined(strict=True))
    assert set(strict) == ALL_OPERATIONS - {"requestGoodwillPointsV2Prefix"}


def _links(doc: dict) -> set[tuple[str, str]]:
    pairs = set()
    for op in openapi.iter_operations(doc):
        for response in op.definition.get("responses", {}).values():
            for link in openapi.resolve(doc, response).get("links", {}).values():
                pairs.add((op.operation_id, link["operationId"]))
    return pairs


def test_links_chain_the_documented_sequences():
    links = _links(openapi.load_combined())
    assert {("isRedeemable", "issueValidationCode"), ("issueValidationCode", "redeemPoints"),
            ("redeemPoints", "reversePoints")} <= links
    assert {("isTransferrable", "transferPoints"),
            ("transferPoints", "getTransferHistory")} <= links


def test_schemathesis_builds_a_state_machine_from_the_links():
    schema = schemathesis.openapi.from_dict(openapi.load_combined())
    machine = schema.as_state_machine()
    assert {
        "GET /v1.1/points/isredeemable -> 200",
        "GET /v1.1/points/validationcode -> 200",
        "POST /v1.1/points/redeem -> 200",
        "POST /v2/points/isTransferrable -> 200",
        "POST /v2/points/transfer -> 200",
    } <= set(machine.bundles)


def test_every_operation_has_an_operation_id_and_refusal_and_auth_responses():
    for op in openapi.iter_operations(openapi.load_combined()):
        assert op.operation_id
        assert {"200", "400", "401"} <= set(op.definition["responses"]), op.key


def test_v11_operations_offer_json_and_xml():
    doc = openapi.load_family("points-v1.1")
    for op in openapi.iter_operations(doc):
        names = {openapi.resolve(doc, p)["name"] for p in op.definition["parameters"]}
        assert "format" in names
        for media in ("application/json", "application/xml"):
            assert openapi.response_schema(doc, op.operation_id, "200", media) is not None
    assert openapi.request_schema(doc, "redeemPoints", "application/xml") is not None


def test_every_conflict_in_the_catalog_is_marked_or_explained():
    marked = set()
    for family in openapi.FAMILIES:
        marked |= openapi.conflict_ids(openapi.load_family(family))
    # Conflicts about codes, statuses, auth, rule order and samples live in other catalogs.
    assert {"DC-01", "DC-02", "DC-03", "DC-04", "DC-05", "DC-06", "DC-07", "DC-08", "DC-10",
            "DC-15", "DC-17", "DC-18"} <= marked


# --- the strict transform ---------------------------------------------------------------------

SOURCE = {
    "a": {"x-doc-conflict": {"id": "DC-X", "strict": {"type": "integer"}},
          "anyOf": [{"type": "integer"}, {"type": "string"}]},
    "b": {"x-doc-conflict": {"id": "DC-Y", "strict": None}, "type": "string"},
    "c": {"x-doc-conflict": {"id": "DC-Z", "strict_patch": {"anyOf": None, "required": ["k"]}},
          "anyOf": [{"required": ["k"]}, {"required": ["j"]}], "properties": {"k": {}}},
    "items": [{"keep": 1}, {"x-doc-conflict": {"id": "DC-Y", "strict": None}}],
}


def test_strict_replaces_removes_and_patches_marked_nodes():
    strict = openapi.strict_variant(copy.deepcopy(SOURCE))
    assert strict["a"]["type"] == "integer" and "anyOf" not in strict["a"]
    assert "b" not in strict
    assert strict["c"]["required"] == ["k"] and "anyOf" not in strict["c"]
    assert strict["c"]["properties"] == {"k": {}}
    assert strict["items"] == [{"keep": 1}]
    assert strict["a"]["x-doc-conflict"]["id"] == "DC-X"


def test_strict_with_only_applies_just_the_named_conflicts():
    partial = openapi.strict_variant(copy.deepcopy(SOURCE), only={"DC-Y"})
    assert "b" not in partial
    assert partial["a"] == SOURCE["a"] and partial["c"] == SOURCE["c"]


def test_lenient_source_is_not_changed_by_deriving_strict():
    before = openapi.load_family("points-v1.1")
    openapi.load_family("points-v1.1", strict=True)
    assert openapi.load_family("points-v1.1") == before
