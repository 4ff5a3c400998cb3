"""Migrations in flight in the cloud, whoever started them, counted as already landed.

Two runs on two hosts share no lock file, so before every step (and before a run sends anything) apply reads
the project's migration jobs and treats every one still running as done: its nodes out of their source pool
and in their target pool, each holding an address in the target subnet (the old address stays taken until
the job ends, as the cloud keeps it). Both directions count: a floor check sees the nodes leaving, a max,
maxCount or subnet check the nodes arriving, whichever pool the cloud lists them in meanwhile. The reads are
not one atomic view: a job that started and ended between the node listing and ListJobs is seen only by
ListJobs, so a job that succeeded since the reads began (`since_ms`) counts as landed too. Only a node's
newest migration places it.

Owns: reading the jobs (ListJobs of the last `LOOKBACK_HOURS`; a job is a migration when its `inputs` name
`migrateNodeNames`, and running while its phase is neither `Success` nor a failure), `as_landed` (a copy of a
snapshot, whole or partial, with those migrations moved), and `touching` (the jobs that moved nodes into or
out of a pool, for the check after a step). Must not: send anything, write the journal or decide what to do.
"""

from __future__ import annotations

import copy
import json
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from planner.files import JsonObject
from planner.modelarts.client import ModelArtsClient
from planner.modelarts.objects import dig, labels_of, name_of, node_cluster, pool_network, pool_status_cluster

# How far back ListJobs is read for migrations still running (a migration takes minutes, rarely an hour).
LOOKBACK_HOURS = 24
JOBS_PAGE = 500   # ListJobs' largest page
# How long before the reads began a job that succeeded still counts as landed (clock skew with the API).
SKEW_MS = 10 * 60 * 1000


def now_ms() -> int:
    """This host's clock in epoch milliseconds (take it before the reads that `as_landed` completes)."""
    return int(time.time() * 1000)


@dataclass(frozen=True)
class Migration:
    """One batch-migrate job as ListJobs shows it."""

    job_id: str
    source: str | None          # the pool it was sent to (involvedObjects), when the job names it
    target: str | None          # inputs.toPoolName, when given
    to_cluster: str | None      # inputs.toClusterName
    nodes: tuple[str, ...]
    flavor: str | None          # inputs.resourceSpec.flavor
    phase: str
    started_ms: int
    ended_ms: int = 0

    @property
    def running(self) -> bool:
        return self.phase not in ("Success",) and "Fail" not in self.phase

    def counts_since(self, since_ms: int | None) -> bool:
        """Count it as landed: it is running, or it succeeded at or after `since_ms` (the reads' start)."""
        return self.running or (since_ms is not None and self.phase == "Success" and self.ended_ms >= since_ms)

    def describe(self) -> str:
        """`job J (pool A -> pool B, 4 nodes, Running)`."""
        route = f"pool {self.source or '?'} -> pool {self.target or self.to_cluster or '?'}"
        return f"job {self.job_id} ({route}, {len(self.nodes)} node(s), {self.phase or 'phase unknown'})"


def _json_field(value: Any) -> Any:
    """A PoolJob field the SDK types as str: JSON text, or already an object."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except (ValueError, RecursionError):
            return None
    return value


def migration_of(job: Mapping[str, Any]) -> Migration | None:
    """The job as a Migration; None when it is not a batch-migrate (its inputs name no node list)."""
    inputs = _json_field(job.get("inputs"))
    job_id = job.get("jobId")
    if not isinstance(inputs, dict) or not isinstance(job_id, str):
        return None
    names = inputs.get("migrateNodeNames")
    if not isinstance(names, list) or not names:
        return None
    involved = _json_field(job.get("involvedObjects"))
    source = involved.get("name") if isinstance(involved, dict) else None
    spec = inputs.get("resourceSpec")
    flavor = spec.get("flavor") if isinstance(spec, dict) else None

    def text(value: Any) -> str | None:
        return value if isinstance(value, str) and value else None

    def ms(value: Any) -> int:
        return value if isinstance(value, int) and not isinstance(value, bool) else 0

    return Migration(job_id=job_id, source=text(source), target=text(inputs.get("toPoolName")),
                     to_cluster=text(inputs.get("toClusterName")), nodes=tuple(str(n) for n in names),
                     flavor=text(flavor), phase=str(job.get("phase") or ""),
                     started_ms=ms(job.get("startTimestamp")), ended_ms=ms(job.get("endTimestamp")))


def read_migrations(client: ModelArtsClient, *, since_ms: int | None = None) -> list[Migration]:
    """Every migration job of the project started since `since_ms` (default: `LOOKBACK_HOURS` ago), newest first."""
    since = since_ms if since_ms is not None else int((time.time() - LOOKBACK_HOURS * 3600) * 1000)
    jobs = client.list_jobs(since_ms=since, page_size=JOBS_PAGE)
    found = [m for job in jobs if (m := migration_of(job)) is not None]
    return sorted(found, key=lambda m: m.started_ms, reverse=True)


def touching(migrations: Iterable[Migration], pool: str) -> list[Migration]:
    """The migrations that moved (or move) nodes out of or into `pool` (a job naming no target pool: by its
    toClusterName)."""
    return [m for m in migrations if pool in (m.source, m.target) or (m.target is None and m.to_cluster == pool)]


# -- counting them as landed -------------------------------------------------------------------------------


def _target_of(snapshot: Mapping[str, Any], migration: Migration) -> str | None:
    """The job's target pool: toPoolName; else the one listed pool whose cluster is toClusterName."""
    if migration.target is not None:
        return migration.target
    cluster = migration.to_cluster
    if cluster is None:
        return None
    pools = [name_of(p) for p in snapshot.get("pools") or []]
    if cluster in pools:
        return cluster
    nodes = snapshot.get("nodes") or {}
    holders = []
    for pool in snapshot.get("pools") or []:
        name = name_of(pool)
        clusters = {node_cluster(labels_of(n), name) for n in nodes.get(name) or []}
        clusters = clusters or {pool_status_cluster(pool) or name}
        if cluster in clusters and name != migration.source:
            holders.append(name)
    return holders[0] if len(holders) == 1 else None


def _subnet_entry(snapshot: JsonObject, pool_name: str) -> JsonObject | None:
    """The subnet record (`{networkId, totalIps, usedIps}`) of a listed pool, when the snapshot tells it."""
    pool = next((p for p in snapshot.get("pools") or [] if name_of(p) == pool_name), None)
    if pool is None:
        return None
    network, subnet_id = pool_network(pool)
    if not subnet_id:
        recorded = (snapshot.get("pool_subnets") or {}).get(pool_name)
        subnet_id = recorded.get("subnet") if isinstance(recorded, dict) else None
    subnets = [s for net in snapshot.get("networks") or [] for s in net.get("subnets") or [] if isinstance(s, dict)]
    if not subnet_id:
        listed = [s for net in snapshot.get("networks") or [] if net.get("name") == network
                  for s in net.get("subnets") or [] if isinstance(s, dict)]
        return listed[0] if len(listed) == 1 else None
    return next((s for s in subnets if s.get("networkId") == subnet_id), None)


def _placeholder(name: str, flavor: str | None) -> JsonObject:
    """A node the listing does not show (in flight between pools): enough to be counted."""
    return {"apiVersion": "v2", "kind": "Node", "metadata": {"name": name, "labels": {}, "annotations": {}},
            "spec": {"flavor": flavor or ""}, "status": {"phase": "Creating"}}


def _placing(migrations: Iterable[Migration], since_ms: int | None) -> list[tuple[Migration, list[str]]]:
    """Each counted migration with the nodes it places: a node's newest migration, when that one counts."""
    newest: dict[str, Migration] = {}
    for migration in sorted(migrations, key=lambda m: m.started_ms):
        for name in migration.nodes:
            newest[name] = migration
    placing: dict[str, tuple[Migration, list[str]]] = {}
    for name, migration in newest.items():
        if migration.counts_since(since_ms):
            placing.setdefault(migration.job_id, (migration, []))[1].append(name)
    return sorted(placing.values(), key=lambda entry: entry[0].started_ms)


def as_landed(snapshot: Mapping[str, Any], migrations: Iterable[Migration], *, ips_per_node: int = 1,
              addresses: bool = True, since_ms: int | None = None) -> tuple[JsonObject, list[Migration]]:
    """A copy of `snapshot` with the migrations in flight counted as landed, and the migrations it moved.

    Counted: every running migration and, with `since_ms` (when the reads of `snapshot` began, minus the clock
    skew), every one that succeeded since; for each node only its newest migration. A node the listing still
    shows outside that migration's target (its source, or no pool) is taken out of that pool and put in the
    target (when the snapshot lists the target), and, with `addresses`, the target subnet's `usedIps` grows by
    `ips_per_node` for it (the API may not count the new address yet; counting it twice only errs on the safe
    side); a node already listed in the target is left as the API shows it. Pools the snapshot does not list
    (a partial view) are skipped: only the side it lists is counted.
    """
    landed: JsonObject = copy.deepcopy(dict(snapshot))
    nodes: dict[str, list[JsonObject]] = landed.setdefault("nodes", {})
    where = {name_of(n): pool for pool, items in nodes.items() for n in items}
    moved: list[Migration] = []
    for migration, names in _placing(migrations, since_ms):
        target = _target_of(landed, migration)
        changed = False
        for name in names:
            pool = where.get(name)
            if pool is not None and pool == target:
                continue
            node = _placeholder(name, migration.flavor)
            if pool is not None:
                node = next(n for n in nodes[pool] if name_of(n) == name)
                nodes[pool] = [n for n in nodes[pool] if name_of(n) != name]
                del where[name]
                changed = True
            if target is not None and target in nodes:
                _arrive(landed, node, target, migration, ips_per_node if addresses else 0)
                where[name] = target
                changed = True
        if changed:
            moved.append(migration)
    return landed, moved


def _arrive(landed: JsonObject, node: JsonObject, target: str, migration: Migration, ips_per_node: int) -> None:
    """Put `node` in `target` as the migration will leave it, and take its address in the target subnet."""
    node = copy.deepcopy(node)
    if migration.flavor:
        node.setdefault("spec", {})["flavor"] = migration.flavor
    labels = dig(node, "metadata", "labels")
    if isinstance(labels, dict) and "os.modelarts.node/cluster" in labels and migration.to_cluster:
        labels["os.modelarts.node/cluster"] = migration.to_cluster
    landed["nodes"][target].append(node)
    subnet = _subnet_entry(landed, target) if ips_per_node else None
    if subnet is not None and isinstance(subnet.get("usedIps"), int):
        subnet["usedIps"] += ips_per_node
