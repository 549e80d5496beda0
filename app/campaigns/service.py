"""HQ strategy campaigns: save a merchant filter and a task template, preview it, launch it as tasks.

Who: ops and admins for the whole business line; a manager for the leads of their own subtree (their campaigns
and their subtree's are the ones they see). A launch gives each new match one task, assigned to the merchant's
lead owner, or -- in the public pool -- to the active BDs of the territories covering it (their team managers
when a territory has none), through the task fan-out of ``app.tasks``. Matches already reached are skipped, so
a re-launch targets only merchants that match since.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import insert, select

from app import clock, db
from app.campaigns import queries
from app.campaigns.models import Campaign, CampaignMerchant
from app.errors import CampaignNotFound, Forbidden, UnknownTerritory
from app.errors import NotFound as _NotFound
from app.org.models import Role, User
from app.org.scope import managed_user_ids
from app.tasks import service as tasks
from app.territories.service import get_visible

HQ = (Role.OPS, Role.ADMIN)


def _ensure_creator(user: User) -> None:
    if user.role not in (*HQ, Role.MANAGER):
        raise Forbidden("Only managers, ops and admins run campaigns.")


def visible(viewer: User):
    """Campaigns a viewer sees: all of the business line for HQ; a manager's own and their subtree's."""
    statement = select(Campaign).where(Campaign.tenant_id == viewer.tenant_id)
    if viewer.role == Role.MANAGER:
        statement = statement.where(
            (Campaign.creator_id == viewer.id) | Campaign.creator_id.in_(managed_user_ids(viewer))
        )
    elif viewer.role not in HQ:
        statement = statement.where(Campaign.id.is_(None))
    return statement


def get(viewer: User, campaign_id: int, *, lock: bool = False) -> Campaign:
    statement = visible(viewer).where(Campaign.id == campaign_id)
    if lock:
        statement = statement.with_for_update()
    campaign = db.session.scalar(statement)
    if campaign is None:
        raise CampaignNotFound()
    return campaign


def create(creator: User, fields: dict[str, Any]) -> Campaign:
    _ensure_creator(creator)
    territory_id = fields["filter"].get("territory_id")
    if territory_id is not None:
        try:
            get_visible(creator, territory_id)
        except _NotFound as exc:
            raise UnknownTerritory(
                errors={"json": {"filter": {"territory_id": ["No such territory you can see."]}}}
            ) from exc
    campaign = Campaign(
        tenant_id=creator.tenant_id,
        creator_id=creator.id,
        name=fields["name"],
        filter=fields["filter"],
        template=fields["template"],
    )
    db.session.add(campaign)
    db.session.flush()
    return campaign


def list_campaigns(viewer: User) -> list[Campaign]:
    _ensure_creator(viewer)
    return list(db.session.scalars(visible(viewer).order_by(Campaign.id.desc()).limit(200)))


def preview(viewer: User, campaign_id: int) -> dict[str, Any]:
    _ensure_creator(viewer)
    return queries.preview(get(viewer, campaign_id), viewer)


def launch(viewer: User, campaign_id: int) -> dict[str, Any]:
    """Tasks for the campaign's new matches; the merchants nobody can take stay unreached (a later launch retries)."""
    _ensure_creator(viewer)
    # locked: two launches at once would both see the same merchants as new
    campaign = get(viewer, campaign_id, lock=True)
    assignees: dict[int, list[int]] = {}
    skipped: list[int] = []
    for merchant_id, owner_id, bds, managers in queries.launch_targets(campaign, viewer):
        people = [owner_id] if owner_id else (bds or managers)
        if people:
            assignees[merchant_id] = sorted(people)
        else:
            skipped.append(merchant_id)
    template = dict(campaign.template)
    if template.get("due_days"):
        template["due_at"] = clock.now() + timedelta(days=template["due_days"])
    payload: dict[str, Any] = {"campaign_id": campaign.id}
    if template.get("feedback_form"):
        payload["feedback_form"] = template["feedback_form"]
    launch_number = campaign.launches + 1
    task_ids = tasks.create_for_merchants(viewer, template, assignees, {"campaign_id": campaign.id}, payload)
    if task_ids:
        db.session.execute(
            insert(CampaignMerchant),
            [
                {
                    "campaign_id": campaign.id,
                    "tenant_id": campaign.tenant_id,
                    "merchant_id": merchant_id,
                    "task_id": task_id,
                    "launch": launch_number,
                }
                for merchant_id, task_id in task_ids.items()
            ],
        )
    campaign.launches, campaign.last_launched_at = launch_number, clock.now()
    db.session.flush()
    return {
        "campaign_id": campaign.id,
        "launch": launch_number,
        "tasks_created": len(task_ids),
        "assignments_created": sum(len(assignees[m]) for m in task_ids),
        "skipped_merchant_ids": skipped[:1000],
        "skipped": len(skipped),
    }


def results(viewer: User, campaign_id: int, group_by: str) -> dict[str, Any]:
    _ensure_creator(viewer)
    return queries.results(get(viewer, campaign_id), group_by)


def view(campaign: Campaign) -> dict[str, Any]:
    return {
        "id": campaign.id,
        "name": campaign.name,
        "creator_id": campaign.creator_id,
        "filter": campaign.filter,
        "template": campaign.template,
        "launches": campaign.launches,
        "last_launched_at": campaign.last_launched_at,
        "created_at": campaign.created_at,
    }
