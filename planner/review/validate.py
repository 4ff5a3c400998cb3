"""`poolshift validate`: check a spec, and its pools against an inventory, without solving.

Owns: the checks a spec can fail before any planning: the spec on its own (`planner.spec.parse_spec`: format,
keys, numbers, bounds), and against a snapshot the checks `plan` makes with the same words (unknown pool or node,
a display name shared by pools, a pool named twice, a flavor target for a flavor the pool does not accept), plus
contradictions between the spec and the pools as they are, which would make `plan` fail (a pool that must grow
but may not receive, a pool that must shrink but may not give or has too few nodes that may move, mins that add up
to more nodes than there are) and wishes the hard rules overrule (warnings). Must not: solve, print or exit.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from planner.errors import InputError
from planner.inventory import Inventory, build_inventory
from planner.modelarts.objects import PoolNameError
from planner.spec import PoolSpec, Spec, parse_spec


@dataclass(frozen=True)
class Finding:
    """One problem (`error`: `plan` would refuse or fail) or `warning` (the plan goes ahead, the wish is overruled)."""

    level: str
    source: str
    path: str
    message: str

    def line(self) -> str:
        return f"{self.source}: {self.path}: {self.message}" if self.path else f"{self.source}: {self.message}"

    def to_dict(self) -> dict[str, str]:
        return {"level": self.level, "source": self.source, "path": self.path, "message": self.message}


@dataclass(frozen=True)
class _Pool:
    key: str
    spec: PoolSpec
    count: int
    movable: int
    takes_part: bool
    has_subnet: bool
    accepted: dict[str, int | None]


def validate(spec_data: dict[str, Any], *, spec_source: str, snapshot: dict[str, Any] | None = None,
             snapshot_source: str = "<snapshot>") -> tuple[Spec, list[Finding]]:
    """The parsed spec and what is wrong with it. A spec or snapshot that cannot be read at all raises InputError
    (one line, as `plan` would); everything else comes back as findings, errors first."""
    spec = parse_spec(spec_data, source=spec_source)
    findings = [Finding("warning", spec_source, w.split(":", 1)[0], w.split(": ", 1)[1]) for w in spec.warnings()]
    if snapshot is not None:
        inv = build_inventory(snapshot, source=snapshot_source)
        findings += _against(spec, inv, spec_source)
    return spec, sorted(findings, key=lambda f: f.level != "error")


def _against(spec: Spec, inv: Inventory, source: str) -> list[Finding]:
    errors: list[Finding] = []
    names = inv.pool_names
    resolved: dict[str, str] = {}
    for key in spec.pools:
        try:
            pool = names.resolve(key)
        except PoolNameError as exc:
            errors.append(Finding("error", source, f"pools.{key}", str(exc)))
            continue
        if pool in resolved:
            errors.append(Finding("error", source, f"pools.{key}",
                                  f"pool {pool} is named twice (as {resolved[pool]!r} and {key!r})"))
            continue
        resolved[pool] = key
    known_nodes = set(inv.columns["nodes"]["node"])
    errors += [Finding("error", source, f"pin[{i}]", f"unknown node {name!r}")
               for i, name in enumerate(spec.pin) if name not in known_nodes]
    pools = _pools(spec, inv, resolved)
    for pool, p in pools.items():
        errors += [Finding("error", source, f"pools.{p.key}.flavors.{flavor}",
                           f"pool {pool} does not accept flavor {flavor!r}")
                   for flavor in p.spec.flavors if flavor not in p.accepted]
        errors += _contradictions(pool, p, spec, source)
    wanted = sum(p.spec.min or 0 for p in pools.values())
    if wanted > len(known_nodes):
        errors.append(Finding("error", source, "pools", f"the pools' min values add up to {wanted} nodes, but the "
                                                        f"inventory has {len(known_nodes)}"))
    return errors


def _pools(spec: Spec, inv: Inventory, resolved: dict[str, str]) -> dict[str, _Pool]:
    cols, nodes, pf = inv.columns["pools"], inv.columns["nodes"], inv.columns["pool_flavors"]
    pinned = set(spec.pin)
    movable: dict[str, int] = {}
    for name, pool, ok in zip(nodes["node"], nodes["pool"], nodes["movable"], strict=True):
        if ok and name not in pinned:
            movable[pool] = movable.get(pool, 0) + 1
    accepted: dict[str, dict[str, int | None]] = {}
    for pool, flavor, cap in zip(pf["pool"], pf["flavor"], pf["max_count"], strict=True):
        accepted.setdefault(pool, {})[flavor] = cap
    out = {}
    for pool, count, part, subnet in zip(cols["pool"], cols["node_count"], cols["takes_part"], cols["subnet"],
                                         strict=True):
        if pool in resolved:
            key = resolved[pool]
            out[pool] = _Pool(key, spec.pools[key], int(count), movable.get(pool, 0), bool(part),
                              isinstance(subnet, str) and bool(subnet), accepted.get(pool, {}))
    return out


def _contradictions(pool: str, p: _Pool, spec: Spec, source: str) -> list[Finding]:
    """What the spec asks of one pool that its state makes impossible (error) or out of reach (warning)."""
    s, where = p.spec, f"pools.{p.key}"
    out: list[Finding] = []

    def error(path: str, message: str) -> None:
        out.append(Finding("error", source, f"{where}.{path}", message))

    def warning(path: str, message: str) -> None:
        out.append(Finding("warning", source, f"{where}.{path}", message))

    if not p.takes_part:
        if s.target is not None and s.target != p.count:
            warning("target", f"pool {pool} does not take part, so it keeps its {p.count} nodes")
        return out
    cannot_receive = "accept: false" if not s.accept else None if p.has_subnet else "its subnet is unknown"
    if s.min is not None and s.min > p.count and cannot_receive:
        error("min", f"pool {pool} has {p.count} nodes, below min {s.min}, but it cannot receive ({cannot_receive})")
    if s.max is not None and s.max < p.count:
        if not s.give:
            error("max", f"pool {pool} has {p.count} nodes, above max {s.max}, but it may not give (give: false)")
        elif p.count - p.movable > s.max:
            error("max", f"pool {pool} must shed to max {s.max} but {p.count - p.movable} of its {p.count} nodes "
                         "may not move")
    if s.target is not None and s.target > p.count and cannot_receive:
        warning("target", f"pool {pool} has {p.count} nodes, below its target {s.target}, but it cannot receive "
                          f"({cannot_receive})")
    if s.target is not None and s.target < p.count and not s.give:
        warning("target", f"pool {pool} has {p.count} nodes, above its target {s.target}, but give: false")
    for flavor, wanted in s.flavors.items():
        cap = p.accepted.get(flavor)
        if cap is not None and wanted > cap:
            warning(f"flavors.{flavor}", f"target {wanted} is above the pool's maxCount {cap} for {flavor}")
    return out


def fatal_finding(error: InputError) -> Finding:
    """A fatal InputError (spec or snapshot unreadable) as a finding, for the JSON output."""
    return Finding("error", error.source or "", error.path or "", error.detail)
