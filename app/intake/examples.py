"""Examples shown in the OpenAPI spec (real Hangzhou-style data)."""

from __future__ import annotations

CREATE_EXAMPLE = {
    "name": "老王面馆(清泰街店)",
    "lat": 30.2459,
    "lng": 120.1811,
    "coord_sys": "gcj02",
    "category": "餐饮服务;中餐厅;面馆",
    "phone": "0571-8780 6201",
    "address": "清泰街 318 号",
    "photo_ids": ["8a0c6a52-5d1e-4d7a-9a83-0f1a6f4c2b11"],
}

CANDIDATE_EXAMPLE = {
    "id": 1042,
    "name": "老王麵館",
    "address": "清泰街318号",
    "audit_status": "approved",
    "lat": 30.2460,
    "lng": 120.1812,
    "distance_m": 14.2,
    "similarity": 0.6,
    "phone_match": True,
}

CREATED_EXAMPLE = {
    "id": 20931,
    "name": "老王面馆(清泰街店)",
    "category": "餐饮服务;中餐厅;面馆",
    "address": "清泰街 318 号",
    "phone": "0571-8780 6201",
    "lat": 30.2459,
    "lng": 120.1811,
    "coord_sys": "gcj02",
    "audit_status": "pending_audit",
    "audit_flags": ["possible_duplicate"],
    "merged_into_id": None,
    "self_onboarded": False,
    "duplicate_candidates": [CANDIDATE_EXAMPLE],
}

DUPLICATE_ERROR_EXAMPLE = {
    "code": 409,
    "status": "Conflict",
    "error_code": "POSSIBLE_DUPLICATE",
    "message": "This merchant may already exist; check the candidates, or send again with force=true.",
    "candidates": [CANDIDATE_EXAMPLE],
}

AUDIT_EXAMPLE = {
    **CREATED_EXAMPLE,
    "id": 1042,
    "name": "老王麵館",
    "audit_status": "approved",
    "audit_flags": [],
    "duplicate_candidates": [],
    "action": "merge",
    "audited_id": 20931,
    "correction_id": None,
    "correction": None,
}

CORRECTION_EXAMPLE = {
    "name": "老王面馆(清泰街新店)",
    "phone": "0571-8780 6202",
    "lat": 30.2466,
    "lng": 120.1818,
    "coord_sys": "gcj02",
    "note": "Moved two doors down, new sign and number",
    "photo_ids": ["8a0c6a52-5d1e-4d7a-9a83-0f1a6f4c2b11"],
}

CORRECTION_RESULT_EXAMPLE = {
    "id": 311,
    "merchant_id": 1042,
    "status": "pending",
    "changes": {
        "name": "老王面馆(清泰街新店)",
        "phone": "0571-8780 6202",
        "position": {"lat": 30.2466, "lng": 120.1818},
    },
    "applied": ["phone"],
    "queued": ["name", "position"],
    "reasons": ["setting"],
    "duplicate_candidates": [],
    "note": "Moved two doors down, new sign and number",
    "photo_ids": ["8a0c6a52-5d1e-4d7a-9a83-0f1a6f4c2b11"],
    "coord_sys": "gcj02",
}

IMPORT_EXAMPLE = {
    "id": 31,
    "status": "running",
    "filename": "hangzhou_2026q4.csv",
    "format": "csv",
    "source": "amap",
    "coord_sys": "gcj02",
    "mapping": {"name": "店名", "lat": "纬度", "lng": "经度", "phone": "电话"},
    "rows_total": 12186,
    "rows_done": 6000,
    "counts": {"inserted": 5702, "updated": 210, "unchanged": 61, "matched": 17, "rejected": 27, "kept": 4},
    "rejects": [{"line": 88, "reason": "lat/lon is missing"}, {"line": 412, "reason": "name is empty"}],
    "matches": [{"line": 140, "merchant_id": 1042, "similarity": 0.667, "distance_m": 12.4}],
    "error": None,
    "created_at": "2026-11-22T09:00:00+08:00",
    "started_at": "2026-11-22T09:00:01+08:00",
    "finished_at": None,
}

TOP_BRANDS_EXAMPLE = {"brands": ["肯德基", "麦当劳", "星巴克", "海底捞", "Starbucks"]}

ONBOARDING_EXAMPLE = {
    "tenant": "food",
    "business_name": "老王面馆",
    "contact_name": "王建国",
    "phone": "138 1234 5678",
    "address": "杭州市上城区清泰街 318 号",
    "lat": 30.2459,
    "lng": 120.1811,
    "coord_sys": "gcj02",
    "category": "餐饮服务;中餐厅",
}

AUDIT_QUEUE_ITEM = {
    "id": 20931,
    "name": "老王面馆(清泰街店)",
    "category": "餐饮服务;中餐厅;面馆",
    "address": "清泰街 318 号",
    "phone": "0571-8780 6201",
    "lat": 30.2459,
    "lng": 120.1811,
    "source": "field",
    "audit_flags": ["possible_duplicate"],
    "self_onboarded": False,
    "candidates": [1042],
    "created_at": "2026-11-22T10:12:00+08:00",
    "created_by": {"id": 57, "name": "李明"},
    "kind": "merchant",
    "correction": None,
}

AUDIT_QUEUE_CORRECTION = {
    **AUDIT_QUEUE_ITEM,
    "kind": "correction",
    "id": 1042,
    "name": "老王麵館",
    "phone": "0571-8780 6202",
    "source": "amap",
    "audit_flags": [],
    "candidates": [],
    "created_at": "2026-11-22T11:40:00+08:00",
    "correction": {
        **CORRECTION_RESULT_EXAMPLE,
        "current": {"name": "老王麵館", "position": {"lat": 30.2459, "lng": 120.1811}},
    },
}
