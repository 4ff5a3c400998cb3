"""The planning core: inventory + spec -> integer problem -> solve -> nodes -> ordered requests -> plan document.

Modules: `problem` (inventory + spec -> solvers' integer problem and the index maps to read an answer back),
`busy` (busy units under the spec's `workloads:` policy, what each step disrupts, PRODUCT §9), `rules` (per-step
hard rules on a simulated state), `placement` (which nodes move where), `order` (requests, safe order, waves),
`staging` (staging hops), `explain` (infeasibility, reachability cuts, residual deviation), `document` (the one
place a plan document is built), `pipeline` (the flow).

Everything downstream of planning — rendering, review, apply, auto, what-if — reads the plan file model
(`planner.planfile`) and may use only the names exported here, never the modules above.
"""

from __future__ import annotations

from planner.collector import paused as gc_paused
from planner.planning.pipeline import Plan, PlanOptions, make_plan

__all__ = ["Plan", "PlanOptions", "gc_paused", "make_plan"]
