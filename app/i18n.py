"""Texts the server writes for people, in their language: push titles and bodies, system to-do titles.

Every text is a symbolic key of ``MESSAGES`` with named arguments. The catalogues are gettext ``.po`` files,
one per supported locale (``app/translations/<locale>/LC_MESSAGES/messages.po``), read with Babel when first
needed (no compile step, nothing generated to commit). A push carries the key and its arguments, in the order
``MESSAGES`` gives (``title_loc_key``/``body_loc_key`` with ``*_loc_args``), so the app can show its own
string, and the server's rendering in the user's locale as the fallback. ``tests/unit/test_i18n.py`` fails when a
key is missing from a catalogue, a catalogue has a key nobody uses, or the placeholders differ.

The web console's texts are ordinary gettext: the English text is the message id, ``console.po`` of each
other locale its translation (``translate``); a test fails when a console text has no translation.

A user's locale is their own choice (``PATCH /me``) or else the business line's ``locale`` setting.
"""

from __future__ import annotations

import functools
import string
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po

SUPPORTED_LOCALES = ("zh-CN", "en")
DEFAULT_LOCALE = "en"
CATALOGUES = Path(__file__).with_name("translations")

# key -> its arguments, in the positional order pushes send them (Android %1$s..., iOS %@)
MESSAGES: dict[str, tuple[str, ...]] = {
    "push_task_title": ("title",),
    "push_task_body": ("body",),
    "push_reminder_title": (),
    "todo_lead_dropping": ("merchant", "days"),
    "todo_lead_dropping_tomorrow": ("merchant",),
    "todo_task_done": ("person", "task"),
    "todo_task_rejected": ("person", "task"),
    "todo_sign_confirmation": ("merchant", "contract_no"),
    "todo_audit_approve": ("merchant",),
    "todo_audit_reject": ("merchant",),
    "todo_audit_merge": ("merchant",),
    "todo_self_onboarding": ("business",),
    "todo_planned_visit": ("merchant",),
    "todo_correction_approve": ("merchant",),
    "todo_correction_reject": ("merchant",),
    "todo_task_overdue": ("task",),
    "todo_team_leads_reassign_to": ("n",),
    "todo_team_leads_reassign_from": ("n",),
    "todo_team_leads_reassign_both": ("received", "lost"),
    "todo_team_leads_release_from": ("n",),
    "todo_team_leads_extend_from": ("n",),
    "todo_team_leads_lock_from": ("n",),
    "todo_team_leads_unlock_from": ("n",),
    "todo_account_handover": ("merchant",),
    "todo_contract_renewal": ("merchant", "number", "ends_on"),
}


def _directory(locale: str) -> str:
    return locale.replace("-", "_")


@functools.cache
def catalogue(locale: str, domain: str = "messages") -> Catalog:
    with open(CATALOGUES / _directory(locale) / "LC_MESSAGES" / f"{domain}.po", "rb") as po:
        return read_po(po, locale=_directory(locale))


def translate(text: str, locale: str | None) -> str:
    """A console text in ``locale`` (English, the message id, where no translation exists)."""
    locale = supported(locale)
    if locale == DEFAULT_LOCALE:
        return text
    message = catalogue(locale, "console").get(text)
    return message.string if message is not None and message.string else text


def placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


@dataclass(frozen=True)
class Text:
    """A text to show someone: a key of ``MESSAGES`` and its arguments (checked at once, not when shown)."""

    key: str
    args: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        expected = MESSAGES.get(self.key)
        if expected is None:
            raise ValueError(f"unknown message key {self.key!r}: add it to app.i18n.MESSAGES and the catalogues")
        if set(self.args) != set(expected):
            raise ValueError(f"message {self.key!r} takes {expected}, got {sorted(self.args)}")

    def render(self, locale: str | None) -> str:
        return render(self.key, self.args, locale)

    def positional_args(self) -> tuple[str, ...]:
        return tuple(str(self.args[name]) for name in MESSAGES[self.key])

    def as_json(self) -> dict[str, Any]:
        return {"key": self.key, "args": self.args}

    @classmethod
    def from_json(cls, value: dict[str, Any] | None) -> Text | None:
        if not value or value.get("key") not in MESSAGES:
            return None  # a row written by an older version: its stored title is shown
        try:
            return cls(value["key"], dict(value.get("args") or {}))
        except ValueError:
            return None


def supported(locale: str | None) -> str:
    return locale if locale in SUPPORTED_LOCALES else DEFAULT_LOCALE


def render(key: str, args: dict[str, Any], locale: str | None) -> str:
    message = catalogue(supported(locale)).get(key)
    text = message.string if message is not None and message.string else None
    if text is None:
        message = catalogue(DEFAULT_LOCALE).get(key)
        text = message.string if message is not None and message.string else key
    return text.format_map({name: "" if value is None else value for name, value in args.items()})
