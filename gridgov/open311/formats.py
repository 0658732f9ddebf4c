"""The two GeoReport formats. XML is the spec's own (schemaless, no namespace, UTF-8 with the
declaration); JSON is its Spark-convention mapping, so a list element (`<services>`) becomes an
array of its children (`<service>`) and a scalar is a plain value."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET

from fastapi.responses import Response

FORMATS = ("json", "xml")
JSON_TYPE = "application/json; charset=utf-8"
XML_TYPE = "text/xml; charset=utf-8"
# A list's element name → the element name of its members.
MEMBERS = {"services": "service", "service_requests": "request", "attributes": "attribute", "values": "value",
           "errors": "error", "endpoints": "endpoint", "formats": "format"}
_XML_BAD = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")


def _text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return _XML_BAD.sub("", str(value))


def _element(tag: str, value: object) -> ET.Element:
    el = ET.Element(tag)
    if isinstance(value, dict):
        for key, child in value.items():
            el.append(_element(key, child))
    elif isinstance(value, list):
        member = MEMBERS[tag]
        for child in value:
            el.append(_element(member, child))
    else:
        el.text = _text(value)
    return el


def to_xml(root: str, value: object) -> str:
    body = ET.tostring(_element(root, value), encoding="unicode")
    return '<?xml version="1.0" encoding="utf-8"?>\n' + body


def render(fmt: str, root: str, value: object, status: int = 200, headers: dict | None = None) -> Response:
    """`root` names the XML document element; JSON has no root (the spec's arrays are bare)."""
    if fmt == "xml":
        return Response(to_xml(root, value), status_code=status, media_type=XML_TYPE, headers=headers)
    return Response(json.dumps(value, ensure_ascii=False), status_code=status, media_type=JSON_TYPE,
                    headers=headers)


def errors_response(fmt: str, status: int, descriptions: list[str], headers: dict | None = None) -> Response:
    body = [{"code": status, "description": d} for d in descriptions]
    return render(fmt if fmt in FORMATS else "json", "errors", body, status, headers)
