"""The search on the LP optimum's vicinity in the staged solve's (D, B) stage: the vicinity model fixes only
what it says, its placements are placements of the full model, and the staged solve's (D, B, M) and status
stay exactly those of the brute force (OPTIMAL only with the bound's or CP-SAT's proof)."""

from __future__ import annotations

import re
from dataclasses import replace

import pytest
from hypothesis import HealthCheck, given, settings

from solvers import vicinity as vicinity_module
from solvers.backends import cpsat
from solvers.cuts import add_lattice_cuts
from solvers.face import restrict
from solvers.flow import VICINITY_WINDOW, solve_flow
from solvers.linear import LinearModel
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
    feasibility_errors,
)
from solvers.relax import relax
from solvers.result import Status
from solvers.vicinity import agreement, fractional, vicinity
from tests.solvers.problems import brute_force, drain_window_problem, flow_problems, key_of, solves_as_brute_force

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SUPER_NODES = (1, 4, 8, 2)  # unit sizes: plain nodes and super nodes of 2, 4 and 8


def _violations(m: LinearModel, values: list[int]) -> list[str]:
    """Rows and bounds of `m` that `values` breaks (computed here, not by any solver)."""
    broken = [m.names[x] for x, v in enumerate(values) if not m.lbs[x] <= v <= m.ubs[x]]
    for row in m.rows:
        total = sum(c * values[x] for x, c in zip(row.vars, row.coefs, strict=True))
        if (row.lb is not None and total < row.lb) or (row.ub is not None and total > row.ub):
            broken.append(row.name)
    return broken


def test_vicinity_frees_the_fractional_variables_and_their_short_rows_twice_over_and_fixes_the_rest(
        monkeypatch: pytest.MonkeyPatch) -> None:
    m = LinearModel()
    a, b, c, d, e, f = (m.var(0, 9, name) for name in "abcdef")
    m.row({a: 1, b: 1}, None, 5, "ab")  # a is fractional: b is one row away ...
    m.row({b: 1, c: 1}, None, 5, "bc")  # ... c two rows away ...
    m.row({c: 1, d: 1}, None, 5, "cd")  # ... d three: fixed
    m.row({a: 1, e: 1, f: 1}, 1, None, "long")
    values = [0.5, 2.0, 3.0, 4.0, 1.0000000001, 6.6]
    assert fractional(values) == [a, f]
    lbs, ubs = vicinity(m, values, [0] * 6, [9] * 6)
    # a and f are fractional; "ab" and "long" free b and e, then "bc" frees c; d, three rows away, is fixed
    assert list(zip(lbs, ubs, strict=True)) == [(0, 9), (0, 9), (0, 9), (4, 4), (0, 9), (0, 9)]
    monkeypatch.setattr(vicinity_module, "MAX_ROW", 2)  # "long" (3 variables) is not crossed: e is fixed
    lbs, ubs = vicinity(m, values, [0] * 6, [9] * 6)
    assert list(zip(lbs, ubs, strict=True)) == [(0, 9), (0, 9), (0, 9), (4, 4), (1, 1), (0, 9)]
    # a value the LP's tolerances left outside the bounds is fixed at the nearest bound
    lbs, ubs = vicinity(m, [0.5, 2.0, 3.0, 11.0, 1.0, 6.6], [0] * 6, [9] * 6)
    assert (lbs[d], ubs[d]) == (9, 9)
    lbs, ubs = vicinity(m, [0.0, 2.0, 3.0, 4.0, 1.0, 6.0], [0] * 6, [9] * 6)
    assert lbs == ubs == [0, 2, 3, 4, 1, 6]  # an integral LP optimum: everything fixed


def test_agreement_fixes_what_the_lp_and_the_placement_agree_on_and_frees_the_rest() -> None:
    m = LinearModel()
    for name in "abcd":
        m.var(0, 9, name)
    lbs, ubs = agreement(m, [2.0, 3.5, 1.0000000001, 0.0], [2, 3, 1, 4])
    assert list(zip(lbs, ubs, strict=True)) == [(2, 2), (0, 9), (1, 1), (0, 9)]


def test_agreement_also_frees_the_lp_optimum_s_vicinity_where_the_placement_agrees_with_the_lp() -> None:
    m = LinearModel()
    a, b, c, d, e = (m.var(0, 9, name) for name in "abcde")
    m.row({a: 1, b: 1}, None, 8, "ab")  # a is fractional: b, one row away, is in its vicinity ...
    m.row({b: 1, c: 1}, None, 8, "bc")  # ... c two rows away ...
    m.row({c: 1, d: 1}, None, 8, "cd")  # ... d three: not, so where it agrees it stays fixed
    lbs, ubs = agreement(m, [2.5, 3.0, 1.0, 4.0, 6.0], [2, 3, 1, 4, 5])
    # b and c agree with the placement but lie near a; e disagrees; d agrees and lies far from a
    assert list(zip(lbs, ubs, strict=True)) == [(0, 9), (0, 9), (0, 9), (4, 4), (0, 9)]



def test_a_vicinity_placement_short_of_the_bound_goes_to_the_proof_without_the_full_search() -> None:
    p = drain_window_problem()
    assert brute_force(p) == (0, 4, 7)
    for branching in (True, False):  # the window proven by branching on the LP (test_branching.py), or CP-SAT
        result = solve_flow(p, SolveParams(search="scip", staged=True, branching=branching))
        assert result.status == Status.OPTIMAL and (result.deviation, result.busy_moves, result.moves) == (0, 4, 7)
        first_stage = result.detail.partition("stage M")[0]
        proof = "branching proven" if branching else "cpsat infeasible"
        assert "scip on the lp vicinity" in first_stage and proof in first_stage
        assert "; scip optimal" not in first_stage  # the full model was not searched
    without = solve_flow(p, SolveParams(search="scip", staged=True, vicinity=False))
    assert "vicinity" not in without.detail and "; scip optimal" in without.detail.partition("stage M")[0]
    assert (without.status, without.deviation, without.busy_moves, without.moves) == (Status.OPTIMAL, 0, 4, 7)


@SETTINGS
@given(flow_problems(sizes=SUPER_NODES))
def test_the_staged_solve_with_the_vicinity_matches_the_brute_force(p: FlowProblem) -> None:
    solves_as_brute_force(p, SolveParams(staged=True, search="scip"),
                          SolveParams(staged=True, search="scip", vicinity=False))


@SETTINGS
@given(flow_problems(sizes=SUPER_NODES))
def test_a_vicinity_placement_is_a_placement_of_the_full_model_and_never_beats_the_optimum(p: FlowProblem) -> None:
    try:
        m, v, _ = build_model(p)
    except ValueError:
        return
    add_lattice_cuts(m, p, v)
    m.minimize({**dict.fromkeys(v.devs, p.busy_nodes + 1),
                **{v.out[i]: c.size for i, c in enumerate(p.classes) if c.busy}})  # the (D, B) stage's objective
    lp = relax(m, 10.0)
    full = cpsat.solve(m, SolveParams())
    if lp is None or full.status != "OPTIMAL" or full.objective is None:
        return
    bounds = lp.certificate.tightened(m, lp.bound + VICINITY_WINDOW)
    try:
        near = restrict(m, *vicinity(m, lp.values, *bounds))
    except ValueError:
        return  # a row the fixed values break: the pipeline notes it and searches the full model
    answer = cpsat.solve(replace(near.model, objective_lb=lp.bound - near.offset), SolveParams())
    if answer.values is None:
        return
    values = near.expand(answer.values)
    assert _violations(m, values) == []
    assert m.value(values) >= round(full.objective) >= lp.bound
    out = tuple(values[x] for x in v.out)
    into = tuple(values[x] for x in v.into)
    assert not feasibility_errors(p, out, into)


@SETTINGS
@given(flow_problems(sizes=SUPER_NODES))
def test_stage_m_searches_the_agreement_only_from_the_first_stage_s_placement_and_stays_exact(
        p: FlowProblem) -> None:
    result = solve_flow(p, SolveParams(staged=True, search="scip"))
    first, _, second = result.detail.partition("stage M")
    assert "agreement" not in first  # the (D, B) stage has no placement to start from
    if "agreement" in second:
        assert result.status == Status.OPTIMAL  # proven: by the bound, or by CP-SAT's window search
        assert key_of(p, result.out, result.into) == brute_force(p)
    single = solve_flow(p, SolveParams(staged=False, search="scip"))
    assert "agreement" not in single.detail and "the lp vicinity" not in single.detail


@SETTINGS
@given(flow_problems(sizes=SUPER_NODES))
def test_the_face_s_vicinity_keeps_the_one_stage_solve_exact(p: FlowProblem) -> None:
    """The one-stage solve searches the LP optimum's vicinity within the LP face first, objective held at `lb`:
    a placement found there is optimal by the bound, and the answer is the brute force's with or without it."""
    results = solves_as_brute_force(p, SolveParams(staged=False, search="scip"),
                                    SolveParams(staged=False, search="scip", vicinity=False))
    assert all("vicinity" not in without.detail for without in results[1:])


def test_a_placement_at_the_bound_in_the_face_s_vicinity_ends_the_search() -> None:
    """A fractional LP optimum (two super nodes of 8 against a move cap of 2) whose vicinity within the face holds
    a placement at the bound: the whole face is not searched, and the answer is the brute force's."""
    pools = (PoolData(20, 15, None, (4, 4), 0, 0), PoolData(17, 3, None, None, 1, 0), PoolData(3, 2, 6, None, 0, 0))
    comm = (Commodity(0, 1, -1), Commodity(1, 8, -1))
    classes = (UnitClass(0, 0, 0, 1, 0, 1), UnitClass(0, 0, 0, 1, 0, 2, busy=True),
               UnitClass(0, 1, 1, 8, 0, 2, busy=True), UnitClass(1, 1, 1, 8, 0, 2, busy=True),
               UnitClass(2, 0, 0, 1, 0, 1))
    arrivals = tuple(Arrival(k, p, k) for k in (0, 1) for p in (0, 1, 2))
    p = FlowProblem(pools, comm, classes, arrivals, (), (SubnetData(2, 2), SubnetData(5, 0)), ips_per_node=2,
                    max_moves=2, n_flavors=2)
    result = solve_flow(p, SolveParams(staged=False, search="scip"))
    assert "scip on the lp face's vicinity" in result.detail and "scip on the lp face (" not in result.detail
    assert result.status == Status.OPTIMAL
    assert (result.deviation, result.busy_moves, result.moves) == brute_force(p)


@SETTINGS
@given(flow_problems(sizes=SUPER_NODES))
def test_the_window_s_vicinity_keeps_the_one_stage_solve_exact(p: FlowProblem) -> None:
    """When the face holds no placement at the bound, the one-stage solve searches the LP optimum's vicinity within
    `[lb, lb + VICINITY_WINDOW]` (CP-SAT) for the full search's start: the answer is the brute force's with or
    without it, and without it that search does not run."""
    results = solves_as_brute_force(p, SolveParams(staged=False, search="scip"),
                                    SolveParams(staged=False, search="scip", window=False))
    assert all("window" not in without.detail for without in results[1:])


def test_a_placement_in_the_window_s_vicinity_above_the_bound_starts_the_full_search_and_is_proven_by_cp_sat() -> None:
    """One super node of 4 and a pool that needs a node: the LP moves a quarter of it (lb = 1), every placement
    moves all 4 nodes. The face (objective <= lb) holds none (CP-SAT proves it: lb + 1 is a bound); the window's
    vicinity holds the optimum (lb + 3), which is not taken as proven: the full model is searched from it and CP-SAT
    proves the window below it empty. (The substituted lattice cuts, before the face, find no row the LP violates.)"""
    p = FlowProblem((PoolData(0, 1, None, None, 0, 0), PoolData(4, 0, None, None, 0, 0)),
                    (Commodity(0, 1, -1), Commodity(1, 4, -1)), (UnitClass(1, 1, 1, 4, 0, 1),),
                    (Arrival(1, 0, 1),), (FlavorCell(0, 0, 0, None, None),), (SubnetData(0, 0),),
                    ips_per_node=1, max_moves=None, n_flavors=2)
    result = solve_flow(p, SolveParams(staged=False, search="scip"))
    steps = [re.sub(r"( \(.*\))?( \w+)? [\d.]+ s$", "", step) for step in result.detail.split("; ")]
    assert steps == ["lp", "scip on the lp face's vicinity", "0 cuts, 0 lps, lb +0", "cpsat on the lp face",
                     "cpsat on the lp window's vicinity", "scip", "cpsat"], result.detail
    assert "window's vicinity (2 of 2 variables) optimal" in result.detail
    assert result.detail.rsplit("; ", 1)[1].startswith("cpsat infeasible")  # the window [lb, best - 1] is empty
    assert result.status == Status.OPTIMAL
    assert (result.deviation, result.busy_moves, result.moves) == brute_force(p) == (0, 0, 4)
    without = solve_flow(p, SolveParams(staged=False, search="scip", window=False))
    assert "window" not in without.detail and without.status == Status.OPTIMAL and without.moves == 4
