"""Filing, following and looking up service requests through GeoReport v2: API keys, location,
idempotent resends, the spec's filters and default window, tokens, status mapping after our
own lifecycle actions, and no personal data in what the public can read."""

from __future__ import annotations

import threading
import uuid
import xml.etree.ElementTree as ET
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

from gridgov.cases.models import Case, CaseEvent
from gridgov.open311 import service
from gridgov.open311.service import DEMO_KEY, create_client
from tests.open311.conftest import DISPATCHER, V2, WORKER, case_by_number, handler_username, items_at, point_in
from tests.open311.test_services import assert_spec_error, xml_of

REQUEST_FIELDS = ["service_request_id", "status", "status_notes", "service_name", "service_code", "description",
                  "agency_responsible", "service_notice", "requested_datetime", "updated_datetime",
                  "expected_datetime", "address", "address_id", "zipcode", "lat", "long", "media_url"]


def created(r) -> dict:
    assert r.status_code == 201, r.text
    body = r.json()
    assert isinstance(body, list) and len(body) == 1
    return body[0]


def one(api, number: str, **headers) -> dict:
    r = api.get(f"{V2}/requests/{number}.json", headers=headers)
    assert r.status_code == 200, r.text
    body = r.json()
    assert isinstance(body, list) and len(body) == 1
    return body[0]


def numbers(r) -> list[str]:
    assert r.status_code == 200, r.text
    return [x["service_request_id"] for x in r.json()]


# --- filing ---

def test_post_creates_a_case_through_our_intake(file, db_sessions):
    lat, lon = point_in(db_sessions)
    code = items_at(db_sessions)[0]
    body = created(file(service_code=code, lat=str(lat), long=str(lon), address_string="建设南路 12 号门前",
                        first_name="小明", last_name="王", phone="13812345678", email="wxm@example.com",
                        media_url="https://img.example.com/1.jpg", device_id="dev-1",
                        **{"attribute[note]": "靠近公交站"}))
    assert list(body) == ["service_request_id", "service_notice", "account_id"]
    assert body["account_id"] is None
    assert body["service_request_id"] in body["service_notice"]
    case = case_by_number(db_sessions, body["service_request_id"])
    assert case.source == "open311" and case.state == "reported"
    assert (case.lat, case.lon) == (lat, lon)  # lat is latitude, long is longitude (WGS-84)
    assert case.reporter_name == "王小明" and case.reporter_phone_masked == "138****5678"
    assert b"13812345678" not in case.reporter_phone_cipher  # encrypted at rest
    assert case.reporter_user_id is None and case.address == "建设南路 12 号门前"
    assert case.grid_code == "43020300200301" and case.deadline is not None
    with db_sessions() as db:
        from gridgov.catalog.models import CatalogItem

        assert db.get(CatalogItem, case.item_id).code == code
        report = db.scalar(select(CaseEvent).where(CaseEvent.case_id == case.id, CaseEvent.action == "report"))
    kept = report.data["open311"]
    assert kept["media_url"] == "https://img.example.com/1.jpg" and kept["email"] == "wxm@example.com"
    assert kept["attributes"] == {"note": "靠近公交站"} and kept["client"].startswith("演示客户端")


def test_latin_names_are_first_then_last(file, db_sessions):
    body = created(file(first_name="John", last_name="Smith"))
    assert case_by_number(db_sessions, body["service_request_id"]).reporter_name == "John Smith"


def test_description_is_optional_and_defaults_to_the_service_name(file, api, db_sessions):
    body = created(file(description=None))
    assert one(api, body["service_request_id"])["description"] == one(api, body["service_request_id"])["service_name"]


def test_api_key_may_come_in_the_query(api, db_sessions):
    lat, lon = point_in(db_sessions)
    r = api.post(f"{V2}/requests.json", params={"api_key": DEMO_KEY},
                 data={"service_code": items_at(db_sessions)[0], "lat": lat, "long": lon, "description": "井盖缺失"})
    created(r)


def test_xml_post_answers_in_xml(file):
    r = file(fmt="xml")
    assert r.status_code == 201
    root = xml_of(r)
    assert root.tag == "service_requests" and [c.tag for c in root] == ["request"]
    assert [c.tag for c in root[0]] == ["service_request_id", "service_notice", "account_id"]
    assert root[0].findtext("service_request_id").startswith("SJ")


def test_a_missing_or_bad_api_key_is_a_403(file, db_sessions):
    assert "api_key" in assert_spec_error(file(api_key=None), 403)
    assert "api_key" in assert_spec_error(file(api_key="not-a-key"), 403)
    assert_spec_error(file(fmt="xml", api_key="not-a-key"), 403)
    with db_sessions() as db:
        client, key = create_client(db, "停用的客户端")
        client.active = False
        db.commit()
    assert_spec_error(file(api_key=key), 403)


def test_a_new_client_key_works(file, db_sessions):
    with db_sessions() as db:
        _, key = create_client(db, "测试客户端")
        db.commit()
    created(file(api_key=key))


def test_service_code_missing_or_unknown(file):
    assert "service_code" in assert_spec_error(file(service_code=None), 400)
    assert "999999" in assert_spec_error(file(service_code="999999"), 404)


def test_location_is_required_and_an_address_alone_cannot_be_located(file):
    text = assert_spec_error(file(lat=None, long=None), 400)
    assert "lat" in text and "long" in text
    text = assert_spec_error(file(lat=None, long=None, address_string="建设南路 12 号"), 400)
    assert "address_string" in text and "lat" in text
    assert_spec_error(file(lat=None, long=None, address_id="545483"), 400)
    en = assert_spec_error(file(lat=None, long=None, address_string="x", headers={"Accept-Language": "en"}), 400)
    assert en.startswith("Cannot locate")
    assert_spec_error(file(fmt="xml", lat=None, long=None, address_string="x"), 400)


def test_bad_coordinates_are_400s(file):
    assert "lat" in assert_spec_error(file(long=None), 400)
    assert "lat" in assert_spec_error(file(lat="north"), 400)
    assert "long" in assert_spec_error(file(long="200"), 400)
    assert "lat" in assert_spec_error(file(lat="nan"), 400)
    outside = assert_spec_error(file(lat="0", long="0"), 400)
    assert "网格" in outside


def test_other_fields_are_checked(file):
    assert "description" in assert_spec_error(file(description="长" * 4001), 400)
    assert "media_url" in assert_spec_error(file(media_url="javascript:alert(1)"), 400)
    assert "email" in assert_spec_error(file(email="not-an-address"), 400)
    assert "phone" in assert_spec_error(file(phone="12345"), 400)
    assert "Idempotency-Key" in assert_spec_error(file(headers={"Idempotency-Key": "k" * 201}), 400)


# --- idempotency ---

def test_a_resend_with_the_same_idempotency_key_returns_the_first_request(file, db_sessions):
    key = {"Idempotency-Key": uuid.uuid4().hex}
    first = file(headers=key)
    again = file(headers=key, description="第二次发送，内容不同")
    other = file(headers={"Idempotency-Key": uuid.uuid4().hex})
    plain_a, plain_b = file(), file()
    assert first.status_code == 201 and again.status_code == 200
    assert again.json() == first.json()  # same service_request_id and notice
    assert other.status_code == 201
    ids = {r.json()[0]["service_request_id"] for r in (first, other, plain_a, plain_b)}
    assert len(ids) == 4
    with db_sessions() as db:
        assert db.scalar(select(Case.id).where(Case.description == "第二次发送，内容不同")) is None


def test_idempotency_keys_are_per_client(file, db_sessions):
    with db_sessions() as db:
        _, other_key = create_client(db, "另一个客户端")
        db.commit()
    key = {"Idempotency-Key": uuid.uuid4().hex}
    a = created(file(headers=key))
    b = created(file(headers=key, api_key=other_key))
    assert a["service_request_id"] != b["service_request_id"]


def test_concurrent_resends_make_one_case(file):
    key = {"Idempotency-Key": uuid.uuid4().hex}
    results = []

    def send():
        results.append(file(headers=key))

    threads = [threading.Thread(target=send) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(r.status_code in (200, 201) for r in results), [r.text for r in results]
    assert len({r.json()[0]["service_request_id"] for r in results}) == 1


def test_a_lost_idempotency_race_answers_with_the_winner(file, db_sessions, monkeypatch):
    """Two resends both miss the key, both insert: the loser's insert fails and it answers with the winner."""
    import gridgov.cases.service as cases

    key = {"Idempotency-Key": uuid.uuid4().hex}
    winner = created(file(headers=key))
    real, misses = cases.idempotent_case, []

    def late(db, scope, k):
        if len(misses) < 2:  # the two look-ups before the insert see nothing yet
            misses.append(k)
            return None
        return real(db, scope, k)

    monkeypatch.setattr(cases, "idempotent_case", late)
    text = f"竞争失败的重发 {uuid.uuid4().hex[:6]}"
    loser = file(headers=key, description=text)
    assert len(misses) == 2
    assert loser.status_code == 200, loser.text
    assert loser.json()[0] == winner
    with db_sessions() as db:
        assert db.scalar(select(Case.id).where(Case.description == text)) is None  # rolled back


# --- reading ---

def test_get_one_request_has_the_spec_fields(file, api, db_sessions):
    body = created(file(address_string="建设南路 12 号", media_url="https://img.example.com/2.jpg"))
    number = body["service_request_id"]
    r = one(api, number)
    assert list(r) == REQUEST_FIELDS
    case = case_by_number(db_sessions, number)
    assert r["service_request_id"] == number and r["status"] == "open" and r["status_notes"] == "待受理"
    assert r["service_code"] == items_at(db_sessions)[0] and r["service_name"]
    assert r["agency_responsible"] and r["address"] == "建设南路 12 号"
    assert r["media_url"] == "https://img.example.com/2.jpg"
    assert (r["lat"], r["long"]) == (case.lat, case.lon)
    for name in ("requested_datetime", "updated_datetime"):
        when = datetime.fromisoformat(r[name])
        assert when.utcoffset() == timedelta(hours=8), r[name]  # w3c with the offset, Asia/Shanghai
    assert datetime.fromisoformat(r["requested_datetime"]) == case.created_at.replace(microsecond=0)
    assert r["expected_datetime"] is None  # not before handling starts (test_spec_audit)
    assert_spec_error(api.get(f"{V2}/requests/SJ00000000999999.json"), 404)
    assert_spec_error(api.get(f"{V2}/requests/SJ00000000999999.xml"), 404)


def test_requests_xml_is_well_formed_with_the_spec_elements(file, api):
    number = created(file(description="含特殊字符 <b>&amp; \x01 的描述"))["service_request_id"]
    root = xml_of(api.get(f"{V2}/requests/{number}.xml"))
    assert root.tag == "service_requests" and [c.tag for c in root] == ["request"]
    assert [c.tag for c in root[0]] == REQUEST_FIELDS
    assert root[0].findtext("status") == "open"
    assert "<b>&amp;" in root[0].findtext("description")
    listing = xml_of(api.get(f"{V2}/requests.xml", params={"service_request_id": number}))
    assert [r.findtext("service_request_id") for r in listing] == [number]


def test_no_personal_data_is_readable(file, api, token_of):
    body = created(file(first_name="秀英", last_name="刘", phone="13987654321", email="lxy@example.com",
                        description="垃圾堆在门口，联系电话 13987654321，身份证 430203199001011234"))
    number = body["service_request_id"]
    texts = [api.get(f"{V2}/requests/{number}.json").text, api.get(f"{V2}/requests/{number}.xml").text,
             api.get(f"{V2}/requests.json", params={"service_request_id": number}).text,
             api.get(f"{V2}/requests.xml").text, api.get(f"{V2}/tokens/{token_of(number)}.json").text]
    for text in texts:
        for secret in ("刘秀英", "秀英", "13987654321", "lxy@example.com", "430203199001011234"):
            assert secret not in text
        for name in ("first_name", "last_name", "phone", "email", "reporter", "device_id", "account_id"):
            assert name not in text
    assert "139****4321" in one(api, number)["description"]


# --- filters ---

def test_filters_by_service_code_status_and_ids(file, api, act, db_sessions):
    code_a, code_b = items_at(db_sessions, n=2)
    a = created(file(service_code=code_a))["service_request_id"]
    b = created(file(service_code=code_b))["service_request_id"]
    by_a = numbers(api.get(f"{V2}/requests.json", params={"service_code": code_a}))
    assert a in by_a and b not in by_a
    both = numbers(api.get(f"{V2}/requests.json", params={"service_code": f"{code_a},{code_b}"}))
    assert {a, b} <= set(both)
    act(case_by_number(db_sessions, b).id, "void", DISPATCHER, comment="重复上报")
    closed = numbers(api.get(f"{V2}/requests.json", params={"status": "closed"}))
    opened = numbers(api.get(f"{V2}/requests.json", params={"status": "open"}))
    assert b in closed and a not in closed and a in opened and b not in opened
    assert {a, b} <= set(numbers(api.get(f"{V2}/requests.json", params={"status": "open,closed"})))
    # service_request_id overrides all other arguments
    r = api.get(f"{V2}/requests.json", params={"service_request_id": f"{a},{b}", "status": "closed",
                                                "service_code": "999999", "start_date": "2001-01-01T00:00:00Z",
                                                "end_date": "2001-02-01T00:00:00Z"})
    assert sorted(numbers(r)) == sorted([a, b])
    assert numbers(api.get(f"{V2}/requests.json", params={"service_request_id": "SJ00000000999999"})) == []
    assert "status" in assert_spec_error(api.get(f"{V2}/requests.json", params={"status": "pending"}), 400)


def test_filters_by_date(file, api, db_sessions):
    number = created(file())["service_request_id"]
    at = case_by_number(db_sessions, number).created_at

    def listed(**params) -> bool:
        return number in numbers(api.get(f"{V2}/requests.json", params=params))

    def w3c(d: datetime) -> str:
        return d.isoformat().replace("+00:00", "Z")

    assert listed(start_date=w3c(at - timedelta(minutes=1)), end_date=w3c(at + timedelta(minutes=1)))
    assert not listed(start_date=w3c(at + timedelta(minutes=1)), end_date=w3c(at + timedelta(hours=1)))
    assert listed(start_date=w3c(at - timedelta(days=1)))
    assert not listed(end_date=w3c(at - timedelta(minutes=1)))
    # an offset is honoured: the same instant written in Asia/Shanghai time
    local = (at - timedelta(minutes=1)).astimezone(ZoneInfo("Asia/Shanghai")).isoformat(timespec="seconds")
    assert listed(start_date=local)
    # … even when an unencoded '+' arrived as a space
    assert number in numbers(api.get(f"{V2}/requests.json?start_date={local.replace('+', ' ')}"))
    for bad in ({"start_date": "yesterday"}, {"end_date": "2026-13-01T00:00:00Z"},
                {"start_date": "2026-03-01T00:00:00Z", "end_date": "2026-01-01T00:00:00Z"},
                {"start_date": "2026-01-01T00:00:00Z", "end_date": "2026-06-01T00:00:00Z"}):
        assert_spec_error(api.get(f"{V2}/requests.json", params=bad), 400)


def test_the_default_window_is_the_last_90_days(file, api, db_sessions):
    old = created(file())["service_request_id"]
    recent = created(file())["service_request_id"]
    with db_sessions() as db:
        case = db.scalar(select(Case).where(Case.number == old))
        case.created_at = case.created_at - timedelta(days=100)
        db.commit()
        when = case.created_at
    listing = numbers(api.get(f"{V2}/requests.json"))
    assert recent in listing and old not in listing
    start = (when - timedelta(days=1)).isoformat()
    assert old in numbers(api.get(f"{V2}/requests.json", params={"start_date": start}))
    assert one(api, old)["service_request_id"] == old


def test_at_most_the_limit_newest_first(file, api, monkeypatch):
    first = created(file())["service_request_id"]
    second = created(file())["service_request_id"]
    monkeypatch.setattr(service, "MAX_RESULTS", 2)
    listing = numbers(api.get(f"{V2}/requests.json"))
    assert listing == [second, first]


# --- status after our own lifecycle ---

def test_status_follows_the_case_through_our_actions_to_closed(file, api, act, db_sessions):
    number = created(file())["service_request_id"]
    case = case_by_number(db_sessions, number)
    handler = handler_username(db_sessions, case)
    act(case.id, "register", DISPATCHER)
    assert one(api, number)["status"] == "open" and one(api, number)["status_notes"] == "待派遣"
    act(case.id, "dispatch", DISPATCHER)
    act(case.id, "sign", handler)
    assert one(api, number)["status_notes"] == "处置中"
    act(case.id, "report_back", handler, comment="已清理完毕，如有问题请拨 13811112222")
    r = one(api, number)
    assert r["status"] == "open" and r["status_notes"] == "待核查：已清理完毕，如有问题请拨 138****2222"
    assert one(api, number, **{"Accept-Language": "en"})["status_notes"].startswith("Handled, awaiting verification")
    act(case.id, "verify", WORKER)
    act(case.id, "close", DISPATCHER)
    r = one(api, number)
    assert r["status"] == "closed" and r["status_notes"] == "已结案"
    assert r["expected_datetime"] is None
    closed_at = case_by_number(db_sessions, number).closed_at
    assert datetime.fromisoformat(r["updated_datetime"]) == closed_at.replace(microsecond=0)
    assert number in numbers(api.get(f"{V2}/requests.json", params={"status": "closed"}))
    act(case.id, "evaluate", DISPATCHER, satisfaction="satisfied")
    assert one(api, number)["status"] == "closed"
    root = xml_of(api.get(f"{V2}/requests/{number}.xml"))
    assert root[0].findtext("status") == "closed"


def test_voided_and_merged_requests_are_closed_with_a_note(file, api, act, db_sessions):
    kept = created(file())["service_request_id"]
    duplicate = created(file())["service_request_id"]
    voided = created(file())["service_request_id"]
    act(case_by_number(db_sessions, duplicate).id, "merge", DISPATCHER,
        target_case_id=case_by_number(db_sessions, kept).id)
    act(case_by_number(db_sessions, voided).id, "void", DISPATCHER, comment="无效上报")
    assert one(api, duplicate)["status"] == "closed"
    assert one(api, duplicate)["status_notes"] == f"已合并：与事件 {kept} 重复"
    assert one(api, duplicate, **{"Accept-Language": "en"})["status_notes"] == f"Duplicate of request {kept}"
    assert one(api, voided)["status"] == "closed" and one(api, voided)["status_notes"] == "已作废：无效上报"
    assert one(api, kept)["status"] == "open"


# --- tokens ---

def test_tokens_give_back_the_request_id(file, api, token_of):
    body = created(file(headers={"Idempotency-Key": uuid.uuid4().hex}))
    token = token_of(body["service_request_id"])
    r = api.get(f"{V2}/tokens/{token}.json")
    assert r.status_code == 200
    assert r.json() == [{"service_request_id": body["service_request_id"], "token": token}]
    root = xml_of(api.get(f"{V2}/tokens/{token}.xml"))
    assert root.tag == "service_requests" and [c.tag for c in root[0]] == ["service_request_id", "token"]
    assert root[0].findtext("service_request_id") == body["service_request_id"]
    case_id, _, sig = token.partition("-")
    forged = f"{case_id}-{'0' * len(sig)}"
    for bad in (forged, "nonsense", f"{int(case_id) + 1}-{sig}"):
        assert_spec_error(api.get(f"{V2}/tokens/{bad}.json"), 404)


def test_a_token_with_other_digits_is_not_found_not_a_server_error(api):
    # "²" and "١" are digits to str.isdigit() but not to int(): such a token is simply unknown.
    for bad in ("²-0123456789abcdef0123", "١٢-0123456789abcdef0123"):
        assert_spec_error(api.get(f"{V2}/tokens/{bad}.json"), 404)
        assert_spec_error(api.get(f"{V2}/tokens/{bad}.xml"), 404)


def test_a_token_is_stable_for_its_request():
    assert service.request_token("secret", 7) == service.request_token("secret", 7)
    assert service.request_token("secret", 7) != service.request_token("secret", 8)
    assert service.request_token("secret", 7) != service.request_token("other secret", 7)


def test_public_text_masks_contact_details():
    masked = service.public_text("电话 13812345678 或 0731-28881234，身份证 43020319900101123X，邮件 a.b@c.cn")
    assert masked == "电话 138****5678 或 0731-****1234，身份证 430203********123X，邮件 ***@***"
    assert service.public_text("2026 年 11 月 21 日 1000 平方米，编号 SJ20261121000001") == (
        "2026 年 11 月 21 日 1000 平方米，编号 SJ20261121000001")
    assert service.public_text("") is None


def test_xml_error_elements(api):
    root = ET.fromstring(api.get(f"{V2}/requests.xml", params={"status": "x"}).content)
    assert root.tag == "errors" and root[0].tag == "error" and root[0].findtext("code") == "400"


def test_disputes_and_other_social_matters_stay_out_of_the_public_list(file, api, db_sessions):
    from gridgov.catalog.models import CatalogItem, Category

    with db_sessions() as db:
        social = db.scalars(select(CatalogItem.code).join(Category, Category.id == CatalogItem.category_id)
                            .where(Category.parent_id.in_(select(Category.id).where(Category.kind == "social")))
                            .order_by(CatalogItem.code)).first()
    assert social is not None
    private = created(file(service_code=social, description="楼上邻居漏水引发争吵"))["service_request_id"]
    public = created(file())["service_request_id"]
    listed = numbers(api.get(f"{V2}/requests.json"))
    assert public in listed and private not in listed
    assert one(api, private)["status"] == "open"  # the reporter can still follow it by its number
