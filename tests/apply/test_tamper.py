"""A tampered plan never runs (issue 17.4).

The plan here pins node a-00. Edits the reader catches (exit 2 before any request): the pin taken out of the
embedded spec, a legal extra step appended (4 requests where the summary says 3), any edit without a new digest.
A forged plan sealed again (counts, summary and digest recomputed) that moves the pinned node: apply runs the
independent verifier with the plan's own spec against live state before the first request, and refuses it (exit
2 on the inventory the plan claims to be made from, exit 4 on a drifted one, with or without --allow-drift). A
plan forged throughout (the pin dropped, the spec fingerprint and digest recomputed) is a different plan that
nothing inside it can tell apart: `--expect-digest` with the reviewed digest refuses it.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from planner.apply import apply_plan
from planner.cli import main
from planner.errors import InputError, StalePlanError
from planner.modelarts.pull import pull_snapshot
from planner.planfile import PlanDocument, content_digest, read_plan
from planner.spec import Spec
from tests.apply.conftest import apply_snapshot, apply_spec, make_apply_plan, write_plan_data
from tests.apply.helpers import edited, factory, fast
from tests.emulator_server import EmulatorHandle, run_emulator

pytestmark = pytest.mark.emulator

PINNED = "a-00"


def _pulled() -> dict[str, Any]:
    """apply_snapshot() as `inventory pull` reads it from the emulator (so a plan made from it has the live
    inventory's fingerprint)."""
    with run_emulator(apply_snapshot()) as emu, emu.client(read_only=True) as client:
        return pull_snapshot(client, emu.region, client.project_id)


@pytest.fixture
def pinned_plan(tmp_path: Path) -> Path:
    spec = apply_spec()
    spec["pin"] = [PINNED]
    data = make_apply_plan(_pulled(), spec=spec)
    assert data["excluded"] == [{"node": PINNED, "pool": "pool-a", "reason": "pinned by the spec"}]
    path = tmp_path / "plan.json"
    write_plan_data(path, data)
    return path


def _apply(emu: EmulatorHandle, plan: Path, *args: str) -> Result:
    return CliRunner().invoke(main, ["apply", str(plan), *emu.cli_args(), "--execute", "--poll-interval", "0.01",
                                     *args], env=emu.env())


def _raw(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def _write_raw(path: Path, data: dict[str, Any], *, reseal: bool) -> None:
    if reseal:
        data["digest"] = content_digest(data)
    path.write_text(json.dumps(data, indent=2, sort_keys=True), encoding="utf-8")


def _moves_the_pinned_node(data: dict[str, Any]) -> None:
    data["steps"][0]["body"]["migrateNodeNames"] = [PINNED]
    data["excluded"] = []


@pytest.mark.parametrize("reseal", [False, True], ids=["digest kept", "digest recomputed"])
def test_the_pin_taken_out_of_the_embedded_spec_is_refused_before_any_request(
        emulator: EmulatorHandle, pinned_plan: Path, reseal: bool) -> None:
    data = _raw(pinned_plan)
    data["spec"]["pin"] = []
    _moves_the_pinned_node(data)
    _write_raw(pinned_plan, data, reseal=reseal)
    result = _apply(emulator, pinned_plan)
    assert result.exit_code == 2, result.output
    assert "the plan does not add up (was it edited?)" in result.stderr
    assert "the embedded spec was changed" in result.stderr
    assert emulator.requests() == []


def test_a_legal_extra_step_is_refused_before_any_request(emulator: EmulatorHandle, pinned_plan: Path) -> None:
    data = _raw(pinned_plan)
    assert data["summary"]["requests"] == 8
    extra = copy.deepcopy(data["steps"][-1])
    extra["id"] = len(data["steps"]) + 1
    extra["body"]["migrateNodeNames"] = ["a-09"]   # a node the plan leaves in pool-a, to a pool that takes it
    data["steps"].append(extra)
    _write_raw(pinned_plan, data, reseal=True)
    result = _apply(emulator, pinned_plan)
    assert result.exit_code == 2, result.output
    assert "the plan does not add up" in result.stderr
    assert emulator.requests() == []


def test_an_edit_without_a_new_digest_is_refused(emulator: EmulatorHandle, pinned_plan: Path) -> None:
    data = _raw(pinned_plan)
    data["steps"][0]["body"]["migrateNodeNames"] = ["a-09"]   # adds up, but the digest says otherwise
    _write_raw(pinned_plan, data, reseal=False)
    result = _apply(emulator, pinned_plan)
    assert result.exit_code == 2 and "the plan was modified after it was written" in result.stderr
    assert emulator.requests() == []


def _forged(pinned_plan: Path) -> PlanDocument:
    """The pinned node moved in step 1, taken off the excluded list, everything that follows recomputed."""
    return edited(read_plan(pinned_plan), _moves_the_pinned_node)


@pytest.mark.parametrize("allow_drift", [False, True], ids=["plain", "--allow-drift"])
def test_a_resealed_forged_plan_is_refused_by_the_verifier_on_its_own_inventory(
        pinned_plan: Path, allow_drift: bool) -> None:
    forged = _forged(pinned_plan)
    assert forged.steps[0].nodes == [PINNED] and forged.spec.pin == [PINNED]
    with run_emulator(apply_snapshot()) as emu:
        with pytest.raises(InputError) as caught:
            apply_plan(forged, pinned_plan, factory(emu), fast(allow_drift=allow_drift))
        sent = [r for r in emu.requests() if r["method"] != "GET"]
    assert caught.value.exit_code == 2
    assert str(caught.value).startswith(f"{pinned_plan}: $.steps: the plan was modified: on the very inventory it "
                                        f"was made from, the independent verifier refuses it with its own spec: "
                                        f"step 1: node {PINNED} may not move (pinned)")
    assert sent == []
    assert not pinned_plan.with_name(pinned_plan.name + ".journal.jsonl").exists()


@pytest.mark.parametrize("allow_drift", [False, True], ids=["plain", "--allow-drift"])
def test_a_resealed_forged_plan_is_refused_on_a_drifted_inventory_too(pinned_plan: Path, allow_drift: bool) -> None:
    forged = _forged(pinned_plan)
    live = apply_snapshot()
    live["networks"][0]["subnets"][0]["usedIps"] -= 1   # another inventory: the plan is not "made from" it
    with run_emulator(live) as emu:
        with pytest.raises(StalePlanError) as caught:
            apply_plan(forged, pinned_plan, factory(emu), fast(allow_drift=allow_drift))
        sent = [r for r in emu.requests() if r["method"] != "GET"]
    assert caught.value.exit_code == 4 and sent == []
    assert any(f"step 1: node {PINNED} may not move (pinned)" in c for c in caught.value.changes)


def test_a_plan_forged_throughout_runs_only_without_expect_digest(emulator: EmulatorHandle, pinned_plan: Path,
                                                                  tmp_path: Path) -> None:
    reviewed = read_plan(pinned_plan).digest
    data = _raw(pinned_plan)
    data["spec"]["pin"] = []
    _moves_the_pinned_node(data)
    data["spec_fingerprint"] = Spec.model_validate(data["spec"]).fingerprint
    forged = tmp_path / "forged.json"
    _write_raw(forged, data, reseal=True)
    assert read_plan(forged).digest != reviewed
    result = _apply(emulator, forged, "--expect-digest", reviewed)
    assert result.exit_code == 2, result.output
    assert f"$.digest: the plan's digest is {read_plan(forged).digest}, not {reviewed} (--expect-digest)" \
        in result.stderr
    assert emulator.requests() == []
    dry = CliRunner().invoke(main, ["apply", str(forged), *emulator.cli_args(), "--expect-digest", reviewed],
                             env=emulator.env())
    assert dry.exit_code == 2 and emulator.requests() == []   # the dry-run refuses it as well


def test_the_digest_is_printed_before_sending_and_expect_digest_lets_the_reviewed_plan_run(
        emulator: EmulatorHandle, pinned_plan: Path) -> None:
    digest = read_plan(pinned_plan).digest
    result = _apply(emulator, pinned_plan, "--expect-digest", digest, "--output", "json")
    assert result.exit_code == 0, result.stderr
    first = result.stderr.splitlines()[0]
    assert first == f"poolshift: plan {pinned_plan} digest {digest}"
    assert json.loads(result.stdout)["digest"] == digest
    assert len(emulator.state()["migrate_requests"]) == 8


@pytest.mark.parametrize("bad", ["sha256:abc", "md5:" + "0" * 64, "SHA256:" + "0" * 64])
def test_a_malformed_expect_digest_is_exit_2(emulator: EmulatorHandle, pinned_plan: Path, bad: str) -> None:
    result = _apply(emulator, pinned_plan, "--expect-digest", bad)
    assert result.exit_code == 2 and "--expect-digest" in result.stderr
    assert emulator.requests() == []
