"""Migrations in flight: the emulator's record of them (history, nodes listed in their source while their job
runs) and apply's counting of them as landed (planner.apply.inflight)."""

from __future__ import annotations

from typing import Any

from planner.apply.inflight import Migration, as_landed, migration_of
from planner.modelarts.emulator.state import EmulatorState, Faults
from tests.emulator_server import sample_snapshot

T0 = 1_780_000_000.0


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


def body(nodes: list[str], target: str = "pool-dst") -> dict[str, Any]:
    return {"migrateNodeNames": nodes, "fromClusterName": "pool-src", "toClusterName": target,
            "toPoolName": target, "resourceSpec": {"flavor": "modelarts.vm.cpu.8u"}}


def _counts(state: EmulatorState) -> dict[str, int]:
    return {pool: len(nodes) for pool, nodes in state.store.nodes.items()}


def test_the_history_records_each_accepted_request_and_each_job_end() -> None:
    clock = Clock()
    state = EmulatorState(sample_snapshot(), job_seconds=30, clock=clock)
    job = state.batch_migrate("pool-src", body(["src-1", "src-2"]))
    clock.now += 31
    state.list_jobs()  # time moves the job to its end
    first, second = state.dump()["history"]
    assert (first["event"], first["job_id"], second["event"]) == ("accepted", job, "success")
    assert first["pools"]["pool-src"]["nodes"] == 7 and first["pools"]["pool-dst"]["nodes"] == 4
    assert first["in_flight"] == [{"job_id": job, "source": "pool-src", "target": "pool-dst",
                                   "nodes": ["src-1", "src-2"], "flavor": "modelarts.vm.cpu.8u",
                                   "listed_in": "target"}]
    assert second["in_flight"] == [] and second["subnets"]["subnet-a1"]["usedIps"] == 40


def test_migrating_nodes_can_stay_listed_in_their_source_until_the_job_ends() -> None:
    clock = Clock()
    state = EmulatorState(sample_snapshot(), job_seconds=30, clock=clock,
                          faults=Faults(migrating_nodes_in_source=True))
    before = _counts(state)
    state.batch_migrate("pool-src", body(["src-1"]))
    assert _counts(state) == before                                   # still listed in pool-src ...
    assert state.store.nodes["pool-src"]["src-1"]["status"]["phase"] == "Deleting"
    assert state.store.subnets["subnet-a1"]["usedIps"] == 41          # ... its new address already taken
    assert state.dump()["history"][0]["in_flight"][0]["listed_in"] == "source"
    clock.now += 31
    state.list_jobs()
    assert _counts(state)["pool-src"] == before["pool-src"] - 1 and _counts(state)["pool-dst"] == 3
    assert state.store.nodes["pool-dst"]["src-1"]["status"]["phase"] == "Available"
    assert state.store.subnets["subnet-a1"]["usedIps"] == 40          # the old address freed at the end


def test_a_failed_job_listed_in_its_source_puts_everything_back() -> None:
    clock = Clock()
    state = EmulatorState(sample_snapshot(), job_seconds=30, clock=clock,
                          faults=Faults(migrating_nodes_in_source=True, fail_jobs=1))
    before = _counts(state)
    state.batch_migrate("pool-src", body(["src-1"]))
    clock.now += 31
    assert state.list_jobs()["items"][0]["phase"] == "Failed"
    assert _counts(state) == before and state.store.nodes["pool-src"]["src-1"]["status"]["phase"] == "Available"
    assert state.store.subnets["subnet-a1"]["usedIps"] == 40


def _snapshot_of(state: EmulatorState) -> dict[str, Any]:
    return state.inventory()


def test_as_landed_moves_what_the_listing_still_shows_in_the_source_both_directions() -> None:
    clock = Clock()
    state = EmulatorState(sample_snapshot(), job_seconds=30, clock=clock,
                          faults=Faults(migrating_nodes_in_source=True))
    state.batch_migrate("pool-src", body(["src-1", "src-2"]))
    migrations = [m for job in state.list_jobs()["items"] if (m := migration_of(job)) is not None]
    assert [m.running for m in migrations] == [True]
    landed, moved = as_landed(_snapshot_of(state), migrations, ips_per_node=1)
    counts = {pool: len(items) for pool, items in landed["nodes"].items()}
    assert counts["pool-src"] == 7 and counts["pool-dst"] == 4 and moved == migrations
    used = {s["networkId"]: s["usedIps"] for net in landed["networks"] for s in net["subnets"]}
    assert used["subnet-a1"] == 44            # the API's 42 plus the two it may not count yet: the safe side
    again, _ = as_landed(_snapshot_of(state), migrations, addresses=False)
    assert {s["networkId"]: s["usedIps"] for net in again["networks"] for s in net["subnets"]}["subnet-a1"] == 42


def test_as_landed_leaves_nodes_the_api_already_lists_in_the_target() -> None:
    state = EmulatorState(sample_snapshot(), job_seconds=30, clock=Clock())
    state.batch_migrate("pool-src", body(["src-1"]))   # listed in pool-dst at once (Creating)
    migrations = [m for job in state.list_jobs()["items"] if (m := migration_of(job)) is not None]
    landed, moved = as_landed(_snapshot_of(state), migrations)
    assert moved == [] and landed["nodes"] == _snapshot_of(state)["nodes"]


def _migration(job_id: str, nodes: tuple[str, ...], phase: str, started: int, ended: int = 0) -> Migration:
    return Migration(job_id=job_id, source="pool-src", target="pool-dst", to_cluster="pool-dst", nodes=nodes,
                     flavor="modelarts.vm.cpu.8u", phase=phase, started_ms=started, ended_ms=ended)


def test_a_job_that_ended_after_the_reads_began_counts_and_only_a_nodes_newest_job_places_it() -> None:
    snapshot = sample_snapshot()   # src-1 is listed in pool-src: the listing predates the jobs below
    done_since = _migration("j1", ("src-1",), "Success", started=1_000, ended=5_000)
    landed, moved = as_landed(snapshot, [done_since], since_ms=4_000)
    assert moved == [done_since] and "src-1" in {n["metadata"]["name"] for n in landed["nodes"]["pool-dst"]}
    assert as_landed(snapshot, [done_since], since_ms=6_000)[1] == []     # ended before the reads: as listed
    failed_later = _migration("j2", ("src-1",), "Failed", started=2_000, ended=5_500)
    assert as_landed(snapshot, [done_since, failed_later], since_ms=4_000)[1] == []   # its newest job failed


def test_a_job_of_another_kind_is_not_a_migration() -> None:
    assert migration_of({"jobId": "r1", "inputs": '{"nodeNames": ["a"]}', "phase": "Running"}) is None
    assert migration_of({"jobId": "r2", "inputs": "not json", "phase": "Running"}) is None
    found = migration_of({"jobId": "m1", "phase": "Running", "startTimestamp": 5, "involvedObjects":
                          '{"kind": "Pool", "name": "pool-src"}', "inputs": '{"migrateNodeNames": ["a"], '
                          '"toClusterName": "pool-dst", "resourceSpec": {"flavor": "f"}}'})
    assert found is not None and (found.source, found.target, found.to_cluster, found.nodes) == \
        ("pool-src", None, "pool-dst", ("a",))
