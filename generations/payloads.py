"""Client JSON read safely: bounded nesting, and text that the database and the socket can carry.

A lone UTF-16 surrogate (`"\\ud800"`) is valid JSON but not Unicode text: it cannot be encoded
to UTF-8, so it failed later, on save or on send, as a 500. Nesting is bounded far below
Python's recursion limit, which the decoder (and anything walking the result) would hit.
"""

import json
import re

from generations.errors import INVALID_FIELD, INVALID_JSON, AppError

# A real request is one object of strings; this is deeper than any of them.
MAX_DEPTH = 32
_SURROGATE = re.compile("[\ud800-\udfff]")


def parse_json(raw: str | bytes):
    """Return the JSON value in `raw`, or raise AppError: `invalid_json` for malformed or
    too deeply nested JSON, `invalid_field` for a string that is not Unicode text."""
    try:
        value = json.loads(raw)
    except RecursionError:
        raise AppError(INVALID_JSON, _too_deep()) from None
    except ValueError:  # UnicodeDecodeError included
        raise AppError(INVALID_JSON, "Not valid JSON.") from None
    check_value(value, could_nest=_brackets(raw) > MAX_DEPTH, could_hold=_may_hold(raw))
    return value


def check_value(value, *, could_nest: bool = True, could_hold: bool = True) -> None:
    """Raise AppError if `value` (decoded JSON) nests deeper than MAX_DEPTH (`invalid_json`) or
    holds a lone surrogate in any key or string (`invalid_field`). The flags skip checks the
    raw text already rules out, so an ordinary request costs no walk at all."""
    if not (could_nest or could_hold):
        return
    stack = [(value, 1, None)]
    while stack:
        item, depth, field = stack.pop()
        if isinstance(item, str):
            if could_hold and _SURROGATE.search(item):
                raise AppError(INVALID_FIELD, _not_text(field))
        elif isinstance(item, dict | list):
            if depth > MAX_DEPTH:
                raise AppError(INVALID_JSON, _too_deep())
            pairs = item.items() if isinstance(item, dict) else ((None, v) for v in item)
            for key, child in pairs:
                if key is not None:
                    stack.append((key, depth, field))
                # Errors name the innermost key: `instructions`, wherever it sits.
                stack.append((child, depth + 1, field if key is None else key))


def has_lone_surrogate(text: str) -> bool:
    return bool(_SURROGATE.search(text))


def _brackets(raw: str | bytes) -> int:
    if isinstance(raw, str):
        return raw.count("[") + raw.count("{")
    return raw.count(b"[") + raw.count(b"{")


def _may_hold(raw: str | bytes) -> bool:
    """False if no string decoded from `raw` can hold a surrogate: none escaped as `\\u`, and
    none raw (a str from a socket frame may; bytes are decoded with `surrogatepass`)."""
    if isinstance(raw, str):
        return "\\u" in raw or not raw.isascii()
    return b"\\u" in raw or not raw.isascii()


def _too_deep() -> str:
    return f"The JSON is nested more than {MAX_DEPTH} levels deep."


def _not_text(field) -> str:
    if isinstance(field, str) and field.isidentifier() and len(field) <= 40:
        return f"`{field}` is not valid Unicode text (it holds a lone surrogate)."
    return "A string is not valid Unicode text (it holds a lone surrogate)."
