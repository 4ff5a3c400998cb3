"""solve_proto: SCIP answered through OR-Tools' model_builder helper (the interpreter lock released) gives the answers
pywraplp's SolveWithProto gives, for feasible and infeasible models."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from ortools.linear_solver import linear_solver_pb2, pywraplp

from solvers.backends.mpsolver import mp_model, solve_proto
from solvers.model import build_model
from solvers.problem import FlowProblem
from tests.solvers.problems import flow_problems

SCIP = linear_solver_pb2.MPModelRequest.SCIP_MIXED_INTEGER_PROGRAMMING
SCIP_SETTINGS = "limits/gap = 0\nlimits/absgap = 0.5\npresolving/maxrounds = 0\nrandomization/randomseedshift = 0\n"


def _pywraplp(proto: object, solver_type: int, parameters: str = "") -> object:
    request = linear_solver_pb2.MPModelRequest()
    request.model.CopyFrom(proto)
    request.solver_type = solver_type
    request.solver_time_limit_seconds = 10
    request.solver_specific_parameters = parameters
    response = linear_solver_pb2.MPSolutionResponse()
    pywraplp.Solver.SolveWithProto(request, response)
    return response


def _answer(response: object) -> tuple[int, float, list[float], list[float]]:
    r: linear_solver_pb2.MPSolutionResponse = response  # type: ignore[assignment]
    return r.status, r.objective_value, list(r.variable_value), list(r.dual_value)


def _proto(p: FlowProblem, *, integer: bool) -> Any:
    """The problem's model as a proto (every variable integer, or none), or None: a constant row cannot hold."""
    try:
        model, _, _ = build_model(p)
    except ValueError:
        return None
    proto = mp_model(model)
    for var in proto.variable:
        var.is_integer = integer
    return proto


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(flow_problems())
def test_scip_answers_as_pywraplp_does(p: FlowProblem) -> None:
    mip = _proto(p, integer=True)
    if mip is None:
        return
    assert _answer(solve_proto(mip, SCIP, 10, SCIP_SETTINGS)) == _answer(_pywraplp(mip, SCIP, SCIP_SETTINGS))


def _infeasible() -> object:
    proto = linear_solver_pb2.MPModelProto()
    for _ in range(2):
        var = proto.variable.add()
        var.lower_bound, var.upper_bound, var.is_integer = 0, 3, True
    row = proto.constraint.add()
    row.var_index.extend([0, 1])
    row.coefficient.extend([2, 2])
    row.lower_bound = row.upper_bound = 5  # 2x + 2y = 5 has no integer solution; its relaxation has
    return proto


def test_statuses_are_those_of_pywraplp() -> None:
    proto = _infeasible()
    ours, theirs = solve_proto(proto, SCIP, 10), _pywraplp(proto, SCIP)
    assert ours.status == theirs.status == linear_solver_pb2.MPSOLVER_INFEASIBLE  # type: ignore[attr-defined]


def test_scip_refusing_its_parameters_is_no_answer() -> None:
    response = solve_proto(_infeasible(), SCIP, 10, "no/such/parameter = 1\n")
    assert response.status not in (linear_solver_pb2.MPSOLVER_OPTIMAL, linear_solver_pb2.MPSOLVER_FEASIBLE)
    assert len(response.variable_value) == 0



@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(flow_problems())
def test_scip_takes_the_hint_as_pywraplp_does(p: FlowProblem) -> None:
    """The searches hand SCIP a starting solution (`LinearModel.hint`, in the proto's solution_hint)."""
    proto = _proto(p, integer=True)
    if proto is None:
        return
    proto.solution_hint.var_index.extend(range(len(proto.variable)))
    proto.solution_hint.var_value.extend(v.lower_bound for v in proto.variable)
    assert _answer(solve_proto(proto, SCIP, 10, SCIP_SETTINGS)) == _answer(_pywraplp(proto, SCIP, SCIP_SETTINGS))


def test_without_a_temporary_file_scip_is_solved_by_pywraplp(monkeypatch: pytest.MonkeyPatch) -> None:
    import solvers.backends.mpsolver

    def refuse(*args: object, **kwargs: object) -> tuple[int, str]:
        raise OSError("read-only file system")

    monkeypatch.setattr(solvers.backends.mpsolver.tempfile, "mkstemp", refuse)
    proto = _infeasible()
    proto.constraint[0].lower_bound = proto.constraint[0].upper_bound = 4
    for var in proto.variable:
        var.objective_coefficient = 1
    answer = solve_proto(proto, SCIP, 10)
    assert answer.status == linear_solver_pb2.MPSOLVER_OPTIMAL and answer.objective_value == 2


def test_scip_holds_the_objective_within_objective_ub() -> None:
    """`objective_ub` restricts the objective for SCIP as it does for CP-SAT (the face's vicinity holds it at `lb`)."""
    from dataclasses import replace

    from solvers.backends import get_backend
    from solvers.linear import LinearModel
    from solvers.params import SolveParams

    m = LinearModel()
    x, y = m.var(0, 5, "x"), m.var(0, 5, "y")
    m.row({x: 1, y: 1}, 3, None, "at least 3")
    m.minimize({x: 2, y: 3})  # optimum 6 (x = 3)
    scip, cp = get_backend("scip"), get_backend("cpsat")
    for backend in (scip, cp):
        assert backend(replace(m, objective_ub=5), SolveParams()).status == "INFEASIBLE"
        answer = backend(replace(m, objective_ub=6), SolveParams())
        assert answer.status == "OPTIMAL" and answer.values == [3, 0]


def test_scip_stops_after_node_limit_nodes_without_claiming_anything() -> None:
    """`SolveParams.node_limit` (the face's vicinity search, solvers/flow.py): SCIP stops after that many nodes, and
    what it had not decided is UNKNOWN, never INFEASIBLE."""
    from solvers.backends import get_backend
    from solvers.linear import LinearModel
    from solvers.params import SolveParams

    weights = [1009, 1013, 1019, 1021, 1031, 1033, 1039, 1049, 1051, 1061]
    m = LinearModel()  # no subset of the weights sums to 5164: SCIP has to branch to find that out
    xs = [m.var(0, 1, f"x{i}") for i in range(len(weights))]
    m.row(dict(zip(xs, weights, strict=True)), 5164, 5164, "subset sum")
    m.minimize(dict.fromkeys(xs, 1))
    scip = get_backend("scip")
    assert scip(m, SolveParams()).status == "INFEASIBLE"
    assert scip(m, SolveParams(node_limit=1)).status == "UNKNOWN"
    with pytest.raises(ValueError, match="node_limit"):
        SolveParams(node_limit=0)
