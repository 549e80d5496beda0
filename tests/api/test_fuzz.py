"""Quick fuzz of the whole API from its OpenAPI spec, as each role: no 5xx, nothing off the documented schema.

The long run is ``scripts/fuzz`` (same harness, more examples; its figures are in the README). The hostile
input run (forged cursors, deeply nested JSON, lone surrogates) covers what schemathesis does not generate.
"""

from __future__ import annotations

import os

import pytest

from app.org.models import OrgKind, Role
from tests.factories import ContactFactory, MerchantFactory, OrgUnitFactory, TenantFactory, UserFactory, auth_headers
from tests.fuzzing import fuzz, fuzz_hostile

MAX_EXAMPLES = int(os.environ.get("FUZZ_MAX_EXAMPLES", "6"))
# forged cursors, deep JSON and lone surrogates per operation (as one role that may call it): a few seconds;
# the long run (scripts/fuzz) sends as many as it sends schemathesis examples
HOSTILE_EXAMPLES = int(os.environ.get("FUZZ_HOSTILE_EXAMPLES", os.environ.get("FUZZ_MAX_EXAMPLES", "5")))


@pytest.fixture
def world(session):
    tenant = TenantFactory()
    team = OrgUnitFactory(tenant=tenant, kind=OrgKind.TEAM)
    manager = UserFactory(tenant=tenant, role=Role.MANAGER, org_unit_id=team.id, username="fuzz-manager")
    users = {
        "bd": UserFactory(tenant=tenant, org_unit_id=team.id, manager_id=manager.id, username="fuzz-bd"),
        "manager": manager,
        "ops": UserFactory(tenant=tenant, role=Role.OPS, username="fuzz-ops"),
        "admin": UserFactory(tenant=tenant, role=Role.ADMIN, username="fuzz-admin"),
    }
    shops = [
        MerchantFactory(
            tenant=tenant, name=f"Fuzz shop {i}", lat=60.17 + i * 0.0002, lng=24.94, phone="+358 9 123 4567"
        )
        for i in range(3)
    ]
    contact = ContactFactory(merchant=shops[0])
    return {"users": users, "shops": shops, "contact": contact}


def test_every_operation_as_every_role(app, client, world):
    headers = {role: auth_headers(user) for role, user in world["users"].items()}
    params = {"merchant_id": world["shops"][0].id, "contact_id": world["contact"].id}
    report = fuzz(app, headers, max_examples=MAX_EXAMPLES, path_parameters=params)
    print("\nfuzz:", report.summary(), report.error_codes.most_common())
    assert report.requests > 0
    assert not report.failures, "\n".join(report.failures[:30])


def test_hostile_input_on_every_operation(app, client, world):
    # the role that may call the most operations first: each operation is sent as the first one allowed
    headers = {role: auth_headers(world["users"][role]) for role in ("admin", "ops", "manager", "bd")}
    params = {"merchant_id": world["shops"][0].id, "contact_id": world["contact"].id}
    report = fuzz_hostile(app, headers, max_examples=HOSTILE_EXAMPLES, path_parameters=params)
    print("\nhostile:", report.summary(), report.error_codes.most_common())
    assert report.requests > 0
    assert report.error_codes["INVALID_CURSOR"] and report.error_codes["VALIDATION_ERROR"]
    assert not report.failures, "\n".join(report.failures[:30])
