// What an app written in TypeScript does with the types openapi-typescript generates from
// mobile_api_docs/openapi.json. tests/api/test_generated_client.py generates them as `api.d.ts` beside a copy
// of this file and runs `tsc --noEmit --strict` on it: a change to the spec that breaks these uses fails the
// test. The `@ts-expect-error` lines are misuses that must keep failing to compile.
import type { components, paths } from "./api";

type Schemas = components["schemas"];

// Nearby: the 200 body of GET /merchants/nearby, and the query it takes.
type NearbyQuery = paths["/api/v1/merchants/nearby"]["get"]["parameters"]["query"];
type NearbyPage = paths["/api/v1/merchants/nearby"]["get"]["responses"][200]["content"]["application/json"];
type NearbyItem = NearbyPage["items"][number];

const query: NearbyQuery = { lat: 30.2561, lng: 120.1749, coord_sys: "gcj02", radius_m: 800, limit: 20 };
// @ts-expect-error: `lat` and `lng` are required
const noPosition: NearbyQuery = { coord_sys: "gcj02" };
// @ts-expect-error: not a coordinate system
const badSystem: NearbyQuery = { lat: 1, lng: 2, coord_sys: "mercator" };

export function label(item: NearbyItem): string {
    const where = `${Math.round(item.distance_m)} m at ${Math.round(item.bearing_deg)}°`;
    const owner = item.sea.owner === null ? "public" : item.sea.owner.name;
    const visited = item.last_visit_at ?? "never visited";
    return `${item.name} (${item.category}, ${item.tags.join(",")}): ${where}, ${owner}, ${visited} ` +
        `[${item.lat.toFixed(6)}, ${item.lng.toFixed(6)}]${item.claimable ? " - claim" : ""}`;
}

export function nextPage(page: NearbyPage): NearbyQuery | null {
    return page.next_cursor === null ? null : { ...query, cursor: page.next_cursor };
}

// Claim: the merchant id is a path parameter; the answer is the lead.
type ClaimParams = paths["/api/v1/leads/{merchant_id}/claim"]["post"]["parameters"]["path"];
type ClaimAnswer = paths["/api/v1/leads/{merchant_id}/claim"]["post"]["responses"][200]["content"]["application/json"];

export function claimUrl(params: ClaimParams): string {
    return `/api/v1/leads/${params.merchant_id}/claim`;
}
claimUrl({ merchant_id: 17 });
// @ts-expect-error: the id is a number
claimUrl({ merchant_id: "17" });

export function dropsAt(lead: ClaimAnswer): string | null {
    return lead.drops_at ?? null;
}

// Errors: `error_code` is a closed union, so a switch over it is checked against the catalogue.
type ApiError = Schemas["Error"];
type ErrorCode = ApiError["error_code"];

export function claimMessage(error: ApiError): string {
    switch (error.error_code) {
        case "LEAD_TAKEN":
            return "A colleague just claimed it";
        case "CLAIM_CAP_REACHED":
            return `You hold ${error.cap ?? "the maximum of"} leads: release or sign some first`;
        case "RECLAIM_COOLDOWN":
            return `You can claim it again after ${error.until ?? "a while"}`;
        case "TOKEN_EXPIRED":
            return "refresh";
        default:
            return error.message;
    }
}
const known: ErrorCode = "IDEMPOTENCY_KEY_REUSED";
// @ts-expect-error: not an error code of the catalogue
const unknown: ErrorCode = "LEAD_STOLEN";

// Check-in: the request body, with the Idempotency-Key header the operation declares.
type CheckIn = Schemas["CheckIn"];
type CheckInHeaders = paths["/api/v1/visits"]["post"]["parameters"]["header"];

export const checkIn: CheckIn = {
    merchant_id: 17,
    lat: 30.25612,
    lng: 120.17489,
    coord_sys: "gcj02",
    accuracy_m: 12,
    client_time: "2026-11-22T10:15:03+08:00",
    mock_location: false,
    photo_ids: [],
};
export const checkInHeaders: CheckInHeaders = { "Idempotency-Key": "6f1c2b4e-8a51-4a8e-9a57-1f0e3c2d9b10" };

export function flags(result: Schemas["CheckInResult"]): string {
    return result.verified ? "verified" : result.flags.join(", ");
}

// To-dos and tasks.
export function todoLine(todo: Schemas["Todo"]): string {
    return `${todo.type === "task" ? "Task" : "Reminder"} ${todo.id}: ${todo.title} (${todo.actions.join("/")})`;
}

export const task: Schemas["TaskCreate"] = { title: "Visit the new openings", kind: "visit", user_ids: [4, 5] };
// @ts-expect-error: not a task kind
export const badTask: Schemas["TaskCreate"] = { title: "x", kind: "party" };

export const used = [noPosition, badSystem, known, unknown];
