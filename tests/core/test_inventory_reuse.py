"""Deriving the inventory of a snapshot edited copy-on-write (whatif's scenarios) from the caller's readings: the
node and workload lists it shares with the caller's snapshot are taken, not read again, and the inventory is the
one a fresh derivation gives, errors included."""

from __future__ import annotations

import copy
from typing import Any

import pytest

import planner.snapshot
from planner.errors import InputError
from planner.inventory import Inventory, build_inventory
from tests.core.builders import node, nodes_of, pool, snapshot, workload


def _caller() -> dict[str, Any]:
    snap = snapshot([pool("pool-a"), pool("pool-b"), pool("pool-c", ["f.b"])],
                    {"pool-a": [node(f"a-{i}", ip=f"10.0.0.{i}") for i in range(5)],
                     "pool-b": nodes_of("b", 3) + [node(f"b-s{i}", super_node="spod") for i in range(2)],
                     "pool-c": nodes_of("c", 2, "f.b")})
    snap["workloads"] = {"pool-a": [workload("job-x", ["10.0.0.1", "10.0.0.2"])], "pool-b": []}
    return snap


def _edited(raw: dict[str, Any], pool_name: str, change: Any) -> dict[str, Any]:
    """A copy-on-write edit of one pool's node list, as planner.review.scenarios makes it."""
    copy_ = dict(raw)
    copy_["nodes"] = dict(raw["nodes"])
    copy_["nodes"][pool_name] = items = list(raw["nodes"][pool_name])
    change(items)
    return copy_


def _lock(items: list[dict[str, Any]]) -> None:
    items[0] = copy.deepcopy(items[0])
    items[0]["metadata"]["annotations"] = {"os.modelarts.node/lock.action": "x"}


EDITS = {
    "lock a node": ("pool-b", _lock),
    "remove a node": ("pool-a", lambda items: items.pop(3)),
    "add a node": ("pool-c", lambda items: items.append(node("c-new", "f.b"))),
    "edit nothing": ("pool-c", lambda items: None),
}


def _same(a: Inventory, b: Inventory) -> None:
    assert a.columns == b.columns and a.workloads_known == b.workloads_known and a.fingerprint == b.fingerprint


@pytest.mark.parametrize("name", sorted(EDITS))
def test_an_edited_snapshot_reads_only_the_lists_it_changed(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    raw = _caller()
    base = build_inventory(raw, keep_readings=True)
    assert base.readings is not None and set(base.readings.nodes) == {"pool-a", "pool-b", "pool-c"}
    edited_pool, change = EDITS[name]
    edited = _edited(raw, edited_pool, change)
    fresh = build_inventory(edited)
    read: list[str] = []
    real = planner.snapshot._read_pool_nodes

    def counted(c: Any, items: list[Any], ppath: str, pool_name: str, *args: Any) -> Any:
        read.append(pool_name)
        return real(c, items, ppath, pool_name, *args)

    monkeypatch.setattr(planner.snapshot, "_read_pool_nodes", counted)
    reused = build_inventory(edited, reuse=base)
    _same(reused, fresh)
    assert read == [edited_pool]
    assert reused.readings is None  # kept only when asked


def test_workload_lists_are_reused_or_read_like_node_lists() -> None:
    raw = _caller()
    base = build_inventory(raw, keep_readings=True)
    edited = dict(raw)
    edited["workloads"] = dict(raw["workloads"])
    edited["workloads"]["pool-b"] = [workload("job-y", ["10.9.9.9"]), workload("nb", ["10.0.0.4"])]
    _same(build_inventory(edited, reuse=base), build_inventory(edited))
    assert build_inventory(edited, reuse=base).columns["nodes"]["busy"] == build_inventory(edited).columns[
        "nodes"]["busy"]


def test_a_name_an_edit_repeats_in_an_unread_pool_is_refused_as_by_a_fresh_read() -> None:
    raw = _caller()
    base = build_inventory(raw, keep_readings=True)
    edited = _edited(raw, "pool-a", lambda items: items.append(node("c-0")))  # c-0 is pool-c's
    with pytest.raises(InputError) as fresh:
        build_inventory(edited)
    with pytest.raises(InputError) as reused:
        build_inventory(edited, reuse=base)
    assert str(reused.value) == str(fresh.value) and "duplicate node name 'c-0'" in str(fresh.value)
