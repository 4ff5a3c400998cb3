"""Reading input files and writing output files, with one-line errors that name the file.

Owns: reading a user's file (missing, a folder, unreadable, empty, larger than the input limit, not UTF-8,
not JSON, not YAML, duplicate YAML keys, nested too deeply or, through YAML aliases, too large, wrong
top-level type), opening a state file without following a symlink (`open_nofollow`), and atomic writes (temp
file in the same folder, fsync, rename, folder fsync). Every module that reads or writes a user's file goes
through here. Files are private (0600) unless written as `shared` (a report meant for others: the user's umask
decides, like any new file). Canonical JSON text is `planner.jsontext`'s (imported here too, where every writer
has found it).

Hostile input is bad input (exit 2), never a crash: a file above `max_input_bytes()` (default 256 MiB,
`POOLSHIFT_MAX_INPUT_BYTES` to change it; an indented 100,000-node snapshot is about 91 MB) is refused before
it is read; data nested deeper than `MAX_DEPTH` levels (a JSON file 2,000 arrays deep, YAML 500 deep) is
refused instead of exhausting the interpreter's recursion limit; YAML whose aliases expand to more than
`MAX_YAML_VALUES` values is refused instead of being walked. YAML is parsed by libyaml when PyYAML has it, and
by PyYAML's own parser whenever libyaml finds a problem, so every refusal keeps the pure parser's words.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import stat
import tempfile
from pathlib import Path
from typing import Any

import orjson
import yaml

from planner.errors import InputError
from planner.jsondepth import MAX_DEPTH, NOT_READ, load_json_bytes, orjson_pad, too_deep, unwrap
from planner.jsondepth import check_depth as check_depth
from planner.jsondepth import check_json_depth as check_json_depth
from planner.jsontext import canonical_json as canonical_json
from planner.jsontext import compact_json as compact_json

JsonObject = dict[str, Any]
"""A JSON object as parsed (the one alias every module uses for raw API objects and documents)."""

ENV_MAX_INPUT_BYTES = "POOLSHIFT_MAX_INPUT_BYTES"
DEFAULT_MAX_INPUT_BYTES = 256 * 1024 * 1024
MAX_YAML_VALUES = 5_000_000  # values a YAML document may expand to through its aliases (MAX_DEPTH: planner.jsondepth)


def max_input_bytes() -> int:
    """The input size limit: `POOLSHIFT_MAX_INPUT_BYTES` (a positive integer), else 256 MiB."""
    text = os.environ.get(ENV_MAX_INPUT_BYTES, "").strip()
    if not text:
        return DEFAULT_MAX_INPUT_BYTES
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise InputError(f"must be a positive number of bytes, not {text!r}", source="environment",
                         path=ENV_MAX_INPUT_BYTES)
    return value


def _too_large(size: int, limit: int) -> str:
    return (f"file is larger than the input limit of {limit} bytes ({size} bytes or more); set "
            f"{ENV_MAX_INPUT_BYTES} to raise it")


def read_bytes(path: str | Path, what: str = "input") -> bytes:
    """The file's bytes; missing, a folder, unreadable, empty or above the input limit is an InputError naming
    the file. The size is checked before reading, and the read stops one byte past the limit (a pipe or a
    device has no size to check)."""
    source = str(path)
    limit = max_input_bytes()
    try:
        with open(path, "rb") as fh:
            size = os.fstat(fh.fileno()).st_size
            if size > limit:
                raise InputError(_too_large(size, limit), source=source)
            blob = fh.read(limit + 1)
    except FileNotFoundError as exc:
        raise InputError("file not found", source=source) from exc
    except IsADirectoryError as exc:
        raise InputError(f"is a directory, not a {what} file", source=source) from exc
    except OSError as exc:
        raise InputError(f"cannot read file ({exc.strerror or exc.__class__.__name__})", source=source) from exc
    if len(blob) > limit:
        raise InputError(_too_large(len(blob), limit), source=source)
    if not blob.strip():
        raise InputError("file is empty", source=source)
    return blob


def open_nofollow(path: Path, flags: int, mode: int = 0o600, *, what: str = "file") -> int:
    """`os.open(path, flags | O_NOFOLLOW)`: a symlink planted at `path` is refused (InputError naming it), never
    followed, so its target is never truncated or appended to; any other failure is an InputError too."""
    try:
        fd = os.open(path, flags | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0), mode)
    except OSError as exc:
        if exc.errno == errno.ELOOP or (exc.errno == errno.EEXIST and path.is_symlink()):
            raise InputError(f"the {what} is a symbolic link; refusing to follow it (remove the link)",
                             source=str(path)) from exc
        raise InputError(f"cannot open the {what} ({exc.strerror or exc})", source=str(path)) from exc
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise InputError(f"the {what} is not a regular file", source=str(path))
    return fd


def refuse_symlink(path: Path, what: str = "file") -> None:
    """An InputError when `path` is a symbolic link (for files replaced by rename, which never follows one)."""
    if path.is_symlink():
        raise InputError(f"the {what} is a symbolic link; refusing to write through it (remove the link)",
                         source=str(path))


def read_text_nofollow(path: Path, what: str = "file") -> str | None:
    """The UTF-8 text (undecodable bytes replaced) of a state file, None when it does not exist; a symlink, a
    file above the input limit or an unreadable file is an InputError naming it."""
    try:
        fd = open_nofollow(path, os.O_RDONLY, what=what)
    except InputError:
        if not path.exists() and not path.is_symlink():
            return None
        raise
    limit = max_input_bytes()
    with os.fdopen(fd, "rb") as fh:
        blob = fh.read(limit + 1)
    if len(blob) > limit:
        raise InputError(_too_large(len(blob), limit), source=str(path))
    return blob.decode("utf-8", errors="replace")


def read_json_file(path: str | Path, what: str = "input") -> Any:
    """The JSON data of a file: `read_bytes`'s refusals, then `load_json_bytes`'s (nested too deeply), then, for text
    that is not JSON, the standard parser's words with the line and column (`parse_json`).

    A regular file within the input limit is read straight into its wrapping of `load_json_bytes` (one read, no copy
    of 90 MB); anything unusual or wrong takes the plain path, which decides and words it.
    """
    source = str(path)
    data = _read_json_wrapped(path)
    if data is not NOT_READ:
        return data
    blob = read_bytes(path, what)
    try:
        return load_json_bytes(blob, source)
    except orjson.JSONDecodeError:  # orjson is fast but terse: the standard parser names the line and column
        return parse_json(decode_text(blob, source), source)


def _read_json_wrapped(path: str | Path) -> Any:
    """The data of a regular, non-empty file within the input limit, read into a buffer that already holds the
    one-element arrays `load_json_bytes` wraps text in; NOT_READ for anything else (or if the file changed size)."""
    pad = orjson_pad()
    if not pad:
        return NOT_READ
    limit = max_input_bytes()
    try:
        with open(path, "rb", buffering=0) as fh:
            info = os.fstat(fh.fileno())
            size = info.st_size
            if not stat.S_ISREG(info.st_mode) or not 0 < size <= limit:
                return NOT_READ
            buf = bytearray(size + 2 * pad + 1)  # one byte more: to see that the file grew
            got = 0
            with memoryview(buf) as view:
                while got <= size:
                    n = fh.readinto(view[pad + got:pad + size + 1])
                    if not n:
                        break
                    got += n
    except OSError:
        return NOT_READ
    if got != size:
        return NOT_READ
    del buf[pad + size:]
    buf[:pad] = b"[" * pad
    buf += b"]" * pad
    try:
        return unwrap(orjson.loads(buf), pad)
    except orjson.JSONDecodeError:
        return NOT_READ


def check_shape(data: Any, source: str) -> None:
    """An InputError naming the file when `data` nests deeper than MAX_DEPTH levels, refers to itself (a recursive
    YAML alias), or expands to more than MAX_YAML_VALUES values through shared (aliased) parts. Walked without
    recursion, each shared value once, so a "billion laughs" document is measured, never expanded."""
    measured: dict[int, tuple[int, int]] = {}  # id -> (height, values)
    open_ids: set[int] = set()
    stack: list[Any] = [data]
    while stack:
        value = stack[-1]
        key = id(value)
        if key in measured or not isinstance(value, (dict, list)):
            stack.pop()
            continue
        children = [c for c in (value.values() if isinstance(value, dict) else value) if isinstance(c, (dict, list))]
        if key not in open_ids:
            open_ids.add(key)
            for child in children:
                if id(child) in open_ids and id(child) not in measured:
                    raise InputError("refers to itself (a recursive YAML alias); refusing it", source=source)
                stack.append(child)
            if len(open_ids) - len(measured) > MAX_DEPTH:  # the open values are the path from the top
                raise too_deep(source)
            continue
        stack.pop()
        height = 1 + max((measured[id(c)][0] for c in children), default=0)
        values = 1 + len(value) + sum(measured[id(c)][1] for c in children)
        if height > MAX_DEPTH:
            raise too_deep(source)
        if values > MAX_YAML_VALUES:
            raise InputError(f"expands to more than {MAX_YAML_VALUES} values (through YAML aliases?); refusing it",
                             source=source)
        measured[key] = (height, values)


def decode_text(blob: bytes, source: str) -> str:
    """UTF-8 text without NUL bytes, or an InputError naming the file."""
    try:
        text = blob.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError("not a UTF-8 text file (binary data?)", source=source) from exc
    if "\x00" in text:
        raise InputError("not a text file (contains NUL bytes)", source=source)
    return text


def read_text(path: str | Path, what: str = "input") -> str:
    """The file's UTF-8 text (see read_bytes and decode_text for the errors)."""
    return decode_text(read_bytes(path, what), str(path))


def parse_json(text: str, source: str) -> Any:
    """JSON data, or an InputError with the line and column of the problem (or saying it nests too deeply)."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})", source=source) \
            from exc
    except RecursionError:
        raise too_deep(source) from None  # a RecursionError's traceback is a thousand frames of noise
    check_depth(data, source)
    return data


def load_json_mapping(path: str | Path, what: str = "input") -> dict[str, Any]:
    """A JSON file whose top level must be an object."""
    data = parse_json(read_text(path, what), str(path))
    if not isinstance(data, dict):
        raise InputError(f"top level must be a JSON object, not {type(data).__name__}", source=str(path))
    return data


class _UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader that rejects duplicate mapping keys instead of silently keeping the last one."""


def _construct_unique_mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode, deep: bool = False) -> Any:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if isinstance(key, (str, int, float, bool)) and key in seen:
            mark = key_node.start_mark
            raise yaml.constructor.ConstructorError(None, None, f"duplicate key {key!r} (line {mark.line + 1})", mark)
        seen.add(key)
    return loader.construct_mapping(node, deep=deep)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_unique_mapping)


class _FastUniqueKeyLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """The same loader on libyaml's parser when PyYAML has it (ten times faster on a 1,000-pool spec)."""


_FastUniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_unique_mapping)


def _load_yaml(text: str) -> Any:
    """The YAML data of `text`: parsed by libyaml; on any problem, by PyYAML's own parser again, so that every
    refusal (its words, the line and column, a recursion) is exactly the pure loader's."""
    try:
        return yaml.load(text, Loader=_FastUniqueKeyLoader)
    except Exception:  # noqa: BLE001  (whatever went wrong, the pure loader decides and words it)
        return yaml.load(text, Loader=_UniqueKeyLoader)  # a SafeLoader subclass


def load_yaml_mapping(path: str | Path, what: str = "input") -> dict[str, Any]:
    """A YAML file whose top level must be a mapping; duplicate keys are rejected."""
    source = str(path)
    text = read_text(path, what)
    try:
        data = _load_yaml(text)
    except RecursionError:
        raise too_deep(source) from None  # a RecursionError's traceback is a thousand frames of noise
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
        raise InputError(f"not valid YAML ({where}{exc.problem})", source=source) from exc
    except yaml.YAMLError as exc:
        raise InputError(f"not valid YAML ({exc})", source=source) from exc
    if not isinstance(data, dict):
        raise InputError(f"top level must be a mapping, not {type(data).__name__}", source=source)
    check_shape(data, source)
    return data


def current_umask() -> int:
    """The process's umask (read from /proc where it can be, so the umask is never changed, even briefly)."""
    try:
        for line in Path("/proc/self/status").read_text(encoding="ascii").splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o077)
    os.umask(mask)
    return mask


def write_atomic(path: str | Path, text: str, *, shared: bool = False) -> None:
    """Write `text` so that a reader sees the old file or the whole new one, never a part of it.

    The file is private (0600: plans, snapshots, journals); with `shared` (reports meant for others) its mode is
    0666 less the user's umask, as for any file the user creates.
    """
    target = Path(path)
    folder = target.parent if str(target.parent) else Path(".")
    if not folder.is_dir():
        raise InputError("folder does not exist", source=str(path))
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=folder)
    except OSError as exc:
        raise InputError(f"cannot write file ({exc.strerror or exc})", source=str(path)) from exc
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            if shared:
                os.fchmod(fh.fileno(), 0o666 & ~current_umask())
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise InputError(f"cannot write file ({exc.strerror or exc})", source=str(path)) from exc
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    with contextlib.suppress(OSError):
        dir_fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
