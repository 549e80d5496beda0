"""Hypothesis strategies for hostile input: forged cursors, deeply nested JSON, lone surrogates.

Used by the fuzzing harness (``tests/fuzzing.py``: every operation with a ``cursor`` parameter, every JSON
body) and by the unit tests of ``app.pagination`` and ``app.api``. What the API must answer to each: a 4xx
with the error JSON (``error_code``), never a 5xx, and never a 2xx for a cursor it did not sign.
"""

from __future__ import annotations

import base64
import json
import string
from collections.abc import Callable
from typing import Any

from hypothesis import strategies as st

URLSAFE_ALPHABET = string.ascii_letters + string.digits + "-_"
# Text a client can put in a URL: no lone surrogates (they cannot be encoded as UTF-8 to be sent at all).
SENDABLE_TEXT = st.characters(exclude_categories=("Cs",))


def b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


# --- cursors


def cursor_values() -> st.SearchStrategy[str]:
    """One value of a cursor's key, as JSON text: what a genuine cursor holds, and what overflows or mis-types
    it (integers beyond bigint and beyond 64 bits, non-finite and huge floats, dates that are not dates)."""
    return st.one_of(
        st.integers(min_value=-(2**63), max_value=2**63 - 1).map(str),
        st.integers(min_value=2**63, max_value=10**40).map(str),
        st.integers(min_value=-(10**40), max_value=-(2**63) - 1).map(str),
        st.floats(allow_nan=False, allow_infinity=False).map(repr),
        st.sampled_from(
            [
                "1e400",
                "-1e400",
                "1e308",
                "true",
                "false",
                "null",
                "[]",
                "{}",
                "[1,[2]]",
                '{"k":1}',
                '"2024-05-01T08:00:00+00:00"',
                '"2024-05-01T08:00:00"',
                '"2024-13-45T25:61:00+00:00"',
                '"9999-12-31T23:59:59-23:59"',
                '"0001-01-01T00:00:00+14:00"',
                '"not-a-date"',
                '""',
                '"\\u0000"',
                '"\\ud800"',
            ]
        ),
        st.text(max_size=12).map(lambda text: json.dumps(text)),
    )


def fingerprints() -> st.SearchStrategy[str]:
    """Query fingerprints: random ones, and the one fixed fingerprint there is (the audit queue's)."""
    return st.one_of(st.text("0123456789abcdef", min_size=12, max_size=12), st.just("audit-queue"))


_PAYLOAD_SHAPES: list[Callable[[str, str], str]] = [
    lambda key, fingerprint: '{"k":' + key + ',"f":' + fingerprint + "}",
    lambda key, fingerprint: '{"f":' + fingerprint + ',"k":' + key + "}",
    lambda key, fingerprint: '{"k":' + key + "}",
    lambda key, fingerprint: '{"k":' + key + ',"f":' + fingerprint + ',"k":[]}',
    lambda key, fingerprint: "[" + key + "," + fingerprint + "]",
    lambda key, fingerprint: key,
]


@st.composite
def cursor_payloads(draw: st.DrawFn) -> bytes:
    """The JSON a cursor carries, ``{"k": [...], "f": "..."}``, with hostile values, and some that are not
    that shape at all."""
    key = "[" + ",".join(draw(st.lists(cursor_values(), max_size=4))) + "]"
    fingerprint = json.dumps(draw(fingerprints()))
    return draw(st.sampled_from(_PAYLOAD_SHAPES))(key, fingerprint).encode()


def forged_cursors() -> st.SearchStrategy[str]:
    """Cursors the service never issued, so never accepted: random base64, random bytes, valid-looking
    payloads unsigned or under a wrong signature, padded or edited tokens, text that is not base64 at all."""
    payloads = cursor_payloads()
    return st.one_of(
        st.text(URLSAFE_ALPHABET, min_size=1, max_size=120),
        st.binary(min_size=1, max_size=120).map(b64),
        payloads.map(b64),
        st.tuples(st.binary(min_size=32, max_size=32), payloads).map(lambda parts: b64(parts[0] + parts[1])),
        st.tuples(st.binary(max_size=40), payloads).map(lambda parts: b64(parts[0] + parts[1])),
        st.text(SENDABLE_TEXT, min_size=1, max_size=40),
        st.tuples(payloads.map(b64), st.sampled_from(["=", "==", ".", "%3D", " ", "+", "/"])).map("".join),
    )


def signed_cursors(sign: Callable[[bytes], str]) -> st.SearchStrategy[str]:
    """Hostile payloads under a genuine signature (``sign`` is ``app.pagination.sign``, in an app context): they
    pass the signature, and must be refused for their shape, their fingerprint or their values."""
    return cursor_payloads().map(sign)


# --- JSON bodies


@st.composite
def deeply_nested_json(draw: st.DrawFn, min_depth: int = 65, max_depth: int = 6_000) -> str:
    """JSON text nested deeper than the API allows: arrays and objects, alone or as the value of a field,
    past the limit a little, around Python's recursion limit, or thousands of levels down."""
    bands = [(min_depth, min_depth + 40), (800, 1_200), (4_000, max_depth)]
    depth = draw(
        st.one_of(
            [st.integers(min_value=low, max_value=min(high, max_depth)) for low, high in bands if low <= max_depth]
        )
    )
    openers = draw(st.lists(st.sampled_from(["[", '{"a":', '{"":', "[1,"]), min_size=1, max_size=3))
    leaf = draw(st.sampled_from(["1", '"x"', "null", "[]", "{}", "true"]))
    opened = [openers[i % len(openers)] for i in range(depth)]
    closed = ["]" if opener.startswith("[") else "}" for opener in reversed(opened)]
    nested = "".join(opened) + leaf + "".join(closed)
    field = draw(st.one_of(st.none(), st.sampled_from(["name", "payload", "attributes", "items"])))
    return nested if field is None else json.dumps({field: 0}).replace("0", nested, 1)


def lone_surrogates() -> st.SearchStrategy[str]:
    return st.integers(min_value=0xD800, max_value=0xDFFF).map(chr)


def _without_nul(value: Any) -> Any:
    if isinstance(value, str):
        return value.replace("\x00", "")
    if isinstance(value, dict):
        return {_without_nul(key): _without_nul(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_without_nul(item) for item in value]
    return value


@st.composite
def with_lone_surrogate(draw: st.DrawFn, body: Any) -> str:
    """``body`` as JSON text with a lone surrogate put into one of its strings or keys (or added, when it
    has none): valid JSON text (``"\\ud800"``), but not valid Unicode."""
    surrogate = draw(lone_surrogates())
    places: list[tuple[Any, Any, str]] = []  # (container, key or index, "key" | "value")

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                places.append((value, key, "key"))
                if isinstance(item, str):
                    places.append((value, key, "value"))
                walk(item)
        elif isinstance(value, list):
            for index, item in enumerate(value):
                if isinstance(item, str):
                    places.append((value, index, "value"))
                walk(item)

    body = _without_nul(body)  # a copy, and no NUL: the edge check would name that first
    walk(body)
    if not places:
        if isinstance(body, dict):
            body[surrogate] = surrogate
        elif isinstance(body, list):
            body.append(surrogate)
        else:
            body = surrogate
        return json.dumps(body)
    container, where, what = draw(st.sampled_from(places))
    if what == "key":
        text = where
        at = draw(st.integers(min_value=0, max_value=len(text)))
        container[text[:at] + surrogate + text[at:]] = container.pop(text)
    else:
        text = container[where]
        at = draw(st.integers(min_value=0, max_value=len(text)))
        container[where] = text[:at] + surrogate + text[at:]
    return json.dumps(body)  # ensure_ascii: the surrogate travels as a "\udxxx" escape
