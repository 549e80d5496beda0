"""Examples shown in the OpenAPI spec (real Hangzhou-style data)."""

from __future__ import annotations

CREATE_EXAMPLE = {
    "name": "老王面馆(清泰街店)", "lat": 30.2459, "lng": 120.1811, "coord_sys": "gcj02",
    "category": "餐饮服务;中餐厅;面馆", "phone": "0571-8780 6201", "address": "清泰街 318 号",
    "photo_ids": ["8a0c6a52-5d1e-4d7a-9a83-0f1a6f4c2b11"],
}

CANDIDATE_EXAMPLE = {
    "id": 1042, "name": "老王麵館", "address": "清泰街318号", "audit_status": "approved", "lat": 30.2460,
    "lng": 120.1812, "distance_m": 14.2, "similarity": 0.6, "phone_match": True,
}

CREATED_EXAMPLE = {
    "id": 20931, "name": "老王面馆(清泰街店)", "category": "餐饮服务;中餐厅;面馆", "address": "清泰街 318 号",
    "phone": "0571-8780 6201", "lat": 30.2459, "lng": 120.1811, "coord_sys": "gcj02",
    "audit_status": "pending_audit", "audit_flags": ["possible_duplicate"], "merged_into_id": None,
    "self_onboarded": False, "duplicate_candidates": [CANDIDATE_EXAMPLE],
}

DUPLICATE_ERROR_EXAMPLE = {
    "code": 409, "status": "Conflict", "error_code": "POSSIBLE_DUPLICATE",
    "message": "This merchant may already exist; check the candidates, or send again with force=true.",
    "candidates": [CANDIDATE_EXAMPLE],
}

AUDIT_EXAMPLE = {
    **CREATED_EXAMPLE, "id": 1042, "name": "老王麵館", "audit_status": "approved", "audit_flags": [],
    "duplicate_candidates": [], "action": "merge", "audited_id": 20931,
}
