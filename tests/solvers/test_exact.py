"""The pieces behind an exact answer: lattice cuts keep every integer solution, the LP bound is proven for any
dual vector, statuses claim OPTIMAL only with a proof, restrictions hold, CP-SAT threads leave a core free."""

from __future__ import annotations

import itertools
import math
import random
from dataclasses import replace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from solvers.backends import cpsat
from solvers.cuts import add_lattice_cuts, hull_edges
from solvers.flow import Restrictions, infeasible_rules, solve_flow
from solvers.model import build_model
from solvers.params import SolveParams
from solvers.problem import (
    Arrival,
    Commodity,
    FlavorCell,
    FlowProblem,
    PoolData,
    SubnetData,
    UnitClass,
    band_distance,
    feasibility_errors,
)
from solvers.relax import certified_bound, relax
from solvers.result import Status
from tests.solvers.problems import brute_force, flow_problems

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@given(st.integers(-20, 20), st.integers(2, 9), st.integers(-15, 15), st.integers(0, 6))
def test_hull_edges_lie_under_the_distance_on_the_lattice(base: int, g: int, low: int, width: int) -> None:
    band = (low, low + width)
    edges = hull_edges(base, g, band)
    assert edges
    for (x1, y1), (x2, y2) in edges:
        assert (x1 - base) % g == 0 and (x2 - base) % g == 0
        assert y1 == band_distance(x1, band) and y2 == band_distance(x2, band), "hull vertices are lattice points"
        for z in range(-40, 41):
            x = base + g * z
            # the edge's line, scaled by (x2 - x1) > 0, never exceeds the distance at any lattice point
            assert (x2 - x1) * band_distance(x, band) >= (x2 - x1) * y1 + (y2 - y1) * (x - x1)


def _super_node_pool() -> FlowProblem:
    """Pool 0 (24 nodes) sends and receives only super nodes of 4 and wants 18: it can reach 16 or 20 only."""
    comms = (Commodity(0, 4, -1), Commodity(0, 8, -1))
    classes = (UnitClass(0, 0, 0, 4, 0, 4), UnitClass(0, 1, 0, 8, 0, 1), UnitClass(1, 0, 0, 4, 0, 3))
    pools = (PoolData(24, 2, None, (18, 18), 0, 0), PoolData(12, 2, None, None, 0, 0))
    arrivals = (Arrival(0, 0, 0), Arrival(0, 1, 0), Arrival(1, 1, 0))
    return FlowProblem(pools, comms, classes, arrivals, (), (SubnetData(100, 0),))


def test_cuts_raise_the_lp_bound_to_the_integer_optimum() -> None:
    p = _super_node_pool()
    plain, _, w = build_model(p)
    with_cuts, v, _ = build_model(p)
    assert add_lattice_cuts(with_cuts, p, v) >= 1
    loose, tight = relax(plain, 10), relax(with_cuts, 10)
    assert loose is not None and tight is not None
    assert w.split(loose.bound)[0] == 0 and w.split(tight.bound)[0] == 2  # dist(18, {16, 20}) = 2
    result = solve_flow(p)
    assert (result.status, result.deviation, result.bound) == (Status.OPTIMAL, 2, 2)


@SETTINGS
@given(flow_problems())
def test_cuts_never_remove_an_integer_optimum(p: FlowProblem) -> None:
    best = brute_force(p)
    try:
        m, v, w = build_model(p)
    except ValueError:  # a rule that no placement can meet, found while building
        assert best is None
        return
    add_lattice_cuts(m, p, v)
    answer = cpsat.solve(m, SolveParams())
    if best is None:
        assert answer.status == "INFEASIBLE"
        return
    assert answer.status == "OPTIMAL" and answer.objective is not None
    assert w.split(round(answer.objective)) == best


@SETTINGS
@given(flow_problems(), st.randoms(use_true_random=False))
def test_the_certified_bound_holds_for_any_dual_vector(p: FlowProblem, rnd: random.Random) -> None:
    """Weak duality evaluated exactly: GLOP's duals, zero, or random junk, the bound never exceeds the optimum."""
    best = brute_force(p)
    if best is None:
        return
    m, v, w = build_model(p)
    add_lattice_cuts(m, p, v)
    lp = relax(m, 10)
    optimum = w.deviation * best[0] + w.busy * best[1] + best[2]
    assert lp is not None and lp.bound <= optimum
    assert lp.bound >= math.ceil(lp.objective - 1e-6) - 1, "GLOP's duals give (nearly) the LP optimum"
    for _ in range(3):
        junk = [rnd.uniform(-2 * w.deviation, 2 * w.deviation) for _ in m.rows]
        assert certified_bound(m, junk) <= optimum
    assert certified_bound(m, [0.0] * len(m.rows)) <= optimum


def test_a_timeout_is_never_called_optimal() -> None:
    p = _super_node_pool()
    result = solve_flow(p, SolveParams(time_limit=1e-6))
    assert result.status != Status.OPTIMAL or result.bound == result.deviation


def test_restrictions_close_arrivals_and_make_pools_one_way() -> None:
    comm = Commodity(0, 1, -1)
    classes = (UnitClass(0, 0, 0, 1, 0, 4), UnitClass(1, 0, 0, 1, 0, 4), UnitClass(2, 0, 0, 1, 0, 4))
    pools = (PoolData(4, 0, None, (0, 0), 0, 0), PoolData(4, 0, None, (6, 6), 0, 0),
             PoolData(4, 0, None, (6, 6), 0, 0))
    arrivals = (Arrival(0, 0, 0), Arrival(0, 1, 0), Arrival(0, 2, 0))
    p = FlowProblem(pools, (comm,), classes, arrivals, (), (SubnetData(100, 0),))
    free = solve_flow(p)
    assert (free.deviation, free.into[1], free.into[2]) == (0, 2, 2)
    closed = solve_flow(p, restrictions=Restrictions(closed_arrivals=frozenset({2})))
    # only pool 1 may receive: it takes 2, pool 0 keeps 2 (off by 2), pool 2 stays 2 short
    assert closed.into[2] == 0 and closed.deviation == 4 and not feasibility_errors(p, closed.out, closed.into)
    one_way = solve_flow(p, restrictions=Restrictions(one_way_pools=frozenset({1})))
    assert one_way.status == Status.OPTIMAL
    assert not (one_way.out[1] and one_way.into[1]), "a one-way pool sends or receives, not both"


def test_infeasible_rules_name_a_core() -> None:
    comm = Commodity(0, 1, -1)
    pools = (PoolData(2, 5, None, None, 0, 0), PoolData(2, 2, None, None, 0, 0))
    p = FlowProblem(pools, (comm,), (UnitClass(1, 0, 0, 1, 0, 2),), (Arrival(0, 0, 0),), (), (SubnetData(9, 0),))
    assert solve_flow(p).status == Status.INFEASIBLE
    assert infeasible_rules(p) == ["pool_lo:0"]  # 2 + the 2 units pool 1 has < 5


def test_cpsat_threads_leave_one_core(monkeypatch: pytest.MonkeyPatch) -> None:
    for cores, workers, expected in ((2, 1, 1), (2, 2, 1), (2, 8, 1), (8, 2, 2), (8, 8, 7), (1, 4, 1)):
        monkeypatch.setattr(cpsat.os, "cpu_count", lambda cores=cores: cores)
        assert cpsat.threads(workers) == expected
    monkeypatch.setattr(cpsat.os, "cpu_count", lambda: 8)
    params = cpsat._parameters(SolveParams(workers=3))
    assert params.num_workers == 3 and not params.use_lns and list(params.subsolvers) == list(cpsat.CPSAT_SUBSOLVERS)


def test_a_cap_cell_and_subnet_division_keep_the_rules() -> None:
    """ips_per_node 2: the subnet row is divided by 2 and rounded down, the same integer solutions."""
    comm = Commodity(0, 1, -1)
    pools = (PoolData(6, 0, None, (0, 0), 0, 0), PoolData(0, 0, None, (6, 6), 1, 0))
    cells = (FlavorCell(1, 0, 0, None, 4),)
    p = FlowProblem(pools, (comm,), (UnitClass(0, 0, 0, 1, 0, 6),), (Arrival(0, 1, 0),), cells,
                    (SubnetData(50, 0), SubnetData(7, 0)), ips_per_node=2)
    result = solve_flow(p)
    assert result.into == (3,), "7 free addresses hold 3 nodes of 2 (the cap of 4 does not bind)"
    assert brute_force(p) == (result.deviation, 0, result.moves)
    roomy = replace(p, subnets=(SubnetData(50, 0), SubnetData(20, 0)))  # now maxCount 4 binds: 2 + 2 off target
    assert brute_force(roomy) == (4, 0, 4) == (solve_flow(roomy).deviation, 0, solve_flow(roomy).moves)


def test_every_small_problem_in_a_grid_matches_the_brute_force() -> None:
    """A deterministic sweep (no hypothesis): targets and super-node sizes around a lattice."""
    for target, size, count in itertools.product((3, 5, 7, 9), (1, 2, 4), (1, 2, 3)):
        comm = Commodity(0, size, -1)
        pools = (PoolData(size * count, 0, None, None, 0, 0), PoolData(2, 0, None, (target, target), 0, 0))
        p = FlowProblem(pools, (comm,), (UnitClass(0, 0, 0, size, 0, count),), (Arrival(0, 1, 0),), (),
                        (SubnetData(100, 0),))
        result = solve_flow(p)
        assert (result.deviation, result.busy_moves, result.moves) == brute_force(p), (target, size, count)
