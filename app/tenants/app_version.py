"""The business line's minimum app version: callers whose ``X-App-Version`` is below it get ``426``.

The setting is ``settings.app`` (``{"min_version": "2.4.0" | null, "store_url": "https://..."}``). The rule:

* no ``X-App-Version`` header: allowed (the web console, scripts and integrations send none);
* no ``min_version`` set for the business line: allowed, whatever the header says;
* a header that is a version at or above ``min_version``: allowed;
* a version below it, or a header that is not a version at all while a minimum is set: ``426
  APP_UPGRADE_REQUIRED`` with the tenant's ``store_url``. A garbled header cannot prove the app is new enough,
  and the update screen is the one answer an old or broken client can act on.

Versions are compared by ``parse``: dot-separated whole numbers (``2``, ``2.4``, ``2.4.1``, up to four parts),
missing parts counting as 0, optionally followed by ``-suffix`` or ``+build`` which is ignored (``2.4.1-beta``
is ``2.4.1``; ``2.4.1+341`` is ``2.4.1``). This is deliberately not ``packaging.version``: that package is only a
transitive dependency here, and PEP 440 is Python's version scheme, not the one app stores use
(``CFBundleShortVersionString``, Android ``versionName``).
"""

from __future__ import annotations

import re

from app.errors import AppUpgradeRequired

HEADER = "X-App-Version"

_VERSION = re.compile(r"^\s*(\d{1,9}(?:\.\d{1,9}){0,3})(?:[-+][0-9A-Za-z.\-+]{0,64})?\s*$")


def parse(value: str | None) -> tuple[int, ...] | None:
    """``"2.4.1-beta"`` -> ``(2, 4, 1, 0)``; None for anything that is not a version."""
    match = _VERSION.match(value or "")
    if match is None:
        return None
    parts = [int(part) for part in match.group(1).split(".")]
    return tuple((parts + [0, 0, 0])[:4])


def is_version(value: str) -> bool:
    return parse(value) is not None


def require_supported(app_settings: dict, header: str | None) -> None:
    """Refuse (426) a caller whose app version is below the business line's ``min_version``; see the module."""
    minimum = parse(app_settings.get("min_version"))
    if header is None or minimum is None:
        return
    version = parse(header)
    if version is None or version < minimum:
        raise AppUpgradeRequired(app_settings.get("store_url") or "")
