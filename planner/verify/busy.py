"""The verifier's own reading of what runs on the nodes (PRODUCT §9), from the raw snapshot.

Part of the independent verifier (`planner.verify`): it repeats the busy rule of `planner.modelarts.objects`,
`planner.inventory` and `planner.planning.busy` with code of its own, on purpose. A node is busy when a Running
workload of the snapshot's `workloads` names its `status.privateIp` in `hostIps` ("ip,ip") or `nodes[].hostIp`,
or when an accelerator (a key of `status.resources` other than `cpu` and `memory`) has less in
`status.availableResources` (a key missing there: none available); such a node with no listed workload runs
`UNLISTED`. A super node is busy when any member is, and moving it ends every workload of every member. Only the
nodes a plan's steps name (and the other members of their super nodes) are read, and only the workloads on their
addresses are kept: no other node's facts can change what the replay checks. Read ahead, before the plan exists
(`running_index`), the Running workloads are indexed by every address they name, and the same lookups are made.
Must not: import the inventory, snapshot, API or planning modules, or `solvers`.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

from planner.verify.world import World

Ended = tuple[str, str, Any]  # workload name, type ("" when absent), priority (None when absent)

UNLISTED: Ended = ("(unlisted: accelerators in use)", "unknown", None)
_SCALES: dict[str, Fraction | int] = {
    "Ki": 1 << 10, "Mi": 1 << 20, "Gi": 1 << 30, "Ti": 1 << 40, "Pi": 1 << 50, "Ei": 1 << 60,
    "m": Fraction(1, 1000), "k": 1000, "M": 10**6, "G": 10**9, "T": 10**12, "P": 10**15, "E": 10**18}


def _amount(value: Any) -> Fraction | None:
    """A resource amount ("8", "1200m", "64Gi" or a number); None when it cannot be read."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        return None
    if not isinstance(value, str):
        return Fraction(value) if value == value and abs(value) != float("inf") else None
    text = value.strip()
    scale: Fraction | int = 1
    for suffix, factor in _SCALES.items():
        if text.endswith(suffix):
            text, scale = text[: -len(suffix)], factor
            break
    try:
        return Fraction(text) * scale
    except (ValueError, ZeroDivisionError):
        return None


def _accelerator_held(status: dict[str, Any]) -> bool:
    capacity, free = status.get("resources"), status.get("availableResources")
    if not isinstance(capacity, dict) or not isinstance(free, dict):
        return False
    for key, total in capacity.items():
        if key == "cpu" or key == "memory":
            continue
        left = free.get(key, "0")
        if left == total:  # the usual idle node: the same text
            continue
        if type(total) is str and type(left) is str and total.isdigit() and left.isdigit():
            if int(left) < int(total):  # the usual counts ("8", "0"): no fractions needed
                return True
            continue
        have, rest = _amount(total), _amount(left)
        if have is not None and rest is not None and rest < have:
            return True
    return False


def running_index(raw: dict[str, Any]) -> dict[str, set[Ended]]:
    """Every address -> the Running workloads that name it (taken ahead, for `World.running`)."""
    return _running_by_address(raw, None)


def _running_by_address(raw: dict[str, Any], addresses: set[str] | None) -> dict[str, set[Ended]]:
    """Address (of those asked about; None: every one) -> the Running workloads that name it."""
    found: dict[str, set[Ended]] = {}
    workloads = raw.get("workloads")
    for items in (workloads.values() if isinstance(workloads, dict) else []):
        for item in items if isinstance(items, list) else []:
            if not isinstance(item, dict) or item.get("status") != "Running":
                continue
            listed = item.get("hostIps")
            hosts = {h.strip() for h in listed.split(",")} if isinstance(listed, str) else set()
            hosts.update(n["hostIp"].strip() for n in item.get("nodes") or []
                         if isinstance(n, dict) and isinstance(n.get("hostIp"), str))
            if addresses is not None:
                hosts &= addresses  # "" is never an address asked about
            else:
                hosts.discard("")
            if not hosts:
                continue
            kind, priority = item.get("type"), item.get("priority")
            ended: Ended = (str(item.get("name")), kind if isinstance(kind, str) else "",
                            priority if isinstance(priority, (str, int)) and not isinstance(priority, bool) else None)
            for host in hosts:
                found.setdefault(host, set()).add(ended)
    return found


def read_busy(raw: dict[str, Any], w: World, named: set[str]) -> dict[str, list[Ended]]:
    """Busy node -> the workloads moving it ends (sorted), for the `named` nodes (those a plan's steps name); a super
    node's members each end all of the super node's, so the other members of a named one are read too."""
    unit, unit_members = w.unit, w.unit_members  # super node uid -> every node any listing puts in it
    wanted = set(named)
    for members in unit_members.values():
        if not members.isdisjoint(named):
            wanted |= members
    if w.listed_twice:  # every listing, in the snapshot's order: the last busy one decides
        listings = [(node["metadata"]["name"], node.get("status") or {})
                    for items in (raw.get("nodes") or {}).values() for node in items
                    if node["metadata"]["name"] in wanted]
    else:
        listings = [(name, w.raw_node[name].get("status") or {}) for name in wanted if name in w.raw_node]
    addresses = {status.get("privateIp") for _, status in listings}
    by_address = w.running if w.running is not None else \
        _running_by_address(raw, {a for a in addresses if isinstance(a, str) and a})
    own: dict[str, set[Ended]] = {}
    for name, status in listings:
        if by_address:
            address = status.get("privateIp")
            running = by_address.get(address) if isinstance(address, str) and address else None
            if running:
                own[name] = set(running)
                continue
        if "resources" in status and _accelerator_held(status):  # without resources: no accelerator held
            own[name] = {UNLISTED}
    ends: dict[str, list[Ended]] = {}
    per_uid: dict[str, set[Ended]] = {}
    for name, running in own.items():
        if unit.get(name):
            per_uid.setdefault(unit[name], set()).update(running)
        else:
            ends[name] = sorted(running, key=repr)
    for uid, running in per_uid.items():
        for member in unit_members[uid]:
            ends[member] = sorted(running, key=repr)
    return ends
