"""Reading input files and writing output files, with one-line errors that name the file.

Owns: reading a user's file (missing, a folder, unreadable, empty, not UTF-8, not JSON, not YAML, duplicate
YAML keys, wrong top-level type), canonical JSON text, and atomic writes (temp file in the same folder,
fsync, rename, folder fsync). Every module that reads or writes a user's file goes through here. Files are
private (0600) unless written as `shared` (a report meant for others: the user's umask decides, like any new file).
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

import yaml

from planner.errors import InputError

JsonObject = dict[str, Any]
"""A JSON object as parsed (the one alias every module uses for raw API objects and documents)."""


def read_bytes(path: str | Path, what: str = "input") -> bytes:
    """The file's bytes; missing, a folder, unreadable or empty is an InputError naming the file."""
    source = str(path)
    try:
        blob = Path(path).read_bytes()
    except FileNotFoundError:
        raise InputError("file not found", source=source) from None
    except IsADirectoryError:
        raise InputError(f"is a directory, not a {what} file", source=source) from None
    except OSError as exc:
        raise InputError(f"cannot read file ({exc.strerror or exc.__class__.__name__})", source=source) from None
    if not blob.strip():
        raise InputError("file is empty", source=source)
    return blob


def decode_text(blob: bytes, source: str) -> str:
    """UTF-8 text without NUL bytes, or an InputError naming the file."""
    try:
        text = blob.decode("utf-8")
    except UnicodeDecodeError:
        raise InputError("not a UTF-8 text file (binary data?)", source=source) from None
    if "\x00" in text:
        raise InputError("not a text file (contains NUL bytes)", source=source)
    return text


def read_text(path: str | Path, what: str = "input") -> str:
    """The file's UTF-8 text (see read_bytes and decode_text for the errors)."""
    return decode_text(read_bytes(path, what), str(path))


def parse_json(text: str, source: str) -> Any:
    """JSON data, or an InputError with the line and column of the problem."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})", source=source) \
            from None


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


def load_yaml_mapping(path: str | Path, what: str = "input") -> dict[str, Any]:
    """A YAML file whose top level must be a mapping; duplicate keys are rejected."""
    source = str(path)
    text = read_text(path, what)
    try:
        data = yaml.load(text, Loader=_UniqueKeyLoader)  # a SafeLoader subclass
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
        raise InputError(f"not valid YAML ({where}{exc.problem})", source=source) from None
    except yaml.YAMLError as exc:
        raise InputError(f"not valid YAML ({exc})", source=source) from None
    if not isinstance(data, dict):
        raise InputError(f"top level must be a mapping, not {type(data).__name__}", source=source)
    return data


def canonical_json(data: Any) -> str:
    """Sorted keys, two-space indentation, a trailing newline: the same data gives the same bytes."""
    return json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


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
        raise InputError(f"cannot write file ({exc.strerror or exc})", source=str(path)) from None
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
        raise InputError(f"cannot write file ({exc.strerror or exc})", source=str(path)) from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    with contextlib.suppress(OSError):
        dir_fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
