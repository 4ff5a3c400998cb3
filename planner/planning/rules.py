"""The per-step hard rules of PRODUCT §4, in the user's terms, and a simulated state to check them on.

Owns: each pool's rules (floor, bounds, target, accept/give, subnet, cluster), the facts every step is checked
against (accepted flavors with `maxCount`, the (pool, flavor) counts and free addresses before the plan, addresses
per node and the reserve, `flavor_compat`), the flavor a node runs as in a target pool, and `State`: counts that
steps move, with why a step may not run now. Ordering, staging, waves and the plan document all check steps
here. Must not: choose nodes, order steps or solve.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from planner.planning.moves import Step

Blocker = tuple[str, str, str]  # (rule, pool or subnet, sentence): see State.blocking_rules


@dataclass(frozen=True)
class PoolRules:
    """Per-pool rules in the user's terms, used by ordering and reports."""

    pool: str
    count: int
    floor: int
    lo: int
    hi: int | None
    target: int | None
    takes_part: bool
    accept: bool
    give: bool
    subnet: str | None
    cluster: str
    label: str = ""  # how messages name the pool: "display name (id)", or the id when it has no other name

    @property
    def name(self) -> str:
        return self.label or self.pool


@dataclass(frozen=True)
class StepRules:
    """What the per-step rules need: pool rules, accepted flavors (maxCount), counts and addresses before the plan."""

    pools: dict[str, PoolRules]
    accepted: dict[str, dict[str, int | None]]   # pool -> flavor -> maxCount
    cells: dict[tuple[str, str], int]           # (pool, flavor) -> nodes before the plan
    subnet_free: dict[str, int]
    ips_per_node: int
    ip_reserve: int
    flavor_compat: dict[str, list[str]]

    def resolve_flavor(self, flavor: str, pool: str) -> str | None:
        """The flavor a node of `flavor` runs as in `pool`, or None when the pool accepts none of them."""
        return resolve_flavor(self.flavor_compat, flavor, self.accepted.get(pool, {}))


def resolve_flavor(compat: dict[str, list[str]], flavor: str, accepted: dict[str, Any]) -> str | None:
    """The flavor a node of `flavor` runs as where `accepted` flavors are taken (PRODUCT §3, ruling of 2026-11-29):
    the node's own flavor whenever it is accepted (a node is never relabelled when it fits), else the first
    accepted one of `compat[flavor]`, in the listed order; None when none is accepted."""
    for candidate in [flavor, *compat.get(flavor, [])]:
        if candidate in accepted:
            return candidate
    return None


@dataclass
class State:
    """Counts the per-step rules look at: nodes per pool, per (pool, flavor), free addresses per subnet."""

    rules: StepRules
    count: dict[str, int]
    cell: dict[tuple[str, str], int]
    free: dict[str, int]

    @classmethod
    def initial(cls, rules: StepRules) -> State:
        return cls(rules, {p: r.count for p, r in rules.pools.items()}, dict(rules.cells), dict(rules.subnet_free))

    def copy(self) -> State:
        return State(self.rules, dict(self.count), dict(self.cell), dict(self.free))

    def blockers(self, step: Step, *, leaving: int | None = None, arriving: int | None = None,
                 flavor_arriving: int | None = None, ips_taken: int = 0) -> list[str]:
        """Why `step` may not run now (empty: it may). The keyword arguments widen the check to a wave."""
        return [text for _, _, text in self.blocking_rules(step, leaving=leaving, arriving=arriving,
                                                           flavor_arriving=flavor_arriving, ips_taken=ips_taken)]

    def blocking_rules(self, step: Step, *, leaving: int | None = None, arriving: int | None = None,
                       flavor_arriving: int | None = None, ips_taken: int = 0) -> list[Blocker]:
        """(rule, pool or subnet, sentence) for each per-step rule `step` would break now.

        Rules: "floor" (source), "max" (target), "maxCount" (target), "subnet" (target subnet), "no_subnet".
        """
        ctx = self.rules
        src, tgt = ctx.pools[step.source], ctx.pools[step.target]
        out_n = step.size if leaving is None else leaving
        in_n = step.size if arriving is None else arriving
        g_n = step.size if flavor_arriving is None else flavor_arriving
        why: list[Blocker] = []
        if self.count[step.source] - out_n < src.floor:
            why.append(("floor", step.source, f"pool {src.name} would keep {self.count[step.source] - out_n} "
                                              f"nodes, below its floor {src.floor}"))
        if tgt.hi is not None and self.count[step.target] + in_n > tgt.hi:
            why.append(("max", step.target, f"pool {tgt.name} would have {self.count[step.target] + in_n} nodes, "
                                            f"above its max {tgt.hi}"))
        cap = ctx.accepted.get(step.target, {}).get(step.flavor)
        have = self.cell.get((step.target, step.flavor), 0)
        if cap is not None and have + g_n > cap:
            why.append(("maxCount", step.target, f"pool {tgt.name} would have {have + g_n} nodes of "
                                                 f"{step.flavor}, above its maxCount {cap}"))
        if tgt.subnet is None:
            why.append(("no_subnet", step.target, f"pool {tgt.name} has no known subnet"))
        else:
            need = ips_taken + step.size * ctx.ips_per_node
            room = self.free[tgt.subnet] - ctx.ip_reserve
            if room < need:
                why.append(("subnet", tgt.subnet, f"subnet {tgt.subnet} has {max(room, 0)} free addresses above its "
                                                  f"reserve, needs {need}"))
        return why

    def fit(self, step: Step) -> int:
        """How many of the request's nodes could run now as one request (all or nothing for a super node)."""
        ctx = self.rules
        src, tgt = ctx.pools[step.source], ctx.pools[step.target]
        if tgt.subnet is None:
            return 0
        k = min(step.size, self.count[step.source] - src.floor,
                (self.free[tgt.subnet] - ctx.ip_reserve) // ctx.ips_per_node)
        if tgt.hi is not None:
            k = min(k, tgt.hi - self.count[step.target])
        cap = ctx.accepted.get(step.target, {}).get(step.flavor)
        if cap is not None:
            k = min(k, cap - self.cell.get((step.target, step.flavor), 0))
        if step.super_node and k < step.size:
            return 0
        return max(k, 0)

    def apply(self, step: Step) -> None:
        """The state after `step` has finished: nodes moved, new addresses taken, old ones freed."""
        ctx = self.rules
        self.count[step.source] -= step.size
        self.count[step.target] += step.size
        for f in step.source_flavors:
            self.cell[(step.source, f)] = self.cell.get((step.source, f), 0) - 1
        self.cell[(step.target, step.flavor)] = self.cell.get((step.target, step.flavor), 0) + step.size
        ips = step.size * ctx.ips_per_node
        tsub, ssub = ctx.pools[step.target].subnet, ctx.pools[step.source].subnet
        if tsub is not None:
            self.free[tsub] -= ips
        if ssub is not None:
            self.free[ssub] += ips
