"""``flask seed-demo``: a demo city where every screen of the app has data.

Tenant ``demo`` (group-buying in Helsinki, real OSM merchants) with a manager, three BDs, ops and an admin;
leads in every pool state, visits, contacts, deals, monthly sales, competitor records and tasks. A second
tenant ``hotels`` shows that business lines never see each other's data. Generated history is
deterministic (fixed random seed) so screenshots and docs stay stable.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

from sqlalchemy import delete, func, select

from app import clock, db
from app.intake.importer import import_csv
from app.leads.rules import drop_clock
from app.merchants.models import Contact, ContactRole, Lead, LeadEvent, LeadState, Merchant
from app.org import service as org
from app.org.models import OrgKind, Role, User
from app.sales.models import CompetitorRecord, Deal, SalesMonth
from app.tasks.models import AssignmentStatus, Task, TaskAssignment, TaskKind
from app.tenants.models import DEFAULT_SETTINGS, Tenant
from app.visits.models import Visit

DEMO_PASSWORD = "demo-pass-1"
DEMO_CSV = Path(__file__).parent / "demo_data" / "helsinki_osm_shops.csv"
DEMO_TENANTS = ("demo", "hotels")

# (username, display name, role, team, manager)
DEMO_USERS = (
    ("admin", "Demo Admin", Role.ADMIN, None, None),
    ("ops", "Olli Ops", Role.OPS, None, None),
    ("manager", "Maija Manager", Role.MANAGER, "Helsinki", None),
    ("bd1", "Aino Virtanen", Role.BD, "Kallio", "manager"),
    ("bd2", "Eero Nieminen", Role.BD, "Kallio", "manager"),
    ("bd3", "Sanna Korhonen", Role.BD, "Kamppi", "manager"),
)


def demo_logins() -> list[str]:
    return [f"{username} / {DEMO_PASSWORD} ({role.value}, tenant demo)" for username, _, role, _, _ in DEMO_USERS] + [
        f"hotel_bd / {DEMO_PASSWORD} (bd, tenant hotels)"
    ]


def seed(reset: bool = False) -> Iterator[str]:
    session = db.session()
    if reset:
        session.execute(delete(Tenant).where(Tenant.slug.in_(DEMO_TENANTS)))
        db.commit_chunk()
    if session.scalar(select(Tenant.id).where(Tenant.slug == "demo")) is not None:
        yield "demo data already present (use --reset to recreate it)"
        yield from demo_logins()
        return
    rng = random.Random(20261122)
    tenant = Tenant(
        slug="demo", name="Helsinki Group-buying (demo)", settings={"phone_region": "FI", "timezone": "Europe/Helsinki"}
    )
    session.add(tenant)
    session.flush()
    db.scope_to_tenant(tenant.id)
    city = org.ensure_org_unit(tenant.id, "Helsinki", OrgKind.CITY)
    for team in ("Kallio", "Kamppi"):
        org.ensure_org_unit(tenant.id, team, OrgKind.TEAM, parent=city)
    users: dict[str, User] = {}
    for username, name, role, team, manager in DEMO_USERS:
        users[username] = org.provision_user(
            tenant, username, DEMO_PASSWORD, role, display_name=name, team=team, manager_username=manager
        )
    with DEMO_CSV.open(encoding="utf-8", newline="") as stream:
        report = import_csv(stream, tenant.id, source="osm")
    db.commit_chunk()
    yield f"tenant demo: {report.loaded} Helsinki merchants (OpenStreetMap, ODbL), {len(users)} users"

    merchants = session.scalars(select(Merchant).order_by(Merchant.id)).all()
    bds = [users["bd1"], users["bd2"], users["bd3"]]
    _seed_history(rng, tenant, merchants, bds, users["manager"])
    db.commit_chunk()
    counts = {
        model.__tablename__: session.scalar(select(func.count()).select_from(model))
        for model in (Lead, Visit, Contact, Deal, SalesMonth, CompetitorRecord, TaskAssignment)
    }
    yield "history: " + ", ".join(f"{count} {name}" for name, count in counts.items())

    db.scope_to_tenant(None)
    hotels = Tenant(slug="hotels", name="Hotels (demo)", settings={})
    session.add(hotels)
    session.flush()
    db.scope_to_tenant(hotels.id)
    org.provision_user(hotels, "hotel_bd", DEMO_PASSWORD, Role.BD, display_name="Hotel BD", team="Hotels Helsinki")
    hotel_rows = [
        line
        for line in DEMO_CSV.read_text(encoding="utf-8").splitlines(keepends=True)
        if "tourism=hotel" in line or line.startswith("source_id")
    ]
    import_csv(hotel_rows, hotels.id, source="osm")
    db.commit_chunk()
    db.scope_to_tenant(None)
    yield f"tenant hotels: {len(hotel_rows) - 1} hotels, 1 user"
    yield from demo_logins()


def _seed_history(
    rng: random.Random, tenant: Tenant, merchants: list[Merchant], bds: list[User], manager: User
) -> None:
    session = db.session()
    now = clock.now()
    rules = DEFAULT_SETTINGS["pool"]
    picked = rng.sample(merchants, 120)
    partners, private = picked[:20], picked[20:]
    for index, merchant in enumerate(private):
        owner = bds[index % len(bds)]
        claimed_at = now - timedelta(days=rng.randint(1, 25), hours=rng.randint(0, 23))
        last_visit = claimed_at + timedelta(days=rng.randint(0, 5)) if rng.random() < 0.7 else None
        if last_visit and last_visit > now:
            last_visit = None
        clock_ = drop_clock(claimed_at, last_visit, 0, rules)
        session.add(
            Lead(
                merchant_id=merchant.id,
                tenant_id=tenant.id,
                state=LeadState.PRIVATE,
                owner_id=owner.id,
                claimed_at=claimed_at,
                last_visit_at=last_visit,
                drops_at=clock_.drops_at,
                drop_reason=clock_.reason,
            )
        )
        session.add(
            LeadEvent(
                merchant_id=merchant.id,
                tenant_id=tenant.id,
                action="claim",
                to_owner_id=owner.id,
                actor_id=owner.id,
                reason="demo seed",
                created_at=claimed_at,
            )
        )
        if last_visit:
            _visit(rng, merchant, owner, last_visit, verified=True)
    for index, merchant in enumerate(partners):
        owner = bds[index % len(bds)]
        signed_at = now - timedelta(days=rng.randint(60, 400))
        session.add(
            Lead(
                merchant_id=merchant.id,
                tenant_id=tenant.id,
                state=LeadState.PARTNER,
                owner_id=owner.id,
                claimed_at=signed_at - timedelta(days=20),
                signed_at=signed_at,
                contract_no=f"HEL-{2026}-{index + 1:04d}",
            )
        )
        session.add(
            LeadEvent(
                merchant_id=merchant.id,
                tenant_id=tenant.id,
                action="sign",
                to_owner_id=owner.id,
                actor_id=owner.id,
                reason="demo seed",
                created_at=signed_at,
            )
        )
        _sales(rng, merchant, now.date())
    for merchant in rng.sample(merchants, 250):
        _visit(rng, merchant, rng.choice(bds), now - timedelta(days=rng.uniform(0, 60)), verified=rng.random() < 0.85)
    for merchant in rng.sample(merchants, 200):
        for n in range(rng.randint(1, 3)):
            session.add(
                Contact(
                    merchant_id=merchant.id,
                    tenant_id=tenant.id,
                    name=rng.choice(FIRST_NAMES) + " " + rng.choice(LAST_NAMES),
                    title=rng.choice(TITLES),
                    role=list(ContactRole)[n % 4],
                    phones=[f"+35840{rng.randint(1000000, 9999999)}"],
                    is_key_person=n == 0,
                )
            )
    for merchant in rng.sample(merchants, 300):
        for platform in rng.sample(["Wolt", "Foodora", "Tripadvisor"], rng.randint(1, 2)):
            deals = [
                {
                    "title": f"Lunch menu {k + 1}",
                    "price": round(rng.uniform(8, 30), 2),
                    "monthly_sales": rng.randint(0, 800),
                }
                for k in range(rng.randint(0, 3))
            ]
            session.add(
                CompetitorRecord(
                    merchant_id=merchant.id,
                    tenant_id=tenant.id,
                    platform=platform,
                    online=rng.random() < 0.8,
                    deals=deals,
                    captured_at=now - timedelta(days=rng.randint(0, 20)),
                )
            )
    task = Task(
        tenant_id=tenant.id,
        creator_id=manager.id,
        title="Visit new openings in Kallio",
        body="Check in at three new merchants this week.",
        kind=TaskKind.VISIT,
        due_at=now + timedelta(days=3),
        target={"user_ids": [bd.id for bd in bds]},
    )
    session.add(task)
    session.flush()
    for bd in bds:
        session.add(
            TaskAssignment(task_id=task.id, tenant_id=tenant.id, assignee_id=bd.id, status=AssignmentStatus.ASSIGNED)
        )


def _visit(rng: random.Random, merchant: Merchant, user: User, at, verified: bool) -> None:
    if verified and (merchant.last_visit_at is None or merchant.last_visit_at < at):
        merchant.last_visit_at = at
    db.session.add(
        Visit(
            tenant_id=merchant.tenant_id,
            merchant_id=merchant.id,
            user_id=user.id,
            idempotency_key=f"seed-{rng.getrandbits(64):016x}",
            request_hash="seed",
            client_time=at,
            created_at=at,
            location=merchant.location,
            accuracy_m=rng.uniform(5, 40),
            distance_m=rng.uniform(2, 60) if verified else 450.0,
            verified=verified,
            flags=[] if verified else ["too_far"],
            result=rng.choice(RESULTS),
            checkout_at=at + timedelta(minutes=rng.randint(5, 40)),
            notes="",
            purpose="demo",
        )
    )


def _sales(rng: random.Random, merchant: Merchant, today: date) -> None:
    session = db.session()
    for k in range(rng.randint(1, 3)):
        session.add(
            Deal(
                tenant_id=merchant.tenant_id,
                merchant_id=merchant.id,
                title=f"Voucher {k + 1}",
                price=Decimal(str(round(rng.uniform(9, 45), 2))),
                status="active",
                external_id=f"demo-deal-{merchant.id}-{k}",
                started_at=today - timedelta(days=200),
            )
        )
    month = today.replace(day=1)
    for _ in range(18):
        orders = rng.randint(20, 600)
        session.add(
            SalesMonth(
                tenant_id=merchant.tenant_id,
                merchant_id=merchant.id,
                month=month,
                orders=orders,
                gmv=Decimal(orders) * Decimal(str(round(rng.uniform(10, 30), 2))),
            )
        )
        month = (month - timedelta(days=1)).replace(day=1)


FIRST_NAMES = ("Aino", "Eero", "Helmi", "Juha", "Kaisa", "Lauri", "Mikko", "Noora", "Pekka", "Riikka")
LAST_NAMES = ("Virtanen", "Korhonen", "Mäkinen", "Nieminen", "Hämäläinen", "Laine", "Heikkinen", "Koskinen")
TITLES = ("Owner", "Store manager", "Shift lead", "Marketing lead", "Chef")
RESULTS = ("interested", "not_interested", "follow_up", "signed_intent", "store_closed")
