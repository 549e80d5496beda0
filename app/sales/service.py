"""Our sales and competitors' presence, fed by other systems (CSV imports), by ops one record at a time, and
by BDs through the competitor-observation visit form (no ops rights needed: the answers arrive with a visit).

Every write bumps the detail version of the merchants it touches, in the same transaction.
"""

from __future__ import annotations

import csv
from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import IO, Any

from sqlalchemy import func, literal_column, select
from sqlalchemy.dialects.postgresql import insert

from app import clock, db
from app.merchants.models import Merchant, MerchantSourceId, touch
from app.sales.models import CompetitorObservation, CompetitorRecord, Deal, SalesMonth
from app.signals import form_submitted
from app.tabular import ImportReport, UnreadableFile
from app.tenants.visit_forms import COMPETITOR_FORM

BATCH = 2000


# --- single records (ops endpoints) -----------------------------------------------------------------


def upsert_month(merchant: Merchant, month: date, orders: int, gmv: Decimal) -> SalesMonth:
    statement = (
        insert(SalesMonth)
        .values(
            tenant_id=merchant.tenant_id, merchant_id=merchant.id, month=month.replace(day=1), orders=orders, gmv=gmv
        )
        .on_conflict_do_update(index_elements=["merchant_id", "month"], set_={"orders": orders, "gmv": gmv})
        .returning(SalesMonth.id)
    )
    row_id = db.session.execute(statement).scalar_one()
    touch(merchant.id)
    db.session.flush()
    return db.get(SalesMonth, row_id)


def save_deal(merchant: Merchant, fields: dict[str, Any]) -> Deal:
    """Create a deal, or update the one with the same ``external_id``."""
    deal = None
    if fields.get("external_id"):
        deal = db.session.scalar(select(Deal).where(Deal.external_id == fields["external_id"]))
    if deal is None:
        deal = Deal(tenant_id=merchant.tenant_id, merchant_id=merchant.id)
        db.session.add(deal)
    elif deal.merchant_id != merchant.id:
        touch(deal.merchant_id)
        deal.merchant_id = merchant.id
    for key, value in fields.items():
        setattr(deal, key, value)
    touch(merchant.id)
    db.session.flush()
    return deal


def save_competitor(
    merchant: Merchant, platform: str, online: bool, deals: list[dict[str, Any]], captured_at: datetime | None = None
) -> CompetitorRecord:
    """Replace the snapshot of one competitor platform at a merchant."""
    values = {"online": online, "deals": deals, "captured_at": captured_at or clock.now()}
    statement = (
        insert(CompetitorRecord)
        .values(tenant_id=merchant.tenant_id, merchant_id=merchant.id, platform=platform, **values)
        .on_conflict_do_update(index_elements=["merchant_id", "platform"], set_=values)
        .returning(CompetitorRecord.id)
    )
    row_id = db.session.execute(statement).scalar_one()
    touch(merchant.id)
    db.session.flush()
    return db.get(CompetitorRecord, row_id)


# --- BD observations (the competitor-observation visit form) -----------------------------------------


@form_submitted.connect
def _on_form_submitted(_sender: Any, *, form: str, **kwargs: Any) -> None:
    if form == COMPETITOR_FORM:
        record_observation(
            tenant_id=kwargs["tenant_id"],
            merchant_id=kwargs["merchant_id"],
            user_id=kwargs["user_id"],
            visit_id=kwargs["visit_id"],
            at=kwargs["at"],
            answers=kwargs["answers"],
        )


def _price(value: float | int | None) -> Decimal | None:
    return None if value is None else Decimal(str(value)).quantize(Decimal("0.01"))


def record_observation(
    *, tenant_id: int, merchant_id: int, user_id: int, visit_id: int | None, at: datetime, answers: dict[str, Any]
) -> CompetitorObservation:
    """Keep a BD's observation (with its price gap, for HQ's set-based comparisons) and, for a platform no
    import has reported at this merchant, start its competitor record with what the BD saw.

    An existing record is the imported snapshot (several deals, monthly sales): one BD answer does not
    replace it; the detail page shows the latest observation beside it.
    """
    # "Eleme" typed by a BD is the "eleme" an import wrote: one platform, one record
    platform = answers["platform"].strip()
    known = db.session.scalars(select(CompetitorRecord.platform).where(CompetitorRecord.merchant_id == merchant_id))
    platform = next((name for name in known if name.lower() == platform.lower()), platform)
    their, ours = _price(answers.get("their_price")), _price(answers.get("our_price"))
    observation = CompetitorObservation(
        tenant_id=tenant_id,
        merchant_id=merchant_id,
        user_id=user_id,
        visit_id=visit_id,
        platform=platform,
        online=answers["online"],
        offer=answers.get("offer") or None,
        their_price=their,
        our_price=ours,
        price_gap=ours - their if their is not None and ours is not None else None,
        observed_at=at,
    )
    db.session.add(observation)
    deals = [{"title": answers.get("offer") or "Observed offer", "price": float(their)}] if their is not None else []
    db.session.execute(
        insert(CompetitorRecord)
        .values(
            tenant_id=tenant_id,
            merchant_id=merchant_id,
            platform=platform,
            online=answers["online"],
            deals=deals,
            captured_at=at,
        )
        .on_conflict_do_nothing(index_elements=["merchant_id", "platform"])
    )
    touch(merchant_id)
    db.session.flush()
    return observation


# --- CSV imports ------------------------------------------------------------------------------------


class RowError(ValueError):
    pass


def _month(raw: str) -> date:
    try:
        return datetime.strptime(raw.strip()[:7], "%Y-%m").date()
    except ValueError as exc:
        raise RowError(f"month {raw!r} is not YYYY-MM") from exc


def _money(raw: str, name: str) -> Decimal:
    try:
        value = Decimal(raw.strip())
    except (InvalidOperation, AttributeError) as exc:
        raise RowError(f"{name} {raw!r} is not a number") from exc
    if not value.is_finite() or value < 0 or value >= Decimal("1e12"):
        raise RowError(f"{name} {raw!r} is out of range")
    return value.quantize(Decimal("0.01"))


def _count(raw: str, name: str) -> int:
    try:
        value = int(raw.strip())
    except (ValueError, AttributeError) as exc:
        raise RowError(f"{name} {raw!r} is not a whole number") from exc
    if not 0 <= value < 2**31:
        raise RowError(f"{name} {raw!r} is out of range")
    return value


def _flag(raw: str, name: str) -> bool:
    value = (raw or "").strip().lower()
    if value in ("1", "true", "yes", "y", "online"):
        return True
    if value in ("0", "false", "no", "n", "offline"):
        return False
    raise RowError(f"{name} {raw!r} is not true/false")


def _optional_date(raw: str | None, name: str) -> date | None:
    if not (raw or "").strip():
        return None
    try:
        return date.fromisoformat(raw.strip())
    except ValueError as exc:
        raise RowError(f"{name} {raw!r} is not YYYY-MM-DD") from exc


def _read(stream: IO[str], required: tuple[str, ...]) -> tuple[csv.DictReader, set[str]]:
    reader = csv.DictReader(stream)
    if not reader.fieldnames:
        raise UnreadableFile("the file is empty")
    reader.fieldnames = [(name or "").strip().lower() for name in reader.fieldnames]
    columns = set(reader.fieldnames)
    if not columns & {"merchant_id", "source_id"}:
        raise UnreadableFile("missing a merchant column: merchant_id or source_id")
    missing = [c for c in required if c not in columns]
    if missing:
        raise UnreadableFile(f"missing required column(s): {', '.join(missing)}")
    return reader, columns


class _MerchantResolver:
    """Map a row's merchant_id or (source, source_id) to a merchant of the tenant, in batches."""

    def __init__(self, tenant_id: int) -> None:
        self.tenant_id = tenant_id

    def resolve(self, rows: list[dict[str, str]]) -> dict[int, int | str]:
        """Row index -> merchant id, or the reason it could not be resolved."""
        by_id = {int(r["merchant_id"]) for r in rows if (r.get("merchant_id") or "").strip().isdigit()}
        by_source = {r["source_id"].strip() for r in rows if (r.get("source_id") or "").strip()}
        # a merged duplicate's id is an alias of the merchant it was merged into
        known_ids = (
            dict(
                db.session.execute(
                    select(Merchant.id, func.coalesce(Merchant.merged_into_id, Merchant.id)).where(
                        Merchant.tenant_id == self.tenant_id, Merchant.id.in_(by_id)
                    )
                ).all()
            )
            if by_id
            else {}
        )
        sources: dict[tuple[str, str], int] = {}
        if by_source:
            for merchant_id, source, source_id in db.session.execute(
                select(Merchant.id, Merchant.source, Merchant.source_id).where(
                    Merchant.tenant_id == self.tenant_id, Merchant.source_id.in_(by_source)
                )
            ):
                sources[(source, source_id)] = merchant_id
            # ids of rows matched to another merchant by a merchant import, or of merged duplicates
            for merchant_id, source, source_id in db.session.execute(
                select(MerchantSourceId.merchant_id, MerchantSourceId.source, MerchantSourceId.source_id).where(
                    MerchantSourceId.tenant_id == self.tenant_id, MerchantSourceId.source_id.in_(by_source)
                )
            ):
                sources.setdefault((source, source_id), merchant_id)
        result: dict[int, int | str] = {}
        for index, row in enumerate(rows):
            raw_id = (row.get("merchant_id") or "").strip()
            if raw_id:
                ok = raw_id.isdigit() and int(raw_id) in known_ids
                result[index] = known_ids[int(raw_id)] if ok else f"no merchant with id {raw_id!r}"
                continue
            source_id = (row.get("source_id") or "").strip()
            source = (row.get("source") or "").strip()
            matches = [mid for (src, sid), mid in sources.items() if sid == source_id and (not source or src == source)]
            if len(matches) == 1:
                result[index] = matches[0]
            elif matches:
                result[index] = f"source_id {source_id!r} exists in several sources; add a source column"
            else:
                result[index] = f"no merchant with source_id {source_id!r}"
        return result


def _import(
    stream: IO[str],
    tenant_id: int,
    required: tuple[str, ...],
    parse: Callable[[dict[str, str]], Any],
    flush: Callable[[list[tuple[int, Any]]], tuple[int, int]],
) -> ImportReport:
    reader, _ = _read(stream, required)
    report = ImportReport()
    resolver = _MerchantResolver(tenant_id)
    batch: list[tuple[int, dict[str, str]]] = []
    touched: set[int] = set()

    def drain() -> None:
        resolved = resolver.resolve([row for _, row in batch])
        good: list[tuple[int, Any]] = []
        for index, (line, row) in enumerate(batch):
            target = resolved[index]
            if isinstance(target, str):
                report.reject(line, target)
                continue
            try:
                good.append((target, parse(row)))
            except RowError as exc:
                report.reject(line, str(exc))
        inserted, updated = flush(good)
        report.inserted += inserted
        report.updated += updated
        touched.update(merchant_id for merchant_id, _ in good)
        batch.clear()

    for row in reader:
        report.rows += 1
        if None in row:
            report.reject(reader.line_num, "more fields than the header has")
            continue
        batch.append((reader.line_num, row))
        if len(batch) >= BATCH:
            drain()
    if batch:
        drain()
    report.unchanged = report.rows - report.rejected_count - report.inserted - report.updated
    touch(*touched)
    return report


def _upsert(model: type, rows: list[dict[str, Any]], keys: list[str], update: list[str]) -> tuple[int, int]:
    if not rows:
        return 0, 0
    statement = insert(model).values(rows)
    statement = statement.on_conflict_do_update(
        index_elements=keys, set_={column: statement.excluded[column] for column in update}
    ).returning(literal_column("xmax = 0"))  # true when the row was inserted, false when updated
    flags = db.session.execute(statement).scalars().all()
    inserted = sum(1 for flag in flags if flag)
    return inserted, len(flags) - inserted


def import_sales(stream: IO[str], tenant_id: int) -> ImportReport:
    """Monthly sales (``month, orders, gmv``) or deals (``deal_id, title, price``), told apart by the header.

    The caller commits.
    """
    peek = stream.readline()
    stream = _Rewound(peek, stream)
    header = {h.strip().lower() for h in next(csv.reader([peek]), [])}
    if "deal_id" in header:
        return _import(stream, tenant_id, ("deal_id", "title", "price"), _parse_deal, _flush_deals(tenant_id))
    return _import(stream, tenant_id, ("month", "orders", "gmv"), _parse_month, _flush_months(tenant_id))


def _parse_month(row: dict[str, str]) -> dict[str, Any]:
    return {"month": _month(row["month"]), "orders": _count(row["orders"], "orders"), "gmv": _money(row["gmv"], "gmv")}


def _flush_months(tenant_id: int) -> Callable[[list[tuple[int, Any]]], tuple[int, int]]:
    def flush(rows: list[tuple[int, Any]]) -> tuple[int, int]:
        unique = {
            (merchant_id, data["month"]): {"tenant_id": tenant_id, "merchant_id": merchant_id, **data}
            for merchant_id, data in rows
        }
        return _upsert(SalesMonth, list(unique.values()), ["merchant_id", "month"], ["orders", "gmv"])

    return flush


def _parse_deal(row: dict[str, str]) -> dict[str, Any]:
    external_id = (row.get("deal_id") or "").strip()
    title = (row.get("title") or "").strip()
    if not external_id or not title:
        raise RowError("deal_id and title are required")
    status = (row.get("status") or "active").strip().lower()
    if status not in ("active", "paused", "ended"):
        raise RowError(f"status {status!r} is not active/paused/ended")
    return {
        "external_id": external_id[:120],
        "title": title[:300],
        "price": _money(row["price"], "price"),
        "status": status,
        "started_at": _optional_date(row.get("started_at"), "started_at"),
        "ended_at": _optional_date(row.get("ended_at"), "ended_at"),
    }


def _flush_deals(tenant_id: int) -> Callable[[list[tuple[int, Any]]], tuple[int, int]]:
    def flush(rows: list[tuple[int, Any]]) -> tuple[int, int]:
        unique = {
            data["external_id"]: {"tenant_id": tenant_id, "merchant_id": merchant_id, **data}
            for merchant_id, data in rows
        }
        moved = db.session.scalars(select(Deal.merchant_id).where(Deal.external_id.in_(unique))).all()
        touch(*set(moved))  # a deal re-attributed to another store changes both details
        return _upsert(
            Deal,
            list(unique.values()),
            ["tenant_id", "external_id"],
            ["merchant_id", "title", "price", "status", "started_at", "ended_at"],
        )

    return flush


def import_competitors(stream: IO[str], tenant_id: int) -> ImportReport:
    """One row per competitor deal; the rows of a (merchant, platform) replace its snapshot. The caller commits."""
    return _import(stream, tenant_id, ("platform", "online"), _parse_competitor, _flush_competitors(tenant_id))


def _parse_competitor(row: dict[str, str]) -> dict[str, Any]:
    platform = (row.get("platform") or "").strip()[:60]
    if not platform:
        raise RowError("platform is empty")
    captured = (row.get("captured_at") or "").strip()
    try:
        captured_at = datetime.fromisoformat(captured) if captured else clock.now()
    except ValueError as exc:
        raise RowError(f"captured_at {captured!r} is not an ISO date-time") from exc
    if captured_at.tzinfo is None:
        raise RowError("captured_at needs a timezone (e.g. +08:00)")
    deal = None
    if (row.get("deal_title") or "").strip():
        price = _money(row.get("deal_price") or "", "deal_price")
        sales = row.get("monthly_sales") or ""
        deal = {
            "title": row["deal_title"].strip()[:300],
            "price": float(price),
            "monthly_sales": _count(sales, "monthly_sales") if sales.strip() else None,
        }
    return {
        "platform": platform,
        "online": _flag(row.get("online", ""), "online"),
        "captured_at": captured_at,
        "deal": deal,
    }


def _flush_competitors(tenant_id: int) -> Callable[[list[tuple[int, Any]]], tuple[int, int]]:
    def flush(rows: list[tuple[int, Any]]) -> tuple[int, int]:
        snapshots: dict[tuple[int, str], dict[str, Any]] = {}
        for merchant_id, data in rows:
            snapshot = snapshots.setdefault(
                (merchant_id, data["platform"]),
                {
                    "tenant_id": tenant_id,
                    "merchant_id": merchant_id,
                    "platform": data["platform"],
                    "online": data["online"],
                    "captured_at": data["captured_at"],
                    "deals": [],
                },
            )
            if data["deal"]:
                snapshot["deals"].append(data["deal"])
        return _upsert(
            CompetitorRecord, list(snapshots.values()), ["merchant_id", "platform"], ["online", "captured_at", "deals"]
        )

    return flush


class _Rewound:
    """A text stream with its first line pushed back (we peeked at the header)."""

    def __init__(self, first: str, rest: IO[str]) -> None:
        self._first, self._rest = first, rest

    def __iter__(self):
        if self._first:
            yield self._first
        yield from self._rest

    def read(self, *_: Any) -> str:
        return self._first + self._rest.read()
