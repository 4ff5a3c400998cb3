"""What-if scenarios (`poolshift.scenarios/v1`): the file format, and what a scenario changes.

- `schema`: the models of a scenario file and its validation (`load_scenarios`, `parse_scenarios`);
- `edits`: a scenario's inventory edits on a raw snapshot, then its spec overlay (`apply_scenario`);
- `snapshot`: the copy of a raw snapshot the edits work on, and its lookups (pools by id or display name);
- `merge`: the spec overlay (`deep_merge`, `merge_spec`).

See docs/review.md for the format.
"""

from __future__ import annotations

from planner.modelarts.objects import ANNOTATION_LOCK, LABEL_BATCH_UID, LABEL_CLUSTER, LABEL_DISPLAY_NAME
from planner.review.scenarios.edits import LOCK_VALUE, apply_inventory_overrides, apply_scenario
from planner.review.scenarios.merge import deep_merge, merge_spec
from planner.review.scenarios.schema import (
    SCENARIOS_FORMAT,
    AddPool,
    InventoryOverrides,
    NewSubnet,
    NodeBatch,
    PoolResource,
    Scenario,
    ScenarioFile,
    load_scenarios,
    parse_scenarios,
    scenario_key,
)
from planner.review.scenarios.snapshot import EditableSnapshot, NodeIndex, Where

__all__ = [
    "ANNOTATION_LOCK",
    "LABEL_BATCH_UID",
    "LABEL_CLUSTER",
    "LABEL_DISPLAY_NAME",
    "LOCK_VALUE",
    "SCENARIOS_FORMAT",
    "AddPool",
    "EditableSnapshot",
    "NodeIndex",
    "InventoryOverrides",
    "NewSubnet",
    "NodeBatch",
    "PoolResource",
    "Scenario",
    "ScenarioFile",
    "Where",
    "apply_inventory_overrides",
    "apply_scenario",
    "deep_merge",
    "load_scenarios",
    "merge_spec",
    "parse_scenarios",
    "scenario_key",
]
