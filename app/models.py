"""Import every model so that metadata (Alembic, tests) sees the whole schema."""

from app.activities.models import Activity
from app.audit.models import AuditEntry
from app.auth.models import AuthSession
from app.campaigns.models import Campaign, CampaignMerchant
from app.dashboard.models import KpiTarget
from app.devices.models import Device, PushDelivery
from app.exports.models import Export
from app.idempotency.models import IdempotencyKey
from app.intake.models import MerchantCorrection, MerchantImport
from app.merchants.models import Contact, Lead, LeadEvent, Merchant, MerchantChange, MerchantSourceId
from app.org.models import OrgUnit, User
from app.outbox.models import OutboxMessage
from app.reminders.models import Reminder
from app.sales.models import CompetitorObservation, CompetitorRecord, Contract, Deal, SalesMonth
from app.sync.models import SyncChange
from app.tasks.models import Task, TaskAssignment
from app.tenants.models import Tenant, VisitFormVersion
from app.territories.models import Territory, TerritoryMember
from app.uploads.models import Upload
from app.visits.models import Visit, VisitPlan

__all__ = [
    "Activity",
    "AuditEntry",
    "AuthSession",
    "Campaign",
    "CampaignMerchant",
    "CompetitorObservation",
    "CompetitorRecord",
    "Contact",
    "Contract",
    "Deal",
    "Device",
    "Export",
    "IdempotencyKey",
    "KpiTarget",
    "Lead",
    "LeadEvent",
    "Merchant",
    "MerchantChange",
    "MerchantCorrection",
    "MerchantImport",
    "MerchantSourceId",
    "OrgUnit",
    "OutboxMessage",
    "PushDelivery",
    "Reminder",
    "SalesMonth",
    "SyncChange",
    "Task",
    "TaskAssignment",
    "Tenant",
    "Territory",
    "TerritoryMember",
    "User",
    "Upload",
    "Visit",
    "VisitFormVersion",
    "VisitPlan",
]
