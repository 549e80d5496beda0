"""The OperationId of every API operation, chosen once and kept: generated clients name their methods by them.

A new endpoint needs an entry here (the spec test fails without one); renaming one breaks every app built
from the spec, so an entry never changes.
"""

from __future__ import annotations

from typing import Any

from apispec import BasePlugin

OPERATION_IDS: dict[tuple[str, str], str] = {
    ("GET", "/api/v1/activities"): "listActivities",
    ("POST", "/api/v1/activities"): "logActivity",
    ("GET", "/api/v1/audit"): "listAuditEntries",
    ("POST", "/api/v1/auth/login"): "login",
    ("POST", "/api/v1/auth/logout"): "logout",
    ("POST", "/api/v1/auth/refresh"): "refreshTokens",
    ("GET", "/api/v1/brands/top300"): "getTopBrands",
    ("PUT", "/api/v1/brands/top300"): "replaceTopBrands",
    ("GET", "/api/v1/dashboard/funnel"): "getPoolFunnel",
    ("GET", "/api/v1/dashboard/heatmap"): "getHeatmap",
    ("GET", "/api/v1/dashboard/team"): "getTeamDashboard",
    ("POST", "/api/v1/devices"): "registerDevice",
    ("DELETE", "/api/v1/devices/{token}"): "unregisterDevice",
    ("GET", "/api/v1/health"): "getHealth",
    ("GET", "/api/v1/livez"): "getLiveness",
    ("GET", "/api/v1/readyz"): "getReadiness",
    ("POST", "/api/v1/imports"): "createImport",
    ("GET", "/api/v1/imports/{import_id}"): "getImport",
    ("GET", "/api/v1/kpis"): "getKpis",
    ("GET", "/api/v1/campaigns"): "listCampaigns",
    ("GET", "/api/v1/exports/{kind}"): "exportNow",
    ("POST", "/api/v1/exports"): "startExport",
    ("GET", "/api/v1/exports/{export_id}"): "getExport",
    ("GET", "/api/v1/exports/{export_id}/file"): "downloadExport",
    ("POST", "/api/v1/campaigns"): "createCampaign",
    ("POST", "/api/v1/campaigns/{campaign_id}/preview"): "previewCampaign",
    ("POST", "/api/v1/campaigns/{campaign_id}/launch"): "launchCampaign",
    ("GET", "/api/v1/campaigns/{campaign_id}/results"): "getCampaignResults",
    ("GET", "/api/v1/kpis/leaderboard"): "getLeaderboard",
    ("GET", "/api/v1/leads/mine"): "listMyLeads",
    ("GET", "/api/v1/leads/public"): "listPublicLeads",
    ("POST", "/api/v1/leads/{merchant_id}/assign"): "assignLead",
    ("POST", "/api/v1/leads/{merchant_id}/claim"): "claimLead",
    ("POST", "/api/v1/leads/{merchant_id}/extend"): "extendLead",
    ("GET", "/api/v1/leads/{merchant_id}/history"): "getLeadHistory",
    ("POST", "/api/v1/leads/{merchant_id}/release"): "releaseLead",
    ("POST", "/api/v1/leads/{merchant_id}/sign"): "signLead",
    ("GET", "/api/v1/me"): "getMe",
    ("PATCH", "/api/v1/me"): "updateMe",
    ("POST", "/api/v1/me/password"): "changeMyPassword",
    ("POST", "/api/v1/merchants"): "createMerchant",
    ("GET", "/api/v1/merchants/audit-queue"): "listAuditQueue",
    ("GET", "/api/v1/merchants/map"): "getMerchantMap",
    ("GET", "/api/v1/merchants/nearby"): "listNearbyMerchants",
    ("GET", "/api/v1/merchants/{merchant_id}"): "getMerchantDetail",
    ("PATCH", "/api/v1/merchants/{merchant_id}/attributes"): "updateMerchantAttributes",
    ("POST", "/api/v1/merchants/{merchant_id}/audit"): "auditMerchant",
    ("GET", "/api/v1/merchants/{merchant_id}/changes"): "listMerchantChanges",
    ("POST", "/api/v1/merchants/{merchant_id}/competitors"): "putCompetitorRecord",
    ("POST", "/api/v1/merchants/{merchant_id}/contacts"): "createContact",
    ("POST", "/api/v1/merchants/{merchant_id}/corrections"): "correctMerchant",
    ("DELETE", "/api/v1/merchants/{merchant_id}/contacts/{contact_id}"): "deleteContact",
    ("PATCH", "/api/v1/merchants/{merchant_id}/contacts/{contact_id}"): "updateContact",
    ("POST", "/api/v1/merchants/{merchant_id}/contacts/{contact_id}/verify"): "verifyContact",
    ("POST", "/api/v1/merchants/{merchant_id}/contracts"): "createContract",
    ("PATCH", "/api/v1/merchants/{merchant_id}/contracts/{contract_id}"): "updateContract",
    ("POST", "/api/v1/merchants/{merchant_id}/deals"): "putDeal",
    ("POST", "/api/v1/merchants/{merchant_id}/handover"): "handOverAccount",
    ("POST", "/api/v1/merchants/{merchant_id}/sales"): "putSalesMonth",
    ("GET", "/api/v1/org/units"): "listOrgUnits",
    ("POST", "/api/v1/org/units"): "createOrgUnit",
    ("PATCH", "/api/v1/org/units/{unit_id}"): "updateOrgUnit",
    ("GET", "/api/v1/photos/{photo_id}"): "getPhoto",
    ("GET", "/api/v1/photos/{photo_id}/thumbnail"): "getPhotoThumbnail",
    ("POST", "/api/v1/public/onboarding"): "submitOnboarding",
    ("GET", "/api/v1/sync"): "syncChanges",
    ("GET", "/api/v1/tasks"): "listCreatedTasks",
    ("POST", "/api/v1/tasks"): "createTask",
    ("POST", "/api/v1/tasks/bulk"): "createTasksInBulk",
    ("GET", "/api/v1/tasks/{task_id}"): "getTask",
    ("GET", "/api/v1/targets"): "listTargets",
    ("PUT", "/api/v1/targets"): "setTargets",
    ("GET", "/api/v1/team/leads"): "listTeamLeads",
    ("POST", "/api/v1/team/leads/bulk"): "updateTeamLeadsInBulk",
    ("GET", "/api/v1/team/visits"): "getTeamDay",
    ("GET", "/api/v1/tenant/settings"): "getTenantSettings",
    ("PATCH", "/api/v1/tenant/settings"): "updateTenantSettings",
    ("GET", "/api/v1/territories"): "listTerritories",
    ("POST", "/api/v1/territories"): "createTerritory",
    ("DELETE", "/api/v1/territories/{territory_id}"): "deleteTerritory",
    ("GET", "/api/v1/territories/{territory_id}"): "getTerritory",
    ("PATCH", "/api/v1/territories/{territory_id}"): "updateTerritory",
    ("PUT", "/api/v1/territories/{territory_id}/members"): "setTerritoryMembers",
    ("GET", "/api/v1/territories/{territory_id}/stats"): "getTerritoryStats",
    ("GET", "/api/v1/todos"): "listTodos",
    ("GET", "/api/v1/todos/count"): "countTodos",
    ("GET", "/api/v1/todos/{todo_id}"): "getTodo",
    ("POST", "/api/v1/todos/{todo_id}/accept"): "acceptTodo",
    ("POST", "/api/v1/todos/{todo_id}/done"): "completeTodo",
    ("POST", "/api/v1/todos/{todo_id}/reject"): "rejectTodo",
    ("POST", "/api/v1/uploads"): "uploadPhoto",
    ("GET", "/api/v1/users"): "listUsers",
    ("POST", "/api/v1/users"): "createUser",
    ("GET", "/api/v1/users/{user_id}"): "getUser",
    ("PATCH", "/api/v1/users/{user_id}"): "updateUser",
    ("POST", "/api/v1/users/{user_id}/deactivate"): "deactivateUser",
    ("GET", "/api/v1/visit-forms"): "listVisitForms",
    ("POST", "/api/v1/visit-plans"): "createVisitPlan",
    ("GET", "/api/v1/visit-plans/{day}"): "getVisitPlan",
    ("GET", "/api/v1/visits"): "listVisits",
    ("POST", "/api/v1/visits"): "checkIn",
    ("POST", "/api/v1/visits/{visit_id}/checkout"): "checkOut",
}


class OperationIdPlugin(BasePlugin):
    """Puts each operation's id from ``OPERATION_IDS`` into the spec (one without an entry gets none)."""

    def operation_helper(
        self, path: str | None = None, operations: dict[str, Any] | None = None, **kwargs: Any
    ) -> None:
        for method, operation in (operations or {}).items():
            operation_id = OPERATION_IDS.get((method.upper(), path or ""))
            if operation_id:
                operation["operationId"] = operation_id
