"""Scheduled automatic rebalancing: one unattended pull -> plan -> gate -> apply cycle (`poolshift auto`).

```python
from planner.auto import AutoOptions, run_cycle

result = run_cycle("spec.yaml", lambda read_only: make_client(read_only), region="cn-north-4",
                   options=AutoOptions(execute=True))
print(result.record())    # the audit line, also what `--output json` prints
```

The package, one concern per module:

- `config`: the `auto:` section of the spec (schema, time windows, `--window`);
- `gates`: command-line choices over the section, the per-cycle move cap, the freeze label;
- `cycle`: the stages of one cycle and the decision of each gate (`run_cycle`);
- `result`: what a cycle did (`CycleResult`, the audit/JSON document);
- `records`: the state directory (plans, cycle lock, audit log, metrics file).

See docs/auto.md.
"""

from __future__ import annotations

from planner.auto.config import DAYS, AutoConfig, Day, Window, parse_auto, parse_window_option
from planner.auto.cycle import Applier, ClientFactory, library_apply, run_cycle
from planner.auto.gates import FREEZE_LABEL, AutoOptions, Gates, cap_moves, frozen_pools, resolve_gates
from planner.auto.records import (
    AUDIT_FILE,
    DEFAULT_STATE_DIR,
    LOCK_FILE,
    METRICS_FILE,
    PLANS_DIR,
    append_audit,
    cycle_lock,
    new_plan_path,
    read_audit,
    resolve_state_dir,
    write_metrics,
)
from planner.auto.result import OUTCOMES, Action, CycleResult

__all__ = [
    "AUDIT_FILE",
    "DAYS",
    "DEFAULT_STATE_DIR",
    "FREEZE_LABEL",
    "LOCK_FILE",
    "METRICS_FILE",
    "OUTCOMES",
    "PLANS_DIR",
    "Action",
    "Applier",
    "AutoConfig",
    "AutoOptions",
    "ClientFactory",
    "CycleResult",
    "Day",
    "Gates",
    "Window",
    "append_audit",
    "cap_moves",
    "cycle_lock",
    "frozen_pools",
    "library_apply",
    "new_plan_path",
    "parse_auto",
    "parse_window_option",
    "read_audit",
    "resolve_gates",
    "resolve_state_dir",
    "run_cycle",
    "write_metrics",
]
