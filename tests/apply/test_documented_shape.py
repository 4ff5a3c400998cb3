"""apply's live view in the documented API shape (issue 13.3): ShowNetwork lists no `status.subnets`, so the
subnets come from the fallbacks `inventory pull` uses, and a step's subnet headroom is still checked."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from planner.apply import apply_plan
from planner.apply.live import read_view
from planner.errors import ApplyFailedError
from planner.modelarts.emulator.api import EmuRequest, EmuResponse
from planner.planfile import read_plan
from tests.apply.conftest import apply_snapshot, apply_spec, make_apply_plan, write_plan_data
from tests.apply.helpers import factory, fast
from tests.emulator_server import EmulatorHandle, run_emulator

pytestmark = pytest.mark.emulator


def _documented_snapshot() -> dict[str, Any]:
    """apply_snapshot() with each node on its pool's subnet (`spec.hostNetwork.subnet`, a documented field)."""
    snap = apply_snapshot()
    for pool, nodes in snap["nodes"].items():
        for node in nodes:
            node["spec"]["hostNetwork"]["subnet"] = "subnet-1" if pool in ("pool-a", "pool-b") else "subnet-2"
    return snap


@pytest.mark.parametrize("shape", ["full", "documented"])
def test_the_live_view_knows_free_addresses_in_either_shape(shape: str) -> None:
    with run_emulator(_documented_snapshot(), shape=shape) as emu, emu.client(read_only=True) as client:
        view = read_view(client, {"pool-a", "pool-c"})
    assert view.subnet("pool-a") == "subnet-1" and view.subnet("pool-c") == "subnet-2"
    assert view.free == {"subnet-1": 46, "subnet-2": 26}


def _squeeze_subnet_2_after_the_first_post(emu: EmulatorHandle) -> None:
    """After the first accepted request, something else takes subnet-2's addresses down to its reserve."""
    inner = emu.api.handle
    done: list[bool] = []

    def handle(request: EmuRequest) -> EmuResponse:
        response = inner(request)
        if request.method == "POST" and response.status == 200 and not done:
            done.append(True)
            with emu.machine.lock:
                subnet = emu.machine.store.subnets["subnet-2"]
                subnet["usedIps"] = subnet["totalIps"] - 2
        return response

    emu.api.handle = handle  # type: ignore[method-assign]


def test_a_step_into_a_full_subnet_is_stopped_by_its_precondition_in_the_documented_shape(tmp_path: Path) -> None:
    spec = apply_spec()
    spec["defaults"] = {"ip_reserve": 2}
    plan_file = tmp_path / "plan.json"
    write_plan_data(plan_file, make_apply_plan(_documented_snapshot(), spec))
    plan = read_plan(plan_file)
    first_into_2 = next(s.id for s in plan.steps if s.target in ("pool-c", "pool-d"))
    assert first_into_2 > 1
    with run_emulator(_documented_snapshot(), shape="documented", job_seconds=0.0) as emu:
        _squeeze_subnet_2_after_the_first_post(emu)
        with pytest.raises(ApplyFailedError) as caught:
            apply_plan(plan, plan_file, factory(emu), fast(max_parallel=1))
        sent = [r["pool_name"] for r in emu.state()["migrate_requests"]]
    assert caught.value.step_id == first_into_2
    assert "subnet subnet-2 of pool" in str(caught.value) and "has 0 free address(es) above its reserve" in \
        str(caught.value)
    assert len(sent) == first_into_2 - 1   # the step into the full subnet was never sent
