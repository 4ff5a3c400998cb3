"""The shipped examples: the auto spec plans, and the CronJob and systemd units call `poolshift auto` correctly."""

from __future__ import annotations

import configparser
import shlex
from pathlib import Path
from typing import Any

import yaml

from planner.auto import cap_moves, parse_auto
from planner.cli.auto_cmds import auto_cmd
from planner.planning.pipeline import make_plan
from planner.spec import read_spec_file
from tests.emulator_server import TEST_AK, TEST_SK

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _check_args(args: list[str]) -> dict[str, Any]:
    """Parse `poolshift auto` arguments as the CLI would (no cycle is run)."""
    assert args[0] == "auto"
    ctx = auto_cmd.make_context("auto", args[1:])
    return ctx.params


def test_auto_spec_plans_within_its_cap() -> None:
    import json

    raw = read_spec_file(EXAMPLES / "auto-spec.yaml")
    config = parse_auto(raw["auto"], source="auto-spec.yaml")
    assert config.max_moves_per_cycle == 8 and len(config.windows) == 2
    snapshot = json.loads((EXAMPLES / "inventory.json").read_text())
    capped, _ = cap_moves(raw, config.max_moves_per_cycle)
    summary = make_plan(snapshot, capped).document.model_dump(mode="json")["summary"]
    assert 0 < summary["moves"] <= 8
    assert summary["deviation_before"] - summary["deviation_after"] >= config.min_improvement


def test_cronjob_manifest() -> None:
    docs = list(yaml.safe_load_all((EXAMPLES / "k8s-cronjob.yaml").read_text()))
    cronjob = next(d for d in docs if d["kind"] == "CronJob")
    assert cronjob["apiVersion"] == "batch/v1"
    spec = cronjob["spec"]
    assert spec["concurrencyPolicy"] == "Forbid"
    pod = spec["jobTemplate"]["spec"]["template"]["spec"]
    [container] = pod["containers"]
    params = _check_args(container["args"])
    assert params["execute"] is True and params["output"] == "json"
    # no long-lived keys: a service account bound to an IAM agency (CCE pod identity), no secret in the pod
    assert pod["serviceAccountName"] == "poolshift"
    assert container["envFrom"] == [{"configMapRef": {"name": "poolshift-connection"}}]
    mounts = {m["mountPath"] for m in container["volumeMounts"]}
    assert str(params["state_dir"]) in mounts and str(params["spec_path"].parent) in mounts
    # the only variable: the project lock on the state volume (a read-only root has no ~/.local/state)
    assert container["env"] == [{"name": "POOLSHIFT_LOCK_DIR", "value": f"{params['state_dir']}/locks"}]
    text = (EXAMPLES / "k8s-cronjob.yaml").read_text()
    assert TEST_AK not in text and TEST_SK not in text


def test_systemd_units() -> None:
    service = configparser.ConfigParser(strict=False, interpolation=None)
    service.read_string((EXAMPLES / "systemd" / "poolshift-auto.service").read_text().replace("\\\n", " "))
    assert service["Service"]["Type"] == "oneshot"
    assert service["Service"]["EnvironmentFile"] == "/etc/poolshift/poolshift.env"  # project id only: no keys
    command = shlex.split(service["Service"]["ExecStart"])
    assert command[0].endswith("/poolshift")
    params = _check_args(command[1:])
    assert params["execute"] is True and str(params["state_dir"]) == "/var/lib/poolshift"
    # the project lock shared with a manual apply on the VM, in the state directory (ProtectHome hides ~)
    assert service["Service"]["Environment"] == "POOLSHIFT_LOCK_DIR=/var/lib/poolshift/locks"
    assert service["Service"]["ProtectHome"] == "yes"
    timer = configparser.ConfigParser(strict=False, interpolation=None)
    timer.read_string((EXAMPLES / "systemd" / "poolshift-auto.timer").read_text())
    assert timer["Timer"]["Unit"] == "poolshift-auto.service"
    assert timer["Timer"]["OnCalendar"]
    assert timer["Install"]["WantedBy"] == "timers.target"
