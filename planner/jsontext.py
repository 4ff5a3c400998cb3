"""Canonical and compact JSON text: always exactly the standard library's, written by orjson whenever it is the same.

Owns: `canonical_json` (sorted keys, two-space indentation, a trailing newline: plans, snapshots, reports) and
`compact_json` (sorted keys, no spaces: what plan digests hash), and the rule deciding when orjson may write them
(`plain_floats`: the walk that finds whether data is plain JSON, and its floats).
Must not: read or write files (`planner.files` does), or know what the data means.
"""

from __future__ import annotations

import json
from itertools import chain
from typing import Any

import orjson


def canonical_json(data: Any, *, floats: list[float] | None = None) -> str:
    """Sorted keys, two-space indentation, a trailing newline: the same data gives the same bytes.

    The text is always that of `json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False)`; orjson writes it
    (over ten times faster) whenever it gives that same text (`_orjson_text`), the standard library otherwise.
    `floats`: see `_orjson_text`.
    """
    fast = _orjson_text(data, orjson.OPT_SORT_KEYS | orjson.OPT_INDENT_2, floats)
    if fast is not None:
        return fast + "\n"
    return json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def compact_json(data: Any, *, floats: list[float] | None = None) -> str:
    """Sorted keys, no spaces, UTF-8 as is: exactly `json.dumps(data, sort_keys=True, separators=(",", ":"),
    ensure_ascii=False)` (what digests and fingerprints hash), written by orjson whenever it gives that same text.
    `floats`: see `_orjson_text`."""
    fast = _orjson_text(data, orjson.OPT_SORT_KEYS, floats)
    if fast is not None:
        return fast
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


_PLAIN = frozenset({dict, list, tuple, str, int, bool, float, type(None)})
_NESTED = (dict, list, tuple)


def plain_floats(data: Any) -> list[float] | None:
    """Every float in `data` when it holds only the plain JSON types (dict, list, tuple, str, int, bool, float,
    None; no subclass), else None. Walked level by level, each value once."""
    if type(data) not in _PLAIN:
        return None
    level = [data] if type(data) in _NESTED else []
    floats: list[float] = [data] if type(data) is float else []
    while level:
        values = list(chain.from_iterable(v.values() if type(v) is dict else v for v in level))
        kinds = set(map(type, values))
        if not kinds <= _PLAIN:
            return None
        if float in kinds:
            floats.extend(v for v in values if type(v) is float)
        level = [v for v in values if type(v) in _NESTED] if kinds & {dict, list, tuple} else []
    return floats


def _orjson_text(data: Any, option: int, floats: list[float] | None = None) -> str | None:
    """orjson's text of `data` when it is the standard library's, else None.

    The two agree on objects and arrays (sorted by code point, the same separators and indentation), strings
    (the same escapes; orjson refuses lone surrogates) and integers (orjson refuses those beyond 64 bits and
    non-string keys). They differ on some floats (orjson writes 1e-05 as 0.00001 and NaN as null), so every float
    is compared with its standard text, and any type but the plain JSON ones (a subclass, an enum) is left to the
    standard library (`plain_floats`). A caller that knows its data is plain (a typed model's dump) passes every
    float it holds as `floats`, and the walk is skipped.
    """
    if floats is None:
        floats = plain_floats(data)
        if floats is None:
            return None
    if any(orjson.dumps(f) != float.__repr__(f).encode() for f in floats):
        return None
    try:
        return orjson.dumps(data, option=option).decode("utf-8")
    except (orjson.JSONEncodeError, RecursionError):
        return None
