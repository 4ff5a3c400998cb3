"""CP-SAT's presolve is off only where CP-SAT searches alone (models below LARGE_MODEL variables): there it measured
slower than the search it prepares on every 10k family (benchmarks/RESULTS.md). The answers stay exact."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings

from solvers.backends import cpsat
from solvers.flow import solve_flow
from solvers.params import SolveParams
from solvers.problem import FlowProblem
from solvers.result import Status
from tests.solvers.problems import brute_force, flow_problems, key_of


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
