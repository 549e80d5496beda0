"""The server's texts: every key in every catalogue, with the same placeholders, and no key nobody uses."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from app import i18n

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("locale", i18n.SUPPORTED_LOCALES)
def test_each_catalogue_has_every_key_with_its_placeholders(locale):
    catalogue = i18n.catalogue(locale)
    keys = {message.id for message in catalogue if message.id}
    assert keys >= set(i18n.MESSAGES), f"missing in {locale}: {sorted(set(i18n.MESSAGES) - keys)}"
    assert keys <= set(i18n.MESSAGES), f"unused in {locale}: {sorted(keys - set(i18n.MESSAGES))}"
    for key, arguments in i18n.MESSAGES.items():
        text = catalogue.get(key).string
        assert text, f"{locale}: {key} is empty"
        assert i18n.placeholders(text) == set(arguments), f"{locale}: {key} has {text!r}"


def test_every_key_is_used_by_the_code():
    source = "\n".join(path.read_text(encoding="utf-8") for path in (ROOT / "app").rglob("*.py"))
    # keys built from values (f"todo_audit_{action}") match their pattern
    patterns = [
        re.compile("^" + re.sub(r"\\{[a-z_]+\\}", "[a-z_]+", re.escape(template)) + "$")
        for template in re.findall(r'Text\(\s*f"([a-z_{}]+)"', source)
    ]
    for key in i18n.MESSAGES:
        assert f'"{key}"' in source or f"'{key}'" in source or any(p.match(key) for p in patterns), (
            f"{key} is never used"
        )


def test_a_text_is_checked_when_made_not_when_shown():
    with pytest.raises(ValueError, match="unknown message key"):
        i18n.Text("todo_no_such_thing", {})
    with pytest.raises(ValueError, match="takes"):
        i18n.Text("todo_planned_visit", {"shop": "x"})


def test_rendering_in_each_language_and_the_fallbacks():
    text = i18n.Text("todo_lead_dropping", {"merchant": "外婆家", "days": 3})
    assert text.render("en") == "Lead drops in 3 days: 外婆家"
    assert text.render("zh-CN") == "3天后掉入公海：外婆家"
    assert text.render("fr") == text.render(None) == text.render("en")  # unsupported: the default
    assert text.positional_args() == ("外婆家", "3")  # MESSAGES' order: what %1$s, %2$s in the app refer to
    assert i18n.Text.from_json(text.as_json()) == text
    assert i18n.Text.from_json(None) is None and i18n.Text.from_json({"key": "gone", "args": {}}) is None
    assert i18n.Text.from_json({"key": "todo_planned_visit", "args": {}}) is None  # stored by another version


# texts the console shows from data (flags, roles, states, counts): each needs a translation too
CONSOLE_VOCABULARY = [
    *("too_far", "low_accuracy", "mock_location", "impossible_speed", "clock_skew"),
    *("bd", "manager", "ops", "admin", "queued", "running", "done", "failed"),
    *("public", "private", "partner", "signed", "visited", "approve", "reject", "merge"),
    *("approver", "decision_maker", "evaluator", "other", "user", "store_closed", "possible_duplicate"),
    *("inserted", "updated", "unchanged", "matched", "rejected"),
    *("New merchants", "Claims", "Signings", "Tasks done"),
    *("name", "address", "phone", "category", "position", "closed", "brand", "attributes"),
    *("term_end", "no_visit", "no_signing", "drops_at", "claimed_at", "last_visit_at", "error"),
    *("reassign", "extend", "release", "lock", "unlock", "visit", "price_adjust", "collect_info", "custom"),
    *("visits", "verified_visits", "merchants_visited", "merchants_added", "claims", "signings", "tasks_done", "gmv"),
    *("verified_share", "task_completion", "team"),
    *("claim_cap", "term_days", "no_visit_days", "no_sign_days", "max_extensions", "extension_days"),
    *("reclaim_cooldown_days", "signing", "pool_groups", "on_deactivate", "contract", "none", "off", "territory"),
    *("city", "subteam"),
]


def console_texts() -> set[str]:
    texts = set(CONSOLE_VOCABULARY)
    console = ROOT / "app" / "console"
    for path in [*console.rglob("*.html"), *console.rglob("*.py")]:
        source = path.read_text(encoding="utf-8")
        texts |= set(re.findall(r"""_\(\s*"([^"]+)"\s*[,)]""", source))
        texts |= set(re.findall(r"""_\(\s*'([^']+)'\s*[,)]""", source))
        texts |= set(re.findall(r"""translate\(\s*"([^"]+)"\s*[,)]""", source))
        texts |= set(re.findall(r"""\("console\.[a-z_]+", "([^"]+)",""", source))  # the navigation's labels
    return texts


def test_every_console_text_has_a_translation():
    texts = console_texts()
    assert len(texts) > 80
    for locale in i18n.SUPPORTED_LOCALES:
        if locale == i18n.DEFAULT_LOCALE:
            continue
        catalogue = i18n.catalogue(locale, "console")
        missing = sorted(text for text in texts if not (catalogue.get(text) and catalogue.get(text).string))
        assert not missing, f"console texts without a {locale} translation (add them to console.po): {missing}"
        for text in texts:
            translated = catalogue.get(text).string
            assert i18n.placeholders(translated) == i18n.placeholders(text), text
    assert i18n.translate("Team today", "zh-CN") == "团队今日" and i18n.translate("Team today", "en") == "Team today"
