"""factory_boy factories. Every object is committed (a SAVEPOINT release in tests) so requests see it."""

from __future__ import annotations

import uuid
from functools import cache

import factory
from factory.alchemy import SQLAlchemyModelFactory
from geoalchemy2.shape import from_shape
from shapely.geometry import Point

from app import db
from app.auth import service as auth_service
from app.auth.models import AuthSession
from app.merchants.models import Contact, Merchant
from app.org import passwords
from app.org.models import OrgKind, OrgUnit, Role, User
from app.tenants.models import Tenant

PASSWORD = "correct-horse-battery"


@cache
def _password_hash() -> str:
    return passwords.hash_password(PASSWORD)


def point(lat: float, lng: float):
    return from_shape(Point(lng, lat), srid=4326)


class Base(SQLAlchemyModelFactory):
    class Meta:
        abstract = True
        sqlalchemy_session_factory = lambda: db.session()  # noqa: E731 - factory_boy wants a callable attribute
        sqlalchemy_session_persistence = "commit"


class TenantFactory(Base):
    class Meta:
        model = Tenant

    slug = factory.Sequence(lambda n: f"tenant-{n}")
    name = factory.LazyAttribute(lambda o: o.slug.title())
    settings = factory.LazyFunction(dict)


class OrgUnitFactory(Base):
    class Meta:
        model = OrgUnit
        exclude = ("tenant",)

    tenant = factory.SubFactory(TenantFactory)
    tenant_id = factory.SelfAttribute("tenant.id")
    kind = OrgKind.TEAM
    name = factory.Sequence(lambda n: f"Team {n}")
    path = "/"

    @factory.post_generation
    def set_path(obj, create, extracted, **kwargs):
        parent_path = "/"
        if obj.parent_id:
            parent_path = db.session.get(OrgUnit, obj.parent_id).path
        obj.path = f"{parent_path}{obj.id}/"
        db.session.commit()


class UserFactory(Base):
    class Meta:
        model = User
        exclude = ("tenant",)

    tenant = factory.SubFactory(TenantFactory)
    tenant_id = factory.SelfAttribute("tenant.id")
    username = factory.Sequence(lambda n: f"user{n}")
    display_name = factory.LazyAttribute(lambda o: o.username.title())
    password_hash = factory.LazyFunction(_password_hash)
    role = Role.BD
    is_active = True


class MerchantFactory(Base):
    class Meta:
        model = Merchant
        exclude = ("tenant", "lat", "lng")

    tenant = factory.SubFactory(TenantFactory)
    tenant_id = factory.SelfAttribute("tenant.id")
    name = factory.Sequence(lambda n: f"Merchant {n}")
    category = "food;restaurant"
    lat = 60.17
    lng = 24.94
    location = factory.LazyAttribute(lambda o: point(o.lat, o.lng))


class ContactFactory(Base):
    class Meta:
        model = Contact
        exclude = ("merchant",)

    merchant = None
    tenant_id = factory.SelfAttribute("merchant.tenant_id")
    merchant_id = factory.SelfAttribute("merchant.id")
    name = factory.Sequence(lambda n: f"Contact {n}")
    phones = factory.LazyFunction(lambda: ["+358401234567"])


def auth_headers(user: User) -> dict[str, str]:
    """Bearer headers for ``user`` without going through the login endpoint."""
    auth_session = AuthSession(id=uuid.uuid4(), user_id=user.id, tenant_id=user.tenant_id, refresh_jti="")
    pair = auth_service._issue(user, auth_session)
    db.session.add(auth_session)
    db.session.commit()
    return {"Authorization": f"Bearer {pair.access_token}"}


def make_org() -> dict:
    """A business line with a city, two teams (one with a sub-team), their managers, BDs inside and outside
    the first team, an admin, ops, and an admin of another business line."""
    tenant = TenantFactory()
    city = OrgUnitFactory(tenant=tenant, kind=OrgKind.CITY, name="Hangzhou")
    team = OrgUnitFactory(tenant=tenant, name="West Lake", parent_id=city.id)
    sub = OrgUnitFactory(tenant=tenant, kind=OrgKind.SUBTEAM, name="Hubin", parent_id=team.id)
    other_team = OrgUnitFactory(tenant=tenant, name="Binjiang", parent_id=city.id)
    manager = UserFactory(tenant=tenant, role=Role.MANAGER, org_unit_id=team.id)
    team.manager_id = manager.id
    other_manager = UserFactory(tenant=tenant, role=Role.MANAGER, org_unit_id=other_team.id)
    bd1 = UserFactory(tenant=tenant, org_unit_id=team.id, manager_id=manager.id)
    bd2 = UserFactory(tenant=tenant, org_unit_id=sub.id)
    outsider = UserFactory(tenant=tenant, org_unit_id=other_team.id, manager_id=other_manager.id)
    admin = UserFactory(tenant=tenant, role=Role.ADMIN)
    ops = UserFactory(tenant=tenant, role=Role.OPS)
    stranger = UserFactory(tenant=TenantFactory(), role=Role.ADMIN)
    db.session.commit()
    return {
        "tenant": tenant,
        "city": city,
        "team": team,
        "sub": sub,
        "other_team": other_team,
        "manager": manager,
        "other_manager": other_manager,
        "bd1": bd1,
        "bd2": bd2,
        "outsider": outsider,
        "admin": admin,
        "ops": ops,
        "stranger": stranger,
    }


def image_bytes(fmt: str = "JPEG", size: tuple[int, int] = (64, 48), exif: bytes | None = None) -> bytes:
    """A real image file (JPEG, PNG or HEIF), as a phone would upload it."""
    import io

    import pillow_heif
    from PIL import Image

    pillow_heif.register_heif_opener()
    out = io.BytesIO()
    image = Image.new("RGB", size, (200, 80, 40))
    image.save(out, format=fmt, **({"exif": exif} if exif else {}))
    return out.getvalue()
