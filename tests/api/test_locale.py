"""The BD's language: a user's locale (their choice, else the business line's), to-do titles in the caller's
language, and pushes that carry loc keys with their arguments beside a server-rendered fallback."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from app import clock, push_gateway
from app.i18n import Text
from app.leads.jobs import remind_dropping_leads
from app.merchants.models import Lead, LeadState
from app.reminders.jobs import push_reminder
from app.reminders.models import Reminder
from app.reminders.service import remind
from app.tasks.jobs import push_assignments
from tests.factories import MerchantFactory, auth_headers, make_org

ZH_TOKEN, EN_TOKEN, R_TOKEN = ("fcm-token-zh-" + "x" * 20, "fcm-token-en-" + "x" * 20, "fcm-token-r-" + "x" * 20)


def business_line_speaks(client, org, locale):
    response = client.patch("/api/v1/tenant/settings", json={"locale": locale}, headers=auth_headers(org["admin"]))
    assert response.status_code == 200 and response.json["locale"] == locale


@pytest.fixture
def org(session):
    org = make_org()
    org["shop"] = MerchantFactory(tenant=org["tenant"], name="外婆家")
    session.commit()
    return org


@pytest.fixture
def recorder(app, monkeypatch):
    monkeypatch.setitem(app.config, "PUSH_BACKEND", "recording")
    backend = push_gateway.backend()
    backend.clear()
    return backend


def me(client, user):
    response = client.get("/api/v1/me", headers=auth_headers(user))
    assert response.status_code == 200
    return response.json


def prefer(client, user, locale):
    return client.patch("/api/v1/me", json={"preferred_locale": locale}, headers=auth_headers(user))


def titles(client, user):
    page = client.get("/api/v1/todos", headers=auth_headers(user)).json
    return [item["title"] for item in page["items"] if item["type"] == "reminder"]


def test_a_users_locale_is_their_choice_else_the_business_lines(client, org, session):
    bd = org["bd1"]
    assert (me(client, bd)["locale"], me(client, bd)["preferred_locale"]) == ("en", None)
    business_line_speaks(client, org, "zh-CN")
    assert me(client, bd)["locale"] == "zh-CN"
    chosen = prefer(client, bd, "en")
    assert chosen.status_code == 200 and (chosen.json["locale"], chosen.json["preferred_locale"]) == ("en", "en")
    assert me(client, org["bd2"])["locale"] == "zh-CN"  # a colleague still follows the business line
    assert prefer(client, bd, None).json["locale"] == "zh-CN"
    for bad in ("fr", "zh", "", 7):
        response = prefer(client, bd, bad)
        assert response.status_code == 422 and "preferred_locale" in response.json["errors"]["json"]
    assert me(client, bd)["preferred_locale"] is None
    unknown = client.patch("/api/v1/me", json={"role": "admin"}, headers=auth_headers(bd))
    assert unknown.status_code == 422 and me(client, bd)["role"] == "bd"


def test_tenant_settings_take_only_supported_locales(client, org):
    admin = auth_headers(org["admin"])
    assert client.patch("/api/v1/tenant/settings", json={"locale": "de"}, headers=admin).status_code == 422
    response = client.patch("/api/v1/tenant/settings", json={"locale": "zh-CN"}, headers=admin)
    assert response.status_code == 200 and response.json["locale"] == "zh-CN"


def test_todo_titles_come_back_in_the_callers_language(client, org, session):
    bd = org["bd1"]
    remind(org["tenant"].id, bd.id, "planned_visit", Text("todo_planned_visit", {"merchant": "外婆家"}), None, "k1", {})
    session.add(
        Lead(
            tenant_id=org["tenant"].id,
            merchant_id=org["shop"].id,
            state=LeadState.PRIVATE,
            owner_id=bd.id,
            claimed_at=clock.now(),
            drops_at=clock.now() + timedelta(days=2),
            drop_reason="no_visit",
        )
    )
    session.commit()
    assert remind_dropping_leads() == 1
    session.commit()
    assert sorted(titles(client, bd)) == ["Lead drops in 3 days: 外婆家", "Visit 外婆家"]
    prefer(client, bd, "zh-CN")
    assert sorted(titles(client, bd)) == sorted(["拜访外婆家", "3天后掉入公海：外婆家"])
    stored = session.scalar(select(Reminder).where(Reminder.kind == "lead_dropping"))
    assert stored.message == {"key": "todo_lead_dropping", "args": {"merchant": "外婆家", "days": 3}}


def test_a_task_push_speaks_each_assignees_language_and_carries_loc_keys(client, org, session, recorder):
    prefer(client, org["bd1"], "zh-CN")
    for user, token in ((org["bd1"], ZH_TOKEN), (org["bd2"], EN_TOKEN)):
        response = client.post("/api/v1/devices", json={"token": token, "platform": "ios"}, headers=auth_headers(user))
        assert response.status_code in (200, 201)
    created = client.post(
        "/api/v1/tasks",
        json={"title": "Ask about the lunch deal", "kind": "visit", "user_ids": [org["bd1"].id, org["bd2"].id]},
        headers=auth_headers(org["manager"]),
    )
    assert created.status_code == 201, created.json
    assert push_assignments(task_id=created.json["id"]) == {"sent": 2}
    pushes = {push.token: push for push in recorder.pushes}
    zh, en = pushes[ZH_TOKEN], pushes[EN_TOKEN]
    assert (zh.content.title, en.content.title) == (
        "新任务：Ask about the lunch deal",
        "New task: Ask about the lunch deal",
    )
    for push in (zh, en):
        assert push.content.title_loc_key == "push_task_title"
        assert push.content.title_loc_args == ("Ask about the lunch deal",)
        assert push.content.body_loc_key == "push_task_body"
        assert push.content.data["todo_id"] == f"t{created.json['id']}"
        # what FCM receives: the keys on Android and in the APNs alert, beside the fallback text
        assert push.message.android.notification.title_loc_key == "push_task_title"
        assert push.message.apns.payload.aps.alert.title_loc_key == "push_task_title"
        assert push.message.apns.payload.aps.alert.loc_key == "push_task_body"


def test_a_reminder_push_carries_the_todo_text_key(client, org, session, recorder):
    bd = org["bd2"]
    business_line_speaks(client, org, "zh-CN")
    client.post("/api/v1/devices", json={"token": R_TOKEN, "platform": "android"}, headers=auth_headers(bd))
    reminder_id = remind(
        org["tenant"].id,
        bd.id,
        "sign_confirmation",
        Text("todo_sign_confirmation", {"merchant": "外婆家", "contract_no": "C-9"}),
        org["shop"].id,
        "k2",
        {},
        push=False,
    )
    session.commit()
    assert push_reminder(reminder_id=reminder_id) == {"sent": 1}
    [push] = recorder.pushes
    assert (push.content.title, push.content.body) == ("提醒", "请确认签约：外婆家（C-9）")
    assert (push.content.title_loc_key, push.content.body_loc_key) == ("push_reminder_title", "todo_sign_confirmation")
    assert push.content.body_loc_args == ("外婆家", "C-9")
    assert push.message.android.notification.body_loc_args == ["外婆家", "C-9"]
