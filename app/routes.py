"""Every blueprint of the API, registered from one tuple."""

from __future__ import annotations

from app.activities.routes import blp as activities_blp
from app.admin.routes import blp as org_blp
from app.admin.settings_routes import blp as tenant_blp
from app.api import Api
from app.audit.routes import blp as audit_blp
from app.auth.routes import blp as auth_blp
from app.campaigns.routes import blp as campaigns_blp
from app.dashboard.kpi_routes import blp as kpis_blp
from app.dashboard.routes import blp as dashboard_blp
from app.devices.routes import blp as devices_blp
from app.exports.routes import blp as exports_blp
from app.health.routes import blp as health_blp
from app.intake.import_routes import blp as imports_blp
from app.intake.onboarding_routes import blp as public_blp
from app.intake.routes import blp as intake_blp
from app.leads.routes import blp as leads_blp
from app.leads.team_routes import blp as team_leads_blp
from app.merchants.routes import blp as merchants_blp
from app.sales.routes import blp as sales_blp
from app.sync.routes import blp as sync_blp
from app.tasks.routes import blp as tasks_blp
from app.territories.routes import blp as territories_blp
from app.uploads.routes import blp as uploads_blp
from app.visits.routes import blp as visits_blp

BLUEPRINTS = (
    health_blp,
    auth_blp,
    merchants_blp,
    sales_blp,
    visits_blp,
    activities_blp,
    uploads_blp,
    leads_blp,
    team_leads_blp,
    devices_blp,
    tasks_blp,
    intake_blp,
    imports_blp,
    public_blp,
    audit_blp,
    tenant_blp,
    territories_blp,
    org_blp,
    dashboard_blp,
    sync_blp,
    kpis_blp,
    campaigns_blp,
    exports_blp,
)


def register_blueprints(api: Api) -> None:
    for blueprint in BLUEPRINTS:
        api.register_blueprint(blueprint)
