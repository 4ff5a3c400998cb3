"""What keeps a plan from the targets, in the user's terms: infeasibility, reachability cuts, residual deviation.

Owns: asking the solver for a small set of hard rules that conflict (an assumptions core) and describing
each with the numbers behind it (exit 3); the constraints that keep the solver away from a placement no safe
order reaches (PRODUCT §5 reachability), with the reason in words; and, for each pool that ends off its
target, the deviation left and the rules that limit it.
Must not: change the problem, or build the plan document.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from itertools import compress, repeat
from operator import itemgetter
from typing import TYPE_CHECKING

from planner.errors import PlanningError
from planner.planfile import Residual
from planner.planning.busy import BUSY_PREFIX
from planner.planning.problem import Context
from planner.planning.rules import Blocker, PoolRules, State, StepRules, resolve_flavor
from solvers.flow import Restrictions, infeasible_rules
from solvers.params import SolveParams
from solvers.problem import Band, FlowProblem

if TYPE_CHECKING:
    from planner.planning.moves import Step


def describe_rule(tag: str, problem: FlowProblem, ctx: Context) -> tuple[str, str | None]:
    """(sentence, pool or subnet id) for one rule tag of the model."""
    kind, _, idx = tag.partition(":")
    if kind in ("pool_lo", "pool_hi"):
        i = int(idx)
        pool = ctx.pool_ids[i]
        pd_, r = problem.pools[i], ctx.rules.pools[pool]
        movable_out = sum(c.size * c.count for c in problem.classes if c.pool == i)
        if kind == "pool_lo":
            why = "spec min" if r.lo > min(r.count, r.floor) else "floor"
            if not r.give and r.lo == r.count:
                why = "give: false"
            return (f"pool {r.name} must end with at least {pd_.lo} nodes ({why}); it has {pd_.count}", pool)
        why = "spec max" if r.hi is not None and r.hi < r.count else "max"
        if not r.accept:
            why = "accept: false"
        return (f"pool {r.name} must end with at most {pd_.hi} nodes ({why}); it has {pd_.count}, "
                f"{movable_out} of them may move", pool)
    if kind == "cap":
        cell = problem.cells[int(idx)]
        pool = ctx.pool_ids[cell.pool]
        return (f"pool {ctx.rules.pools[pool].name} may hold at most {cell.cap} nodes of {ctx.flavors[cell.flavor]} "
                f"(maxCount); "
                f"it has {cell.count}", pool)
    if kind == "subnet":
        s = int(idx)
        sid = ctx.subnet_ids[s]
        return (f"subnet {sid} must keep {problem.subnets[s].lo} free addresses; it has "
                f"{problem.subnets[s].free}", sid)
    if tag == "max_moves":
        return (f"at most {problem.max_moves} nodes may move (limits.max_moves)", None)
    return (tag, None)


def explain_infeasible(problem: FlowProblem, ctx: Context, params: SolveParams) -> PlanningError:
    """A PlanningError naming a small set of conflicting hard rules, found from the model."""
    tags = infeasible_rules(problem, params)
    if not tags:
        return PlanningError("no placement meets the hard rules (the solver found no smaller explanation)")
    described = [describe_rule(t, problem, ctx) for t in tags]
    sentences = [d[0] for d in described]
    pools = sorted({d[1] for d in described if d[1]})
    supply = problem.movable_nodes
    msg = "no placement meets the hard rules: " + "; ".join(sentences) + f" ({supply} nodes may move in all)"
    return PlanningError(msg, rules=sentences, pools=pools)


def restrictions_for(blocked: list[tuple[Step, list[Blocker]]], problem: FlowProblem, ctx: Context,
                     current: Restrictions) -> tuple[Restrictions | None, list[str]]:
    """Constraints that keep the solver away from what blocked the last order, with the reason in words.

    A pool that must both send and receive but is held by its floor or its max becomes one-way; any other
    blocked request closes that commodity's way into its target pool. None when nothing new can be added.
    """
    node_class = {n: ci for ci, units in enumerate(ctx.class_units) for u in units for n in ctx.unit_nodes[u]}
    pool_index = {p: i for i, p in enumerate(ctx.pool_ids)}
    arrival_index = {(a.commodity, a.pool): j for j, a in enumerate(problem.arrivals)}
    senders = {s.source for s, _ in blocked}
    receivers = {s.target for s, _ in blocked}
    one_way = set(current.one_way_pools)
    closed = set(current.closed_arrivals)
    words: list[str] = []
    for step, why in blocked:  # why: the rules that held the step at the deadlock
        rules = {rule: (subject, text) for rule, subject, text in why}
        src, tgt = pool_index[step.source], pool_index[step.target]
        r_src, r_tgt = ctx.rules.pools[step.source], ctx.rules.pools[step.target]
        if "floor" in rules and step.source in receivers and src not in one_way:
            one_way.add(src)
            words.append(f"pool {r_src.name} would have to receive before it sends, but it cannot go below its "
                         f"floor {r_src.floor} or above its max {r_src.hi} and no pool can hold a unit in transit")
            continue
        if "max" in rules and step.target in senders and tgt not in one_way:
            one_way.add(tgt)
            words.append(f"pool {r_tgt.name} is at its max {r_tgt.hi} and would have to send before it receives, "
                         f"and no pool can hold a unit in transit")
            continue
        ci = node_class.get(step.nodes[0])
        if ci is None:
            continue
        j = arrival_index.get((problem.classes[ci].commodity, tgt))
        if j is None or j in closed:
            continue
        closed.add(j)
        reason = next(iter(rules.values()))[1] if rules else "no safe order exists"
        words.append(f"no safe order moves {step.flavor} nodes into pool {r_tgt.name} ({reason})")
    if one_way == set(current.one_way_pools) and closed == set(current.closed_arrivals):
        return None, []
    return replace(current, one_way_pools=frozenset(one_way), closed_arrivals=frozenset(closed)), words


def residual_report(ctx: Context, after: State, *, moves: int, max_moves: int | None, allow_cross_cluster: bool,
                    blocked_by: list[str], excluded_reason: dict[str, str]) -> dict[str, Residual]:
    """For every pool that ends off its target (in `after`): the deviation left and the rules that limit it."""
    out: dict[str, Residual] = {}
    excluded_pools = list(map(itemgetter("pool"), ctx.excluded))
    is_busy = map(str.startswith, map(itemgetter("reason"), ctx.excluded), repeat(BUSY_PREFIX))
    excluded_by_pool: dict[str, int] = Counter(excluded_pools)
    busy_by_pool: dict[str, int] = Counter(compress(excluded_pools, is_busy))  # busy under `keep` (PRODUCT §9)
    bands: dict[str, list[tuple[str, Band]]] = {}
    for (p, flavor), band in ctx.flavor_targets.items():
        bands.setdefault(p, []).append((flavor, band))
    held: dict[str, set[str]] = {}  # the flavors each pool holds after the plan
    for (p, flavor), n in after.cell.items():
        if n > 0:
            held.setdefault(p, set()).add(flavor)
    holders = _Holders(ctx.rules, held)
    for pool in ctx.pool_ids:
        r = ctx.rules.pools[pool]
        count = after.count[pool]
        short = over = 0
        if r.target is not None:
            short += max(0, r.target - count)
            over += max(0, count - r.target)
        for flavor, (low, high) in bands.get(pool, []):
            have = after.cell.get((pool, flavor), 0)
            short += max(0, low - have)
            over += max(0, have - high)
        if not short and not over:
            continue
        why: list[str] = []
        if not r.takes_part:
            why.append(f"the pool does not take part ({excluded_reason.get(pool, '')})")
        if short:
            why += _short_reasons(ctx, after, pool)
        if over:
            if not r.give:
                why.append("give: false")
            if count <= r.floor:
                why.append(f"at its floor {r.floor}")
            movable_left = count - excluded_by_pool.get(pool, 0)
            if movable_left < over:
                busy = f"; {busy_by_pool[pool]} of them busy and busy_nodes is keep" if pool in busy_by_pool else ""
                why.append(f"only {max(movable_left, 0)} of its nodes may move "
                           f"({excluded_by_pool.get(pool, 0)} may not{busy})")
        if max_moves is not None and moves >= max_moves:
            why.append(f"limits.max_moves {max_moves} reached")
        why += [word for word in blocked_by if f"pool {r.name} " in word]
        if not why:
            why.append(_no_giver(ctx, after, pool, allow_cross_cluster, holders, excluded_by_pool) if short
                       else _no_taker(ctx, after, pool, allow_cross_cluster, held))
        out[pool] = Residual(deviation=short + over, short=short, over=over, limited_by=why)
    return out


def _short_reasons(ctx: Context, after: State, pool: str) -> list[str]:
    """Why a pool below its target cannot receive more, from the state after the plan."""
    rules = ctx.rules
    r = rules.pools[pool]
    why: list[str] = []
    if not r.accept:
        why.append("accept: false")
    if r.hi is not None and after.count[pool] >= r.hi:
        why.append(f"at its max {r.hi}")
    if r.subnet is None:
        why.append("no known subnet")
    elif after.free.get(r.subnet, 1) - rules.ip_reserve < rules.ips_per_node:
        why.append(f"subnet {r.subnet} has no free address left above its reserve")
    capped = [f for f, cap in rules.accepted.get(pool, {}).items()
              if cap is not None and after.cell.get((pool, f), 0) >= cap]
    if capped:
        why.append("at maxCount for " + ", ".join(sorted(capped)))
    return why


_SHOWN = 3  # pools named in one reason; the rest are counted


def _listed(reasons: list[str], total: int | None = None) -> str:
    """The first reasons, and how many more there are (`total`: all of them, when only the first were worded)."""
    total = len(reasons) if total is None else total
    more = f"; and {total - _SHOWN} more pool(s)" if total > _SHOWN else ""
    return "; ".join(reasons[:_SHOWN]) + more


def _no_taker(ctx: Context, after: State, pool: str, cross: bool, held_by: dict[str, set[str]]) -> str:
    """Why the nodes of a pool above its target have nowhere to go: each pool that would accept them, and its limit."""
    rules = ctx.rules
    held = sorted(held_by.get(pool, ()))
    reasons: list[str] = []
    for other, r in rules.pools.items():
        if other == pool or not r.takes_part:
            continue
        fits = [rules.resolve_flavor(f, other) for f in held]
        if not any(fits):
            continue
        count = after.count[other]
        if not cross and r.cluster != rules.pools[pool].cluster:
            reasons.append(f"{r.name} is in another cluster (limits.allow_cross_cluster: false)")
        elif not r.accept:
            reasons.append(f"{r.name} has accept: false")
        elif r.subnet is None:
            reasons.append(f"{r.name} has no known subnet")
        elif r.hi is not None and count >= r.hi:
            reasons.append(f"{r.name} is at its max {r.hi}")
        elif after.free.get(r.subnet, 0) - rules.ip_reserve < rules.ips_per_node:
            reasons.append(f"{r.name}'s subnet {r.subnet} has no free address above its reserve")
        elif all(g is None or (rules.accepted[other].get(g) is not None
                               and after.cell.get((other, g), 0) >= (rules.accepted[other][g] or 0)) for g in fits):
            reasons.append(f"{r.name} is at maxCount for {', '.join(sorted({g for g in fits if g}))}")
        elif r.target is not None and count >= r.target:
            reasons.append(f"{r.name} is at or above its own target {r.target}")
        else:
            reasons.append(f"moving them into {r.name} would not lower the deviation (its flavor targets)")
    if not reasons:
        return f"no other pool that takes part accepts its flavors ({', '.join(held) or 'none'})"
    return "its nodes have nowhere to go: " + _listed(reasons)


class _Holders:
    """The pools that take part and hold a flavor after the plan, indexed once for every pool short of its target:
    flavor -> the positions (in the rules' pool order) of the pools holding it."""

    def __init__(self, rules: StepRules, held_by: dict[str, set[str]]) -> None:
        self.compat = rules.flavor_compat
        self._fits: dict[frozenset[str], frozenset[str]] = {}
        self._holders: dict[frozenset[str], tuple[list[int], set[int]]] = {}
        self.pools = list(rules.pools.items())
        self.position = {pool: i for i, (pool, _) in enumerate(self.pools)}
        self.flavors: set[str] = set().union(*held_by.values())  # every flavor some pool holds
        self.by_flavor: dict[str, set[int]] = {}
        for i, (pool, r) in enumerate(self.pools):
            if r.takes_part:
                for flavor in held_by.get(pool, ()):
                    self.by_flavor.setdefault(flavor, set()).add(i)

    def fits(self, accepted: dict[str, int | None]) -> frozenset[str]:
        """The flavors some pool holds that a pool accepting `accepted` could take (each accepted set worked out
        once: the same accepted flavors take the same ones)."""
        key = frozenset(accepted)
        found = self._fits.get(key)
        if found is None:
            found = self._fits[key] = frozenset(
                f for f in self.flavors if resolve_flavor(self.compat, f, accepted))
        return found

    def of(self, fits: frozenset[str], pool: str) -> tuple[list[tuple[str, PoolRules]], int]:
        """The first `_SHOWN` pools but `pool` (in the rules' order) that take part and hold a flavor of `fits`,
        and how many there are in all."""
        holders = self._holders.get(fits)
        if holders is None:  # (each set of flavors worked out once: their holders, in order, and as a set)
            found: set[int] = set().union(*(self.by_flavor.get(f, ()) for f in fits))
            holders = self._holders[fits] = (sorted(found)[:_SHOWN + 1], found)
        first, found = holders
        me = self.position[pool]
        return [self.pools[i] for i in first if i != me][:_SHOWN], len(found) - (me in found)


def _no_giver(ctx: Context, after: State, pool: str, cross: bool, index: _Holders, excluded: dict[str, int]) -> str:
    """Why a pool below its target gets no more nodes: each pool holding a flavor it accepts, and why it cannot give
    (the first few worded, the rest counted)."""
    rules = ctx.rules
    accepted = rules.accepted.get(pool, {})
    first, total = index.of(index.fits(accepted), pool)
    if not total:
        return f"no other pool holds a movable node of a flavor it accepts ({', '.join(sorted(accepted)) or 'none'})"
    reasons = [_cannot_give(rules, after, pool, cross, other, r, excluded) for other, r in first]
    return "no pool can spare a node it accepts: " + _listed(reasons, total)


def _cannot_give(rules: StepRules, after: State, pool: str, cross: bool, other: str, r: PoolRules,
                 excluded: dict[str, int]) -> str:
    """Why pool `other` (rules `r`) gives `pool` no node."""
    count = after.count[other]
    if not cross and r.cluster != rules.pools[pool].cluster:
        return f"{r.name} is in another cluster (limits.allow_cross_cluster: false)"
    if not r.give:
        return f"{r.name} has give: false"
    if count <= r.floor:
        return f"{r.name} is at its floor {r.floor}"
    if r.target is not None and count <= r.target:
        return f"{r.name} is at or below its own target {r.target}"
    if excluded.get(other, 0) >= count:
        return f"{r.name}'s nodes may not move ({excluded[other]})"
    return f"taking from {r.name} would not lower the deviation (its flavor targets)"
