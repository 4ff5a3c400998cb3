"""A scenario's spec overlay: deep-merged onto the base spec, pool keys matched by id or display name.

Mappings merge key by key, lists and scalars replace, `null` deletes the key. Keys under `pools` that name
the same pool as a key of the base spec (one by id, the other by display name, label `os.modelarts/name`)
merge into the base key.
Owns: that merge. Must not: validate the result (the planner reads the merged spec like any spec) or
mutate its inputs.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

LABEL_DISPLAY_NAME = "os.modelarts/name"


def _drop_nulls(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _drop_nulls(v) for k, v in value.items() if v is not None}
    return copy.deepcopy(value)


def deep_merge(base: Mapping[str, Any], overlay: Mapping[str, Any]) -> dict[str, Any]:
    """Mappings merge recursively, lists and scalars replace, `None` deletes the key."""
    out = copy.deepcopy(dict(base))
    for key, value in overlay.items():
        if value is None:
            out.pop(key, None)
        elif isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = _drop_nulls(value)
    return out


def merge_spec(base: Mapping[str, Any], overlay: Mapping[str, Any], snapshot: Mapping[str, Any]) -> dict[str, Any]:
    """`deep_merge`, with overlay pool keys renamed to the base key that names the same pool."""
    pools_over = overlay.get("pools")
    pools_base = base.get("pools")
    if isinstance(pools_over, Mapping) and isinstance(pools_base, Mapping):
        alias = _pool_aliases(snapshot)
        base_key_of = {alias.get(k, k): k for k in pools_base}
        renamed = {base_key_of.get(alias.get(k, k), k): v for k, v in pools_over.items()}
        overlay = {**overlay, "pools": renamed}
    return deep_merge(base, overlay)


def _pool_aliases(snapshot: Mapping[str, Any]) -> dict[str, str]:
    """Pool id and display name -> pool id."""
    alias: dict[str, str] = {}
    pools = snapshot.get("pools")
    for pool in pools if isinstance(pools, list) else []:
        meta = pool.get("metadata") if isinstance(pool, dict) else None
        if not isinstance(meta, dict) or not isinstance(meta.get("name"), str):
            continue
        labels = meta.get("labels")
        display = labels.get(LABEL_DISPLAY_NAME) if isinstance(labels, dict) else None
        if isinstance(display, str) and display:
            alias.setdefault(display, meta["name"])
        alias[meta["name"]] = meta["name"]
    return alias
