"""The web console for managers, HQ and ops: server-rendered pages over the same services and scope rules as the API.

Jinja templates with htmx for partial updates and Leaflet for maps, both vendored under ``static/vendor``
(``scripts/vendor_assets``): no CDN, nothing fetched at run time, no Node step to run the service.
"""
