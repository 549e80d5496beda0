"""Tenant settings, the custom-field schema, validating custom values and filtering nearby by them."""

from __future__ import annotations

import pytest

from app.admin.settings_schemas import TenantSettingsSchema
from app.errors import ValidationFailed
from app.org.models import Role
from app.tenants.custom_fields import validate_custom_attributes
from tests.factories import MerchantFactory, TenantFactory, UserFactory, auth_headers

URL = "/api/v1/tenant/settings"
FIELDS = [
    {"key": "seats", "label": "Seats", "type": "number", "required": False},
    {"key": "cuisine", "label": "Cuisine", "type": "enum", "required": True, "options": ["zhejiang", "sichuan"]},
    {"key": "delivery", "label": "Delivers", "type": "bool", "required": False},
    {"key": "opened", "label": "Opened", "type": "date", "required": False},
    {"key": "owner_name", "label": "Owner", "type": "string", "required": False},
]
SETTINGS = {"custom_fields": FIELDS}


@pytest.fixture
def people(session):
    tenant = TenantFactory()
    return {"tenant": tenant, **{role.value: UserFactory(tenant=tenant, role=role) for role in Role}}


def patch(client, user, body):
    return client.patch(URL, json=body, headers=auth_headers(user))


def test_everyone_reads_the_effective_settings(client, people):
    for role in Role:
        response = client.get(URL, headers=auth_headers(people[role.value]))
        assert response.status_code == 200
        body = TenantSettingsSchema().load(response.json)
        assert body["pool"]["claim_cap"] == 100 and body["custom_fields"] == []
        assert body["slug"] == people["tenant"].slug


def test_only_admins_change_them_and_sections_merge(client, people):
    for role in ("bd", "manager", "ops"):
        assert patch(client, people[role], {"phone_region": "FI"}).status_code == 403
    response = patch(
        client, people["admin"], {"pool": {"on_deactivate": "manager"}, "phone_region": "FI", "custom_fields": FIELDS}
    )
    assert response.status_code == 200, response.json
    assert response.json["pool"]["on_deactivate"] == "manager"
    assert response.json["pool"]["claim_cap"] == 100  # untouched keys keep their value
    assert response.json["custom_fields"] == FIELDS
    response = patch(client, people["admin"], {"pool": {"claim_cap": 50}})
    assert response.json["pool"]["on_deactivate"] == "manager" and response.json["pool"]["claim_cap"] == 50
    assert client.get(URL, headers=auth_headers(people["bd"])).json["phone_region"] == "FI"


@pytest.mark.parametrize(
    "body, field",
    [
        ({"phone_region": "XX"}, "phone_region"),
        ({"timezone": "Mars/Olympus"}, "timezone"),
        ({"pool": {"claim_cap": 0}}, "pool"),
        ({"pool": {"on_deactivate": "nowhere"}}, "pool"),
        ({"pool": {"surprise": 1}}, "pool"),
        ({"custom_fields": [{"key": "x", "label": "X", "type": "enum"}]}, "custom_fields"),
        ({"custom_fields": [{"key": "x", "label": "X", "type": "string", "options": ["a"]}]}, "custom_fields"),
        ({"custom_fields": [{"key": "x", "label": "X", "type": "colour"}]}, "custom_fields"),
        ({"custom_fields": [{"key": "Bad Key", "label": "X", "type": "string"}]}, "custom_fields"),
        ({"custom_fields": [FIELDS[0], FIELDS[0]]}, "custom_fields"),
        ({"unknown_section": {}}, "unknown_section"),
    ],
)
def test_bad_settings_are_422_and_change_nothing(client, people, body, field):
    response = patch(client, people["admin"], body)
    assert response.status_code == 422 and response.json["error_code"] == "VALIDATION_ERROR"
    assert field in response.json["errors"]["json"]
    assert client.get(URL, headers=auth_headers(people["admin"])).json["phone_region"] == "CN"


def test_custom_values_are_validated_and_normalised():
    assert validate_custom_attributes(
        SETTINGS, {"cuisine": "sichuan", "seats": 40, "delivery": True, "opened": "2026-01-05", "owner_name": "王芳"}
    ) == {"cuisine": "sichuan", "seats": 40, "delivery": True, "opened": "2026-01-05", "owner_name": "王芳"}
    with pytest.raises(ValidationFailed) as caught:
        validate_custom_attributes(
            SETTINGS,
            {"seats": "forty", "delivery": "yes", "opened": "05/01/2026", "cuisine": "french", "colour": "red"},
        )
    errors = caught.value.errors["json"]["attributes"]
    assert set(errors) == {"seats", "delivery", "opened", "cuisine", "colour"}
    assert caught.value.error_code == "INVALID_ATTRIBUTES" and caught.value.status == 422


def test_required_fields_on_create_but_not_on_partial_updates():
    with pytest.raises(ValidationFailed) as caught:
        validate_custom_attributes(SETTINGS, {"seats": 3})
    assert caught.value.errors["json"]["attributes"] == {"cuisine": ["Required."]}
    assert validate_custom_attributes(SETTINGS, {"seats": None}, partial=True) == {"seats": None}
    with pytest.raises(ValidationFailed):
        validate_custom_attributes(SETTINGS, {"cuisine": None}, partial=True)


@pytest.fixture
def shops(client, people):
    assert patch(client, people["admin"], SETTINGS).status_code == 200
    tenant = people["tenant"]
    rows = [
        ("Big Sichuan", {"cuisine": "sichuan", "seats": 80, "delivery": True, "website": "x"}),
        ("Small Sichuan", {"cuisine": "sichuan", "seats": 12, "delivery": False}),
        ("Zhejiang", {"cuisine": "zhejiang", "seats": 80.0, "opened": "2025-03-01"}),
        ("Bare", {}),
    ]
    for i, (name, attrs) in enumerate(rows):
        MerchantFactory(tenant=tenant, name=name, lat=30.26 + i * 0.0005, lng=120.17, attributes=attrs)
    other = TenantFactory()
    MerchantFactory(tenant=other, name="Other tenant", lat=30.26, lng=120.17, attributes={"cuisine": "sichuan"})
    return people


def nearby(client, user, **params):
    return client.get(
        "/api/v1/merchants/nearby",
        headers=auth_headers(user),
        query_string={"lat": 30.26, "lng": 120.17, "radius_m": 2000, **params},
    )


def names(response):
    assert response.status_code == 200, response.json
    return {item["name"] for item in response.json["items"]}


@pytest.mark.parametrize(
    "params, expected",
    [
        ({"attr.cuisine": "sichuan"}, {"Big Sichuan", "Small Sichuan"}),
        ({"attr.seats": "80"}, {"Big Sichuan", "Zhejiang"}),  # 80 and 80.0 are the same number
        ({"attr.seats": "80", "attr.cuisine": "zhejiang"}, {"Zhejiang"}),
        ({"attr.delivery": "false"}, {"Small Sichuan"}),
        ({"attr.opened": "2025-03-01"}, {"Zhejiang"}),
        ({"attr.cuisine": "sichuan", "sea": "public", "q": "Big"}, {"Big Sichuan"}),
    ],
)
def test_nearby_filters_by_custom_fields(client, shops, params, expected):
    response = nearby(client, shops["bd"], **params)
    assert names(response) == expected
    assert response.json["query"]["attr"] == {k[5:]: v for k, v in params.items() if k.startswith("attr.")}


@pytest.mark.parametrize(
    "query",
    [
        "attr=seats:80&attr=cuisine:zhejiang",  # the spec's form: what generated clients send
        "attr[seats]=80&attr[cuisine]=zhejiang",  # deepObject
        "attr.seats=80&attr[cuisine]=zhejiang",  # the spellings mix
    ],
)
def test_custom_field_filters_have_three_spellings(client, shops, query):
    response = client.get(
        f"/api/v1/merchants/nearby?lat=30.26&lng=120.17&radius_m=2000&{query}", headers=auth_headers(shops["bd"])
    )
    assert names(response) == {"Zhejiang"}
    assert response.json["query"]["attr"] == {"seats": "80", "cuisine": "zhejiang"}


@pytest.mark.parametrize(
    "query, field",
    [
        ("attr=cuisine", "attr"),  # no `:value`
        ("attr=seats:80&attr[seats]=12", "attr"),  # one key twice
        ("attr[]=x", "attr"),
        ("attr=a:1&attr=b:2&attr=c:3&attr=d:4&attr=e:5&attr=f:6", "attr"),  # more than 5
    ],
)
def test_malformed_custom_field_filters_are_422(client, shops, query, field):
    response = client.get(f"/api/v1/merchants/nearby?lat=30.26&lng=120.17&{query}", headers=auth_headers(shops["bd"]))
    assert response.status_code == 422, response.json
    assert response.json["error_code"] == "VALIDATION_ERROR" and field in response.json["errors"]["query"]


def test_map_filters_by_custom_fields_too(client, shops):
    response = client.get(
        "/api/v1/merchants/map",
        headers=auth_headers(shops["bd"]),
        query_string={"bbox": "120.16,30.25,120.18,30.27", "zoom": 16, "attr.cuisine": "sichuan"},
    )
    assert response.status_code == 200
    assert {pin["name"] for pin in response.json["pins"]} == {"Big Sichuan", "Small Sichuan"}


@pytest.mark.parametrize(
    "params, key",
    [
        ({"attr.colour": "red"}, "attr.colour"),  # not in the schema (or removed from it)
        ({"attr.website": "x"}, "attr.website"),  # an imported column, not a custom field
        ({"attr.seats": "many"}, "attr.seats"),
        ({"attr.cuisine": "french"}, "attr.cuisine"),
        ({"attr.delivery": "maybe"}, "attr.delivery"),
    ],
)
def test_bad_attribute_filters_are_422(client, shops, params, key):
    response = nearby(client, shops["bd"], **params)
    assert response.status_code == 422 and response.json["error_code"] == "INVALID_ATTRIBUTE_FILTER"
    assert key in response.json["errors"]["query"]


def test_the_prefix_is_the_only_exception_to_strict_parsing(client, shops):
    assert nearby(client, shops["bd"], attrs="x").status_code == 422
    assert nearby(client, shops["bd"], **{"attr": "x"}).status_code == 422
    repeated = client.get(
        "/api/v1/merchants/nearby?lat=30.26&lng=120.17&attr.seats=1&attr.seats=2", headers=auth_headers(shops["bd"])
    )
    assert repeated.status_code == 422
    too_many = {f"attr.k{i}": "1" for i in range(6)}
    assert nearby(client, shops["bd"], **too_many).status_code == 422


def test_schema_changes_never_break_stored_rows(client, shops):
    """A removed field's values stay stored and shown; a retyped field filters in its new type."""
    retyped = [{"key": "seats", "label": "Seats", "type": "string", "required": False}]
    assert patch(client, shops["admin"], {"custom_fields": retyped}).status_code == 200
    assert names(nearby(client, shops["bd"])) == {"Big Sichuan", "Small Sichuan", "Zhejiang", "Bare"}
    assert names(nearby(client, shops["bd"], **{"attr.seats": "80"})) == set()  # stored as numbers
    assert nearby(client, shops["bd"], **{"attr.cuisine": "sichuan"}).status_code == 422  # removed
    big = next(i for i in nearby(client, shops["bd"]).json["items"] if i["name"] == "Big Sichuan")
    detail = client.get(f"/api/v1/merchants/{big['id']}", headers=auth_headers(shops["bd"]))
    assert detail.json["merchant"]["attributes"]["cuisine"] == "sichuan"


def test_custom_values_are_written_through_the_api_on_create_and_update(client, people):
    from app import clock, db
    from app.merchants.models import Lead, LeadState

    assert patch(client, people["admin"], SETTINGS).status_code == 200
    bd = people["bd"]
    shop = {"name": "Custom Field Bistro", "lat": 30.2741, "lng": 120.1551, "category": "餐饮服务"}
    missing = client.post("/api/v1/merchants", json=shop, headers=auth_headers(bd))
    assert missing.status_code == 422 and missing.json["error_code"] == "INVALID_ATTRIBUTES"  # cuisine is required
    bad = client.post("/api/v1/merchants", json={**shop, "attributes": {"cuisine": "french"}}, headers=auth_headers(bd))
    assert bad.status_code == 422 and "cuisine" in bad.json["errors"]["json"]["attributes"]
    created = client.post(
        "/api/v1/merchants", json={**shop, "attributes": {"cuisine": "zhejiang", "seats": 40}}, headers=auth_headers(bd)
    )
    assert created.status_code == 201, created.json
    merchant_id = created.json["id"]
    detail = client.get(f"/api/v1/merchants/{merchant_id}", headers=auth_headers(people["ops"])).json
    assert detail["merchant"]["attributes"]["cuisine"] == "zhejiang" and detail["merchant"]["attributes"]["seats"] == 40

    url = f"/api/v1/merchants/{merchant_id}/attributes"
    assert (
        client.patch(url, json={"attributes": {"seats": 12}}, headers=auth_headers(bd)).json["error_code"]
        == "NOT_ALLOWED_FOR_LEAD"
    )  # a public merchant: its owner, managers, ops and admins edit it
    db.session.add(
        Lead(
            merchant_id=merchant_id,
            tenant_id=people["tenant"].id,
            state=LeadState.PRIVATE,
            owner_id=bd.id,
            claimed_at=clock.now(),
            drops_at=clock.now(),
            drop_reason="no_visit",
        )
    )
    db.session.commit()
    updated = client.patch(url, json={"attributes": {"seats": 12, "delivery": True}}, headers=auth_headers(bd))
    assert updated.status_code == 200, updated.json
    assert updated.json["attributes"] == {"cuisine": "zhejiang", "seats": 12, "delivery": True}
    cleared = client.patch(url, json={"attributes": {"delivery": None}}, headers=auth_headers(bd))
    assert cleared.json["attributes"] == {"cuisine": "zhejiang", "seats": 12}
    refused = client.patch(url, json={"attributes": {"cuisine": None, "nope": 1}}, headers=auth_headers(bd))
    assert refused.status_code == 422 and set(refused.json["errors"]["json"]["attributes"]) == {"cuisine", "nope"}
    after = client.get(f"/api/v1/merchants/{merchant_id}", headers=auth_headers(bd)).json["merchant"]["attributes"]
    assert after["seats"] == 12 and after["cuisine"] == "zhejiang"  # the refused change changed nothing
    found = client.get(
        "/api/v1/merchants/nearby",
        query_string={"lat": 30.2741, "lng": 120.1551, "attr.seats": 12},
        headers=auth_headers(bd),
    ).json["items"]
    assert [item["id"] for item in found] == [merchant_id]
