"""A LinearModel as OR-Tools' MPModelProto, solved by an MPSolver (SCIP, CBC, HiGHS): the MIP backends' plumbing
(solvers/backends/mip.py). GLOP is reached through solvers/glop.py instead, which carries bases.

Owns: the MPModelProto, the call into OR-Tools. Must not: read answers as statuses (the backend does).
"""

from __future__ import annotations

import math
import os
import tempfile
from typing import Any

from ortools.linear_solver import linear_solver_pb2, pywraplp
from ortools.linear_solver.python import model_builder_helper as mbh

from solvers.linear import LinearModel


def mp_model(model: LinearModel) -> Any:
    """The model as an MPModelProto (integrality not set: callers mark integer variables when needed)."""
    proto = linear_solver_pb2.MPModelProto()
    for lb, ub in zip(model.lbs, model.ubs, strict=True):
        var = proto.variable.add()
        var.lower_bound = lb
        var.upper_bound = ub
    for j, c in model.objective.items():
        proto.variable[j].objective_coefficient = c
    for row in model.rows:
        ct = proto.constraint.add()
        ct.var_index.extend(row.vars)
        ct.coefficient.extend(row.coefs)
        ct.lower_bound = -math.inf if row.lb is None else row.lb
        ct.upper_bound = math.inf if row.ub is None else row.ub
    return proto


def solve_proto(proto: Any, solver_type: int, time_limit: float, parameters: str = "") -> Any:
    """Solve an MPModelProto with pywraplp's `solver_type`; returns the MPSolutionResponse.

    SCIP solves with the interpreter lock released (OR-Tools' model_builder helper), so a Python thread of the
    caller runs meanwhile on another core (the planner reads ahead for its verifier while it solves); pywraplp's
    `SolveWithProto` holds the lock for the whole solve and serves the other solvers. The same solver code runs
    either way: the answers are the same."""
    if solver_type == linear_solver_pb2.MPModelRequest.SCIP_MIXED_INTEGER_PROGRAMMING:
        loaded = _loaded(proto)
        if loaded is not None:
            return _scip_unlocked(loaded, time_limit, parameters)
    request = linear_solver_pb2.MPModelRequest()
    request.model.CopyFrom(proto)
    request.solver_type = solver_type
    request.solver_time_limit_seconds = time_limit
    if parameters:
        request.solver_specific_parameters = parameters
    response = linear_solver_pb2.MPSolutionResponse()
    pywraplp.Solver.SolveWithProto(request, response)
    return response


def _loaded(proto: Any) -> Any:
    """The model in a model_builder helper, or None when it cannot be put there (then pywraplp solves it).

    The helper loads models only from a file or text formats, so the proto goes through a private temporary file (a
    binary proto of well under a megabyte); the loaded model's size is checked against the proto's."""
    try:
        fd, path = tempfile.mkstemp(prefix="poolshift-", suffix=".pb")
    except OSError:
        return None
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(proto.SerializeToString())
        model = mbh.ModelBuilderHelper()
        loaded = model.read_model_from_proto_file(path)
    except OSError:
        return None
    finally:
        os.unlink(path)
    same = (model.num_variables(), model.num_constraints()) == (len(proto.variable), len(proto.constraint))
    return model if loaded and same else None


def _scip_unlocked(model: Any, time_limit: float, parameters: str) -> Any:
    """SCIP through model_builder's `solve`, which releases the interpreter lock. (Its serialized-request entry
    refuses SCIP: it passes an interrupter, which SCIP's proto solver does not take.)"""
    solver = mbh.ModelSolverHelper("scip")
    solver.set_time_limit_in_seconds(time_limit)
    if parameters:
        solver.set_solver_specific_parameters(parameters)
    solver.solve(model)
    if solver.has_response():
        return solver.response()  # type: ignore[no-untyped-call]
    answer = linear_solver_pb2.MPSolutionResponse()  # SCIP's proto solver refused the request (as pywraplp reports it)
    answer.status = linear_solver_pb2.MPSOLVER_ABNORMAL
    return answer
