"""The error catalogue: every error the API can answer is a class here, with its status and ``error_code``.

This module is the single source for three things: the JSON error handler (``{code, status, message,
error_code, errors?}``), the error examples of every operation in the OpenAPI spec (``description`` says
when an error happens, ``message`` is the default text), and the ``ErrorCode`` enum the spec lists.
Domains raise these classes, never a bare status with a code string: a new error is a new class here.

Clients branch on ``error_code`` (stable, SCREAMING_SNAKE); ``message`` is for humans and may change.
"""

from __future__ import annotations

import enum
import logging
from http import HTTPStatus
from typing import Any, ClassVar

from flask import Flask, Response, jsonify
from sqlalchemy.exc import DBAPIError, OperationalError
from werkzeug.exceptions import HTTPException

log = logging.getLogger(__name__)


class AppError(Exception):
    status: ClassVar[int] = 400
    error_code: ClassVar[str] = "BAD_REQUEST"
    message: str = "The request could not be processed."
    # when the error happens, for the OpenAPI spec; defaults to the message
    description: ClassVar[str] = ""
    # the extra facts (top-level keys of the body) this error carries, for ErrorSchema
    extra_fields: ClassVar[tuple[str, ...]] = ()
    # whether the unit of work commits what it did before this error (see db.atomic)
    keeps_changes: ClassVar[bool] = False
    # whether the answer carries a ``Retry-After`` header (documented in the spec)
    retry_after_header: ClassVar[bool] = False

    def __init__(
        self,
        message: str | None = None,
        *,
        errors: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        self.message = message or type(self).message
        self.errors = errors
        self.headers = headers or {}
        self.extra = extra or {}
        reserved = {"code", "status", "message", "error_code", "errors"} & set(self.extra)
        if reserved:
            raise ValueError(f"error extras may not replace the error shape's own fields: {sorted(reserved)}")
        super().__init__(self.message)

    @classmethod
    def when(cls) -> str:
        return cls.description or cls.message


# --- the generic errors: one per HTTP status, also answered for errors raised by Flask/werkzeug/webargs


class BadRequest(AppError):
    status, error_code, message = 400, "BAD_REQUEST", "The request is malformed."


class Unauthorized(AppError):
    status, error_code, message = 401, "UNAUTHORIZED", "Authentication is required."


class Forbidden(AppError):
    status, error_code, message = 403, "FORBIDDEN", "You are not allowed to do this."
    description = "your role may not do this"


class NotFound(AppError):
    status, error_code, message = 404, "NOT_FOUND", "Not found."


class MethodNotAllowed(AppError):
    status, error_code, message = 405, "METHOD_NOT_ALLOWED", "The method is not allowed for this URL."


class Conflict(AppError):
    status, error_code, message = 409, "CONFLICT", "The request conflicts with the current state."


class PayloadTooLarge(AppError):
    status, error_code, message = 413, "PAYLOAD_TOO_LARGE", "The request is too large."
    description = "the request or the uploaded file is over its size limit"


class UnsupportedMediaType(AppError):
    status, error_code, message = 415, "UNSUPPORTED_MEDIA_TYPE", "Send the body as application/json."
    description = "the body is not sent as application/json"


class ValidationFailed(AppError):
    status, error_code, message = 422, "VALIDATION_ERROR", "Some fields are invalid."
    description = "a field is missing, unknown, of the wrong type or out of range; see `errors`"


class RateLimited(AppError):
    status, error_code, message = 429, "RATE_LIMITED", "Too many requests; retry later."
    description = "too many requests; wait `Retry-After` seconds (also in `retry_after`)"
    extra_fields = ("retry_after",)
    retry_after_header = True

    def __init__(self, retry_after: int, message: str | None = None, **kwargs: Any) -> None:
        seconds = max(1, int(retry_after))
        super().__init__(message, headers={"Retry-After": str(seconds)}, **kwargs)
        self.extra.setdefault("retry_after", seconds)


class OtherHttpError(AppError):
    """Any other 4xx that Flask answers by itself (406, 410, ...): the body's ``code`` has the status."""

    status, error_code, message = 400, "HTTP_ERROR", "The request cannot be served."


class InternalError(AppError):
    status, error_code, message = 500, "INTERNAL_ERROR", "Something went wrong on our side."


class ServiceUnavailable(AppError):
    status, error_code, message = 503, "SERVICE_UNAVAILABLE", "A dependency is unavailable; retry shortly."
    description = "the database is unavailable; retry after `Retry-After` seconds"
    retry_after_header = True


# --- request format


class MalformedJson(BadRequest):
    error_code, message = "MALFORMED_JSON", "The body is not valid JSON."


class InvalidIdempotencyKey(BadRequest):
    error_code = "INVALID_IDEMPOTENCY_KEY"
    message = "The Idempotency-Key header must be 8 to 120 visible ASCII characters (a UUID is best)."
    description = "the `Idempotency-Key` header is empty, shorter than 8 or longer than 120 characters, or not ASCII"


class InvalidCursor(BadRequest):
    error_code, message = "INVALID_CURSOR", "The cursor is invalid."
    description = "the cursor is malformed, tampered with or stale (a new secret), or belongs to another query"


# --- sign-in and sessions


class TenantRequired(BadRequest):
    error_code, message = "TENANT_REQUIRED", "This username exists in several business lines; send `tenant`."


class InvalidCredentials(Unauthorized):
    error_code, message = "INVALID_CREDENTIALS", "Wrong username or password."
    description = "wrong username, password or tenant"


class TokenMissing(Unauthorized):
    error_code, message = "TOKEN_MISSING", "Send `Authorization: Bearer <token>`."
    description = "no `Authorization: Bearer` header"


class TokenExpired(Unauthorized):
    error_code, message = "TOKEN_EXPIRED", "The token has expired."
    description = "the access token expired; refresh it"


class TokenInvalid(Unauthorized):
    error_code, message = "TOKEN_INVALID", "The token is invalid."
    description = "the token is malformed, forged or of the wrong type"


class TokenRevoked(Unauthorized):
    error_code, message = "TOKEN_REVOKED", "This session has ended; sign in again."
    description = "the session was signed out or the account disabled"


class RefreshTokenReused(Unauthorized):
    error_code = "REFRESH_TOKEN_REUSED"
    message = "This refresh token was already used; the session is closed for safety. Sign in again."
    description = "an already-used refresh token was sent"
    # the session it revoked stays revoked: a stolen token's thief is signed out too
    keeps_changes = True


class AppUpgradeRequired(AppError):
    status, error_code = 426, "APP_UPGRADE_REQUIRED"
    message = "This app version is no longer supported; update the app."
    description = (
        "the `X-App-Version` header is below the business line's minimum app version (or not a version while a "
        "minimum is set): show an update screen that opens `store_url`"
    )
    extra_fields = ("store_url",)

    def __init__(self, store_url: str, message: str | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.extra.setdefault("store_url", store_url)


class LoginLocked(RateLimited):
    error_code, message = "LOGIN_LOCKED", "Too many failed logins; try again later."
    description = "too many failed attempts; wait `Retry-After` seconds"


# --- scope: who may touch what


class NotInScope(Forbidden):
    error_code, message = "NOT_IN_SCOPE", "That is outside your org subtree."
    description = "a user or team named is outside your org subtree"


class NotAllowedForLead(Forbidden):
    error_code = "NOT_ALLOWED_FOR_LEAD"
    message = "Only the lead's owner, their managers and ops can edit this merchant's contacts."
    description = "only the lead's owner, their managers, ops and admins may edit"


class SelfDemotion(Conflict):
    error_code, message = "SELF_DEMOTION", "Admins cannot demote themselves."
    description = "an admin cannot drop their own admin role"


# --- things that do not exist (or that the caller may not know of)


class TenantNotFound(NotFound):
    error_code, message = "TENANT_NOT_FOUND", "No such business line."
    description = "no business line with this slug"


class OrgUnitNotFound(NotFound):
    error_code, message = "ORG_UNIT_NOT_FOUND", "No such org unit."
    description = "no such org unit in your subtree"


class TeamNotFound(NotFound):
    error_code, message = "TEAM_NOT_FOUND", "No such team in your org subtree."


class CampaignNotFound(NotFound):
    error_code, message = "CAMPAIGN_NOT_FOUND", "No such campaign."
    description = "no such campaign you can see (managers: their own and their subtree's)"


class ExportNotFound(NotFound):
    error_code, message = "EXPORT_NOT_FOUND", "No such export."
    description = "no such export of yours"


class ExportTooLarge(AppError):
    status, error_code, message = 413, "EXPORT_TOO_LARGE", "Too many rows to answer at once: run it as a job."
    description = "more rows than `EXPORT_INLINE_ROWS` (in `max_rows`): `POST /exports` runs it as a job"
    extra_fields = ("max_rows",)


class ExportUrlInvalid(NotFound):
    error_code, message = "EXPORT_URL_INVALID", "This download link is not valid."
    description = "the signature does not match, or the link expired (ask `GET /exports/{id}` for a fresh one)"


class UserNotFound(NotFound):
    error_code, message = "USER_NOT_FOUND", "No such user."
    description = "no such (active) user you manage"


class ManagerNotFound(NotFound):
    error_code, message = "MANAGER_NOT_FOUND", "No such manager."


class DeviceNotFound(NotFound):
    error_code, message = "DEVICE_NOT_FOUND", "No such device of yours."


class TerritoryNotFound(NotFound):
    error_code, message = "TERRITORY_NOT_FOUND", "No such territory."
    description = "no such territory you can see"


class MerchantNotFound(NotFound):
    error_code, message = "MERCHANT_NOT_FOUND", "No such merchant."
    description = "no merchant with this id in your business line (or it was rejected)"


class ContactNotFound(NotFound):
    error_code, message = "CONTACT_NOT_FOUND", "No such contact at this merchant."


class MergeTargetNotFound(NotFound):
    error_code, message = "MERGE_TARGET_NOT_FOUND", "No merchant to merge into."
    description = "`into_id` is not a live merchant of your business line"


class CorrectionNotFound(NotFound):
    error_code, message = "CORRECTION_NOT_FOUND", "No such correction of this merchant."
    description = "`correction_id` is not a correction of this merchant"


class ImportNotFound(NotFound):
    error_code, message = "IMPORT_NOT_FOUND", "No such import."
    description = "no such import in your business line"


class VisitNotFound(NotFound):
    error_code, message = "VISIT_NOT_FOUND", "No such visit."


class PlanNotFound(NotFound):
    error_code, message = "PLAN_NOT_FOUND", "No plan for that day."


class ContractNotFound(NotFound):
    error_code, message = "CONTRACT_NOT_FOUND", "No such contract of this merchant."


class TaskNotFound(NotFound):
    error_code, message = "TASK_NOT_FOUND", "No such task."
    description = "no such task you may see"


class TodoNotFound(NotFound):
    error_code, message = "TODO_NOT_FOUND", "No such to-do of yours."


# --- ids in a body that name nothing the caller may use


class UnknownUsers(ValidationFailed):
    error_code, message = "UNKNOWN_USERS", "Unknown or inactive users."
    description = "a user id in the body is not an active user of the right role that you manage"


class UnknownOrgUnit(ValidationFailed):
    error_code, message = "UNKNOWN_ORG_UNIT", "Unknown org unit."
    description = "an org unit id in the body is not in your subtree"


class UnknownTeam(ValidationFailed):
    error_code, message = "UNKNOWN_TEAM", "Unknown team."
    description = "no such team"


class UnknownTerritory(ValidationFailed):
    error_code, message = "UNKNOWN_TERRITORY", "Unknown territory."
    description = "no such territory you can see"


class UnknownMerchants(ValidationFailed):
    error_code, message = "UNKNOWN_MERCHANTS", "Unknown merchants."
    description = "a merchant id in the body does not exist"


class UnknownContact(ValidationFailed):
    error_code, message = "UNKNOWN_CONTACT", "Unknown contacts."
    description = "a contact id is not a contact of this merchant"


class UnknownPhotos(ValidationFailed):
    error_code, message = "UNKNOWN_PHOTOS", "Unknown photos."
    description = "a photo id is not one of your uploads"


class UnknownForm(ValidationFailed):
    error_code, message = "UNKNOWN_FORM", "Unknown visit form or form version."
    description = "a `form_answers` entry names a form (or a version of it) the business line never published"


# --- values that do not fit


class InvalidFormAnswers(ValidationFailed):
    error_code, message = "INVALID_FORM_ANSWERS", "Some form answers are invalid."
    description = (
        "an answer does not fit its field in the named form version (per field in `errors`), or a form bound "
        "to every check-in/check-out was not answered"
    )


class InvalidAttributes(ValidationFailed):
    error_code, message = "INVALID_ATTRIBUTES", "Some custom fields are invalid."
    description = "a value does not fit the business line's custom-field schema"


class InvalidAttributeFilter(ValidationFailed):
    error_code, message = "INVALID_ATTRIBUTE_FILTER", "Some attribute filters are invalid."
    description = "an `attr.<key>` filter names no custom field or does not fit its type"


class InvalidPhone(ValidationFailed):
    error_code, message = "INVALID_PHONE", "The phone number is not valid."
    description = "not a valid direct number for the business line's region (no 400/800 hotlines)"


class InvalidPeriod(ValidationFailed):
    error_code, message = "INVALID_PERIOD", "`to` must be on or after `from`, at most a year later."
    description = "`to` before `from` or more than a year later"


class InvalidGeometry(ValidationFailed):
    error_code, message = "INVALID_GEOMETRY", "The territory's geometry is invalid."
    description = (
        "the boundary is invalid (self-intersection, unclosed ring, too many vertices, area out of bounds, "
        "crosses the antimeridian...): `geometry_error` has the `code`, shapely's `reason` and the "
        "`[lng, lat]` `location`"
    )
    extra_fields = ("geometry_error",)


class BboxTooLarge(ValidationFailed):
    error_code, message = "BBOX_TOO_LARGE", "The box is too large."
    description = "the box is wider than a city (50 km)"


class TooManyCells(ValidationFailed):
    error_code, message = "TOO_MANY_CELLS", "Too many cells."
    description = "more than 10,000 cells: larger cells or a smaller box"


class NoAssignees(ValidationFailed):
    error_code, message = "NO_ASSIGNEES", "Nobody to assign the task to."
    description = "the target resolves to nobody"


class OrgCycle(ValidationFailed):
    error_code, message = "ORG_CYCLE", "A unit cannot move under itself or its own sub-units."
    description = "the new parent is inside the unit being moved"


class NothingToCorrect(ValidationFailed):
    error_code, message = "NOTHING_TO_CORRECT", "Every value sent is what the merchant already has."
    description = "the correction changes nothing: no field sent, or every value equals the current one"


class MergeIntoSelf(ValidationFailed):
    error_code, message = "MERGE_INTO_SELF", "A merchant cannot be merged into itself."
    description = "`into_id` is the merchant itself"


# --- uploaded files


class EmptyFile(ValidationFailed):
    error_code, message = "EMPTY_FILE", "The file is empty."


class BadEncoding(ValidationFailed):
    error_code, message = "BAD_ENCODING", "The file is not UTF-8 text."
    description = "the CSV is not UTF-8"


class PhotoUrlInvalid(Forbidden):
    error_code, message = "PHOTO_URL_INVALID", "This photo link is not valid."
    description = "the photo URL's signature does not match (tampered with, truncated, or signed with an old secret)"


class PhotoUrlExpired(Forbidden):
    error_code, message = "PHOTO_URL_EXPIRED", "This photo link has expired; reload the page that showed it."
    description = "the photo URL's `expires` has passed: fetch the visit again for a fresh URL"


class PhotoNotFound(NotFound):
    error_code, message = "PHOTO_NOT_FOUND", "No such photo."
    description = "the signed URL is valid but the photo is gone"


class BadFile(ValidationFailed):
    error_code, message = "BAD_FILE", "The file cannot be imported."
    description = "no header / required columns (after mapping), or not a GeoJSON FeatureCollection"


# --- the state of things does not allow it


class AlreadyExists(Conflict):
    """Base of the "a row with that name is there already" conflicts."""


class TenantExists(AlreadyExists):
    error_code, message = "TENANT_EXISTS", "That business line already exists."


class UserExists(AlreadyExists):
    error_code, message = "USER_EXISTS", "That username is taken in this business line."
    description = "the username is taken in this tenant"


class OrgUnitExists(AlreadyExists):
    error_code, message = "ORG_UNIT_EXISTS", "A unit of that name already exists there."
    description = "a unit of that name exists under that parent"


class TerritoryExists(AlreadyExists):
    error_code, message = "TERRITORY_EXISTS", "The team already has a territory of that name."


class ContractExists(AlreadyExists):
    error_code, message = "CONTRACT_EXISTS", "A contract with this number exists in this business line."


class InvalidTransition(Conflict):
    error_code, message = "INVALID_TRANSITION", "That is not possible in the current status."
    description = "the action is not possible in the current status (e.g. accept a done task)"
    extra_fields = ("current_status",)


class NotPendingAudit(Conflict):
    error_code, message = "NOT_PENDING_AUDIT", "This merchant is not pending audit."
    description = (
        "approve and reject apply to pending merchants (or pending corrections) only; `audit_status` says what it is"
    )
    extra_fields = ("audit_status",)


class PossibleDuplicate(Conflict):
    error_code = "POSSIBLE_DUPLICATE"
    message = "This merchant may already exist; check the candidates, or send again with force=true."
    description = "a similar merchant is near (or shares the phone): see `candidates`; resend with `force`"
    extra_fields = ("candidates",)


class AlreadyCheckedOut(Conflict):
    error_code, message = "ALREADY_CHECKED_OUT", "This visit is already checked out."


class IdempotencyKeyReused(Conflict):
    error_code = "IDEMPOTENCY_KEY_REUSED"
    message = "This Idempotency-Key was already used for a different request."
    description = "this Idempotency-Key was used for a different request body"


class IdempotencyInProgress(Conflict):
    error_code, message = "IDEMPOTENCY_IN_PROGRESS", "A request with this Idempotency-Key is in progress; retry."
    description = "the first request with this Idempotency-Key is still running; retry after `Retry-After` seconds"
    extra_fields = ("retry_after",)
    retry_after_header = True

    def __init__(self, retry_after: int = 1, message: str | None = None, **kwargs: Any) -> None:
        seconds = max(1, int(retry_after))
        super().__init__(message, headers={"Retry-After": str(seconds)}, **kwargs)
        self.extra.setdefault("retry_after", seconds)


# --- the lead pool's rules


class PoolConflict(Conflict):
    """A 409 whose ``error_code`` tells the app which pool rule refused the change."""


class LeadTaken(PoolConflict):
    error_code, message = "LEAD_TAKEN", "A colleague holds this lead."


class LeadDropped(PoolConflict):
    error_code, message = "LEAD_DROPPED", "This lead has already dropped back to the public pool."
    description = "the lead's drop time has passed"


class ReclaimCooldown(PoolConflict):
    error_code, message = "RECLAIM_COOLDOWN", "You lost this lead recently; you can claim it again later."
    description = "the lead dropped from (or was released by) you recently; `until` says when"
    extra_fields = ("until",)


class ClaimCapReached(PoolConflict):
    error_code, message = "CLAIM_CAP_REACHED", "The private pool is full."
    description = "the BD already holds the maximum of private leads (`cap` in the body)"
    extra_fields = ("cap",)


class AlreadyPartner(PoolConflict):
    error_code, message = "ALREADY_PARTNER", "This merchant is already a signed partner."
    description = "the merchant is a signed partner"


class AlreadyYours(PoolConflict):
    error_code, message = "ALREADY_YOURS", "The lead already belongs to this BD."


class NotOwner(PoolConflict):
    error_code, message = "NOT_OWNER", "Only the lead's owner (or their manager) may do this."


class ExtensionsExhausted(PoolConflict):
    error_code, message = "EXTENSIONS_EXHAUSTED", "Every extension is used."
    description = "every self-extension is used"


class NotPartner(PoolConflict):
    error_code, message = "NOT_PARTNER", "Only a signed partner's account is handed over."
    description = "the merchant is not a signed partner"


class NotInPoolGroup(PoolConflict):
    error_code, message = "NOT_IN_POOL_GROUP", "This merchant is in another pool group than yours."
    description = "the business line splits the public pool and the merchant lies outside your pool groups"


class LeadLocked(PoolConflict):
    error_code, message = "LEAD_LOCKED", "A manager has locked this lead."
    description = "a manager locked the lead (`locked_until`); it is not released until unlocked"
    extra_fields = ("locked_until",)


class NotPrivateLead(PoolConflict):
    error_code, message = "NOT_PRIVATE_LEAD", "Only a private lead can be changed this way."
    description = "the merchant is in the public pool or a signed partner, not a BD's private lead"


# --- the catalogue


def catalogue() -> list[type[AppError]]:
    """Every error class that defines an ``error_code``, the generic ones first."""
    classes: list[type[AppError]] = []
    pending: list[type[AppError]] = AppError.__subclasses__()
    while pending:
        cls = pending.pop(0)
        if "error_code" in cls.__dict__:
            classes.append(cls)
        pending.extend(cls.__subclasses__())
    return classes


_CODES = [cls.error_code for cls in catalogue()]
if len(_CODES) != len(set(_CODES)):
    raise RuntimeError(f"two error classes share an error_code: {sorted(c for c in _CODES if _CODES.count(c) > 1)}")

ErrorCode = enum.StrEnum("ErrorCode", {code: code for code in _CODES})
ErrorCode.__doc__ = "Every `error_code` the API answers with."

# The class answered for errors raised by Flask/werkzeug/webargs rather than by our code.
BY_STATUS: dict[int, type[AppError]] = {
    cls.status: cls
    for cls in (
        BadRequest,
        Unauthorized,
        Forbidden,
        NotFound,
        MethodNotAllowed,
        Conflict,
        PayloadTooLarge,
        UnsupportedMediaType,
        ValidationFailed,
        RateLimited,
        InternalError,
        ServiceUnavailable,
    )
}


def error_body(status: int, error_code: str, message: str, errors: Any = None, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "code": status,
        "status": HTTPStatus(status).phrase,
        "message": message,
        "error_code": error_code,
    }
    if errors:
        body["errors"] = errors
    body.update(extra)
    return body


def _respond(body: dict[str, Any], status: int, headers: dict[str, str] | None = None) -> Response:
    response = jsonify(body)
    response.status_code = status
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


def handle_app_error(error: AppError) -> Response:
    body = error_body(error.status, error.error_code, error.message, error.errors, **error.extra)
    return _respond(body, error.status, error.headers)


def handle_http_exception(error: HTTPException) -> Response:
    status = error.code or 500
    if status >= 500:
        return handle_unexpected(error)
    data = getattr(error, "data", None) or {}
    errors = data.get("errors") or data.get("messages")
    message = data.get("message") or error.description or HTTPStatus(status).phrase
    code = BY_STATUS.get(status, OtherHttpError).error_code
    response = _respond(error_body(status, code, message, errors), status, data.get("headers"))
    if status == 405 and getattr(error, "valid_methods", None):
        response.headers["Allow"] = ", ".join(error.valid_methods)
    return response


def handle_database_unavailable(error: DBAPIError) -> Response:
    log.error("database unavailable: %s", error.__class__.__name__)
    body = error_body(503, ServiceUnavailable.error_code, "The database is unavailable; retry shortly.")
    return _respond(body, 503, {"Retry-After": "5"})


def handle_unexpected(error: BaseException) -> Response:
    original = getattr(error, "original_exception", None) or error
    if isinstance(original, OperationalError) and original.connection_invalidated is not None:
        return handle_database_unavailable(original)
    log.exception("unhandled error", exc_info=original)
    return _respond(error_body(500, InternalError.error_code, InternalError.message), 500)


def register_error_handlers(app: Flask) -> None:
    app.register_error_handler(AppError, handle_app_error)
    app.register_error_handler(HTTPException, handle_http_exception)
    app.register_error_handler(OperationalError, handle_database_unavailable)
    app.register_error_handler(Exception, handle_unexpected)
