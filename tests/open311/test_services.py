"""GeoReport v2 service discovery, the service list and service definitions, formats and the
spec's error shape (checked against http://wiki.open311.org/GeoReport_v2)."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

from sqlalchemy import select

from gridgov.catalog.models import CatalogItem, Category
from tests.open311.conftest import V2

SERVICE_FIELDS = ["service_code", "service_name", "description", "metadata", "type", "keywords", "group"]
ATTRIBUTE_FIELDS = {"variable", "code", "datatype", "required", "datatype_description", "order", "description",
                    "values"}


def xml_of(r) -> ET.Element:
    assert r.headers["content-type"].startswith("text/xml"), r.headers["content-type"]
    assert "charset=utf-8" in r.headers["content-type"]
    assert r.content.startswith(b'<?xml version="1.0" encoding="utf-8"?>'), r.content[:60]
    return ET.fromstring(r.content)  # raises on XML that is not well formed


def assert_spec_error(r, status: int) -> str:
    assert r.status_code == status, r.text
    if r.headers["content-type"].startswith("text/xml"):
        root = xml_of(r)
        assert root.tag == "errors" and len(root) >= 1
        assert [c.tag for c in root[0]] == ["code", "description"]
        assert root[0].findtext("code") == str(status)
        return root[0].findtext("description")
    body = r.json()
    assert isinstance(body, list) and body, body
    assert set(body[0]) == {"code", "description"} and body[0]["code"] == status
    assert body[0]["description"]
    return body[0]["description"]


def test_services_lists_every_active_item_with_the_spec_fields(api, db_sessions):
    r = api.get(f"{V2}/services.json")
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/json")
    services = r.json()
    with db_sessions() as db:
        items = {i.code: i for i in db.scalars(select(CatalogItem).where(CatalogItem.active.is_(True))).unique()}
        majors = {c.id: c.name for c in db.scalars(select(Category).where(Category.parent_id.is_(None)))}
        parents = dict(db.execute(select(Category.id, Category.parent_id)).all())
    assert [s["service_code"] for s in services] == sorted(items)
    for s in services:
        assert list(s) == SERVICE_FIELDS
        item = items[s["service_code"]]
        assert s["service_name"] == item.name
        assert s["description"] == item.registration_standard
        assert s["type"] == "realtime" and isinstance(s["metadata"], bool)
        assert s["group"] == majors[parents[item.category_id]]
        assert s["keywords"] == ", ".join(item.keywords.split())
    trash = next(s for s in services if s["service_name"] == "暴露垃圾")
    assert trash["group"] == "市容环境" and "生活垃圾" in trash["keywords"].split(", ")


def test_inactive_items_are_not_services(api, db_sessions):
    code = api.get(f"{V2}/services.json").json()[0]["service_code"]
    with db_sessions() as db:
        db.scalar(select(CatalogItem).where(CatalogItem.code == code)).active = False
        db.commit()
    try:
        assert code not in [s["service_code"] for s in api.get(f"{V2}/services.json").json()]
        assert_spec_error(api.get(f"{V2}/services/{code}.json"), 404)
    finally:
        with db_sessions() as db:
            db.scalar(select(CatalogItem).where(CatalogItem.code == code)).active = True
            db.commit()
    assert code in [s["service_code"] for s in api.get(f"{V2}/services.json").json()]


def test_services_xml_uses_the_spec_elements(api):
    root = xml_of(api.get(f"{V2}/services.xml"))
    as_json = api.get(f"{V2}/services.json").json()
    assert root.tag == "services" and {c.tag for c in root} == {"service"}
    assert len(root) == len(as_json)
    first = root[0]
    assert [c.tag for c in first] == SERVICE_FIELDS
    assert first.findtext("service_code") == as_json[0]["service_code"]
    assert first.findtext("metadata") in ("true", "false")
    assert first.findtext("type") == "realtime"


def test_service_definition_follows_the_spec_shape(api):
    code = api.get(f"{V2}/services.json").json()[0]["service_code"]
    r = api.get(f"{V2}/services/{code}.json")
    assert r.status_code == 200
    body = r.json()
    assert set(body) == {"service_code", "attributes"} and body["service_code"] == code
    assert body["attributes"], "the demo items have a closure standard, shown as an informational attribute"
    for a in body["attributes"]:
        assert set(a) == ATTRIBUTE_FIELDS
        assert a["datatype"] in ("string", "number", "datetime", "text", "singlevaluelist", "multivaluelist")
        assert a["variable"] is False and a["required"] is False and a["order"] >= 1
    root = xml_of(api.get(f"{V2}/services/{code}.xml"))
    assert root.tag == "service_definition"
    assert [c.tag for c in root] == ["service_code", "attributes"]
    attribute = root.find("attributes/attribute")
    assert attribute is not None and attribute.findtext("code") == body["attributes"][0]["code"]
    assert attribute.findtext("variable") == "false" and attribute.find("values") is not None


def test_metadata_is_true_exactly_when_a_definition_has_attributes(api):
    services = api.get(f"{V2}/services.json").json()
    for s in services[:5]:
        attributes = api.get(f"{V2}/services/{s['service_code']}.json").json()["attributes"]
        assert s["metadata"] is bool(attributes)


def test_unknown_service_code_is_a_404_in_the_spec_shape(api):
    assert "999999" in assert_spec_error(api.get(f"{V2}/services/999999.json"), 404)
    assert "999999" in assert_spec_error(api.get(f"{V2}/services/999999.xml"), 404)


def test_an_unknown_format_is_a_404(api):
    assert "html" in assert_spec_error(api.get(f"{V2}/services.html"), 404)
    assert_spec_error(api.get(f"{V2}/requests.csv"), 404)
    assert_spec_error(api.get(f"{V2}/services/010101.yaml"), 404)


def test_unknown_paths_and_methods_answer_in_the_spec_shape(api):
    assert_spec_error(api.get(f"{V2}/nothing-here"), 404)
    assert_spec_error(api.get(f"{V2}/nothing-here.xml"), 404)
    r = api.post(f"{V2}/services.json")
    assert_spec_error(r, 405)
    assert "GET" in r.headers["allow"]
    assert_spec_error(api.delete(f"{V2}/requests.xml"), 405)


def test_errors_are_chinese_by_default_and_english_on_request(api):
    zh = assert_spec_error(api.get(f"{V2}/services/999999.json"), 404)
    en = assert_spec_error(api.get(f"{V2}/services/999999.json", headers={"Accept-Language": "en"}), 404)
    assert zh == "找不到服务 999999"
    assert en == "Service 999999 not found"


def test_json_is_utf8_and_not_escaped(api):
    r = api.get(f"{V2}/services.json")
    assert r.headers["content-type"] == "application/json; charset=utf-8"
    assert "市容环境".encode() in r.content
    json.loads(r.content.decode("utf-8"))


def test_discovery_points_at_this_endpoint(api):
    body = api.get(f"{V2}/discovery.json").json()
    endpoint = body["endpoints"][0]
    assert endpoint["specification"] == "http://wiki.open311.org/GeoReport_v2"
    assert endpoint["url"].endswith(V2) and set(endpoint["formats"]) == {"text/xml", "application/json"}
    root = xml_of(api.get(f"{V2}/discovery.xml"))
    assert root.tag == "discovery"
    assert [f.text for f in root.findall("endpoints/endpoint/formats/format")] == ["text/xml", "application/json"]


def test_jurisdiction_id_is_accepted_and_ignored(api):
    plain = api.get(f"{V2}/services.json").json()
    assert api.get(f"{V2}/services.json", params={"jurisdiction_id": "lusong.gov.cn"}).json() == plain


def test_every_open311_message_has_an_english_translation():
    import re
    from pathlib import Path

    from gridgov.core.i18n import EN
    from gridgov.open311 import service, views

    texts = []
    for module in (service, views):
        source = Path(module.__file__).read_text(encoding="utf-8")
        # a message may be split over adjacent string literals
        for call in re.finditer(r'(?:Open311Error\(\d+, |translate\()((?:"[^"]*"\s*)+)', source):
            texts.append("".join(re.findall(r'"([^"]*)"', call.group(1))))
    assert len(texts) > 20
    missing = [t for t in texts if t not in EN]
    assert missing == []
