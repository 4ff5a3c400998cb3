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

from planner.modelarts.objects import PoolNames


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
        names = _pool_names(snapshot)
        base_key_of = {names.get(k) or k: k for k in pools_base}
        renamed = {base_key_of.get(names.get(k) or k, k): v for k, v in pools_over.items()}
        overlay = {**overlay, "pools": renamed}
    return deep_merge(base, overlay)


def _pool_names(snapshot: Mapping[str, Any]) -> PoolNames:
    """The snapshot's pool ids and display names, by the one rule every command uses (a display name two pools
    share names neither: the key is kept as written, and the planner's error names both pools)."""
    pools = snapshot.get("pools")
    return PoolNames.of_pools(pools if isinstance(pools, list) else [])
