"""Password hashing with argon2id (a slow, memory-hard KDF), and the rules a new password must meet."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app

from app.errors import ValidationFailed


@cache
def _hasher(time_cost: int, memory_cost: int) -> PasswordHasher:
    return PasswordHasher(time_cost=time_cost, memory_cost=memory_cost)


def hasher() -> PasswordHasher:
    return _hasher(current_app.config["PASSWORD_TIME_COST"], current_app.config["PASSWORD_MEMORY_COST_KIB"])


def hash_password(password: str) -> str:
    return hasher().hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return hasher().verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return hasher().check_needs_rehash(password_hash)


def burn_time(password: str) -> None:
    """Spend what a real verification costs, so response time does not reveal unknown usernames."""
    verify_password(_dummy_hash(), password)


@cache
def _dummy_hash() -> str:
    return hasher().hash("no-such-user")


# --- what a new password must be (NIST SP 800-63B, 5.1.1.2): long enough, not among the most common
# passwords, not the username. Nothing else: no composition rules, no expiry.

MIN_LENGTH = 8
COMMON_PASSWORDS_FILE = Path(__file__).with_name("common_passwords.txt")


@cache
def _common_passwords() -> frozenset[str]:
    lines = COMMON_PASSWORDS_FILE.read_text(encoding="utf-8").splitlines()
    return frozenset(line.lower() for line in lines if line and not line.startswith("#"))


def is_common(password: str) -> bool:
    """Whether the password (in any case) is on the shipped list of the most common passwords."""
    return password.lower() in _common_passwords()


def problems(password: str, username: str) -> list[str]:
    """Why ``password`` may not be set for ``username``: field messages, empty when it may."""
    if len(password) < MIN_LENGTH:
        return [f"At least {MIN_LENGTH} characters."]
    if password.lower() == username.lower():
        return ["May not be the username."]
    if is_common(password):
        return ["Too common: one of the most used passwords; choose another."]
    return []


def check_new(password: str, username: str, *, field: str = "password") -> None:
    """Refuse (422 ``VALIDATION_ERROR``, a message on the body's ``field``) what ``problems`` finds. Every
    place that sets a password calls it: ``org.service.add_user`` (admin API, CLI, seed), the admin's
    password reset and the user's own change (``POST /me/password``, field ``new_password``)."""
    found = problems(password, username)
    if found:
        raise ValidationFailed(f"{field}: {found[0]}", errors={"json": {field: found}})
