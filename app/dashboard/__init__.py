"""Manager dashboards: the team's day per BD, the pool funnel, and a heatmap grid for the map."""
