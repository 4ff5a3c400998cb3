"""Node operations around a migration: batch-drain, batch-lock and batch-unlock.

Owns: the request bodies of these three writes and splitting batch-drain into calls of at most 10 nodes
(the documented limit). They are idempotent (draining a drained node or locking a locked one changes
nothing), so they are retried like reads: on 429, 5xx and transport errors, never on 401/403.
Must not: decide which nodes to drain or lock (that is `planner.apply`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from planner.errors import InputError
from planner.files import JsonObject
from planner.modelarts.base import ClientBase

DRAIN_BATCH = 10  # batch-drain takes at most 10 nodes per call (modelarts_api.md §12)
DEFAULT_LOCK_ACTIONS = ("delete",)


def _names(node_names: Iterable[str], operation: str) -> list[str]:
    names = list(dict.fromkeys(str(name) for name in node_names))
    if not names or not all(names):
        raise InputError(f"{operation} needs at least one node name", source="request", path="nodeNames")
    return names


class NodeOperations(ClientBase):
    """batch-drain / batch-lock / batch-unlock on one pool; each returns the answers as the API gave them."""

    def drain_nodes(self, pool_name: str, node_names: Iterable[str]) -> list[JsonObject]:
        """BatchDrainPoolNodes: the nodes stop taking work and their workloads are evicted; one call per 10."""
        names = _names(node_names, "batch-drain")
        path = self._v2("pools", pool_name, "nodes", "batch-drain")
        return [self._post_idempotent(path, {"nodeNames": names[start:start + DRAIN_BATCH]})
                for start in range(0, len(names), DRAIN_BATCH)]

    def lock_nodes(self, pool_name: str, node_names: Iterable[str],
                   actions: Sequence[str] = DEFAULT_LOCK_ACTIONS) -> JsonObject:
        """BatchLockPoolNodes: the nodes get the annotation `os.modelarts.node/lock.action`."""
        body = {"nodeNames": _names(node_names, "batch-lock"), "actions": list(actions)}
        return self._post_idempotent(self._v2("pools", pool_name, "nodes", "batch-lock"), body)

    def unlock_nodes(self, pool_name: str, node_names: Iterable[str],
                     actions: Sequence[str] = DEFAULT_LOCK_ACTIONS) -> JsonObject:
        """BatchUnlockPoolNodes: the inverse of `lock_nodes` for the same actions."""
        body = {"nodeNames": _names(node_names, "batch-unlock"), "actions": list(actions)}
        return self._post_idempotent(self._v2("pools", pool_name, "nodes", "batch-unlock"), body)
