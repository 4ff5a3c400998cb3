"""The plan file (`poolshift.plan/v1`, PRODUCT §6): one typed model, one reader, one writer.

`model` describes a plan; `check` tells whether a plan adds up (its steps replayed on its own tables, the
embedded spec against its fingerprint); `io` reads (refusing a malformed, inconsistent or modified plan with a
one-line InputError) and writes. The planning core builds a `PlanDocument` once, complete; every command
downstream (show, diff, report, whatif, apply, auto) and the verifier read its attributes, and nothing else reads
plan JSON.
"""

from __future__ import annotations

from planner.planfile.io import parse_plan, read_plan, write_plan
from planner.planfile.model import (
    FORMAT,
    CreatingStep,
    Disruption,
    Excluded,
    Generator,
    PlanDocument,
    PlanStep,
    PoolRow,
    Relabel,
    Residual,
    ResourceSpec,
    StepBody,
    SubnetRow,
    Summary,
    content_digest,
)

__all__ = [
    "FORMAT", "CreatingStep", "Disruption", "Excluded", "Generator", "PlanDocument", "PlanStep", "PoolRow",
    "Relabel", "Residual", "ResourceSpec", "StepBody", "SubnetRow", "Summary", "content_digest", "parse_plan",
    "read_plan", "write_plan",
]
