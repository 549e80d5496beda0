"""Password hashing with argon2id (a slow, memory-hard KDF)."""

from __future__ import annotations

from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app


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
