"""The v1.1 XML format: rendering, the XML redeem request in both wrappings, refusals."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from conformance.server import xmlio
from conformance.server.params import Invalid

from .support import MOBILE, Api, redeemable, redeemed

SPENDER = MOBILE["spender"]
XML = {"Content-Type": "application/xml"}


def _item_xml(code: str, points: int = 100) -> str:
    return (f"<element><customer><email/><external_id/><mobile>{SPENDER}</mobile>"
            f"<card_number></card_number></customer><notes>by SMS</notes>"
            f"<points_redeemed>{points}</points_redeemed>"
            f"<redemption_time>2020-03-13 18:02:34</redemption_time><till_id/>"
            f"<transaction_number>red123</transaction_number>"
            f"<validation_code>{code}</validation_code>"
            f"<group_redemption>false</group_redemption></element>")


def test_render_wraps_arrays_in_element_children() -> None:
    body = {"response": {"side_effects": {"effect": [{"id": 1}, {"id": 2}]}, "ok": True,
                         "none": None, "text": "a<b&c\x01"}}
    root = ET.fromstring(xmlio.render(body))
    assert root.tag == "response"
    assert [e.findtext("id") for e in root.find("side_effects/effect")] == ["1", "2"]
    assert root.findtext("ok") == "true" and root.findtext("none") == ""
    assert root.findtext("text") == "a<b&c"  # the control character cannot travel in XML


def test_parse_accepts_both_wrappings() -> None:
    flat = xmlio.parse_redeem(f"<root><redeem>{_item_xml('X')}</redeem></root>".encode())
    nested = xmlio.parse_redeem(
        f"<root><root><redeem>{_item_xml('X')}</redeem></root></root>".encode())
    assert flat == nested
    item = flat["root"]["redeem"][0]
    assert item["customer"]["mobile"] == SPENDER and item["points_redeemed"] == "100"


@pytest.mark.parametrize("body", [b"<root><redeem>", b"not xml", b"<other/>",
                                  b'<!DOCTYPE r [<!ENTITY a "aaaa">]><root>&a;</root>',
                                  b'<?xml version="1.0" encoding="nope"?><root/>',
                                  '<!DOCTYPE r><root/>'.encode("utf-16"), b"<root>\xff</root>",
                                  b"<root>" + b"<a>" * 40 + b"</a>" * 40 + b"</root>"])
def test_parse_refuses_bad_documents(body: bytes) -> None:
    with pytest.raises(Invalid):
        xmlio.parse_redeem(body)


@pytest.mark.parametrize("nested", [False, True], ids=["root-redeem", "root-root-redeem"])
def test_xml_redeem_request_in_both_wrappings(api: Api, nested: bool) -> None:
    code = api.redeem_code(SPENDER)
    inner = f"<redeem>{_item_xml(code)}</redeem>"
    if nested:
        inner = f"<root>{inner}</root>"
    document = f'<?xml version="1.0" encoding="UTF-8"?><root>{inner}</root>'
    response = api.redeem(data=document.encode(), headers=XML, params={"format": "xml"})
    assert response.headers["content-type"].startswith("application/xml")
    root = ET.fromstring(response.content)
    points = root.find("responses/points")
    assert points.findtext("item_status/code") == "800"
    assert points.findtext("points_redeemed") == "100"
    assert points.find("side_effects/effect/element/num_points").text == "100"


def test_text_xml_request_answers_json_by_default(api: Api) -> None:
    code = api.redeem_code(SPENDER)
    document = f"<root><redeem>{_item_xml(code)}</redeem></root>"
    response = api.redeem(data=document, headers={"Content-Type": "text/xml"})
    assert redeemed(response)["item_status"]["code"] == 800


def test_malformed_xml_is_400(api: Api) -> None:
    response = api.redeem(data=b"<root><redeem>", headers=XML, params={"format": "xml"})
    assert response.status_code == 400
    assert ET.fromstring(response.content).findtext("status/code") == "400"


@pytest.mark.parametrize("points", ["100", "105", "abc"])
def test_isredeemable_xml_carries_the_json_values(api: Api, points: str) -> None:
    as_json = api.isredeemable(mobile=SPENDER, points=points)
    as_xml = api.isredeemable(mobile=SPENDER, format="xml", points=points)
    assert as_xml.status_code == as_json.status_code
    root = ET.fromstring(as_xml.content)
    code = str(redeemable(as_json)["item_status"]["code"])
    assert root.findtext("points/redeemable/item_status/code") == code
    expected = "true" if redeemable(as_json)["is_redeemable"] else "false"
    assert root.findtext("points/redeemable/is_redeemable") == expected


def test_validationcode_xml(api: Api) -> None:
    response = api.validationcode(mobile=SPENDER, points=50, format="xml")
    root = ET.fromstring(response.content)
    assert root.findtext("validation_code/code/item_status/code") == "200"
    assert root.findtext("validation_code/code/mobile") == SPENDER
