"""CP-SAT backend for a LinearModel."""

from __future__ import annotations

import time

from ortools.sat.python import cp_model

from solvers.backends import BackendAnswer
from solvers.linear import LinearModel
from solvers.params import SolveParams

_INF = cp_model.INT_MAX


def solve(model: LinearModel, params: SolveParams) -> BackendAnswer:
    """Solve with CP-SAT; statuses map one to one, MODEL_INVALID is a bug and raises."""
    start = time.perf_counter()
    cp = cp_model.CpModel()
    xs = [cp.new_int_var(lb, ub, name) for lb, ub, name in zip(model.lbs, model.ubs, model.names, strict=True)]
    for row in model.rows:
        expr = cp_model.LinearExpr.weighted_sum([xs[v] for v in row.vars], row.coefs)
        lb = row.lb if row.lb is not None else -_INF
        ub = row.ub if row.ub is not None else _INF
        cp.add_linear_constraint(expr, lb, ub)
    if model.objective:
        vs = sorted(model.objective)
        cp.minimize(cp_model.LinearExpr.weighted_sum([xs[v] for v in vs], [model.objective[v] for v in vs]))
    if model.hint is not None:
        cp.clear_hints()  # type: ignore[no-untyped-call]
        for x, value in zip(xs, model.hint, strict=True):
            cp.add_hint(x, value)
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = params.time_limit
    solver.parameters.num_workers = params.workers
    solver.parameters.random_seed = params.seed
    solver.parameters.log_search_progress = params.log
    # Measured on the benchmark instances: the LP at level 2 proves these flow models fastest, and
    # probing costs more than it saves on them (benchmarks/RESULTS.md).
    solver.parameters.linearization_level = 2
    solver.parameters.cp_model_probing_level = 0
    code = solver.solve(cp)
    elapsed = time.perf_counter() - start
    name = solver.status_name(code)
    if name == "MODEL_INVALID":
        raise AssertionError(f"CP-SAT rejected the model: {cp.validate()}")
    if name in ("OPTIMAL", "FEASIBLE"):
        values = [int(solver.value(x)) for x in xs]
        return BackendAnswer(name, values, solver.objective_value, solver.best_objective_bound, elapsed)
    return BackendAnswer(name, None, None, None, elapsed)


def find_core(model: LinearModel, params: SolveParams) -> list[str]:
    """Groups of rows that cannot hold together (a sufficient set of assumptions), or [] if none is found."""
    cp = cp_model.CpModel()
    xs = [cp.new_int_var(lb, ub, name) for lb, ub, name in zip(model.lbs, model.ubs, model.names, strict=True)]
    literals: dict[str, cp_model.IntVar] = {}
    for row in model.rows:
        expr = cp_model.LinearExpr.weighted_sum([xs[v] for v in row.vars], row.coefs)
        lb = row.lb if row.lb is not None else -_INF
        ub = row.ub if row.ub is not None else _INF
        ct = cp.add_linear_constraint(expr, lb, ub)
        if row.group is not None:
            lit = literals.get(row.group)
            if lit is None:
                lit = literals[row.group] = cp.new_bool_var(f"rule[{row.group}]")
            ct.only_enforce_if(lit)
    names = sorted(literals)
    cp.add_assumptions([literals[n] for n in names])
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = params.time_limit
    solver.parameters.num_workers = 1
    solver.parameters.random_seed = params.seed
    if solver.solve(cp) != cp_model.INFEASIBLE:
        return []
    core = set(solver.sufficient_assumptions_for_infeasibility())
    return [n for n in names if literals[n].index in core]
