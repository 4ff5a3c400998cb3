"""What the emulator's parts share: the API's label keys, readers of raw objects, and the error answer.

Owns: the emulator's own copy of the label and annotation keys it needs (it stands in for the cloud, so it
does not borrow the planner's reading of objects), small readers of raw JSON objects, `Refusal` (an error
answer: status, error_code, error_msg) and the refusals the service documents.
Must not: hold state or know about HTTP.
"""

from __future__ import annotations

from typing import Any

from planner.files import JsonObject

LABEL_CLUSTER = "os.modelarts.node/cluster"
LABEL_BATCH_TYPE = "os.modelarts.node/batch.type"
LABEL_BATCH_UID = "os.modelarts.node/batch.uid"
LABEL_BILLING = "os.modelarts/billing.status"
LABEL_CABINET = "os.modelarts.node/volcano.scheduler.cabinet-exclusive"
LABEL_WORKSPACE = "os.modelarts/workspace.id"
ANNOTATION_LOCK = "os.modelarts.node/lock.action"
DEFAULT_WORKSPACE = "0"
NON_ACCELERATOR_RESOURCES = frozenset({"cpu", "memory"})


class Refusal(Exception):
    """An error answer of the API: HTTP status, error_code and error_msg."""

    def __init__(self, status: int, error_code: str, error_msg: str) -> None:
        super().__init__(f"{status} {error_code}: {error_msg}")
        self.status = status
        self.error_code = error_code
        self.error_msg = error_msg


def bad_request(message: str) -> Refusal:
    """400 ModelArts.50004000, the service's generic bad-request answer, with the reason."""
    return Refusal(400, "ModelArts.50004000", f"Bad request. {message}")


def pool_not_found(name: str) -> Refusal:
    return Refusal(404, "ModelArts.50015001", f"Pool {name} not found.")


def node_not_found(pool: str, node: str) -> Refusal:
    """404 for a node not in the pool (the real code is not published; this one is made up)."""
    return Refusal(404, "ModelArts.50015002", f"Node {node} not found in pool {pool}.")


def dig(obj: Any, *keys: str) -> Any:
    """obj[k1][k2]...; None as soon as a level is not an object."""
    for key in keys:
        if not isinstance(obj, dict):
            return None
        obj = obj.get(key)
    return obj


def name_of(obj: JsonObject) -> str:
    return str(obj["metadata"]["name"])


def labels_of(obj: JsonObject) -> dict[str, Any]:
    labels = dig(obj, "metadata", "labels")
    return labels if isinstance(labels, dict) else {}


def annotations_of(obj: JsonObject) -> dict[str, Any]:
    annotations = dig(obj, "metadata", "annotations")
    return annotations if isinstance(annotations, dict) else {}


def workspace_of(pool: JsonObject) -> str:
    """A pool's workspace: label `os.modelarts/workspace.id`, "0" when absent."""
    return str(labels_of(pool).get(LABEL_WORKSPACE) or DEFAULT_WORKSPACE)


def accelerators(resources: Any) -> list[str]:
    """The accelerator keys of a node's `status.resources` (every key but cpu and memory)."""
    return sorted(k for k in resources if k not in NON_ACCELERATOR_RESOURCES) if isinstance(resources, dict) else []
