"""Shared request bodies and the table of batch-migrate refusals, run against the state machine and over HTTP."""

from __future__ import annotations

from typing import Any

import pytest

CPU, CPUD, NPU = "modelarts.vm.cpu.8u", "modelarts.vm.cpu.8u.d", "modelarts.bm.npu.arm.8snt9b3.d"
HYPER = [f"hyper-{i}" for i in range(1, 5)]


def body(nodes: list[str], *, to: str = "pool-dst", flavor: str = CPUD, src_cluster: str = "pool-src",
         dst_cluster: str | None = None, **extra: Any) -> dict[str, Any]:
    """A batch-migrate body for the sample snapshot (default: pool-src -> pool-dst as cpu.8u.d)."""
    spec: dict[str, Any] = {"flavor": flavor, **extra}
    return {"migrateNodeNames": nodes, "fromClusterName": src_cluster, "toClusterName": dst_cluster or to,
            "toPoolName": to, "resourceSpec": spec}


def lite(nodes: list[str], *, dst_cluster: str = "lite-cluster-2", **extra: Any) -> dict[str, Any]:
    """pool-lite-a (lite-cluster-1) -> pool-lite-b (lite-cluster-2)."""
    return body(nodes, to="pool-lite-b", flavor=NPU, src_cluster="lite-cluster-1", dst_cluster=dst_cluster, **extra)


def without(request: dict[str, Any], key: str) -> dict[str, Any]:
    return {k: v for k, v in request.items() if k != key}


# (source pool, body, HTTP status, fragment of error_msg): one per refusal the service makes
REFUSALS = [
    pytest.param("pool-nope", body(["src-1"]), 404, "Pool pool-nope not found", id="unknown-source-pool"),
    pytest.param("pool-src", body(["src-1"], to="pool-nope"), 404, "Pool pool-nope not found",
                 id="unknown-target-pool"),
    pytest.param("pool-src", ["src-1"], 400, "must be a JSON object", id="body-not-object"),
    pytest.param("pool-src", {**body(["src-1"]), "extra": 1}, 400, "unknown field(s): extra", id="unknown-field"),
    pytest.param("pool-src", body([]), 400, "non-empty list", id="no-nodes"),
    pytest.param("pool-src", body(["src-1", "src-1"]), 400, "twice", id="node-twice"),
    pytest.param("pool-src", without(body(["src-1"]), "toClusterName"), 400, "toClusterName is required",
                 id="no-to-cluster"),
    pytest.param("pool-src", without(body(["src-1"]), "resourceSpec"), 400, "resourceSpec.flavor", id="no-flavor"),
    pytest.param("pool-src", body(["src-1"], creatingStep={"step": 0}), 400, "creatingStep must be",
                 id="bad-creating-step"),
    pytest.param("pool-src", body(["src-1"], to="pool-src"), 400, "must differ", id="same-pool"),
    pytest.param("pool-src", body(["ghost"]), 400, "node ghost not found", id="unknown-node"),
    pytest.param("pool-src", body(["dst-1"]), 400, "node dst-1 is not in pool pool-src (it is in pool pool-dst)",
                 id="node-elsewhere"),
    pytest.param("pool-src", body(["src-creating"]), 400, "phase is Creating", id="not-available"),
    pytest.param("pool-src", body(["src-locked"]), 400, "locked", id="locked"),
    pytest.param("pool-src", body(["src-frozen"]), 400, "billing status is 1", id="billing-frozen"),
    pytest.param("pool-src", body(["src-cabinet"]), 400, "cabinet-exclusive", id="cabinet-exclusive"),
    pytest.param("pool-dst", body(["dst-1"], to="pool-src", src_cluster="pool-dst", flavor=CPU), 400,
                 "would keep 1 node(s)", id="source-below-two"),
    pytest.param("pool-src", body(["src-1"], to="pool-lite-b", dst_cluster="lite-cluster-2", flavor=CPU), 400,
                 "does not accept flavor", id="flavor-not-accepted"),
    pytest.param("pool-src", body(["src-1"], src_cluster="pool-x"), 400, "fromClusterName pool-x does not match",
                 id="wrong-from-cluster"),
    pytest.param("pool-src", body(["src-1"], dst_cluster="pool-src"), 400, "toClusterName pool-src does not match",
                 id="wrong-to-cluster"),
    pytest.param("pool-lite-a", lite(["lite-a-1"], dst_cluster="pool-lite-b"), 400,
                 "toClusterName pool-lite-b does not match", id="wrong-to-cluster-lite"),
    pytest.param("pool-src", body(["src-1"], to="pool-gpu", flavor=CPU), 400, "has 0 free IP address(es); 1 needed",
                 id="subnet-full"),
    pytest.param("pool-src", body(["src-1"], to="pool-wide", flavor=CPU), 400,
                 "cannot tell the subnet of pool pool-wide", id="subnet-ambiguous"),
    pytest.param("pool-lite-a", lite(HYPER[:2], creatingStep={"step": 2, "type": "hyperinstance"}), 400,
                 "must move whole: hyper-3, hyper-4 missing", id="super-node-split"),
    pytest.param("pool-lite-a", lite(HYPER), 400, "needs resourceSpec.creatingStep", id="super-node-no-step"),
    pytest.param("pool-lite-a", lite(HYPER, creatingStep={"step": 8, "type": "hyperinstance"}), 400,
                 "step is 8 but super node spod-1 has 4", id="super-node-wrong-step"),
]


def in_process(snapshot: dict[str, Any] | None = None, *, shape: str = "full", drain_seconds: float = 0.0,
               clock: Any = None, **faults: Any) -> tuple[Any, Any]:
    """(client, state): a ModelArtsClient served by the emulator in-process (no socket, no auth, no sleeps)."""
    import httpx

    from planner.modelarts.client import ModelArtsClient
    from planner.modelarts.emulator.api import EmulatorApi
    from planner.modelarts.emulator.state import EmulatorState, Faults
    from planner.modelarts.emulator.transport import EmulatorTransport
    from tests.emulator_server import sample_snapshot

    state = EmulatorState(snapshot if snapshot is not None else sample_snapshot(), shape=shape,
                          drain_seconds=drain_seconds, clock=clock, faults=Faults.model_validate(faults))
    http = httpx.Client(transport=EmulatorTransport(EmulatorApi(state), sleep=lambda _: None),
                        base_url="http://127.0.0.1:1", headers={"Content-Type": "application/json"})
    return ModelArtsClient(http, state.project_id, sleep=lambda _: None), state
