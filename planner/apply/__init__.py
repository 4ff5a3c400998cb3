"""`poolshift apply` as a library: dry-run or execute a reviewed plan with a journal, a lock and resume.

```python
from planner.apply import ApplyOptions, apply_plan

result = apply_plan(plan, plan_path, lambda read_only: make_client(read_only), ApplyOptions(execute=True))
```

An executed run holds the project lock (planner.locks: one per project, region and workspace on this host,
shared with `auto`), counts every migration in flight in the cloud as landed before each step
(planner.apply.inflight) and checks the hard rules again once a step landed (planner.apply.guard).

See docs/apply.md for the staleness rules, the journal format, the step state machine and how resume decides.
"""

from __future__ import annotations

from planner.apply.busy import BusyNodeError
from planner.apply.journal import default_journal_path, last_start, lock_path, read_journal
from planner.apply.options import ApplyOptions, ApplyResult, ClientFactory, Connection, ProgressFn
from planner.apply.runner import apply_plan
from planner.apply.steps import IllegalTransition, Phase, StepRun
from planner.errors import ApplyFailedError

__all__ = [
    "ApplyFailedError",
    "BusyNodeError",
    "ApplyOptions",
    "ApplyResult",
    "ClientFactory",
    "Connection",
    "IllegalTransition",
    "Phase",
    "ProgressFn",
    "StepRun",
    "apply_plan",
    "default_journal_path",
    "last_start",
    "lock_path",
    "read_journal",
]
