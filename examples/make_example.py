"""Writes examples/inventory.json: a small but realistic ModelArts inventory (raw API objects).

Nodes carry what ListPoolNodes shows (`status.privateIp`, `status.resources`, `status.availableResources`,
`spec.hostNetwork.subnet`); `workloads` holds what ListWorkloads shows as Running in each pool: a training
job on the Ascend super node, an inference service and a notebook, plus one GPU node whose accelerators are
half taken by something the workload list does not show.

Run from the repository root: `python examples/make_example.py`. The output is committed; the script
documents how it was made and keeps it reproducible.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

PROJECT = "0a1b2c3d4e5f60718293a4b5c6d7e8f9"
EAST, WEST = "lite-cluster-east-7f3a", "lite-cluster-west-19c2"

FLAVORS = {
    "v100": "modelarts.vm.gpu.8xv100",
    "snt9": "modelarts.bm.npu.arm.8snt9b3.d",
    "cpu": "modelarts.vm.cpu.8u32g",
    "cpud": "modelarts.vm.cpu.8u32g.d",
}
# status.resources per flavor (strings, as the API gives them); an idle node has all of it available.
RESOURCES = {
    "v100": {"cpu": "62", "memory": "470Gi", "nvidia.com/gpu": "8"},
    "snt9": {"cpu": "188", "memory": "1500Gi", "huawei.com/ascend-snt9": "8"},
    "cpu": {"cpu": "7600m", "memory": "28Gi"},
    "cpud": {"cpu": "7600m", "memory": "28Gi"},
}


def pool(pid: str, display: str, resources: list[tuple[str, int | None]], network: dict[str, str],
         cluster: str, phase: str = "Running", ptype: str = "Dedicate") -> dict[str, Any]:
    return {
        "apiVersion": "v2", "kind": "Pool",
        "metadata": {"name": pid, "creationTimestamp": "2026-09-01T08:00:00Z",
                     "labels": {"os.modelarts/name": display, "os.modelarts/workspace.id": "0"},
                     "annotations": {"os.modelarts/billing.mode": "0"}},
        "spec": {"type": ptype, "scope": ["Train", "Infer"],
                 "resources": [{"flavor": FLAVORS[f], "count": 0, **({"maxCount": m} if m else {})}
                               for f, m in resources],
                 "network": network},
        "status": {"phase": phase, "clusters": {"name": cluster},
                   "resources": {"available": [{"flavor": FLAVORS[f], "count": 0} for f, _ in resources]}},
    }


counter = 0


def node(flavor: str, cluster: str, subnet: str, *, phase: str = "Available", labels: dict[str, str] | None = None,
         annotations: dict[str, str] | None = None) -> dict[str, Any]:
    global counter
    counter += 1
    name = f"os-node-created-{counter:03d}{'abcdefghjk'[counter % 10]}{'mnpqrstvwx'[counter * 7 % 10]}"
    return {
        "apiVersion": "v2", "kind": "Node",
        "metadata": {"name": name, "creationTimestamp": "2026-09-02T08:00:00Z",
                     "labels": {"os.modelarts.node/cluster": cluster, **(labels or {})},
                     "annotations": annotations or {}},
        "spec": {"flavor": FLAVORS[flavor], "hostNetwork": {"vpc": "vpc-5e1d", "subnet": subnet}},
        "status": {"phase": phase, "az": "cn-north-4a", "privateIp": f"192.168.{counter // 200}.{counter % 200 + 10}",
                   "resources": dict(RESOURCES[flavor]), "availableResources": dict(RESOURCES[flavor])},
    }


def occupy(node_obj: dict[str, Any], left: dict[str, str]) -> None:
    """Mark accelerators of a node as in use: `left` is what stays available of each resource."""
    node_obj["status"]["availableResources"].update(left)


def workload(kind: str, name: str, priority: str, days: float, nodes: list[dict[str, Any]], flavor: str,
             uid: str) -> dict[str, Any]:
    """A Running workload as ListWorkloads gives it (SDK `Workload`)."""
    ips = [n["status"]["privateIp"] for n in nodes]
    return {
        "apiVersion": "v1", "kind": "Workload", "type": kind, "namespace": "default", "name": name,
        "jobName": name, "uid": uid, "jobUUID": uid, "flavor": FLAVORS[flavor], "status": "Running",
        "userName": "ml-team", "priority": priority, "runningDuration": int(days * 86400),
        "createTime": 1795000000000, "hostIps": ",".join(ips),
        "nodes": [{"hostIp": ip, "resourceRequirement": dict(RESOURCES[flavor])} for ip in ips],
    }


def add_workloads(nodes: dict[str, list[dict[str, Any]]]) -> dict[str, list[dict[str, Any]]]:
    """A training job on the super node, an inference service, a notebook; one GPU node half taken."""
    ascend = nodes["pool-e6b91a07-ascend-a"][:4]  # the super node spod-41c2
    infer = nodes["pool-8c2b6f10-infer-a"][:1]
    notebook = nodes["pool-3f9a21c8-train-a"][:1]
    for n in ascend:
        occupy(n, {"huawei.com/ascend-snt9": "0"})
    for n in notebook:
        occupy(n, {"nvidia.com/gpu": "0"})
    occupy(nodes["pool-51d07e44-train-b"][1], {"nvidia.com/gpu": "4"})  # held by something ListWorkloads does not show
    found: dict[str, list[dict[str, Any]]] = {pool: [] for pool in nodes}
    found["pool-e6b91a07-ascend-a"].append(
        workload("train", "llm-pretrain-70b", "3", 4.5, ascend, "snt9", "5b0c1f7e-1d2a-4b8e-9a41-0c3e2f6d7a11"))
    found["pool-8c2b6f10-infer-a"].append(
        workload("infer", "chat-assistant-svc", "2", 12, infer, "cpu", "9e4d2c1b-7a3f-4e5d-8b6c-1a2b3c4d5e6f"))
    found["pool-3f9a21c8-train-a"].append(
        workload("notebook", "nb-feature-exploration", "1", 0.3, notebook, "v100",
                 "c3a1e5f7-2b4d-4c6e-9f81-3d5b7a9c1e02"))
    return found


def main() -> None:
    east_net = {"name": "network-east-2c41"}
    pools = [
        pool("pool-3f9a21c8-train-a", "train-a", [("v100", 12)], east_net, EAST),
        pool("pool-51d07e44-train-b", "train-b", [("v100", None)], east_net, EAST),
        pool("pool-8c2b6f10-infer-a", "infer-a", [("cpu", None), ("cpud", None)], east_net, EAST),
        pool("pool-a4e3902d-batch", "batch", [("cpu", None), ("v100", None)], east_net, EAST),
        pool("pool-c71f5e93-infer-b", "infer-b", [("cpud", 5)],
             {"name": "network-west-88d0", "subnetId": "subnet-west-a-0d17"}, WEST),
        pool("pool-d2a8b6c4-dev", "dev", [("cpu", None), ("cpud", None)],
             {"name": "network-west-88d0", "subnetId": "subnet-west-a-0d17"}, WEST),
        pool("pool-e6b91a07-ascend-a", "ascend-a", [("snt9", None)],
             {"name": "network-west-88d0", "subnetId": "subnet-west-b-6e52"}, WEST),
        pool("pool-f0c4d8e2-ascend-b", "ascend-b", [("snt9", None)],
             {"name": "network-west-88d0", "subnetId": "subnet-west-b-6e52"}, WEST),
        pool("pool-0b7e3c5a-legacy", "legacy", [("cpu", None)], east_net, EAST, phase="Abnormal"),
    ]
    se, swa, swb = "subnet-east-4b7c", "subnet-west-a-0d17", "subnet-west-b-6e52"
    nodes: dict[str, list[dict[str, Any]]] = {
        "pool-3f9a21c8-train-a": [node("v100", EAST, se) for _ in range(9)]
        + [node("v100", EAST, se, annotations={"os.modelarts.node/lock.action": "delete"})],
        "pool-51d07e44-train-b": [node("v100", EAST, se) for _ in range(3)],
        "pool-8c2b6f10-infer-a": [node("cpu", EAST, se) for _ in range(6)]
        + [node("cpud", EAST, se, phase="Abnormal")],
        "pool-a4e3902d-batch": [node("cpu", EAST, se) for _ in range(3)]
        + [node("cpu", EAST, se, labels={"os.modelarts/billing.status": "1"})]
        + [node("v100", EAST, se, labels={"os.modelarts.node/volcano.scheduler.cabinet-exclusive": "job-7731"})],
        "pool-c71f5e93-infer-b": [node("cpud", WEST, swa) for _ in range(2)],
        "pool-d2a8b6c4-dev": [node("cpu", WEST, swa) for _ in range(2)],
        "pool-e6b91a07-ascend-a": [
            node("snt9", WEST, swb, labels={"os.modelarts.node/batch.type": "hyperinstance",
                                            "os.modelarts.node/batch.uid": "spod-41c2",
                                            "os.modelarts.node/batch.count": "4"}) for _ in range(4)
        ] + [node("snt9", WEST, swb) for _ in range(4)],
        "pool-f0c4d8e2-ascend-b": [node("snt9", WEST, swb) for _ in range(2)],
        "pool-0b7e3c5a-legacy": [node("cpu", EAST, se, phase="Abnormal") for _ in range(2)],
    }
    snapshot = {
        "format": "poolshift.inventory/v1",
        "project_id": PROJECT,
        "region": "cn-north-4",
        "workspace_id": "0",
        "captured_at": "2026-11-28T00:00:00Z",
        "pools": pools,
        "nodes": nodes,
        "workloads": add_workloads(nodes),
        "networks": [
            {"name": "network-east-2c41", "subnets": [
                {"networkId": se, "cidr": "192.168.0.0/24", "totalIps": 251, "usedIps": 236}]},
            {"name": "network-west-88d0", "subnets": [
                {"networkId": swa, "cidr": "192.168.16.0/24", "totalIps": 251, "usedIps": 247},
                {"networkId": swb, "cidr": "192.168.32.0/24", "totalIps": 251, "usedIps": 120}]},
        ],
    }
    out = Path(__file__).with_name("inventory.json")
    out.write_text(json.dumps(snapshot, indent=2, sort_keys=True) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
