"""CP-SAT backend for a LinearModel.

It builds the CpModelProto and calls the solver through `ortools.sat.python.cp_model_helper`, the layer
`cp_model.py` itself is built on: `cp_model.py` imports pandas at import time, and skipping it saves
about a quarter of a second of start-up on every `poolshift plan` (benchmarks/RESULTS.md).
"""

from __future__ import annotations

import os
import time
from typing import Any

from ortools.sat.python import cp_model_helper as cmh

from solvers.backends import BackendAnswer
from solvers.linear import LinearModel
from solvers.params import SolveParams

_INT_MAX = 2**63 - 1
_INT_MIN = -(2**63) + 1
CPSAT_SUBSOLVERS = ("default_lp", "max_lp")


def _proto(model: LinearModel, *, enforce_groups: bool = False) -> tuple[Any, dict[str, int]]:
    """The model as a CpModelProto; with `enforce_groups`, each tagged rule group gets an enforcement literal."""
    proto = cmh.CpModelProto()
    for lb, ub, name in zip(model.lbs, model.ubs, model.names, strict=True):
        var = proto.variables.add()
        var.domain.extend([lb, ub])
        var.name = name
    literals: dict[str, int] = {}
    for row in model.rows:
        ct = proto.constraints.add()
        ct.linear.vars.extend(row.vars)
        ct.linear.coeffs.extend(row.coefs)
        ct.linear.domain.extend([_INT_MIN if row.lb is None else row.lb, _INT_MAX if row.ub is None else row.ub])
        if enforce_groups and row.group is not None:
            lit = literals.get(row.group)
            if lit is None:
                lit = literals[row.group] = len(proto.variables)
                var = proto.variables.add()
                var.domain.extend([0, 1])
                var.name = f"rule[{row.group}]"
            ct.enforcement_literal.append(lit)
    return proto, literals


def _parameters(params: SolveParams) -> Any:
    p = cmh.SatParameters()
    p.max_time_in_seconds = params.time_limit
    p.random_seed = params.seed
    p.log_search_progress = params.log
    # Measured on the benchmark instances: the LP at level 2 proves these flow models fastest, and
    # probing costs more than it saves on them (benchmarks/RESULTS.md).
    p.linearization_level = 2
    p.cp_model_probing_level = 0
    p.cp_model_presolve = params.presolve is not False
    if params.presolve_rounds is not None:
        p.max_presolve_iterations = params.presolve_rounds
    p.num_workers = threads(params.workers)
    if p.num_workers > 1:
        # CP-SAT's default 2-worker portfolio (LNS included) gave worse plans 4x slower on hard instances;
        # two full LP searches without LNS came closest to one worker (benchmarks/RESULTS.md).
        p.subsolvers.extend(CPSAT_SUBSOLVERS)
        p.use_lns = False
    return p


def threads(workers: int) -> int:
    """CP-SAT threads for `workers`: never all the machine's cores.

    Measured on the 2-core benchmark machine (benchmarks/RESULTS.md): every 2-thread configuration was
    slower than one thread (up to 2x), since the second thread competes with the rest of the machine. So
    one core is always left free: `--workers 2` on 2 cores runs exactly like `--workers 1`.
    """
    return max(1, min(workers, (os.cpu_count() or 1) - 1))


def _run(proto: Any, parameters: Any) -> Any:
    wrapper = cmh.SolveWrapper()
    wrapper.set_parameters(parameters)
    return wrapper.solve(proto)  # type: ignore[no-untyped-call]


def solve(model: LinearModel, params: SolveParams) -> BackendAnswer:
    """Solve with CP-SAT; statuses map one to one, MODEL_INVALID is a bug and raises.

    With `objective_lb`/`objective_ub` the objective is restricted to that range: INFEASIBLE then means no
    solution in the range, and OPTIMAL the best one in it.
    """
    start = time.perf_counter()
    proto, _ = _proto(model)
    if model.objective:
        vs = sorted(model.objective)
        proto.objective.vars.extend(vs)
        proto.objective.coeffs.extend([model.objective[v] for v in vs])
        if model.objective_lb is not None or model.objective_ub is not None:
            lo = _INT_MIN if model.objective_lb is None else model.objective_lb
            hi = _INT_MAX if model.objective_ub is None else model.objective_ub
            proto.objective.domain.extend([lo, hi])
    if model.hint is not None:
        proto.solution_hint.vars.extend(range(len(model.hint)))
        proto.solution_hint.values.extend(model.hint)
    response = _run(proto, _parameters(params))
    elapsed = time.perf_counter() - start
    status = response.status
    if status == cmh.CpSolverStatus.MODEL_INVALID:
        raise AssertionError(f"CP-SAT rejected the model: {cmh.CpSatHelper.validate_model(proto)}")
    name = {cmh.CpSolverStatus.OPTIMAL: "OPTIMAL", cmh.CpSolverStatus.FEASIBLE: "FEASIBLE",
            cmh.CpSolverStatus.INFEASIBLE: "INFEASIBLE"}.get(status, "UNKNOWN")
    if name in ("OPTIMAL", "FEASIBLE"):
        values = [int(v) for v in response.solution]
        return BackendAnswer(name, values, response.objective_value, response.best_objective_bound, elapsed)
    return BackendAnswer(name, None, None, None, elapsed)


def find_core(model: LinearModel, params: SolveParams) -> list[str]:
    """Groups of rows that cannot hold together (a sufficient set of assumptions), or [] if none is found."""
    proto, literals = _proto(model, enforce_groups=True)
    names = sorted(literals)
    proto.assumptions.extend([literals[n] for n in names])
    parameters = _parameters(params)
    parameters.num_workers = 1  # assumptions need a single worker
    response = _run(proto, parameters)
    if response.status != cmh.CpSolverStatus.INFEASIBLE:
        return []
    core = set(response.sufficient_assumptions_for_infeasibility)
    return [n for n in names if literals[n] in core]
