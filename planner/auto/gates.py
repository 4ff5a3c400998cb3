"""The gates of one `auto` cycle: command-line choices over the spec's `auto:` section, the per-cycle move
cap, and the freeze label.

Owns: `AutoOptions` (what the command line chose), `Gates` (what is in force after flags win over the
section), the capped copy of the spec the cycle plans with, and which live pools carry the freeze label.
Must not: read files or the API, look at the clock, or decide a cycle's action (that is planner.auto.cycle).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from planner.auto.config import AutoConfig, Window
from planner.modelarts.objects import LABEL_FREEZE, is_frozen, name_of
from planner.planning import PlanOptions

FREEZE_LABEL = LABEL_FREEZE


@dataclass(frozen=True)
class AutoOptions:
    """Command-line choices for one cycle; `None` means "as the spec's `auto:` section says"."""

    execute: bool = False
    state_dir: Path | None = None
    min_improvement: int | None = None
    max_moves: int | None = None
    windows: tuple[Window, ...] | None = None  # () = no windows: act at any time
    freeze: bool = False
    freeze_file: Path | None = None
    metrics_file: Path | None = None
    now: datetime | None = None
    plan: PlanOptions = field(default_factory=PlanOptions)
    max_parallel: int = 4
    poll_interval: float = 5.0
    job_timeout: float = 3600.0
    lock_dir: Path | None = None      # the project lock's folder (planner.locks.default_lock_dir() when None)
    lock_timeout: float = 0.0         # seconds to wait for a manual `apply` of the same project to end
    endpoint: str | None = None       # --endpoint as given (kept in apply's journal, so a manual resume finds it)


@dataclass(frozen=True)
class Gates:
    """The gates in force for one cycle, after flags have overridden the spec."""

    min_improvement: int
    max_moves: int | None
    windows: tuple[Window, ...]
    freeze: bool
    freeze_file: Path | None

    def to_dict(self) -> dict[str, Any]:
        return {"min_improvement": self.min_improvement, "max_moves": self.max_moves,
                "windows": [w.describe() for w in self.windows], "freeze": self.freeze,
                "freeze_file": str(self.freeze_file) if self.freeze_file else None}


def resolve_gates(config: AutoConfig, options: AutoOptions, spec_path: Path) -> Gates:
    """Flags win over the spec's `auto:` section; a relative `freeze_file` in the spec is beside the spec."""
    freeze_file = options.freeze_file
    if freeze_file is None and config.freeze_file:
        freeze_file = spec_path.parent / config.freeze_file
    return Gates(
        min_improvement=config.min_improvement if options.min_improvement is None else options.min_improvement,
        max_moves=config.max_moves_per_cycle if options.max_moves is None else options.max_moves,
        windows=config.windows if options.windows is None else options.windows,
        freeze=options.freeze,
        freeze_file=freeze_file,
    )


def cap_moves(spec_data: dict[str, Any], cap: int | None) -> tuple[dict[str, Any], str | None]:
    """A copy of the spec whose `limits.max_moves` is at most `cap`, so the plan itself respects the cap."""
    if cap is None:
        return spec_data, None
    capped = copy.deepcopy(spec_data)
    limits = capped.setdefault("limits", {})
    existing = limits.get("max_moves")
    if existing is not None and existing <= cap:
        return spec_data, None
    limits["max_moves"] = cap
    where = f"the spec allows {existing}" if existing is not None else "the spec sets no limit"
    return capped, f"with the per-cycle cap of {cap} moved nodes; {where}"


def frozen_pools(snapshot: dict[str, Any]) -> list[str]:
    """Pools of the live inventory that carry the label `poolshift/freeze: "true"`."""
    return sorted(name_of(pool) for pool in snapshot.get("pools") or [] if is_frozen(pool))
