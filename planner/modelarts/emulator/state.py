"""The emulator's state machine: one object per emulated project, each public method one API operation.

Owns: composing the pools and nodes (`pools`), migration jobs (`migrate`), workloads, drains and locks
(`workloads`) and the fault settings (`faults`) behind one lock and one controllable clock; moving jobs
and drains forward whenever the state is used; the views tests read (`inventory()`, `dump()`), and the
history of every state a migration left (`history`: pool and flavor counts, subnet usage and the jobs in
flight after each accepted request and each job's end), so tests can check every intermediate state.
Must not: know about HTTP, web frameworks or authentication (that is `emulator.api`), or reuse the
planner's own rules: it stands in for the cloud, so it re-implements them from the contract.
"""

from __future__ import annotations

import copy
import random
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from typing import Any

from planner.files import JsonObject
from planner.inventory import build_inventory
from planner.modelarts.emulator import migrate
from planner.modelarts.emulator.faults import Faults, StartWorkload
from planner.modelarts.emulator.migrate import MIGRATE_JOB_TYPE, Job
from planner.modelarts.emulator.objects import Refusal, bad_request, name_of, pool_not_found
from planner.modelarts.emulator.pools import MAX_PAGE, PoolStore, Shape
from planner.modelarts.emulator.workloads import WorkloadStore

__all__ = ["EmulatorState", "Faults", "Refusal", "StartWorkload", "bad_request", "pool_not_found"]

_THIRTY_DAYS_MS = 30 * 24 * 3600 * 1000


class EmulatorState:
    """Pools, nodes, subnets, jobs and workloads seeded from a snapshot; every public method is one API operation.

    Time comes from `clock` (epoch seconds, default `time.time`) plus whatever `advance()` added, so tests
    can run jobs and drains without sleeping. Jobs and drains move forward whenever the state is used.
    """

    def __init__(self, snapshot: JsonObject, *, job_seconds: float = 0.0, clock: Callable[[], float] | None = None,
                 seed: int = 0, faults: Faults | None = None, source: str = "<snapshot>",
                 drain_seconds: float = 0.0, shape: Shape = "full") -> None:
        build_inventory(snapshot, source=source)  # InputError with file and JSON path when malformed
        if job_seconds < 0 or drain_seconds < 0:
            raise ValueError("job_seconds and drain_seconds must not be negative")
        self.project_id: str = snapshot["project_id"]
        self.region: str = snapshot.get("region") or ""
        self.job_seconds = job_seconds
        self.drain_seconds = drain_seconds
        self.faults = faults or Faults()
        self.lock = threading.RLock()
        self._clock = clock or time.time
        self._offset = 0.0
        self._ids = random.Random(seed)
        self._fault_rng = random.Random(seed + 1)
        self.store = PoolStore(snapshot, shape=shape)
        self.workloads = WorkloadStore(snapshot, self.store)
        self._jobs: dict[str, Job] = {}
        self.migrate_requests: list[JsonObject] = []
        self.history: list[JsonObject] = []

    @property
    def shape(self) -> Shape:
        return self.store.shape

    # -- time ----------------------------------------------------------------------------------------------

    def now(self) -> float:
        """Emulator time in epoch seconds."""
        return self._clock() + self._offset

    def advance(self, seconds: float) -> None:
        """Move emulator time forward (jobs and drains that fall due finish)."""
        if seconds < 0:
            raise ValueError("time only moves forward")
        with self.lock:
            self._offset += seconds
            self._tick()

    def _tick(self) -> None:
        now = self.now()
        for job in sorted(self._jobs.values(), key=lambda j: (j.due, j.seq)):
            if job.phase == "Running" and job.due <= now:
                migrate.finish(self.store, job)
                self._record(job.phase.lower(), job)
        self.workloads.tick(now)

    def before_request(self, count: int) -> None:
        """Called with the 1-based count of API requests before each is answered: starts due workloads."""
        with self.lock:
            for fault in [f for f in self.faults.start_workloads if f.at_request <= count]:
                self.workloads.start(fault, now=self.now())
                self.faults.start_workloads = [f for f in self.faults.start_workloads if f is not fault]

    # -- reads ---------------------------------------------------------------------------------------------

    def _read(self, operation: Callable[[], JsonObject]) -> JsonObject:
        with self.lock:
            self._tick()
            return operation()

    def list_pools(self, *, status: str | None = None, label_selector: str | None = None,
                   workspace_id: str | None = None) -> JsonObject:
        """ListPools of one workspace (default "0"): `status` is created | creating | failed."""
        return self._read(lambda: self.store.list_pools(status=status, label_selector=label_selector,
                                                        workspace_id=workspace_id))

    def show_pool(self, pool_name: str) -> JsonObject:
        return self._read(lambda: self.store.pool_view(self.store.pool(pool_name)))

    def list_pool_nodes(self, pool_name: str, *, limit: int | None = None,
                        continue_token: str | None = None) -> JsonObject:
        """ListPoolNodes, paged by limit/continue unless the `ignore_paging` fault is set."""
        return self._read(lambda: self.store.list_pool_nodes(pool_name, limit=limit, continue_token=continue_token,
                                                             ignore_paging=self.faults.ignore_paging))

    def show_pool_node(self, pool_name: str, node_name: str) -> JsonObject:
        return self._read(lambda: self.store.show_pool_node(pool_name, node_name))

    def list_networks(self) -> JsonObject:
        return self._read(self.store.list_networks)

    def show_network(self, network_name: str) -> JsonObject:
        return self._read(lambda: self.store.show_network(network_name))

    def show_network_available_ip(self, network_name: str, subnet_id: str | None) -> JsonObject:
        """ShowNetworkAvailableIp: the usage of one subnet of the network."""
        return self._read(lambda: self.store.show_network_available_ip(network_name, subnet_id))

    def list_workspaces(self, *, offset: int = 0, limit: int = 1000) -> JsonObject:
        return self._read(lambda: self.store.list_workspaces(offset=offset, limit=limit))

    def list_workloads(self, pool_name: str, *, status: str | None = None, workload_type: str | None = None,
                       hostip: str | None = None, offset: int = 0, limit: int = 0) -> JsonObject:
        return self._read(lambda: self.workloads.list_pool(pool_name, status=status, workload_type=workload_type,
                                                      hostip=hostip, offset=offset, limit=limit))

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

    # -- writes --------------------------------------------------------------------------------------------

    def batch_migrate(self, pool_name: str, body: Any) -> str:
        """BatchMigratePoolNodes: validate like the service, then start the job; returns its id."""
        with self.lock:
            self._tick()
            checked = migrate.check(self.store, pool_name, body)
            job_id = str(uuid.UUID(int=self._ids.getrandbits(128), version=4))
            names = [name_of(n) for n in checked.nodes]
            fail = (self.faults.fail_jobs > 0 or not set(self.faults.fail_nodes).isdisjoint(names)
                    or (self.faults.rate_failed_jobs > 0 and self._fault_rng.random() < self.faults.rate_failed_jobs))
            if self.faults.fail_jobs > 0:
                self.faults.fail_jobs -= 1
            now = self.now()
            kept = copy.deepcopy(body)
            self.workloads.end_for_migration(checked.nodes, job_id=job_id, now=now)
            job = Job(job_id=job_id, seq=len(self._jobs), source=pool_name, target=checked.target, body=kept,
                      nodes=names, originals=copy.deepcopy(checked.nodes),
                      source_subnet=self.store.pool_subnet(self.store.pools[pool_name], strict=False),
                      target_subnet=checked.target_subnet, started=now, due=now + self.job_seconds, fail=fail,
                      held=self.faults.migrating_nodes_in_source)
            migrate.start(self.store, checked, kept, held=job.held)
            self._jobs[job_id] = job
            self.migrate_requests.append({"pool_name": pool_name, "body": kept, "job_id": job_id})
            self._record("accepted", job)
            self._tick()
            return job_id

    def batch_drain(self, pool_name: str, body: Any) -> JsonObject:
        """BatchDrainPoolNodes (at most 10 nodes): their workloads end after `drain_seconds`."""
        with self.lock:
            self._tick()
            names = body.get("nodeNames") if isinstance(body, dict) else None
            return self.workloads.drain(pool_name, names, now=self.now(), drain_seconds=self.drain_seconds)

    def batch_lock(self, pool_name: str, body: Any, *, lock: bool = True) -> JsonObject:
        """BatchLockPoolNodes / BatchUnlockPoolNodes."""
        with self.lock:
            self._tick()
            return self.workloads.lock(pool_name, body, lock=lock)

    # -- views ---------------------------------------------------------------------------------------------

    def _record(self, event: str, job: Job) -> None:
        """Append the state a migration event left to `history` (counts only: small enough for soak runs)."""
        pools = {name: {"nodes": len(nodes),
                        "flavors": dict(sorted(Counter(str(n["spec"]["flavor"]) for n in nodes.values()).items()))}
                 for name, nodes in sorted(self.store.nodes.items())}
        subnets = {sid: {"totalIps": s["totalIps"], "usedIps": s["usedIps"]}
                   for sid, s in sorted(self.store.subnets.items())}
        in_flight = [{"job_id": j.job_id, "source": j.source, "target": j.target, "nodes": list(j.nodes),
                      "flavor": j.body["resourceSpec"]["flavor"], "listed_in": "source" if j.held else "target"}
                     for j in sorted(self._jobs.values(), key=lambda j: j.seq) if j.phase == "Running"]
        self.history.append({"seq": len(self.history) + 1, "time": round(self.now(), 3), "event": event,
                             "job_id": job.job_id, "pools": pools, "subnets": subnets, "in_flight": in_flight})

    def inventory(self) -> JsonObject:
        """The current state as a `poolshift.inventory/v1` snapshot (captured now; full shape)."""
        with self.lock:
            self._tick()
            return {
                "format": "poolshift.inventory/v1",
                "project_id": self.project_id,
                "region": self.region,
                "captured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.now())),
                "pools": [copy.deepcopy(p) for p in self.store.pools.values()],
                "nodes": {pool: [copy.deepcopy(n) for _, n in sorted(nodes.items())]
                          for pool, nodes in self.store.nodes.items()},
                "networks": [copy.deepcopy(n) for n in self.store.networks.values()],
                "workloads": self.workloads.running(),
            }

    def dump(self) -> JsonObject:
        """`GET /_emulator/state`: migrate requests, jobs, the inventory, drains, disrupted workloads and the
        history of states migrations left."""
        with self.lock:
            inventory = self.inventory()
            jobs = [job.to_api() for job in sorted(self._jobs.values(), key=lambda j: j.seq)]
            return {"migrate_requests": copy.deepcopy(self.migrate_requests), "jobs": jobs,
                    "inventory": inventory, "drains": copy.deepcopy(self.workloads.drains),
                    "disrupted": copy.deepcopy(self.workloads.disrupted),
                    "workloads": copy.deepcopy(self.workloads.items), "history": copy.deepcopy(self.history)}
