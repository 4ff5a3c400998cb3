"""The emulator's state machine: pools, nodes, subnets and migration jobs, with the service's rules.

Owns: the inventory seeded from a `poolshift.inventory/v1` snapshot, the checks a batch-migrate request
must pass (the real service's refusals, modelarts_api.md §5 and PRODUCT §2), the asynchronous jobs that
carry nodes from pool to pool on a controllable clock, IP accounting, and the fault settings.
Must not: know about HTTP, web frameworks or authentication (that is `emulator.api`), or reuse the
planner's own rules: it stands in for the cloud, so it re-implements them from the contract.
"""

from __future__ import annotations

import base64
import copy
import json
import random
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from planner.files import JsonObject
from planner.inventory import build_inventory

LABEL_CLUSTER = "os.modelarts.node/cluster"
LABEL_BATCH_TYPE = "os.modelarts.node/batch.type"
LABEL_BATCH_UID = "os.modelarts.node/batch.uid"
LABEL_BILLING = "os.modelarts/billing.status"
LABEL_CABINET = "os.modelarts.node/volcano.scheduler.cabinet-exclusive"
ANNOTATION_LOCK = "os.modelarts.node/lock.action"

MIGRATE_JOB_TYPE = "migrate-nodes"  # made up: the real type of migration jobs is not published
MAX_PAGE = 500
MIN_NODES_LEFT = 2
_BODY_KEYS = frozenset({"migrateNodeNames", "fromClusterName", "toClusterName", "toPoolName", "resourceSpec"})
_POOL_CREATING = frozenset({"Creating", "Waiting"})
_POOL_FAILED = frozenset({"CreationFailed"})
_THIRTY_DAYS_MS = 30 * 24 * 3600 * 1000


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


class Faults(BaseModel):
    """Fault injection settings; `POST /_emulator/faults` updates any subset of them."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    rate_429: float = Field(0.0, ge=0.0, le=1.0, description="share of API requests answered 429 (seeded)")
    rate_5xx: float = Field(0.0, ge=0.0, le=1.0, description="share of API requests answered 500 (seeded)")
    latency: float = Field(0.0, ge=0.0, le=60.0, description="seconds added before every API answer")
    next_errors: list[Annotated[int, Field(ge=400, le=599)]] = Field(
        default_factory=list, description="statuses answered to the next API requests, in order")
    fail_jobs: int = Field(0, ge=0, description="the next N accepted migrations end Failed")
    fail_nodes: list[str] = Field(default_factory=list,
                                  description="a migration that includes one of these nodes ends Failed")
    drop_after_accept: int = Field(0, ge=0, description="the next N accepted migrations are recorded, "
                                                        "then the connection is dropped without an answer")
    ignore_paging: bool = Field(False, description="ListPoolNodes ignores limit/continue and returns all")
    hide_get_job: bool = Field(False, description="GET /jobs/{id} answers 404 APIGW.0101 (unpublished)")


@dataclass
class _Job:
    """One batch-migrate job; nodes travel at acceptance and settle (or return) when it ends."""

    job_id: str
    seq: int
    source: str
    target: str
    body: JsonObject
    nodes: list[str]
    originals: list[JsonObject]
    source_subnet: str | None
    target_subnet: str | None
    started: float
    due: float
    fail: bool
    phase: str = "Running"
    ended: float | None = None
    message: str = ""

    def to_api(self) -> JsonObject:
        """The PoolJob shape of ListJobs (modelarts_api.md §6), with JSON text where the SDK types str."""
        return {
            "jobId": self.job_id,
            "jobName": "batch-migrate-nodes",
            "type": MIGRATE_JOB_TYPE,
            "phase": self.phase,
            "suspend": False,
            "startTimestamp": int(self.started * 1000),
            "endTimestamp": int(self.ended * 1000) if self.ended is not None else 0,
            "involvedObjects": json.dumps({"kind": "Pool", "name": self.source}, separators=(",", ":")),
            "inputs": json.dumps(self.body, separators=(",", ":"), ensure_ascii=False),
            "conditions": "[]",
            "message": self.message,
        }


def _name(obj: JsonObject) -> str:
    return str(obj["metadata"]["name"])


def _labels(obj: JsonObject) -> dict[str, Any]:
    labels = obj.get("metadata", {}).get("labels")
    return labels if isinstance(labels, dict) else {}


def _annotations(obj: JsonObject) -> dict[str, Any]:
    annotations = obj.get("metadata", {}).get("annotations")
    return annotations if isinstance(annotations, dict) else {}


def _dig(obj: Any, *keys: str) -> Any:
    for key in keys:
        if not isinstance(obj, dict):
            return None
        obj = obj.get(key)
    return obj


def _encode_token(pool: str, offset: int) -> str:
    return base64.urlsafe_b64encode(f"{pool}\n{offset}".encode()).decode("ascii").rstrip("=")


def _decode_token(pool: str, token: str) -> int:
    try:
        text = base64.b64decode(token + "=" * (-len(token) % 4), altchars=b"-_", validate=True).decode()
        token_pool, offset = text.split("\n")
        if token_pool != pool or not offset.isdigit():
            raise ValueError(token)
        return int(offset)
    except (ValueError, UnicodeDecodeError):
        raise bad_request("invalid continue token") from None


class EmulatorState:
    """Pools, nodes, subnets and jobs seeded from a snapshot; every public method is one API operation.

    Time comes from `clock` (epoch seconds, default `time.time`) plus whatever `advance()` added, so tests
    can run jobs without sleeping. Jobs move forward whenever the state is read or written.
    """

    def __init__(self, snapshot: JsonObject, *, job_seconds: float = 0.0, clock: Callable[[], float] | None = None,
                 seed: int = 0, faults: Faults | None = None, source: str = "<snapshot>") -> None:
        build_inventory(snapshot, source=source)  # InputError with file and JSON path when malformed
        if job_seconds < 0:
            raise ValueError("job_seconds must not be negative")
        self.project_id: str = snapshot["project_id"]
        self.region: str = snapshot.get("region") or ""
        self.job_seconds = job_seconds
        self.faults = faults or Faults()
        self.lock = threading.RLock()
        self._clock = clock or time.time
        self._offset = 0.0
        self._ids = random.Random(seed)
        self._pools: dict[str, JsonObject] = {_name(p): copy.deepcopy(p) for p in snapshot["pools"]}
        self._nodes: dict[str, dict[str, JsonObject]] = {name: {} for name in self._pools}
        for pool, items in snapshot["nodes"].items():
            for node in sorted(items, key=_name):
                self._nodes[pool][_name(node)] = copy.deepcopy(node)
        self._networks: dict[str, JsonObject] = {
            net["name"]: copy.deepcopy(net) for net in snapshot.get("networks") or []}
        self._subnets: dict[str, JsonObject] = {
            sub["networkId"]: sub for net in self._networks.values() for sub in net["subnets"]}
        self._jobs: dict[str, _Job] = {}
        self.migrate_requests: list[JsonObject] = []

    # -- time ----------------------------------------------------------------------------------------------

    def now(self) -> float:
        """Emulator time in epoch seconds."""
        return self._clock() + self._offset

    def advance(self, seconds: float) -> None:
        """Move emulator time forward (jobs that fall due finish)."""
        if seconds < 0:
            raise ValueError("time only moves forward")
        with self.lock:
            self._offset += seconds
            self._tick()

    def _tick(self) -> None:
        now = self.now()
        for job in sorted(self._jobs.values(), key=lambda j: (j.due, j.seq)):
            if job.phase == "Running" and job.due <= now:
                self._finish(job)

    # -- pools and nodes -----------------------------------------------------------------------------------

    def list_pools(self, *, status: str | None = None, label_selector: str | None = None) -> JsonObject:
        """ListPools: `status` is created | creating | failed; empty means creating + created."""
        with self.lock:
            self._tick()
            wanted = {status} if status else {"creating", "created"}
            if not wanted <= {"created", "creating", "failed"}:
                raise bad_request(f"invalid status {status!r}")
            selector = self._parse_selector(label_selector)
            items = [copy.deepcopy(pool) for pool in self._pools.values()
                     if self._pool_state(pool) in wanted and self._selected(pool, selector)]
            return {"apiVersion": "v2", "kind": "PoolList", "items": items}

    @staticmethod
    def _pool_state(pool: JsonObject) -> str:
        phase = _dig(pool, "status", "phase")
        if phase in _POOL_CREATING:
            return "creating"
        return "failed" if phase in _POOL_FAILED else "created"

    @staticmethod
    def _parse_selector(selector: str | None) -> list[tuple[str, str | None]]:
        terms: list[tuple[str, str | None]] = []
        for term in (selector or "").split(","):
            if not term.strip():
                continue
            key, sep, value = term.partition("=")
            terms.append((key.strip(), value.strip() if sep else None))
        return terms

    @staticmethod
    def _selected(pool: JsonObject, terms: list[tuple[str, str | None]]) -> bool:
        labels = _labels(pool)
        return all(key in labels and (value is None or labels[key] == value) for key, value in terms)

    def show_pool(self, pool_name: str) -> JsonObject:
        with self.lock:
            self._tick()
            return copy.deepcopy(self._pool(pool_name))

    def _pool(self, pool_name: str) -> JsonObject:
        pool = self._pools.get(pool_name)
        if pool is None:
            raise pool_not_found(pool_name)
        return pool

    def list_pool_nodes(self, pool_name: str, *, limit: int | None = None,
                        continue_token: str | None = None) -> JsonObject:
        """ListPoolNodes, paged by limit/continue unless the `ignore_paging` fault is set."""
        with self.lock:
            self._tick()
            self._pool(pool_name)
            nodes = [copy.deepcopy(n) for _, n in sorted(self._nodes[pool_name].items())]
            if self.faults.ignore_paging:
                return {"apiVersion": "v2", "kind": "NodeList", "metadata": {}, "items": nodes}
            size = limit or MAX_PAGE
            if not 0 < size <= MAX_PAGE:
                raise bad_request(f"limit must be between 0 and {MAX_PAGE}")
            start = _decode_token(pool_name, continue_token) if continue_token else 0
            page = nodes[start:start + size]
            rest = max(0, len(nodes) - start - size)
            token = _encode_token(pool_name, start + size) if rest else ""
            return {"apiVersion": "v2", "kind": "NodeList",
                    "metadata": {"continue": token, "remainingItemCount": rest}, "items": page}

    # -- networks ------------------------------------------------------------------------------------------

    def _network_object(self, network: JsonObject) -> JsonObject:
        subnets = [{"networkId": s["networkId"], "cidr": s.get("cidr", "")} for s in network["subnets"]]
        return {"apiVersion": "v1", "kind": "Network",
                "metadata": {"name": network["name"], "labels": {"os.modelarts/name": network["name"]}},
                "spec": {"cidr": subnets[0]["cidr"] if subnets else ""},
                "status": {"phase": "Active", "subnets": subnets}}

    def _network(self, network_name: str) -> JsonObject:
        network = self._networks.get(network_name)
        if network is None:
            raise Refusal(404, "ModelArts.50025001", "Network not exist.")
        return network

    def list_networks(self) -> JsonObject:
        with self.lock:
            items = [self._network_object(n) for _, n in sorted(self._networks.items())]
            return {"apiVersion": "v1", "kind": "NetworkList", "items": items}

    def show_network(self, network_name: str) -> JsonObject:
        with self.lock:
            return self._network_object(self._network(network_name))

    def show_network_available_ip(self, network_name: str, subnet_id: str | None) -> JsonObject:
        """ShowNetworkAvailableIp: the usage of one subnet of the network."""
        with self.lock:
            self._tick()
            network = self._network(network_name)
            if not subnet_id:
                raise bad_request("network_id is required")
            for subnet in network["subnets"]:
                if subnet["networkId"] == subnet_id:
                    usage = {"cidr": subnet.get("cidr", ""), "ipVersion": 4,
                             "usedIps": subnet["usedIps"], "totalIps": subnet["totalIps"]}
                    return {"name": subnet_id, "networkId": subnet_id, "subnetIpAvailability": [usage]}
            raise Refusal(404, "ModelArts.50025001", f"Subnet {subnet_id} not exist in network {network_name}.")

    # -- jobs ----------------------------------------------------------------------------------------------

    def get_job(self, job_id: str) -> JsonObject:
        with self.lock:
            self._tick()
            job = self._jobs.get(job_id)
            if job is None:
                raise Refusal(404, "ModelArts.50035001", f"Job {job_id} not found.")  # code made up
            return job.to_api()

    def list_jobs(self, *, name: str | None = None, job_type: str | None = None, since_ms: int | None = None,
                  until_ms: int | None = None, limit: int = 100, offset: int = 0) -> JsonObject:
        """ListJobs: newest first; `name` matches the source or target pool; since/until in epoch ms."""
        with self.lock:
            self._tick()
            if not 0 < limit <= MAX_PAGE or offset < 0:
                raise bad_request(f"limit must be 1-{MAX_PAGE} and offset not negative")
            now_ms = int(self.now() * 1000)
            since = since_ms if since_ms is not None else now_ms - _THIRTY_DAYS_MS
            until = until_ms if until_ms is not None else now_ms
            jobs = [job for job in sorted(self._jobs.values(), key=lambda j: (-j.started, -j.seq))
                    if (name is None or name in (job.source, job.target))
                    and (job_type is None or job_type == MIGRATE_JOB_TYPE)
                    and since <= int(job.started * 1000) <= until]
            return {"count": len(jobs), "items": [job.to_api() for job in jobs[offset:offset + limit]]}

    # -- batch-migrate -------------------------------------------------------------------------------------

    def batch_migrate(self, pool_name: str, body: Any) -> str:
        """BatchMigratePoolNodes: validate like the service, then start the job; returns its id."""
        with self.lock:
            self._tick()
            source = self._pool(pool_name)
            names, target_name, flavor, step = self._check_body(body)
            target = self._pool(target_name)
            if target_name == pool_name:
                raise bad_request("toPoolName must differ from the source pool")
            nodes = self._check_nodes(pool_name, names)
            self._check_super_nodes(pool_name, names, step)
            left = len(self._nodes[pool_name]) - len(names)
            if left < MIN_NODES_LEFT:
                raise bad_request(f"pool {pool_name} would keep {left} node(s); at least {MIN_NODES_LEFT} must "
                                  f"remain")
            accepted = [r.get("flavor") for r in _dig(target, "spec", "resources") or [] if isinstance(r, dict)]
            if flavor not in accepted:
                raise bad_request(f"pool {target_name} does not accept flavor {flavor} "
                                  f"(accepts {', '.join(map(str, accepted)) or 'none'})")
            self._check_clusters(source, target, nodes, body)
            target_subnet = self._pool_subnet(target, strict=True)
            if target_subnet is not None:
                subnet = self._subnets[target_subnet]
                free = subnet["totalIps"] - subnet["usedIps"]
                if free < len(names):
                    raise bad_request(f"subnet {target_subnet} of pool {target_name} has {free} free IP "
                                      f"address(es); {len(names)} needed")
            return self._accept(pool_name, target_name, copy.deepcopy(body), nodes, target_subnet)

    @staticmethod
    def _check_body(body: Any) -> tuple[list[str], str, str, JsonObject | None]:
        if not isinstance(body, dict):
            raise bad_request("the body must be a JSON object")
        unknown = sorted(set(body) - _BODY_KEYS)
        if unknown:
            raise bad_request(f"unknown field(s): {', '.join(unknown)}")
        names = body.get("migrateNodeNames")
        if not isinstance(names, list) or not names or not all(isinstance(n, str) and n for n in names):
            raise bad_request("migrateNodeNames must be a non-empty list of node names")
        if len(set(names)) != len(names):
            raise bad_request("migrateNodeNames lists a node twice")
        for key in ("fromClusterName", "toClusterName", "toPoolName"):
            if not isinstance(body.get(key), str) or not body[key]:
                raise bad_request(f"{key} is required")
        spec = body.get("resourceSpec")
        if not isinstance(spec, dict) or not isinstance(spec.get("flavor"), str) or not spec["flavor"]:
            raise bad_request("resourceSpec.flavor is required for a cross-pool migration")
        step = spec.get("creatingStep")
        if step is not None and (not isinstance(step, dict) or step.get("type") != "hyperinstance"
                                 or not isinstance(step.get("step"), int) or isinstance(step.get("step"), bool)
                                 or step["step"] < 1):
            raise bad_request('resourceSpec.creatingStep must be {"step": <positive int>, "type": "hyperinstance"}')
        return names, body["toPoolName"], spec["flavor"], step

    def _where(self, node_name: str) -> str | None:
        return next((pool for pool, nodes in self._nodes.items() if node_name in nodes), None)

    def _check_nodes(self, pool_name: str, names: list[str]) -> list[JsonObject]:
        nodes = []
        for name in names:
            where = self._where(name)
            if where is None:
                raise bad_request(f"node {name} not found")
            if where != pool_name:
                raise bad_request(f"node {name} is not in pool {pool_name} (it is in pool {where})")
            node = self._nodes[pool_name][name]
            reason = self._immovable_reason(node)
            if reason:
                raise bad_request(f"node {name} cannot be migrated: {reason}")
            nodes.append(node)
        return nodes

    @staticmethod
    def _immovable_reason(node: JsonObject) -> str:
        labels, annotations = _labels(node), _annotations(node)
        phase = _dig(node, "status", "phase")
        if phase != "Available":
            return f"its phase is {phase}, not Available"
        if annotations.get(ANNOTATION_LOCK):
            return f"it is locked ({ANNOTATION_LOCK}={annotations[ANNOTATION_LOCK]})"
        if labels.get(LABEL_BILLING) not in (None, "0"):
            return f"its billing status is {labels[LABEL_BILLING]}"
        if LABEL_CABINET in labels:
            return "it is cabinet-exclusive"
        return ""

    def _check_super_nodes(self, pool_name: str, names: list[str], step: JsonObject | None) -> None:
        members: dict[str, list[str]] = {}
        for name, node in self._nodes[pool_name].items():
            labels = _labels(node)
            if labels.get(LABEL_BATCH_TYPE) == "hyperinstance" and labels.get(LABEL_BATCH_UID):
                members.setdefault(str(labels[LABEL_BATCH_UID]), []).append(name)
        requested = set(names)
        for uid, group in sorted(members.items()):
            if requested.isdisjoint(group):
                continue
            missing = sorted(set(group) - requested)
            if missing:
                raise bad_request(f"super node {uid} must move whole: {', '.join(missing)} missing from the "
                                  f"request")
            if step is None:
                raise bad_request(f"super node {uid} needs resourceSpec.creatingStep "
                                  f'{{"step": {len(group)}, "type": "hyperinstance"}}')
            if step["step"] != len(group):
                raise bad_request(f"resourceSpec.creatingStep.step is {step['step']} but super node {uid} has "
                                  f"{len(group)} nodes")

    def _pool_cluster_names(self, pool: JsonObject) -> set[str]:
        """The clusters of a pool's nodes; with no nodes, status.clusters / spec.clusters[0], else its name."""
        name = _name(pool)
        clusters = {str(_labels(n).get(LABEL_CLUSTER) or name) for n in self._nodes[name].values()}
        if clusters:
            return clusters
        status_clusters = _dig(pool, "status", "clusters")
        if isinstance(status_clusters, list):
            status_clusters = status_clusters[0] if status_clusters else None
        spec_clusters = _dig(pool, "spec", "clusters")
        for candidate in (status_clusters,
                          spec_clusters[0] if isinstance(spec_clusters, list) and spec_clusters else None):
            if isinstance(candidate, dict) and isinstance(candidate.get("name"), str) and candidate["name"]:
                return {candidate["name"]}
        return {name}

    def _check_clusters(self, source: JsonObject, target: JsonObject, nodes: list[JsonObject],
                        body: JsonObject) -> None:
        source_name = _name(source)
        for node in nodes:
            cluster = str(_labels(node).get(LABEL_CLUSTER) or source_name)
            if body["fromClusterName"] != cluster:
                raise bad_request(f"fromClusterName {body['fromClusterName']} does not match the cluster "
                                  f"{cluster} of node {_name(node)}")
        clusters = self._pool_cluster_names(target)
        if body["toClusterName"] not in clusters:
            raise bad_request(f"toClusterName {body['toClusterName']} does not match the cluster of pool "
                              f"{_name(target)} ({', '.join(sorted(clusters))})")

    def _pool_subnet(self, pool: JsonObject, *, strict: bool) -> str | None:
        """spec.network.subnetId, else the only subnet of spec.network.name; None when the network is unknown."""
        subnet_id = _dig(pool, "spec", "network", "subnetId")
        if isinstance(subnet_id, str) and subnet_id in self._subnets:
            return subnet_id
        network_name = _dig(pool, "spec", "network", "name")
        network = self._networks.get(network_name) if isinstance(network_name, str) else None
        if network is None:
            return None
        if len(network["subnets"]) == 1:
            return str(network["subnets"][0]["networkId"])
        if strict:
            raise bad_request(f"cannot tell the subnet of pool {_name(pool)}: network {network['name']} has "
                              f"{len(network['subnets'])} subnets and the pool names none")
        return None

    def _accept(self, source: str, target: str, body: JsonObject, nodes: list[JsonObject],
                target_subnet: str | None) -> str:
        job_id = str(uuid.UUID(int=self._ids.getrandbits(128), version=4))
        names = [_name(n) for n in nodes]
        fail = self.faults.fail_jobs > 0 or not set(self.faults.fail_nodes).isdisjoint(names)
        if self.faults.fail_jobs > 0:
            self.faults.fail_jobs -= 1
        now = self.now()
        job = _Job(job_id=job_id, seq=len(self._jobs), source=source, target=target, body=body, nodes=names,
                   originals=copy.deepcopy(nodes), source_subnet=self._pool_subnet(self._pools[source], strict=False),
                   target_subnet=target_subnet, started=now, due=now + self.job_seconds, fail=fail)
        spec = body["resourceSpec"]
        for node in nodes:
            del self._nodes[source][_name(node)]
            node.setdefault("spec", {})["flavor"] = spec["flavor"]
            node.setdefault("status", {})["phase"] = "Creating"
            labels = _labels(node)
            if LABEL_CLUSTER in labels:
                labels[LABEL_CLUSTER] = body["toClusterName"]
            host_network = _dig(node, "spec", "hostNetwork")
            if target_subnet is not None and isinstance(host_network, dict) and "subnet" in host_network:
                host_network["subnet"] = target_subnet
            self._nodes[target][_name(node)] = node
        if target_subnet is not None:
            self._subnets[target_subnet]["usedIps"] += len(nodes)
        self._jobs[job_id] = job
        self.migrate_requests.append({"pool_name": source, "body": body, "job_id": job_id})
        self._tick()
        return job_id

    def _finish(self, job: _Job) -> None:
        """End a job: nodes become Available and the source addresses are freed, or (Failed) all is undone."""
        job.ended = max(job.due, job.started)
        if job.fail:
            for name in job.nodes:
                self._nodes[job.target].pop(name, None)
            for original in job.originals:
                self._nodes[job.source][_name(original)] = copy.deepcopy(original)
            self._release(job.target_subnet, len(job.nodes))
            job.phase, job.message = "Failed", "node migration failed (injected fault)"
            return
        for name in job.nodes:
            self._nodes[job.target][name]["status"]["phase"] = "Available"
        self._release(job.source_subnet, len(job.nodes))
        job.phase = "Success"

    def _release(self, subnet_id: str | None, count: int) -> None:
        if subnet_id is not None:
            subnet = self._subnets[subnet_id]
            subnet["usedIps"] = max(0, subnet["usedIps"] - count)

    # -- views ---------------------------------------------------------------------------------------------

    def inventory(self) -> JsonObject:
        """The current state as a `poolshift.inventory/v1` snapshot (captured now)."""
        with self.lock:
            self._tick()
            moment = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.now()))
            return {
                "format": "poolshift.inventory/v1",
                "project_id": self.project_id,
                "region": self.region,
                "captured_at": moment,
                "pools": [copy.deepcopy(p) for p in self._pools.values()],
                "nodes": {pool: [copy.deepcopy(n) for _, n in sorted(nodes.items())]
                          for pool, nodes in self._nodes.items()},
                "networks": [copy.deepcopy(n) for n in self._networks.values()],
            }

    def dump(self) -> JsonObject:
        """`{"migrate_requests", "jobs", "inventory"}`, as `GET /_emulator/state` answers."""
        with self.lock:
            inventory = self.inventory()
            jobs = [job.to_api() for job in sorted(self._jobs.values(), key=lambda j: j.seq)]
            return {"migrate_requests": copy.deepcopy(self.migrate_requests), "jobs": jobs,
                    "inventory": inventory}
