"""Import every model so that metadata (Alembic, tests) sees the whole schema."""

from app.audit.models import AuditEntry
from app.auth.models import AuthSession
from app.dashboard.models import KpiTarget
from app.devices.models import Device, PushDelivery
from app.intake.models import MerchantImport
from app.merchants.models import Contact, Lead, LeadEvent, Merchant, MerchantSourceId
from app.org.models import OrgUnit, User
from app.outbox.models import OutboxMessage
from app.reminders.models import Reminder
from app.sales.models import CompetitorRecord, Contract, Deal, SalesMonth
from app.tasks.models import Task, TaskAssignment
from app.tenants.models import Tenant
from app.territories.models import Territory, TerritoryMember
from app.uploads.models import Upload
from app.visits.models import Visit, VisitPlan

__all__ = [
    "AuditEntry",
    "AuthSession",
    "CompetitorRecord",
    "Contact",
    "Contract",
    "Deal",
    "Device",
    "KpiTarget",
    "Lead",
    "LeadEvent",
    "Merchant",
    "MerchantImport",
    "MerchantSourceId",
    "OrgUnit",
    "OutboxMessage",
    "PushDelivery",
    "Reminder",
    "SalesMonth",
    "Task",
    "TaskAssignment",
    "Tenant",
    "Territory",
    "TerritoryMember",
    "User",
    "Upload",
    "Visit",
    "VisitPlan",
]
