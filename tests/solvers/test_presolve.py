"""CP-SAT's presolve is off only where CP-SAT searches alone (models below LARGE_MODEL variables): there it measured
slower than the search it prepares on every 10k family (benchmarks/RESULTS.md). CP-SAT's search of the LP face
presolves `FACE_PRESOLVE_ROUNDS` rounds (session 23). The answers stay exact."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings

from solvers.backends import cpsat
from solvers.flow import FACE_PRESOLVE_ROUNDS, solve_flow
from solvers.params import SolveParams
from solvers.problem import Arrival, Commodity, FlavorCell, FlowProblem, PoolData, SubnetData, UnitClass
from solvers.result import Status
from tests.solvers.problems import brute_force, flow_problems, key_of, solves_as_brute_force


def presolve_flags(monkeypatch: pytest.MonkeyPatch, p: FlowProblem, params: SolveParams) -> list[bool]:
    """`cp_model_presolve` of every CP-SAT call `solve_flow(p, params)` makes."""
    seen: list[bool] = []
    real = cpsat._run

    def spy(proto: Any, parameters: Any) -> Any:
        seen.append(bool(parameters.cp_model_presolve))
        return real(proto, parameters)

    monkeypatch.setattr(cpsat, "_run", spy)
    solve_flow(p, params)
    return seen


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.function_scoped_fixture])
@given(flow_problems())
def test_presolve_is_off_where_cpsat_searches_alone_and_on_when_asked(monkeypatch: pytest.MonkeyPatch,
                                                                       p: FlowProblem) -> None:
    default = presolve_flags(monkeypatch, p, SolveParams())
    assume(default)  # a problem whose rules fail while the model is built never reaches CP-SAT
    assert set(default) == {False}
    assert set(presolve_flags(monkeypatch, p, SolveParams(presolve=True))) == {True}


def test_the_backend_keeps_presolve_unless_told() -> None:
    """Proofs and cores (CP-SAT after an LP bound or SCIP, `infeasible_rules`) keep CP-SAT's presolve."""
    assert cpsat._parameters(SolveParams()).cp_model_presolve
    assert cpsat._parameters(SolveParams(presolve=True)).cp_model_presolve
    assert not cpsat._parameters(SolveParams(presolve=False)).cp_model_presolve


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(flow_problems())
def test_without_presolve_the_answer_is_the_brute_force_optimum(p: FlowProblem) -> None:
    best = brute_force(p)
    result = solve_flow(p)
    with_presolve = solve_flow(p, SolveParams(presolve=True))
    if best is None:
        assert result.status == with_presolve.status == Status.INFEASIBLE
        return
    assert result.status == with_presolve.status == Status.OPTIMAL
    assert key_of(p, result.out, result.into) == key_of(p, with_presolve.out, with_presolve.into) == best


def test_the_face_s_search_presolves_face_presolve_rounds_and_every_other_cp_sat_call_its_default() -> None:
    """One super node of 4 and a pool that needs a node (tests/solvers/test_vicinity.py): CP-SAT proves the LP face
    empty at the bound (1 round), searches the LP window's vicinity and proves the window below the optimum empty
    (CP-SAT's own 3 rounds); told a number of rounds, every call takes it."""
    p = FlowProblem((PoolData(0, 1, None, None, 0, 0), PoolData(4, 0, None, None, 0, 0)),
                    (Commodity(0, 1, -1), Commodity(1, 4, -1)), (UnitClass(1, 1, 1, 4, 0, 1),),
                    (Arrival(1, 0, 1),), (FlavorCell(0, 0, 0, None, None),), (SubnetData(0, 0),),
                    ips_per_node=1, max_moves=None, n_flavors=2)
    for rounds, expected in ((None, [FACE_PRESOLVE_ROUNDS, 3, 3]), (2, [2, 2, 2])):
        seen: list[int] = []
        real = cpsat._run

        def spy(proto: Any, parameters: Any, seen: list[int] = seen, real: Any = real) -> Any:
            seen.append(parameters.max_presolve_iterations)
            return real(proto, parameters)

        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(cpsat, "_run", spy)
            result = solve_flow(p, SolveParams(staged=False, search="scip", presolve_rounds=rounds))
        assert result.detail.rsplit("; ", 1)[1].startswith("cpsat infeasible"), result.detail
        assert seen == expected and result.status == Status.OPTIMAL and result.moves == 4
    assert FACE_PRESOLVE_ROUNDS == 1 and cpsat._parameters(SolveParams()).max_presolve_iterations == 3
    with pytest.raises(ValueError, match="presolve_rounds"):
        SolveParams(presolve_rounds=-1)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(flow_problems(sizes=(1, 4, 8, 2)))
def test_one_presolve_round_on_the_face_keeps_the_brute_force_optimum(p: FlowProblem) -> None:
    """The LP-bound path (CP-SAT on the face, SCIP searching, CP-SAT proving windows) gives the brute force's answer
    with the face's presolve rounds as they are and with CP-SAT's default."""
    solves_as_brute_force(p, SolveParams(staged=False, search="scip"),
                          SolveParams(staged=False, search="scip", presolve_rounds=3))
