"""How deeply nested JSON may be (`MAX_DEPTH` levels), and JSON bytes parsed with that limit in the same pass.

Owns: the depth limit and its one-line refusal, the walk of parsed data (`check_depth`), the reading of it from JSON
bytes (`check_json_depth`), and `load_json_bytes`, which lets orjson's own depth limit refuse what nests too deeply
while it parses. Must not: read files (`planner.files` does, through here) or know what the data means.
"""

from __future__ import annotations

import functools
from itertools import chain
from typing import Any

import orjson

from planner.errors import InputError

MAX_DEPTH = 100            # nesting levels of arrays/objects; real snapshots, specs and plans stay below 15


def too_deep(source: str) -> InputError:
    """The one refusal of data nested more than MAX_DEPTH levels deep, naming the file."""
    return InputError(f"nested more than {MAX_DEPTH} levels deep; refusing it", source=source)


def check_depth(data: Any, source: str) -> None:
    """An InputError naming the file when parsed JSON nests deeper than MAX_DEPTH levels.

    Walked level by level without recursion: the values of one level's objects and arrays, gathered by C-level
    iteration (`chain`), are sorted into the next level's objects and arrays; JSON shares no values, so each is
    visited once (about 0.2 s for a 100,000-node snapshot). Only exact `dict` and `list` count, as parsers give.
    """
    dicts: list[Any] = [data] if type(data) is dict else []
    lists: list[Any] = [data] if type(data) is list else []
    depth = 1
    while dicts or lists:
        if depth > MAX_DEPTH:
            raise too_deep(source)
        next_dicts: list[Any] = []
        next_lists: list[Any] = []
        add_dict, add_list = next_dicts.append, next_lists.append
        for value in chain(chain.from_iterable(map(dict.values, dicts)), chain.from_iterable(lists)):
            kind = type(value)
            if kind is dict:
                add_dict(value)
            elif kind is list:
                add_list(value)
        dicts, lists = next_dicts, next_lists
        depth += 1


_NOT_MARKS = bytes(range(256)).translate(None, b'"[]{}')  # every byte but quotes and brackets
_SQUARE = bytes.maketrans(b"{}", b"[]")


def check_json_depth(blob: bytes, source: str) -> None:
    """`check_depth` of the data parsed from `blob`, read from the bytes: `blob` must be valid JSON (a parser took it).

    The same answer as walking the parsed data, about three times faster, by bytes operations only: escaped
    backslashes and quotes are dropped (JSON has backslashes only inside strings), then every byte but quotes and
    brackets; quotes now pair up around strings, and brackets inside strings are dropped with them; objects and
    arrays are then alike, and each pass of removing "[]" removes the innermost level, so the brackets are gone
    after as many passes as the data has levels. (UTF-8 never uses these ASCII bytes inside another character.)
    """
    if b"\\" in blob:
        blob = blob.replace(b"\\\\", b"").replace(b'\\"', b"")
    marks = blob.translate(None, _NOT_MARKS).replace(b'""', b"")  # empty strings (or two strings' inner quotes)
    if b'"' in marks:
        marks = b"".join(marks.split(b'"')[::2])  # what lies between strings
    marks = marks.translate(_SQUARE)
    for _ in range(MAX_DEPTH):
        if not marks:
            return
        marks = marks.replace(b"[]", b"")
    if marks:
        raise too_deep(source)


ORJSON_DEPTH = 1024  # orjson refuses data nested deeper than this (checked once, by `orjson_pad`)


@functools.cache
def orjson_pad() -> int:
    """How many one-element arrays to wrap a JSON text in so that orjson's own depth limit refuses exactly the texts
    nested more than MAX_DEPTH levels (0 when this orjson's limit is not ORJSON_DEPTH: then the bytes are checked)."""
    try:
        orjson.loads(b"[" * ORJSON_DEPTH + b"]" * ORJSON_DEPTH)
    except orjson.JSONDecodeError:
        return 0
    try:
        orjson.loads(b"[" * (ORJSON_DEPTH + 1) + b"]" * (ORJSON_DEPTH + 1))
    except orjson.JSONDecodeError:
        return ORJSON_DEPTH - MAX_DEPTH
    return 0


NOT_READ = object()  # what a fast path answers when it steps aside for the plain one


def unwrap(data: Any, pad: int) -> Any:
    """The value inside `pad` one-element arrays, or NOT_READ when a wrapper holds anything but one value."""
    for _ in range(pad):
        if type(data) is not list or len(data) != 1:
            return NOT_READ
        data = data[0]
    return data


def load_json_bytes(blob: bytes, source: str) -> Any:
    """`orjson.loads(blob)`, refused (InputError naming the file) when nested more than MAX_DEPTH levels; raises
    orjson.JSONDecodeError when `blob` is not JSON (callers word that with `parse_json`, which names the line).

    orjson refuses more than ORJSON_DEPTH levels, so `blob` is parsed inside ORJSON_DEPTH - MAX_DEPTH one-element
    arrays: orjson then refuses exactly what is nested too deeply, in the same pass as the parse (instead of a
    second pass over the bytes, `check_json_depth`). Parsed, every wrapper must hold just one value (else `blob`
    was not one JSON value, e.g. `1],[2`); on any refusal the plain parse and `check_json_depth` decide, so every
    answer, and every error, is theirs.
    """
    pad = orjson_pad()
    data: Any = NOT_READ
    if pad:
        try:
            data = unwrap(orjson.loads(b"".join((b"[" * pad, blob, b"]" * pad))), pad)
        except orjson.JSONDecodeError:
            data = NOT_READ
    if data is NOT_READ:
        data = orjson.loads(blob)
        check_json_depth(blob, source)
    return data
